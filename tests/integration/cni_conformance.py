#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# The runtime side of cni-conformance.sh: execs a CNI plugin the way a
# runtime does (CNI_* environment, the request config on stdin, in the
# "host" namespace), reads its stdout (exactly one JSON document) and exit
# status, and looks at the namespaces with `ip -j`. Each check is one MUST
# of the checklist in notes/cni.md section 2 (M1..M19), run against a
# profile:
#   ref     Debian's ptp + host-local (/usr/lib/cni)
#   strata  strata-cni with a stratad (frontend-cni, topology IPAM on the
#           embedded store) this driver starts and stops in the host
#           namespace
# A profile's known deviations are listed in its table below with the
# reason and a pattern the failure must match: the check still runs, a
# deviation that stops deviating (or deviates otherwise) fails the run.
#
#   cni_conformance.py ref|strata --host-ns NS --ns-prefix P --workdir DIR
#       [--pidfile FILE] [--stratad BIN --stratad-conf FILE
#        --ctl-sock PATH --cni-sock PATH --store PATH --strata-cni BIN]
#       [--only CHECK,...] [--pods N]
#
# Prints one line per check and the result table; exit 0 when no check
# failed. Every namespace it makes starts with the prefix and is deleted
# before it exits; the stratad it starts is stopped by pid (and its pid is
# appended to the pidfile, for the shell's trap).
import argparse
import concurrent.futures
import ipaddress
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

NET = "cniconf"          # the network name under test
OTHER_NET = "cniother"   # another network: GC of it must not touch ours
DEFAULT_VERSION = "1.0.0"
CALL_TIMEOUT = 60        # seconds, any single plugin exec
DOWN_LIMIT = 5.0         # seconds: "stratad is down" must answer this fast
IP = "/usr/bin/ip" if os.path.exists("/usr/bin/ip") else "/sbin/ip"
PING = "/usr/bin/ping" if os.path.exists("/usr/bin/ping") else "/bin/ping"
ENV_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class Fail(Exception):
    """A check failed; ITEMS are its separate findings (a deviation must
    explain every one of them)."""

    def __init__(self, msg, items=None):
        super().__init__(msg)
        self.items = items or [msg]


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def none_of(problems, total):
    """Fails with every problem found among TOTAL cases."""
    if problems:
        raise Fail("%d of %d cases: %s" % (len(problems), total,
                                           "; ".join(problems)), problems)


# ---- namespaces and `ip -j` ------------------------------------------------

def sh(argv, timeout=30, check=True):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Fail("%s: %s" % (" ".join(argv), p.stderr.strip()))
    return p


def ipj(ns, *args):
    out = sh([IP, "-n", ns, "-j"] + list(args)).stdout.strip()
    return json.loads(out) if out else []


def links(ns):
    return {link["ifname"]: link for link in ipj(ns, "link", "show")}


def addrs(ns, ifname):
    """[(ip_interface)] of IFNAME in NS; [] when the link is missing."""
    p = sh([IP, "-n", ns, "-j", "addr", "show", "dev", ifname], check=False)
    if p.returncode != 0 or not p.stdout.strip():
        return []
    out = []
    for link in json.loads(p.stdout):
        for a in link.get("addr_info", []):
            if a.get("scope") == "link":
                continue
            out.append(ipaddress.ip_interface(
                "%s/%d" % (a["local"], a["prefixlen"])))
    return out


def route_dst(r, family):
    d = r.get("dst", "")
    if d == "default":
        return ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
    if "/" not in d:
        d += "/32" if family == 4 else "/128"
    return ipaddress.ip_network(d, strict=False)


def routes(ns, family):
    """[(dst network, route dict)] of the main table of NS."""
    rs = ipj(ns, "-%d" % family, "route", "show")
    return [(route_dst(r, family), r) for r in rs]


class Namespaces:
    """Pod namespaces, all named PREFIX-N; every one deleted at the end."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.n = 0
        self.lock = threading.Lock()
        self.live = set()

    def make(self):
        with self.lock:
            self.n += 1
            name = "%s-%d" % (self.prefix, self.n)
            self.live.add(name)
        sh([IP, "netns", "add", name])
        sh([IP, "-n", name, "link", "set", "lo", "up"])
        return name

    def drop(self, name):
        sh([IP, "netns", "del", name], check=False)
        with self.lock:
            self.live.discard(name)

    def drop_all(self):
        for name in sorted(self.live):
            self.drop(name)


# ---- one plugin exec -------------------------------------------------------

class Call:
    def __init__(self, cmd, rc, out, err, dt):
        self.cmd, self.rc, self.out, self.err, self.dt = cmd, rc, out, err, dt
        self.doc = None
        self.shape = None  # what is wrong with stdout, None when fine
        text = out.strip()
        if text:
            try:
                self.doc = json.loads(text)
            except ValueError as e:
                self.shape = "stdout is not exactly one JSON document " \
                    "(%s): %.200r" % (e, out)
        if self.shape is None:
            if rc != 0:
                if not isinstance(self.doc, dict):
                    self.shape = "failed (exit %d) with no error object " \
                        "on stdout: %.200r" % (rc, out)
            elif cmd in ("ADD", "VERSION") and not isinstance(self.doc, dict):
                self.shape = "%s succeeded with no result object" % cmd

    @property
    def code(self):
        if isinstance(self.doc, dict) and isinstance(self.doc.get("code"),
                                                     int):
            return self.doc["code"]
        return None

    def text(self):
        if isinstance(self.doc, dict):
            return "%s %s" % (self.doc.get("msg", ""),
                              self.doc.get("details", ""))
        return self.out

    def __str__(self):
        shown = json.dumps(self.doc) if self.doc is not None else \
            (self.out.strip() or "(empty stdout)")
        return "exit %d, code %s: %.300s%s" % (
            self.rc, self.code, shown,
            (" [stderr: %.200s]" % self.err.strip()) if self.err.strip()
            else "")


class Runner:
    """Execs the plugin in the host namespace; remembers every call for
    the stdout and error-object checks (M2, M3)."""

    def __init__(self, host_ns, plugin, base_env):
        self.host_ns = host_ns
        self.plugin = plugin
        self.base_env = base_env
        self.calls = []
        self.lock = threading.Lock()

    def run(self, cmd, conf=None, cid=None, ifname="eth0", netns=None,
            env=None, unset=(), stdin=None, timeout=CALL_TIMEOUT):
        e = {"PATH": ENV_PATH}
        e.update(self.base_env)
        if cmd is not None:
            e["CNI_COMMAND"] = cmd
        if cid is not None:
            e["CNI_CONTAINERID"] = cid
        if ifname is not None:
            e["CNI_IFNAME"] = ifname
        if netns is not None:
            e["CNI_NETNS"] = netns
        e.update(env or {})
        for k in unset:
            e.pop(k, None)
        if stdin is None:
            stdin = json.dumps(conf) if conf is not None else ""
        t0 = time.monotonic()
        try:
            p = subprocess.run([IP, "netns", "exec", self.host_ns,
                                self.plugin], input=stdin, env=e,
                               capture_output=True, text=True,
                               timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as x:
            rc, out, err = -1, "", "timed out after %ds %s" % (
                timeout, x.stderr or "")
        c = Call(cmd or "(none)", rc, out, err, time.monotonic() - t0)
        with self.lock:
            self.calls.append(c)
        return c


# ---- profiles --------------------------------------------------------------

class Profile:
    name = ""
    host_link = re.compile("^$")
    expected = {}   # check -> (reason, regex the failure must match)
    na = {}         # check -> why it does not apply
    has_daemon = False

    def __init__(self, args):
        self.args = args

    def conf(self, version=DEFAULT_VERSION, name=NET, **extra):
        raise NotImplementedError

    def reservations(self, network=NET):
        """{(container id, ifname): set of addresses} held by the IPAM."""
        raise NotImplementedError

    def all_reservations(self):
        return self.reservations(NET)

    def pod_route_ok(self, pod_ns, ifname, fam, result):
        """The default route of FAM in the pod: (ok, what was seen)."""
        gws = set()
        for x in result.get("ips", []):
            a = ipaddress.ip_interface(x["address"])
            if a.version == fam and x.get("gateway"):
                gws.add(ipaddress.ip_address(x["gateway"]))
        for r in result.get("routes", []):
            if ipaddress.ip_network(r["dst"]).prefixlen == 0 and \
                    ipaddress.ip_network(r["dst"]).version == fam and \
                    r.get("gw"):
                gws.add(ipaddress.ip_address(r["gw"]))
        seen = []
        for dst, r in routes(pod_ns, fam):
            if dst.prefixlen != 0:
                continue
            seen.append(r)
            if r.get("dev") == ifname and "gateway" in r and \
                    ipaddress.ip_address(r["gateway"]) in gws:
                return True, seen
        return False, seen

    def start(self):
        pass

    def stop(self):
        pass


class RefProfile(Profile):
    name = "ref"
    host_link = re.compile(r"^veth[0-9a-f]{8}$")
    expected = {
        "version-echo": ("skel prints its own version (1.0.0), not the "
                         "request's", r"cniVersion '1\.0\.0'"),
        "version-supported": ("Debian 1.1.1 supports 0.1.0 .. 1.0.0, not "
                              "1.1.0", r"lacks \['1\.1\.0'\]"),
        "add-1.1.0": ("no 1.1.0: incompatible CNI versions",
                      r"exit 1, code 1\b"),
        "gc": ("no 1.1.0 and no GC in Debian 1.1.1: skel asks for "
               "CNI_CONTAINERID first", r"GC: exit 1, code 3\b"),
        "status": ("no STATUS in Debian 1.1.1: skel asks for "
                   "CNI_CONTAINERID first", r"code 3\b.*missing containerID"),
        "gc-status-old-version": ("skel 1.1.1 knows no GC/STATUS: it asks "
                                  "for CNI_CONTAINERID (3), not a version "
                                  "error (1)",
                                  r"code 3\b.*missing containerID"),
        "add-prevresult": ("ptp is a main plugin: it ignores prevResult",
                           r"prevResult's interface dropped"),
        "del-netns-empty": ("ptp with no CNI_NETNS only releases the IPAM: "
                            "the veth pair (and the pod's now released "
                            "address) stay until the netns goes",
                            r"host veth veth[0-9a-f]{8} left"),
        "add-duplicate": ("host-local refuses with 999, libcni's code for "
                          "a wrapped Go error", r"code 999\b.*duplicate"),
        "add-failure-cleanup": ("ptp leaves its veth pair behind after a "
                                "failed ADD (until the runtime's DEL)",
                                r"left behind: .*veth"),
        "env-missing": ("skel without CNI_COMMAND prints its about text "
                        "on stderr and exits 0",
                        r"without CNI_COMMAND: exit 0"),
        "env-invalid": ("skel's value errors say 'containerID' or "
                        "'interface name', not the variable",
                        r"code 4 but does not name CNI_(CONTAINERID|IFNAME)"),
        "env-cni-path-optional": ("skel requires CNI_PATH for ADD (and ptp "
                                  "needs it to find host-local)",
                                  r"code 4\b.*CNI_PATH"),
        "own-netns": ("skel 1.1.1 does not refuse the plugin's own "
                      "namespace as CNI_NETNS", r"accepted"),
        "error-object": ("errors omit cniVersion (measured)",
                         r"no cniVersion"),
        "check-host-route": ("ptp's CHECK looks at the container side only",
                             r"CHECK passed with the host route gone"),
    }
    na = {
        "metrics": "no daemon: no /metrics",
        "status-down": "no daemon: host-local is files",
        "daemon-down": "no daemon: host-local is files",
        "daemon-back": "no daemon: host-local is files",
    }

    def __init__(self, args):
        super().__init__(args)
        self.data = os.path.join(args.workdir, "host-local")
        os.makedirs(self.data, exist_ok=True)
        self.plugin = "/usr/lib/cni/ptp"
        self.env = {"CNI_PATH": "/usr/lib/cni"}

    def conf(self, version=DEFAULT_VERSION, name=NET, **extra):
        c = {"cniVersion": version, "name": name, "type": "ptp",
             "ipam": {"type": "host-local", "dataDir": self.data,
                      "ranges": [[{"subnet": "10.213.0.0/22"}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}}
        c.update(extra)
        return c

    def reservations(self, network=NET):
        d = os.path.join(self.data, network)
        held = {}
        if not os.path.isdir(d):
            return held
        for f in os.listdir(d):
            if f == "lock" or f.startswith("last_reserved_ip"):
                continue
            with open(os.path.join(d, f)) as fh:
                parts = fh.read().splitlines()
            key = (parts[0].strip(), parts[1].strip() if len(parts) > 1
                   else "")
            held.setdefault(key, set()).add(f)
        return held


class StrataProfile(Profile):
    name = "strata"
    host_link = re.compile(r"^st[0-9a-f]{13}$")
    expected = {}
    na = {}
    has_daemon = True

    def __init__(self, args):
        super().__init__(args)
        self.plugin = args.strata_cni
        self.env = {}
        self.pid = None
        self.bad_exits = []
        self.log = os.path.join(args.workdir, "stratad.log")

    def conf(self, version=DEFAULT_VERSION, name=NET, **extra):
        c = {"cniVersion": version, "name": name, "type": "strata-cni",
             "socket": self.args.cni_sock, "timeout": 10}
        c.update(extra)
        return c

    def handles(self):
        """{handle: set of addresses} in the store's block records."""
        held = {}
        if not os.path.exists(self.args.store):
            return held
        db = sqlite3.connect("file:%s?mode=ro" % self.args.store, uri=True,
                             timeout=10)
        try:
            lo = b"strata/ipam/block/"
            rows = db.execute("SELECT key, value FROM kv WHERE key >= ? "
                              "AND key < ?", (lo, lo[:-1] + b"0")).fetchall()
        finally:
            db.close()
        for key, value in rows:
            if isinstance(key, bytes):
                key = key.decode()
            if isinstance(value, bytes):
                value = value.decode()
            net = ipaddress.ip_network(key[len("strata/ipam/block/"):])
            rec = json.loads(value)
            for off, handle in rec.get("used", []):
                held.setdefault(handle, set()).add(
                    str(net.network_address + off))
        return held

    def reservations(self, network=NET):
        held = {}
        pfx = "cni/%s/" % network
        for h, a in self.handles().items():
            if h.startswith(pfx):
                parts = h[len(pfx):].split("/")
                held[(parts[0], "/".join(parts[1:]))] = a
        return held

    def all_reservations(self):
        return {h: a for h, a in self.handles().items()
                if h.startswith("cni/")}

    def _ctl_ok(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(self.args.ctl_sock)
            s.sendall(b'{"command": "status"}\n')
            line = s.makefile("rb").readline()
            return json.loads(line).get("ok") is True
        except (OSError, ValueError):
            return False
        finally:
            s.close()

    def _cni_sock_ok(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(self.args.cni_sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start(self):
        need(self.pid is None, "stratad already running")
        log = open(self.log, "a")
        p = subprocess.Popen([IP, "netns", "exec", self.args.host_ns,
                              self.args.stratad, "-c",
                              self.args.stratad_conf],
                             stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT)
        log.close()
        self.proc, self.pid = p, p.pid
        if self.args.pidfile:
            with open(self.args.pidfile, "a") as f:
                f.write("%d\n" % p.pid)
        for _ in range(200):
            if p.poll() is not None:
                raise Fail("stratad exited with %d at start: %s" %
                           (p.returncode, self.tail()))
            if self._ctl_ok() and self._cni_sock_ok():
                return
            time.sleep(0.1)
        raise Fail("stratad's sockets not up after 20 s: %s" % self.tail())

    def stop(self, sig=signal.SIGTERM):
        if self.pid is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=10)
            self.pid = None
            self.bad_exits.append("did not stop on signal %d" % sig)
            raise Fail("stratad did not stop on signal %d" % sig)
        self.pid = None
        if rc != 0:
            self.bad_exits.append("exited with %d on signal %d" % (rc, sig))
        return rc

    def tail(self):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return ""


# ---- the pod: one attachment made the way a runtime does ---------------------

class Pod:
    seq = 0
    seq_lock = threading.Lock()

    def __init__(self, ctx, ifname="eth0", ns=None):
        with Pod.seq_lock:
            Pod.seq += 1
            n = Pod.seq
        self.ctx = ctx
        self.cid = "c%04d-%s" % (n, ctx.profile.name)
        self.ifname = ifname
        self.ns = ns or ctx.ns.make()
        self.path = "/run/netns/" + self.ns
        self.result = None
        self.version = DEFAULT_VERSION
        ctx.pods.append(self)

    def add(self, version=DEFAULT_VERSION, **kw):
        conf = kw.pop("conf", None) or self.ctx.profile.conf(version)
        c = self.ctx.r.run("ADD", conf, self.cid, self.ifname, self.path,
                           **kw)
        if c.rc == 0 and isinstance(c.doc, dict):
            self.result = c.doc
            self.version = version
        return c

    def dele(self, prev=True, netns=None, **kw):
        conf = self.ctx.profile.conf(self.version)
        if prev and self.result is not None:
            conf["prevResult"] = self.result
        return self.ctx.r.run("DEL", conf, self.cid, self.ifname,
                              self.path if netns is None else netns, **kw)

    def check(self, prev=True, **kw):
        conf = self.ctx.profile.conf(self.version)
        if prev and self.result is not None:
            conf["prevResult"] = self.result
        return self.ctx.r.run("CHECK", conf, self.cid, self.ifname,
                              self.path, **kw)

    def addresses(self):
        return [ipaddress.ip_interface(x["address"])
                for x in (self.result or {}).get("ips", [])]

    def host_ifname(self):
        for i in (self.result or {}).get("interfaces", []):
            if not i.get("sandbox"):
                return i["name"]
        return None

    def gone(self):
        """The runtime removes the pod's namespace."""
        self.ctx.ns.drop(self.ns)


def must_add(pod, version=DEFAULT_VERSION, **kw):
    c = pod.add(version, **kw)
    need(c.rc == 0 and not c.shape, "ADD %s: %s%s" % (
        pod.cid, c, "; " + c.shape if c.shape else ""))
    return c


def must_del(pod, **kw):
    c = pod.dele(**kw)
    need(c.rc == 0, "DEL %s: %s" % (pod.cid, c))
    return c


def verify_attachment(ctx, pod, version):
    """The result of POD's ADD in VERSION's shape, and the namespaces as
    the result says (M9, M10)."""
    res = pod.result
    need(isinstance(res, dict), "no result")
    need(res.get("cniVersion") == version,
         "result cniVersion %r, requested %r" % (res.get("cniVersion"),
                                                 version))
    need(isinstance(res.get("dns"), dict), "result has no dns object")
    ifs = res.get("interfaces")
    need(isinstance(ifs, list) and ifs, "result has no interfaces")
    ips = res.get("ips")
    need(isinstance(ips, list) and ips, "result has no ips")
    sandbox = None
    for k, i in enumerate(ifs):
        if i.get("sandbox"):
            need(i["sandbox"] == pod.path,
                 "interfaces[%d].sandbox %r, CNI_NETNS %r" %
                 (k, i["sandbox"], pod.path))
            need(i.get("name") == pod.ifname,
                 "sandbox interface %r, CNI_IFNAME %r" %
                 (i.get("name"), pod.ifname))
            sandbox = k
    need(sandbox is not None, "no interface with sandbox %s" % pod.path)
    pod_links = links(pod.ns)
    need(pod.ifname in pod_links, "%s not in the pod namespace (%s)" %
         (pod.ifname, sorted(pod_links)))
    pl = pod_links[pod.ifname]
    mac = ifs[sandbox].get("mac")
    need(mac and mac.lower() == pl.get("address", "").lower(),
         "result mac %r, link has %r" % (mac, pl.get("address")))
    need("UP" in pl.get("flags", []), "%s is not up" % pod.ifname)
    host_links = links(ctx.host_ns)
    host_if = pod.host_ifname()
    if host_if is not None:
        need(host_if in host_links, "host interface %s missing" % host_if)
    have = addrs(pod.ns, pod.ifname)
    fams = set()
    for x in ips:
        a = ipaddress.ip_interface(x["address"])
        fams.add(a.version)
        need(x.get("interface") == sandbox,
             "ips[] %s: interface %r, sandbox is %d" %
             (x["address"], x.get("interface"), sandbox))
        if version.startswith("0."):
            need(x.get("version") == str(a.version),
                 "%s result: ips[] %s has version %r" %
                 (version, x["address"], x.get("version")))
        else:
            need("version" not in x, "%s result: ips[] %s has 'version' "
                 "(removed in 1.0)" % (version, x["address"]))
        need(a in have, "%s not on %s (%s)" % (a, pod.ifname,
                                              [str(h) for h in have]))
        # the host's way back to the pod
        hr = [r for d, r in routes(ctx.host_ns, a.version)
              if d == ipaddress.ip_network(a.ip)]
        need(hr, "no host route to %s" % a.ip)
        if host_if is not None:
            need(any(r.get("dev") == host_if for r in hr),
                 "host route to %s not via %s: %s" % (a.ip, host_if, hr))
    for fam in fams:
        ok, seen = ctx.profile.pod_route_ok(pod.ns, pod.ifname, fam, res)
        need(ok, "no IPv%d default route via the gateway in the pod: %s" %
             (fam, seen))
    return "%s %s" % (pod.ifname, " ".join(x["address"] for x in ips))


# ---- the checks --------------------------------------------------------------

CHECKS = []


def check(name, musts, title):
    def reg(fn):
        CHECKS.append((name, musts, title, fn))
        return fn
    return reg


@check("version-echo", (1, 7), "VERSION echoes the request's cniVersion")
def c_version_echo(ctx):
    c = ctx.r.run("VERSION", None, stdin='{"cniVersion": "0.4.0"}',
                  ifname=None)
    need(c.rc == 0 and isinstance(c.doc, dict), "VERSION: %s" % c)
    need(c.doc.get("cniVersion") == "0.4.0",
         "input 0.4.0, output cniVersion %r" % c.doc.get("cniVersion"))
    # libcni's probe: fake env, no stdin config
    c = ctx.r.run("VERSION", None, cid="dummy", ifname="dummy",
                  netns="dummy", stdin='{"cniVersion": "1.0.0"}',
                  env={"CNI_PATH": "dummy"})
    need(c.rc == 0, "VERSION with libcni's dummy env: %s" % c)
    return "0.4.0 in, 0.4.0 out"


@check("version-supported", (7, 8), "supportedVersions has 0.4.0, 1.0.0, "
       "1.1.0")
def c_version_supported(ctx):
    c = ctx.r.run("VERSION", None, stdin='{"cniVersion": "1.0.0"}',
                  ifname=None)
    need(c.rc == 0 and isinstance(c.doc, dict), "VERSION: %s" % c)
    sv = c.doc.get("supportedVersions")
    need(isinstance(sv, list), "no supportedVersions: %s" % c)
    ctx.supported = sv
    missing = [v for v in ("0.4.0", "1.0.0", "1.1.0") if v not in sv]
    need(not missing, "supportedVersions %s lacks %s" % (sv, missing))
    return " ".join(sv)


@check("version-unsupported", (8,), "an unsupported cniVersion → code 1")
def c_version_unsupported(ctx):
    out = []
    for v in ("9.9.9", "0.0.1", "1.0"):
        pod = Pod(ctx)
        c = pod.add(v)
        if c.rc == 0:
            must_del(pod)
        need(c.rc != 0 and c.code == 1, "ADD with cniVersion %s: %s" %
             (v, c))
        need(pod.ifname not in links(pod.ns),
             "%s made by a refused ADD" % pod.ifname)
        must_del(pod)
        pod.gone()
        out.append(v)
    return "refused: " + ", ".join(out)


@check("gc-status-old-version", (8,), "GC/STATUS below 1.1.0 → code 1")
def c_gc_status_old(ctx):
    problems = []
    for cmd in ("GC", "STATUS"):
        for v in ("1.0.0", "0.4.0"):
            conf = ctx.profile.conf(v)
            conf["cni.dev/valid-attachments"] = []
            c = ctx.r.run(cmd, conf, ifname=None)
            if c.rc == 0 or c.code != 1:
                problems.append("%s with %s: %s" % (cmd, v, c))
    none_of(problems, 4)
    return "GC and STATUS refused at 1.0.0 and 0.4.0"


@check("check-old-version", (8,), "CHECK below 0.4.0 → code 1")
def c_check_old(ctx):
    pod = Pod(ctx)
    must_add(pod)
    conf = ctx.profile.conf("0.3.1")
    c = ctx.r.run("CHECK", conf, pod.cid, pod.ifname, pod.path)
    need(c.rc != 0 and c.code == 1, "CHECK at 0.3.1: %s" % c)
    must_del(pod)
    pod.gone()
    return "refused"


@check("env-missing", (4,), "a missing CNI_* variable → code 4 naming it")
def c_env_missing(ctx):
    cases = [("ADD", "CNI_CONTAINERID"), ("ADD", "CNI_NETNS"),
             ("ADD", "CNI_IFNAME"), ("CHECK", "CNI_CONTAINERID"),
             ("CHECK", "CNI_NETNS"), ("CHECK", "CNI_IFNAME"),
             ("DEL", "CNI_CONTAINERID"), ("DEL", "CNI_IFNAME"),
             (None, "CNI_COMMAND")]
    problems = []
    for cmd, var in cases:
        pod = Pod(ctx)
        conf = ctx.profile.conf()
        c = ctx.r.run(cmd, conf, pod.cid, pod.ifname, pod.path,
                      unset=(var,))
        if c.rc == 0 and cmd == "ADD":
            must_del(pod)
        if c.rc == 0 or c.code != 4:
            problems.append("%s without %s: %s" % (cmd, var, c))
        elif var not in c.text():
            problems.append("%s without %s: code 4 but does not name %s: "
                            "%s" % (cmd, var, var, c))
        if pod.ifname in links(pod.ns):
            problems.append("%s without %s: %s made anyway" %
                            (cmd, var, pod.ifname))
            must_del(pod)
        pod.gone()
    none_of(problems, len(cases))
    return "%d cases" % len(cases)


@check("env-invalid", (4,), "an invalid container id or ifname → code 4 "
       "naming the variable")
def c_env_invalid(ctx):
    cases = [("CNI_CONTAINERID", "-leading-dash"),
             ("CNI_CONTAINERID", "has space"),
             ("CNI_CONTAINERID", "a/b"),
             ("CNI_IFNAME", "abcdefghijklmnop"),
             ("CNI_IFNAME", "et/h0"), ("CNI_IFNAME", "et:h0"),
             ("CNI_IFNAME", "et h0"), ("CNI_IFNAME", ".."),
             ("CNI_IFNAME", ".")]
    problems = []
    for var, val in cases:
        pod = Pod(ctx)
        c = ctx.r.run("ADD", ctx.profile.conf(), pod.cid, pod.ifname,
                      pod.path, env={var: val})
        if c.rc == 0:
            # undo what the plugin made under the bad name
            ctx.r.run("DEL", ctx.profile.conf(), pod.cid, pod.ifname,
                      pod.path, env={var: val})
        pod.gone()
        if c.rc == 0 or c.code != 4:
            problems.append("ADD with %s=%r: %s" % (var, val, c))
        elif var not in c.text():
            problems.append("ADD with %s=%r: code 4 but does not name %s: "
                            "%s" % (var, val, var, c))
    none_of(problems, len(cases))
    return "%d cases" % len(cases)


@check("env-cni-path-optional", (4,), "ADD/DEL without CNI_PATH work")
def c_env_cni_path(ctx):
    pod = Pod(ctx)
    c = pod.add(unset=("CNI_PATH",))
    if c.rc != 0:
        pod.dele()
        pod.gone()
        raise Fail("ADD without CNI_PATH: %s" % c)
    c = pod.dele(unset=("CNI_PATH",))
    need(c.rc == 0, "DEL without CNI_PATH: %s" % c)
    pod.gone()
    return "ok"


@check("bad-json", (5,), "a config that is not JSON → code 6")
def c_bad_json(ctx):
    for text in ('{"cniVersion": "1.0.0", "name": ', "not json", ""):
        pod = Pod(ctx)
        c = ctx.r.run("ADD", None, pod.cid, pod.ifname, pod.path,
                      stdin=text)
        if c.rc == 0:
            must_del(pod)
        need(c.rc != 0 and c.code == 6, "ADD with stdin %r: %s" % (text, c))
        pod.gone()
    return "3 cases"


@check("bad-name", (5,), "a missing or invalid network name → code 7")
def c_bad_name(ctx):
    for name in (None, "", "-dash", "a/b", "sp ace", ".."):
        pod = Pod(ctx)
        conf = ctx.profile.conf()
        if name is None:
            del conf["name"]
        else:
            conf["name"] = name
        c = ctx.r.run("ADD", conf, pod.cid, pod.ifname, pod.path)
        if c.rc == 0:
            ctx.r.run("DEL", conf, pod.cid, pod.ifname, pod.path)
        pod.gone()
        need(c.rc != 0 and c.code == 7, "ADD with name %r: %s" % (name, c))
    return "6 cases"


@check("unknown-keys", (5,), "runtime keys and unknown keys are tolerated")
def c_unknown_keys(ctx):
    pod = Pod(ctx)
    conf = ctx.profile.conf(
        capabilities={"portMappings": True},
        runtimeConfig={"portMappings": []},
        args={"cni": {"labels": [{"key": "a", "value": "b"}]}},
        someUnknownKey={"x": 1})
    conf["cni.dev/future"] = "x"
    cni_args = ("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
                "K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=%s;"
                "K8S_POD_UID=0d4c1c2e" % pod.cid)
    c = pod.add(conf=conf, env={"CNI_ARGS": cni_args})
    if c.rc != 0:
        pod.dele()
        pod.gone()
        raise Fail("ADD with runtime and unknown keys: %s" % c)
    verify_attachment(ctx, pod, DEFAULT_VERSION)
    must_del(pod, env={"CNI_ARGS": cni_args})
    pod.gone()
    return "ADD ok with capabilities, runtimeConfig, args, cni.dev/*, " \
        "unknown keys, k8s CNI_ARGS"


def add_version(ctx, version):
    pod = Pod(ctx)
    c = pod.add(version)
    if c.rc != 0 or c.shape:
        pod.dele()
        pod.gone()
        raise Fail("ADD at %s: %s%s" % (version, c, "; " + c.shape
                                        if c.shape else ""))
    try:
        got = verify_attachment(ctx, pod, version)
    finally:
        must_del(pod)
    need(pod.ifname not in links(pod.ns), "%s still there after DEL" %
         pod.ifname)
    pod.gone()
    return got


@check("add-1.1.0", (9, 10), "ADD at 1.1.0: the interface, addresses, "
       "routes and a 1.1.0 result")
def c_add_110(ctx):
    return add_version(ctx, "1.1.0")


@check("add-1.0.0", (9, 10), "ADD at 1.0.0: the interface, addresses, "
       "routes and a 1.0.0 result")
def c_add_100(ctx):
    return add_version(ctx, "1.0.0")


@check("add-0.4.0", (9, 10), "ADD at 0.4.0: the interface, addresses, "
       "routes and a 0.4.0 result (ips[].version)")
def c_add_040(ctx):
    return add_version(ctx, "0.4.0")


@check("add-prevresult", (11,), "a chained ADD passes prevResult through")
def c_add_prev(ctx):
    pod = Pod(ctx)
    prev = {"cniVersion": DEFAULT_VERSION,
            "interfaces": [{"name": "prev0", "mac": "02:00:00:00:00:01",
                            "sandbox": pod.path}],
            "ips": [{"address": "192.0.2.77/32", "interface": 0}],
            "dns": {"nameservers": ["192.0.2.53"]}}
    conf = ctx.profile.conf(prevResult=prev)
    c = pod.add(conf=conf)
    try:
        need(c.rc == 0, "ADD with prevResult: %s" % c)
        res = c.doc
        names = [i.get("name") for i in res.get("interfaces", [])]
        need("prev0" in names, "prevResult's interface dropped: %s" % names)
        addrs_ = [x.get("address") for x in res.get("ips", [])]
        need("192.0.2.77/32" in addrs_,
             "prevResult's address dropped: %s" % addrs_)
        k = names.index("prev0")
        for x in res["ips"]:
            if x["address"] == "192.0.2.77/32":
                need(x.get("interface") == k, "prevResult's address now "
                     "points at interface %r, prev0 is %d" %
                     (x.get("interface"), k))
        need("192.0.2.53" in res.get("dns", {}).get("nameservers", []),
             "prevResult's dns dropped: %s" % res.get("dns"))
        mine = [x for x in res["ips"] if x["address"] != "192.0.2.77/32"]
        need(mine, "no address of its own")
        for x in mine:
            need(res["interfaces"][x["interface"]].get("name") ==
                 pod.ifname, "own address points at %s" %
                 res["interfaces"][x["interface"]])
    finally:
        must_del(pod)
        pod.gone()
    return "kept prev0, 192.0.2.77/32, dns; added its own"


@check("add-duplicate", (9,), "a second ADD of the same attachment fails "
       "with a plugin code (100+, not 999) and touches nothing")
def c_add_dup(ctx):
    pod = Pod(ctx)
    must_add(pod)
    before_addrs = addrs(pod.ns, pod.ifname)
    before_mac = links(pod.ns)[pod.ifname]["address"]
    before_res = ctx.profile.reservations().get((pod.cid, pod.ifname))
    first = pod.result
    c = pod.add()
    pod.result = first
    try:
        need(c.rc != 0, "the second ADD succeeded: %s" % c)
        need(pod.ifname in links(pod.ns), "%s gone after the second ADD" %
             pod.ifname)
        need(links(pod.ns)[pod.ifname]["address"] == before_mac,
             "%s was replaced" % pod.ifname)
        need(addrs(pod.ns, pod.ifname) == before_addrs,
             "addresses changed: %s → %s" % (before_addrs,
                                             addrs(pod.ns, pod.ifname)))
        need(ctx.profile.reservations().get((pod.cid, pod.ifname)) ==
             before_res, "the reservation changed")
        verify_attachment(ctx, pod, DEFAULT_VERSION)
        c2 = pod.check()
        need(c2.rc == 0, "CHECK after the refused ADD: %s" % c2)
        need(c.code is not None and 100 <= c.code < 999,
             "refused with %s" % c)
    finally:
        must_del(pod)
        pod.gone()
    return "refused with code %s, attachment intact" % c.code


def host_veths(ctx):
    return {n for n in links(ctx.host_ns) if ctx.profile.host_link.match(n)}


@check("add-ifname-exists", (9, 12), "ADD of an ifname that exists in the "
       "netns fails, touches it not, leaks nothing")
def c_add_exists(ctx):
    pod = Pod(ctx)
    sh([IP, "-n", pod.ns, "link", "add", pod.ifname, "type", "veth",
        "peer", "name", "peer0"])
    sh([IP, "-n", pod.ns, "addr", "add", "192.0.2.1/24", "dev", pod.ifname])
    mac = links(pod.ns)[pod.ifname]["address"]
    veths = host_veths(ctx)
    held = ctx.profile.all_reservations()
    c = pod.add()
    try:
        need(c.rc != 0, "ADD over an existing %s succeeded: %s" %
             (pod.ifname, c))
        link = links(pod.ns).get(pod.ifname)
        need(link and link["address"] == mac and
             link.get("link_type") == "ether" and
             addrs(pod.ns, pod.ifname) ==
             [ipaddress.ip_interface("192.0.2.1/24")],
             "the existing %s was touched: %s" % (pod.ifname, link))
        need(host_veths(ctx) == veths, "host veth left behind: %s" %
             (host_veths(ctx) - veths))
        need(ctx.profile.all_reservations() == held,
             "a reservation leaked: %s" %
             (set(ctx.profile.all_reservations()) - set(held)))
    finally:
        c2 = pod.dele()
        pod.gone()
    need(c2.rc == 0, "the runtime's DEL after the failed ADD: %s" % c2)
    # the address went back: a fresh netns still gets one
    p2 = Pod(ctx)
    must_add(p2)
    got = verify_attachment(ctx, p2, DEFAULT_VERSION)
    must_del(p2)
    p2.gone()
    return "refused (code %s), nothing leaked; then %s" % (c.code, got)


@check("add-failure-cleanup", (12,), "an ADD that fails after allocating "
       "(a second interface) leaves nothing behind")
def c_add_fail(ctx):
    pod = Pod(ctx)
    must_add(pod)
    veths = host_veths(ctx)
    held = ctx.profile.all_reservations()
    second = Pod(ctx, ifname="eth1", ns=pod.ns)
    second.cid = pod.cid
    c = second.add()
    try:
        if c.rc == 0:
            # a second interface is allowed: it must be whole
            got = verify_attachment(ctx, second, DEFAULT_VERSION)
            must_del(second)
            need("eth1" not in links(pod.ns), "eth1 left after its DEL")
            return "second interface made whole: %s" % got
        left = []
        if "eth1" in links(pod.ns):
            left.append("eth1 in the pod")
        extra = host_veths(ctx) - veths
        if extra:
            left.append("host veth %s" % sorted(extra))
        res = ctx.profile.all_reservations()
        if res != held:
            left.append("reservation %s" % (set(res) - set(held)))
        need(not left, "failed ADD (code %s) left behind: %s" %
             (c.code, ", ".join(left)))
        return "failed (code %s) and left nothing" % c.code
    finally:
        second.dele()
        verify_attachment(ctx, pod, DEFAULT_VERSION)
        must_del(pod)
        pod.gone()


@check("own-netns", (6,), "CNI_NETNS naming the plugin's own namespace "
       "is refused")
def c_own_netns(ctx):
    pod = Pod(ctx)
    own = "/run/netns/" + ctx.host_ns
    before = set(links(ctx.host_ns))
    c = ctx.r.run("ADD", ctx.profile.conf(), pod.cid, "eth9", own)
    made = set(links(ctx.host_ns)) - before
    if c.rc == 0:
        ctx.r.run("DEL", ctx.profile.conf(prevResult=c.doc), pod.cid,
                  "eth9", own)
    pod.gone()
    need(c.rc != 0, "accepted: made %s in the host namespace" %
         sorted(made))
    need("eth9" not in made, "refused, but eth9 made in the host "
         "namespace")
    return "refused with code %s" % c.code


@check("del-idempotent", (14,), "DEL twice and three times succeeds")
def c_del_idem(ctx):
    pod = Pod(ctx)
    must_add(pod)
    for k in range(3):
        c = pod.dele()
        need(c.rc == 0, "DEL #%d: %s" % (k + 1, c))
        need(not c.out.strip(), "DEL #%d printed %r" % (k + 1, c.out))
    need(pod.ifname not in links(pod.ns), "%s still there" % pod.ifname)
    pod.gone()
    return "3 DELs ok"


def gone_soon(ctx, name, secs=5):
    """NAME leaves the host namespace within SECS (a deleted netns takes
    its veth pairs with it, but asynchronously)."""
    for _ in range(secs * 10):
        if name not in links(ctx.host_ns):
            return True
        time.sleep(0.1)
    return False


def released(ctx, pod):
    need((pod.cid, pod.ifname) not in ctx.profile.reservations(),
         "%s/%s still holds %s" % (pod.cid, pod.ifname,
                                   ctx.profile.reservations().get(
                                       (pod.cid, pod.ifname))))
    hv = pod.host_ifname()
    if hv:
        need(gone_soon(ctx, hv), "host veth %s left" % hv)


@check("del-netns-gone", (14, 15), "DEL after the netns is gone succeeds "
       "and releases the address")
def c_del_gone(ctx):
    pod = Pod(ctx)
    must_add(pod)
    ctx.ns.drop(pod.ns)
    try:
        need((pod.cid, pod.ifname) in ctx.profile.reservations(),
             "no reservation after ADD: %s" % ctx.profile.reservations())
        for k in range(2):
            c = pod.dele()
            need(c.rc == 0, "DEL #%d with %s gone: %s" % (k + 1, pod.path,
                                                        c))
        released(ctx, pod)
    finally:
        pod.dele()
    return "ok, released"


@check("del-netns-empty", (14, 15), "DEL with CNI_NETNS empty or unset "
       "succeeds and releases the address")
def c_del_empty(ctx):
    out = []
    for how in ("empty", "unset"):
        pod = Pod(ctx)
        must_add(pod)
        kw = {"netns": ""} if how == "empty" else {"unset": ("CNI_NETNS",),
                                                     "netns": ""}
        try:
            c = pod.dele(**kw)
            need(c.rc == 0, "DEL with CNI_NETNS %s: %s" % (how, c))
            released(ctx, pod)
            if pod.ifname in links(pod.ns):
                out.append("%s: the pod's %s stays (no netns to enter)" %
                           (how, pod.ifname))
        finally:
            must_del(pod)
            pod.gone()
    return "; ".join(out) or "released, interface gone"


@check("del-no-prevresult", (14, 15), "DEL without prevResult succeeds "
       "and undoes the ADD")
def c_del_noprev(ctx):
    pod = Pod(ctx)
    must_add(pod)
    c = pod.dele(prev=False)
    need(c.rc == 0, "DEL without prevResult: %s" % c)
    released(ctx, pod)
    need(pod.ifname not in links(pod.ns), "%s still there" % pod.ifname)
    pod.gone()
    return "ok"


@check("del-never-added", (14,), "DEL of a container never added succeeds")
def c_del_never(ctx):
    pod = Pod(ctx)
    held = ctx.profile.all_reservations()
    for netns in (pod.path, "", "/run/netns/%s-nonexistent" % ctx.prefix):
        c = pod.dele(netns=netns)
        need(c.rc == 0, "DEL (CNI_NETNS %r): %s" % (netns, c))
    need(ctx.profile.all_reservations() == held, "reservations changed")
    pod.gone()
    return "ok with a netns, none, and a missing one"


@check("del-keyed", (15,), "DEL releases by (container id, ifname) only")
def c_del_keyed(ctx):
    pod = Pod(ctx)
    must_add(pod)
    held = ctx.profile.reservations().get((pod.cid, pod.ifname))
    other_if = ctx.r.run("DEL", ctx.profile.conf(), pod.cid, "eth9",
                         pod.path)
    other_cid = ctx.r.run("DEL", ctx.profile.conf(), pod.cid + "x",
                          pod.ifname, "")
    other_net = ctx.r.run("DEL", ctx.profile.conf(name=OTHER_NET), pod.cid,
                          pod.ifname, "")
    try:
        need(held, "no reservation after ADD")
        for what, c in (("another ifname", other_if),
                        ("another container id", other_cid),
                        ("another network", other_net)):
            need(c.rc == 0, "DEL of %s: %s" % (what, c))
        need(ctx.profile.reservations().get((pod.cid, pod.ifname)) == held,
             "a DEL of another attachment released %s" % held)
        verify_attachment(ctx, pod, DEFAULT_VERSION)
    finally:
        must_del(pod)
        pod.gone()
    return "other ifname, container id and network left %s alone" % \
        ",".join(sorted(held))


@check("del-releases", (15,), "a DEL'd attachment's address is released "
       "and not handed to the next container at once")
def c_del_releases(ctx):
    pod = Pod(ctx)
    must_add(pod)
    mine = pod.addresses()
    must_del(pod)
    released(ctx, pod)
    pod.gone()
    nxt = Pod(ctx)
    must_add(nxt)
    got = nxt.addresses()
    must_del(nxt)
    nxt.gone()
    again = {a.ip for a in mine} & {a.ip for a in got}
    need(not again, "%s handed out again at once" % sorted(again))
    return "released %s; next got %s" % (
        ",".join(map(str, mine)), ",".join(map(str, got)))


@check("check-after-add", (17,), "CHECK right after ADD succeeds")
def c_check_ok(ctx):
    out = []
    for v in ("1.0.0", "0.4.0", "1.1.0"):
        if v not in ctx.supported:
            continue
        pod = Pod(ctx)
        must_add(pod, v)
        c = pod.check()
        must_del(pod)
        pod.gone()
        need(c.rc == 0, "CHECK at %s: %s" % (v, c))
        need(not c.out.strip(), "CHECK printed %r" % c.out)
        out.append(v)
    return "ok at " + ", ".join(out)


METRICS_URL = "http://127.0.0.1:9477/metrics"


def cni_latency(ctx):
    """command -> (count, +Inf bucket) of stratad's CNI latency histogram."""
    p = subprocess.run([IP, "netns", "exec", ctx.host_ns, "curl", "-sf",
                        "--max-time", "5", METRICS_URL],
                       capture_output=True, text=True, timeout=10)
    need(p.returncode == 0, "curl %s: exit %d" % (METRICS_URL, p.returncode))
    got = {}
    pat = re.compile(r'^strata_cni_request_duration_seconds_(count|bucket)'
                     r'\{plugin="cni",command="([A-Z]+)"(,le="\+Inf")?\} '
                     r'(\d+)$')
    for line in p.stdout.splitlines():
        m = pat.match(line)
        if m and (m.group(1) == "count" or m.group(3)):
            c = got.setdefault(m.group(2), [0, 0])
            c[0 if m.group(1) == "count" else 1] = int(m.group(4))
    return got


@check("metrics", (), "stratad's /metrics counts each ADD, CHECK and DEL in "
       "its latency histogram")
def c_metrics(ctx):
    n = 3
    before = cni_latency(ctx)
    for _ in range(n):
        pod = Pod(ctx)
        must_add(pod)
        c = pod.check()
        must_del(pod)
        pod.gone()
        need(c.rc == 0, "CHECK: %s" % c)
    after = cni_latency(ctx)
    for cmd in ("ADD", "CHECK", "DEL"):
        b = before.get(cmd, [0, 0])[0]
        a = after.get(cmd, [0, 0])
        need(a[0] - b == n, "%s: %d observed after %d requests (%s)" %
             (cmd, a[0] - b, n, after))
        need(a[1] == a[0], "%s: +Inf bucket %d, count %d" % (cmd, a[1], a[0]))
    return "ADD %d, CHECK %d, DEL %d observed" % (
        after["ADD"][0], after["CHECK"][0], after["DEL"][0])


def check_fails_after(ctx, what, damage, prev=True):
    pod = Pod(ctx)
    must_add(pod)
    try:
        c = pod.check()
        need(c.rc == 0, "CHECK before the damage: %s" % c)
        damage(pod)
        c = pod.check(prev=prev)
        need(c.rc != 0, "CHECK passed with %s" % what)
        return c
    finally:
        must_del(pod)
        pod.gone()


@check("check-no-prevresult", (17,), "CHECK without prevResult fails")
def c_check_noprev(ctx):
    c = check_fails_after(ctx, "no prevResult", lambda p: None, prev=False)
    return "failed with code %s" % c.code


@check("check-default-route", (17,), "CHECK fails once the pod's default "
       "route is gone")
def c_check_route(ctx):
    def damage(pod):
        sh([IP, "-n", pod.ns, "route", "del", "default"])
    c = check_fails_after(ctx, "the default route gone", damage)
    return "failed with code %s" % c.code


@check("check-address", (17,), "CHECK fails once the pod's address is gone")
def c_check_addr(ctx):
    def damage(pod):
        a = pod.addresses()[0]
        sh([IP, "-n", pod.ns, "addr", "del", str(
            ipaddress.ip_interface("%s/%d" % (a.ip, a.network.prefixlen))),
            "dev", pod.ifname])
    c = check_fails_after(ctx, "the address gone", damage)
    return "failed with code %s" % c.code


@check("check-mac", (17,), "CHECK fails when prevResult's MAC differs")
def c_check_mac(ctx):
    def damage(pod):
        for i in pod.result["interfaces"]:
            if i.get("sandbox"):
                i["mac"] = "02:de:ad:be:ef:01"
    c = check_fails_after(ctx, "another MAC in prevResult", damage)
    return "failed with code %s" % c.code


@check("check-host-route", (17,), "the host route removed: CHECK fails, or "
       "the daemon has already put it back")
def c_check_host_route(ctx):
    pod = Pod(ctx)
    must_add(pod)
    try:
        a = pod.addresses()[0]
        dst = ipaddress.ip_network(a.ip)
        sh([IP, "-n", ctx.host_ns, "route", "del", str(dst)])
        c = pod.check()
        back = any(d == dst for d, _ in routes(ctx.host_ns, a.version))
        if c.rc == 0:
            need(back, "CHECK passed with the host route gone")
            note = "CHECK passed: the route was already back"
        else:
            note = "CHECK failed (code %s)" % c.code
        if ctx.profile.has_daemon:
            # does stratad restate it by itself (the resync)?
            for _ in range(100):
                if any(d == dst for d, _ in routes(ctx.host_ns, a.version)):
                    note += "; stratad put the route back"
                    break
                time.sleep(0.1)
            else:
                note += "; the route stayed gone for 10 s"
    finally:
        must_del(pod)
        pod.gone()
    return note


def gc_conf(ctx, valid, key, name=NET):
    conf = ctx.profile.conf("1.1.0", name=name)
    conf[key] = [{"containerID": p.cid, "ifname": p.ifname} for p in valid]
    return conf


@check("gc", (19,), "GC (1.1.0) releases what is not in the valid "
       "attachments (both key spellings), keeps what is, and no other "
       "network's")
def c_gc(ctx):
    keep = Pod(ctx)
    c = keep.add("1.1.0")
    if c.rc != 0:
        keep.dele()
        keep.gone()
        # the verb itself, so the deviation shows what the plugin says
        g = ctx.r.run("GC", gc_conf(ctx, [], "cni.dev/valid-attachments"),
                      ifname=None)
        raise Fail("ADD at 1.1.0: %s; GC: %s" % (c, g))
    gone = [Pod(ctx) for _ in range(2)]
    try:
        for p in gone:
            must_add(p, "1.1.0")
        # another network's GC with nothing valid: ours untouched
        c = ctx.r.run("GC", gc_conf(ctx, [], "cni.dev/valid-attachments",
                                    OTHER_NET), ifname=None)
        need(c.rc == 0, "GC of %s: %s" % (OTHER_NET, c))
        res = ctx.profile.reservations()
        need(all((p.cid, p.ifname) in res for p in [keep] + gone),
             "GC of another network released ours")
        # the netns of a GC'd attachment is gone (the runtime says so)
        for p in gone:
            ctx.ns.drop(p.ns)
        c = ctx.r.run("GC", gc_conf(ctx, [keep],
                                    "cni.dev/valid-attachments"),
                      ifname=None)
        need(c.rc == 0, "GC: %s" % c)
        need(not c.out.strip(), "GC printed %r" % c.out)
        res = ctx.profile.reservations()
        for p in gone:
            need((p.cid, p.ifname) not in res, "GC kept %s" % p.cid)
            hv = p.host_ifname()
            need(not hv or hv not in links(ctx.host_ns),
                 "GC left host veth %s" % hv)
        need((keep.cid, keep.ifname) in res, "GC released a valid one")
        verify_attachment(ctx, keep, "1.1.0")
        # the spec-v1.1.0 spelling
        late = Pod(ctx)
        must_add(late, "1.1.0")
        ctx.ns.drop(late.ns)
        c = ctx.r.run("GC", gc_conf(ctx, [keep], "cni.dev/attachments"),
                      ifname=None)
        need(c.rc == 0, "GC (cni.dev/attachments): %s" % c)
        res = ctx.profile.reservations()
        need((late.cid, late.ifname) not in res,
             "GC with cni.dev/attachments kept %s" % late.cid)
        need((keep.cid, keep.ifname) in res,
             "GC with cni.dev/attachments released a valid one")
        c = keep.check()
        need(c.rc == 0, "CHECK of the kept attachment: %s" % c)
        # a DEL after GC is still fine
        need(late.dele().rc == 0, "DEL after GC failed")
    finally:
        for p in gone:
            p.dele()
            p.gone()
        must_del(keep)
        keep.gone()
    return "released 3, kept 1, other network's GC touched nothing"


@check("status", (18,), "STATUS (1.1.0) succeeds while the plugin is ready")
def c_status(ctx):
    c = ctx.r.run("STATUS", ctx.profile.conf("1.1.0"), ifname=None)
    need(c.rc == 0, "STATUS: %s" % c)
    need(not c.out.strip(), "STATUS printed %r" % c.out)
    return "ok"


@check("status-down", (18,), "STATUS with stratad stopped → code 50")
def c_status_down(ctx):
    ctx.profile.stop()
    try:
        c = ctx.r.run("STATUS", ctx.profile.conf("1.1.0"), ifname=None)
        need(c.rc != 0 and c.code == 50, "STATUS, stratad stopped: %s" % c)
        need(c.dt < DOWN_LIMIT, "STATUS took %.1f s" % c.dt)
    finally:
        ctx.profile.start()
    c = ctx.r.run("STATUS", ctx.profile.conf("1.1.0"), ifname=None)
    need(c.rc == 0, "STATUS after the restart: %s" % c)
    return "code 50 in %.2f s; ok again after the restart" % c.dt


@check("daemon-down", (16,), "ADD/DEL/CHECK/GC with stratad stopped → "
       "code 11, quickly, nothing made")
def c_daemon_down(ctx):
    old = Pod(ctx)
    must_add(old)
    ctx.down_pods = (old, None)
    ctx.profile.stop()
    new = Pod(ctx)
    ctx.down_pods = (old, new)
    times = []
    for what, c in (
            ("ADD", new.add()),
            ("DEL", old.dele()),
            ("CHECK", old.check()),
            ("GC", ctx.r.run("GC", gc_conf(ctx, [old],
                                           "cni.dev/valid-attachments"),
                             ifname=None)),
            ("DEL of the failed ADD", new.dele())):
        need(c.rc != 0 and c.code == 11, "%s, stratad stopped: %s" %
             (what, c))
        need(c.dt < DOWN_LIMIT, "%s took %.1f s" % (what, c.dt))
        need(ctx.args.cni_sock in c.text(), "%s: the error does not name "
             "the socket: %s" % (what, c))
        times.append(c.dt)
    need(new.ifname not in links(new.ns), "ADD made %s" % new.ifname)
    return "code 11 in at most %.2f s" % max(times)


@check("daemon-back", (16, 17), "after stratad restarts: the old pod "
       "CHECKs ok and keeps its address, the failed ones DEL")
def c_daemon_back(ctx):
    old, new = getattr(ctx, "down_pods", (None, None))
    need(old is not None and new is not None, "daemon-down did not run")
    if ctx.profile.pid is None:
        ctx.profile.start()
    before = set(map(str, old.addresses()))
    c = old.check()
    need(c.rc == 0, "CHECK of a pod added before the restart: %s" % c)
    held = ctx.profile.reservations().get((old.cid, old.ifname), set())
    need({str(a.ip) for a in old.addresses()} == held,
         "its reservation %s, result %s" % (held, before))
    c = new.dele()
    need(c.rc == 0, "DEL of the ADD that failed while down: %s" % c)
    new.gone()
    must_del(old)
    released(ctx, old)
    old.gone()
    return "CHECK ok, kept %s; DELs ok" % ",".join(sorted(before))


@check("concurrent", (13, 14), "ADD of many pods 8 at a time: unique "
       "addresses, pod-to-pod ping; concurrent DEL leaves nothing")
def c_concurrent(ctx):
    n = ctx.args.pods
    veths = host_veths(ctx)
    pods = [Pod(ctx) for _ in range(n)]
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        adds = list(ex.map(lambda p: p.add(), pods))
    t_add = time.monotonic() - t0
    try:
        bad = [(p.cid, str(c)) for p, c in zip(pods, adds) if c.rc != 0]
        need(not bad, "%d of %d ADDs failed, e.g. %s" % (len(bad), n,
                                                       bad[:3]))
        seen = {}
        for p in pods:
            for a in p.addresses():
                need(str(a.ip) not in seen, "%s given to %s and %s" %
                     (a.ip, seen.get(str(a.ip)), p.cid))
                seen[str(a.ip)] = p.cid
        for p in pods:
            have = {x.ip for x in addrs(p.ns, p.ifname)}
            need({a.ip for a in p.addresses()} <= have,
                 "%s lacks its addresses" % p.cid)

        def ping(k):
            src, dst = pods[k], pods[(k + 1) % n]
            for a in dst.addresses():
                fam = "-%d" % a.version
                ok = False
                for _ in range(3):
                    r = sh([IP, "netns", "exec", src.ns, PING, fam, "-c1",
                            "-W2", str(a.ip)], check=False)
                    if r.returncode == 0:
                        ok = True
                        break
                if not ok:
                    return "%s → %s (%s)" % (src.cid, a.ip, dst.cid)
            return None
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            lost = [x for x in ex.map(ping, range(n)) if x]
        need(not lost, "%d pings lost, e.g. %s" % (len(lost), lost[:3]))
    finally:
        t1 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            dels = list(ex.map(lambda p: p.dele(), pods))
        t_del = time.monotonic() - t1
        for p in pods:
            p.gone()
    bad = [(p.cid, str(c)) for p, c in zip(pods, dels) if c.rc != 0]
    need(not bad, "%d DELs failed, e.g. %s" % (len(bad), bad[:3]))
    extra = [v for v in host_veths(ctx) - veths if not gone_soon(ctx, v)]
    need(not extra, "host veths left: %s" % sorted(extra)[:5])
    left = ctx.profile.reservations()
    need(not any(p.cid == k[0] for p in pods for k in left),
         "reservations left: %s" % list(left)[:5])
    return "%d pods, %d addresses; ADD %.1f s, DEL %.1f s" % (
        n, len(seen), t_add, t_del)


@check("nothing-left", (14, 15), "after every check: no host veth, no "
       "reservation")
def c_nothing_left(ctx):
    extra = [v for v in host_veths(ctx) if not gone_soon(ctx, v)]
    need(not extra, "host veths left: %s" % sorted(extra))
    left = ctx.profile.all_reservations()
    need(not left, "reservations left: %s" % sorted(left)[:10])
    return "clean"


@check("stdout-one-json", (1, 2), "every call: stdout is one JSON document "
       "(or empty on a silent success) and the exit status fits")
def c_stdout(ctx):
    bad = [(c.cmd, c.shape) for c in ctx.r.calls if c.shape]
    need(not bad, "%d calls, e.g. %s" % (len(bad), bad[:3]))
    return "%d calls" % len(ctx.r.calls)


@check("error-object", (3,), "every error: code (≠0), msg and cniVersion")
def c_errors(ctx):
    errs = [c for c in ctx.r.calls if c.rc != 0 and isinstance(c.doc, dict)]
    for c in errs:
        need(c.code, "error without a code: %s" % c)
        need(isinstance(c.doc.get("msg"), str) and c.doc["msg"],
             "error without msg: %s" % c)
    nov = [c for c in errs if "cniVersion" not in c.doc]
    need(not nov, "%d of %d errors have no cniVersion, e.g. %s" %
         (len(nov), len(errs), nov[0] if nov else ""))
    return "%d errors" % len(errs)


# ---- the run -----------------------------------------------------------------

class Ctx:
    pass


def judge(profile, name, status, detail, items):
    """PASS/FAIL/DEVIATION against the profile's table of deviations."""
    dev = profile.expected.get(name)
    if dev is None:
        return status, detail
    reason, pattern = dev
    if status == "PASS":
        return "FAIL", "expected deviation did not occur (%s): %s" % (
            reason, detail)
    if all(re.search(pattern, it, re.S) for it in items):
        return "DEVIATION", "%s [%s]" % (reason, detail)
    return "FAIL", "deviates otherwise than expected (%s): %s" % (
        reason, detail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("profile", choices=("ref", "strata"))
    ap.add_argument("--host-ns", required=True)
    ap.add_argument("--ns-prefix", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--stratad")
    ap.add_argument("--stratad-conf")
    ap.add_argument("--ctl-sock")
    ap.add_argument("--cni-sock")
    ap.add_argument("--store")
    ap.add_argument("--strata-cni")
    ap.add_argument("--only", default="")
    ap.add_argument("--pods", type=int,
                    default=int(os.environ.get("CNI_PODS", "100")))
    args = ap.parse_args()
    # a TERM (run.sh's timeout) still stops stratad and drops namespaces
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    profile = (RefProfile if args.profile == "ref" else StrataProfile)(args)
    ctx = Ctx()
    ctx.args = args
    ctx.profile = profile
    ctx.host_ns = args.host_ns
    ctx.prefix = args.ns_prefix
    ctx.ns = Namespaces(args.ns_prefix)
    ctx.r = Runner(args.host_ns, profile.plugin, profile.env)
    ctx.pods = []
    ctx.supported = ["0.4.0", "1.0.0", "1.1.0"]
    only = set(x for x in args.only.split(",") if x)
    rows = []
    t0 = time.monotonic()
    try:
        profile.start()
        for name, musts, title, fn in CHECKS:
            if only and name not in only and name not in (
                    "stdout-one-json", "error-object", "nothing-left"):
                continue
            mref = ",".join("M%d" % m for m in musts)
            if name in profile.na:
                rows.append((name, mref, "N/A", profile.na[name]))
            else:
                t = time.monotonic()
                try:
                    status, detail = "PASS", fn(ctx) or ""
                    items = []
                except Fail as e:
                    status, detail, items = "FAIL", str(e), e.items
                except (OSError, ValueError, KeyError, IndexError,
                        TypeError, subprocess.SubprocessError) as e:
                    status, detail = "FAIL", "%s: %s" % (
                        type(e).__name__, e)
                    items = [detail]
                status, detail = judge(profile, name, status, detail,
                                       items)
                detail += " (%.1f s)" % (time.monotonic() - t)
                rows.append((name, mref, status, detail))
            print("%-9s %-22s %s" % (rows[-1][2], name, rows[-1][3]),
                  flush=True)
    finally:
        try:
            profile.stop()
        except Fail:
            pass
        if profile.has_daemon and profile.bad_exits:
            # the sanitizer build reports leaks and errors at exit
            rows.append(("stratad-exit", "-", "FAIL", "stratad " +
                         "; ".join(profile.bad_exits)))
        ctx.ns.drop_all()
    print()
    print("CNI conformance, profile %s (%s), %.0f s" % (
        profile.name, profile.plugin, time.monotonic() - t0))
    print("%-22s %-9s %-10s %s" % ("check", "MUST", "result", "detail"))
    for name, mref, status, detail in rows:
        print("%-22s %-9s %-10s %s" % (name, mref, status,
                                         detail[:160]))
    counts = {}
    for r in rows:
        counts[r[2]] = counts.get(r[2], 0) + 1
    print("profile %s: %s" % (profile.name, ", ".join(
        "%d %s" % (v, k) for k, v in sorted(counts.items()))))
    with open(os.path.join(args.workdir, "results.json"), "w") as f:
        json.dump([dict(zip(("check", "must", "result", "detail"), r))
                   for r in rows], f, indent=1)
    if profile.has_daemon and counts.get("FAIL"):
        sys.stdout.write("stratad's last lines:\n" + profile.tail())
    sys.exit(1 if counts.get("FAIL") else 0)


if __name__ == "__main__":
    main()
