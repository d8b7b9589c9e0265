"""Planning: crashkernel sizing stays stable once the reservation is active."""

from __future__ import annotations

import pytest

from ansible_collections.crashdump.kdump.plugins.plugin_utils._plan import PlanError, make_plan
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy

MIB = 2**20


def debian12_facts(mem_total, reserved=0):
    return {
        "distribution": {"id": "debian", "version_id": "12", "major": 12, "family": "debian"},
        "architecture": "x86_64",
        "mem_total_bytes": mem_total,
        "crashkernel": {"reserved_bytes": reserved},
        "tooling": {"packages": {}},
    }


def test_auto_size_is_the_same_before_and_after_the_reservation_is_active():
    policy = normalise_policy({})
    before = make_plan(policy, debian12_facts(958 * MIB), "h1")
    after = make_plan(policy, debian12_facts(958 * MIB - 192 * MIB, reserved=192 * MIB), "h1")
    assert before["crashkernel"] == after["crashkernel"] == "192M"


def test_auto_refuses_hosts_too_small_for_a_capture_kernel():
    with pytest.raises(PlanError) as err:
        make_plan(normalise_policy({}), debian12_facts(512 * MIB), "tiny")
    assert "host tiny (debian 12): kdump_policy.reservation.size" in str(err.value)


def test_missing_packages_and_resolved_compression_on_a_fresh_debian12():
    plan = make_plan(normalise_policy({}), debian12_facts(4096 * MIB), "h1")
    assert plan["missing_packages"] == ["kdump-tools", "makedumpfile", "kexec-tools"]
    assert plan["compression"] == "lzo"  # Debian 12's makedumpfile has lzo, not zstd
    assert "MAKEDUMP_ARGS='-F -l -d 31'" in plan["files"][0]["content"]


def test_range_list_reserving_nothing_for_this_host_is_refused():
    policy = normalise_policy({"reservation": {"size": "2G-4G:256M"}})
    with pytest.raises(PlanError, match="reserves nothing"):
        make_plan(policy, debian12_facts(1024 * MIB), "h1")
