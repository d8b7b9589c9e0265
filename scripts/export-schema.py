#!/usr/bin/env python
"""Write schemas/kdump-policy.schema.json from the policy model (plugins/plugin_utils/_policy.py).

    scripts/export-schema.py           # regenerate the committed schema
    scripts/export-schema.py --check   # exit 1 if the committed schema is out of date

Run it with the virtual environment active (it needs pydantic): source .venv/bin/activate
"""

from __future__ import annotations

import argparse
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_FILE = os.path.join(REPO_ROOT, "schemas", "kdump-policy.schema.json")
# Import the model the way Ansible does, through the collection path scripts/setup.sh links.
sys.path.insert(0, os.path.join(REPO_ROOT, ".cache", "collections"))

from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import policy_json_schema  # noqa: E402


def render() -> str:
    return json.dumps(policy_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing it")
    args = parser.parse_args()
    fresh = render()
    if args.check:
        try:
            with open(SCHEMA_FILE, encoding="utf-8") as handle:
                committed = handle.read()
        except FileNotFoundError:
            committed = None
        if committed != fresh:
            print(f"{os.path.relpath(SCHEMA_FILE, REPO_ROOT)} is out of date: run scripts/export-schema.py",
                  file=sys.stderr)
            return 1
        print(f"{os.path.relpath(SCHEMA_FILE, REPO_ROOT)} is up to date")
        return 0
    with open(SCHEMA_FILE, "w", encoding="utf-8") as handle:
        handle.write(fresh)
    print(f"wrote {os.path.relpath(SCHEMA_FILE, REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
