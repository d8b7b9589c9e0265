"""scripts/bench-validate.py builds the inventory it claims; the EE pins follow requirements.txt."""

from __future__ import annotations

import importlib.util
import os

import pytest
import yaml

from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import PolicyError, normalise_policy

from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_validate", os.path.join(REPO_ROOT, "scripts", "bench-validate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inventory_marks_five_percent_invalid(bench, tmp_path):
    inv, invalid = bench.make_inventory(tmp_path, 100, 5.0)
    hosts = yaml.safe_load((inv / "hosts.yml").read_text(encoding="utf-8"))["all"]["hosts"]
    assert list(hosts) == [f"host{i:04d}" for i in range(1, 101)]
    assert invalid == ["host0020", "host0040", "host0060", "host0080", "host0100"]
    assert sorted(p.stem for p in (inv / "host_vars").iterdir()) == invalid
    good = yaml.safe_load((inv / "group_vars" / "all.yml").read_text(encoding="utf-8"))["kdump_policy"]
    normalise_policy(good, host="host0001")
    with pytest.raises(PolicyError):
        normalise_policy(yaml.safe_load(bench.INVALID_POLICY)["kdump_policy"], host="host0020")


def test_summary_line_is_parsed(bench):
    match = bench.SUMMARY_RE.search('        "kdump_policy: 38 of 40 host(s) valid, invalid: host0020, host0040",')
    assert match.groups() == ("38", "40", "host0020, host0040")


def test_ee_pins_follow_requirements():
    def pins(path):
        with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
            return dict(line.split("==") for line in map(str.strip, handle) if line and not line.startswith("#"))

    required = pins("requirements.txt")
    with open(os.path.join(REPO_ROOT, "meta", "execution-environment.yml"), encoding="utf-8") as handle:
        ee = yaml.safe_load(handle)
    assert ee["version"] == 3
    assert ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={required['ansible-core']}"
    ee_python = pins(os.path.join("meta", ee["dependencies"]["python"]))
    assert ee_python == {name: required[name] for name in ("pydantic", "jinja2")}
