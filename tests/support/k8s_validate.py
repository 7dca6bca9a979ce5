#!/usr/bin/env python3
"""Strict schema validation of Kubernetes objects, in one batch.

Reads {"version": "1.33", "objects": [...]} as JSON on stdin and writes a JSON list with one
entry per object: [] when it is valid, else the validation messages. Uses the strict (no
unknown fields) JSON schemas shipped in PyPI kubernetes-validate==1.37.0, caching one
validator per kind so thousands of objects take seconds. Exits 2 when the package is missing,
so a test calling this fails instead of skipping.
"""
import json
import re
import sys

try:
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource
except ImportError as e:  # the test must fail, never skip
    print(f"kubernetes-validate is not installed: {e} (pip install kubernetes-validate==1.37.0)", file=sys.stderr)
    sys.exit(2)


def main():
    request = json.load(sys.stdin)
    version = request["version"]
    schema_dir = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    schema_dir = f"v{schema_dir}-local-strict"
    definitions = Resource.from_contents(utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version))
    validators = {}
    results = []
    for obj in request["objects"]:
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj.get("apiVersion", ""))
        key = (obj.get("kind", "").lower(), api)
        if key not in validators:
            try:
                schema = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{key[0]}-{key[1]}.json", version)
            except FileNotFoundError:
                validators[key] = None
            else:
                registry = definitions @ (Resource.from_contents(schema) @ Registry())
                validators[key] = jsonschema.validators.Draft202012Validator(schema, registry=registry)
        validator = validators[key]
        if validator is None:
            results.append([f"no schema for {obj.get('apiVersion')}/{obj.get('kind')} in Kubernetes {version}"])
            continue
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        results.append([f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors])
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
