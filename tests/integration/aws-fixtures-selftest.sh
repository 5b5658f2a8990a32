#!/bin/bash
# The aws-vpc tests' own fixtures, checked against a real moto_server on
# 127.0.0.1 (signature checking on): aws_moto.py setup and selftest, then
# tests/fixtures/ec2_proxy.py in front of moto, driven with boto3 as
# strata-plugin: each fault kind fires its count and is gone, faults
# queue, page_size splits DescribeRouteTables and NextToken walks it,
# route_limit refuses the N+1th route per family, blackhole shows, stats
# count right, keep-alive holds, moto still checks signatures and policy.
# Without moto: SKIP (exit 77), or a failure under CI=true.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$here/aws-lib.sh"

if ! PY=$(moto_python) || ! MOTO=$(moto_server_cmd "$PY"); then
	if [ "${CI:-}" = true ]; then
		echo "FAIL: moto is missing (CI=true)" >&2
		exit 1
	fi
	echo "SKIP: moto and boto3 not found"
	exit 77
fi

T=$(mktemp -d /tmp/strata-awsfx.XXXXXX)
pids=()

cleanup() {
	local rc=$? pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$rc" != 0 ]; then
		for f in moto.log proxy.err; do
			[ -f "$T/$f" ] || continue
			echo "--- $f (tail)"
			tail -n 20 "$T/$f"
		done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# wait_line FILE REGEX: the first match's first group, within 10 s
wait_line() {
	local v
	for _ in $(seq 100); do
		v=$(sed -nE "s|$2|\\1|p" "$1" 2>/dev/null | head -n 1)
		[ -n "$v" ] && {
			echo "$v"
			return 0
		}
		sleep 0.1
	done
	return 1
}

start=$SECONDS
INITIAL_NO_AUTH_ACTION_COUNT=6 "$MOTO" -H 127.0.0.1 -p 0 \
	>"$T/moto.log" 2>&1 &
pids+=($!)
mport=$(wait_line "$T/moto.log" '.*Running on http://[0-9.]+:([0-9]+).*') ||
	fail "moto_server did not start"
moto=http://127.0.0.1:$mport
echo "ok: moto_server at $moto ($MOTO)"

"$PY" "$here/aws_moto.py" setup --endpoint "$moto" --out "$T/state.json" \
	--instances-per-subnet 1 --main-table-subnets 1 ||
	fail "aws_moto.py setup"
echo "ok: setup ($((SECONDS - start)) s so far)"
"$PY" "$here/aws_moto.py" selftest --state "$T/state.json" ||
	fail "aws_moto.py selftest"

read -r akey asecret < <("$PY" -c 'import json, sys
s = json.load(open(sys.argv[1]))["admin"]
print(s["key"], s["secret"])' "$T/state.json")
"$PY" "$src/tests/fixtures/ec2_proxy.py" --listen 127.0.0.1:0 \
	--upstream "$moto" --admin-key "$akey" --admin-secret "$asecret" \
	>"$T/proxy.out" 2>"$T/proxy.err" &
pids+=($!)
pport=$(wait_line "$T/proxy.out" '^port ([0-9]+)$') ||
	fail "ec2_proxy.py did not start"
proxy=http://127.0.0.1:$pport
echo "ok: ec2_proxy.py at $proxy"

"$PY" "$here/aws_moto.py" selftest --state "$T/state.json" \
	--endpoint "$proxy" >/dev/null || fail "selftest through the proxy"
echo "ok: moto checks signature and policy through the proxy"

"$PY" - "$T/state.json" "$proxy" <<'EOF' || fail "proxy checks"
import http.client
import json
import sys
import time
import urllib.request

import boto3
import botocore.config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.exceptions import ReadTimeoutError

st = json.load(open(sys.argv[1]))
proxy = sys.argv[2]
vpc = st["vpc_id"]
tables = sorted({s["route_table"] for s in st["subnets"]})
rtb = st["subnets"][0]["route_table"]
enis = [i["eni"] for i in st["instances"]]


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok: " + what)


def ctl(path, obj=None):
    data = None if obj is None else json.dumps(obj).encode()
    req = urllib.request.Request(proxy + "/_proxy/" + path, data=data,
                                 method="GET" if obj is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


cfg = botocore.config.Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    read_timeout=5, connect_timeout=5)
ec2 = boto3.client("ec2", endpoint_url=proxy, region_name=st["region"],
                   aws_access_key_id=st["plugin"]["key"],
                   aws_secret_access_key=st["plugin"]["secret"], config=cfg)


def describe(**kw):
    return ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}], **kw)


def code(fn):
    try:
        fn()
    except ClientError as e:
        return (e.response["Error"]["Code"],
                e.response["ResponseMetadata"]["HTTPStatusCode"])
    return None


ctl("reset-stats", {})
t0 = time.monotonic()

# each kind fires once, then is gone
for kind, want in [("throttle", ("RequestLimitExceeded", 503)),
                   ("throttle400", ("EC2ThrottledException", 400)),
                   ("5xx", ("InternalError", 500)),
                   ("error", ("InvalidRoute.NotFound", 404))]:
    f = {"match": "DescribeRouteTables", "kind": kind}
    if kind == "error":
        f.update(status=404, code="InvalidRoute.NotFound", message="gone")
    ctl("fault", f)
    check(code(describe) == want, "%s answers %s %d" % ((kind,) + want))
    check(code(describe) is None, "%s is gone after one" % kind)

ctl("fault", {"match": "*", "kind": "timeout", "delay": 1})
t = time.monotonic()
try:
    describe()
    check(False, "timeout answered")
except (ConnectionClosedError, ReadTimeoutError):
    pass
check(time.monotonic() - t >= 1, "timeout held 1 s, then closed")
check(code(describe) is None, "timeout is gone after one")

ctl("fault", {"match": "DescribeRouteTables", "kind": "slow",
              "delay": 0.6})
t = time.monotonic()
n = len(describe()["RouteTables"])
check(time.monotonic() - t >= 0.6 and n == len(tables),
      "slow answers moto's tables after 0.6 s")

# count and queueing; "mutating" leaves Describe alone
ctl("fault", {"match": "mutating", "kind": "throttle", "count": 2})
ctl("fault", {"match": "CreateRoute", "kind": "5xx"})
mk = lambda d: lambda: ec2.create_route(  # noqa: E731
    RouteTableId=rtb, DestinationCidrBlock=d, NetworkInterfaceId=enis[0])
check(code(describe) is None, "mutating fault spares DescribeRouteTables")
check(code(mk("10.200.0.0/24")) == ("RequestLimitExceeded", 503),
      "queued fault 1, 1st")
check(code(lambda: ec2.delete_route(
    RouteTableId=rtb, DestinationCidrBlock="10.200.0.0/24")) ==
      ("RequestLimitExceeded", 503), "queued fault 1, 2nd")
check(code(mk("10.200.0.0/24")) == ("InternalError", 500), "queued fault 2")
check(code(mk("10.200.0.0/24")) is None,
      "queue empty: CreateRoute reaches moto")
check(ctl("stats")["faults"] == [], "no fault pending")

s = ctl("stats")
check(s["calls"].get("DescribeRouteTables") == 12
      and s["calls"].get("CreateRoute") == 3
      and s["calls"].get("DeleteRoute") == 1 and s["mutating"] == 4,
      "stats count every call, faulted or not")
log = s["log"]
check(len(log) == 16 and all(t0 <= e["t"] <= time.monotonic() for e in log)
      and all(log[i]["t"] <= log[i + 1]["t"] for i in range(len(log) - 1)),
      "log times are time.monotonic(), in order")
check([e["fault"] for e in log[:3]] == ["throttle", None, "throttle400"]
      and log[0]["status"] == 503 and log[1]["status"] == 200
      and log[8]["status"] is None and log[8]["fault"] == "timeout",
      "log says which fault answered")
check(log[-1]["params"].get("DestinationCidrBlock") == "10.200.0.0/24"
      and log[-1]["params"].get("Version") == "2016-11-15",
      "log carries the form parameters")
ctl("reset-stats", {})
check(ctl("stats")["calls"] == {}, "reset-stats")

# pagination
all_ids = sorted(t["RouteTableId"] for t in describe()["RouteTables"])
check(all_ids == tables, "unpaged: every table of the VPC")
ctl("config", {"page_size": 2})
ids, tok, pages = [], None, 0
for _ in range(10):
    r = describe(NextToken=tok) if tok else describe()
    pages += 1
    check(len(r["RouteTables"]) <= 2, "page %d: at most 2 tables" % pages)
    ids += [t["RouteTableId"] for t in r["RouteTables"]]
    tok = r.get("NextToken")
    if not tok:
        break
check(pages == (len(tables) + 1) // 2 and sorted(ids) == tables,
      "page_size 2: %d pages walked with NextToken, every table once"
      % pages)
check(code(lambda: describe(NextToken="nope")) == ("InvalidNextToken", 400),
      "unknown NextToken: InvalidNextToken")
r = describe()
bad = boto3.client("ec2", endpoint_url=proxy, region_name=st["region"],
                   aws_access_key_id=st["plugin"]["key"],
                   aws_secret_access_key="wrong", config=cfg)
check(code(lambda: bad.describe_route_tables(NextToken=r["NextToken"]))
      == ("AuthFailure", 401), "a NextToken request still has its "
      "signature checked")
ctl("config", {"page_size": None})
check(len(describe()["RouteTables"]) == len(tables)
      and "NextToken" not in describe(), "page_size null: one page")

# route_limit: per table, per family, origin CreateRoute only
ctl("reset-stats", {})
ctl("config", {"route_limit": 2})
check(code(mk("10.201.0.0/24")) is None, "route 2 of 2 accepted")
check(code(mk("10.202.0.0/24")) == ("RouteLimitExceeded", 400),
      "route 3 of 2 refused: RouteLimitExceeded")
check(code(mk("10.201.0.0/24")) == ("RouteAlreadyExists", 400),
      "an existing destination: RouteAlreadyExists before the limit")
mk6 = lambda: ec2.create_route(  # noqa: E731
    RouteTableId=rtb, DestinationIpv6CidrBlock="fd00:1::/64",
    NetworkInterfaceId=enis[0])
check(code(mk6) is None, "IPv6 has its own budget")
check(code(mk6) == ("RouteAlreadyExists", 400),
      "an existing IPv6 destination: RouteAlreadyExists")
check(code(lambda: ec2.create_route(
    RouteTableId=tables[-1] if tables[-1] != rtb else tables[0],
    DestinationCidrBlock="10.202.0.0/24", NetworkInterfaceId=enis[0]))
      is None, "another table has its own budget")
check(code(lambda: ec2.replace_route(
    RouteTableId=rtb, DestinationCidrBlock="10.201.0.0/24",
    NetworkInterfaceId=enis[1])) is None, "ReplaceRoute at the limit is fine")
check(ctl("stats")["calls"] == {"CreateRoute": 6, "ReplaceRoute": 1},
      "the proxy's own Describe calls are not counted")
ctl("config", {"route_limit": None})
check(code(mk("10.202.0.0/24")) is None, "route_limit null: off")
ctl("config", {"route_exists": False})
check(code(mk("10.202.0.0/24")) is None,
      "route_exists false: moto's own answer (it overwrites)")

# blackhole
ctl("config", {"blackhole": [enis[0]]})
states = {}
for t in describe()["RouteTables"]:
    for x in t["Routes"]:
        states.setdefault(x.get("NetworkInterfaceId"), set()).add(x["State"])
check(states[enis[0]] == {"blackhole"} and states[None] == {"active"}
      and states[enis[1]] == {"active"},
      "blackhole: routes to that interface only")
ctl("config", {"blackhole": [enis[0]], "page_size": 1})
r = describe()
r2 = describe(NextToken=r["NextToken"])
check(len(r2["RouteTables"]) == 1, "blackhole and page_size together")
ctl("clear", {})
check(ctl("config") == {"route_limit": None, "page_size": None,
                        "blackhole": [], "route_exists": None},
      "clear: config back to defaults")
check(all(x["State"] == "active" for t in describe()["RouteTables"]
          for x in t["Routes"]), "clear: no blackhole")

# keep-alive and framing, on one client connection
host, port = proxy[len("http://"):].split(":")
c = http.client.HTTPConnection(host, int(port), timeout=10)
sock = None
forged = {  # moto picks the service from the credential scope
    "Content-Type": "application/x-www-form-urlencoded",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=" + st["plugin"]["key"]
    + "/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, "
    "Signature=" + "0" * 64}
for i in range(3):
    c.request("POST", "/", body="Action=DescribeVpcs&Version=2016-11-15",
              headers=forged)
    r = c.getresponse()
    body = r.read()
    check(r.status == 401 and b"AuthFailure" in body
          and r.getheader("Content-Length") == str(len(body))
          and not r.will_close and (sock is None or c.sock is sock),
          "forged signature %d: moto's 401, same connection" % (i + 1))
    sock = c.sock
ctl("fault", {"match": "*", "kind": "throttle"})
c.request("POST", "/", body="Action=DescribeVpcs&Version=2016-11-15")
r = c.getresponse()
body = r.read()
check(r.status == 503 and r.getheader("Content-Type") == "text/xml"
      and b"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
      b"<Message>Request limit exceeded.</Message></Error></Errors>"
      b"<RequestID>" in body and not r.will_close and c.sock is sock,
      "a fault's answer keeps the connection too")
c.close()
EOF

echo "ok: all in $((SECONDS - start)) s"
