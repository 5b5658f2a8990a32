/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the BGP wire codec. The first byte is the
 * negotiated state (bit 0: 4-octet AS, bit 1: extended messages, bit 2:
 * iBGP, bit 3: also pack the rest as prefixes); the rest is a stream of
 * messages, framed and decoded by type. Decoded OPENs are re-encoded and
 * must decode to the same fields; every refusal must say why; packed
 * UPDATEs must fit and decode to what was packed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[BGP_MAX_MSG_EXT];

static void check_notify(const struct bgp_notify *e, uint8_t code)
{
	if (!e->text[0] || e->data_len > sizeof(e->data))
		abort();
	if (code && e->code != code)
		abort();
}

static void open_again(const struct bgp_open *o)
{
	struct bgp_open in = *o, back;
	struct bgp_notify e;
	uint8_t type;
	size_t mlen;
	int n;

	/* Only what the encoder speaks. */
	in.gr_families &= BGP_FAM_IPV4 | BGP_FAM_IPV6;
	in.gr_forwarding &= in.gr_families;
	if (!in.as4 && in.as > 0xffff)
		abort();
	n = bgp_encode_open(out, sizeof(out), &in);
	if (n <= 0 || n > BGP_MAX_MSG)
		abort();
	if (bgp_frame(out, (size_t)n, BGP_MAX_MSG, &type, &mlen, &e) != n ||
	    type != BGP_OPEN)
		abort();
	if (bgp_decode_open(out, mlen, &back, &e))
		abort();
	if (back.as != in.as || back.hold != in.hold || back.id != in.id ||
	    back.families != in.families ||
	    back.route_refresh != in.route_refresh || back.as4 != in.as4 ||
	    back.gr != in.gr || back.ext_msg != in.ext_msg ||
	    back.n_unknown_caps)
		abort();
	if (in.gr && (back.gr_time != in.gr_time ||
		      back.gr_restarting != in.gr_restarting ||
		      back.gr_families != in.gr_families ||
		      back.gr_forwarding != in.gr_forwarding))
		abort();
}

static void decode(const uint8_t *m, size_t len, uint8_t type,
		   const struct bgp_neg *neg)
{
	struct bgp_update_info u;
	struct bgp_notification n;
	struct bgp_route_refresh r;
	struct bgp_open o;
	struct bgp_notify e;
	size_t i;
	int rc;

	switch (type) {
	case BGP_OPEN:
		rc = bgp_decode_open(m, len, &o, &e);
		if (rc) {
			if (rc != -EBADMSG)
				abort();
			check_notify(&e, 0);
			break;
		}
		if (o.version != 4 || o.hold == 1 || o.hold == 2 || !o.id ||
		    !o.as)
			abort();
		open_again(&o);
		break;
	case BGP_UPDATE:
		rc = bgp_decode_update(m, len, neg, &u);
		if (rc && rc != -EBADMSG)
			abort();
		if ((rc == -EBADMSG) !=
		    (u.verdict == BGP_VERDICT_SESSION_RESET))
			abort();
		if (u.verdict > BGP_VERDICT_SESSION_RESET)
			abort();
		if (u.verdict >= BGP_VERDICT_ATTR_DISCARD)
			check_notify(&u.notify, 0);
		for (i = 0; i < 2; i++)
			if (u.announced[i] > len || u.withdrawn[i] > len)
				abort();
		break;
	case BGP_NOTIFICATION:
		if (bgp_decode_notification(m, len, &n))
			abort();
		if (n.data_len != len - BGP_MIN_NOTIFICATION)
			abort();
		for (i = 0; n.shutdown[i]; i++)
			if ((uint8_t)n.shutdown[i] < 0x20 ||
			    n.shutdown[i] == 0x7f)
				abort();
		if (i > BGP_SHUTDOWN_MAX)
			abort();
		break;
	case BGP_ROUTE_REFRESH:
		if (bgp_decode_route_refresh(m, len, &r, &e))
			abort();
		break;
	case BGP_KEEPALIVE:
		if (len != BGP_LEN_KEEPALIVE)
			abort();
		break;
	default:
		abort();
	}
}

/* Prefixes from the input bytes: packed, they must fit and come back. */
static void pack(const uint8_t *data, size_t size, const struct bgp_neg *neg)
{
	static struct strata_prefix p[4096];
	struct bgp_attrs a = {
		.local_as = 65001,
		.has_med = size & 1,
		.local_pref = 100,
	};
	struct bgp_update_info u;
	uint8_t family = size & 2 ? STRATA_AF_INET6 : STRATA_AF_INET;
	unsigned maxbits = family == STRATA_AF_INET ? 32 : 128;
	size_t n = 0, off = 0, done = 0, used, cap, rounds = 0;
	int len;

	while (off + 2 <= size && n < 4096) {
		struct strata_prefix x = { .family = family };

		x.len = (uint8_t)(data[off] % (maxbits + 1));
		memset(x.addr, data[off + 1], sizeof(x.addr));
		off += 2;
		p[n++] = x;
	}
	if (!n)
		return;
	if (family == STRATA_AF_INET) {
		a.nexthop = (struct strata_addr){ .family = STRATA_AF_INET,
						  .addr = { 192, 0, 2, 2 } };
	} else {
		a.nexthop = (struct strata_addr){
			.family = STRATA_AF_INET6,
			.addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 }
		};
	}
	cap = 100 + (size_t)data[0] * 40;
	while (done < n) {
		if (++rounds > n)
			abort();
		if (size & 4)
			len = bgp_encode_withdraw(out, cap, neg, p + done,
						  n - done, &used);
		else
			len = bgp_encode_announce(out, cap, neg, &a, p + done,
						  n - done, &used);
		if (len <= 0 || (size_t)len > cap ||
		    (size_t)len > bgp_neg_max(neg) || !used)
			abort();
		if (bgp_decode_update(out, (size_t)len, neg, &u) ||
		    u.verdict != BGP_VERDICT_OK)
			abort();
		if ((size & 4 ? u.withdrawn : u.announced)
			    [family == STRATA_AF_INET ? BGP_IDX_V4
						      : BGP_IDX_V6] != used)
			abort();
		done += used;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bgp_neg neg;
	struct bgp_notify e;
	size_t off, mlen, max;
	uint8_t type;
	int rc;

	if (!size)
		return 0;
	neg = (struct bgp_neg){
		.as4 = data[0] & 1,
		.ext_msg = data[0] & 2,
		.ibgp = data[0] & 4,
	};
	if (data[0] & 8) {
		pack(data + 1, size - 1, &neg);
		return 0;
	}
	max = bgp_neg_max(&neg);
	for (off = 1; off < size;) {
		rc = bgp_frame(data + off, size - off, max, &type, &mlen, &e);
		if (rc < 0) {
			if (rc != -EBADMSG)
				abort();
			check_notify(&e, BGP_ERR_HEADER);
			break;
		}
		if (rc == 0)
			break;
		if ((size_t)rc != mlen || mlen > size - off || mlen > max)
			abort();
		decode(data + off, mlen, type, &neg);
		off += mlen;
	}
	return 0;
}
