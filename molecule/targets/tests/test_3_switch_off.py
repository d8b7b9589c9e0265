"""Last, after every target's crash: enabled: false on the local case switches kdump off on both
clients (the role reboots them to drop the reservation), and the report says compliant_off."""

from __future__ import annotations

import pytest

import lab_ansible
from scenario import SCENARIO, every_client, in_browser, report


@pytest.fixture(scope="module")
def switched_off(tmp_path_factory):
    run = lab_ansible.run_playbook("converge.yml", "-e", '{"kdump_enabled": false}', cwd=SCENARIO)
    assert run.returncode == 0, lab_ansible.tail(run)
    directory = tmp_path_factory.mktemp("report-off")
    rows = report(directory, enabled=False)
    in_browser(directory, {name: row["status"] for name, row in rows.items()})
    return rows


def test_enabled_false_switches_kdump_off(switched_off):
    for name, host in every_client().items():
        assert not [w for w in host.file("/proc/cmdline").content_string.split() if w.startswith("crashkernel=")]
        assert host.file("/sys/kernel/kexec_crash_size").content_string.strip() == "0", name
        assert host.file("/sys/kernel/kexec_crash_loaded").content_string.strip() == "0", name
        service = host.service("kdump-tools")
        assert not service.is_enabled and not service.is_running, name
        assert switched_off[name]["status"] == "compliant_off", (name, switched_off[name]["reasons"])
