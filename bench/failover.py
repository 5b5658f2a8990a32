"""Failover time in the demo topology, for bench/failover.sh.

  failover.py measure ...   RUNS failovers of subnet A's forwarder; writes
                            the times as JSON
  failover.py anchor ...    Romana's scheme, run in the router's netns
  failover.py report ...    the summary of both phases

A run takes the forwarder of subnet A (rt's route for A's prefix) down
with `ip -n NS link set eth0 down`; t0 is taken just before. (a) is t0 to
the netlink message on rt that puts the prefix on another next hop; (b)
is t0 to the first echo reply, in a stream every 10 ms from a subnet-B
pod to the pod on the surviving A host, whose request left after the
link was down (so nothing that crossed the old forwarder counts).
"""
import argparse
import ctypes
import json
import os
import random
import select
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
RTMGRP_IPV4_ROUTE = 0x40
RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTA_DST = 1
RTA_GATEWAY = 5

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    """Moves the calling thread (only) into netns NAME."""
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def echo(ident, seq, payload=b"strata-failover!"):
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    c = checksum(h + payload)
    return struct.pack("!BBHHH", 8, 0, c, ident, seq) + payload


def parse_reply(pkt, ident):
    """(source, seq) of an echo reply with our identifier, else None."""
    ihl = (pkt[0] & 0x0f) * 4
    if len(pkt) < ihl + 8:
        return None
    typ, _, _, rid, seq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
    if typ != 0 or rid != ident:
        return None
    return socket.inet_ntoa(pkt[12:16]), seq


class Pinger:
    """An echo every INTERVAL from netns NS to DST; keeps send and reply
    times by sequence number."""

    def __init__(self, ns, dst, interval=0.01):
        self.ns, self.dst, self.interval = ns, dst, interval
        self.ident = random.randrange(1, 0xffff)
        self.sent, self.replies = {}, []
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def run(self):
        enter_netns(self.ns)
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.ready.set()
        seq = 0
        nxt = time.time()
        while not self.stop.is_set():
            now = time.time()
            if now >= nxt:
                seq = (seq + 1) & 0xffff
                with self.lock:
                    self.sent[seq] = time.time()
                try:
                    s.sendto(echo(self.ident, seq), (self.dst, 0))
                except OSError:
                    pass  # no route for a moment: the gap is measured
                nxt += self.interval
                continue
            r, _, _ = select.select([s], [], [], nxt - now)
            if not r:
                continue
            pkt = s.recv(2048)
            t = time.time()
            got = parse_reply(pkt, self.ident)
            if got and got[0] == self.dst:
                with self.lock:
                    self.replies.append((t, got[1]))
        s.close()

    def first_reply(self, after):
        """Time of the first reply to a request sent after AFTER."""
        with self.lock:
            for t, seq in self.replies:
                st = self.sent.get(seq)
                if st is not None and st > after:
                    return t
        return None

    def replies_since(self, t0):
        with self.lock:
            return sum(1 for t, _ in self.replies if t > t0)

    def close(self):
        self.stop.set()
        self.thread.join(5)


class RouteMonitor:
    """rtnetlink IPv4 route messages in netns NS, timestamped on receipt."""

    def __init__(self, ns):
        self.ns = ns
        self.events = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def run(self):
        enter_netns(self.ns)
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                          socket.NETLINK_ROUTE)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((0, RTMGRP_IPV4_ROUTE))
        self.ready.set()
        while not self.stop.is_set():
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                continue
            data = s.recv(65536)
            t = time.time()
            for ev in parse_routes(data):
                with self.lock:
                    self.events.append((t,) + ev)
        s.close()

    def moved(self, prefix, old_gw, after):
        """Time the route to PREFIX got a next hop other than OLD_GW."""
        with self.lock:
            for t, typ, dst, gw in self.events:
                if (t > after and typ == RTM_NEWROUTE and dst == prefix
                        and gw is not None and gw != old_gw):
                    return t
        return None

    def close(self):
        self.stop.set()
        self.thread.join(5)


def parse_routes(data):
    """(type, "dst/len", gateway) of each route message in DATA."""
    out = []
    off = 0
    while off + 16 <= len(data):
        ln, typ = struct.unpack_from("=IH", data, off)
        if ln < 16:
            break
        if typ in (RTM_NEWROUTE, RTM_DELROUTE) and ln >= 28:
            fam, dlen = struct.unpack_from("=BB", data, off + 16)
            dst, gw = "0.0.0.0", None
            a = off + 28
            while fam == socket.AF_INET and a + 4 <= off + ln:
                alen, atyp = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                val = data[a + 4:a + alen]
                if atyp == RTA_DST and len(val) == 4:
                    dst = socket.inet_ntoa(val)
                elif atyp == RTA_GATEWAY and len(val) == 4:
                    gw = socket.inet_ntoa(val)
                a += (alen + 3) & ~3
            if fam == socket.AF_INET:
                out.append((typ, "%s/%d" % (dst, dlen), gw))
        off += (ln + 3) & ~3
    return out


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


def route_gw(ns, prefix):
    out = subprocess.run(["ip", "-n", ns, "-j", "route", "show", "exact",
                          prefix], check=True, capture_output=True).stdout
    for r in json.loads(out or b"[]"):
        if "gateway" in r:
            return r["gateway"]
    return None


def wait_for(what, fn, secs):
    end = time.time() + secs
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise SystemExit("failover.py: timed out after %ds waiting for %s"
                     % (secs, what))


def strata_steady(ctl, sock):
    r = subprocess.run([ctl, "-s", sock, "--json", "health"],
                       capture_output=True)
    if r.returncode != 0:
        return False
    j = json.loads(r.stdout)
    ts = j.get("targets") or []
    if not ts or j.get("alarms"):
        return False
    for t in ts:
        if t.get("state") != "up":
            return False
        for o in t.get("observers") or []:
            if not o.get("live") or o.get("state") != "up":
                return False
    return True


def anchor_saw_up(state, host, since):
    try:
        with open(state) as f:
            s = json.load(f)
    except (OSError, ValueError):
        return False
    h = s["hosts"].get(host, {})
    return h.get("up") and h.get("sent", 0) > since


def measure(a):
    nsp = a.nsp
    addr = dict(kv.split("=") for kv in a.host)
    host_of = {v: k for k, v in addr.items()}
    pods = dict(kv.split("=") for kv in a.pod)
    rng = random.Random(a.seed)
    mon = RouteMonitor(nsp + "-rt")
    results = []
    for run in range(a.runs):
        gw = wait_for("rt's route for " + a.prefix,
                      lambda: route_gw(nsp + "-rt", a.prefix), 30)
        f = host_of[gw]
        s = [h for h in a.subnet.split(",") if h != f][0]
        png = Pinger(nsp + "-" + a.src, pods[s])
        t = time.time()
        wait_for("replies from %s's pod before the run" % s,
                 lambda: png.replies_since(t) >= 5, 10)
        time.sleep(rng.uniform(0, 2))
        t0 = time.time()
        ip("-n", nsp + "-" + f, "link", "set", "eth0", "down")
        t1 = time.time()
        ta = wait_for("the route moving off %s" % f,
                      lambda: mon.moved(a.prefix, gw, t0), 60)
        tb = wait_for("a reply from %s's pod" % s,
                      lambda: png.first_reply(t1), 60)
        png.close()
        results.append({"down": f, "to": host_of.get(
            route_gw(nsp + "-rt", a.prefix), "?"), "a": ta - t0,
            "b": tb - t0})
        print("  %-6s run %2d: %s down -> %s: (a) route %.3f s, "
              "(b) traffic %.3f s" % (a.phase, run + 1, f, results[-1]["to"],
                                      ta - t0, tb - t0), flush=True)
        tr = time.time()
        ip("-n", nsp + "-" + f, "link", "set", "eth0", "up")
        ip("-n", nsp + "-" + f, "route", "replace", "default", "via", a.gw)
        if a.phase == "strata":
            wait_for("every target up again",
                     lambda: strata_steady(a.ctl, a.sock), 60)
        else:
            wait_for("the anchor seeing %s up" % f,
                     lambda: anchor_saw_up(a.state, f, tr), 60)
    mon.close()
    with open(a.out, "w") as fo:
        json.dump(results, fo)


def anchor(a):
    """Romana's scheme: one loop, ticking every second; each host probed
    every 2 s (one echo, 1 s timeout); a subnet's route moves to another
    host of it that answered its last probe when the forwarder misses one.
    """
    hosts = dict(kv.split("=") for kv in a.host)  # name -> address
    routes = {}  # prefix -> [forwarder, members...]
    for kv in a.route:
        prefix, members = kv.split("=")
        routes[prefix] = members.split(",")
    fwd = {p: m[0] for p, m in routes.items()}
    for p, h in fwd.items():
        ip("route", "replace", p, "via", hosts[h], "proto", str(a.proto))
    names = sorted(hosts)
    up = {h: True for h in names}
    sent = {h: 0.0 for h in names}
    nxt = {h: i % 2 for i, h in enumerate(names)}  # tick of next probe
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    seq = 0
    start = time.time()
    tick = 0
    while True:
        now = time.time()
        if now < start + tick:
            time.sleep(start + tick - now)
        due = [h for h in names if nxt[h] <= tick]
        waiting = {}
        for h in due:
            seq = (seq + 1) & 0xffff
            waiting[seq] = h
            sent[h] = time.time()
            nxt[h] = tick + 2
            try:
                s.sendto(echo(ident, seq), (hosts[h], 0))
            except OSError:
                pass
        answered = set()
        deadline = time.time() + 1.0
        while waiting and time.time() < deadline:
            r, _, _ = select.select([s], [], [], deadline - time.time())
            if not r:
                break
            got = parse_reply(s.recv(2048), ident)
            if got and got[1] in waiting and hosts[waiting[got[1]]] == got[0]:
                answered.add(waiting.pop(got[1]))
        for h in due:
            up[h] = h in answered
        for p, members in routes.items():
            if up[fwd[p]]:
                continue
            for h in members:
                if h != fwd[p] and up[h]:
                    fwd[p] = h
                    ip("route", "replace", p, "via", hosts[h],
                       "proto", str(a.proto))
                    break
        state = {"hosts": {h: {"up": up[h], "sent": sent[h]} for h in names},
                 "routes": fwd}
        with open(a.state + ".new", "w") as f:
            json.dump(state, f)
        os.replace(a.state + ".new", a.state)
        tick += 1
        # a round that waited out its timeout is late: catch up, as a
        # sequential loop would
        tick = max(tick, int(time.time() - start))


def report(a):
    def load(p):
        with open(p) as f:
            return json.load(f)
    st, an = load(a.strata), load(a.anchor)

    def line(rs, key):
        xs = [r[key] for r in rs]
        return statistics.median(xs), max(xs)

    print("\nfailover time over %d runs each, seconds:" % len(st))
    print("  %-32s %15s %15s %15s" % ("", "strata", "Romana anchor",
                                       "strata/anchor"))
    print("  %-32s %15s %15s %15s" % ("", "median  worst", "median  worst",
                                       "median  worst"))
    for key, what in (("a", "(a) t0 -> rt's route moved"),
                      ("b", "(b) t0 -> first packet through")):
        sm, sw = line(st, key)
        am, aw = line(an, key)
        print("  %-32s %7.3f %7.3f %7.3f %7.3f %7.2f %7.2f"
              % (what, sm, sw, am, aw, sm / am, sw / aw))
    h = load(a.health)
    targets = len(h.get("targets") or [])
    routes = len(h.get("routes") or []) or 1
    k = max((len(t.get("observers") or []) for t in h["targets"]),
            default=0)
    iv = a.interval
    per_route = targets / routes
    print("\ncluster-wide probe rate:")
    print("  Romana: hosts / 2 s; a 1,000-host cluster: %d/s" % (1000 / 2))
    print("  strata: targets x observers / interval, targets = forwarders"
          " + standbys = %g per route" % per_route)
    print("    the demo (%d routes): %d x %d / %gs = %.0f/s; measured: "
          "%.1f/s" % (routes, targets, k, iv, targets * k / iv, a.measured))
    print("    a 1,000-host cluster, one route per subnet, S subnets:"
          " %g x S x %d / %gs = %.0f x S /s" % (per_route, k, iv,
                                                 per_route * k / iv))
    for hosts_per in (200, 50):
        sn = 1000 // hosts_per
        print("      %d subnets of %d hosts: %.0f/s (Romana 500/s)"
              % (sn, hosts_per, per_route * sn * k / iv))
    print("      below Romana's 500/s up to %d subnets (~%d hosts per subnet)"
          % (int(500 * iv / (per_route * k)),
             1000 // max(1, int(500 * iv / (per_route * k)))))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--phase", required=True)
    m.add_argument("--nsp", required=True)
    m.add_argument("--runs", type=int, default=10)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--prefix", required=True)
    m.add_argument("--subnet", required=True, help="A's hosts, a1,a2")
    m.add_argument("--gw", required=True, help="A's default gateway")
    m.add_argument("--host", action="append", default=[])
    m.add_argument("--pod", action="append", default=[],
                   help="HOST=IP of the pod on HOST")
    m.add_argument("--src", required=True, help="the B pod's netns suffix")
    m.add_argument("--ctl")
    m.add_argument("--sock")
    m.add_argument("--state")
    m.add_argument("--out", required=True)
    an = sub.add_parser("anchor")
    an.add_argument("--host", action="append", default=[])
    an.add_argument("--route", action="append", default=[],
                    help="PREFIX=FORWARDER,OTHER...")
    an.add_argument("--proto", type=int, default=221)
    an.add_argument("--state", required=True)
    r = sub.add_parser("report")
    r.add_argument("--strata", required=True)
    r.add_argument("--anchor", required=True)
    r.add_argument("--health", required=True)
    r.add_argument("--interval", type=float, required=True,
                   help="health.interval, seconds")
    r.add_argument("--measured", type=float, required=True,
                   help="probes per second every node sent at the demo")
    a = p.parse_args()
    {"measure": measure, "anchor": anchor, "report": report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
