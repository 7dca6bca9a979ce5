#!/usr/bin/env bash
# Regenerates data/k8s-protobuf-fields.json.gz: for every message of the Kubernetes API
# protobufs (as published in the crates.io package k8s-pb, generated from the upstream
# generated.proto files), its field numbers, wire kinds, JSON names and message types, keyed
# by the OpenAPI definition name the simulator's schema uses. The simulator decodes
# `application/vnd.kubernetes.protobuf` request bodies (what kubectl's typed clients send,
# e.g. `kubectl create configmap`) with this table.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
printf '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nk8s-pb = "=0.8.0"\n' > "$work/Cargo.toml"
echo 'fn main() {}' > "$work/src/main.rs"
(cd "$work" && cargo fetch --quiet)
src=$(cd "$work" && cargo metadata --format-version 1 | python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(os.path.dirname([p for p in m["packages"] if p["name"]=="k8s-pb"][0]["manifest_path"]))')/src
python3 - "$src" "$here/data/k8s-v1.33-definitions.json.gz" "$here/data/k8s-protobuf-fields.json" <<'PY'
import gzip, json, os, re, sys
src, defs_path, out_path = sys.argv[1:]
defs = json.load(gzip.open(defs_path))["$defs"]
# k8s-pb renames Go initialisms (PodIP -> PodIp): match definitions case-insensitively.
by_lower = {name.lower(): name for name in defs}

def canonical(name):
    return by_lower.get(name.lower(), name)

def module_of(path):
    rel = os.path.relpath(os.path.dirname(path), src).replace(os.sep, "/")
    return [p for p in rel.split("/") if p != "."]

def def_name(mod):
    parts = [p.replace("apiextensions_apiserver", "apiextensions-apiserver").replace("kube_aggregator", "kube-aggregator") for p in mod]
    return "io.k8s." + ".".join(parts)

def resolve(mod, path):
    parts = path.split("::")
    cur = list(mod)
    while parts and parts[0] == "super":
        cur.pop(); parts.pop(0)
    if parts and parts[0] == "crate":
        cur = []; parts.pop(0)
    return canonical(def_name(cur + parts[:-1]) + "." + parts[-1])

def inner_type(ty):
    ty = re.sub(r"\s+", "", ty).rstrip(",")
    changed = True
    while changed:
        changed = False
        for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
            if ty.startswith(wrapper):
                ty = ty[len(wrapper):-1].rstrip(",")
                changed = True
        m = re.match(r"::prost::alloc::collections::BTreeMap<::prost::alloc::string::String,(.*)>$", ty)
        if m:
            ty = m.group(1).rstrip(",")
            changed = True
    return ty

def fields_of(body):
    """(attr, rust name, type) of each field: the type ends at the first depth-0 comma."""
    for chunk in body.split("#[prost(")[1:]:
        attr, rest = chunk.split(")]", 1)
        m = re.match(r"\s*pub (r#\w+|\w+):", rest)
        if not m:
            continue
        ty, depth = "", 0
        for c in rest[m.end():]:
            if c == "<":
                depth += 1
            elif c == ">":
                depth -= 1
            elif c == "," and depth == 0:
                break
            ty += c
        yield attr, m.group(1), ty

def json_name(defn, rust):
    rust = rust.removeprefix("r#")
    key = rust.replace("_", "").lower()
    for prop in (defn or {}).get("properties", {}):
        if prop.replace("_", "").replace("-", "").lower() == key:
            return prop
    head, *rest = rust.split("_")
    return head + "".join(r[:1].upper() + r[1:] for r in rest)

# Every struct: its module and raw fields.
structs = {}
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs"):
            continue
        path = os.path.join(root, f)
        mod = module_of(path)
        text = open(path).read()
        for m in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S):
            structs[canonical(def_name(mod) + "." + m.group(1))] = (mod, list(fields_of(m.group(2))))

def build(name, names_from):
    """Field table of `name`, JSON names matched against the definition `names_from`."""
    mod, raw = structs[name]
    fields = {}
    for attr, rust, ty in raw:
        tag = re.search(r'tag = "(\d+)"', attr).group(1)
        kind = attr.split(",")[0].strip()
        repeated = "repeated" in attr
        target = None
        if kind.startswith("btree_map"):
            value = re.search(r'btree_map = "string, (\w+)"', attr).group(1)
            kind = "map_" + value
            if value == "message":
                target = resolve(mod, inner_type(ty))
        elif kind.startswith("bytes"):
            kind = "bytes"
        elif kind == "message":
            target = resolve(mod, inner_type(ty))
            # A Go struct embedded inline in JSON (Volume.VolumeSource, Probe.ProbeHandler):
            # its fields sit in the parent's JSON object.
            if target not in defs and target in structs and not target.endswith(("runtime.TypeMeta", "runtime.Unknown")):
                kind = "inline"
                target = name + "/" + target
        fields[tag] = [json_name(defs.get(names_from), rust), kind, repeated, target]
    return fields

table = {}
pending = []
for name in structs:
    if name in defs or name.endswith(("runtime.Unknown", "runtime.TypeMeta")):
        table[name] = build(name, name)
        pending += [f[3] for f in table[name].values() if f[1] == "inline"]
while pending:
    key = pending.pop()
    parent, inner = key.split("/")
    if key not in table:
        table[key] = build(inner, parent)
        pending += [f[3] for f in table[key].values() if f[1] == "inline"]
json.dump(table, open(out_path, "w"), sort_keys=True, separators=(",", ":"))
PY
gzip -9 -n -f "$here/data/k8s-protobuf-fields.json"
ls -l "$here/data/k8s-protobuf-fields.json.gz"
