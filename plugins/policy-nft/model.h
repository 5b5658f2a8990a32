/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table `inet strata-filter` as data: its sets, verdict maps and
 * chains, each element and rule written as nft's own syntax. The policy
 * engine builds the model it wants; nftm_diff() turns the model the kernel
 * has into that one as a single nft transaction, touching only what
 * differs: set and map elements one by one, a chain's rules only when
 * they changed (a chain's last rule, `return comment "strata:DIGEST"`,
 * carries the digest of its rules, so that a model read back from the
 * kernel after a restart compares too).
 * Pure: no I/O (nft.h talks to the kernel).
 */
#ifndef STRATA_POLICY_NFT_MODEL_H
#define STRATA_POLICY_NFT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFTM_FAMILY "inet"
#define NFTM_TABLE "strata-filter"

/*
 * Elements are kept sorted and unique, as text in the form nft lists
 * them: "10.1.2.3", "10.0.0.0/8" (a range that is exactly a prefix),
 * "10.0.0.0-10.0.0.5" (any other range), "fd00::1", "80", "8000-8080",
 * "tcp", "\"st0123456789abc\"" (an interface name, quoted), and
 * concatenations joined by " . ": "10.1.2.3 . tcp . 8080".
 * Interval sets hold no overlapping elements.
 */
struct nftm_set {
	char *name;
	char *type;    /* "ipv4_addr", "ipv4_addr . inet_proto . inet_service" */
	bool interval; /* flags interval */
	bool dirty; /* changed since nftm_sync() (any change marks it) */
	char **elems;
	size_t n_elems, cap_elems;
};

/* A verdict map: key text (as for set elements) -> "accept", "drop",
 * "jump CHAIN", "goto CHAIN". */
struct nftm_map_elem {
	char *key;
	char *verdict;
};

struct nftm_map {
	char *name;
	char *type; /* the key's type: "ifname" */
	bool dirty;
	struct nftm_map_elem *elems; /* sorted by key, unique */
	size_t n_elems, cap_elems;
};

struct nftm_chain {
	char *name;
	/* NULL for a regular chain; for a base chain its spec, as written
	 * inside the braces: "type filter hook forward priority -1;
	 * policy accept;" */
	char *base;
	char **rules; /* in order: "ip saddr @np-3-in-0 accept" */
	size_t n_rules, cap_rules;
	/* 16 hex digits of a hash of base and rules; nftm_diff() fills it
	 * in for a wanted model, nftk_read() from the chain's last rule */
	char digest[17];
	bool dirty;
};

struct nftm {
	struct nftm_set *sets; /* sorted by name, unique */
	size_t n_sets, cap_sets;
	struct nftm_map *maps;
	size_t n_maps, cap_maps;
	struct nftm_chain *chains;
	size_t n_chains, cap_chains;
};

struct nftm *nftm_new(void);
void nftm_free(struct nftm *m);

/* Find or make. NULL when out of memory, or when the name exists with
 * another type (a set) or another base (a chain). */
struct nftm_set *nftm_set(struct nftm *m, const char *name, const char *type,
			  bool interval);
struct nftm_map *nftm_map(struct nftm *m, const char *name, const char *type);
struct nftm_chain *nftm_chain(struct nftm *m, const char *name,
			      const char *base);

const struct nftm_set *nftm_find_set(const struct nftm *m, const char *name);
const struct nftm_map *nftm_find_map(const struct nftm *m, const char *name);
const struct nftm_chain *nftm_find_chain(const struct nftm *m,
					 const char *name);

/* 0 or -ENOMEM. Adding an element present already changes nothing;
 * a map key present already takes the new verdict. */
int nftm_set_add(struct nftm_set *s, const char *elem);
int nftm_map_put(struct nftm_map *mp, const char *key, const char *verdict);
int nftm_rule(struct nftm_chain *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nftm_set_del(struct nftm_set *s, const char *elem);
bool nftm_set_has(const struct nftm_set *s, const char *elem);
void nftm_set_flush(struct nftm_set *s);
void nftm_map_del(struct nftm_map *mp, const char *key);
/* Remove every set and chain whose name starts with prefix. */
void nftm_drop(struct nftm *m, const char *prefix);

/*
 * The canonical element for the addresses lo..hi (family 4 or 6, network
 * byte order, lo <= hi): "a" for one address, "a/len" when the range is
 * exactly a prefix, else "a-b". out holds at least NFTM_ELEM_MAX bytes.
 */
#define NFTM_ELEM_MAX 96
void nftm_range_elem(int family, const uint8_t *lo, const uint8_t *hi,
		     char *out);

/* What a diff adds, deletes and rewrites (for metrics and the benchmark). */
struct nftm_diff_stats {
	size_t elems_added, elems_deleted; /* set and map elements */
	size_t chains_written; /* chains whose rules were (re)written */
	size_t objects_added, objects_deleted; /* sets, maps, chains */
};

/*
 * The nft script that turns `have` (NULL: no table yet) into `want`, for
 * nft_run_cmd_from_buffer(), which applies it as one transaction. Objects
 * in the table that `want` does not hold are removed, after every rule and
 * map element that refers to them. *script is "" when nothing differs.
 * Fills in want's digests, and stats when not NULL. 0 or -ENOMEM;
 * free(*script).
 */
int nftm_diff(const struct nftm *have, struct nftm *want, char **script,
	      struct nftm_diff_stats *stats);

/*
 * Incremental use, for a model kept and changed in place: every object
 * made or changed is marked dirty. nftm_diff_changed() is nftm_diff()
 * trusting that want's clean objects equal have's (have being what was
 * applied when the marks were last cleared); nftm_sync() then makes have
 * equal want, copying only dirty objects, and clears the marks. -ENOMEM
 * from nftm_sync() leaves have unusable (read the table again).
 * nftm_dup(): a copy of want, its marks cleared.
 */
int nftm_diff_changed(const struct nftm *have, struct nftm *want,
		      char **script, struct nftm_diff_stats *stats);
int nftm_sync(struct nftm *have, struct nftm *want);
struct nftm *nftm_dup(struct nftm *want);

#endif
