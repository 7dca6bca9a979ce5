#!/usr/bin/env python3
"""Write Helm 3 release records (Secrets) the way Helm itself writes them, independently of the
Rust encoder under test. Regenerate with:

    python3 tests/support/make_helm_release.py tests/fixtures/release

The JSON follows Helm v3's Go types and encoding/json's rules:
- pkg/release/release.go  Release{name, info, chart, config, manifest, hooks, version, namespace}
  (all omitempty; Labels is `json:"-"`),
- pkg/release/info.go     Info{first_deployed, last_deployed, deleted (never omitted), description,
  status, notes}; times are helm.sh/helm/v3/pkg/time: RFC 3339 with nanoseconds, "" when zero,
- pkg/release/hook.go     Hook{name, kind, path, manifest, events, last_run{started_at,
  completed_at, phase}, weight, delete_policies},
- pkg/chart/chart.go      Chart{metadata, lock, templates, values, schema, files} (never omitted:
  nil is null; []byte is base64), pkg/chart/metadata.go Metadata (all omitempty, camelCase),
- encoding/json: struct fields in declaration order, map keys sorted, compact, and <, >, & and
  U+2028/U+2029 escaped as \\u003c, \\u003e, \\u0026, \\u2028, \\u2029.
The record is pkg/storage/driver/util.go encodeRelease: base64(gzip(json), best compression);
pkg/storage/driver/secrets.go newSecretsObject puts it in data.release of a Secret of type
helm.sh/release.v1 labelled name/owner/status/version (+ modifiedAt after an Update). In the
Secret's JSON (what the API server returns), data values are base64 once more.
"""

import base64
import gzip
import json
import os
import sys



def go_json(value):
    """encoding/json.Marshal of already-ordered data (dicts are emitted in the order given;
    callers sort Go maps and keep Go struct order)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text.encode("utf-8")


def go_map(d):
    """A Go map[string]interface{}: keys sorted, nested maps too."""
    if isinstance(d, dict):
        return {k: go_map(d[k]) for k in sorted(d)}
    if isinstance(d, list):
        return [go_map(v) for v in d]
    return d


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def omitempty(pairs):
    """A Go struct with `omitempty` fields: drop zero values, keep declaration order."""
    return {k: v for k, v in pairs if v not in ("", 0, None, [], {}, False)}


def chart_file(name, text):
    return {"name": name, "data": b64(text.encode("utf-8"))}


def vcluster_chart():
    metadata = omitempty([
        ("name", "vcluster"),
        ("home", "https://vcluster.com"),
        ("sources", ["https://github.com/loft-sh/vcluster"]),
        ("version", "0.19.7"),
        ("description", "vcluster - Virtual Kubernetes Clusters"),
        ("keywords", ["developer", "development", "sharing", "share", "multi-namespace", "tenancy"]),
        ("maintainers", [omitempty([("name", "Loft Labs, Inc."), ("email", ""), ("url", "https://twitter.com/loft_sh")])]),
        ("icon", "https://static.loft.sh/branding/logos/vcluster/vertical/vcluster_vertical.svg"),
        ("apiVersion", "v2"),
        ("condition", ""),
        ("tags", ""),
        ("appVersion", "0.19.7"),
        ("deprecated", False),
        ("annotations", {}),
        ("kubeVersion", ""),
        ("dependencies", []),
        ("type", "application"),
    ])
    values = go_map({
        "serviceCIDR": "",
        "sync": {"ingresses": {"enabled": False}, "services": {"enabled": True}},
        "vcluster": {"image": "rancher/k3s:v1.29.0-k3s1", "extraArgs": []},
        "isolation": {"enabled": False},
    })
    return {
        "metadata": metadata,
        "lock": None,
        "templates": [
            chart_file("templates/service.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n"),
            chart_file("templates/NOTES.txt", "Thank you for installing {{ .Chart.Name }}.\n"),
        ],
        "values": values,
        "schema": None,
        "files": [chart_file("README.md", "# vcluster\n")],
    }


MANIFEST = """---
# Source: vcluster/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: vc-my-vc
  namespace: vcluster-my-vc
---
# Source: vcluster/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: my-vc
  namespace: vcluster-my-vc
  annotations:
    note: "a <b>bold</b> & ampersand"
spec:
  ports:
  - name: https
    port: 443
    targetPort: 8443
"""


def release(version, status, description, first, last, hooks):
    info = {
        "first_deployed": first,
        "last_deployed": last,
        "deleted": "",
    }
    info.update(omitempty([
        ("description", description),
        ("status", status),
        ("notes", "Thank you for installing vcluster.\n\nYour vcluster is named my-vc in namespace vcluster-my-vc.\n"),
    ]))
    config = go_map({
        "serviceCIDR": "10.96.0.0/12",
        "vcluster": {"image": "rancher/k3s:v1.29.0-k3s1"},
        "syncer": {"extraArgs": ["--tls-san=my-vc.example.com"]},
        "telemetry": {"disabled": True},
    })
    return omitempty([
        ("name", "my-vc"),
        ("info", info),
        ("chart", vcluster_chart()),
        ("config", config),
        ("manifest", MANIFEST),
        ("hooks", hooks),
        ("version", version),
        ("namespace", "vcluster-my-vc"),
    ])


HOOK = omitempty([
    ("name", "my-vc-test"),
    ("kind", "Pod"),
    ("path", "vcluster/templates/tests/test.yaml"),
    ("manifest", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: my-vc-test\n"),
    ("events", ["test"]),
    # HookExecution is a struct: `omitempty` never drops it, and its zero times are "".
    ("last_run", {"started_at": "", "completed_at": "", "phase": ""}),
    ("weight", 0),
    ("delete_policies", ["before-hook-creation"]),
])


def secret(rel, gzipped, extra_labels):
    payload = go_json(rel)
    if gzipped:
        # Go's gzip.NewWriterLevel(BestCompression): level 9, no name, mtime 0.
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    stored = b64(payload)  # encodeRelease's text ...
    labels = {"name": rel["name"], "owner": "helm", "status": rel["info"]["status"], "version": str(rel["version"])}
    labels.update(extra_labels)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "sh.helm.release.v1.%s.v%d" % (rel["name"], rel["version"]),
            "namespace": rel["namespace"],
            "labels": dict(sorted(labels.items())),
        },
        "type": "helm.sh/release.v1",
        "data": {"release": b64(stored.encode("ascii"))},  # ... as Secret bytes, base64 on the wire
    }


def main(out_dir):
    # Revision 1: an old record stored without gzip, written on a machine at UTC+2 (Go keeps the
    # writer's offset), since superseded.
    v1 = release(1, "superseded", "Install complete",
                 "2024-05-04T10:11:12.123456789+02:00", "2024-05-04T10:11:12.123456789+02:00", [])
    # Revision 2: the deployed upgrade, gzip as every Helm 3 writes it, UTC times, one hook, and a
    # custom release label (Helm 3.13+ `--labels`).
    v2 = release(2, "deployed", "Upgrade complete",
                 "2024-05-04T08:11:12.123456789Z", "2024-06-01T09:30:00.5Z", [HOOK])
    files = {
        "helm-v3-my-vc.v1.nogzip.secret.json": secret(v1, False, {"modifiedAt": "1717234200"}),
        "helm-v3-my-vc.v2.secret.json": secret(v2, True, {"modifiedAt": "1717234200", "team": "platform"}),
        "helm-v3-my-vc.v2.release.json": v2,
    }
    os.makedirs(out_dir, exist_ok=True)
    for name, doc in files.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/release")
