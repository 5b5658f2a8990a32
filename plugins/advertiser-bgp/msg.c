/* SPDX-License-Identifier: Apache-2.0 */
/* BGP-4 wire codec: see msg.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* -- bytes ------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

/* -- names ------------------------------------------------------------- */

static const char *const code_names[] = {
	[BGP_ERR_HEADER] = "Message Header error",
	[BGP_ERR_OPEN] = "OPEN message error",
	[BGP_ERR_UPDATE] = "UPDATE message error",
	[BGP_ERR_HOLD] = "Hold Timer Expired",
	[BGP_ERR_FSM] = "Finite State Machine error",
	[BGP_ERR_CEASE] = "Cease",
	[BGP_ERR_ROUTE_REFRESH] = "ROUTE-REFRESH message error",
};

static const char *const header_subs[] = {
	[1] = "Connection Not Synchronized",
	[2] = "Bad Message Length",
	[3] = "Bad Message Type",
};

static const char *const open_subs[] = {
	[1] = "Unsupported Version Number",
	[2] = "Bad Peer AS",
	[3] = "Bad BGP Identifier",
	[4] = "Unsupported Optional Parameter",
	[5] = "Authentication Failure (deprecated)",
	[6] = "Unacceptable Hold Time",
	[7] = "Unsupported Capability",
	[11] = "Role Mismatch",
};

static const char *const update_subs[] = {
	[1] = "Malformed Attribute List",
	[2] = "Unrecognized Well-known Attribute",
	[3] = "Missing Well-known Attribute",
	[4] = "Attribute Flags Error",
	[5] = "Attribute Length Error",
	[6] = "Invalid ORIGIN Attribute",
	[7] = "AS Routing Loop (deprecated)",
	[8] = "Invalid NEXT_HOP Attribute",
	[9] = "Optional Attribute Error",
	[10] = "Invalid Network Field",
	[11] = "Malformed AS_PATH",
};

static const char *const fsm_subs[] = {
	[1] = "Receive Unexpected Message in OpenSent State",
	[2] = "Receive Unexpected Message in OpenConfirm State",
	[3] = "Receive Unexpected Message in Established State",
};

static const char *const cease_subs[] = {
	[1] = "Maximum Number of Prefixes Reached",
	[2] = "Administrative Shutdown",
	[3] = "Peer De-configured",
	[4] = "Administrative Reset",
	[5] = "Connection Rejected",
	[6] = "Other Configuration Change",
	[7] = "Connection Collision Resolution",
	[8] = "Out of Resources",
	[9] = "Hard Reset",
	[10] = "BFD Down",
};

static const char *const rr_subs[] = {
	[1] = "Invalid Message Length",
};

static const char *sub_name(uint8_t code, uint8_t sub)
{
	const char *const *t;
	size_t n;

	switch (code) {
	case BGP_ERR_HEADER:
		t = header_subs;
		n = ARRAY_SIZE(header_subs);
		break;
	case BGP_ERR_OPEN:
		t = open_subs;
		n = ARRAY_SIZE(open_subs);
		break;
	case BGP_ERR_UPDATE:
		t = update_subs;
		n = ARRAY_SIZE(update_subs);
		break;
	case BGP_ERR_FSM:
		t = fsm_subs;
		n = ARRAY_SIZE(fsm_subs);
		break;
	case BGP_ERR_CEASE:
		t = cease_subs;
		n = ARRAY_SIZE(cease_subs);
		break;
	case BGP_ERR_ROUTE_REFRESH:
		t = rr_subs;
		n = ARRAY_SIZE(rr_subs);
		break;
	default:
		return NULL;
	}
	return sub < n ? t[sub] : NULL;
}

const char *bgp_error_name(uint8_t code, uint8_t sub, char *buf, size_t len)
{
	const char *c = code < ARRAY_SIZE(code_names) ? code_names[code] : NULL;
	const char *s = sub_name(code, sub);

	if (!buf || !len)
		return buf;
	if (!c)
		snprintf(buf, len, "code %u / subcode %u", code, sub);
	else if (code == BGP_ERR_HOLD && sub == 0)
		snprintf(buf, len, "%s", c);
	else if (sub == 0)
		snprintf(buf, len, "%s / Unspecific", c);
	else if (s)
		snprintf(buf, len, "%s / %s", c, s);
	else
		snprintf(buf, len, "%s / subcode %u", c, sub);
	return buf;
}

const char *bgp_type_name(uint8_t type, char *buf, size_t len)
{
	static const char *const names[] = {
		[BGP_OPEN] = "OPEN",
		[BGP_UPDATE] = "UPDATE",
		[BGP_NOTIFICATION] = "NOTIFICATION",
		[BGP_KEEPALIVE] = "KEEPALIVE",
		[BGP_ROUTE_REFRESH] = "ROUTE-REFRESH",
	};

	if (!buf || !len)
		return buf;
	if (type < ARRAY_SIZE(names) && names[type])
		snprintf(buf, len, "%s", names[type]);
	else
		snprintf(buf, len, "type %u", type);
	return buf;
}

static const char *attr_name(uint8_t type)
{
	switch (type) {
	case BGP_ATTR_ORIGIN:
		return "ORIGIN";
	case BGP_ATTR_AS_PATH:
		return "AS_PATH";
	case BGP_ATTR_NEXT_HOP:
		return "NEXT_HOP";
	case BGP_ATTR_MED:
		return "MULTI_EXIT_DISC";
	case BGP_ATTR_LOCAL_PREF:
		return "LOCAL_PREF";
	case BGP_ATTR_ATOMIC_AGGREGATE:
		return "ATOMIC_AGGREGATE";
	case BGP_ATTR_AGGREGATOR:
		return "AGGREGATOR";
	case BGP_ATTR_COMMUNITIES:
		return "COMMUNITIES";
	case BGP_ATTR_ORIGINATOR_ID:
		return "ORIGINATOR_ID";
	case BGP_ATTR_CLUSTER_LIST:
		return "CLUSTER_LIST";
	case BGP_ATTR_MP_REACH:
		return "MP_REACH_NLRI";
	case BGP_ATTR_MP_UNREACH:
		return "MP_UNREACH_NLRI";
	case BGP_ATTR_EXT_COMMUNITIES:
		return "EXTENDED_COMMUNITIES";
	case BGP_ATTR_AS4_PATH:
		return "AS4_PATH";
	case BGP_ATTR_AS4_AGGREGATOR:
		return "AS4_AGGREGATOR";
	case BGP_ATTR_LARGE_COMMUNITIES:
		return "LARGE_COMMUNITY";
	default:
		return "unknown";
	}
}

/* -- errors ------------------------------------------------------------ */

static void notify_clear(struct bgp_notify *e)
{
	e->code = 0;
	e->sub = 0;
	e->data_len = 0;
	e->text[0] = '\0';
}

__attribute__((format(printf, 6, 0))) static void
notify_vset(struct bgp_notify *e, uint8_t code, uint8_t sub,
	    const uint8_t *data, size_t dlen, const char *fmt, va_list ap)
{
	e->code = code;
	e->sub = sub;
	if (dlen > sizeof(e->data))
		dlen = sizeof(e->data);
	if (data && dlen)
		memcpy(e->data, data, dlen);
	e->data_len = (uint16_t)(data ? dlen : 0);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
}

__attribute__((format(printf, 6, 7))) static int
fail(struct bgp_notify *e, uint8_t code, uint8_t sub, const uint8_t *data,
     size_t dlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_vset(e, code, sub, data, dlen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* -- framing ----------------------------------------------------------- */

static size_t clamp_max(size_t max)
{
	if (max > BGP_MAX_MSG_EXT)
		return BGP_MAX_MSG_EXT;
	if (max < BGP_HDR_LEN)
		return BGP_HDR_LEN;
	return max;
}

size_t bgp_neg_max(const struct bgp_neg *neg)
{
	return neg && neg->ext_msg ? BGP_MAX_MSG_EXT : BGP_MAX_MSG;
}

int bgp_frame(const uint8_t *buf, size_t len, size_t max, uint8_t *type,
	      size_t *msglen, struct bgp_notify *err)
{
	size_t i, n = len < BGP_MARKER_LEN ? len : BGP_MARKER_LEN;
	size_t lo, hi;
	uint16_t mlen;
	uint8_t t;
	char tn[16];

	if ((!buf && len) || !type || !msglen || !err)
		return -EINVAL;
	notify_clear(err);
	for (i = 0; i < n; i++)
		if (buf[i] != 0xff)
			return fail(err, BGP_ERR_HEADER, BGP_HDR_NOT_SYNC,
				    NULL, 0,
				    "header: marker byte %zu is 0x%02x, not 0xff",
				    i, buf[i]);
	if (len < BGP_HDR_LEN)
		return 0;
	max = clamp_max(max);
	mlen = get16(buf + 16);
	t = buf[18];
	if (mlen < BGP_HDR_LEN || mlen > max)
		return fail(err, BGP_ERR_HEADER, BGP_HDR_BAD_LENGTH, buf + 16,
			    2, "header: length %u outside %u..%zu", mlen,
			    BGP_HDR_LEN, max);
	switch (t) {
	case BGP_OPEN:
		lo = BGP_MIN_OPEN;
		hi = BGP_MAX_MSG;
		break;
	case BGP_UPDATE:
		lo = BGP_MIN_UPDATE;
		hi = max;
		break;
	case BGP_NOTIFICATION:
		lo = BGP_MIN_NOTIFICATION;
		hi = max;
		break;
	case BGP_KEEPALIVE:
		lo = hi = BGP_LEN_KEEPALIVE;
		break;
	case BGP_ROUTE_REFRESH:
		lo = hi = BGP_LEN_ROUTE_REFRESH;
		break;
	default:
		return fail(err, BGP_ERR_HEADER, BGP_HDR_BAD_TYPE, buf + 18, 1,
			    "header: unknown message type %u", t);
	}
	if (mlen < lo || mlen > hi)
		return fail(err, BGP_ERR_HEADER, BGP_HDR_BAD_LENGTH, buf + 16,
			    2, "header: length %u is wrong for %s (%zu..%zu)",
			    mlen, bgp_type_name(t, tn, sizeof(tn)), lo, hi);
	if (len < mlen)
		return 0;
	*type = t;
	*msglen = mlen;
	return mlen;
}

/* -- encoding: the simple messages -------------------------------------- */

static void put_header(uint8_t *buf, size_t len, uint8_t type)
{
	memset(buf, 0xff, BGP_MARKER_LEN);
	put16(buf + 16, (uint16_t)len);
	buf[18] = type;
}

static uint8_t *put_cap_mp(uint8_t *p, uint16_t afi, uint8_t safi)
{
	p = put8(p, BGP_CAP_MP);
	p = put8(p, 4);
	p = put16(p, afi);
	p = put8(p, 0);
	return put8(p, safi);
}

static const struct {
	uint32_t bit;
	uint16_t afi;
	uint8_t safi;
} families[] = {
	{ BGP_FAM_IPV4, BGP_AFI_IPV4, BGP_SAFI_UNICAST },
	{ BGP_FAM_IPV6, BGP_AFI_IPV6, BGP_SAFI_UNICAST },
};

static uint32_t family_bit(uint16_t afi, uint8_t safi)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(families); i++)
		if (families[i].afi == afi && families[i].safi == safi)
			return families[i].bit;
	return 0;
}

#define FAM_ALL (BGP_FAM_IPV4 | BGP_FAM_IPV6)

int bgp_encode_open(uint8_t *buf, size_t cap, const struct bgp_open *o)
{
	uint8_t caps[64], *c = caps, *p;
	size_t i, ncaps, len;

	if (!buf || !o)
		return -EINVAL;
	if (o->as == 0 || o->id == 0 || o->hold == 1 || o->hold == 2)
		return -EINVAL;
	if (!o->as4 && o->as > 0xffff)
		return -EINVAL;
	if ((o->families & ~FAM_ALL) || (o->gr_families & ~FAM_ALL) ||
	    (o->gr_forwarding & ~o->gr_families))
		return -EINVAL;
	if (o->gr && o->gr_time > BGP_GR_TIME_MAX)
		return -EINVAL;

	for (i = 0; i < ARRAY_SIZE(families); i++)
		if (o->families & families[i].bit)
			c = put_cap_mp(c, families[i].afi, families[i].safi);
	if (o->route_refresh) {
		c = put8(c, BGP_CAP_ROUTE_REFRESH);
		c = put8(c, 0);
	}
	if (o->gr) {
		uint8_t *lenp;

		c = put8(c, BGP_CAP_GR);
		lenp = c;
		c = put8(c, 2);
		c = put16(c, (uint16_t)((o->gr_restarting ? 0x8000 : 0) |
					o->gr_time));
		for (i = 0; i < ARRAY_SIZE(families); i++) {
			if (!(o->gr_families & families[i].bit))
				continue;
			c = put16(c, families[i].afi);
			c = put8(c, families[i].safi);
			c = put8(c, o->gr_forwarding & families[i].bit ? 0x80
								      : 0);
			*lenp = (uint8_t)(*lenp + 4);
		}
	}
	if (o->as4) {
		c = put8(c, BGP_CAP_AS4);
		c = put8(c, 4);
		c = put32(c, o->as);
	}
	if (o->ext_msg) {
		c = put8(c, BGP_CAP_EXT_MSG);
		c = put8(c, 0);
	}
	ncaps = (size_t)(c - caps);
	len = BGP_MIN_OPEN + (ncaps ? 2 + ncaps : 0);
	if (len > cap)
		return -EMSGSIZE;

	put_header(buf, len, BGP_OPEN);
	p = buf + BGP_HDR_LEN;
	p = put8(p, BGP_VERSION);
	p = put16(p, (uint16_t)(o->as > 0xffff ? BGP_AS_TRANS : o->as));
	p = put16(p, o->hold);
	p = put32(p, o->id);
	p = put8(p, (uint8_t)(ncaps ? 2 + ncaps : 0));
	if (ncaps) {
		p = put8(p, 2);
		p = put8(p, (uint8_t)ncaps);
		memcpy(p, caps, ncaps);
	}
	return (int)len;
}

int bgp_encode_keepalive(uint8_t *buf, size_t cap)
{
	if (!buf)
		return -EINVAL;
	if (cap < BGP_LEN_KEEPALIVE)
		return -EMSGSIZE;
	put_header(buf, BGP_LEN_KEEPALIVE, BGP_KEEPALIVE);
	return BGP_LEN_KEEPALIVE;
}

int bgp_encode_notification(uint8_t *buf, size_t cap, uint8_t code,
			    uint8_t sub, const uint8_t *data, size_t data_len)
{
	size_t len;

	if (!buf || (!data && data_len))
		return -EINVAL;
	if (cap < BGP_MIN_NOTIFICATION)
		return -EMSGSIZE;
	if (cap > BGP_MAX_MSG)
		cap = BGP_MAX_MSG;
	if (data_len > cap - BGP_MIN_NOTIFICATION)
		data_len = cap - BGP_MIN_NOTIFICATION;
	len = BGP_MIN_NOTIFICATION + data_len;
	put_header(buf, len, BGP_NOTIFICATION);
	buf[19] = code;
	buf[20] = sub;
	if (data_len)
		memcpy(buf + 21, data, data_len);
	return (int)len;
}

int bgp_encode_cease(uint8_t *buf, size_t cap, uint8_t sub, const char *text)
{
	uint8_t data[1 + BGP_SHUTDOWN_MAX];
	size_t n = text ? strlen(text) : 0;

	if (n > BGP_SHUTDOWN_MAX) {
		n = BGP_SHUTDOWN_MAX;
		/* Do not split a UTF-8 sequence. */
		while (n && ((uint8_t)text[n] & 0xc0) == 0x80)
			n--;
	}
	if (!text)
		return bgp_encode_notification(buf, cap, BGP_ERR_CEASE, sub,
					       NULL, 0);
	data[0] = (uint8_t)n;
	memcpy(data + 1, text, n);
	if (cap < BGP_MIN_NOTIFICATION + 1 + n)
		return -EMSGSIZE;
	return bgp_encode_notification(buf, cap, BGP_ERR_CEASE, sub, data,
				       1 + n);
}

int bgp_encode_route_refresh(uint8_t *buf, size_t cap, uint16_t afi,
			     uint8_t safi)
{
	if (!buf)
		return -EINVAL;
	if (cap < BGP_LEN_ROUTE_REFRESH)
		return -EMSGSIZE;
	put_header(buf, BGP_LEN_ROUTE_REFRESH, BGP_ROUTE_REFRESH);
	put16(buf + 19, afi);
	buf[21] = 0;
	buf[22] = safi;
	return BGP_LEN_ROUTE_REFRESH;
}

/* -- encoding: UPDATE -------------------------------------------------- */

static size_t pfx_size(const struct strata_prefix *x)
{
	return 1 + ((size_t)x->len + 7) / 8;
}

static uint8_t *put_prefix(uint8_t *p, const struct strata_prefix *x)
{
	size_t n = ((size_t)x->len + 7) / 8;

	*p++ = x->len;
	memcpy(p, x->addr, n);
	/* Bits past the length are zero on the wire. */
	if (x->len % 8)
		p[n - 1] &= (uint8_t)(0xff << (8 - x->len % 8));
	return p + n;
}

static bool prefix_ok(const struct strata_prefix *x, uint8_t family)
{
	if (x->family != family)
		return false;
	return x->len <= (family == STRATA_AF_INET ? 32 : 128);
}

static size_t attr_size(size_t vlen)
{
	return (vlen > 255 ? 4 : 3) + vlen;
}

static uint8_t *put_attr(uint8_t *p, uint8_t flags, uint8_t type, size_t vlen)
{
	if (vlen > 255) {
		p = put8(p, flags | BGP_ATTR_F_EXTLEN);
		p = put8(p, type);
		return put16(p, (uint16_t)vlen);
	}
	p = put8(p, flags);
	p = put8(p, type);
	return put8(p, (uint8_t)vlen);
}

#define WK BGP_ATTR_F_TRANSITIVE
#define OPT_TRANS (BGP_ATTR_F_OPTIONAL | BGP_ATTR_F_TRANSITIVE)

static bool need_as4_path(const struct bgp_neg *neg, const struct bgp_attrs *a)
{
	return !neg->ibgp && !neg->as4 && a->local_as > 0xffff;
}

/* The attributes every announce carries but MP_REACH_NLRI, in type order
 * (ORIGIN, AS_PATH, NEXT_HOP for IPv4, MED, LOCAL_PREF, COMMUNITIES,
 * AS4_PATH, LARGE_COMMUNITY): their size, then their bytes. */
static size_t common_size(const struct bgp_neg *neg, const struct bgp_attrs *a,
			  bool v4)
{
	size_t n = attr_size(1);

	n += attr_size(neg->ibgp ? 0 : neg->as4 ? 6 : 4);
	if (v4)
		n += attr_size(4);
	if (a->has_med)
		n += attr_size(4);
	if (neg->ibgp)
		n += attr_size(4);
	if (a->n_communities)
		n += attr_size(a->n_communities * 4);
	if (need_as4_path(neg, a))
		n += attr_size(6);
	if (a->n_large)
		n += attr_size(a->n_large * 12);
	return n;
}

static uint8_t *put_common(uint8_t *p, const struct bgp_neg *neg,
			   const struct bgp_attrs *a, bool v4)
{
	size_t i;

	p = put_attr(p, WK, BGP_ATTR_ORIGIN, 1);
	p = put8(p, 0); /* IGP */
	if (neg->ibgp) {
		p = put_attr(p, WK, BGP_ATTR_AS_PATH, 0);
	} else if (neg->as4) {
		p = put_attr(p, WK, BGP_ATTR_AS_PATH, 6);
		p = put8(p, 2); /* AS_SEQUENCE */
		p = put8(p, 1);
		p = put32(p, a->local_as);
	} else {
		p = put_attr(p, WK, BGP_ATTR_AS_PATH, 4);
		p = put8(p, 2);
		p = put8(p, 1);
		p = put16(p, (uint16_t)(a->local_as > 0xffff ? BGP_AS_TRANS
							     : a->local_as));
	}
	if (v4) {
		p = put_attr(p, WK, BGP_ATTR_NEXT_HOP, 4);
		memcpy(p, a->nexthop.addr, 4);
		p += 4;
	}
	if (a->has_med) {
		p = put_attr(p, BGP_ATTR_F_OPTIONAL, BGP_ATTR_MED, 4);
		p = put32(p, a->med);
	}
	if (neg->ibgp) {
		p = put_attr(p, WK, BGP_ATTR_LOCAL_PREF, 4);
		p = put32(p, a->local_pref);
	}
	if (a->n_communities) {
		p = put_attr(p, OPT_TRANS, BGP_ATTR_COMMUNITIES,
			     a->n_communities * 4);
		for (i = 0; i < a->n_communities; i++)
			p = put32(p, a->communities[i]);
	}
	if (need_as4_path(neg, a)) {
		p = put_attr(p, OPT_TRANS, BGP_ATTR_AS4_PATH, 6);
		p = put8(p, 2);
		p = put8(p, 1);
		p = put32(p, a->local_as);
	}
	if (a->n_large) {
		p = put_attr(p, OPT_TRANS, BGP_ATTR_LARGE_COMMUNITIES,
			     a->n_large * 12);
		for (i = 0; i < a->n_large; i++) {
			p = put32(p, a->large[i].global);
			p = put32(p, a->large[i].local1);
			p = put32(p, a->large[i].local2);
		}
	}
	return p;
}

static bool is_link_local6(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static int announce_args(const struct bgp_attrs *a, uint8_t *family)
{
	if (!a->local_as || a->local_as == BGP_AS_TRANS)
		return -EINVAL;
	if ((a->n_communities && !a->communities) ||
	    a->n_communities > 0xffff / 4 || (a->n_large && !a->large) ||
	    a->n_large > 0xffff / 12)
		return -EINVAL;
	switch (a->nexthop.family) {
	case STRATA_AF_INET:
		*family = STRATA_AF_INET;
		return 0;
	case STRATA_AF_INET6:
		if (a->nexthop_ll.family &&
		    (a->nexthop_ll.family != STRATA_AF_INET6 ||
		     !is_link_local6(a->nexthop_ll.addr)))
			return -EINVAL;
		*family = STRATA_AF_INET6;
		return 0;
	default:
		return -EINVAL;
	}
}

int bgp_encode_announce(uint8_t *buf, size_t cap, const struct bgp_neg *neg,
			const struct bgp_attrs *a,
			const struct strata_prefix *pfx, size_t n,
			size_t *consumed)
{
	size_t limit, fixed, total, nlri = 0, mp_fixed = 0, nhlen = 0, k;
	uint8_t family, *p;
	bool v4;
	int rc;

	if (!buf || !neg || !a || !pfx || !n || !consumed)
		return -EINVAL;
	*consumed = 0;
	rc = announce_args(a, &family);
	if (rc)
		return rc;
	v4 = family == STRATA_AF_INET;
	limit = bgp_neg_max(neg);
	if (cap < limit)
		limit = cap;
	fixed = BGP_HDR_LEN + 2 + 2 + common_size(neg, a, v4);
	if (!v4) {
		nhlen = a->nexthop_ll.family ? 32 : 16;
		mp_fixed = 2 + 1 + 1 + nhlen + 1;
	}
	/* Exact arithmetic: the first prefix that would overflow stops. */
	for (k = 0; k < n; k++) {
		size_t s;

		if (!prefix_ok(&pfx[k], family))
			return -EINVAL;
		s = pfx_size(&pfx[k]);
		total = fixed + nlri + s;
		if (!v4)
			total = fixed + attr_size(mp_fixed + nlri + s);
		if (total > limit)
			break;
		nlri += s;
	}
	if (!k)
		return -EMSGSIZE;

	total = v4 ? fixed + nlri : fixed + attr_size(mp_fixed + nlri);
	p = buf + BGP_HDR_LEN;
	p = put16(p, 0); /* no withdrawn routes */
	p = put16(p, (uint16_t)(total - BGP_HDR_LEN - 4 - (v4 ? nlri : 0)));
	if (!v4) {
		p = put_attr(p, BGP_ATTR_F_OPTIONAL, BGP_ATTR_MP_REACH,
			     mp_fixed + nlri);
		p = put16(p, BGP_AFI_IPV6);
		p = put8(p, BGP_SAFI_UNICAST);
		p = put8(p, (uint8_t)nhlen);
		memcpy(p, a->nexthop.addr, 16);
		p += 16;
		if (nhlen == 32) {
			memcpy(p, a->nexthop_ll.addr, 16);
			p += 16;
		}
		p = put8(p, 0); /* reserved */
		for (size_t i = 0; i < k; i++)
			p = put_prefix(p, &pfx[i]);
		p = put_common(p, neg, a, false);
	} else {
		p = put_common(p, neg, a, true);
		for (size_t i = 0; i < k; i++)
			p = put_prefix(p, &pfx[i]);
	}
	put_header(buf, total, BGP_UPDATE);
	*consumed = k;
	return (int)total;
}

int bgp_encode_withdraw(uint8_t *buf, size_t cap, const struct bgp_neg *neg,
			const struct strata_prefix *pfx, size_t n,
			size_t *consumed)
{
	size_t limit, nlri = 0, total, k, i;
	uint8_t family, *p;
	bool v4;

	if (!buf || !neg || !pfx || !n || !consumed)
		return -EINVAL;
	*consumed = 0;
	family = pfx[0].family;
	if (family != STRATA_AF_INET && family != STRATA_AF_INET6)
		return -EINVAL;
	v4 = family == STRATA_AF_INET;
	limit = bgp_neg_max(neg);
	if (cap < limit)
		limit = cap;
	for (k = 0; k < n; k++) {
		size_t s;

		if (!prefix_ok(&pfx[k], family))
			return -EINVAL;
		s = pfx_size(&pfx[k]);
		if (v4)
			total = BGP_MIN_UPDATE + nlri + s;
		else
			total = BGP_MIN_UPDATE + attr_size(3 + nlri + s);
		if (total > limit)
			break;
		nlri += s;
	}
	if (!k)
		return -EMSGSIZE;

	p = buf + BGP_HDR_LEN;
	if (v4) {
		total = BGP_MIN_UPDATE + nlri;
		p = put16(p, (uint16_t)nlri);
		for (i = 0; i < k; i++)
			p = put_prefix(p, &pfx[i]);
		put16(p, 0);
	} else {
		total = BGP_MIN_UPDATE + attr_size(3 + nlri);
		p = put16(p, 0);
		p = put16(p, (uint16_t)attr_size(3 + nlri));
		p = put_attr(p, BGP_ATTR_F_OPTIONAL, BGP_ATTR_MP_UNREACH,
			     3 + nlri);
		p = put16(p, BGP_AFI_IPV6);
		p = put8(p, BGP_SAFI_UNICAST);
		for (i = 0; i < k; i++)
			p = put_prefix(p, &pfx[i]);
	}
	put_header(buf, total, BGP_UPDATE);
	*consumed = k;
	return (int)total;
}

int bgp_encode_eor(uint8_t *buf, size_t cap, uint8_t family)
{
	uint8_t *p;
	size_t len;

	if (!buf)
		return -EINVAL;
	if (family == STRATA_AF_INET)
		len = BGP_MIN_UPDATE;
	else if (family == STRATA_AF_INET6)
		len = BGP_MIN_UPDATE + 6;
	else
		return -EINVAL;
	if (cap < len)
		return -EMSGSIZE;
	put_header(buf, len, BGP_UPDATE);
	p = put16(buf + BGP_HDR_LEN, 0);
	p = put16(p, (uint16_t)(len - BGP_MIN_UPDATE));
	if (family == STRATA_AF_INET6) {
		p = put_attr(p, BGP_ATTR_F_OPTIONAL, BGP_ATTR_MP_UNREACH, 3);
		p = put16(p, BGP_AFI_IPV6);
		put8(p, BGP_SAFI_UNICAST);
	}
	return (int)len;
}

/* -- decoding: OPEN ---------------------------------------------------- */

static int open_cap(const uint8_t *msg, size_t off, uint8_t code,
		    uint8_t clen, struct bgp_open *o, struct bgp_notify *err)
{
	const uint8_t *v = msg + off + 2;
	uint32_t bit;
	size_t i;

	o->n_caps++;
	switch (code) {
	case BGP_CAP_MP:
		if (clen != 4)
			break;
		o->n_mp++;
		bit = family_bit(get16(v), v[3]);
		if (bit)
			o->families |= bit;
		else
			o->n_mp_other++;
		return 0;
	case BGP_CAP_ROUTE_REFRESH:
		if (clen != 0)
			break;
		o->route_refresh = true;
		return 0;
	case BGP_CAP_EXT_MSG:
		if (clen != 0)
			break;
		o->ext_msg = true;
		return 0;
	case BGP_CAP_GR:
		if (clen < 2 || (clen - 2) % 4)
			break;
		o->gr = true;
		o->gr_restarting = v[0] & 0x80;
		o->gr_notification = v[0] & 0x40;
		o->gr_time = get16(v) & 0x0fff;
		for (i = 2; i < clen; i += 4) {
			bit = family_bit(get16(v + i), v[i + 2]);
			o->gr_families |= bit;
			if (v[i + 3] & 0x80)
				o->gr_forwarding |= bit;
		}
		return 0;
	case BGP_CAP_AS4:
		if (clen != 4)
			break;
		if (!get32(v))
			return fail(err, BGP_ERR_OPEN, BGP_OPEN_BAD_PEER_AS,
				    NULL, 0,
				    "OPEN: capability 65 (4-octet AS) at offset %zu: AS 0",
				    off);
		o->as4 = true;
		o->as = get32(v);
		return 0;
	default:
		o->n_unknown_caps++;
		return 0;
	}
	return fail(err, BGP_ERR_OPEN, BGP_OPEN_UNSPECIFIC, msg + off,
		    2 + (size_t)clen,
		    "OPEN: capability %u at offset %zu: length %u is wrong",
		    code, off, clen);
}

/* One optional parameter's capabilities, [off, end) of msg. */
static int open_caps(const uint8_t *msg, size_t off, size_t end,
		     struct bgp_open *o, struct bgp_notify *err)
{
	int rc;

	while (off < end) {
		uint8_t code, clen;

		if (end - off < 2)
			return fail(err, BGP_ERR_OPEN, BGP_OPEN_UNSPECIFIC,
				    NULL, 0,
				    "OPEN: capability at offset %zu: 1 byte left, too few for a header",
				    off);
		code = msg[off];
		clen = msg[off + 1];
		if (clen > end - off - 2)
			return fail(err, BGP_ERR_OPEN, BGP_OPEN_UNSPECIFIC,
				    NULL, 0,
				    "OPEN: capability %u at offset %zu: length %u overruns the parameter's %zu bytes left",
				    code, off, clen, end - off - 2);
		rc = open_cap(msg, off, code, clen, o, err);
		if (rc)
			return rc;
		off += 2 + (size_t)clen;
	}
	return 0;
}

int bgp_decode_open(const uint8_t *msg, size_t len, struct bgp_open *out,
		    struct bgp_notify *err)
{
	static const uint8_t version[2] = { 0, BGP_VERSION };
	size_t off, end, hl;
	bool ext = false;
	int rc;

	if (!msg || !out || !err)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	notify_clear(err);
	if (len < BGP_MIN_OPEN || len > BGP_MAX_MSG)
		return fail(err, BGP_ERR_HEADER, BGP_HDR_BAD_LENGTH, NULL, 0,
			    "OPEN: length %zu outside %u..%u", len,
			    BGP_MIN_OPEN, BGP_MAX_MSG);
	out->version = msg[19];
	out->as2 = get16(msg + 20);
	out->hold = get16(msg + 22);
	out->id = get32(msg + 24);
	if (out->version != BGP_VERSION)
		return fail(err, BGP_ERR_OPEN, BGP_OPEN_BAD_VERSION, version,
			    2, "OPEN: version %u, only 4 is spoken",
			    out->version);
	if (out->as2 == 0)
		return fail(err, BGP_ERR_OPEN, BGP_OPEN_BAD_PEER_AS, NULL, 0,
			    "OPEN: My AS is 0");
	if (out->hold == 1 || out->hold == 2)
		return fail(err, BGP_ERR_OPEN, BGP_OPEN_BAD_HOLD, NULL, 0,
			    "OPEN: hold time %u, must be 0 or at least 3",
			    out->hold);
	if (out->id == 0)
		return fail(err, BGP_ERR_OPEN, BGP_OPEN_BAD_ID, NULL, 0,
			    "OPEN: BGP Identifier 0.0.0.0");

	/* RFC 9072: a 255/255 start announces 2-octet parameter lengths. */
	off = BGP_MIN_OPEN;
	if (msg[28] == 255 && len > off && msg[off] == 255) {
		if (len < off + 3)
			return fail(err, BGP_ERR_OPEN, BGP_OPEN_UNSPECIFIC,
				    NULL, 0,
				    "OPEN: extended optional parameters length cut short");
		end = off + 3 + get16(msg + off + 1);
		off += 3;
		ext = true;
	} else {
		end = off + msg[28];
	}
	if (end != len)
		return fail(err, BGP_ERR_HEADER, BGP_HDR_BAD_LENGTH,
			    msg + 16, 2,
			    "OPEN: optional parameters end at %zu, the message at %zu",
			    end, len);
	hl = ext ? 3 : 2;
	while (off < end) {
		uint8_t type;
		size_t plen;

		if (end - off < hl)
			return fail(err, BGP_ERR_OPEN, BGP_OPEN_UNSPECIFIC,
				    NULL, 0,
				    "OPEN: optional parameter at offset %zu: %zu bytes left, too few for a header",
				    off, end - off);
		type = msg[off];
		plen = ext ? get16(msg + off + 1) : msg[off + 1];
		if (plen > end - off - hl)
			return fail(err, BGP_ERR_OPEN, BGP_OPEN_UNSPECIFIC,
				    NULL, 0,
				    "OPEN: optional parameter %u at offset %zu: length %zu overruns the %zu bytes left",
				    type, off, plen, end - off - hl);
		if (type != 2)
			return fail(err, BGP_ERR_OPEN, BGP_OPEN_BAD_PARAM,
				    NULL, 0,
				    "OPEN: optional parameter %u at offset %zu is not a capability",
				    type, off);
		rc = open_caps(msg, off + hl, off + hl + plen, out, err);
		if (rc)
			return rc;
		off += hl + plen;
	}
	if (!out->as4)
		out->as = out->as2;
	return 0;
}

/* -- decoding: UPDATE -------------------------------------------------- */

struct upd {
	const uint8_t *msg;
	size_t len;
	const struct bgp_neg *neg;
	struct bgp_update_info *out;
	uint8_t seen[32]; /* attribute types met */
	bool mp_reach;
	bool mp_unreach;
	uint32_t mp_reach_nlri;
	uint32_t mp_unreach_nlri;
	uint16_t mp_unreach_afi;
	uint8_t mp_unreach_safi;
};

/* Keep the first problem of the most severe class seen. */
__attribute__((format(printf, 7, 8))) static void
note(struct upd *u, enum bgp_verdict v, uint8_t code, uint8_t sub,
     const uint8_t *data, size_t dlen, const char *fmt, ...)
{
	struct bgp_update_info *o = u->out;
	va_list ap;

	if (v <= o->verdict)
		return;
	o->verdict = v;
	va_start(ap, fmt);
	notify_vset(&o->notify, code, sub, data, dlen, fmt, ap);
	va_end(ap);
}

/* Walk the prefixes in [off, end): 0 and *count, or -EBADMSG (reset). */
static int walk_nlri(struct upd *u, size_t off, size_t end, unsigned maxbits,
		     const char *what, uint32_t *count)
{
	const uint8_t *m = u->msg;

	while (off < end) {
		unsigned plen = m[off];
		size_t nb = (plen + 7) / 8;

		if (plen > maxbits) {
			note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
			     BGP_UPD_NETWORK, NULL, 0,
			     "UPDATE: %s at offset %zu: prefix length %u exceeds %u",
			     what, off, plen, maxbits);
			return -EBADMSG;
		}
		if (nb > end - off - 1) {
			note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
			     BGP_UPD_NETWORK, NULL, 0,
			     "UPDATE: %s at offset %zu: a /%u needs %zu bytes, %zu left",
			     what, off, plen, nb, end - off - 1);
			return -EBADMSG;
		}
		off += 1 + nb;
		(*count)++;
	}
	return 0;
}

/* Segments of an AS_PATH or AS4_PATH value; NULL, or why it is malformed
 * (RFC 7606 7.2). */
static const char *as_path_check(const uint8_t *v, size_t vlen, unsigned w,
				 bool confed_ok, char *why, size_t wl)
{
	size_t o = 0;

	while (o < vlen) {
		uint8_t t, cnt;

		if (vlen - o < 2) {
			snprintf(why, wl, "1 byte left at +%zu, no room for a segment",
				 o);
			return why;
		}
		t = v[o];
		cnt = v[o + 1];
		if (t < 1 || t > 4 || (!confed_ok && t > 2)) {
			snprintf(why, wl, "segment type %u at +%zu", t, o);
			return why;
		}
		if (!cnt) {
			snprintf(why, wl, "empty segment at +%zu", o);
			return why;
		}
		if ((size_t)cnt * w > vlen - o - 2) {
			snprintf(why, wl,
				 "segment length %u overruns the attribute's %zu bytes",
				 cnt, vlen);
			return why;
		}
		o += 2 + (size_t)cnt * w;
	}
	return NULL;
}

static bool martian4(const uint8_t *a)
{
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

static bool known_attr(uint8_t type)
{
	return (type >= BGP_ATTR_ORIGIN && type <= BGP_ATTR_CLUSTER_LIST) ||
	       (type >= BGP_ATTR_MP_REACH && type <= BGP_ATTR_AS4_AGGREGATOR) ||
	       type == BGP_ATTR_LARGE_COMMUNITIES;
}

static uint8_t expected_flags(uint8_t type)
{
	switch (type) {
	case BGP_ATTR_ORIGIN:
	case BGP_ATTR_AS_PATH:
	case BGP_ATTR_NEXT_HOP:
	case BGP_ATTR_LOCAL_PREF:
	case BGP_ATTR_ATOMIC_AGGREGATE:
		return WK;
	case BGP_ATTR_MED:
	case BGP_ATTR_ORIGINATOR_ID:
	case BGP_ATTR_CLUSTER_LIST:
	case BGP_ATTR_MP_REACH:
	case BGP_ATTR_MP_UNREACH:
		return BGP_ATTR_F_OPTIONAL;
	default:
		return OPT_TRANS;
	}
}

/* What RFC 7606 says to do with a malformed attribute of this type. */
static enum bgp_verdict malformed_verdict(uint8_t type)
{
	switch (type) {
	case BGP_ATTR_ATOMIC_AGGREGATE:
	case BGP_ATTR_AGGREGATOR:
	case BGP_ATTR_AS4_PATH:
	case BGP_ATTR_AS4_AGGREGATOR:
		return BGP_VERDICT_ATTR_DISCARD;
	default:
		return BGP_VERDICT_TREAT_AS_WITHDRAW;
	}
}

static int mp_attr(struct upd *u, uint8_t type, size_t a, const uint8_t *v,
		   size_t vlen, size_t attr_len)
{
	bool reach = type == BGP_ATTR_MP_REACH;
	size_t need = reach ? 5 : 3, nhl = 0, off;
	uint16_t afi;
	uint8_t safi;
	uint32_t bit, count = 0, *tally;
	unsigned maxbits;
	int rc;

	if ((reach && u->mp_reach) || (!reach && u->mp_unreach)) {
		note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
		     BGP_UPD_MALFORMED_ATTRS, NULL, 0,
		     "UPDATE: attribute %u (%s) at offset %zu: a second one",
		     type, attr_name(type), a);
		return -EBADMSG;
	}
	if (vlen < need) {
		note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
		     BGP_UPD_OPTIONAL, u->msg + a, attr_len,
		     "UPDATE: attribute %u (%s) at offset %zu: %zu bytes, at least %zu needed",
		     type, attr_name(type), a, vlen, need);
		return -EBADMSG;
	}
	afi = get16(v);
	safi = v[2];
	bit = family_bit(afi, safi);
	if (reach) {
		nhl = v[3];
		if (nhl + 5 > vlen) {
			note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
			     BGP_UPD_OPTIONAL, u->msg + a, attr_len,
			     "UPDATE: attribute 14 (MP_REACH_NLRI) at offset %zu: next hop length %zu overruns the attribute's %zu bytes",
			     a, nhl, vlen);
			return -EBADMSG;
		}
		if ((bit == BGP_FAM_IPV4 && nhl != 4) ||
		    (bit == BGP_FAM_IPV6 && nhl != 16 && nhl != 32)) {
			note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
			     BGP_UPD_OPTIONAL, u->msg + a, attr_len,
			     "UPDATE: attribute 14 (MP_REACH_NLRI) at offset %zu: next hop length %zu is wrong for AFI %u SAFI %u",
			     a, nhl, afi, safi);
			return -EBADMSG;
		}
		u->mp_reach = true;
	} else {
		u->mp_unreach = true;
		u->mp_unreach_afi = afi;
		u->mp_unreach_safi = safi;
	}
	if (!bit) {
		/* Not negotiated by us: its NLRI cannot be walked. */
		u->out->n_other_family++;
		return 0;
	}
	off = (size_t)(v - u->msg) + need + nhl;
	maxbits = bit == BGP_FAM_IPV4 ? 32 : 128;
	rc = walk_nlri(u, off, (size_t)(v - u->msg) + vlen, maxbits,
		       reach ? "MP_REACH_NLRI" : "MP_UNREACH_NLRI", &count);
	if (rc)
		return rc;
	tally = reach ? u->out->announced : u->out->withdrawn;
	tally[bit == BGP_FAM_IPV4 ? BGP_IDX_V4 : BGP_IDX_V6] += count;
	if (reach)
		u->mp_reach_nlri += count;
	else
		u->mp_unreach_nlri += count;
	return 0;
}

/* One attribute at offset a, value v[0..vlen). */
static int update_attr(struct upd *u, uint8_t flags, uint8_t type, size_t a,
		       const uint8_t *v, size_t vlen, size_t attr_len)
{
	const uint8_t *attr = u->msg + a;
	enum bgp_verdict bad = malformed_verdict(type);
	char why[96];
	const char *w;

	switch (type) {
	case BGP_ATTR_ORIGIN:
		if (vlen != 1)
			goto bad_length;
		if (v[0] > 2) {
			note(u, bad, BGP_ERR_UPDATE, BGP_UPD_ORIGIN, attr,
			     attr_len,
			     "UPDATE: attribute 1 (ORIGIN) at offset %zu: value %u",
			     a, v[0]);
		}
		break;
	case BGP_ATTR_AS_PATH:
		w = as_path_check(v, vlen, u->neg->as4 ? 4 : 2, true, why,
				  sizeof(why));
		if (w)
			note(u, bad, BGP_ERR_UPDATE, BGP_UPD_AS_PATH, NULL, 0,
			     "UPDATE: attribute 2 (AS_PATH) at offset %zu: %s",
			     a, w);
		break;
	case BGP_ATTR_NEXT_HOP:
		if (vlen != 4)
			goto bad_length;
		if (martian4(v))
			note(u, bad, BGP_ERR_UPDATE, BGP_UPD_NEXT_HOP, attr,
			     attr_len,
			     "UPDATE: attribute 3 (NEXT_HOP) at offset %zu: %u.%u.%u.%u is not a unicast address",
			     a, v[0], v[1], v[2], v[3]);
		break;
	case BGP_ATTR_LOCAL_PREF:
		if (!u->neg->ibgp) {
			/* RFC 7606 7.5: ignored from an eBGP peer. */
			u->out->n_discarded++;
			note(u, BGP_VERDICT_ATTR_DISCARD, BGP_ERR_UPDATE,
			     BGP_UPD_MALFORMED_ATTRS, NULL, 0,
			     "UPDATE: attribute 5 (LOCAL_PREF) at offset %zu: from an eBGP peer, discarded",
			     a);
			break;
		}
		/* fall through */
	case BGP_ATTR_MED:
	case BGP_ATTR_ORIGINATOR_ID:
		if (vlen != 4)
			goto bad_length;
		break;
	case BGP_ATTR_ATOMIC_AGGREGATE:
		if (vlen != 0)
			goto bad_length;
		break;
	case BGP_ATTR_AGGREGATOR:
		if (vlen != (u->neg->as4 ? 8u : 6u))
			goto bad_length;
		break;
	case BGP_ATTR_AS4_AGGREGATOR:
		if (vlen != 8)
			goto bad_length;
		break;
	case BGP_ATTR_COMMUNITIES:
	case BGP_ATTR_CLUSTER_LIST:
		if (!vlen || vlen % 4)
			goto bad_length;
		break;
	case BGP_ATTR_EXT_COMMUNITIES:
		if (!vlen || vlen % 8)
			goto bad_length;
		break;
	case BGP_ATTR_LARGE_COMMUNITIES:
		if (!vlen || vlen % 12)
			goto bad_length;
		break;
	case BGP_ATTR_AS4_PATH:
		w = as_path_check(v, vlen, 4, false, why, sizeof(why));
		if (w) {
			u->out->n_discarded++;
			note(u, bad, BGP_ERR_UPDATE, BGP_UPD_OPTIONAL, attr,
			     attr_len,
			     "UPDATE: attribute 17 (AS4_PATH) at offset %zu: %s, discarded",
			     a, w);
		} else if (u->neg->as4) {
			/* RFC 6793 4.1: not expected between NEW speakers. */
			u->out->n_discarded++;
			note(u, BGP_VERDICT_ATTR_DISCARD, BGP_ERR_UPDATE,
			     BGP_UPD_OPTIONAL, NULL, 0,
			     "UPDATE: attribute 17 (AS4_PATH) at offset %zu: 4-octet AS negotiated, discarded",
			     a);
		}
		break;
	case BGP_ATTR_MP_REACH:
	case BGP_ATTR_MP_UNREACH:
		return mp_attr(u, type, a, v, vlen, attr_len);
	default:
		if (!(flags & BGP_ATTR_F_OPTIONAL)) {
			note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
			     BGP_UPD_UNKNOWN_WELLKNOWN, attr, attr_len,
			     "UPDATE: attribute %u at offset %zu: unknown and flagged well-known",
			     type, a);
			return -EBADMSG;
		}
		u->out->n_unknown_attrs++;
		break;
	}
	return 0;

bad_length:
	if (bad == BGP_VERDICT_ATTR_DISCARD)
		u->out->n_discarded++;
	note(u, bad, BGP_ERR_UPDATE,
	     type == BGP_ATTR_COMMUNITIES || type == BGP_ATTR_EXT_COMMUNITIES ||
			     type == BGP_ATTR_LARGE_COMMUNITIES
		     ? BGP_UPD_OPTIONAL
		     : BGP_UPD_LENGTH,
	     attr, attr_len,
	     "UPDATE: attribute %u (%s) at offset %zu: length %zu is wrong%s",
	     type, attr_name(type), a, vlen,
	     bad == BGP_VERDICT_ATTR_DISCARD ? ", discarded" : "");
	return 0;
}

static bool seen(const struct upd *u, uint8_t type)
{
	return u->seen[type / 8] & (1u << (type % 8));
}

static int update_attrs(struct upd *u, size_t a, size_t end)
{
	const uint8_t *m = u->msg;
	int rc;

	while (a < end) {
		uint8_t flags, type;
		size_t hl, vlen;

		flags = m[a];
		hl = flags & BGP_ATTR_F_EXTLEN ? 4 : 3;
		if (end - a < hl) {
			note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
			     BGP_UPD_MALFORMED_ATTRS, NULL, 0,
			     "UPDATE: attribute at offset %zu: %zu bytes left, too few for a header",
			     a, end - a);
			return -EBADMSG;
		}
		type = m[a + 1];
		vlen = hl == 4 ? get16(m + a + 2) : m[a + 2];
		if (vlen > end - a - hl) {
			note(u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
			     BGP_UPD_MALFORMED_ATTRS, NULL, 0,
			     "UPDATE: attribute %u (%s) at offset %zu: length %zu overruns the %zu bytes left of the attributes",
			     type, attr_name(type), a, vlen, end - a - hl);
			return -EBADMSG;
		}
		u->out->n_attrs++;
		if (seen(u, type) && type != BGP_ATTR_MP_REACH &&
		    type != BGP_ATTR_MP_UNREACH) {
			/* RFC 7606 3.g: later copies are dropped. */
			u->out->n_discarded++;
			note(u, BGP_VERDICT_ATTR_DISCARD, BGP_ERR_UPDATE,
			     BGP_UPD_MALFORMED_ATTRS, NULL, 0,
			     "UPDATE: attribute %u (%s) at offset %zu: repeated, discarded",
			     type, attr_name(type), a);
			a += hl + vlen;
			continue;
		}
		u->seen[type / 8] |= (uint8_t)(1u << (type % 8));
		if (known_attr(type) &&
		    expected_flags(type) != (flags & OPT_TRANS)) {
			enum bgp_verdict bad = malformed_verdict(type);

			if (bad == BGP_VERDICT_ATTR_DISCARD)
				u->out->n_discarded++;
			note(u, bad, BGP_ERR_UPDATE, BGP_UPD_FLAGS, m + a,
			     hl + vlen,
			     "UPDATE: attribute %u (%s) at offset %zu: flags 0x%02x, expected 0x%02x",
			     type, attr_name(type), a, flags & OPT_TRANS,
			     expected_flags(type));
			/* MP attributes are still walked for their NLRI. */
			if (type != BGP_ATTR_MP_REACH &&
			    type != BGP_ATTR_MP_UNREACH) {
				a += hl + vlen;
				continue;
			}
		}
		rc = update_attr(u, flags, type, a, m + a + hl, vlen, hl + vlen);
		if (rc)
			return rc;
		a += hl + vlen;
	}
	return 0;
}

int bgp_decode_update(const uint8_t *msg, size_t len,
		      const struct bgp_neg *neg, struct bgp_update_info *out)
{
	struct upd u = { .msg = msg, .len = len, .neg = neg, .out = out };
	size_t off, wlen, alen, aend;
	uint32_t nlri = 0;
	uint8_t missing = 0;

	if (!msg || !neg || !out)
		return -EINVAL;
	memset(out, 0, offsetof(struct bgp_update_info, notify));
	notify_clear(&out->notify);
	if (len < BGP_MIN_UPDATE) {
		note(&u, BGP_VERDICT_SESSION_RESET, BGP_ERR_HEADER,
		     BGP_HDR_BAD_LENGTH, NULL, 0,
		     "UPDATE: length %zu below %u", len, BGP_MIN_UPDATE);
		return -EBADMSG;
	}
	wlen = get16(msg + 19);
	off = 21;
	if (wlen > len - BGP_MIN_UPDATE) {
		note(&u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
		     BGP_UPD_MALFORMED_ATTRS, NULL, 0,
		     "UPDATE: withdrawn routes length %zu overruns the %zu bytes left",
		     wlen, len - BGP_MIN_UPDATE);
		return -EBADMSG;
	}
	if (walk_nlri(&u, off, off + wlen, 32, "withdrawn routes",
		      &out->withdrawn[BGP_IDX_V4]))
		return -EBADMSG;
	off += wlen;
	alen = get16(msg + off);
	off += 2;
	if (alen > len - off) {
		note(&u, BGP_VERDICT_SESSION_RESET, BGP_ERR_UPDATE,
		     BGP_UPD_MALFORMED_ATTRS, NULL, 0,
		     "UPDATE: total path attribute length %zu at offset %zu overruns the %zu bytes left",
		     alen, off - 2, len - off);
		return -EBADMSG;
	}
	aend = off + alen;
	if (update_attrs(&u, off, aend))
		return -EBADMSG;
	if (walk_nlri(&u, aend, len, 32, "NLRI", &nlri))
		return -EBADMSG;
	out->announced[BGP_IDX_V4] += nlri;

	/* RFC 7606 3.d: a missing mandatory attribute means withdraw. */
	if (nlri || u.mp_reach_nlri) {
		if (!seen(&u, BGP_ATTR_ORIGIN))
			missing = BGP_ATTR_ORIGIN;
		else if (!seen(&u, BGP_ATTR_AS_PATH))
			missing = BGP_ATTR_AS_PATH;
		else if (nlri && !seen(&u, BGP_ATTR_NEXT_HOP))
			missing = BGP_ATTR_NEXT_HOP;
		if (missing)
			note(&u, BGP_VERDICT_TREAT_AS_WITHDRAW, BGP_ERR_UPDATE,
			     BGP_UPD_MISSING_WELLKNOWN, &missing, 1,
			     "UPDATE: attribute %u (%s) missing", missing,
			     attr_name(missing));
	}

	if (out->verdict != BGP_VERDICT_OK)
		return 0;
	if (wlen == 0 && alen == 0 && len == BGP_MIN_UPDATE) {
		out->verdict = BGP_VERDICT_EOR;
		out->eor_afi = BGP_AFI_IPV4;
		out->eor_safi = BGP_SAFI_UNICAST;
		out->eor_family = STRATA_AF_INET;
	} else if (wlen == 0 && !nlri && out->n_attrs == 1 && u.mp_unreach &&
		   !u.mp_unreach_nlri) {
		uint32_t bit = family_bit(u.mp_unreach_afi, u.mp_unreach_safi);
		size_t vlen = alen - (msg[off] & BGP_ATTR_F_EXTLEN ? 4 : 3);

		/* Only an empty one: other families' NLRI were not walked. */
		if (vlen == 3) {
			out->verdict = BGP_VERDICT_EOR;
			out->eor_afi = u.mp_unreach_afi;
			out->eor_safi = u.mp_unreach_safi;
			out->eor_family = bit == BGP_FAM_IPV4   ? STRATA_AF_INET
					  : bit == BGP_FAM_IPV6 ? STRATA_AF_INET6
								: 0;
		}
	}
	return 0;
}

/* -- decoding: NOTIFICATION, ROUTE-REFRESH ------------------------------ */

/* Length of a valid UTF-8 sequence at s (n bytes left) that is not a C1
 * control, or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	else if (c == 0xc2)
		lo = 0xa0; /* U+0080..U+009F are controls */
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* out holds n + 1 bytes: valid printable UTF-8 is kept, the rest is '?'. */
static void printable(const uint8_t *s, size_t n, char *out)
{
	size_t i = 0, o = 0, k;

	while (i < n) {
		if (s[i] < 0x80) {
			out[o++] = s[i] >= 0x20 && s[i] != 0x7f ? (char)s[i]
								: '?';
			i++;
			continue;
		}
		k = utf8_seq(s + i, n - i);
		if (!k) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
}

int bgp_decode_notification(const uint8_t *msg, size_t len,
			    struct bgp_notification *out)
{
	size_t tl;

	if (!msg || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (len < BGP_MIN_NOTIFICATION)
		return -EBADMSG;
	out->code = msg[19];
	out->sub = msg[20];
	out->data = msg + 21;
	out->data_len = len - 21;
	if (out->code != BGP_ERR_CEASE ||
	    (out->sub != BGP_CEASE_ADMIN_SHUTDOWN &&
	     out->sub != BGP_CEASE_ADMIN_RESET) ||
	    !out->data_len)
		return 0;
	tl = out->data[0];
	if (tl > out->data_len - 1) {
		out->bad_shutdown = true;
		return 0;
	}
	out->has_shutdown = true;
	printable(out->data + 1, tl, out->shutdown);
	return 0;
}

int bgp_decode_route_refresh(const uint8_t *msg, size_t len,
			     struct bgp_route_refresh *out,
			     struct bgp_notify *err)
{
	if (!msg || !out || !err)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	notify_clear(err);
	if (len != BGP_LEN_ROUTE_REFRESH)
		return fail(err, BGP_ERR_ROUTE_REFRESH, 1, msg,
			    len < BGP_NOTIFY_DATA_MAX ? len
						      : BGP_NOTIFY_DATA_MAX,
			    "ROUTE-REFRESH: length %zu, not 23", len);
	out->afi = get16(msg + 19);
	out->subtype = msg[21];
	out->safi = msg[22];
	return 0;
}
