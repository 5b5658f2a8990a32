#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The client side of ipam-etcd.sh (and bench/ipam-etcd.sh): many concurrent
# ipam-allocate calls on stratad control sockets, every answer recorded
# as one JSON line {"d": DAEMON, "h": HANDLE, "ok": ..., "addr"|"err": ...,
# "t": seconds since the batch started, "dt": latency}, and the checks
# over those records, the daemons' topology and the store.
#
#   alloc OUT TAG COUNT INFLIGHT NAME=SOCK... [--kill PID AFTER]
#       COUNT handles TAG-NAME-I spread over the daemons, INFLIGHT calls
#       in flight per daemon; with --kill, SIGKILL PID once AFTER answers
#       came back. Prints one summary line.
#   retry OUT SECONDS NAME=SOCK... -- RECORDS...
#       allocates again every handle whose last answer is a failure, one
#       pass after another (0.2 s apart) until all succeed or SECONDS
#       pass; prints how many passes and how long.
#   one OUT NAME=SOCK HANDLE
#       one allocate; appends the record, prints it.
#   check ETCD_URL PREFIX NAME=SOCK... -- RECORDS...
#       the last answer of every (daemon, handle) is an address; an
#       answered address never changes for its handle and is never given
#       to another handle; each lies in its daemon's blocks; no two
#       hosts' blocks overlap (each daemon's topology); the store's block
#       records hold every answered address under its handle and host.
#   failover NAME=SOCK PID TAG TIMEOUT
#       allocates fresh handles one at a time for 1 s, kills PID, waits
#       until it is gone, then times the next successful allocation
#       (each call bounded by TIMEOUT seconds); prints:
#       failover SECONDS FAILED_CALLS
import asyncio
import base64
import ipaddress
import json
import os
import signal
import sys
import time
import urllib.request

CONTROL_TIMEOUT = 10.0  # stratactl's default


async def call(sock, command, args, timeout=CONTROL_TIMEOUT):
    """One control request; returns the reply object (raises on a
    transport error or a timeout)."""
    async def exchange():
        r, w = await asyncio.open_unix_connection(sock)
        try:
            req = {"command": command}
            if args is not None:
                req["args"] = args
            w.write(json.dumps(req).encode() + b"\n")
            await w.drain()
            line = await r.readline()
        finally:
            w.close()
        if not line:
            raise ConnectionError("connection closed without a reply")
        return json.loads(line)
    return await asyncio.wait_for(exchange(), timeout)


async def allocate(name, sock, handle, t0, timeout=CONTROL_TIMEOUT):
    start = time.monotonic()
    rec = {"d": name, "h": handle}
    try:
        rep = await call(sock, "ipam-allocate", {"handle": handle}, timeout)
        if rep.get("ok"):
            rec["ok"] = True
            rec["addr"] = rep["result"]["addresses"][0]
        else:
            rec["ok"] = False
            rec["err"] = rep.get("error", "?")
    except asyncio.TimeoutError:
        rec["ok"] = False
        rec["err"] = "no answer within %.0f s" % timeout
        rec["timeout"] = True
    except (OSError, ValueError, KeyError, IndexError) as e:
        rec["ok"] = False
        rec["err"] = "transport: %s" % e
    now = time.monotonic()
    rec["t"] = round(now - t0, 4)
    rec["dt"] = round(now - start, 4)
    return rec


def parse_socks(args):
    socks = {}
    for a in args:
        name, _, path = a.partition("=")
        if not path:
            sys.exit("ipam-etcd.py: expected NAME=SOCKET, got %r" % a)
        socks[name] = path
    return socks


def split_args(argv):
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def dead(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except (OSError, IndexError):
        return True


async def wait_dead(pid):
    for _ in range(2000):
        if dead(pid):
            return
        await asyncio.sleep(0.001)


async def run_alloc(out, tag, count, inflight, socks, kill_pid, kill_after):
    names = sorted(socks)
    pending = {n: [] for n in names}
    for i in range(count):
        n = names[i % len(names)]
        pending[n].append("%s-%s-%d" % (tag, n, len(pending[n])))
    recs = []
    t0 = time.monotonic()
    state = {"answers": 0, "kill_t": None}

    async def worker(name, queue):
        while queue:
            h = queue.pop()
            rec = await allocate(name, socks[name], h, t0)
            recs.append(rec)
            state["answers"] += 1
            if (kill_pid and state["kill_t"] is None and
                    state["answers"] >= kill_after):
                state["kill_t"] = time.monotonic() - t0
                os.kill(kill_pid, signal.SIGKILL)
                await wait_dead(kill_pid)

    tasks = []
    for n in names:
        pending[n].reverse()
        for _ in range(inflight):
            tasks.append(worker(n, pending[n]))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - t0
    with open(out, "a") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    ok = sum(1 for r in recs if r["ok"])
    timeouts = sum(1 for r in recs if r.get("timeout"))
    line = ("alloc %d: %d ok, %d failed (%d past the %.0f s control "
            "timeout) in %.2f s, %.0f allocations/s, max latency %.2f s" %
            (len(recs), ok, len(recs) - ok, timeouts, CONTROL_TIMEOUT,
             elapsed, ok / elapsed, max(r["dt"] for r in recs)))
    if state["kill_t"] is not None:
        kt = state["kill_t"]
        # the first address of a call made after the kill
        after = [r["t"] for r in recs if r["ok"] and r["t"] - r["dt"] > kt]
        first_err = [r for r in recs if not r["ok"]]
        line += ("; leader killed at %.2f s, next address for a call made "
                 "after it %.3f s later" % (kt, min(after) - kt
                                            if after else -1))
        if first_err:
            line += "; errors e.g. %r" % first_err[0]["err"]
    print(line)


def load(files):
    recs = []
    for fn in files:
        with open(fn) as f:
            recs.extend(json.loads(x) for x in f if x.strip())
    return recs


def last_answers(recs):
    last = {}
    for r in recs:
        last[(r["d"], r["h"])] = r
    return last


async def run_retry(out, secs, socks, files):
    recs = load(files)
    failed = [k for k, r in last_answers(recs).items() if not r["ok"]]
    t0 = time.monotonic()
    passes = 0
    while failed and time.monotonic() - t0 < secs:
        passes += 1
        if passes > 1:
            await asyncio.sleep(0.2)
        got = await asyncio.gather(*(allocate(d, socks[d], h, t0)
                                     for d, h in failed))
        with open(out, "a") as f:
            for r in got:
                f.write(json.dumps(r) + "\n")
        failed = [(r["d"], r["h"]) for r in got if not r["ok"]]
        errs = sorted({r["err"] for r in got if not r["ok"]})
    if failed:
        sys.exit("retry: %d handles still fail after %.1f s: %s" %
                 (len(failed), time.monotonic() - t0, errs[:3]))
    print("retry: every failed handle answered after %d passes in %.2f s" %
          (passes, time.monotonic() - t0))


async def run_one(out, name, sock, handle):
    rec = await allocate(name, sock, handle, time.monotonic())
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec))


def etcd_blocks(url, prefix):
    """{block prefix: record} for every block key under PREFIX."""
    key = (prefix + "strata/ipam/block/").encode()
    end = key[:-1] + bytes([key[-1] + 1])
    body = json.dumps({"key": base64.b64encode(key).decode(),
                       "range_end": base64.b64encode(end).decode()})
    req = urllib.request.Request(url + "/v3/kv/range", body.encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        doc = json.load(resp)
    blocks = {}
    for kv in doc.get("kvs", []):
        k = base64.b64decode(kv["key"]).decode()
        blocks[k[len(key):]] = json.loads(base64.b64decode(kv["value"]))
    return blocks


async def run_check(url, prefix, socks, files):
    recs = load(files)
    errors = []

    def bad(msg):
        if len(errors) < 20:
            errors.append(msg)

    answered = {}  # (d, h) -> address
    owner = {}     # address -> (d, h)
    for r in recs:
        if not r["ok"]:
            continue
        k = (r["d"], r["h"])
        a = r["addr"]
        if k in answered and answered[k] != a:
            bad("%s/%s answered %s, later %s" % (k + (answered[k], a)))
        answered.setdefault(k, a)
        if a in owner and owner[a] != k:
            bad("%s given to %s and to %s" % (a, owner[a], k))
        owner.setdefault(a, k)
    last = last_answers(recs)
    unanswered = [k for k, r in last.items() if not r["ok"]]
    for k in unanswered[:5]:
        bad("%s/%s: last answer an error: %s" % (k + (last[k]["err"],)))

    # each daemon's view: blocks never overlap, own addresses inside own
    views = {}
    for name, sock in socks.items():
        rep = await call(sock, "topology", None)
        if not rep.get("ok"):
            sys.exit("check: topology on %s: %s" % (name, rep))
        hosts = {h["name"]: [ipaddress.ip_network(b) for b in h["blocks"]]
                 for h in rep["result"]["hosts"]}
        views[name] = hosts
        allb = sorted((b, h) for h, bs in hosts.items() for b in bs)
        for (b1, h1), (b2, h2) in zip(allb, allb[1:]):
            if b1.overlaps(b2):
                bad("%s's view: %s (%s) overlaps %s (%s)" %
                    (name, b1, h1, b2, h2))
    for (d, h), a in answered.items():
        ip = ipaddress.ip_network(a).network_address
        if not any(ip in b for b in views[d].get(d, [])):
            bad("%s/%s: %s outside %s's blocks" % (d, h, a, d))

    # the store: every answered address recorded under its handle
    blocks = etcd_blocks(url, prefix)
    in_store = {}
    for pfx, rec in blocks.items():
        net = ipaddress.ip_network(pfx)
        for off, handle in rec.get("used", []):
            addr = "%s/32" % (net.network_address + off)
            in_store[addr] = (rec["host"], handle)
    for a, k in owner.items():
        if in_store.get(a) != k:
            bad("%s answered to %s; the store has %s" %
                (a, k, in_store.get(a)))
    for name in socks:
        mine = sorted(str(b) for b in views[name].get(name, []))
        store = sorted(p for p, r in blocks.items() if r["host"] == name)
        if mine != store:
            bad("%s's blocks: topology %d, store %d" %
                (name, len(mine), len(store)))
    extra = len(set(in_store) - set(owner))
    # how interleaved the hosts' blocks are: owner changes in address order
    order = sorted(blocks, key=ipaddress.ip_network)
    changes = sum(1 for a, b in zip(order, order[1:])
                  if blocks[a]["host"] != blocks[b]["host"])

    if errors:
        for e in errors:
            print("check: " + e, file=sys.stderr)
        sys.exit(1)
    print("check: %d handles answered, %d distinct addresses, %d blocks "
          "(%s; the owner changes %d times in address order), all in the "
          "store; %d store entries no answer reported" %
          (len(answered), len(owner), len(blocks),
           ", ".join("%s %d" % (n, len(views[n].get(n, [])))
                     for n in sorted(socks)), changes, extra))


async def run_failover(name, sock, pid, tag, timeout):
    t0 = time.monotonic()
    seq = 0

    async def fresh():
        nonlocal seq
        seq += 1
        return await allocate(name, sock, "%s-%d" % (tag, seq), t0, timeout)

    end = time.monotonic() + 1
    while time.monotonic() < end:
        r = await fresh()
        if not r["ok"]:
            sys.exit("failover: allocate before the kill: %s" % r["err"])
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    await wait_dead(pid)
    failed = 0
    while time.monotonic() < t_kill + 30:
        r = await fresh()
        if r["ok"]:
            print("failover %.3f %d" % (time.monotonic() - t_kill, failed))
            return
        failed += 1
        await asyncio.sleep(0.01)
    sys.exit("failover: no allocation within 30 s")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__ or "usage: see the head of ipam-etcd.py")
    cmd, a = a[0], a[1:]
    if cmd == "alloc" and len(a) >= 5:
        kill_pid = kill_after = 0
        if "--kill" in a:
            i = a.index("--kill")
            kill_pid, kill_after = int(a[i + 1]), int(a[i + 2])
            a = a[:i] + a[i + 3:]
        asyncio.run(run_alloc(a[0], a[1], int(a[2]), int(a[3]),
                              parse_socks(a[4:]), kill_pid, kill_after))
    elif cmd == "retry" and len(a) >= 3:
        head, files = split_args(a)
        asyncio.run(run_retry(head[0], float(head[1]),
                              parse_socks(head[2:]), files))
    elif cmd == "one" and len(a) == 3:
        s = parse_socks([a[1]])
        (name, sock), = s.items()
        asyncio.run(run_one(a[0], name, sock, a[2]))
    elif cmd == "check" and len(a) >= 3:
        head, files = split_args(a)
        asyncio.run(run_check(head[0], head[1], parse_socks(head[2:]),
                              files))
    elif cmd == "failover" and len(a) == 4:
        (name, sock), = parse_socks([a[0]]).items()
        asyncio.run(run_failover(name, sock, int(a[1]), a[2], float(a[3])))
    else:
        sys.exit("ipam-etcd.py: bad arguments; see the head of the file")


if __name__ == "__main__":
    main()
