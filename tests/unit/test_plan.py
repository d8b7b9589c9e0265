"""Planning: crashkernel sizing stays stable once the reservation is active."""

from __future__ import annotations

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils._facts import TOOLING_PACKAGES
from ansible_collections.crashdump.kdump.plugins.module_utils._plan import PlanError, make_plan
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
    after = make_plan(policy, debian12_facts(958 * MIB - 160 * MIB, reserved=160 * MIB), "h1")
    assert before["crashkernel"] == after["crashkernel"] == "160M"  # Debian 12, calibrated: 1.25 x 128M


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


# --- panic triggers: one sysctl.d file, in every family ------------------------------------------

SYSCTL_FILE = "/etc/sysctl.d/zz-crashdump-kdump.conf"
FAMILY_FACTS = {
    "debian": debian12_facts(4096 * MIB),
    "redhat": dict(debian12_facts(4096 * MIB),
                   distribution={"id": "rhel", "version_id": "9.4", "major": 9, "family": "redhat"}),
    "suse": dict(debian12_facts(4096 * MIB),
                 distribution={"id": "sles", "version_id": "15.6", "major": 15, "family": "suse"}),
}


@pytest.mark.parametrize("family", FAMILY_FACTS)
def test_the_default_policy_sets_no_sysctl_and_removes_our_file(family):
    plan = make_plan(normalise_policy({}), FAMILY_FACTS[family], "h1")
    assert SYSCTL_FILE not in [f["path"] for f in plan["files"]]
    assert SYSCTL_FILE in plan["obsolete_files"]
    assert plan["sysctls"] == {}


@pytest.mark.parametrize("family", FAMILY_FACTS)
@pytest.mark.parametrize("enabled", [True, False])
def test_panic_on_renders_exactly_the_triggers_it_sets(family, enabled):
    policy = normalise_policy({"enabled": enabled, "panic_on": {"oops": True, "soft_lockup": False,
                                                                 "unrecovered_nmi": True}})
    plan = make_plan(policy, FAMILY_FACTS[family], "h1")
    written = [f for f in plan["files"] if f["path"] == SYSCTL_FILE]
    assert written == [{"path": SYSCTL_FILE, "mode": "0644", "content": (
        "# Managed by crashdump.kdump from kdump_policy: local changes are overwritten.\n"
        "# kdump_policy.panic_on: the kernel events that panic this host, and so produce a dump.\n"
        "kernel.panic_on_oops = 1\n"
        "kernel.softlockup_panic = 0\n"
        "kernel.panic_on_unrecovered_nmi = 1\n")}]
    assert SYSCTL_FILE not in plan["obsolete_files"]
    assert plan["sysctls"] == {"kernel.panic_on_oops": 1, "kernel.softlockup_panic": 0,
                               "kernel.panic_on_unrecovered_nmi": 1}


def test_a_trigger_this_kernel_lacks_is_refused_before_anything_changes():
    facts = dict(debian12_facts(4096 * MIB), panic_sysctls={
        "kernel.panic_on_oops": 0, "kernel.hung_task_panic": None, "kernel.softlockup_panic": 0,
        "kernel.hardlockup_panic": None, "kernel.panic_on_unrecovered_nmi": 0})
    policy = normalise_policy({"panic_on": {"oops": True, "hard_lockup": True, "hung_task": False}})
    with pytest.raises(PlanError) as err:
        make_plan(policy, facts, "h1")
    assert err.value.errors == [
        "host h1 (debian 12): kdump_policy.panic_on.hung_task: this kernel has no kernel.hung_task_panic "
        "(/proc/sys/kernel/hung_task_panic does not exist: it needs CONFIG_DETECT_HUNG_TASK); set it to null "
        "for this host",
        "host h1 (debian 12): kdump_policy.panic_on.hard_lockup: this kernel has no kernel.hardlockup_panic "
        "(/proc/sys/kernel/hardlockup_panic does not exist: it needs CONFIG_HARDLOCKUP_DETECTOR, the NMI "
        "watchdog); set it to null for this host"]
    # A trigger left null is not looked at, even when the kernel lacks it.
    plan = make_plan(normalise_policy({"panic_on": {"oops": True}}), facts, "h1")
    assert plan["sysctls"] == {"kernel.panic_on_oops": 1}


def test_facts_without_sysctl_readings_do_not_block_the_plan():
    # Facts gathered before kdump_facts read the sysctls: the host-side step still refuses a missing one.
    plan = make_plan(normalise_policy({"panic_on": {"hard_lockup": True}}), debian12_facts(4096 * MIB), "h1")
    assert plan["sysctls"] == {"kernel.hardlockup_panic": 1}


# --- the release tables of _families, as the plan reads them before makedumpfile is installed ----

def fresh_host(os_id, version_id, family):
    major = int(version_id.split(".")[0])
    return dict(debian12_facts(4096 * MIB),
                distribution={"id": os_id, "version_id": version_id, "major": major, "family": family})


@pytest.mark.parametrize("os_id, version_id, family, supported", [
    ("debian", "12", "debian", "zlib, lzo"),
    ("debian", "13", "debian", "zlib, lzo, zstd"),
    ("debian", "14", "debian", "zlib"),  # a release the table does not know: only what every build has
    ("ubuntu", "22.04", "debian", "zlib, lzo, snappy"),
    ("ubuntu", "23.10", "debian", "zlib"),
    ("ubuntu", "24.04", "debian", "zlib, lzo, snappy, zstd"),
    ("ubuntu", "24.10", "debian", "zlib, lzo, snappy, zstd"),
    ("rhel", "9.4", "redhat", "zlib, lzo"),
    ("fedora", "43", "redhat", "zlib, lzo"),
    ("sles", "15.5", "suse", "zlib, lzo, snappy"),
    ("opensuse-leap", "15.6", "suse", "zlib, lzo, snappy, zstd"),
    ("sles", "16.0", "suse", "zlib, lzo, snappy, zstd"),
])
def test_compressions_guessed_by_release_until_makedumpfile_says(os_id, version_id, family, supported):
    policy = normalise_policy({"filter": {"compression": "none"}})
    policy["filter"]["compression"] = "bogus"  # refused with the list the host is taken to support
    with pytest.raises(PlanError) as err:
        make_plan(policy, fresh_host(os_id, version_id, family), "h1")
    assert f"'bogus' is not supported by this host's makedumpfile (supports: {supported})" in str(err.value)


@pytest.mark.parametrize("os_id, version_id, packages, service", [
    ("rhel", "9.4", ["kexec-tools"], "kdump"),
    ("rocky", "10.0", ["kdump-utils", "makedumpfile"], "kdump"),
    ("fedora", "40", ["kexec-tools"], "kdump"),
    ("fedora", "41", ["kdump-utils", "makedumpfile"], "kdump"),
])
def test_red_hat_packages_follow_the_kdump_utils_split(os_id, version_id, packages, service):
    plan = make_plan(normalise_policy({}), fresh_host(os_id, version_id, "redhat"), "h1")
    assert (plan["packages"], plan["service"], plan["files"][0]["path"]) == (packages, service, "/etc/kdump.conf")


@pytest.mark.parametrize("os_id, version_id, family, service, config", [
    ("debian", "12", "debian", "kdump-tools", "/etc/default/kdump-tools"),
    ("sles", "15.6", "suse", "kdump", "/etc/sysconfig/kdump"),
])
def test_service_and_native_file_of_each_family(os_id, version_id, family, service, config):
    plan = make_plan(normalise_policy({}), fresh_host(os_id, version_id, family), "h1")
    assert (plan["service"], plan["files"][0]["path"]) == (service, config)


def test_facts_ask_for_every_package_a_plan_can_need():
    """kdump_facts queries one list of packages; a package a plan needs outside it would read as
    missing on every run."""
    hosts = [fresh_host("debian", "12", "debian"), fresh_host("rhel", "9.4", "redhat"),
             fresh_host("rhel", "10.0", "redhat"), fresh_host("sles", "15.6", "suse")]
    needed = set()
    for facts in hosts:
        for target in ({"type": "local", "path": "/var/crash"},
                       {"type": "nfs", "host": "nfs1", "export": "/dumps", "path": "/"}):
            needed |= set(make_plan(normalise_policy({"target": target}), facts, "h1")["packages"])
    assert needed == {"kdump-tools", "makedumpfile", "kexec-tools", "nfs-common", "kdump-utils", "kdump"}
    assert needed <= set(TOOLING_PACKAGES)
