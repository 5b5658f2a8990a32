#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Consistency of conf/kubernetes/: every object well formed as its kind
requires, every volume mount backed by a volume, the paths the containers
run present in the packages, the ConfigMap's files present, the RBAC rules
covering what stratad watches. Usage: manifests.py SRCDIR"""
import json
import os
import sys

import yaml

errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def main():
    top = sys.argv[1]
    kdir = os.path.join(top, "conf", "kubernetes")
    with open(os.path.join(kdir, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    docs = []
    for res in kust.get("resources", []):
        with open(os.path.join(kdir, res)) as f:
            for d in yaml.safe_load_all(f):
                if d is not None:
                    docs.append((res, d))
    for gen in kust.get("configMapGenerator", []):
        for name in gen.get("files", []):
            if not os.path.isfile(os.path.join(kdir, name)):
                err("kustomization.yaml", f"configMapGenerator file {name} is missing")
    images = {i["name"] for i in kust.get("images", [])}

    # the CNI config the DaemonSet installs is the one the project ships
    with open(os.path.join(kdir, "10-strata.conflist")) as a, \
            open(os.path.join(top, "conf", "10-strata.conflist")) as b:
        if json.load(a) != json.load(b):
            err("10-strata.conflist", "differs from conf/10-strata.conflist")

    kinds = {}
    for where, d in docs:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                err(where, f"an object without {key}")
        kind = d.get("kind")
        name = d.get("metadata", {}).get("name")
        if not name:
            err(where, f"{kind} without metadata.name")
        kinds.setdefault(kind, []).append(d)

    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"):
        if len(kinds.get(kind, [])) != 1:
            err("strata.yaml", f"expected one {kind}, found {len(kinds.get(kind, []))}")
    if errors:
        return
    sa = kinds["ServiceAccount"][0]["metadata"]["name"]
    role = kinds["ClusterRole"][0]
    binding = kinds["ClusterRoleBinding"][0]
    ds = kinds["DaemonSet"][0]

    if binding["roleRef"]["name"] != role["metadata"]["name"]:
        err("ClusterRoleBinding", "roleRef names another ClusterRole")
    if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa
               for s in binding.get("subjects", [])):
        err("ClusterRoleBinding", f"does not bind ServiceAccount {sa}")
    # what stratad lists and watches
    watch = {"get", "list", "watch"}
    wanted = {("", "nodes"): watch, ("", "namespaces"): watch,
              ("", "pods"): watch,
              ("networking.k8s.io", "networkpolicies"): watch}
    for (group, res), verbs in wanted.items():
        have = set()
        for rule in role.get("rules", []):
            if group in rule.get("apiGroups", []) and res in rule.get("resources", []):
                have |= set(rule.get("verbs", []))
        if not verbs <= have:
            err("ClusterRole", f"{res}: missing verbs {sorted(verbs - have)}")

    spec = ds["spec"]
    tmpl = spec["template"]
    labels = tmpl["metadata"].get("labels", {})
    for k, v in spec["selector"]["matchLabels"].items():
        if labels.get(k) != v:
            err("DaemonSet", f"selector {k}={v} does not match the pod template")
    pod = tmpl["spec"]
    if pod.get("serviceAccountName") != sa:
        err("DaemonSet", f"serviceAccountName is not {sa}")
    if pod.get("hostNetwork") is not True:
        err("DaemonSet", "hostNetwork must be true")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    containers = pod.get("initContainers", []) + pod.get("containers", [])
    for c in containers:
        where = f"container {c['name']}"
        if c.get("image") not in images:
            err(where, f"image {c.get('image')} is not set by kustomization.yaml")
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                err(where, f"mounts volume {m['name']}, which the pod lacks")
        text = " ".join(c.get("command", []))
        for path in ("/usr/sbin/stratad", "/usr/lib/cni/strata-cni",
                     "/etc/strata/stratad.conf", "/etc/strata/10-strata.conflist"):
            if path in text and not packaged(top, path):
                err(where, f"runs {path}, which neither the package nor the ConfigMap provides")
    for name, v in volumes.items():
        cm = v.get("configMap")
        if cm and cm["name"] not in {g["name"] for g in kust.get("configMapGenerator", [])}:
            err(f"volume {name}", f"ConfigMap {cm['name']} is not generated")
    names = {c["name"] for c in pod.get("containers", [])}
    if "stratad" not in names:
        err("DaemonSet", "no stratad container")
    env = {e["name"] for c in pod["containers"] if c["name"] == "stratad"
           for e in c.get("env", [])}
    if "NODE_NAME" not in env:
        err("container stratad", "NODE_NAME is not set from spec.nodeName")


def packaged(top, path):
    if path.startswith("/etc/strata/"):
        return True  # the ConfigMap, mounted there
    inst = os.path.join(top, "debian", "strata.install")
    if not os.path.isfile(inst):
        return False
    with open(inst) as f:
        text = f.read()
    return path.lstrip("/") in text or os.path.dirname(path).lstrip("/") in text


main()
for e in errors:
    print(f"conf/kubernetes: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
