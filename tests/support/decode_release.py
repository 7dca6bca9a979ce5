#!/usr/bin/env python3
"""Decode Helm 3 release records, independently of the Rust code under test.

    python3 tests/support/decode_release.py [SECRET.json]    (default: stdin)

Input: a Secret as the API server returns it (`kubectl get secret -o json`), or a list of them
(`{"items": [...]}`). Output on stdout: the release JSON (a list for a list), indented.
Decoding as Helm's pkg/storage/driver/util.go decodeRelease: the Secret's data.release is
base64 on the wire; its bytes are base64 text of the record; the record is gzip when it starts
with the gzip magic bytes 1f 8b 08, else plain JSON.
"""

import base64
import gzip
import json
import sys

GZIP_MAGIC = b"\x1f\x8b\x08"


def decode_secret(secret):
    if secret.get("type") != "helm.sh/release.v1":
        raise SystemExit("not a Helm release record: type is %r" % secret.get("type"))
    stored = base64.b64decode(secret["data"]["release"], validate=True)
    record = base64.b64decode(stored, validate=True)
    if len(record) > 3 and record[:3] == GZIP_MAGIC:
        record = gzip.decompress(record)
    return json.loads(record)


def main():
    source = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    doc = json.load(source)
    out = [decode_secret(s) for s in doc["items"]] if "items" in doc else decode_secret(doc)
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
