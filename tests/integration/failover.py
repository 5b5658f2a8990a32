"""Questions failover.sh asks of `stratactl --json health` (a file).

failover.py FILE QUERY [ARGS]; prints the answer, exits 1 when the
question has no answer (no writer, no such route or target, ...):
  writer             the route writer
  route GROUP        "DST HOST" of the route whose host is in GROUP
                     (a subnet name, or zone/subnet)
  host DST           the host of route DST
  state HOST         target HOST's state
  seen HOST OBS      observer OBS's state of target HOST
  observers HOST     target HOST's live observers, one line
  steady K           every target up with K observers, each live and
                     up; a writer; no alarm (else says what is not)
  alarm WORD         an alarm naming WORD
  drained HOST       HOST is drained
"""
import json
import sys


def in_group(group, name):
    return group == name or group.endswith("/" + name)


def target(j, host):
    for t in j.get("targets") or []:
        if t.get("host") == host:
            return t
    return None


def steady(j, k):
    bad = []
    if not j.get("writer"):
        bad.append("no writer")
    for t in j.get("targets") or []:
        obs = t.get("observers") or []
        if t.get("state") != "up":
            bad.append("%s is %s" % (t.get("host"), t.get("state")))
        if len(obs) != k:
            bad.append("%s has %d observers" % (t.get("host"), len(obs)))
        for o in obs:
            if not o.get("live") or o.get("state") != "up":
                bad.append("%s sees %s %s%s" % (
                    o.get("name"), t.get("host"), o.get("state"),
                    "" if o.get("live") else " (not live)"))
    if not j.get("targets"):
        bad.append("no targets")
    if j.get("alarms"):
        bad.append("alarms: %s" % "; ".join(j["alarms"]))
    return bad


def main(argv):
    with open(argv[1]) as f:
        j = json.load(f)
    q, args = argv[2], argv[3:]
    if q == "writer":
        if not j.get("writer"):
            return 1
        print(j["writer"])
    elif q == "route":
        for r in j.get("routes") or []:
            t = target(j, r.get("host"))
            if t and in_group(t.get("group", ""), args[0]):
                print(r["dst"], r["host"])
                return 0
        return 1
    elif q == "host":
        for r in j.get("routes") or []:
            if r.get("dst") == args[0]:
                print(r["host"])
                return 0
        return 1
    elif q == "state":
        t = target(j, args[0])
        if not t:
            return 1
        print(t.get("state"))
    elif q == "seen":
        t = target(j, args[0]) or {}
        for o in t.get("observers") or []:
            if o.get("name") == args[1]:
                print(o.get("state"))
                return 0
        return 1
    elif q == "observers":
        t = target(j, args[0])
        if not t:
            return 1
        print(" ".join(o["name"] for o in t.get("observers") or []
                       if o.get("live")))
    elif q == "steady":
        bad = steady(j, int(args[0]))
        if bad:
            print("; ".join(bad))
            return 1
    elif q == "alarm":
        return 0 if any(args[0] in a for a in j.get("alarms") or []) else 1
    elif q == "drained":
        return 0 if args[0] in (j.get("drained") or []) else 1
    else:
        sys.exit("failover.py: unknown query %s" % q)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
