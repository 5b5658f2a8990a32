#!/bin/bash
# Every series conf/grafana-strata.json queries is one stratad exposes (the
# families core/metrics.c knows, which docs/architecture.md lists too), and
# every family is documented.
set -euo pipefail

: "${top_srcdir:?}"
exec python3 - "$top_srcdir" <<'PY'
import json, re, sys

top = sys.argv[1]
src = open(top + "/core/metrics.c").read()
table = src[src.index("helps[] = {"):]
table = table[:table.index("};")]
known = set(re.findall(r'\{ "([a-z_][a-z0-9_]*)",', table))
hist = {k for k in known if k.endswith("_seconds")}
if len(known) < 20:
    sys.exit("core/metrics.c: found only %d families" % len(known))

dash = json.load(open(top + "/conf/grafana-strata.json"))
if dash["__inputs"][0]["name"] != "DS_PROMETHEUS":
    sys.exit("the dashboard's datasource is not the ${DS_PROMETHEUS} input")
bad, used = [], set()
for p in dash["panels"]:
    if p["datasource"]["uid"] != "${DS_PROMETHEUS}":
        bad.append("panel %r: datasource %r" % (p["title"], p["datasource"]))
    for t in p["targets"]:
        for name in re.findall(r"\bstrata_([a-z0-9_]+)", t["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            fam = base if base in hist else name
            if fam not in known:
                bad.append("panel %r queries strata_%s" % (p["title"], name))
            used.add(fam)
doc = open(top + "/docs/architecture.md").read()
for k in sorted(known):
    if "strata_" + k not in doc:
        bad.append("docs/architecture.md does not list strata_" + k)
if bad:
    sys.exit("\n".join(bad))
print("ok: %d series queried, all exposed; %d families documented"
      % (len(used), len(known)))
PY
