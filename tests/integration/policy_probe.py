#!/usr/bin/python3
"""Servers, probes and truth tables for the NetworkPolicy tests.

  serve NAME [--sctp]
      in a pod's namespace: TCP and UDP (and SCTP) on ports 80 and 81; a
      TCP/SCTP connection gets NAME and a newline, a UDP datagram NAME
      back. Prints "ready" once every socket listens.
  probe [--timeout S]
      in a source namespace: the targets (a JSON list of {id, ip, port,
      proto, name} on stdin) all at once; prints {id: outcome}, outcome
      "ok" (NAME came back), "blocked" (nothing within S seconds) or what
      went wrong ("refused", "wrong:REPLY", "error:...").
  check --world FILE [--from GLOBS] [--to GLOBS] [--deadline S]
        [--all-allowed] [--title T]
      the truth table on stdin, one rule a line, "SRC DST PORTS yes|no"
      (fnmatch globs on "ns/pod" or "node/HOST", on "tcp/80"; the last
      rule that matches wins, everything starts allowed, a pod reaches
      itself always; "#" comments);
      probes every (source, target, port) until the observed table is the
      expected one or the deadline passes; prints the matrix (with the
      differences marked) and exits 1 then. --all-allowed: expect every
      probe to pass whatever the rules say (a stratad without the policy
      plugin).
  watch NAME IP PORT PROTO STOPFILE MAXSECS
      in a source namespace: one probe every 0.2 s until STOPFILE exists
      (or MAXSECS pass); prints {"ok": N, "failed": N, "failures": [...]}.

The world file (JSON): {"pods": {"x/a": {"ip": ..., "netns": ...}},
"nodes": {"node/h1": {"netns": ...}}, "ports": ["tcp/80", ...]}.
Python 3 standard library only.
"""
import argparse
import fnmatch
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

PORTS = (80, 81)
SCTP = getattr(socket, "IPPROTO_SCTP", 132)


def serve(a):
    name = (a.name + "\n").encode()
    socks = []
    protos = ["tcp", "udp"] + (["sctp"] if a.sctp else [])
    for proto in protos:
        for port in PORTS:
            if proto == "udp":
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            elif proto == "tcp":
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, SCTP)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            if proto != "udp":
                s.listen(128)
            s.setblocking(False)
            socks.append((s, proto))
    print("ready", flush=True)
    byfd = {s.fileno(): (s, proto) for s, proto in socks}
    poll = select.poll()
    for fd in byfd:
        poll.register(fd, select.POLLIN)
    while True:
        for fd, _ev in poll.poll():
            s, proto = byfd[fd]
            try:
                if proto == "udp":
                    _data, peer = s.recvfrom(2048)
                    s.sendto(name, peer)
                else:
                    c, _peer = s.accept()
                    c.settimeout(1)
                    try:
                        c.sendall(name)
                    finally:
                        c.close()
            except OSError:
                pass


def probe_one(t, timeout):
    proto = t["proto"]
    want = t["name"].encode()
    try:
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        elif proto == "tcp":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, SCTP)
    except OSError as e:
        return "error:%s" % e.strerror
    try:
        s.settimeout(timeout)
        if proto == "udp":
            s.connect((t["ip"], t["port"]))
            # a second datagram halfway: one lost datagram is no verdict
            data = None
            for wait in (timeout / 2, timeout / 2):
                s.send(b"probe")
                s.settimeout(wait)
                try:
                    data = s.recv(2048)
                    break
                except socket.timeout:
                    continue
            if data is None:
                return "blocked"
        else:
            s.connect((t["ip"], t["port"]))
            data = b""
            while not data.endswith(b"\n"):
                b = s.recv(2048)
                if not b:
                    break
                data += b
        data = data.strip()
        return "ok" if data == want else "wrong:%s" % data.decode(
            errors="replace")
    except socket.timeout:
        return "blocked"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error:%s" % (e.strerror or e)
    finally:
        s.close()


def probe(a):
    targets = json.load(sys.stdin)
    out = {}
    threads = []
    for t in targets:
        def run(t=t):
            out[t["id"]] = probe_one(t, a.timeout)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        threads.append(th)
    for th in threads:
        th.join(a.timeout * 4 + 2)
    for t in targets:
        out.setdefault(t["id"], "error:probe did not finish")
    print(json.dumps(out))


def parse_rules(text):
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        if len(f) != 4 or f[3] not in ("yes", "no"):
            sys.exit("truth table line %d: %r is not SRC DST PORTS yes|no"
                     % (n, line))
        rules.append((f[0], f[1], f[2], f[3] == "yes"))
    return rules


def expected(rules, src, dst, port):
    if src == dst:
        return True  # a pod to itself never leaves its namespace
    v = True
    for rs, rd, rp, rv in rules:
        if (fnmatch.fnmatchcase(src, rs) and fnmatch.fnmatchcase(dst, rd)
                and fnmatch.fnmatchcase(port, rp)):
            v = rv
    return v


def globs(spec, names):
    if not spec:
        return list(names)
    pats = spec.split(",")
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]


def run_round(world, sources, targets, ports, timeout):
    """{(src, dst, port): outcome} for one round, every source at once."""
    procs = {}
    for src in sources:
        ns = (world["pods"].get(src) or world["nodes"][src])["netns"]
        tl = []
        for dst in targets:
            for port in ports:
                proto, num = port.split("/")
                tl.append({"id": "%s %s" % (dst, port),
                           "ip": world["pods"][dst]["ip"],
                           "port": int(num), "proto": proto, "name": dst})
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, __file__, "probe",
             "--timeout", str(timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        procs[src] = (p, json.dumps(tl).encode())
    res = {}
    for src, (p, data) in procs.items():
        try:
            out, err = p.communicate(data, timeout=timeout * 4 + 20)
            got = json.loads(out) if p.returncode == 0 else {}
        except (subprocess.TimeoutExpired, ValueError):
            p.kill()
            p.wait()
            got, err = {}, b"prober hung or printed garbage"
        for dst in targets:
            for port in ports:
                res[(src, dst, port)] = got.get(
                    "%s %s" % (dst, port),
                    "error:%s" % err.decode(errors="replace").strip()[-200:])
    return res


def short(name):
    return name[5:] if name.startswith("node/") else name


def show(title, sources, targets, ports, want, got):
    """The matrices: . allowed, X blocked (as expected); + allowed but
    should be blocked, - blocked but should be allowed, ? neither."""
    lines = ["%s: . allowed  X blocked  + allowed, should be blocked  "
             "- blocked, should be allowed  ? error" % title]
    w = max([len(short(s)) for s in sources] + [len(p) for p in ports])
    for port in ports:
        lines.append("  %s %s" % (port.ljust(w), " ".join(
            short(t).rjust(3) for t in targets)))
        for src in sources:
            cells = []
            for dst in targets:
                k = (src, dst, port)
                o = got[k]
                if o not in ("ok", "blocked"):
                    c = "?"
                elif want[k]:
                    c = "." if o == "ok" else "-"
                else:
                    c = "X" if o == "blocked" else "+"
                cells.append(c.rjust(3))
            lines.append("  %s %s" % (short(src).ljust(w), " ".join(cells)))
    return "\n".join(lines)


def check(a):
    with open(a.world) as f:
        world = json.load(f)
    rules = parse_rules(sys.stdin.read())
    names = sorted(world["pods"]) + sorted(world["nodes"])
    sources = globs(a.src, names) if a.src else sorted(world["pods"])
    targets = globs(a.to, sorted(world["pods"]))
    ports = globs(a.ports, world["ports"])
    if not sources or not targets or not ports:
        sys.exit("check %s: no sources, targets or ports" % a.title)
    want = {(s, d, p): a.all_allowed or expected(rules, s, d, p)
            for s in sources for d in targets for p in ports}
    start = time.monotonic()
    end = start + a.deadline
    rounds = 0
    while True:
        rounds += 1
        got = run_round(world, sources, targets, ports, a.timeout)
        bad = [k for k in want
               if got[k] != ("ok" if want[k] else "blocked")]
        if not bad:
            print("%s: %d probes as expected after %.1fs (%d rounds)" % (
                a.title, len(want), time.monotonic() - start, rounds))
            if a.verbose:
                print(show(a.title, sources, targets, ports, want, got))
            return 0
        if time.monotonic() >= end:
            break
        time.sleep(0.2)
    print(show(a.title, sources, targets, ports, want, got))
    print("%s: %d of %d probes differ after %.1fs (%d rounds):" % (
        a.title, len(bad), len(want), time.monotonic() - start, rounds))
    for s, d, p in sorted(bad)[:40]:
        print("  %s -> %s %s: expected %s, observed %s" % (
            s, d, p, "allowed" if want[(s, d, p)] else "blocked",
            got[(s, d, p)]))
    return 1


def watch(a):
    t = {"ip": a.ip, "port": a.port, "proto": a.proto, "name": a.name}
    ok = failed = 0
    failures = []
    end = time.monotonic() + a.maxsecs
    while not os.path.exists(a.stopfile) and time.monotonic() < end:
        t0 = time.monotonic()
        o = probe_one(t, 1.0)
        if o == "ok":
            ok += 1
        else:
            failed += 1
            failures.append("%.1f %s" % (time.time(), o))
        time.sleep(max(0, 0.2 - (time.monotonic() - t0)))
    print(json.dumps({"ok": ok, "failed": failed, "failures": failures[:20]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("name")
    p.add_argument("--sctp", action="store_true")
    p = sub.add_parser("probe")
    p.add_argument("--timeout", type=float, default=0.5)
    p = sub.add_parser("check")
    p.add_argument("--world", required=True)
    p.add_argument("--from", dest="src", default="")
    p.add_argument("--to", default="")
    p.add_argument("--ports", default="")
    p.add_argument("--deadline", type=float, default=30)
    p.add_argument("--timeout", type=float, default=0.5)
    p.add_argument("--all-allowed", action="store_true")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--title", default="truth table")
    p = sub.add_parser("watch")
    p.add_argument("name")
    p.add_argument("ip")
    p.add_argument("port", type=int)
    p.add_argument("proto")
    p.add_argument("stopfile")
    p.add_argument("maxsecs", type=float)
    a = ap.parse_args()
    return {"serve": serve, "probe": probe, "check": check,
            "watch": watch}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
