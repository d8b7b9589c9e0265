"""scripts/calibrate-reservation.py: the bisection, the console verdicts, the dump judgement, the
version and record parsing, the table merge and the dry run; no VM is booted."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy

from conftest import REPO_ROOT

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "calibrate")
GRID = [64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256]  # the default 64M..256M by 16M
DUMP = "/var/crash/202612011204/dump.202612011204"


@pytest.fixture(scope="module")
def cal():
    spec = importlib.util.spec_from_file_location("calibrate_reservation",
                                                  os.path.join(REPO_ROOT, "scripts", "calibrate-reservation.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def fixture(*names):
    return "".join(open(os.path.join(FIXTURES, name), encoding="utf-8").read() for name in names)


class Oracle:
    """A fake trial: every size at or above threshold (MiB) dumps; records what was tried."""

    def __init__(self, threshold):
        self.threshold, self.tried = threshold, []

    def __call__(self, size):
        self.tried.append(size)
        return size >= self.threshold


# --------------------------------------------------------------------------- bisection

@pytest.mark.parametrize("threshold, tried, minimal, largest_failed", [
    # worked by hand on the grid indexes 0..12 (passed starts at 12, failed at -1, middle = floor of the mean)
    (128, [256, 144, 96, 112, 128], 128, 112),  # the 2 GiB Debian 12 measurement
    (200, [256, 144, 192, 224, 208], 208, 192),  # between two grid sizes: the next one up
    (80, [256, 144, 96, 64, 80], 80, 64),
    (256, [256, 144, 192, 224, 240], 256, 240),  # only the high bound dumps
    (1, [256, 144, 96, 64], 64, None),  # the low bound dumps: answer low, nothing failed
])
def test_bisection_finds_the_smallest_size_that_dumps(cal, threshold, tried, minimal, largest_failed):
    oracle = Oracle(threshold)
    found = cal.bisect(GRID, oracle)
    assert (found.minimal, found.largest_failed) == (minimal, largest_failed)
    assert found.tried == oracle.tried == tried


def test_bisection_stops_when_the_high_bound_fails(cal):
    oracle = Oracle(300)
    with pytest.raises(cal.CalibrationError, match=r"high bound 256M did not dump.*raise --high"):
        cal.bisect(GRID, oracle)
    assert oracle.tried == [256]


def test_bisection_on_one_size(cal):
    found = cal.bisect([128], Oracle(100))
    assert (found.minimal, found.largest_failed, found.tried) == (128, None, [128])


def test_bisection_never_tries_more_than_the_bound(cal):
    for threshold in range(50, 257, 4):
        oracle = Oracle(threshold)
        found = cal.bisect(GRID, oracle)
        assert found.minimal == next(size for size in GRID if size >= threshold)
        assert len(oracle.tried) <= 5 and len(set(oracle.tried)) == len(oracle.tried)


@pytest.mark.parametrize("points, most", [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (13, 5), (16, 5), (17, 6)])
def test_max_trials(cal, points, most):
    assert cal.max_trials(points) == most


def test_a_size_passes_only_when_every_repeat_dumps(cal):
    outcomes = iter([True, False, True])
    calls = []

    def crash():
        calls.append(1)
        return next(outcomes)

    assert cal.passes_repeatedly(crash, 3) is False
    assert len(calls) == 2  # stopped at the first failure
    assert cal.passes_repeatedly(lambda: True, 2) is True


def test_size_grid(cal):
    assert cal.size_grid(64, 256, 16) == GRID
    assert cal.size_grid(128, 128, 16) == [128]
    for low, high, step, message in [(64, 250, 16, "not a multiple of --step 16M"), (128, 64, 16, "below --low"),
                                     (64, 256, 0, "must be positive")]:
        with pytest.raises(cal.CalibrationError, match=message):
            cal.size_grid(low, high, step)


@pytest.mark.parametrize("text, mib", [("128", 128), ("128M", 128), ("1G", 1024), (" 96m ", 96)])
def test_size_mib(cal, text, mib):
    assert cal.size_mib(text) == mib


# --------------------------------------------------------------------------- console verdicts

def test_a_saved_capture_needs_the_dump_judged(cal):
    console = fixture("first-kernel-crash.txt", "capture-boot.txt", "capture-saved.txt")
    assert cal.classify_console(console, came_back=True) is None
    # The first kernel's own "Kernel panic - not syncing: sysrq triggered crash" is no hang.
    assert cal.hang_line(console) is None


def test_the_oom_deadlock_is_a_hang(cal):
    console = fixture("first-kernel-crash.txt", "capture-boot.txt", "capture-oom-deadlock.txt")
    assert cal.hang_line(console).endswith("] Kernel panic - not syncing: System is deadlocked on memory")
    verdict = cal.classify_console(console, came_back=False)
    assert verdict.outcome == "capture-panic"
    assert verdict.marker == "[   14.525447] Kernel panic - not syncing: System is deadlocked on memory"
    # With panic= on the capture command line the VM would reboot: still no dump worth counting.
    assert cal.classify_console(console, came_back=True).outcome == "capture-panic"


def test_serial_console_line_ends(cal):
    console = fixture("first-kernel-crash.txt", "capture-boot.txt", "capture-oom-deadlock.txt")
    assert cal.classify_console(console.replace("\n", "\r\n"), came_back=False).outcome == "capture-panic"


def test_other_capture_panics_are_hangs_too(cal):
    console = fixture("first-kernel-crash.txt", "capture-boot.txt") + \
        "[    3.120004] Kernel panic - not syncing: Out of memory and no killable processes...\n"
    verdict = cal.classify_console(console, came_back=False)
    assert verdict.outcome == "capture-panic" and "no killable processes" in verdict.marker


def test_an_oom_kill_in_the_capture_kernel_fails_the_trial(cal):
    console = fixture("first-kernel-crash.txt", "capture-boot.txt", "capture-oom-killed.txt")
    assert cal.hang_line(console) is None  # it rebooted: no need to kill it
    verdict = cal.classify_console(console, came_back=True)
    assert verdict.outcome == "oom"
    assert "Out of memory: Killed process 312 (makedumpfile)" in verdict.marker


def test_an_oom_before_the_crash_or_after_the_capture_does_not_count(cal):
    before = "[    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.1.119-1\n" \
             "[   40.100000] Out of memory: Killed process 999 (stress) total-vm:4000000kB\n"
    after = "[   50.000000] Out of memory: Killed process 1001 (stress) total-vm:4000000kB\n" \
            "[   51.000000] Kernel panic - not syncing: System is deadlocked on memory\n"
    console = before + fixture("first-kernel-crash.txt", "capture-boot.txt", "capture-saved.txt") + after
    assert cal.classify_console(console, came_back=True) is None


def test_no_reboot_without_a_panic_is_a_timeout(cal):
    booted = fixture("first-kernel-crash.txt", "capture-boot.txt")
    verdict = cal.classify_console(booted, came_back=False)
    assert verdict.outcome == "timeout" and "booted and then went silent" in verdict.detail
    silent = cal.classify_console(fixture("first-kernel-crash.txt"), came_back=False)
    assert silent.outcome == "timeout" and "never printed its banner" in silent.detail


def test_a_console_without_the_crash_is_an_error_not_a_measurement(cal):
    with pytest.raises(cal.CalibrationError, match="sysrq: Trigger a crash"):
        cal.classify_console(fixture("capture-boot.txt"), came_back=False)


# --------------------------------------------------------------------------- the dump and the record

def probe_text(head=b"makedumpfile\0\0\0\0", tail=b"\xff" * 16, size=52428800, sysrq_lines="1"):
    return "\n".join([base64.b64encode(head).decode(), base64.b64encode(tail).decode(), str(size), sysrq_lines]) + "\n"


def saved_record():
    return {"result": "saved", "location": DUMP, "stamp": "202612011204"}


def test_a_complete_dump_has_no_problems(cal):
    probe = cal.parse_dump_probe(probe_text())
    assert (probe.size, probe.dmesg_has_crash) == (52428800, True)
    assert cal.dump_problems(probe, saved_record(), DUMP, 1024 * 1024) == []


@pytest.mark.parametrize("probe, record, problem", [
    (dict(head=b"KDUMP   \0\0\0\0\0\0\0\0"), {}, "not makedumpfile's flattened signature"),
    (dict(tail=b"\x00" * 16), {}, "not the flattened end-of-stream record"),
    (dict(size=4096), {}, "4096 bytes, below the floor of 1048576"),
    (dict(sysrq_lines="0"), {}, "its dmesg lacks 'sysrq: Trigger a crash'"),
    (dict(sysrq_lines=""), {}, "its dmesg lacks"),  # no dmesg file at all
    ({}, {"result": "saved_to_rootfs"}, "result='saved_to_rootfs', not saved"),
    ({}, {"location": "/var/crash/202612011100/dump.202612011100"}, "not the new dump"),
])
def test_each_defect_of_a_dump_is_named(cal, probe, record, problem):
    problems = cal.dump_problems(cal.parse_dump_probe(probe_text(**probe)), dict(saved_record(), **record),
                                 DUMP, 1024 * 1024)
    assert len(problems) == 1 and problem in problems[0]


def test_a_garbled_probe_is_an_error(cal):
    with pytest.raises(cal.CalibrationError, match="unexpected dump probe output"):
        cal.parse_dump_probe("bWFrZQ==\n")


@pytest.mark.parametrize("location, dump, names", [
    (DUMP, DUMP, True),
    ("kdump@10.0.2.100:cal-trixie-ssh-2048/202612011204",
     "/srv/crash/cal-trixie-ssh-2048/202612011204/dump.202612011204", True),
    ("10.0.2.100:/srv/crash/cal-trixie-nfs-2048/202612011204",
     "/srv/crash/cal-trixie-nfs-2048/202612011204/dump.202612011204", True),
    ("kdump@10.0.2.100:cal-trixie-ssh-2048/202612011100",
     "/srv/crash/cal-trixie-ssh-2048/202612011204/dump.202612011204", False),
    ("kdump@10.0.2.100:other-client/202612011204",
     "/srv/crash/cal-trixie-ssh-2048/202612011204/dump.202612011204", False),
    ("", DUMP, False),
])
def test_the_record_must_name_the_new_dump(cal, location, dump, names):
    assert cal.record_names_dump(location, dump) is names


def test_last_capture_record_and_its_memory_figures(cal):
    record = cal.parse_key_values(fixture("last-capture-local.txt"))
    assert record["result"] == "saved" and record["location"] == DUMP and record["detail"] == ""
    assert cal.capture_memory(record) == {"mem_total_kib": 98304, "mem_available_min_kib": 21504}
    assert cal.capture_memory({"result": "saved"}) == {}  # a capture script from before the memory keys
    assert cal.capture_memory({"mem_total_kib": "98304", "mem_available_min_kib": ""}) == {"mem_total_kib": 98304}


def test_worst_capture_memory_at_the_minimal_size(cal):
    def trial(size, outcome, available):
        memory = {"mem_total_kib": 98304, "mem_available_min_kib": available} if available else {}
        return cal.Trial(size, outcome, capture_memory=memory)
    trials = [trial(256, "saved", 90000), trial(128, "saved", 20480), trial(128, "saved", 30720),
              trial(112, "capture-panic", None), trial(128, "oom", 100)]
    assert cal.worst_capture_memory(trials, 128) == {"mem_total_kib": 98304, "mem_available_min_kib": 20480,
                                                     "headroom_mib": 20.0}
    assert cal.worst_capture_memory(trials, 112) == {}


@pytest.mark.parametrize("name, expected", [
    ("versions-bookworm.txt", {"kernel": "6.1.0-28-amd64", "os_version": "12", "kdump_tools": "1:1.8.1",
                               "makedumpfile": "1:1.7.2-1"}),
    ("versions-trixie.txt", {"kernel": "6.12.43+deb13-amd64", "os_version": "13", "kdump_tools": "1:1.10.6",
                             "makedumpfile": "1:1.7.6-1"}),
])
def test_versions_read_from_the_guest(cal, name, expected):
    assert cal.parse_versions(fixture(name)) == expected


def test_versions_without_the_tools_are_an_error(cal):
    with pytest.raises(cal.CalibrationError, match="makedumpfile is not installed"):
        cal.parse_versions("6.1.0-28-amd64\n12\nkdump-tools\t1:1.8.1\n")
    with pytest.raises(cal.CalibrationError, match="cannot read the guest's versions"):
        cal.parse_versions("")


def test_kexec_state(cal):
    assert cal.parse_kexec_state("134217728\n1\n") == (134217728, True)
    assert cal.parse_kexec_state("0\n0\n") == (0, False)
    with pytest.raises(cal.CalibrationError, match="unexpected kexec state"):
        cal.parse_kexec_state("cat: /sys/kernel/kexec_crash_size: No such file or directory\n")


# --------------------------------------------------------------------------- policies

@pytest.mark.parametrize("target", ["local", "ssh", "nfs"])
@pytest.mark.parametrize("size", [64, 256])
def test_trial_policies_pass_the_collection_model(cal, target, size):
    policy = normalise_policy(cal.trial_policy(target, size))
    assert policy["reservation"]["size"] == size * 1024 * 1024
    assert (policy["target"]["type"], policy["reboot"], policy["on_failure"]) == (target, "allowed", "reboot")


def test_a_cma_trial_policy_reserves_both_parts(cal):
    policy = normalise_policy(cal.trial_policy("local", 128, cma=256))
    assert policy["reservation"]["size"] == 128 * 1024 * 1024
    assert policy["reservation"]["cma"] == 256 * 1024 * 1024


# --------------------------------------------------------------------------- the table

def cell(release="bookworm", target="local", memory=2048, minimal=128):
    return {"release": release, "target": target, "memory_mib": memory, "minimal_mib": minimal}


def test_rerunning_a_cell_replaces_it_and_keeps_the_others(cal):
    table = cal.empty_table()
    for entry in (cell(memory=4096), cell(target="ssh"), cell()):
        table = cal.merge_cell(table, entry)
    table = cal.merge_cell(table, cell(minimal=144))
    table = cal.merge_cell(table, dict(cell(release="trixie-backports", minimal=64), cma_mib=256))
    assert [(c["release"], c["target"], c["memory_mib"], c["minimal_mib"]) for c in table["cells"]] == [
        ("bookworm", "local", 2048, 144), ("bookworm", "local", 4096, 128), ("bookworm", "ssh", 2048, 128),
        ("trixie-backports", "local", 2048, 64)]
    assert table["format"] == 1 and "description" in table


def test_table_round_trip_and_bad_tables(cal, tmp_path):
    path = tmp_path / "docs" / "table.json"
    assert cal.load_table(path) == cal.empty_table()
    table = cal.merge_cell(cal.empty_table(), cell())
    cal.write_table(path, table)
    assert cal.load_table(path) == table
    assert [p.name for p in path.parent.iterdir()] == ["table.json"]  # no temporary file left
    path.write_text('{"format": 2, "cells": []}')
    with pytest.raises(cal.CalibrationError, match="format 1"):
        cal.load_table(path)
    path.write_text("{not json")
    with pytest.raises(cal.CalibrationError, match="not a readable calibration table"):
        cal.load_table(path)


def test_committed_table_loads(cal):
    table = cal.load_table(cal.DEFAULT_TABLE)
    for entry in table["cells"]:
        assert {"release", "kernel", "kdump_tools", "makedumpfile", "target", "memory_mib", "minimal_mib",
                "largest_failed_mib", "trials", "date", "duration_seconds"} <= set(entry)
        assert any(t["size_mib"] == entry["minimal_mib"] and t["outcome"] == "saved" for t in entry["trials"])


def test_cell_entry(cal):
    trials = [cal.Trial(256, "saved", capture_memory={"mem_total_kib": 200000, "mem_available_min_kib": 150000}),
              cal.Trial(144, "capture-panic", marker="Kernel panic - not syncing: System is deadlocked on memory")]
    versions = cal.parse_versions(fixture("versions-bookworm.txt"))
    entry = cal.cell_entry("bookworm", "local", 2048, GRID, 1, versions, cal.Bisection(256, 144, [256, 144]),
                           trials, 1234.4)
    assert entry["release"] == "bookworm" and entry["kdump_tools"] == "1:1.8.1" and entry["memory_mib"] == 2048
    assert (entry["minimal_mib"], entry["largest_failed_mib"], entry["duration_seconds"]) == (256, 144, 1234)
    assert entry["grid"] == {"low_mib": 64, "high_mib": 256, "step_mib": 16, "crashes_per_size": 1}
    assert entry["capture_memory_at_minimal"]["headroom_mib"] == 146.5
    assert [t["outcome"] for t in entry["trials"]] == ["saved", "capture-panic"]
    assert len(entry["date"]) == 10 and entry["date"][4] == "-"
    json.dumps(entry)  # the table is JSON


# --------------------------------------------------------------------------- CLI

def test_dry_run_plans_without_booting(cal, capsys, monkeypatch, tmp_path):
    def no_vm(*args, **kwargs):
        raise AssertionError("the dry run booted a VM")
    for name in ("create_vm", "start_vm", "stop_vm", "ssh"):
        monkeypatch.setattr(cal.kdumplab, name, no_vm)
    table = tmp_path / "t.json"
    assert cal.main(["--suite", "bookworm,trixie", "--target", "local", "--target", "nfs", "--memory", "2048",
                     "--memory", "4096", "--table", str(table), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "grid: 64M, 80M, 96M, 112M, 128M, 144M, 160M, 176M, 192M, 208M, 224M, 240M, 256M" in out
    assert "first 256M (must dump)" in out and "at most 5 crashes" in out
    assert out.count("\n- ") == 8  # 2 suites x 2 targets x 2 sizes
    assert "- trixie nfs 4096 MiB: client cal-trixie-nfs-4096 (4096 MiB), dump server cal-srv-trixie" in out
    assert not table.exists()


def test_cli_errors_are_one_line(cal, capsys):
    assert cal.main(["--suite", "bookworm", "--target", "local", "--memory", "2048", "--low", "48",
                     "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("calibrate-reservation: the local trial policy at 48M: kdump_policy.reservation.size")
    assert "Traceback" not in err
    assert cal.main(["--suite", "bookworm", "--target", "local", "--memory", "2048", "--high", "250",
                     "--dry-run"]) == 1
    assert "not a multiple of --step 16M" in capsys.readouterr().err
    for argv in (["--target", "local", "--memory", "2048"], ["--suite", "sid", "--target", "local", "--memory", "2048"],
                 ["--suite", "trixie", "--target", "raw", "--memory", "2048"],
                 ["--suite", "trixie", "--target", "local", "--memory", "256"]):
        with pytest.raises(SystemExit) as exit_info:
            cal.main(argv + ["--dry-run"])
        assert exit_info.value.code == 2
    assert "a guest needs at least 512 MiB" in capsys.readouterr().err


# --------------------------------------------------------------------------- one trial, on a fake lab

class FakeLab:
    """kdumplab's VM functions over a console file and canned SSH answers; `capture` is the console
    text the crash writes (a hang when it has no reboot: the fake then waits to be killed)."""

    def __init__(self, cal, tmp_path, capture, size=128):
        self.cal, self.tmp_path, self.capture, self.size = cal, tmp_path, capture, size
        self.dumps, self.commands, self.stopped, self.booted = [], [], [], []
        self.started, self.waited = [], []

    def install(self, monkeypatch, lab):
        k = self.cal.kdumplab
        monkeypatch.setattr(k, "vm_dir", lambda name: self.tmp_path / name)
        monkeypatch.setattr(k, "boot_id", lambda name: "boot-1")
        monkeypatch.setattr(k, "crash", self.crash)
        monkeypatch.setattr(k, "stop_vm", lambda name, remove: self.stopped.append((name, remove)))
        monkeypatch.setattr(k, "start_vm", self.start_vm)
        monkeypatch.setattr(k, "wait_ssh", lambda name, timeout: self.waited.append(name))
        monkeypatch.setattr(k, "ssh", self.ssh)
        monkeypatch.setattr(k, "host_vars", lambda name: {"ansible_host": "127.0.0.1", "ansible_port": 2222})
        monkeypatch.setattr(self.cal, "HANG_GRACE", 0)
        monkeypatch.setattr(self.cal, "EVIDENCE_DIR", self.tmp_path / "evidence")
        monkeypatch.setattr(lab, "boot", lambda name, *args: self.booted.append(name))
        monkeypatch.setattr(lab, "playbook", lambda *args, **kwargs: True)
        lab.workdir = self.tmp_path / "evidence" / lab.client
        lab.workdir.mkdir(parents=True)
        (self.tmp_path / lab.client).mkdir()

    def start_vm(self, name):
        self.started.append(name)
        with open(self.tmp_path / name / "console.log", "a", encoding="utf-8") as handle:
            handle.write("Linux version 6.1.0 (the boot after the kill)\n")

    def crash(self, name, timeout):
        with open(self.tmp_path / name / "console.log", "a", encoding="utf-8") as handle:
            handle.write(self.capture)
        if "Restarting system" not in self.capture:
            for _ in range(200):  # hung: until the calibration kills the VM (10 s at most)
                if self.stopped:
                    raise self.cal.kdumplab.LabError(f"VM {name}: QEMU exited after the crash")
                time.sleep(0.05)
            raise self.cal.kdumplab.LabError(f"VM {name}: not back {timeout:.0f}s after the crash")
        if "saved:" in self.capture:
            self.dumps.append(DUMP)
        return {"vm": name, "seconds_to_back": 200.0}

    def ssh(self, name, command, timeout=60):
        self.commands.append((name, command))
        if command.startswith("cat /sys/kernel/kexec_crash_size"):
            out = f"{self.size * 1024 * 1024}\n1\n"
        elif command.startswith("uname -r"):
            out = fixture("versions-bookworm.txt")
        elif command.startswith("find "):
            out = "\n".join(self.dumps) + "\n"
        elif command.startswith("cat /var/lib/crashdump-kdump/last-capture"):
            out = fixture("last-capture-local.txt")
        elif command.startswith("sh -c "):
            out = probe_text()
        else:
            raise AssertionError(f"unexpected command {command!r}")
        return subprocess.CompletedProcess([], 0, out, "")


def lab_cell(cal):
    return cal.LabCell("bookworm", "local", 2048, cal.Options(trial_timeout=5, min_dump_bytes=1024 * 1024,
                                                              repeat=1, keep=False))


def test_a_trial_that_saves(cal, tmp_path, monkeypatch):
    lab = lab_cell(cal)
    fake = FakeLab(cal, tmp_path, fixture("first-kernel-crash.txt", "capture-boot.txt", "capture-saved.txt"))
    fake.install(monkeypatch, lab)
    trial = lab.trial(128)
    assert (trial.outcome, trial.detail, trial.dump_bytes) == ("saved", DUMP, 52428800)
    assert trial.capture_memory == {"mem_total_kib": 98304, "mem_available_min_kib": 21504}
    assert lab.versions["makedumpfile"] == "1:1.7.2-1"
    assert fake.booted == ["cal-bookworm-local-2048"] and fake.stopped == []
    probe = [command for _, command in fake.commands if command.startswith("sh -c ")]
    assert probe[0].endswith(" probe /var/crash/202612011204/dump.202612011204 "
                             "/var/crash/202612011204/dmesg.202612011204")
    assert open(os.path.join(REPO_ROOT, trial.evidence), encoding="utf-8").read().startswith("saved: ")
    inventory = json.loads((lab.workdir / "inventory.json").read_text(encoding="utf-8"))
    client = inventory["all"]["children"]["clients"]["hosts"]["cal-bookworm-local-2048"]
    assert (client["ansible_port"], client["kdump_policy"]["reservation"]) == (2222, {"size": "128M"})
    assert lab.client_fresh is False  # reused for the next trial
    lab.trial(128)
    assert fake.booted == ["cal-bookworm-local-2048"]


def test_a_hung_capture_is_killed_and_the_vm_booted_again(cal, tmp_path, monkeypatch):
    lab = lab_cell(cal)
    fake = FakeLab(cal, tmp_path, fixture("first-kernel-crash.txt", "capture-boot.txt",
                                          "capture-oom-deadlock.txt"), size=112)
    fake.install(monkeypatch, lab)
    trial = lab.trial(112)
    assert trial.outcome == "capture-panic"
    assert trial.seconds < 8  # killed when the panic showed, not at the trial bound
    assert trial.marker.endswith("Kernel panic - not syncing: System is deadlocked on memory")
    assert ("cal-bookworm-local-2048", False) in fake.stopped
    assert fake.started == fake.waited == ["cal-bookworm-local-2048"]  # booted again, on SSH
    assert lab.client_fresh is False and fake.booted == ["cal-bookworm-local-2048"]  # not reinstalled
    assert not any(command.startswith("sh -c ") for _, command in fake.commands)  # no dump looked for
    evidence = open(os.path.join(REPO_ROOT, trial.evidence), encoding="utf-8").read()
    assert "System is deadlocked on memory" in evidence
    assert "the boot after the kill" not in evidence  # the evidence ends with the hang


def test_a_cma_trial_needs_the_kernels_word_that_it_reserved_cma(cal, tmp_path, monkeypatch):
    lab = cal.LabCell("trixie-backports", "local", 2048, cal.Options(5, 1024 * 1024, 1, False, cma=256))
    fake = FakeLab(cal, tmp_path, fixture("first-kernel-crash.txt", "capture-boot.txt", "capture-saved.txt"))
    fake.install(monkeypatch, lab)
    answers = {"dmesg": "[    0.000000] crashkernel CMA reserved: 256 MB in 1 ranges\n"}
    ssh = fake.ssh
    monkeypatch.setattr(cal.kdumplab, "ssh", lambda name, command, timeout=60: (
        subprocess.CompletedProcess([], 0, answers["dmesg"], "") if command.startswith("dmesg") else
        ssh(name, command, timeout)))
    assert lab.apply(128) is None
    assert lab.cma_reserved == "crashkernel CMA reserved: 256 MB in 1 ranges"
    inventory = json.loads((lab.workdir / "inventory.json").read_text(encoding="utf-8"))
    client = inventory["all"]["children"]["clients"]["hosts"][lab.client]
    assert client["kdump_policy"]["reservation"] == {"size": "128M", "cma": "256M"}
    lab.trial(128)
    assert lab.versions["kernel"] and lab.versions["makedumpfile"] == "1:1.7.2-1"  # read although cma came first
    answers["dmesg"] = ""
    with pytest.raises(cal.CalibrationError, match="no 'crashkernel CMA reserved' in dmesg"):
        lab.apply(128)


def test_a_reservation_that_did_not_take_effect_stops_the_cell(cal, tmp_path, monkeypatch):
    lab = lab_cell(cal)
    fake = FakeLab(cal, tmp_path, "", size=256)  # the VM still has 256M when 128M was applied
    fake.install(monkeypatch, lab)
    with pytest.raises(cal.CalibrationError, match=r"268435456 bytes reserved after applying 128M"):
        lab.trial(128)
