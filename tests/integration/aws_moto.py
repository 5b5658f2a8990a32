# SPDX-License-Identifier: Apache-2.0
"""Build and inspect the fake VPC the aws-vpc advertiser's tests run against.

moto_server stands in for EC2 and IAM with signature checking on, so the
plugin is tested with a user whose policy grants only what it needs.

Run with the pyenv Python that has moto and boto3. From any cwd, and even
when PATH lacks pyenv's shims, `moto_python` in aws-lib.sh prints it: the
first of python3 on PATH, ${PYENV_ROOT:-~/.pyenv}/shims/python3 (which
follows PYENV_VERSION, then .python-version up from the cwd, then
$PYENV_ROOT/version) and $PYENV_ROOT/versions/*/bin/python3 that imports
both, as the interpreter's real path (sys.executable), so no pyenv version
selection is involved once found.

    aws_moto.py setup --endpoint URL --out STATE.json [--zones 3]
        [--subnets-per-zone 2] [--instances-per-subnet 2]
        [--main-table-subnets N] [--region us-east-1]

Start moto with INITIAL_NO_AUTH_ACTION_COUNT=6 (NO_AUTH_REQUESTS): setup's
first six requests go unauthenticated and create IAM user "strata-admin"
(allow everything) and "strata-plugin" (PLUGIN_ACTIONS only, Resource
"*"), each with an access key (create user, put policy, create key). The
seventh is signed with a made-up key and must be refused, which proves
auth is on; everything after is signed with strata-admin's key. Fails
clearly when auth turned on too early (K too small) or not at all (K too
large).

Then a VPC 10.0.0.0/16; zone Z (0-based, us-east-1a, -b, ...) gets subnets
10.0.(Z*16+S).0/24 for S in 0..subnets-per-zone-1; each subnet gets
instances-per-subnet instances; every subnet gets its own route table,
explicitly associated, except the last --main-table-subnets subnets,
which use the VPC's main table implicitly. STATE.json:
  {"region", "endpoint", "vpc_id", "vpc_cidr", "main_table",
   "admin": {"key", "secret"}, "plugin": {"key", "secret"},
   "subnets": [{"id", "zone", "cidr", "route_table", "explicit"}],
   "instances": [{"id", "eni", "ip", "mac", "subnet", "zone"}]}
(a main-table subnet's route_table is the main table, explicit false).

Inspection and changes, with strata-admin's key (--endpoint overrides the
state's, e.g. to go through tests/fixtures/ec2_proxy.py):
  routes --state S [--table RTB]     {"rtb-...": [{"dst", "eni",
                                     "instance", "gateway", "state",
                                     "origin"}]} for every table of the VPC
  delete-route --state S --table RTB --dst CIDR
  create-route --state S --table RTB --dst CIDR --eni ENI
  source-dest-check --state S --eni ENI          prints true or false
  associate --state S --subnet SUBNET --table RTB   (re)associates;
                                     the main table: implicitly
  selftest --state S                 moto must refuse a bad signature and
                                     strata-plugin's CreateSubnet, and
                                     allow strata-plugin every action of
                                     PLUGIN_ACTIONS (a route to
                                     192.0.2.0/24 in the main table made,
                                     replaced and deleted; an interface's
                                     source/dest check set to what it
                                     was); exits 1 otherwise
"""

import argparse
import json
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

# The IAM actions the aws-vpc advertiser needs, granted on Resource "*"
# (moto evaluates EC2 permissions against "*" only).
PLUGIN_ACTIONS = [
    "ec2:DescribeRouteTables",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:DeleteRoute",
    "ec2:DescribeNetworkInterfaces",
    "ec2:ModifyNetworkInterfaceAttribute",
]

ADMIN_USER = "strata-admin"
PLUGIN_USER = "strata-plugin"
# Unauthenticated requests setup makes: per user, create + policy + key.
NO_AUTH_REQUESTS = 6
VPC_CIDR = "10.0.0.0/16"
SELFTEST_CIDR = "192.0.2.0/24"  # TEST-NET-1: made and removed by selftest
IMAGE_ID = "ami-12c6146b"  # one of moto's built-in images
# Made-up credentials for the unauthenticated requests and the auth probe.
ANON = ("AKIAANONYMOUSSTRATA0", "anonymous-secret")


class Fail(Exception):
    pass


def policy(actions):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions,
                       "Resource": "*"}],
    })


def client(service, endpoint, region, creds):
    # No retries: a refused request must show, not be retried away.
    cfg = botocore.config.Config(retries={"total_max_attempts": 1,
                                          "mode": "standard"})
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=creds[0],
                        aws_secret_access_key=creds[1], config=cfg)


def err_code(e):
    return e.response.get("Error", {}).get("Code", "?")


def make_user(iam, name, actions):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name + "-policy",
                        PolicyDocument=policy(actions))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return {"key": k["AccessKeyId"], "secret": k["SecretAccessKey"]}


def make_users(endpoint, region):
    iam = client("iam", endpoint, region, ANON)
    done = 0
    try:
        admin = make_user(iam, ADMIN_USER, ["*"])
        done = 3
        plugin = make_user(iam, PLUGIN_USER, PLUGIN_ACTIONS)
        done = 6
    except ClientError as e:
        raise Fail("unauthenticated request %d of %d refused (%s): start "
                   "moto with INITIAL_NO_AUTH_ACTION_COUNT=%d on a fresh "
                   "server" % (done + 1, NO_AUTH_REQUESTS, err_code(e),
                               NO_AUTH_REQUESTS))
    # Request 7 must be checked: a made-up key is refused.
    probe = client("ec2", endpoint, region, ANON)
    try:
        probe.describe_vpcs()
    except ClientError as e:
        if err_code(e) in ("AuthFailure", "InvalidClientTokenId",
                           "UnrecognizedClientException"):
            return admin, plugin
        raise Fail("auth probe: unexpected %s" % err_code(e))
    raise Fail("moto accepted a request with a made-up key after "
               "setup's first %d: auth is not on; start moto with "
               "INITIAL_NO_AUTH_ACTION_COUNT=%d"
               % (NO_AUTH_REQUESTS, NO_AUTH_REQUESTS))


def zone_name(region, z):
    return region + chr(ord("a") + z)


def cmd_setup(a):
    if a.zones < 1 or a.zones > 6 or a.subnets_per_zone < 1 \
       or a.subnets_per_zone > 16 or a.instances_per_subnet < 0:
        raise Fail("zones 1..6, subnets-per-zone 1..16, "
                   "instances-per-subnet >= 0")
    total = a.zones * a.subnets_per_zone
    if a.main_table_subnets < 0 or a.main_table_subnets > total:
        raise Fail("--main-table-subnets must be 0..%d" % total)
    admin, plugin = make_users(a.endpoint, a.region)
    ec2 = client("ec2", a.endpoint, a.region,
                 (admin["key"], admin["secret"]))

    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
    main = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vpc]},
        {"Name": "association.main", "Values": ["true"]},
    ])["RouteTables"][0]["RouteTableId"]

    subnets = []
    instances = []
    n = 0
    for z in range(a.zones):
        zone = zone_name(a.region, z)
        for s in range(a.subnets_per_zone):
            cidr = "10.0.%d.0/24" % (z * 16 + s)
            sid = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr,
                                    AvailabilityZone=zone)["Subnet"][
                                        "SubnetId"]
            explicit = n < total - a.main_table_subnets
            n += 1
            rtb = main
            if explicit:
                rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"][
                    "RouteTableId"]
                ec2.associate_route_table(RouteTableId=rtb, SubnetId=sid)
            subnets.append({"id": sid, "zone": zone, "cidr": cidr,
                            "route_table": rtb, "explicit": explicit})
            if a.instances_per_subnet == 0:
                continue
            r = ec2.run_instances(ImageId=IMAGE_ID, InstanceType="t3.micro",
                                  MinCount=a.instances_per_subnet,
                                  MaxCount=a.instances_per_subnet,
                                  SubnetId=sid)
            for i in r["Instances"]:
                eni = [x for x in i["NetworkInterfaces"]
                       if x["Attachment"]["DeviceIndex"] == 0][0]
                instances.append({
                    "id": i["InstanceId"],
                    "eni": eni["NetworkInterfaceId"],
                    "ip": eni["PrivateIpAddress"],
                    "mac": eni["MacAddress"],
                    "subnet": sid, "zone": zone})

    state = {"region": a.region, "endpoint": a.endpoint, "vpc_id": vpc,
             "vpc_cidr": VPC_CIDR, "main_table": main,
             "admin": admin, "plugin": plugin,
             "subnets": subnets, "instances": instances}
    with open(a.out, "w") as f:
        json.dump(state, f, indent=1)
        f.write("\n")


def load(a):
    with open(a.state) as f:
        st = json.load(f)
    ep = a.endpoint or st["endpoint"]
    return st, ep


def admin_ec2(a):
    st, ep = load(a)
    return st, client("ec2", ep, st["region"],
                      (st["admin"]["key"], st["admin"]["secret"]))


def route_view(r):
    return {
        "dst": r.get("DestinationCidrBlock")
        or r.get("DestinationIpv6CidrBlock")
        or r.get("DestinationPrefixListId"),
        "eni": r.get("NetworkInterfaceId"),
        "instance": r.get("InstanceId"),
        "gateway": r.get("GatewayId"),
        "state": r.get("State"),
        "origin": r.get("Origin"),
    }


def cmd_routes(a):
    st, ec2 = admin_ec2(a)
    filters = [{"Name": "vpc-id", "Values": [st["vpc_id"]]}]
    if a.table:
        filters.append({"Name": "route-table-id", "Values": [a.table]})
    out = {}
    tok = None
    for _ in range(1000):  # moto answers in one page; bounded anyway
        kw = {"Filters": filters}
        if tok:
            kw["NextToken"] = tok
        r = ec2.describe_route_tables(**kw)
        for t in r["RouteTables"]:
            out[t["RouteTableId"]] = [route_view(x) for x in t["Routes"]]
        tok = r.get("NextToken")
        if not tok:
            break
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


def dst_arg(dst):
    if ":" in dst:
        return {"DestinationIpv6CidrBlock": dst}
    return {"DestinationCidrBlock": dst}


def cmd_delete_route(a):
    _, ec2 = admin_ec2(a)
    ec2.delete_route(RouteTableId=a.table, **dst_arg(a.dst))


def cmd_create_route(a):
    _, ec2 = admin_ec2(a)
    ec2.create_route(RouteTableId=a.table, NetworkInterfaceId=a.eni,
                     **dst_arg(a.dst))


def cmd_source_dest_check(a):
    _, ec2 = admin_ec2(a)
    r = ec2.describe_network_interfaces(NetworkInterfaceIds=[a.eni])
    v = r["NetworkInterfaces"][0]["SourceDestCheck"]
    print("true" if v else "false")


def cmd_associate(a):
    st, ec2 = admin_ec2(a)
    r = ec2.describe_route_tables(Filters=[
        {"Name": "association.subnet-id", "Values": [a.subnet]}])
    for t in r["RouteTables"]:
        for assoc in t.get("Associations", []):
            if assoc.get("SubnetId") != a.subnet:
                continue
            if t["RouteTableId"] == a.table:
                return
            if a.table == st["main_table"]:
                # back to the main table implicitly, as setup makes them
                ec2.disassociate_route_table(
                    AssociationId=assoc["RouteTableAssociationId"])
                return
            ec2.replace_route_table_association(
                AssociationId=assoc["RouteTableAssociationId"],
                RouteTableId=a.table)
            return
    if a.table != st["main_table"]:
        ec2.associate_route_table(RouteTableId=a.table, SubnetId=a.subnet)


def expect_refused(what, codes, fn):
    try:
        fn()
    except ClientError as e:
        if err_code(e) in codes:
            print("ok: %s refused (%s)" % (what, err_code(e)))
            return True
        print("FAIL: %s refused with %s, not %s"
              % (what, err_code(e), "/".join(codes)))
        return False
    print("FAIL: moto accepted %s" % what)
    return False


def cmd_selftest(a):
    st, ep = load(a)
    region = st["region"]
    plug = (st["plugin"]["key"], st["plugin"]["secret"])
    ok = True
    bad = client("ec2", ep, region, (plug[0], plug[1] + "x"))
    ok &= expect_refused("a bad signature", ("AuthFailure",),
                         lambda: bad.describe_route_tables())
    ec2 = client("ec2", ep, region, plug)
    ok &= expect_refused(
        "strata-plugin's CreateSubnet",
        ("AccessDenied", "UnauthorizedOperation"),
        lambda: ec2.create_subnet(VpcId=st["vpc_id"],
                                  CidrBlock="10.0.255.0/24"))
    # every action of PLUGIN_ACTIONS allowed, leaving nothing changed
    rtb = st["main_table"]
    eni = st["instances"][0]["eni"] if st["instances"] else None
    dst = {"RouteTableId": rtb, "DestinationCidrBlock": SELFTEST_CIDR}
    calls = [
        ("DescribeRouteTables", lambda: ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [st["vpc_id"]]}])),
    ]
    if eni:
        calls += [
            ("DescribeNetworkInterfaces",
             lambda: ec2.describe_network_interfaces(
                 NetworkInterfaceIds=[eni])),
            ("CreateRoute", lambda: ec2.create_route(
                NetworkInterfaceId=eni, **dst)),
            ("ReplaceRoute", lambda: ec2.replace_route(
                NetworkInterfaceId=eni, **dst)),
            ("DeleteRoute", lambda: ec2.delete_route(**dst)),
        ]
    for name, fn in calls:
        try:
            fn()
        except ClientError as e:
            print("FAIL: strata-plugin's %s: %s" % (name, err_code(e)))
            ok = False
    if eni:
        sdc = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])[
            "NetworkInterfaces"][0]["SourceDestCheck"]
        try:
            ec2.modify_network_interface_attribute(
                NetworkInterfaceId=eni, SourceDestCheck={"Value": sdc})
        except ClientError as e:
            print("FAIL: strata-plugin's ModifyNetworkInterfaceAttribute: "
                  "%s" % err_code(e))
            ok = False
    if ok:
        print("ok: strata-plugin allowed %s"
              % ", ".join(a.split(":")[1] for a in PLUGIN_ACTIONS))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("setup")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--zones", type=int, default=3)
    s.add_argument("--subnets-per-zone", type=int, default=2)
    s.add_argument("--instances-per-subnet", type=int, default=2)
    s.add_argument("--main-table-subnets", type=int, default=0)
    s.add_argument("--region", default="us-east-1")

    def with_state(name):
        x = sub.add_parser(name)
        x.add_argument("--state", required=True)
        x.add_argument("--endpoint", help="override the state's endpoint")
        return x

    with_state("routes").add_argument("--table")
    x = with_state("delete-route")
    x.add_argument("--table", required=True)
    x.add_argument("--dst", required=True)
    x = with_state("create-route")
    x.add_argument("--table", required=True)
    x.add_argument("--dst", required=True)
    x.add_argument("--eni", required=True)
    with_state("source-dest-check").add_argument("--eni", required=True)
    x = with_state("associate")
    x.add_argument("--subnet", required=True)
    x.add_argument("--table", required=True)
    with_state("selftest")

    a = p.parse_args()
    fn = {"setup": cmd_setup, "routes": cmd_routes,
          "delete-route": cmd_delete_route,
          "create-route": cmd_create_route,
          "source-dest-check": cmd_source_dest_check,
          "associate": cmd_associate, "selftest": cmd_selftest}[a.cmd]
    try:
        return fn(a) or 0
    except Fail as e:
        print("aws_moto.py %s: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    except ClientError as e:
        print("aws_moto.py %s: %s" % (a.cmd, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
