/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BGP-4 wire codec for an advertise-only speaker: framing, the encoders
 * the speaker sends with and the decoders that validate what a peer sends
 * (RFC 4271, 2918, 4486, 4724, 4760, 5492, 6793, 7606, 8092, 8654, 9003,
 * 9072). Pure: no I/O, no clock, no allocation; every buffer is the
 * caller's. Messages are passed whole, header included, so the offsets in
 * error texts are offsets in the message.
 *
 * Encoders write one message into buf (cap bytes) and return its length
 * or -EINVAL (bad arguments), -EMSGSIZE (does not fit). UPDATE encoders
 * also stop at the negotiated maximum (4096, or 65535 with RFC 8654) and
 * pack as many of the given prefixes as fit, saying how many they took:
 * the speaker encodes lazily, one bounded message at a time. One kind of
 * UPDATE per message (RFC 7606 5.1): IPv4 announce (classic NLRI), IPv6
 * announce (MP_REACH_NLRI first), IPv4 withdraw, IPv6 withdraw
 * (MP_UNREACH_NLRI), End-of-RIB.
 *
 * Decoders return 0, or -EBADMSG with the NOTIFICATION to send back (a
 * session reset). An UPDATE is walked with RFC 7606's revised error
 * handling given the negotiated state; the verdict says what the RFC asks
 * for, and the speaker, which imports nothing, logs and drops it.
 */
#ifndef STRATA_BGP_MSG_H
#define STRATA_BGP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/types.h>

#define BGP_MARKER_LEN 16
#define BGP_HDR_LEN 19
#define BGP_MAX_MSG 4096     /* RFC 4271 */
#define BGP_MAX_MSG_EXT 65535 /* RFC 8654, once negotiated */
#define BGP_MIN_OPEN 29
#define BGP_MIN_UPDATE 23
#define BGP_MIN_NOTIFICATION 21
#define BGP_LEN_KEEPALIVE 19
#define BGP_LEN_ROUTE_REFRESH 23

#define BGP_OPEN 1
#define BGP_UPDATE 2
#define BGP_NOTIFICATION 3
#define BGP_KEEPALIVE 4
#define BGP_ROUTE_REFRESH 5

#define BGP_VERSION 4
#define BGP_AS_TRANS 23456
#define BGP_GR_TIME_MAX 4095

#define BGP_AFI_IPV4 1
#define BGP_AFI_IPV6 2
#define BGP_SAFI_UNICAST 1

/* Address families as bits (OPEN capabilities, graceful restart). */
#define BGP_FAM_IPV4 0x1u /* AFI 1, SAFI 1 */
#define BGP_FAM_IPV6 0x2u /* AFI 2, SAFI 1 */

/* Capability codes this codec knows. */
#define BGP_CAP_MP 1
#define BGP_CAP_ROUTE_REFRESH 2
#define BGP_CAP_EXT_MSG 6
#define BGP_CAP_GR 64
#define BGP_CAP_AS4 65

/* Path attribute type codes this codec knows. */
#define BGP_ATTR_ORIGIN 1
#define BGP_ATTR_AS_PATH 2
#define BGP_ATTR_NEXT_HOP 3
#define BGP_ATTR_MED 4
#define BGP_ATTR_LOCAL_PREF 5
#define BGP_ATTR_ATOMIC_AGGREGATE 6
#define BGP_ATTR_AGGREGATOR 7
#define BGP_ATTR_COMMUNITIES 8
#define BGP_ATTR_ORIGINATOR_ID 9
#define BGP_ATTR_CLUSTER_LIST 10
#define BGP_ATTR_MP_REACH 14
#define BGP_ATTR_MP_UNREACH 15
#define BGP_ATTR_EXT_COMMUNITIES 16
#define BGP_ATTR_AS4_PATH 17
#define BGP_ATTR_AS4_AGGREGATOR 18
#define BGP_ATTR_LARGE_COMMUNITIES 32

#define BGP_ATTR_F_OPTIONAL 0x80
#define BGP_ATTR_F_TRANSITIVE 0x40
#define BGP_ATTR_F_PARTIAL 0x20
#define BGP_ATTR_F_EXTLEN 0x10

/* NOTIFICATION error codes (RFC 4271 4.5, RFC 6608, RFC 7313). */
#define BGP_ERR_HEADER 1
#define BGP_ERR_OPEN 2
#define BGP_ERR_UPDATE 3
#define BGP_ERR_HOLD 4
#define BGP_ERR_FSM 5
#define BGP_ERR_CEASE 6
#define BGP_ERR_ROUTE_REFRESH 7

#define BGP_HDR_NOT_SYNC 1
#define BGP_HDR_BAD_LENGTH 2
#define BGP_HDR_BAD_TYPE 3

#define BGP_OPEN_UNSPECIFIC 0
#define BGP_OPEN_BAD_VERSION 1
#define BGP_OPEN_BAD_PEER_AS 2
#define BGP_OPEN_BAD_ID 3
#define BGP_OPEN_BAD_PARAM 4
#define BGP_OPEN_BAD_HOLD 6
#define BGP_OPEN_BAD_CAP 7

#define BGP_UPD_MALFORMED_ATTRS 1
#define BGP_UPD_UNKNOWN_WELLKNOWN 2
#define BGP_UPD_MISSING_WELLKNOWN 3
#define BGP_UPD_FLAGS 4
#define BGP_UPD_LENGTH 5
#define BGP_UPD_ORIGIN 6
#define BGP_UPD_NEXT_HOP 8
#define BGP_UPD_OPTIONAL 9
#define BGP_UPD_NETWORK 10
#define BGP_UPD_AS_PATH 11

#define BGP_CEASE_MAX_PREFIXES 1
#define BGP_CEASE_ADMIN_SHUTDOWN 2
#define BGP_CEASE_DECONFIGURED 3
#define BGP_CEASE_ADMIN_RESET 4
#define BGP_CEASE_REJECTED 5
#define BGP_CEASE_CONFIG_CHANGE 6
#define BGP_CEASE_COLLISION 7
#define BGP_CEASE_OUT_OF_RESOURCES 8
#define BGP_CEASE_HARD_RESET 9

/* Longest NOTIFICATION data that fits a 4096-byte message. */
#define BGP_NOTIFY_DATA_MAX (BGP_MAX_MSG - BGP_MIN_NOTIFICATION)
#define BGP_TEXT_MAX 192
/* RFC 9003: a shutdown communication is at most 255 octets. */
#define BGP_SHUTDOWN_MAX 255

/* The NOTIFICATION a decoder asks the speaker to send, and why. */
struct bgp_notify {
	uint8_t code;
	uint8_t sub;
	uint16_t data_len;
	uint8_t data[BGP_NOTIFY_DATA_MAX]; /* cut to fit when longer */
	char text[BGP_TEXT_MAX];           /* what and where, for the log */
};

/* What both sides agreed in their OPENs. */
struct bgp_neg {
	bool as4;     /* both sent capability 65: 4-octet AS_PATH */
	bool ext_msg; /* both sent capability 6: messages up to 65535 */
	bool ibgp;    /* same AS: empty AS_PATH, LOCAL_PREF */
};

/*
 * An OPEN, sent or received. Encoding reads version (ignored: always 4),
 * as, hold, id, families, route_refresh, as4, ext_msg, gr*.
 */
struct bgp_open {
	uint8_t version;
	uint16_t as2;          /* the My AS field (decoded) */
	uint32_t as;           /* capability 65's AS when present, else as2 */
	uint16_t hold;         /* 0 or >= 3 */
	uint32_t id;           /* BGP Identifier, host order, non-zero */
	uint32_t families;     /* BGP_FAM_* offered in capability 1 */
	uint32_t n_mp;         /* capability 1 occurrences, any AFI/SAFI */
	uint32_t n_mp_other;   /* of which for AFI/SAFIs not in BGP_FAM_* */
	bool route_refresh;    /* capability 2 */
	bool as4;              /* capability 65 */
	bool ext_msg;          /* capability 6 (RFC 8654) */
	bool gr;               /* capability 64 */
	bool gr_restarting;    /* its R bit */
	bool gr_notification;  /* its N bit (RFC 8538, decoded only) */
	uint16_t gr_time;      /* <= 4095 s */
	uint32_t gr_families;  /* BGP_FAM_* listed in capability 64 */
	uint32_t gr_forwarding; /* of those, the ones with the F bit */
	uint32_t n_caps;       /* capabilities seen */
	uint32_t n_unknown_caps; /* ignored (RFC 5492) */
};

struct bgp_large_community {
	uint32_t global;
	uint32_t local1;
	uint32_t local2;
};

/* One attribute set, shared by the prefixes an announce packs. */
struct bgp_attrs {
	uint32_t local_as;
	struct strata_addr nexthop;    /* IPv4 for IPv4, global IPv6 for IPv6 */
	struct strata_addr nexthop_ll; /* IPv6 link-local, or family 0 */
	bool has_med;
	uint32_t med;
	uint32_t local_pref; /* sent on iBGP only */
	const uint32_t *communities;
	size_t n_communities;
	const struct bgp_large_community *large;
	size_t n_large;
};

/* RFC 7606's outcomes, in rising severity. */
enum bgp_verdict {
	BGP_VERDICT_OK = 0,
	BGP_VERDICT_EOR,               /* End-of-RIB for eor_afi/eor_safi */
	BGP_VERDICT_ATTR_DISCARD,      /* some attributes dropped, rest fine */
	BGP_VERDICT_TREAT_AS_WITHDRAW, /* the NLRI count as withdrawn */
	BGP_VERDICT_SESSION_RESET,     /* send notify and close */
};

#define BGP_IDX_V4 0
#define BGP_IDX_V6 1

struct bgp_update_info {
	uint32_t verdict; /* enum bgp_verdict */
	uint16_t eor_afi;
	uint8_t eor_safi;
	uint8_t eor_family; /* STRATA_AF_INET/6, 0 for other AFI/SAFIs */
	uint32_t announced[2]; /* [BGP_IDX_V4], [BGP_IDX_V6] */
	uint32_t withdrawn[2];
	uint32_t n_attrs;
	uint32_t n_unknown_attrs; /* optional ones this codec does not know */
	uint32_t n_discarded;     /* attributes dropped (RFC 7606) */
	uint32_t n_other_family;  /* MP attributes for other AFI/SAFIs */
	/* The most severe problem: code/sub name the error class (sent only
	 * for BGP_VERDICT_SESSION_RESET), text says what and where. */
	struct bgp_notify notify;
};

struct bgp_notification {
	uint8_t code;
	uint8_t sub;
	const uint8_t *data; /* into the message */
	size_t data_len;
	bool has_shutdown;   /* code 6/2 or 6/4 carrying a well-formed text */
	bool bad_shutdown;   /* a text whose length did not fit */
	char shutdown[BGP_SHUTDOWN_MAX + 1]; /* printable copy */
};

struct bgp_route_refresh {
	uint16_t afi;
	uint8_t subtype; /* RFC 7313: 0 request, 1 BoRR, 2 EoRR */
	uint8_t safi;
};

/* The largest message the session may send or receive. */
size_t bgp_neg_max(const struct bgp_neg *neg);

/*
 * "UPDATE message error / Malformed AS_PATH"; unknown codes and subcodes
 * as numbers. Returns buf (always NUL-terminated when len > 0).
 */
const char *bgp_error_name(uint8_t code, uint8_t sub, char *buf, size_t len);
/* "OPEN", "UPDATE", ...; "type 9" for others, in buf. */
const char *bgp_type_name(uint8_t type, char *buf, size_t len);

/*
 * Find the first message in a stream buffer. Returns its length (> 0)
 * with *type and *msglen set; 0 when more bytes are needed; -EBADMSG on a
 * header error, with err the NOTIFICATION to send (1/1, 1/2, 1/3). max is
 * the negotiated maximum; OPEN and KEEPALIVE never exceed 4096.
 */
int bgp_frame(const uint8_t *buf, size_t len, size_t max, uint8_t *type,
	      size_t *msglen, struct bgp_notify *err);

int bgp_encode_open(uint8_t *buf, size_t cap, const struct bgp_open *o);
int bgp_encode_keepalive(uint8_t *buf, size_t cap);
/* data longer than the message allows is cut. */
int bgp_encode_notification(uint8_t *buf, size_t cap, uint8_t code,
			    uint8_t sub, const uint8_t *data, size_t data_len);
/* Cease with an RFC 9003 shutdown communication; text NULL or cut to 255
 * bytes (at a UTF-8 boundary). */
int bgp_encode_cease(uint8_t *buf, size_t cap, uint8_t sub, const char *text);
int bgp_encode_route_refresh(uint8_t *buf, size_t cap, uint16_t afi,
			     uint8_t safi);

/*
 * Announce pfx[0..n) (all of the family of a->nexthop) with attributes a:
 * packs as many as fit, in order, into one UPDATE of at most
 * min(cap, bgp_neg_max(neg)) bytes. Returns its length and *consumed >= 1,
 * or -EINVAL (n == 0, mixed families, a prefix length out of range, bad
 * next hop, local_as 0), -EMSGSIZE (the attributes leave no room for one
 * prefix).
 */
int bgp_encode_announce(uint8_t *buf, size_t cap, const struct bgp_neg *neg,
			const struct bgp_attrs *a,
			const struct strata_prefix *pfx, size_t n,
			size_t *consumed);
/* Withdraw pfx[0..n) (one family): the same contract. */
int bgp_encode_withdraw(uint8_t *buf, size_t cap, const struct bgp_neg *neg,
			const struct strata_prefix *pfx, size_t n,
			size_t *consumed);
/* End-of-RIB for STRATA_AF_INET (23 bytes) or STRATA_AF_INET6 (29). */
int bgp_encode_eor(uint8_t *buf, size_t cap, uint8_t family);

/* msg: one framed message of the type. */
int bgp_decode_open(const uint8_t *msg, size_t len, struct bgp_open *out,
		    struct bgp_notify *err);
/* 0 with out->verdict below SESSION_RESET, or -EBADMSG with out->verdict
 * BGP_VERDICT_SESSION_RESET and out->notify to send. */
int bgp_decode_update(const uint8_t *msg, size_t len,
		      const struct bgp_neg *neg, struct bgp_update_info *out);
int bgp_decode_notification(const uint8_t *msg, size_t len,
			    struct bgp_notification *out);
/* -EBADMSG (7/1) when the length is not 23. */
int bgp_decode_route_refresh(const uint8_t *msg, size_t len,
			     struct bgp_route_refresh *out,
			     struct bgp_notify *err);

#endif
