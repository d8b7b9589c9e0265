"""What the scenario's tests share: its VMs (as testinfra hosts), and the local case, applied by
converge, crashed by test_1_local and switched off by test_3_switch_off: the example policy with
the lab's overrides, and the collection's report over the clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import testinfra
import testinfra.utils.ansible_runner
import yaml

import lab_ansible

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RESULTS = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp"), "crash-results.json")

CLIENTS = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("clients")  # Debian 12, Debian 13
SERVER = "kdump-srv"

with open(os.path.join(PROJECT, "schemas", "examples", "local.yml"), encoding="utf-8") as handle:
    POLICY = yaml.safe_load(handle)["kdump_policy"]
with open(os.path.join(SCENARIO, "vars", "overrides.yml"), encoding="utf-8") as handle:
    OVERRIDES = yaml.safe_load(handle)["lab_policy_overrides"]


def vm(name):
    """The testinfra host of one of the scenario's VMs."""
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def every_client():
    """Each client, for the tests that act on all of them at once: those are not parametrized by
    host, since pytest would group the parametrized tests by host and run every test of the
    first host before the second host's first."""
    return {name: vm(name) for name in CLIENTS}


def boot_id(host):
    """The running boot's id: a new one after every reboot or crash."""
    return host.file("/proc/sys/kernel/random/boot_id").content_string.strip()


def record(name, result):
    """Keep one case's figures in RESULTS (the crash timings, the benchmark) and print them."""
    results = {}
    if os.path.exists(RESULTS):
        with open(RESULTS, encoding="utf-8") as handle:
            results = json.load(handle)
    results[name] = result
    with open(RESULTS, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"\n{name}: {json.dumps(result)}")


def policy_vars(enabled=True):
    """The converge's local policy, as extra vars for the collection's playbooks."""
    return "@" + lab_ansible.vars_file({"kdump_policy": dict(POLICY, **OVERRIDES, enabled=enabled)})


def report(tmp_path, enabled=True):
    """The report playbook over the clients with the local policy: {host: row}."""
    run = lab_ansible.run_playbook("crashdump.kdump.report", "-e", policy_vars(enabled), "-e", "kdump_hosts=clients",
                                   "-e", f"kdump_report_dir={tmp_path}")
    assert run.returncode == 0, lab_ansible.tail(run)
    with open(tmp_path / "kdump-report.json", encoding="utf-8") as handle:
        return {row["host"]: row for row in json.load(handle)["hosts"]}


def in_browser(tmp_path, statuses):
    """The HTML report, after headless Chromium ran its scripts, shows each host's status."""
    pairs = [f"{host}={status}" for host, status in statuses.items()]
    run = subprocess.run([sys.executable, os.path.join(PROJECT, "scripts", "check-report-browser.py"),
                          str(tmp_path / "kdump-report.html"), *pairs], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
