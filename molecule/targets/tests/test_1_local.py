"""The local case, first (converge applies it): verify the example local-target policy on the
Debian 12 and Debian 13 clients, prove it by crashing both at once with the crash_test playbook
and report them (test_3_switch_off switches kdump off at the end). The per-host checks of the
converged state come first (parametrized by host); then the playbook runs (crash test, report),
each once for both clients in a module-scoped fixture, each checked client by client in one test."""

from __future__ import annotations

import base64
import json
import os
import re
from xml.etree import ElementTree

import pytest

import lab_ansible
from ansible_collections.crashdump.kdump.plugins.module_utils import _facts
from scenario import CLIENTS, POLICY, SCENARIO, boot_id, every_client, in_browser, policy_vars, record, report

testinfra_hosts = CLIENTS  # the host fixture

CRASH_TIMEOUT = 900  # seconds: capture boot, dump and a normal boot, all under TCG
KEEP = POLICY["retention"]["keep"]
# Dumps of earlier crashes, older than any real one: retention must remove the oldest first.
OLD_STAMPS = [f"2020010{day}0000" for day in range(1, KEEP + 1)]


def kdump_tools_config(host):
    """/etc/default/kdump-tools and the capture script's settings as the shell sees them
    (sourced, not parsed by hand)."""
    script = ". /etc/default/kdump-tools; . /etc/crashdump-kdump/capture.conf; for v in USE_KDUMP " \
             "KDUMP_COREDIR KDUMP_NUM_DUMPS KDUMP_DUMP_DMESG MAKEDUMP_ARGS CRASHDUMP_TARGET CRASHDUMP_ON_FAILURE " \
             "CRASHDUMP_ON_SUCCESS; do eval echo \"$v=\\$$v\"; done"
    out = host.check_output("sh -c %s", script)  # testinfra quotes the argument
    return dict(line.split("=", 1) for line in out.splitlines())


# auto for a local target on these 1 GiB x86_64 guests (README, "Reservation sizing"), worked out
# here by hand from the calibration table, not computed by the code under test: below the smallest
# calibrated guest (2 GiB) its minimum counts; Debian 12: 128M x 1.25 = 160M; Debian 13: 112M x 1.25
# = 140M, rounded down to 16 MiB = 128M. The crash test below then dumps at that size.
AUTO_LOCAL_1G = {"12": "160M", "13": "128M"}


def debian_major(host):
    """VERSION_ID of /etc/os-release: "12", "13"."""
    fields = dict(line.split("=", 1) for line in host.file("/etc/os-release").content_string.splitlines() if "=" in line)
    return fields["VERSION_ID"].strip('"')


def test_capture_kernel_loaded(host):
    assert host.file("/sys/kernel/kexec_crash_loaded").content_string.strip() == "1"
    assert int(host.file("/sys/kernel/kexec_crash_size").content_string) > 0


def test_running_kernel_has_planned_crashkernel(host):
    cmdline = host.file("/proc/cmdline").content_string.split()
    expected = f"crashkernel={AUTO_LOCAL_1G[debian_major(host)]}"
    assert [w for w in cmdline if w.startswith("crashkernel=")] == [expected]


def test_kdump_tools_config_matches_policy(host):
    config = kdump_tools_config(host)
    assert config["USE_KDUMP"] == "1"
    assert config["KDUMP_COREDIR"] == POLICY["target"]["path"]
    assert config["KDUMP_NUM_DUMPS"] == str(POLICY["retention"]["keep"])
    assert config["KDUMP_DUMP_DMESG"] == "1"
    assert (config["CRASHDUMP_TARGET"], config["CRASHDUMP_ON_FAILURE"], config["CRASHDUMP_ON_SUCCESS"]) == (
        "local", POLICY["on_failure"], POLICY["on_success"])
    assert config["MAKEDUMP_ARGS"].split() == ["-F", best_compression_flag(host),
                                               "-d", str(POLICY["filter"]["dump_level"])]


FLAGS = {"zstd": "-z", "lzo": "-l", "snappy": "-p", "zlib": "-c"}


def best_compression(host):
    """compression: auto = the best the host's makedumpfile was built with (Debian 12: lzo,
    Debian 13: zstd), read here from makedumpfile itself."""
    lines = host.check_output("makedumpfile -v").splitlines()[1:]
    enabled = {words[0] for words in map(str.split, lines) if words[1:] == ["enabled"]}
    return next((name for name in ("zstd", "lzo", "snappy") if name in enabled), "zlib")  # zlib: always built in


def best_compression_flag(host):
    return FLAGS[best_compression(host)]


def test_panic_triggers_are_set_in_the_file_and_live(host):
    # Written by hand from the overrides: oops and hung_task on, soft_lockup off, the rest left alone.
    sysctl_file = host.file("/etc/sysctl.d/zz-crashdump-kdump.conf")
    assert sysctl_file.mode == 0o644
    settings = [line for line in sysctl_file.content_string.splitlines() if not line.startswith("#")]
    assert settings == ["kernel.panic_on_oops = 1", "kernel.hung_task_panic = 1", "kernel.softlockup_panic = 0"]
    live = {name: host.file(f"/proc/sys/kernel/{name}").content_string.strip()
            for name in ("panic_on_oops", "hung_task_panic", "softlockup_panic")}
    assert live == {"panic_on_oops": "1", "hung_task_panic": "1", "softlockup_panic": "0"}


def test_service_enabled_and_dump_dir_private(host):
    assert host.service("kdump-tools").is_enabled
    assert host.file(POLICY["target"]["path"]).mode == 0o700


def dumps(host):
    out = host.check_output("find %s -mindepth 2 -maxdepth 2 -name 'dump.*' -printf '%%h\\n' | sort",
                            POLICY["target"]["path"])
    return set(out.split())


def seed_old_dumps(host):
    for stamp in OLD_STAMPS:
        directory = f"{POLICY['target']['path']}/{stamp}"
        host.check_output("mkdir -p -m 0700 %s && echo old > %s/dump.%s", directory, directory, stamp)


def test_a_second_run_on_the_converged_clients_changes_and_writes_nothing():
    """Converge took the clients from fresh (packages, reservation reboot); running it again
    reports nothing changed and writes no file under /etc or /boot: an atomic writer renames a
    new file into place even for the same content, so its mtime would be newer than the mark."""
    mark = "/run/crashdump-kdump-second-run"
    clients = every_client()
    for host in clients.values():
        host.check_output(f"touch {mark}")
    run = lab_ansible.run_playbook("converge.yml", cwd=SCENARIO)
    assert run.returncode == 0, lab_ansible.tail(run)
    for name, host in clients.items():
        assert re.search(rf"^{name}\s*:.* changed=0 .* failed=0 ", run.stdout, re.M), lab_ansible.tail(run)
        written = host.check_output(f"find /etc /boot -newer {mark} -type f")
        assert written == "", f"{name}: the second run wrote {written}"


def test_crash_test_refuses_without_confirmation(host):
    before = boot_id(host)
    run = lab_ansible.run_playbook("crashdump.kdump.crash_test", "-e", policy_vars(),
                                   "-e", f"kdump_hosts={host.backend.get_hostname()}")
    assert run.returncode != 0 and "set crash_test_confirm=true" in run.stdout + run.stderr, lab_ansible.tail(run)
    assert boot_id(host) == before


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory):
    """One crash_test run over both hosts at once (serial 2), after seeding old dumps on each:
    the dump directories each host had before, and the playbook's results directory."""
    results = tmp_path_factory.mktemp("crash-test")
    before = {}
    for name, host in every_client().items():
        seed_old_dumps(host)
        before[name] = dumps(host)
    run = lab_ansible.run_playbook("crashdump.kdump.crash_test", "-e", policy_vars(), "-e", "crash_test_confirm=true",
                                   "-e", "kdump_hosts=clients", "-e", '{"crash_test_serial": [2]}',
                                   "-e", f"crash_test_results_dir={results}",
                                   timeout=CRASH_TIMEOUT + 600)
    return run, before, results


def test_crash_test_playbook_proves_the_dump_and_records_it(crash_run):
    run, dummy, dummy = crash_run
    assert run.returncode == 0, lab_ansible.tail(run)
    for name, host in every_client().items():
        check_crash_test(name, host, crash_run)


def check_crash_test(name, host, crash_run):
    """A forced crash through the crash_test playbook; the dump is then checked here again,
    independently of the playbook's own verdict, and so is retention: the oldest dumps went."""
    dummy, before_all, results = crash_run
    before = before_all[name]
    new = sorted(dumps(host) - before)
    assert len(new) == 1, f"{name}: expected one new dump directory, found {new}"
    stamp = os.path.basename(new[0])
    dump = host.file(f"{new[0]}/dump.{stamp}")
    # Debian's kdump-tools writes makedumpfile's flattened format (-F): read the magic here.
    assert host.check_output("head -c 12 %s", dump.path) == "makedumpfile"
    head = base64.b64decode(host.check_output("head -c %s %s | base64 -w0", str(_facts.HEAD_BYTES), dump.path))
    assert _facts.dump_details(head) == {"compression": best_compression(host),
                                         "dump_level": POLICY["filter"]["dump_level"]}
    assert dump.size > 1024 * 1024
    assert dump.mode == 0o600, "a vmcore holds the host's memory: root only"
    assert "sysrq: Trigger a crash" in host.file(f"{new[0]}/dmesg.{stamp}").content_string
    fact = json.loads(host.file("/etc/ansible/facts.d/crashdump_kdump.fact").content_string)
    assert fact["passed"] is True and fact["location"] == dump.path and fact["size"] == dump.size
    assert (fact["format"], fact["compression"]) == ("flattened", best_compression(host))
    assert 0 < fact["seconds_crash_to_back"] < CRASH_TIMEOUT
    assert json.loads((results / name / "crash-test.json").read_text()) == fact
    assert "sysrq: Trigger a crash" in (results / name / f"dmesg.{stamp}").read_text(), "dmesg fetched"
    # retention.keep: exactly the newest `keep` dumps stay, the oldest went first
    assert dumps(host) == set(sorted(before | set(new))[-KEEP:])
    assert len(dumps(host)) == KEEP
    # capture headroom: the capture kernel's memory, sampled while the dump was written
    capture = dict(line.split("=", 1) for line in
                   host.file("/var/lib/crashdump-kdump/last-capture").content_string.splitlines() if "=" in line)
    assert 0 < int(capture["mem_available_min_kib"]) < int(capture["mem_total_kib"])
    record(name, dict(fact, capture_mem_total_kib=int(capture["mem_total_kib"]),
                      capture_mem_available_min_kib=int(capture["mem_available_min_kib"])))


@pytest.fixture(scope="module")
def report_on(tmp_path_factory):
    """The report over both clients, and its directory (written once, in the browser once)."""
    directory = tmp_path_factory.mktemp("report")
    rows = report(directory)
    in_browser(directory, {name: row["status"] for name, row in rows.items()})
    return rows, directory


def test_report_shows_every_host_compliant(report_on):
    rows, directory = report_on
    cases = {case.get("name"): case for case in ElementTree.parse(directory / "kdump-report.xml").iter("testcase")}
    assert sorted(cases) == sorted(CLIENTS)
    for name in CLIENTS:
        assert rows[name]["status"] == "compliant", (name, rows[name]["reasons"])
        assert rows[name]["headroom"], f"{name}: the capture's measured memory reaches the report"
        assert cases[name].find("failure") is None
