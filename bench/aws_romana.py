"""The anchor of the aws benchmarks: Romana v2.0's vpc-router emulated.

Run in the aws namespace with the Python that has boto3 (moto_python),
with the admin key, against the same moto, through an ec2_proxy.py.

  aws_romana.py passes --passes N SPEC...
        N of vpc-router's passes back to back (handle_spec: the VPC's
        overview, then the spec applied), no host failed
  aws_romana.py watch --state FILE SPEC...
        Romana's failover: one loop ticking every second, each host
        probed every 2 s (one echo, 1 s timeout, as bench/failover.py's
        anchor); when a route's forwarder misses a probe, a pass moves
        the route to another member that answered its last one. FILE
        (JSON, rewritten each tick): {"hosts": {NAME: {"up", "sent"}},
        "routes": {DST: NAME}}, sent in time.monotonic()

SPEC: --endpoint URL --key K --secret S [--region R] --vpc VPC
      --member NAME=ADDR,ENI ... --route DST=NAME,NAME... ...
(a route's first member is its forwarder at the start).

A pass is vpc-router's handle_spec (romana/vpc-router, vpcrouter/vpc):
get_vpc_overview makes five Describe calls, DescribeAvailabilityZones,
DescribeVpcs (all), then DescribeSubnets, DescribeRouteTables and
DescribeInstances filtered by the VPC; then every route table's routes
to an interface are checked against the spec and replaced when their
forwarder failed, and the spec's missing routes created. One deviation:
vpc-router deletes every instance route that is not in its spec; here
routes outside the spec are left alone, so that strata's routes in the
same tables survive the anchor.
"""
import argparse
import json
import os
import select
import socket
import sys
import time

import boto3
import botocore.config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from failover import echo, parse_reply  # noqa: E402


class Spec:
    def __init__(self, a):
        self.addr, self.eni = {}, {}
        for kv in a.member:
            name, v = kv.split("=")
            self.addr[name], self.eni[name] = v.split(",")
        self.members = {}
        for kv in a.route:
            dst, names = kv.split("=")
            self.members[dst] = names.split(",")
        self.fwd = {d: m[0] for d, m in self.members.items()}
        self.vpc = a.vpc
        self.ec2 = boto3.client(
            "ec2", endpoint_url=a.endpoint, region_name=a.region,
            aws_access_key_id=a.key, aws_secret_access_key=a.secret,
            config=botocore.config.Config(
                retries={"total_max_attempts": 1, "mode": "standard"}))


def overview(s):
    """get_vpc_overview: five Describe calls."""
    f = [{"Name": "vpc-id", "Values": [s.vpc]}]
    s.ec2.describe_availability_zones()
    s.ec2.describe_vpcs()
    s.ec2.describe_subnets(Filters=f)
    rts = s.ec2.describe_route_tables(Filters=f)["RouteTables"]
    s.ec2.describe_instances(Filters=f)
    return rts


def one_pass(s, failed):
    """handle_spec: (describes, mutations) made. FAILED: members down."""
    rts = overview(s)
    mutations = 0
    by_eni = {e: n for n, e in s.eni.items()}
    for dst, members in s.members.items():
        if s.fwd[dst] in failed:
            ok = [m for m in members if m not in failed]
            if ok:
                s.fwd[dst] = ok[0]
    for rt in rts:
        seen = set()
        for r in rt.get("Routes") or []:
            dst = r.get("DestinationCidrBlock")
            if dst not in s.members:
                continue
            seen.add(dst)
            cur = by_eni.get(r.get("NetworkInterfaceId"))
            if cur == s.fwd[dst] and cur not in failed:
                continue
            s.ec2.replace_route(RouteTableId=rt["RouteTableId"],
                                DestinationCidrBlock=dst,
                                NetworkInterfaceId=s.eni[s.fwd[dst]])
            mutations += 1
        for dst in s.members:
            if dst not in seen:
                s.ec2.create_route(RouteTableId=rt["RouteTableId"],
                                   DestinationCidrBlock=dst,
                                   NetworkInterfaceId=s.eni[s.fwd[dst]])
                mutations += 1
    return 5, mutations


def passes(a):
    s = Spec(a)
    for i in range(a.passes):
        d, m = one_pass(s, set())
        print("pass %d: %d describes, %d mutations" % (i + 1, d, m),
              flush=True)


def write_state(path, up, sent, fwd):
    state = {"hosts": {h: {"up": up[h], "sent": sent[h]} for h in up},
             "routes": fwd}
    with open(path + ".new", "w") as f:
        json.dump(state, f)
    os.replace(path + ".new", path)


def watch(a):
    s = Spec(a)
    names = sorted(s.addr)
    up = {h: True for h in names}
    sent = {h: 0.0 for h in names}
    one_pass(s, set())  # the spec's routes in place
    write_state(a.state, up, sent, s.fwd)
    nxt = {h: i % 2 for i, h in enumerate(names)}  # tick of next probe
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    seq = 0
    start = time.monotonic()
    tick = 0
    while True:
        now = time.monotonic()
        if now < start + tick:
            time.sleep(start + tick - now)
        due = [h for h in names if nxt[h] <= tick]
        waiting = {}
        for h in due:
            seq = (seq + 1) & 0xffff
            waiting[seq] = h
            sent[h] = time.monotonic()
            nxt[h] = tick + 2
            try:
                sock.sendto(echo(ident, seq), (s.addr[h], 0))
            except OSError:
                pass
        answered = set()
        deadline = time.monotonic() + 1.0
        while waiting and time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [],
                                    max(0, deadline - time.monotonic()))
            if not r:
                break
            got = parse_reply(sock.recv(2048), ident)
            if got and got[1] in waiting and \
                    s.addr[waiting[got[1]]] == got[0]:
                answered.add(waiting.pop(got[1]))
        for h in due:
            up[h] = h in answered
        failed = {h for h in names if not up[h]}
        if any(s.fwd[d] in failed for d in s.members):
            try:
                one_pass(s, failed)
            except Exception as e:  # tried again next tick, as vpc-router
                print("pass failed: %s" % e, file=sys.stderr, flush=True)
        write_state(a.state, up, sent, s.fwd)
        tick += 1
        # a round that waited out its timeout is late: catch up, as a
        # sequential loop would
        tick = max(tick, int(time.monotonic() - start))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("passes", "watch"):
        x = sub.add_parser(name)
        x.add_argument("--endpoint", required=True)
        x.add_argument("--key", required=True)
        x.add_argument("--secret", required=True)
        x.add_argument("--region", default="us-east-1")
        x.add_argument("--vpc", required=True)
        x.add_argument("--member", action="append", default=[])
        x.add_argument("--route", action="append", default=[])
        if name == "passes":
            x.add_argument("--passes", type=int, required=True)
        else:
            x.add_argument("--state", required=True)
    a = p.parse_args()
    {"passes": passes, "watch": watch}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
