#!/usr/bin/env python
"""Calibrate crashkernel=: the smallest reservation with which a forced crash saves a valid dump.

For each release x target x guest RAM (a "cell") the tool boots lab VMs (lab/kdumplab.py), and
bisects on a grid (default 64M..256M in 16M steps) the smallest fixed `reservation.size` with
which a crash saves a complete dump. It checks the high bound first: if that fails, nothing below
it means anything. Each trial:

  1. applies a policy with `reservation.size: <N>M`, the target and `reboot: allowed` through
     crashdump.kdump.site (the role reboots the VM into the new reservation), and checks that
     /sys/kernel/kexec_crash_size is N MiB and a capture kernel is loaded;
  2. crashes the VM (sysrq c) and watches its serial console: a panic inside the capture kernel
     ("Kernel panic - not syncing: System is deadlocked on memory") hangs it for good, so the VM
     is killed at once (and booted again for the next trial); every wait is bounded;
  3. judges the result on its own, not through the collection's code: exactly one new dump where
     the policy puts it, starting with makedumpfile's flattened signature and ending with its
     end-of-stream record (16 bytes 0xff), above a size floor, its dmesg holding the sysrq
     crash, and the client's last-capture record saying `saved` for that dump's stamp. Any
     "Out of memory" inside the capture kernel fails the trial even if a dump was written.

Results replace their cell in the table (default docs/reservation-calibration.json), with the
versions read from the guest, every trial, the capture kernel's memory headroom and the run's
date and duration. Each trial's console (from the crash on) is kept under .cache/calibration.

  scripts/calibrate-reservation.py --suite bookworm --target local --memory 2048,4096
  scripts/calibrate-reservation.py --suite trixie --target ssh --memory 2048 --dry-run

ssh and nfs cells also boot a dump server VM (crashdump.kdump.dump_server, prepared by
molecule/targets/prepare.yml), reached by the client at 10.0.2.100 through loopback forwards.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import itertools
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))
import kdumplab  # noqa: E402  (standard library only; importing it boots nothing)

SUITES = ("bookworm", "trixie", "trixie-backports")  # the last: trixie with the 7.x kernel, for --cma
TARGETS = ("local", "ssh", "nfs")
DEFAULT_TABLE = ROOT / "docs" / "reservation-calibration.json"
EVIDENCE_DIR = ROOT / ".cache" / "calibration"
TABLE_FORMAT = 1
MIB = 1024 * 1024

SERVER_ADDRESS = "10.0.2.100"  # where a client reaches the dump server (molecule/targets does the same)
SERVER_DIR = "/srv/crash"  # the dump_server role's default dump_server_path
SERVER_MEMORY = 512
LOCAL_DIR = "/var/crash"
LAST_CAPTURE = "/var/lib/crashdump-kdump/last-capture"  # written by roles/kdump/files/debian-capture.sh
APPLY_TIMEOUT = 1800  # seconds for one site run: package install and capture initrd under TCG, a reboot
BOOT_TIMEOUT = 600
HANG_GRACE = 5  # seconds of console kept after a capture-kernel panic, for its stack trace

SYSRQ_MARKER = "sysrq: Trigger a crash"
BOOT_BANNER = re.compile(r"Linux version \d")
# Inside the capture kernel only: the first kernel's own "Kernel panic - not syncing: sysrq
# triggered crash" comes before the capture kernel's banner and means nothing here.
PANIC = re.compile(r"Kernel panic - not syncing")
DEADLOCK = "System is deadlocked on memory"  # mm/oom_kill.c, after "Out of memory and no killable processes..."
OOM = re.compile(r"Out of memory")  # "Out of memory: Killed process N (...)" and the no-killable case
FLAT_SIGNATURE = b"makedumpfile"  # makedumpfile's flattened header: the signature, NUL padded to 16
FLAT_END = b"\xff" * 16  # its end-of-stream data header: offset and size both -1


class CalibrationError(Exception):
    """The calibration cannot go on; the message says why and where to look."""


# --------------------------------------------------------------------------- pure logic

def size_mib(text: str) -> int:
    """'128', '128M' or '1G' -> MiB."""
    match = re.fullmatch(r"\s*(\d+)\s*([MG]?)\s*", str(text), re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size in MiB such as 128 or 128M")
    return int(match.group(1)) * (1024 if match.group(2).upper() == "G" else 1)


def size_grid(low: int, high: int, step: int) -> list[int]:
    """The sizes (MiB) a bisection may try: low, low+step, ..., high."""
    if step <= 0 or low <= 0:
        raise CalibrationError(f"--low {low}M and --step {step}M must be positive")
    if high < low:
        raise CalibrationError(f"--high {high}M is below --low {low}M")
    if (high - low) % step:
        raise CalibrationError(f"--high {high}M - --low {low}M is not a multiple of --step {step}M")
    return list(range(low, high + 1, step))


def max_trials(points: int) -> int:
    """Sizes a bisection over `points` grid sizes tries at most: the high bound, then halving."""
    return 1 + math.ceil(math.log2(points)) if points > 1 else 1


@dataclass
class Bisection:
    minimal: int  # MiB: the smallest size that passed
    largest_failed: int | None  # MiB: the largest size that failed (None: none below minimal failed)
    tried: list[int]  # MiB, in the order tried


def bisect(sizes: list[int], passes: Callable[[int], bool]) -> Bisection:
    """The smallest of sorted `sizes` that passes, assuming every size above a passing one passes.
    The high bound is tried first; if it fails there is no answer in the range."""
    tried = []

    def attempt(index: int) -> bool:
        tried.append(sizes[index])
        return passes(sizes[index])

    if not attempt(len(sizes) - 1):
        raise CalibrationError(f"the high bound {sizes[-1]}M did not dump: nothing below it can be "
                               "judged; raise --high or read the trial's console")
    passed, failed = len(sizes) - 1, -1  # indexes; -1: below the grid, never tried
    while passed - failed > 1:
        middle = (passed + failed) // 2
        if attempt(middle):
            passed = middle
        else:
            failed = middle
    return Bisection(sizes[passed], sizes[failed] if failed >= 0 else None, tried)


def passes_repeatedly(crash_once: Callable[[], bool], repeat: int) -> bool:
    """A size passes when `repeat` crashes in a row save a dump; stops at the first failure."""
    return all(crash_once() for _ in range(repeat))


def capture_console(text: str) -> str | None:
    """The capture kernel's part of a console written from just before a crash: from the first
    boot banner after the sysrq line up to the next banner (the normal boot after the capture).
    None when the capture kernel never printed its banner."""
    lines = text.splitlines()
    crash = next((i for i, line in enumerate(lines) if SYSRQ_MARKER in line), None)
    if crash is None:
        return None
    banners = [i for i in range(crash + 1, len(lines)) if BOOT_BANNER.search(lines[i])]
    if not banners:
        return None
    end = banners[1] if len(banners) > 1 else len(lines)
    return "\n".join(lines[banners[0]:end])


def hang_line(text: str) -> str | None:
    """The console line showing that the capture kernel panicked (it never reboots after that)."""
    capture = capture_console(text) or ""
    lines = capture.splitlines()
    return (next((line for line in lines if DEADLOCK in line), None)
            or next((line for line in lines if PANIC.search(line)), None))


@dataclass
class Verdict:
    outcome: str  # saved | capture-panic | oom | timeout | no-dump | not-loaded
    detail: str = ""
    marker: str = ""  # the console line the verdict rests on


def classify_console(text: str, came_back: bool) -> Verdict | None:
    """The verdict the console alone gives about a crash, or None when it depends on the dump.
    `text` is the console from just before the crash; `came_back`: the VM booted again."""
    if SYSRQ_MARKER not in text:  # the first kernel prints it whatever the reservation: not a measurement
        raise CalibrationError(f"the console never showed {SYSRQ_MARKER!r}: the crash was not triggered")
    panic = hang_line(text)
    if panic:
        return Verdict("capture-panic", "the capture kernel panicked (a hang: no reboot follows)",
                       panic.strip())
    oom = next((line for line in (capture_console(text) or "").splitlines() if OOM.search(line)), None)
    if oom:
        return Verdict("oom", "the OOM killer ran in the capture kernel", oom.strip())
    if not came_back:
        booted = capture_console(text) is not None
        return Verdict("timeout", "no new boot within the trial bound; the capture kernel "
                       + ("booted and then went silent" if booted else "never printed its banner"))
    return None


def parse_key_values(text: str) -> dict[str, str]:
    """key=value lines (the capture script's last-capture record)."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def parse_versions(text: str) -> dict[str, str]:
    """The guest's `uname -r`, VERSION_ID and `dpkg-query -W -f '${Package}\\t${Version}\\n'` lines."""
    lines = text.splitlines()
    if len(lines) < 2:
        raise CalibrationError(f"cannot read the guest's versions from {text!r}")
    versions = {"kernel": lines[0].strip(), "os_version": lines[1].strip()}
    packages = dict(line.split("\t", 1) for line in lines[2:] if "\t" in line)
    for package in ("kdump-tools", "makedumpfile"):
        if not packages.get(package, "").strip():
            raise CalibrationError(f"{package} is not installed in the guest (dpkg-query: {text!r})")
        versions[package.replace("-", "_")] = packages[package].strip()
    return versions


def parse_kexec_state(text: str) -> tuple[int, bool]:
    """`cat /sys/kernel/kexec_crash_size /sys/kernel/kexec_crash_loaded` -> (bytes, loaded)."""
    fields = text.split()
    if len(fields) != 2 or not all(f.isascii() and f.isdigit() for f in fields):
        raise CalibrationError(f"unexpected kexec state {text!r}")
    return int(fields[0]), fields[1] == "1"


@dataclass
class DumpProbe:
    """What the dump host says about one dump file (see DUMP_PROBE)."""
    head: bytes
    tail: bytes
    size: int
    dmesg_has_crash: bool


# Prints, for the dump $1 and its dmesg $2: its first and last 16 bytes (base64), its size and
# how many dmesg lines hold the sysrq crash.
DUMP_PROBE = ('head -c 16 "$1" | base64 -w0; echo; tail -c 16 "$1" | base64 -w0; echo; stat -L -c %s "$1"; '
              f'grep -c -F {shlex.quote(SYSRQ_MARKER)} "$2" 2>/dev/null || true')


def parse_dump_probe(text: str) -> DumpProbe:
    lines = text.splitlines()
    if len(lines) != 4 or not lines[2].isdigit():
        raise CalibrationError(f"unexpected dump probe output {text!r}")
    return DumpProbe(base64.b64decode(lines[0]), base64.b64decode(lines[1]), int(lines[2]),
                     lines[3].strip() not in ("", "0"))


def dump_problems(probe: DumpProbe, last_capture: dict[str, str], dump: str, min_bytes: int) -> list[str]:
    """Why the new dump at path `dump` (DIR/STAMP/dump.STAMP) is not a complete, valid dump of this
    crash ([] when it is)."""
    problems = []
    if not probe.head.startswith(FLAT_SIGNATURE):
        problems.append(f"header {probe.head[:16]!r} is not makedumpfile's flattened signature")
    if probe.tail != FLAT_END:
        problems.append(f"ends with {probe.tail.hex()}, not the flattened end-of-stream record (cut short)")
    if probe.size < min_bytes:
        problems.append(f"{probe.size} bytes, below the floor of {min_bytes}")
    if not probe.dmesg_has_crash:
        problems.append(f"its dmesg lacks {SYSRQ_MARKER!r}")
    location = last_capture.get("location", "")
    if last_capture.get("result") != "saved":
        problems.append(f"last-capture says result={last_capture.get('result')!r}, not saved")
    elif not record_names_dump(location, dump):
        problems.append(f"last-capture names {location!r}, not the new dump {dump}")
    return problems


def record_names_dump(location: str, dump: str) -> bool:
    """The capture record's location is the dump file (local: kdump-tools chose the stamp), or
    ends with the dump's CLIENT/STAMP directory (ssh: DEST:CLIENT/STAMP, nfs: EXPORT/CLIENT/STAMP)."""
    if location == dump:
        return True
    tail = "/".join(location.split(":")[-1].rstrip("/").split("/")[-2:])
    return "/" in tail and dump.rsplit("/", 1)[0].endswith("/" + tail)


def capture_memory(last_capture: dict[str, str]) -> dict[str, int]:
    """The capture kernel's MemTotal and lowest MemAvailable (KiB), when the record has them."""
    keys = ("mem_total_kib", "mem_available_min_kib")
    return {key: int(last_capture[key]) for key in keys if last_capture.get(key, "").isdigit()}


def worst_capture_memory(trials: list, size: int) -> dict:
    """Of the saved trials at `size`, the capture memory record with the least MemAvailable, with
    that headroom in MiB ({} when no trial recorded it)."""
    records = [t.capture_memory for t in trials if t.size_mib == size and t.outcome == "saved"
               and "mem_available_min_kib" in t.capture_memory]
    if not records:
        return {}
    worst = min(records, key=lambda record: record["mem_available_min_kib"])
    return dict(worst, headroom_mib=round(worst["mem_available_min_kib"] / 1024, 1))


def trial_policy(target: str, size: int, cma: int | None = None) -> dict:
    """The kdump_policy of one trial: a fixed reservation (and a CMA one beside it), the target,
    reboots allowed. on_failure reboot: a target that fails must show as a failure, not as a dump
    saved elsewhere."""
    targets = {
        "local": {"type": "local", "path": LOCAL_DIR},
        "ssh": {"type": "ssh", "host": SERVER_ADDRESS, "user": "kdump", "path": SERVER_DIR},
        "nfs": {"type": "nfs", "host": SERVER_ADDRESS, "export": SERVER_DIR, "path": "/"},
    }
    reservation = {"size": f"{size}M", **({"cma": f"{cma}M"} if cma else {})}
    return {"enabled": True, "reservation": reservation, "target": targets[target],
            "filter": {"dump_level": 31, "compression": "auto", "dmesg": True},
            "on_failure": "reboot", "on_success": "reboot",
            "retention": {"keep": 2, "min_free": "64M"}, "reboot": "allowed"}


def cell_key(cell: dict) -> tuple:
    return (cell["release"], cell["target"], cell["memory_mib"], cell.get("cma_mib") or 0)


def empty_table() -> dict:
    return {"format": TABLE_FORMAT,
            "description": "Measured minimal crashkernel= reservations of the lab (QEMU TCG, 1 vCPU, x86_64): "
                           "per release, dump target and guest RAM, the smallest fixed reservation with which "
                           "a forced crash saved a complete, valid dump, and the largest that failed.",
            "produced_by": "scripts/calibrate-reservation.py (see its --help)",
            "cells": []}


def merge_cell(table: dict, cell: dict) -> dict:
    """The table with `cell` in place of the one with the same release, target and RAM."""
    others = [c for c in table.get("cells", []) if cell_key(c) != cell_key(cell)]
    return dict(table, cells=sorted(others + [cell], key=cell_key))


def load_table(path: Path) -> dict:
    if not path.exists():
        return empty_table()
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: not a readable calibration table ({exc})") from None
    if not isinstance(table, dict) or table.get("format") != TABLE_FORMAT or not isinstance(table.get("cells"), list):
        raise CalibrationError(f"{path}: expected a calibration table of format {TABLE_FORMAT} with a cells list")
    return table


def write_table(path: Path, table: dict) -> None:
    """Atomic: a temporary file in the same directory, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                         encoding="utf-8")
    with handle:
        json.dump(table, handle, indent=2)
        handle.write("\n")
    os.replace(handle.name, path)


# --------------------------------------------------------------------------- the lab

@dataclass
class Trial:
    size_mib: int
    outcome: str
    detail: str = ""
    marker: str = ""
    seconds: float = 0.0
    dump_bytes: int | None = None
    capture_memory: dict = field(default_factory=dict)
    evidence: str = ""


@dataclass
class Options:
    trial_timeout: float
    min_dump_bytes: int
    repeat: int
    keep: bool
    cma: int | None = None  # MiB of crashkernel=SIZE,cma beside every trial's regular size


def shell_quote(*words: str) -> str:
    """The one way this script puts values into a remote shell command."""
    return " ".join(shlex.quote(word) for word in words)


def ssh_ok(name: str, command: str, timeout: float = 60) -> str:
    """stdout of a command on a lab VM; a CalibrationError naming the VM when it fails."""
    try:
        run = kdumplab.ssh(name, command, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CalibrationError(f"VM {name}: {command!r} took more than {timeout:.0f}s") from None
    if run.returncode != 0:
        raise CalibrationError(f"VM {name}: {command!r} failed (exit {run.returncode}): {run.stderr.strip()}")
    return run.stdout


def run_bounded(command: list[str], timeout: float, env: dict) -> subprocess.CompletedProcess | None:
    """A command in its own process group, killed as a whole after `timeout` (None then)."""
    with subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return None
    return subprocess.CompletedProcess(command, proc.returncode, out, "")


def ansible_playbook() -> str:
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else "ansible-playbook"


class LabCell:
    """The VMs of one cell (a client, and a dump server for ssh and nfs) and its trials."""

    def __init__(self, suite: str, target: str, memory: int, options: Options):
        self.suite, self.target, self.memory, self.options = suite, target, memory, options
        self.client = f"cal-{suite}-{target}-{memory}"
        self.server = f"cal-srv-{suite}" if target in ("ssh", "nfs") else None
        self.workdir = EVIDENCE_DIR / self.client
        self.versions: dict[str, str] = {}
        self.cma_reserved: str | None = None  # the kernel's line, for --cma cells
        self.client_fresh = True  # recreate the client before the next trial
        self.count = 0

    # ---- VMs
    def boot(self, name: str, memory: int, guestfwd: list[str], hostfwd: list[int]) -> None:
        kdumplab.stop_vm(name, remove=True)
        kdumplab.create_vm(name, self.suite, memory, [], [kdumplab.parse_guestfwd(f) for f in guestfwd], hostfwd)
        kdumplab.start_vm(name)
        kdumplab.wait_ssh(name, BOOT_TIMEOUT)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.server:
            self.boot(self.server, SERVER_MEMORY, [], [2049])
            # Prepared as molecule/targets prepares its server; the limit skips its client play.
            if not self.playbook(self.write_inventory(None), str(ROOT / "molecule/targets/prepare.yml"),
                                 "--limit", self.server, what="preparing the dump server"):
                raise CalibrationError(f"preparing the dump server {self.server} failed; "
                                       f"see {self.workdir / 'ansible.log'}")

    def fresh_client(self) -> None:
        forwards = [f"{SERVER_ADDRESS}:{port}={self.server}:{port}" for port in (22, 2049)] if self.server else []
        self.boot(self.client, self.memory, forwards, [])
        self.client_fresh = False

    def stop(self) -> None:
        if not self.options.keep:
            for name in filter(None, (self.client, self.server)):
                kdumplab.stop_vm(name, remove=True)

    # ---- ansible
    def write_inventory(self, size: int | None) -> Path:
        """The server, and the client with the trial's policy (None: the server only)."""
        groups = {}
        if self.server:
            groups["dump_servers"] = {"hosts": {self.server: kdumplab.host_vars(self.server)}}
        if size is not None:
            client = dict(kdumplab.host_vars(self.client),
                          kdump_policy=trial_policy(self.target, size, self.options.cma),
                          kdump_reboot_timeout=BOOT_TIMEOUT)
            if self.server:
                client["kdump_dump_server"] = self.server
            groups["clients"] = {"hosts": {self.client: client}}
        path = self.workdir / "inventory.json"
        path.write_text(json.dumps({"all": {"children": groups}}, indent=2), encoding="utf-8")
        return path

    def playbook(self, inventory: Path, playbook: str, *args: str, what: str) -> bool:
        """ansible-playbook, bounded; its output appended to the cell's ansible.log. Passed?"""
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache/collections"))
        run = run_bounded([ansible_playbook(), "-i", str(inventory), playbook, *args], APPLY_TIMEOUT, env)
        with (self.workdir / "ansible.log").open("a", encoding="utf-8") as handle:
            handle.write(f"===== {what}: {playbook} {' '.join(args)}\n{run.stdout if run else 'TIMED OUT'}\n")
        if run is None:
            raise CalibrationError(f"{what}: not done after {APPLY_TIMEOUT}s; see {self.workdir / 'ansible.log'}")
        return run.returncode == 0

    # ---- one trial
    def apply(self, size: int) -> Verdict | None:
        """Apply the trial's policy; a verdict when the reservation is too small to load a capture kernel."""
        applied = self.playbook(self.write_inventory(size), "crashdump.kdump.site",
                                "-e", f"kdump_hosts={self.client}", what=f"applying {size}M")
        reserved, loaded = parse_kexec_state(ssh_ok(
            self.client, "cat /sys/kernel/kexec_crash_size /sys/kernel/kexec_crash_loaded"))
        if reserved != size * MIB:
            raise CalibrationError(f"VM {self.client}: {reserved} bytes reserved after applying {size}M "
                                   f"(site {'passed' if applied else 'failed'}); see {self.workdir / 'ansible.log'}")
        if self.options.cma:
            self.check_cma()
        if not loaded:
            return Verdict("not-loaded", "the reservation is active but no capture kernel loaded into it")
        if not applied:
            raise CalibrationError(f"applying {size}M failed although the capture kernel is loaded; "
                                   f"see {self.workdir / 'ansible.log'}")
        return None

    def check_cma(self) -> None:
        """The kernel's own word that it reserved the CMA part (kexec_crash_size counts only the
        regular one): kernel/crash_reserve.c logs "crashkernel CMA reserved: N MB in K ranges"."""
        line = ssh_ok(self.client, "dmesg | grep -m1 'crashkernel CMA reserved' || true").strip()
        if not line:
            raise CalibrationError(f"VM {self.client}: no 'crashkernel CMA reserved' in dmesg after applying "
                                   f"cma {self.options.cma}M; see {self.workdir / 'ansible.log'}")
        self.cma_reserved = line.split("] ", 1)[-1]

    def dump_place(self) -> tuple[str, str]:
        """The VM holding the dumps, and the directory with one STAMP/ directory per dump."""
        if self.server:
            return self.server, f"{SERVER_DIR}/{self.client}"
        return self.client, LOCAL_DIR

    def dumps(self) -> set[str]:
        host, top = self.dump_place()
        out = ssh_ok(host, shell_quote("find", top, "-mindepth", "2", "-maxdepth", "2", "-type", "f",
                                       "-name", "dump.*") + " 2>/dev/null || true")
        return set(out.split())

    def crash(self) -> tuple[bool, str]:
        """Crash the client, killing it on a capture-kernel panic; (came back, console since the crash)."""
        console = kdumplab.vm_dir(self.client) / "console.log"
        offset = console.stat().st_size if console.exists() else 0
        if kdumplab.boot_id(self.client) is None:
            raise CalibrationError(f"VM {self.client}: not reachable before the crash")
        outcome: dict = {}

        def wait() -> None:
            try:
                outcome["back"] = kdumplab.crash(self.client, self.options.trial_timeout)
            except Exception as exc:  # noqa: BLE001: the VM killed below, or a timeout: judged from the console
                outcome["error"] = exc

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        while waiter.is_alive():
            waiter.join(2)
            if hang_line(read_from(console, offset)):
                time.sleep(HANG_GRACE)
                kdumplab.stop_vm(self.client, remove=False)  # it would hang until the trial bound
                waiter.join()
        came_back, text = "back" in outcome, read_from(console, offset)  # before a restart adds its boot
        if not came_back:
            self.restart_client()
        return came_back, text

    def restart_client(self) -> None:
        """Power a hung client off and boot it again (ext4's journal makes its disk consistent); a
        reinstall from the image would cost each failed trial the package install."""
        kdumplab.stop_vm(self.client, remove=False)
        kdumplab.start_vm(self.client)
        kdumplab.wait_ssh(self.client, BOOT_TIMEOUT)

    def judge(self, before: set[str]) -> tuple[Verdict, int | None, dict]:
        new = sorted(self.dumps() - before)
        record = parse_key_values(ssh_ok(self.client, shell_quote("cat", LAST_CAPTURE) + " 2>/dev/null || true"))
        memory = capture_memory(record)
        if len(new) != 1:
            return Verdict("no-dump", f"expected one new dump, found {new or 'none'}; "
                                      f"last-capture: {record or 'none'}"), None, memory
        host, _ = self.dump_place()
        directory, name = new[0].rsplit("/", 1)
        stamp = name.split(".", 1)[1]
        probe = parse_dump_probe(ssh_ok(host, f"sh -c {shlex.quote(DUMP_PROBE)} probe "
                                              + shell_quote(new[0], f"{directory}/dmesg.{stamp}")))
        problems = dump_problems(probe, record, new[0], self.options.min_dump_bytes)
        verdict = Verdict("no-dump", "; ".join(problems)) if problems else Verdict("saved", new[0])
        return verdict, probe.size, memory

    def trial(self, size: int) -> Trial:
        started = time.monotonic()
        self.count += 1
        if self.client_fresh:
            self.fresh_client()
        verdict, dump_bytes, memory, console = self.apply(size), None, {}, ""
        if not self.versions:
            self.versions = self.read_versions()
        if verdict is None:
            before = self.dumps()
            came_back, console = self.crash()
            verdict = classify_console(console, came_back)
            if verdict is None:
                verdict, dump_bytes, memory = self.judge(before)
        evidence = self.workdir / f"{self.count:02d}-{size}M-{verdict.outcome}.console.txt"
        evidence.write_text(f"{verdict.outcome}: {verdict.detail}\n{console[-20000:]}", encoding="utf-8")
        trial = Trial(size, verdict.outcome, verdict.detail, verdict.marker, round(time.monotonic() - started, 1),
                      dump_bytes, memory, os.path.relpath(evidence, ROOT))
        print(f"  {size:4d}M  {trial.outcome:13s} {trial.seconds:7.1f}s  {trial.detail}", flush=True)
        return trial

    def read_versions(self) -> dict[str, str]:
        return parse_versions(ssh_ok(self.client, "uname -r; . /etc/os-release && echo \"$VERSION_ID\"; "
                                     "dpkg-query -W -f '${Package}\\t${Version}\\n' kdump-tools makedumpfile"))


def read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def calibrate_cell(suite: str, target: str, memory: int, sizes: list[int], options: Options) -> dict:
    """Bisect one cell in the lab; its table entry."""
    started = time.monotonic()
    lab = LabCell(suite, target, memory, options)
    trials: list[Trial] = []

    def crash_once(size: int) -> bool:
        trials.append(lab.trial(size))
        return trials[-1].outcome == "saved"

    print(f"{suite} {target} {memory} MiB: bisecting {sizes[0]}M..{sizes[-1]}M", flush=True)
    try:
        lab.start()
        found = bisect(sizes, lambda size: passes_repeatedly(lambda: crash_once(size), options.repeat))
    finally:
        lab.stop()
    versions = dict(lab.versions, **({"cma_reserved": lab.cma_reserved} if lab.cma_reserved else {}))
    return cell_entry(suite, target, memory, sizes, options.repeat, versions, found, trials,
                      time.monotonic() - started, options.cma)


def cell_entry(suite: str, target: str, memory: int, sizes: list[int], repeat: int, versions: dict,
               found: Bisection, trials: list[Trial], seconds: float, cma: int | None = None) -> dict:
    return {
        "release": suite, **versions, "target": target, "memory_mib": memory, "cma_mib": cma,
        "minimal_mib": found.minimal, "largest_failed_mib": found.largest_failed,
        "capture_memory_at_minimal": worst_capture_memory(trials, found.minimal),
        "grid": {"low_mib": sizes[0], "high_mib": sizes[-1], "step_mib": sizes[1] - sizes[0] if len(sizes) > 1 else 0,
                 "crashes_per_size": repeat},
        "trials": [asdict(t) for t in trials],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "duration_seconds": round(seconds),
    }


# --------------------------------------------------------------------------- CLI

def listed(choices: tuple[str, ...] | None, convert=str):
    """An argparse type for comma lists of values (the option may also be repeated)."""
    def parse(text: str) -> list:
        values = [convert(part) for part in text.split(",") if part.strip()]
        for value in values:
            if choices and value not in choices:
                raise argparse.ArgumentTypeError(f"{value!r}: expected one of {', '.join(choices)}")
        return values
    return parse


def memory_mib(text: str) -> int:
    value = size_mib(text)
    if value < 512:
        raise argparse.ArgumentTypeError(f"--memory {text!r}: a guest needs at least 512 MiB")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="calibrate-reservation", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--suite", type=listed(SUITES), action="extend", help="bookworm, trixie (list or repeat)")
    parser.add_argument("--target", type=listed(TARGETS), action="extend", help="local, ssh, nfs (list or repeat)")
    parser.add_argument("--memory", type=listed(None, memory_mib), action="extend",
                        help="guest RAM in MiB (list or repeat), e.g. 2048,4096")
    parser.add_argument("--low", type=size_mib, default=64, help="smallest size tried (MiB, default 64)")
    parser.add_argument("--high", type=size_mib, default=256, help="largest size, tried first (MiB, default 256)")
    parser.add_argument("--step", type=size_mib, default=16, help="grid step (MiB, default 16)")
    parser.add_argument("--repeat", type=int, default=1, help="crashes that must all save for a size to pass")
    parser.add_argument("--trial-timeout", type=float, default=900,
                        help="seconds from the crash to the VM back on SSH before a trial fails (default 900)")
    parser.add_argument("--min-dump-mib", type=float, default=1.0, help="smallest dump that counts (default 1)")
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help=f"default {DEFAULT_TABLE.relative_to(ROOT)}")
    parser.add_argument("--cma", type=size_mib, default=None,
                        help="also reserve this much with crashkernel=SIZE,cma (MiB; Linux 6.17+: --suite trixie-backports)")
    parser.add_argument("--keep", action="store_true", help="leave the VMs running after each cell")
    parser.add_argument("--dry-run", action="store_true", help="print the plan of trials; boot nothing")
    args = parser.parse_args(argv)
    for name in ("suite", "target", "memory"):
        if not getattr(args, name):
            parser.error(f"--{name} is required")
    if args.repeat < 1 or args.trial_timeout <= 0 or args.min_dump_mib <= 0:
        parser.error("--repeat, --trial-timeout and --min-dump-mib must be positive")
    return args


def check_policies(targets: list[str], sizes: list[int], cma: int | None = None) -> None:
    """Every trial's policy through the collection's own model, before any VM boots."""
    sys.path.insert(0, str(ROOT / ".cache" / "collections"))
    from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import PolicyError, normalise_policy
    for target in targets:
        for size in (sizes[0], sizes[-1]):
            try:
                normalise_policy(trial_policy(target, size, cma))
            except PolicyError as exc:
                raise CalibrationError(f"the {target} trial policy at {size}M: {exc}") from None


def plan(args: argparse.Namespace, sizes: list[int]) -> str:
    """What a run would do, without booting anything."""
    cells = list(itertools.product(args.suite, args.target, args.memory))
    most = max_trials(len(sizes)) * args.repeat
    per_trial = APPLY_TIMEOUT + args.trial_timeout
    lines = [f"grid: {', '.join(f'{s}M' for s in sizes)}",
             f"each cell: first {sizes[-1]}M (must dump), then bisection: at most {most} crashes "
             f"({args.repeat} per size); each trial bounded by {APPLY_TIMEOUT}s apply "
             f"+ {args.trial_timeout:.0f}s crash",
             f"table: {args.table}"]
    for suite, target, memory in cells:
        lab = LabCell(suite, target, memory, Options(args.trial_timeout, 0, args.repeat, args.keep, args.cma))
        vms = f"client {lab.client} ({memory} MiB)"
        if lab.server:
            vms += f", dump server {lab.server} ({SERVER_MEMORY} MiB) at {SERVER_ADDRESS}:22,2049"
        lines.append(f"- {suite} {target} {memory} MiB: {vms}; at most {most} trials, "
                     f"bounded by {most * per_trial / 3600:.1f} h")
    first = trial_policy(args.target[0], sizes[-1], args.cma)
    lines.append(f"first trial's policy ({args.target[0]}): {json.dumps(first)}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        sizes = size_grid(args.low, args.high, args.step)
        table = load_table(args.table)
        check_policies(args.target, sizes, args.cma)
        if args.dry_run:
            print(plan(args, sizes))
            return 0
        options = Options(args.trial_timeout, int(args.min_dump_mib * MIB), args.repeat, args.keep, args.cma)
        started = time.monotonic()
        for suite, target, memory in itertools.product(args.suite, args.target, args.memory):
            cell = calibrate_cell(suite, target, memory, sizes, options)
            table = merge_cell(table, cell)
            write_table(args.table, table)  # after each cell: a later failure keeps the finished ones
            print(f"{suite} {target} {memory} MiB: minimal {cell['minimal_mib']}M, largest failed "
                  f"{cell['largest_failed_mib']}M, {cell['duration_seconds']} s", flush=True)
        print(f"done in {time.monotonic() - started:.0f} s; table: {args.table}")
    except (CalibrationError, kdumplab.LabError, subprocess.CalledProcessError, OSError) as exc:
        print(f"calibrate-reservation: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("calibrate-reservation: interrupted; finished cells are in the table", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
