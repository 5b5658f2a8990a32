/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ABI's layout on LP64, frozen at compile time: the size and alignment
 * of every public struct, the offset of every member, the value of every
 * constant. Built twice, against the live headers (layout) and against the
 * 1.0 snapshot in tests/abi/1.0 (layout-1.0), so the two cannot drift apart
 * unnoticed; tests/abi/abidiff.sh checks that no member is missing here.
 *
 * A change here is an ABI change: a new major, or (appending only) a new
 * minor. A minor's new members and new sizes go under
 * "#if STRATA_ABI_MINOR >= N", the sizes they replace under its #else, so
 * that this file still compiles against the 1.0 snapshot.
 */
#include <stddef.h>
#include <stdio.h>

#include <strata/plugin.h>

/* Other data models lay the structs out otherwise: not checked there. */
#if defined(__LP64__)

#define SIZE(t, n)                                 \
	_Static_assert(sizeof(struct t) == (n),    \
		       "sizeof(struct " #t ") is not " #n)
#define ALIGN(t, n)                                \
	_Static_assert(_Alignof(struct t) == (n),  \
		       "_Alignof(struct " #t ") is not " #n)
#define OFF(t, m, n)                                 \
	_Static_assert(offsetof(struct t, m) == (n), \
		       "offsetof(struct " #t ", " #m ") is not " #n)
#define VALUE(c, v) _Static_assert((c) == (v), #c " is not " #v)

_Static_assert(STRATA_ABI_MAJOR == 1, "these are the layouts of major 1");

ALIGN(strata_addr, 1);
SIZE(strata_addr, 20);
OFF(strata_addr, family, 0);
OFF(strata_addr, reserved, 1);
OFF(strata_addr, addr, 4);

ALIGN(strata_prefix, 1);
SIZE(strata_prefix, 20);
OFF(strata_prefix, family, 0);
OFF(strata_prefix, len, 1);
OFF(strata_prefix, reserved, 2);
OFF(strata_prefix, addr, 4);

ALIGN(strata_nexthop, 4);
SIZE(strata_nexthop, 44);
OFF(strata_nexthop, gw, 0);
OFF(strata_nexthop, ifname, 20);
OFF(strata_nexthop, weight, 36);
OFF(strata_nexthop, reserved, 40);

ALIGN(strata_route, 4);
SIZE(strata_route, 396);
OFF(strata_route, size, 0);
OFF(strata_route, scope, 4);
OFF(strata_route, dst, 8);
OFF(strata_route, table, 28);
OFF(strata_route, metric, 32);
OFF(strata_route, flags, 36);
OFF(strata_route, n_nexthops, 40);
OFF(strata_route, nh, 44);

ALIGN(strata_ipam_request, 8);
SIZE(strata_ipam_request, 16);
OFF(strata_ipam_request, size, 0);
OFF(strata_ipam_request, families, 4);
OFF(strata_ipam_request, handle, 8);

ALIGN(strata_ipam_result, 8);
SIZE(strata_ipam_result, 64);
OFF(strata_ipam_result, size, 0);
OFF(strata_ipam_result, error, 4);
OFF(strata_ipam_result, error_text, 8);
OFF(strata_ipam_result, n_addrs, 16);
OFF(strata_ipam_result, reserved, 20);
OFF(strata_ipam_result, addrs, 24);

ALIGN(strata_kv, 8);
SIZE(strata_kv, 56);
OFF(strata_kv, key, 0);
OFF(strata_kv, value, 8);
OFF(strata_kv, value_len, 16);
OFF(strata_kv, create_rev, 24);
OFF(strata_kv, mod_rev, 32);
OFF(strata_kv, version, 40);
OFF(strata_kv, lease, 48);

ALIGN(strata_store_cmp, 8);
SIZE(strata_store_cmp, 48);
OFF(strata_store_cmp, key, 0);
OFF(strata_store_cmp, flags, 8);
OFF(strata_store_cmp, target, 12);
OFF(strata_store_cmp, result, 16);
OFF(strata_store_cmp, value, 24);
OFF(strata_store_cmp, value_len, 32);
OFF(strata_store_cmp, num, 40);

ALIGN(strata_store_op, 8);
SIZE(strata_store_op, 48);
OFF(strata_store_op, type, 0);
OFF(strata_store_op, flags, 4);
OFF(strata_store_op, key, 8);
OFF(strata_store_op, value, 16);
OFF(strata_store_op, value_len, 24);
OFF(strata_store_op, lease, 32);
OFF(strata_store_op, limit, 40);

ALIGN(strata_store_op_result, 8);
SIZE(strata_store_op_result, 32);
OFF(strata_store_op_result, type, 0);
OFF(strata_store_op_result, more, 4);
OFF(strata_store_op_result, count, 8);
OFF(strata_store_op_result, kvs, 16);
OFF(strata_store_op_result, n_kvs, 24);

ALIGN(strata_store_txn, 8);
SIZE(strata_store_txn, 48);
OFF(strata_store_txn, cmp, 0);
OFF(strata_store_txn, n_cmp, 8);
OFF(strata_store_txn, success, 16);
OFF(strata_store_txn, n_success, 24);
OFF(strata_store_txn, failure, 32);
OFF(strata_store_txn, n_failure, 40);

ALIGN(strata_store_txn_result, 8);
SIZE(strata_store_txn_result, 32);
OFF(strata_store_txn_result, revision, 0);
OFF(strata_store_txn_result, succeeded, 8);
OFF(strata_store_txn_result, reserved, 12);
OFF(strata_store_txn_result, results, 16);
OFF(strata_store_txn_result, n_results, 24);

ALIGN(strata_store_event, 8);
SIZE(strata_store_event, 64);
OFF(strata_store_event, type, 0);
OFF(strata_store_event, reserved, 4);
OFF(strata_store_event, kv, 8);

ALIGN(strata_http_request, 8);
SIZE(strata_http_request, 80);
OFF(strata_http_request, size, 0);
OFF(strata_http_request, method, 8);
OFF(strata_http_request, url, 16);
OFF(strata_http_request, headers, 24);
OFF(strata_http_request, body, 32);
OFF(strata_http_request, body_len, 40);
OFF(strata_http_request, timeout_ns, 48);
OFF(strata_http_request, unix_socket, 56);
OFF(strata_http_request, max_body, 64);
OFF(strata_http_request, on_data, 72);

ALIGN(strata_http_response, 8);
SIZE(strata_http_response, 40);
OFF(strata_http_response, size, 0);
OFF(strata_http_response, error, 4);
OFF(strata_http_response, error_text, 8);
OFF(strata_http_response, status, 16);
OFF(strata_http_response, body, 24);
OFF(strata_http_response, body_len, 32);

ALIGN(strata_host, 8);
#if STRATA_ABI_MINOR >= 1
SIZE(strata_host, 464);
#else
SIZE(strata_host, 424);
#endif
OFF(strata_host, size, 0);
OFF(strata_host, abi_major, 4);
OFF(strata_host, abi_minor, 8);
OFF(strata_host, log, 16);
OFF(strata_host, vlog, 24);
OFF(strata_host, instance_name, 32);
OFF(strata_host, cfg_bool, 40);
OFF(strata_host, cfg_int, 48);
OFF(strata_host, cfg_duration, 56);
OFF(strata_host, cfg_string, 64);
OFF(strata_host, cfg_strings_count, 72);
OFF(strata_host, cfg_strings_at, 80);
OFF(strata_host, now, 88);
OFF(strata_host, fd_watch, 96);
OFF(strata_host, fd_modify, 104);
OFF(strata_host, fd_unwatch, 112);
OFF(strata_host, timer_start, 120);
OFF(strata_host, timer_stop, 128);
OFF(strata_host, defer, 136);
OFF(strata_host, post, 144);
OFF(strata_host, http_start, 152);
OFF(strata_host, http_cancel, 160);
OFF(strata_host, kroute_list, 168);
OFF(strata_host, kroute_replace, 176);
OFF(strata_host, kroute_delete, 184);
OFF(strata_host, fact_get, 192);
OFF(strata_host, fact_set, 200);
OFF(strata_host, store_txn, 208);
OFF(strata_host, store_get, 216);
OFF(strata_host, store_put, 224);
OFF(strata_host, store_delete, 232);
OFF(strata_host, store_lease_grant, 240);
OFF(strata_host, store_lease_keepalive, 248);
OFF(strata_host, store_lease_revoke, 256);
OFF(strata_host, store_watch, 264);
OFF(strata_host, store_watch_cancel, 272);
OFF(strata_host, route_owner, 280);
OFF(strata_host, route_set, 288);
OFF(strata_host, route_unset, 296);
OFF(strata_host, route_synced, 304);
OFF(strata_host, route_resync, 312);
OFF(strata_host, metric_add, 320);
OFF(strata_host, metric_set, 328);
OFF(strata_host, status_str, 336);
OFF(strata_host, status_int, 344);
OFF(strata_host, stopped, 352);
OFF(strata_host, topology_changed, 360);
OFF(strata_host, ipam_allocate, 368);
OFF(strata_host, ipam_release, 376);
OFF(strata_host, ipam_list, 384);
OFF(strata_host, ipam_pools, 392);
OFF(strata_host, route_writer_remaining, 400);
OFF(strata_host, metric_observe, 408);
OFF(strata_host, metric_delete, 416);
#if STRATA_ABI_MINOR >= 1
OFF(strata_host, kube_watch, 424);
OFF(strata_host, kube_watch_cancel, 432);
OFF(strata_host, policy_attach, 440);
OFF(strata_host, policy_detach, 448);
OFF(strata_host, pods_attached, 456);
#endif

ALIGN(strata_cfg_key, 8);
SIZE(strata_cfg_key, 48);
OFF(strata_cfg_key, name, 0);
OFF(strata_cfg_key, type, 8);
OFF(strata_cfg_key, flags, 12);
OFF(strata_cfg_key, def, 16);
OFF(strata_cfg_key, min, 24);
OFF(strata_cfg_key, max, 32);
OFF(strata_cfg_key, help, 40);

ALIGN(strata_plugin_ops, 8);
SIZE(strata_plugin_ops, 56);
OFF(strata_plugin_ops, size, 0);
OFF(strata_plugin_ops, create, 8);
OFF(strata_plugin_ops, start, 16);
OFF(strata_plugin_ops, reconfigure, 24);
OFF(strata_plugin_ops, stop, 32);
OFF(strata_plugin_ops, destroy, 40);
OFF(strata_plugin_ops, status, 48);

ALIGN(strata_advertiser_ops, 8);
SIZE(strata_advertiser_ops, 32);
OFF(strata_advertiser_ops, size, 0);
OFF(strata_advertiser_ops, scopes, 8);
OFF(strata_advertiser_ops, reconcile, 16);
OFF(strata_advertiser_ops, installed, 24);

ALIGN(strata_hc_target, 8);
SIZE(strata_hc_target, 48);
OFF(strata_hc_target, size, 0);
OFF(strata_hc_target, addr, 4);
OFF(strata_hc_target, port, 24);
OFF(strata_hc_target, reserved, 26);
OFF(strata_hc_target, path, 32);
OFF(strata_hc_target, expect, 40);
OFF(strata_hc_target, reserved2, 44);

ALIGN(strata_healthcheck_ops, 8);
SIZE(strata_healthcheck_ops, 24);
OFF(strata_healthcheck_ops, size, 0);
OFF(strata_healthcheck_ops, probe, 8);
OFF(strata_healthcheck_ops, cancel, 16);

ALIGN(strata_fact, 8);
SIZE(strata_fact, 16);
OFF(strata_fact, name, 0);
OFF(strata_fact, value, 8);

ALIGN(strata_topo_host, 8);
SIZE(strata_topo_host, 112);
OFF(strata_topo_host, size, 0);
OFF(strata_topo_host, pods, 4);
OFF(strata_topo_host, name, 8);
OFF(strata_topo_host, facts, 16);
OFF(strata_topo_host, n_facts, 24);
OFF(strata_topo_host, n_addrs, 28);
OFF(strata_topo_host, addrs, 32);

ALIGN(strata_topo_node, 8);
SIZE(strata_topo_node, 72);
OFF(strata_topo_node, size, 0);
OFF(strata_topo_node, depth, 4);
OFF(strata_topo_node, level, 8);
OFF(strata_topo_node, path, 16);
OFF(strata_topo_node, routed, 24);
OFF(strata_topo_node, n_prefixes, 28);
OFF(strata_topo_node, prefixes, 32);
OFF(strata_topo_node, blocks_total, 40);
OFF(strata_topo_node, blocks_used, 48);
OFF(strata_topo_node, blocks_reserved, 56);
OFF(strata_topo_node, addrs_used, 64);

ALIGN(strata_topo_blocks, 8);
SIZE(strata_topo_blocks, 128);
OFF(strata_topo_blocks, size, 0);
OFF(strata_topo_blocks, n_addrs, 4);
OFF(strata_topo_blocks, name, 8);
OFF(strata_topo_blocks, path, 16);
OFF(strata_topo_blocks, addrs, 24);
OFF(strata_topo_blocks, blocks, 104);
OFF(strata_topo_blocks, n_blocks, 112);
OFF(strata_topo_blocks, addrs_used, 120);

ALIGN(strata_topo_sink, 8);
SIZE(strata_topo_sink, 32);
OFF(strata_topo_sink, size, 0);
OFF(strata_topo_sink, reserved, 4);
OFF(strata_topo_sink, arg, 8);
OFF(strata_topo_sink, node, 16);
OFF(strata_topo_sink, host, 24);

ALIGN(strata_ipam_ops, 8);
SIZE(strata_ipam_ops, 72);
OFF(strata_ipam_ops, size, 0);
OFF(strata_ipam_ops, needs_facts, 8);
OFF(strata_ipam_ops, allocate, 16);
OFF(strata_ipam_ops, release, 24);
OFF(strata_ipam_ops, carve, 32);
OFF(strata_ipam_ops, view, 40);
OFF(strata_ipam_ops, host_remove, 48);
OFF(strata_ipam_ops, wanted_facts, 56);
OFF(strata_ipam_ops, list, 64);

ALIGN(strata_frontend_ops, 4);
SIZE(strata_frontend_ops, 8);
OFF(strata_frontend_ops, size, 0);
OFF(strata_frontend_ops, reserved, 4);

#if STRATA_ABI_MINOR >= 1
ALIGN(strata_pod, 8);
SIZE(strata_pod, 80);
OFF(strata_pod, size, 0);
OFF(strata_pod, n_addrs, 4);
OFF(strata_pod, handle, 8);
OFF(strata_pod, pod_namespace, 16);
OFF(strata_pod, pod_name, 24);
OFF(strata_pod, host_if, 32);
OFF(strata_pod, addrs, 40);

ALIGN(strata_policy_ops, 8);
SIZE(strata_policy_ops, 32);
OFF(strata_policy_ops, size, 0);
OFF(strata_policy_ops, reserved, 4);
OFF(strata_policy_ops, pod_attach, 8);
OFF(strata_policy_ops, pod_detach, 16);
OFF(strata_policy_ops, explain, 24);
#endif

ALIGN(strata_plugin, 8);
SIZE(strata_plugin, 64);
OFF(strata_plugin, magic, 0);
OFF(strata_plugin, abi_major, 4);
OFF(strata_plugin, abi_minor, 6);
OFF(strata_plugin, size, 8);
OFF(strata_plugin, kind, 12);
OFF(strata_plugin, name, 16);
OFF(strata_plugin, version, 24);
OFF(strata_plugin, description, 32);
OFF(strata_plugin, config, 40);
OFF(strata_plugin, ops, 48);
OFF(strata_plugin, kind_ops, 56);
/* The constants: numbers plugins compile in. */
VALUE(STRATA_LOG_ERR, 3);
VALUE(STRATA_LOG_WARNING, 4);
VALUE(STRATA_LOG_INFO, 6);
VALUE(STRATA_LOG_DEBUG, 7);
VALUE(STRATA_FD_IN, 0x1);
VALUE(STRATA_FD_OUT, 0x2);
VALUE(STRATA_FD_ERR, 0x4);
VALUE(STRATA_FD_HUP, 0x8);
VALUE(STRATA_PLUGIN_MAGIC, 0x53545241);
VALUE(STRATA_KIND_IPAM, 1);
VALUE(STRATA_KIND_ADVERTISER, 2);
VALUE(STRATA_KIND_HEALTHCHECK, 3);
VALUE(STRATA_KIND_FRONTEND, 4);
#if STRATA_ABI_MINOR >= 1
VALUE(STRATA_KIND_POLICY, 5);
VALUE(STRATA_KUBE_ADDED, 1);
VALUE(STRATA_KUBE_MODIFIED, 2);
VALUE(STRATA_KUBE_DELETED, 3);
VALUE(STRATA_KUBE_SYNCED, 4);
#endif
VALUE(STRATA_PENDING, 1);
VALUE(STRATA_RECONF_RESTART, 1);
VALUE(STRATA_CFG_BOOL, 1);
VALUE(STRATA_CFG_INT, 2);
VALUE(STRATA_CFG_STRING, 3);
VALUE(STRATA_CFG_STRINGS, 4);
VALUE(STRATA_CFG_DURATION, 5);
VALUE(STRATA_CFG_REQUIRED, 0x1);
VALUE(STRATA_RECONCILE_MAY_DELETE, 0x1);
VALUE(STRATA_TOPO_MAX_ADDRS, 4);
VALUE(STRATA_STORE_PREFIX, 0x1);
VALUE(STRATA_STORE_KEYS_ONLY, 0x2);
VALUE(STRATA_STORE_COUNT_ONLY, 0x4);
VALUE(STRATA_CMP_VALUE, 0);
VALUE(STRATA_CMP_VERSION, 1);
VALUE(STRATA_CMP_CREATE, 2);
VALUE(STRATA_CMP_MOD, 3);
VALUE(STRATA_CMP_LEASE, 4);
VALUE(STRATA_CMP_EQUAL, 0);
VALUE(STRATA_CMP_NOT_EQUAL, 1);
VALUE(STRATA_CMP_LESS, 2);
VALUE(STRATA_CMP_GREATER, 3);
VALUE(STRATA_OP_RANGE, 1);
VALUE(STRATA_OP_PUT, 2);
VALUE(STRATA_OP_DELETE, 3);
VALUE(STRATA_EVENT_PUT, 1);
VALUE(STRATA_EVENT_DELETE, 2);
VALUE(STRATA_AF_INET, 4);
VALUE(STRATA_AF_INET6, 6);
VALUE(STRATA_SCOPE_KERNEL, 1);
VALUE(STRATA_SCOPE_CLOUD, 2);
VALUE(STRATA_SCOPE_BGP, 4);
VALUE(STRATA_MAX_NEXTHOPS, 8);
VALUE(STRATA_IFNAMSIZ, 16);
_Static_assert(sizeof(STRATA_PLUGIN_ENTRY_NAME) == sizeof("strata_plugin_v1"),
	       "the entry symbol carries the major");

int main(void)
{
	printf("layout: ABI %d.%d, every struct as frozen\n",
	       STRATA_ABI_MAJOR, STRATA_ABI_MINOR);
	return 0;
}

#else

int main(void)
{
	printf("layout: not an LP64 target, skipped\n");
	return 77;
}

#endif
