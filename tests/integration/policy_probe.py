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
      plugin). --objects FILE ({"namespaces": [...], "pods": [...],
      "networkpolicies": [...]}, as the API lists them): first check the
      table against a reference model of NetworkPolicy computed from
      them, exit 2 if they disagree.
  watch NAME IP PORT PROTO STOPFILE MAXSECS
      in a source namespace: one probe every 0.2 s until STOPFILE exists
      (or MAXSECS pass); prints {"ok": N, "failed": N, "failures": [...]}.

The world file (JSON): {"pods": {"x/a": {"ip": ..., "netns": ...,
"host": "h1"}}, "nodes": {"node/h1": {"ip": ..., "netns": ...}},
"ports": ["tcp/80", ...]}.
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


# -- a reference model of NetworkPolicy, to check the tables by -----------

class Malformed(Exception):
    pass


def labels_of(obj):
    lab = obj.get("metadata", {}).get("labels") or {}
    if not isinstance(lab, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in lab.items()):
        return None
    return lab


def sel_parse(sel):
    """A LabelSelector as a predicate on a label dict; Malformed."""
    if sel is None:
        sel = {}
    if not isinstance(sel, dict):
        raise Malformed("selector is no object")
    ml = sel.get("matchLabels") or {}
    if not isinstance(ml, dict):
        raise Malformed("matchLabels is no object")
    exprs = []
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e.get("operator"), e.get("key"), e.get("values") or []
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise Malformed("operator %r" % op)
        if not isinstance(key, str):
            raise Malformed("key")
        exprs.append((op, key, set(vals)))

    def match(lab):
        if lab is None:
            return False
        if any(lab.get(k) != v for k, v in ml.items()):
            return False
        for op, key, vals in exprs:
            if op == "In" and lab.get(key) not in vals:
                return False
            if op == "NotIn" and key in lab and lab[key] in vals:
                return False
            if op == "Exists" and key not in lab:
                return False
            if op == "DoesNotExist" and key in lab:
                return False
        return True
    return match


def net_parse(cidr):
    import ipaddress
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except (ValueError, TypeError):
        raise Malformed("CIDR %r" % cidr)


class Model:
    def __init__(self, objects, world):
        import ipaddress
        self.ip = ipaddress.ip_address
        self.ns_labels = {o["metadata"]["name"]: labels_of(o)
                          for o in objects["namespaces"]}
        self.pods = {}
        for o in objects["pods"]:
            md = o["metadata"]
            key = "%s/%s" % (md["namespace"], md["name"])
            if key not in world["pods"]:
                continue
            named = {}
            for c in o.get("spec", {}).get("containers", []):
                for p in c.get("ports", []):
                    if p.get("name"):
                        named[(p["name"], p.get("protocol", "TCP"))] = \
                            p["containerPort"]
            self.pods[key] = {"ns": md["namespace"], "labels": labels_of(o),
                              "named": named,
                              "ip": world["pods"][key]["ip"],
                              "host": world["pods"][key]["host"]}
        self.nodes = world["nodes"]
        self.policies = [self.policy(o) for o in objects["networkpolicies"]]

    def policy(self, o):
        ns = o["metadata"]["namespace"]
        spec = o.get("spec") or {}
        try:
            selected = sel_parse(spec.get("podSelector"))
        except Malformed:
            selected = None  # every pod of the namespace, isolated
        try:
            types = spec.get("policyTypes") or (
                ["Ingress"] + (["Egress"] if "egress" in spec else []))
            rules = {"Ingress": [self.rule(ns, r, "from")
                                 for r in spec.get("ingress") or []],
                     "Egress": [self.rule(ns, r, "to")
                                for r in spec.get("egress") or []]}
        except (Malformed, AttributeError, TypeError, KeyError):
            types, rules = ["Ingress", "Egress"], {"Ingress": [],
                                                   "Egress": []}
            selected = selected or (lambda lab: True)
            malformed = True
        else:
            malformed = selected is None
            if malformed:
                selected = lambda lab: True
                types, rules = ["Ingress", "Egress"], {"Ingress": [],
                                                       "Egress": []}
        return {"ns": ns, "select": selected, "types": types,
                "rules": rules, "malformed": malformed}

    def rule(self, ns, r, key):
        peers = []
        for p in r.get(key) or []:
            if "ipBlock" in p:
                b = p["ipBlock"]
                peers.append(("ip", net_parse(b["cidr"]),
                              [net_parse(e) for e in b.get("except") or []]))
            else:
                pod = sel_parse(p.get("podSelector"))
                nss = (sel_parse(p["namespaceSelector"])
                       if "namespaceSelector" in p else None)
                peers.append(("pod", pod, nss))
        ports = []
        for p in r.get("ports") or []:
            proto = p.get("protocol", "TCP")
            if proto not in ("TCP", "UDP", "SCTP"):
                raise Malformed("protocol %r" % proto)
            port = p.get("port")
            if port is not None and not isinstance(port, (int, str)):
                raise Malformed("port %r" % port)
            ports.append((proto, port, p.get("endPort")))
        return (ns, peers, ports)

    def peer_ok(self, ns, peers, who):
        if not peers:
            return True
        for kind, a, b in peers:
            if kind == "ip":
                ip = self.ip(who["ip"])
                if ip in a and not any(ip in e for e in b):
                    return True
                continue
            if who.get("labels") is None or "ns" not in who:
                continue  # a node, or a malformed pod: nobody's peer
            if b is None:
                if who["ns"] == ns and a(who["labels"]):
                    return True
            elif b(self.ns_labels.get(who["ns"])) and a(who["labels"]):
                return True
        return False

    def port_ok(self, ports, dst, proto, num):
        if not ports:
            return True
        for pr, port, end in ports:
            if pr != proto:
                continue
            if port is None:
                return True
            if isinstance(port, str):
                if dst["named"].get((port, proto)) == num:
                    return True
            elif num == port or (end is not None and port <= num <= end):
                return True
        return False

    def side(self, pod, direction, peer, dst, proto, num):
        """None: not isolated; else whether a policy allows."""
        pols = [p for p in self.policies if p["ns"] == pod["ns"] and
                direction in p["types"] and
                (pod["labels"] is None or p["select"](pod["labels"]))]
        if pod["labels"] is None:
            return False  # a malformed pod is isolated both ways
        if not pols:
            return None
        return any(self.peer_ok(ns, peers, peer) and
                   self.port_ok(ports, dst, proto, num)
                   for p in pols for ns, peers, ports in p["rules"][direction])

    def allowed(self, src, dst, port):
        if src == dst:
            return True
        proto, num = port.split("/")
        proto, num = proto.upper(), int(num)
        d = self.pods[dst]
        if src in self.nodes:
            if src == "node/" + d["host"]:
                return True
            s = {"ip": self.nodes[src]["ip"]}
        else:
            s = self.pods[src]
            if self.side(s, "Egress", d, d, proto, num) is False:
                return False
        return self.side(d, "Ingress", s, d, proto, num) is not False


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
    table = {(s, d, p): expected(rules, s, d, p)
             for s in sources for d in targets for p in ports}
    if a.objects:
        with open(a.objects) as f:
            model = Model(json.load(f), world)
        odd = [k for k in table if model.allowed(*k) != table[k]]
        for s, d, p in sorted(odd)[:40]:
            print("  %s -> %s %s: the table says %s, the model %s" % (
                s, d, p, "allowed" if table[(s, d, p)] else "blocked",
                "allowed" if not table[(s, d, p)] else "blocked"))
        if odd:
            print("%s: the table disagrees with the reference model of the "
                  "API's objects in %d places" % (a.title, len(odd)))
            return 2
    want = {k: a.all_allowed or v for k, v in table.items()}
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
    p.add_argument("--objects")
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
