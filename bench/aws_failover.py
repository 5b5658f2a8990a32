"""Failover to EC2, for bench/aws-failover.sh.

  aws_failover.py kill PID NETNS
        t0 = time.monotonic(), then SIGKILL to PID and NETNS's eth0 taken
        down; prints t0
  aws_failover.py accepted STATS DST T0
        seconds from T0 to the first ReplaceRoute of DST that moto
        answered 200 (fault null) in the proxy's stats (its log's "t" is
        time.monotonic() too); exits 1 when there is none yet
  aws_failover.py pauses SEED RUNS
        RUNS random pauses in [0, 2) s, one a line: each run starts at a
        random phase of the anchor's 2 s probe cycle
  aws_failover.py report RESULTS
        RESULTS: lines "run victim strata anchor"; median and worst of
        each, and the ratio strata/anchor
"""
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time


def kill(pid, ns):
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "down"],
                   check=True)
    print("%.6f" % t0)


def accepted(stats, dst, t0):
    with open(stats) as f:
        log = json.load(f).get("log") or []
    for e in log:
        p = e.get("params") or {}
        if (e.get("action") == "ReplaceRoute" and e.get("status") == 200
                and not e.get("fault") and e.get("t", 0) > t0
                and p.get("DestinationCidrBlock") == dst):
            print("%.3f" % (e["t"] - t0))
            return 0
    return 1


def report(path):
    rows = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) == 4:
                rows.append((float(w[2]), float(w[3])))
    if not rows:
        sys.exit("aws_failover.py: no runs in %s" % path)
    st = [r[0] for r in rows]
    an = [r[1] for r in rows]
    sm, sw = statistics.median(st), max(st)
    am, aw = statistics.median(an), max(an)
    print("\nfailover to EC2 over %d runs, seconds from the forwarder's "
          "death to ReplaceRoute accepted:" % len(rows))
    print("  %-8s %8s %8s" % ("", "median", "worst"))
    print("  %-8s %8.3f %8.3f" % ("strata", sm, sw))
    print("  %-8s %8.3f %8.3f" % ("Romana", am, aw))
    print("  strata/anchor: median %.2f, worst %.2f" % (sm / am, sw / aw))
    print("  goal: strata's median under 1.5 s: %s"
          % ("met" if sm < 1.5 else "NOT met"))


def main(argv):
    cmd, a = argv[1], argv[2:]
    if cmd == "kill":
        kill(int(a[0]), a[1])
    elif cmd == "accepted":
        return accepted(a[0], a[1], float(a[2]))
    elif cmd == "pauses":
        rng = random.Random(int(a[0]))
        for _ in range(int(a[1])):
            print("%.3f" % rng.uniform(0, 2))
    elif cmd == "report":
        report(a[0])
    else:
        sys.exit("aws_failover.py: unknown command %s" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
