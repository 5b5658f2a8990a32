#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The minimal etcd client bench/etcd-client.sh times strata's against: the
# same create-if-absent txn as store_create(), over one keep-alive
# connection with http.client.
#   etcd-client.py cas URLS SECONDS TAG
#       prints: minimal 1 claims_per_s p50_ms p99_ms
#   etcd-client.py failover URLS PID TAG [TIMEOUT_MS]
#       claims for 1 s, kills PID (the leader), retries across the
#       endpoints until a claim succeeds, each attempt given TIMEOUT_MS
#       (default 2000, strata's); prints: failover seconds failed
import base64
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

VALUE = base64.b64encode(b"value-of-some-length").decode()
HEADERS = {"Content-Type": "application/json",
           "Grpc-Metadata-hasleader": "true"}


def body(key):
    k = base64.b64encode(key.encode()).decode()
    return json.dumps({
        "compare": [{"key": k, "target": "CREATE", "result": "EQUAL",
                     "create_revision": "0"}],
        "success": [{"request_put": {"key": k, "value": VALUE}}],
        "failure": []}).encode()


class Client:
    def __init__(self, urls, timeout=2.0):
        self.timeout = timeout
        self.eps = [urllib.parse.urlsplit(u).netloc for u in urls.split(",")]
        self.cur = 0
        self.conn = None

    def claim(self, key):
        """True if the claim was made; raises on a transport error."""
        if self.conn is None:
            host, port = self.eps[self.cur].rsplit(":", 1)
            self.conn = http.client.HTTPConnection(host, int(port),
                                                   timeout=self.timeout)
        self.conn.request("POST", "/v3/kv/txn", body(key), HEADERS)
        r = self.conn.getresponse()
        data = r.read()
        return r.status == 200 and json.loads(data).get("succeeded", False)

    def next_endpoint(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.cur = (self.cur + 1) % len(self.eps)


def pct(v, q):
    v.sort()
    return v[len(v) * q // 100] * 1e3 if v else 0.0


def cas(urls, secs, tag):
    c = Client(urls)
    lat = []
    t_warm = time.monotonic() + 0.5
    t_end = t_warm + secs
    ops = seq = 0
    while True:
        t0 = time.monotonic()
        if t0 >= t_end:
            break
        seq += 1
        if not c.claim("bench/%s/minimal/%d" % (tag, seq)):
            sys.exit("etcd-client.py: claim %d refused" % seq)
        if t0 >= t_warm:
            lat.append(time.monotonic() - t0)
            ops += 1
    print("minimal 1 %.0f %.3f %.3f" % (ops / (t_end - t_warm),
                                       pct(lat, 50), pct(lat, 99)))


def failover(urls, pid, tag, timeout):
    c = Client(urls, timeout)
    seq = 0
    end = time.monotonic() + 1
    while time.monotonic() < end:
        seq += 1
        if not c.claim("bench/%s/failover/%d" % (tag, seq)):
            sys.exit("etcd-client.py: claim before the kill refused")
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    for _ in range(2000):
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    break
        except (OSError, IndexError):
            break
        time.sleep(0.001)
    failed = 0
    while time.monotonic() < t_kill + 30:
        seq += 1
        try:
            if c.claim("bench/%s/failover/%d" % (tag, seq)):
                print("failover %.3f %d" % (time.monotonic() - t_kill,
                                            failed))
                return
        except (OSError, http.client.HTTPException):
            pass
        failed += 1
        c.next_endpoint()
        if c.cur == 0:
            time.sleep(0.01)
    sys.exit("etcd-client.py: no claim within 30 s")


def main():
    a = sys.argv
    if len(a) == 5 and a[1] == "cas":
        cas(a[2], int(a[3]), a[4])
    elif len(a) in (5, 6) and a[1] == "failover":
        failover(a[2], int(a[3]), a[4],
                 int(a[5]) / 1e3 if len(a) == 6 else 2.0)
    else:
        sys.exit("usage: etcd-client.py cas URLS SECONDS TAG | "
                 "failover URLS PID TAG [TIMEOUT_MS]")


if __name__ == "__main__":
    main()
