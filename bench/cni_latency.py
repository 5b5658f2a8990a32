"""ADD/DEL latency of strata-cni against ptp + host-local, same harness.

Runs in the node's namespace; each pod gets a fresh netns. Every call is
timed from just before exec to the plugin's exit, as a runtime sees it.
"""
import argparse
import json
import os
import subprocess
import threading
import time


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def run(binary, cmd, cid, netns, conf, cni_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
           "CNI_IFNAME": "eth0", "CNI_PATH": cni_path}
    t0 = time.perf_counter()
    r = subprocess.run([binary], input=conf.encode(), env=env,
                       capture_output=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit("%s %s %s failed: %s %s" % (binary, cmd, cid,
                                                     r.stdout, r.stderr))
    return dt * 1000.0


def bench(name, binary, conf, cni_path, prefix, pods, parallel):
    nss = ["%s-%s-%d" % (prefix, name, i) for i in range(pods)]
    for ns in nss:
        subprocess.run(["ip", "netns", "add", ns], check=True)
    add, dele = [], []
    lock = threading.Lock()

    errors = []

    def worker(part, what, out):
        try:
            for ns in part:
                ms = run(binary, what, ns, "/run/netns/" + ns, conf,
                         cni_path)
                with lock:
                    out.append(ms)
        except BaseException as e:  # reported after the join
            errors.append(e)

    for what, out in (("ADD", add), ("DEL", dele)):
        parts = [nss[i::parallel] for i in range(parallel)]
        ts = [threading.Thread(target=worker, args=(p, what, out))
              for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise SystemExit("%s: %s" % (name, errors[0]))
    for ns in nss:
        subprocess.run(["ip", "netns", "del", ns], check=True)
    return add, dele


def bare_link_del(prefix, pods, parallel):
    """`ip link del` of a veth whose peer is in a pod netns, `parallel`
    at a time like the plugins' DELs."""
    out = []
    lock = threading.Lock()
    ns = "%s-bare%d" % (prefix, parallel)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    for i in range(pods):
        subprocess.run(["ip", "link", "add", "bare%d" % i, "type", "veth",
                        "peer", "name", "eth%d" % i, "netns", ns],
                       check=True)

    def worker(part):
        for i in part:
            t0 = time.perf_counter()
            subprocess.run(["ip", "link", "del", "bare%d" % i], check=True)
            with lock:
                out.append((time.perf_counter() - t0) * 1000.0)

    ts = [threading.Thread(target=worker, args=(range(pods)[k::parallel],))
          for k in range(parallel)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    subprocess.run(["ip", "netns", "del", ns], check=True)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pods", type=int, default=100)
    for k in ("ns-prefix", "strata", "socket", "cni-dir", "data"):
        p.add_argument("--" + k, required=True)
    a = p.parse_args()
    strata = json.dumps({"cniVersion": "1.0.0", "name": "bench",
                         "type": "strata-cni", "socket": a.socket})
    ref = json.dumps({"cniVersion": "1.0.0", "name": "benchref",
                      "type": "ptp", "ipMasq": False,
                      "ipam": {"type": "host-local",
                               "subnet": "10.200.0.0/16",
                               "dataDir": a.data}})
    ptp = os.path.join(a.cni_dir, "ptp")
    print("# ms per call, %d pods; columns: p50 p99" % a.pods)
    results = {}
    for par in (1, 2):
        # alternate which goes first, so neither always meets a cold cache
        order = [("strata", a.strata, strata), ("ref", ptp, ref)]
        if par == 2:
            order.reverse()
        for name, binary, conf in order:
            results[(name, par)] = bench(name + str(par), binary, conf,
                                         a.cni_dir, a.ns_prefix, a.pods,
                                         par)
    for par in (1, 2):
        bare = bare_link_del(a.ns_prefix, a.pods, par)
        bp50, bp99 = pct(bare, 50), pct(bare, 99)
        sa, sd = results[("strata", par)]
        ra, rd = results[("ref", par)]
        print("parallel %d" % par)
        print("  bare ip link del        %7.2f %7.2f" % (bp50, bp99))
        print("  ADD strata-cni          %7.2f %7.2f" % (pct(sa, 50),
                                                        pct(sa, 99)))
        print("  ADD ptp+host-local      %7.2f %7.2f" % (pct(ra, 50),
                                                        pct(ra, 99)))
        print("  DEL strata-cni          %7.2f %7.2f" % (pct(sd, 50),
                                                        pct(sd, 99)))
        print("  DEL ptp+host-local      %7.2f %7.2f" % (pct(rd, 50),
                                                        pct(rd, 99)))
        for q in (50, 99):
            r = pct(sa, q) / pct(ra, q)
            print("  ratio ADD p%d strata/ref: %.2fx (goal < 0.35: %s)"
                  % (q, r, "met" if r < 0.35 else "MISSED"))
        for q, b in ((50, bp50), (99, bp99)):
            r = pct(sd, q) / b
            print("  ratio DEL p%d strata/bare ip link del: %.2fx "
                  "(goal <= 1.1: %s)" % (q, r, "met" if r <= 1.1 else
                                         "MISSED"))


if __name__ == "__main__":
    main()
