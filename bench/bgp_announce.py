"""Helpers of bench/bgp-announce.sh.

  bgp_announce.py mrt N PAD FILE     an MRT TABLE_DUMP_V2 file of N IPv4
                                     /24s from 10.0.0.0 upward (the set
                                     route-gen states), then PAD records
                                     stating them again (idempotent
                                     padding: gobgp mrt inject drops the
                                     tail of its stream)
  bgp_announce.py run ...            one run's figures from BIRD's own
                                     clock, appended as a JSON line
  bgp_announce.py report FILE        medians, ratios, goals
"""
import argparse
import datetime
import json
import re
import statistics
import struct
import sys

TABLE_DUMP_V2 = 13
PEER_INDEX_TABLE = 1
RIB_IPV4_UNICAST = 2


def prefix(i):
    """The i-th /24 from 10.0.0.0 upward (as route-gen counts)."""
    a = (10 << 24) + (i << 8)
    return struct.pack("!I", a)[:3]


def mrt_record(subtype, body):
    return struct.pack("!IHHI", 0, TABLE_DUMP_V2, subtype, len(body)) + body


def cmd_mrt(a):
    # ORIGIN IGP, an empty AS_PATH (gobgpd prepends its own AS on eBGP,
    # as strata sends [65001]), NEXT_HOP (gobgpd sets itself on eBGP)
    attrs = (bytes([0x40, 1, 1, 0]) + bytes([0x40, 2, 0]) +
             bytes([0x40, 3, 4]) + bytes([10, 99, 0, 2]))
    entry = struct.pack("!HIH", 0, 0, len(attrs)) + attrs
    with open(a.file, "wb") as f:
        peer = struct.pack("!BI", 0x02, 0x0a630002) + bytes([10, 99, 0, 2])
        peer += struct.pack("!I", 65001)
        f.write(mrt_record(PEER_INDEX_TABLE,
                           struct.pack("!IH", 0x0a630002, 0) +
                           struct.pack("!H", 1) + peer))
        order = list(range(a.n)) + [k % a.n for k in range(a.pad)]
        for seq, i in enumerate(order):
            body = struct.pack("!IB", seq, 24) + prefix(i)
            body += struct.pack("!H", 1) + entry
            f.write(mrt_record(RIB_IPV4_UNICAST, body))


# BIRD's "timeformat ... iso long ms": 2026-11-26 18:17:05.406
STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


def stamp(s):
    return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def smaps(path):
    """Rss, Pss and Private (clean + dirty) in bytes."""
    v = {}
    for line in open(path):
        k, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            v[k] = int(parts[0]) * 1024
    return {"rss": v.get("Rss", 0), "pss": v.get("Pss", 0),
            "private": v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)}


def cmd_run(a):
    est = None
    for line in open(a.protocols):
        if line.split()[:1] == [a.proto]:
            m = STAMP.search(line)
            if m and "Established" in line:
                est = stamp(m.group(1))
    if est is None:
        sys.exit("bgp_announce.py: no Established time for %s" % a.proto)
    last, n = None, 0
    for line in open(a.routes):
        m = re.search(r"\[%s (\d{4}-[^\]]*?\.\d{3})" % re.escape(a.proto),
                      line)
        if m:
            n += 1
            t = m.group(1)
            if last is None or t > last:
                last = t
    if n != a.n:
        sys.exit("bgp_announce.py: %d routes from %s, expected %d"
                 % (n, a.proto, a.n))
    t_last = stamp(last)
    r = {"speaker": a.speaker, "n": a.n, "est_to_all": t_last - est,
         "mem": smaps(a.smaps)}
    if a.start is not None:
        r["start_to_all"] = t_last - a.start
        r["start_to_est"] = est - a.start
    if a.load is not None:
        r["load"] = a.load
    with open(a.out, "a") as f:
        f.write(json.dumps(r) + "\n")
    print("  %-7s N=%-7d Established->all %8.1f ms%s" % (
        a.speaker, a.n, r["est_to_all"] * 1000,
        "   start->all %8.1f ms" % (r["start_to_all"] * 1000)
        if a.start is not None else ""), flush=True)


def med(rs, key):
    v = [r[key] for r in rs if key in r]
    return statistics.median(v) if v else None


def cmd_report(a):
    rs = [json.loads(line) for line in open(a.file) if line.strip()]
    by = {}
    for r in rs:
        by.setdefault((r["speaker"], r["n"]), []).append(r)
    ns = sorted({r["n"] for r in rs if r["n"] != a.base})
    runs = {k: len(v) for k, v in by.items()}

    def mem(sp, n, kind):
        return statistics.median(r["mem"][kind] for r in by[(sp, n)])

    def growth(sp, n, kind):
        if (sp, a.base) not in by or n == a.base:
            return None
        return (mem(sp, n, kind) - mem(sp, a.base, kind)) / (n - a.base)

    def ms(x):
        return "%9.1f" % (x * 1000) if x is not None else "        -"

    def b(x):
        return "%7.1f" % x if x is not None else "      -"

    print()
    print("Median of %s runs; times from BIRD's own clock (ms); memory "
          "growth per prefix against N=%d (bytes)" %
          ("/".join(sorted({str(v) for v in runs.values()})), a.base))
    print("%8s | %9s %9s %6s | %9s %9s | %7s %7s %7s | %7s %7s" % (
        "N", "strata", "gobgpd", "ratio", "strata", "strata",
        "strata", "strata", "gobgpd", "strata", "gobgpd"))
    print("%8s | %9s %9s %6s | %9s %9s | %7s %7s %7s | %7s %7s" % (
        "", "Est->all", "Est->all", "s/g", "start->", "start->",
        "Pss/pfx", "Priv/", "Pss/pfx", "RSS", "RSS"))
    print("%8s | %9s %9s %6s | %9s %9s | %7s %7s %7s | %7s %7s" % (
        "", "", "", "", "Est", "all", "", "pfx", "", "MiB", "MiB"))
    goals = []
    for n in ns:
        s, g = by.get(("strata", n), []), by.get(("gobgpd", n), [])
        se, ge = med(s, "est_to_all"), med(g, "est_to_all")
        ratio = se / ge if se is not None and ge else None
        sp, gp = growth("strata", n, "pss"), growth("gobgpd", n, "pss")
        spriv = growth("strata", n, "private")
        print("%8d | %s %s %6s | %s %s | %s %s %s | %7.1f %7s" % (
            n, ms(se), ms(ge), "%.2f" % ratio if ratio is not None else "-",
            ms(med(s, "start_to_est")), ms(med(s, "start_to_all")),
            b(sp), b(spriv), b(gp),
            mem("strata", n, "rss") / 2**20 if s else 0,
            "%.1f" % (mem("gobgpd", n, "rss") / 2**20) if g else "-"))
        if ratio is not None:
            goals.append(("N=%d: Established->all within 1.1x of gobgpd's "
                          "(%.2fx)" % (n, ratio), ratio <= 1.1))
        if sp is not None:
            goals.append(("N=%d: memory growth under 64 B/prefix "
                          "(Pss %.1f B, gobgpd %s B)" %
                          (n, sp, "%.0f" % gp if gp is not None else "-"),
                          sp < 64))
        if n == 100000 and s:
            goals.append(("N=100000: stratad start -> all in BIRD under "
                          "1 s (%.3f s)" % med(s, "start_to_all"),
                          med(s, "start_to_all") < 1.0))
    loads = {n: med(by[("gobgpd", n)], "load") for n in ns
             if ("gobgpd", n) in by}
    if any(v is not None for v in loads.values()):
        print("gobgpd's table load (mrt inject, not in its times): " +
              ", ".join("N=%d %.2f s" % (n, v)
                        for n, v in loads.items() if v is not None))
    print()
    for text, ok in goals:
        print("  goal %s: %s" % (text, "met" if ok else "NOT met"))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mrt")
    m.add_argument("n", type=int)
    m.add_argument("pad", type=int)
    m.add_argument("file")
    r = sub.add_parser("run")
    r.add_argument("--speaker", required=True)
    r.add_argument("--n", type=int, required=True)
    r.add_argument("--proto", default="spk4")
    r.add_argument("--protocols", required=True)
    r.add_argument("--routes", required=True)
    r.add_argument("--smaps", required=True)
    r.add_argument("--start", type=float)
    r.add_argument("--load", type=float)
    r.add_argument("--out", required=True)
    rep = sub.add_parser("report")
    rep.add_argument("file")
    rep.add_argument("--base", type=int, required=True)
    a = p.parse_args()
    {"mrt": cmd_mrt, "run": cmd_run, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
