#!/usr/bin/env bash
# Regenerates data/k8s-v1.33-definitions.json.gz: the Kubernetes 1.33 OpenAPI definitions
# (with their x-kubernetes-* list/map/patch extensions) as shipped in the pinned PyPI package
# kubernetes-validate==1.37.0 (kubernetes-json-schema/v1.33.0-local/_definitions.json).
# The simulator derives its structural schema (SSA/SMP merge keys), its /openapi/v3 documents
# and its field checks from this one file.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python3 -m pip install --quiet 'kubernetes-validate==1.37.0'
src=$(python3 -c 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))')/kubernetes-json-schema/v1.33.0-local/_definitions.json
python3 - "$src" "$here/data/k8s-v1.33-definitions.json" <<'PY'
import json, sys
defs = json.load(open(sys.argv[1]))
json.dump(defs, open(sys.argv[2], "w"), sort_keys=True, separators=(",", ":"))
PY
gzip -9 -n -f "$here/data/k8s-v1.33-definitions.json"
ls -l "$here/data/k8s-v1.33-definitions.json.gz"
