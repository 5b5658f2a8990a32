"""Drive pods through strata-cni while stratad is killed and restarted.

Plays a container runtime: ADD a pod in a fresh netns, DEL a live one,
and after a failed ADD a DEL (the spec: "a delete must still be executed
even if the add fails"), retried until it succeeds. A killer thread sends
SIGKILL to stratad at random moments and starts it again. The checks at
the end are the crash-safety promises; any breach exits non-zero.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class Daemon:
    def __init__(self, a):
        self.a = a
        self.proc = None
        self.lock = threading.Lock()
        self.log = open(a.log, "ab")

    def start(self):
        with self.lock:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.a.host_ns, self.a.stratad,
                 "-c", self.a.conf], stdout=self.log, stderr=self.log)
        for _ in range(200):
            r = sh(self.a.stratactl, "-s", self.a.ctl, "version",
                   check=False)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise SystemExit("stratad did not come up")

    def kill(self):
        with self.lock:
            p = self.proc
            self.proc = None
        if p:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)

    def stop(self):
        with self.lock:
            p = self.proc
            self.proc = None
        if p:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def cni(a, cmd, cid, netns=True, extra=None):
    env = dict(os.environ, CNI_COMMAND=cmd, CNI_PATH="/nonexistent",
               CNI_IFNAME="eth0")
    conf = json.load(open(a.net))
    if cid:
        env["CNI_CONTAINERID"] = cid
        env["CNI_NETNS"] = "/run/netns/%s-%s" % (a.ns_prefix, cid) \
            if netns else ""
    if extra:
        conf.update(extra)
    r = subprocess.run(["ip", "netns", "exec", a.host_ns, a.cni],
                       input=json.dumps(conf), env=env,
                       capture_output=True, text=True, timeout=60)
    out = json.loads(r.stdout) if r.stdout.strip() else {}
    return r.returncode, out


def main():
    p = argparse.ArgumentParser()
    for k in ("host-ns", "ns-prefix", "stratad", "stratactl", "conf", "ctl",
              "cni", "net", "log"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--kills", type=int, default=30)
    p.add_argument("--seed", type=int,
                   default=int(os.environ.get("STRATA_TEST_SEED", "5")))
    a = p.parse_args()
    rnd = random.Random(a.seed)
    print("seed %d (STRATA_TEST_SEED)" % a.seed, flush=True)

    d = Daemon(a)
    d.start()
    live = {}          # cid -> address
    undeleted = set()  # ADD failed or DEL failed: the runtime owes a DEL
    seq = 0
    failed = {"ADD": 0, "DEL": 0}
    done = threading.Event()
    kills = [0]

    def killer():
        krnd = random.Random(a.seed + 1)
        while not done.is_set() and kills[0] < a.kills:
            if done.wait(krnd.uniform(0.1, 1.2)):
                break
            d.kill()
            kills[0] += 1
            d.start()

    t = threading.Thread(target=killer)
    t.start()
    try:
        for i in range(a.ops):
            if undeleted and rnd.random() < 0.3:
                cid = rnd.choice(sorted(undeleted))
                rc, _ = cni(a, "DEL", cid)
                if rc == 0:
                    undeleted.discard(cid)
                    sh("ip", "netns", "del", "%s-%s" % (a.ns_prefix, cid))
                else:
                    failed["DEL"] += 1
                continue
            if len(live) < 5 or rnd.random() < 0.55:
                seq += 1
                cid = "c%05d" % seq
                sh("ip", "netns", "add", "%s-%s" % (a.ns_prefix, cid))
                rc, out = cni(a, "ADD", cid)
                if rc == 0:
                    live[cid] = out["ips"][0]["address"].split("/")[0]
                else:
                    failed["ADD"] += 1
                    undeleted.add(cid)
            else:
                cid = rnd.choice(sorted(live))
                rc, _ = cni(a, "DEL", cid)
                del live[cid]
                if rc == 0:
                    sh("ip", "netns", "del", "%s-%s" % (a.ns_prefix, cid))
                else:
                    failed["DEL"] += 1
                    undeleted.add(cid)
    finally:
        done.set()
        t.join()
    print("%d operations, %d kills, %d ADDs and %d DELs failed while "
          "stratad was down or dying, %d live pods, %d DELs owed"
          % (a.ops, kills[0], failed["ADD"], failed["DEL"], len(live),
             len(undeleted)), flush=True)
    if kills[0] < a.kills // 2 or not failed["ADD"] + failed["DEL"]:
        raise SystemExit("the kills did not land inside operations")

    try:
        check(a, d, live, undeleted)
    finally:
        d.stop()


def check(a, d, live, undeleted):
    bad = []
    # the runtime retries its DELs until they succeed
    for _ in range(100):
        for cid in sorted(undeleted):
            rc, _ = cni(a, "DEL", cid)
            if rc == 0:
                undeleted.discard(cid)
                sh("ip", "netns", "del", "%s-%s" % (a.ns_prefix, cid))
        if not undeleted:
            break
        time.sleep(0.2)
    if undeleted:
        raise SystemExit("DEL never succeeded for %s" % sorted(undeleted))
    # and runs GC with what it knows to be alive
    valid = [{"containerID": c, "ifname": "eth0"} for c in sorted(live)]
    rc, out = cni(a, "GC", None,
                  extra={"cni.dev/valid-attachments": valid})
    if rc != 0:
        bad.append("GC failed: %s" % out)

    # no address twice, and each pod holds what ADD said
    seen = {}
    for cid, addr in sorted(live.items()):
        r = sh("ip", "-n", "%s-%s" % (a.ns_prefix, cid), "-j", "addr",
               "show", "dev", "eth0", check=False)
        have = [x["local"] for i in json.loads(r.stdout or "[]")
                for x in i.get("addr_info", []) if x["family"] == "inet"]
        if have != [addr]:
            bad.append("%s holds %s, ADD said %s" % (cid, have, addr))
        if addr in seen:
            bad.append("%s given to %s and %s" % (addr, seen[addr], cid))
        seen[addr] = cid

    # the IPAM holds exactly the live pods' addresses
    topo = json.loads(sh(a.stratactl, "-s", a.ctl, "--json",
                         "topology").stdout)
    used = sum(h["addresses_used"] for h in topo["hosts"])
    if used != len(live):
        bad.append("the IPAM holds %d addresses for %d live pods"
                   % (used, len(live)))

    # a veth for each live pod, and none for a pod that is gone
    links = json.loads(sh("ip", "-n", a.host_ns, "-j", "link", "show",
                          "type", "veth").stdout)
    pod_links = [x["ifname"] for x in links if x["ifname"].startswith("st")]
    if len(pod_links) != len(live):
        bad.append("%d pod veths for %d live pods" % (len(pod_links),
                                                      len(live)))

    # every live pod answers its node
    procs = {cid: subprocess.Popen(
        ["ip", "netns", "exec", a.host_ns, "ping", "-c", "1", "-W", "2",
         "-q", addr], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for cid, addr in live.items()}
    for cid, pr in procs.items():
        if pr.wait(timeout=10) != 0:
            bad.append("%s (%s) does not answer" % (cid, live[cid]))

    # and one more pod still gets an address
    sh("ip", "netns", "add", "%s-last" % a.ns_prefix)
    rc, out = cni(a, "ADD", "last")
    if rc != 0:
        bad.append("ADD after the run failed: %s" % out)
    elif out["ips"][0]["address"].split("/")[0] in seen:
        bad.append("ADD after the run got a live pod's address")

    for b in bad:
        print("FAIL:", b, flush=True)
    if bad:
        sys.exit(1)
    print("no address twice, no leak, %d live pods reachable" % len(live))


if __name__ == "__main__":
    main()
