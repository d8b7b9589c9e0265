"""The committed JSON Schema is the model's, and every example policy passes both."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import jsonschema
import pytest
import yaml

from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy, policy_json_schema

from conftest import REPO_ROOT

SCHEMA_FILE = os.path.join(REPO_ROOT, "schemas", "kdump-policy.schema.json")
EXAMPLES = sorted(glob.glob(os.path.join(REPO_ROOT, "schemas", "examples", "*.yml")))
MODELINE = "# yaml-language-server: $schema=../kdump-policy.schema.json"


@pytest.fixture(scope="module")
def validator():
    with open(SCHEMA_FILE, encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_the_fresh_export():
    with open(SCHEMA_FILE, encoding="utf-8") as handle:
        assert json.load(handle) == policy_json_schema()
    check = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "export-schema.py"), "--check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_export_check_notices_a_stale_schema(tmp_path):
    # Run a copy of the script against a copy of the tree where the schema differs.
    for sub in ("scripts", "schemas"):
        os.makedirs(tmp_path / sub)
    with open(os.path.join(REPO_ROOT, "scripts", "export-schema.py"), encoding="utf-8") as handle:
        (tmp_path / "scripts" / "export-schema.py").write_text(handle.read())
    (tmp_path / "schemas" / "kdump-policy.schema.json").write_text("{}\n")
    os.makedirs(tmp_path / ".cache")
    os.symlink(os.path.join(REPO_ROOT, ".cache", "collections"), tmp_path / ".cache" / "collections")
    check = subprocess.run([sys.executable, str(tmp_path / "scripts" / "export-schema.py"), "--check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 1
    assert "out of date" in check.stderr


def test_there_is_an_example_per_target_type():
    names = {os.path.basename(path) for path in EXAMPLES}
    assert {"local.yml", "device.yml", "raw.yml", "ssh.yml", "nfs.yml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_is_valid_for_schema_and_model(path, validator):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith(MODELINE + "\n")
    document = yaml.safe_load(text)
    assert list(document) == ["kdump_policy"]
    errors = [error.message for error in validator.iter_errors(document)]
    assert not errors, errors
    policy = normalise_policy(document["kdump_policy"])
    assert policy["target"]["type"] == os.path.basename(path)[:-4]


def test_local_example_is_realistic():
    with open(os.path.join(REPO_ROOT, "schemas", "examples", "local.yml"), encoding="utf-8") as handle:
        policy = yaml.safe_load(handle)["kdump_policy"]
    assert policy["filter"]["dump_level"] == 31
    assert policy["filter"]["compression"] == "auto"


@pytest.mark.parametrize("policy", [
    {"target": {"type": "local", "host": "x"}},
    {"target": {"type": "ssh", "host": "h"}},
    {"target": {"type": "ssh", "host": "h", "user": "u", "port": "22"}},
    {"filter": {"dump_level": 32}},
    {"enabled": "yes"},
    {"reboot": "sometimes"},
    {"bogus": 1},
])
def test_schema_rejects_what_the_model_rejects(policy, validator):
    assert list(validator.iter_errors({"kdump_policy": policy}))


def test_normalised_policy_passes_the_schema(validator):
    for path in EXAMPLES:
        with open(path, encoding="utf-8") as handle:
            policy = normalise_policy(yaml.safe_load(handle)["kdump_policy"])
        assert not list(validator.iter_errors({"kdump_policy": policy})), path
