"""Questions aws-vpc.sh asks of the fake VPC, the proxy and strata.

aws_vpc.py QUERY ARGS...; prints the answer, exits 1 when the answer is
"no" (saying why on stdout):
  nodes STATE N            N nodes: "name instance eni subnet zone" lines;
                           node i (1-based, i <= subnets) takes the first
                           instance of subnet i, the rest take the
                           second instances of subnets 1, 2, ...
  tables STATE             the managed tables, one per line (every
                           subnet's, the main one for implicit subnets)
  exact STATE ROUTES HEALTH NODES CIDR
                           every managed table holds, inside CIDR, exactly
                           the intent's routes (HEALTH: stratactl --json
                           health), each to its host's interface (NODES:
                           the nodes lines), active; and nothing else
  eni ROUTES TABLE DST     the interface of route DST in TABLE
  count STATS ACTION [FAULT]
                           requests of ACTION in the proxy's stats (with
                           FAULT: only those that fault answered; "none":
                           only those moto answered); ACTION "mutating"
                           counts every mutating action
  plugin PLUGINS KEY       the aws-vpc instance's status KEY (stratactl
                           --json plugins)
"""
import ipaddress
import json
import sys

MUTATING = ("CreateRoute", "ReplaceRoute", "DeleteRoute",
            "ModifyNetworkInterfaceAttribute", "ModifyInstanceAttribute")


def load(path):
    with open(path) as f:
        return json.load(f)


def nodes(state, n):
    first, second = [], []
    for s in state["subnets"]:
        mine = [i for i in state["instances"] if i["subnet"] == s["id"]]
        first.append(mine[0])
        if len(mine) > 1:
            second.append(mine[1])
    pick = (first + second)[:n]
    if len(pick) < n:
        sys.exit("aws_vpc.py: %d nodes, only %d instances" % (n, len(pick)))
    for k, i in enumerate(pick):
        print("n%d %s %s %s %s" % (k + 1, i["id"], i["eni"], i["subnet"],
                                   i["zone"]))


def managed(state):
    seen = []
    for s in state["subnets"]:
        if s["route_table"] not in seen:
            seen.append(s["route_table"])
    return seen


def exact(state, routes, health, node_lines, cidr):
    net = ipaddress.ip_network(cidr)
    eni = {}
    for line in node_lines:
        f = line.split()
        if f:
            eni[f[0]] = f[2]
    want = {}
    for r in health.get("routes") or []:
        if r["host"] not in eni:
            print("intent host %s is no node" % r["host"])
            return 1
        want[r["dst"]] = eni[r["host"]]
    if not want:
        print("no intent routes yet")
        return 1
    bad = []
    for t in managed(state):
        have = {}
        for r in routes.get(t, []):
            dst = ipaddress.ip_network(r["dst"]) if r.get("dst") else None
            if dst is None or dst.version != net.version or \
                    not dst.subnet_of(net):
                continue
            if r.get("state") != "active":
                bad.append("%s %s is %s" % (t, r["dst"], r.get("state")))
            have[r["dst"]] = r.get("eni") or r.get("instance") or \
                r.get("gateway")
        if have != want:
            missing = sorted(set(want) - set(have))
            extra = sorted(set(have) - set(want))
            wrong = sorted(d for d in set(want) & set(have)
                           if want[d] != have[d])
            bad.append("%s: missing %s, extra %s, wrong target %s" % (
                t, missing, extra,
                ["%s=%s not %s" % (d, have[d], want[d]) for d in wrong]))
    if bad:
        print("; ".join(bad))
        return 1
    return 0


def count(stats, action, fault=None):
    n = 0
    for e in stats.get("log") or []:
        a = e.get("action")
        if action == "mutating":
            if a not in MUTATING:
                continue
        elif a != action:
            continue
        if fault == "none" and e.get("fault"):
            continue
        if fault and fault != "none" and e.get("fault") != fault:
            continue
        n += 1
    return n


def plugin(plugins, key):
    for i in plugins.get("instances") or []:
        if i.get("plugin") == "aws-vpc":
            v = (i.get("status") or {}).get(key)
            if v is None:
                return None
            return v
    return None


def main(argv):
    q, a = argv[1], argv[2:]
    if q == "nodes":
        nodes(load(a[0]), int(a[1]))
    elif q == "tables":
        print("\n".join(managed(load(a[0]))))
    elif q == "exact":
        with open(a[3]) as f:
            lines = f.read().splitlines()
        return exact(load(a[0]), load(a[1]), load(a[2]), lines, a[4])
    elif q == "eni":
        for r in load(a[0]).get(a[1], []):
            if r.get("dst") == a[2]:
                print(r.get("eni") or "")
                return 0
        return 1
    elif q == "count":
        print(count(load(a[0]), a[1], a[2] if len(a) > 2 else None))
    elif q == "plugin":
        v = plugin(load(a[0]), a[1])
        if v is None:
            return 1
        print(v)
    else:
        sys.exit("aws_vpc.py: unknown query %s" % q)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
