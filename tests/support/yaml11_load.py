#!/usr/bin/env python3
"""Parse a YAML stream with PyYAML (a YAML 1.1 reader, like go-yaml v2 under Helm and kubectl)
and print the documents as one JSON list, so tests can check that every string survives."""
import json
import sys

import yaml

json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)
