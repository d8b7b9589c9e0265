#!/usr/bin/env python
"""Where a lab VM's time goes: boot, apply, reservation reboot, crash, capture, reboot.

Boots one VM, applies the example local-target policy with crashdump.kdump.site (reboots
allowed), crashes it once and prints the time of each phase, read from the serial console
(each line stamped with this machine's clock as it appears) and from SSH:

  grub      reset (QEMU start, or "reboot: Restarting system") -> the kernel's "Linux version"
  kernel    "Linux version" -> "Run /init"
  initrd    "Run /init" -> systemd on the root filesystem (the first line of the real root)
  to-ssh    systemd -> the first SSH login that works
  capture   "sysrq: Trigger a crash" -> the capture kernel's "Run /init" -> dump saved -> reset

  python3 scripts/bench-lab.py [--suite bookworm|trixie] [--json FILE] [--keep] [--boot-only]

--boot-only stops after the first boot (the VM's boot to SSH, nothing applied).

Run it on an idle machine: the phases are absolute seconds under TCG, not ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))
import kdumplab  # noqa: E402

# The console lines that start each phase; the first match after the previous marker counts.
RESET = re.compile(r"reboot: Restarting system|^QEMU-START$")
KERNEL = re.compile(r"Linux version \d")
INIT = re.compile(r"Run /init as init process")
ROOTFS = re.compile(r"systemd\[1\]: |Welcome to Debian")
SYSRQ = re.compile(r"sysrq: Trigger a crash")
CAPTURE = re.compile(r"capture\[\d+\]: ")
SAVED = re.compile(r"crashdump-kdump: (saved|saved_to_rootfs|failed)|kdump-tools.*(saved|Saved)")


class Console:
    """Follows a VM's serial console log and stamps each new line with time.monotonic()."""

    def __init__(self, path: Path):
        self.path, self.lines, self._stop = path, [], threading.Event()
        self._offset = path.stat().st_size if path.exists() else 0
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def start(self) -> "Console":
        self._thread.start()
        return self

    def mark(self, text: str) -> None:
        self.lines.append((time.monotonic(), text))

    def _follow(self) -> None:
        pending = ""
        while not self._stop.is_set():
            if self.path.exists():
                with self.path.open("rb") as handle:
                    handle.seek(self._offset)
                    chunk = handle.read()
                self._offset += len(chunk)
                pending += chunk.decode(errors="replace")
                *complete, pending = re.split(r"\r?\n", pending)
                now = time.monotonic()
                self.lines += [(now, line) for line in complete]
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def first(self, pattern: re.Pattern, after: float) -> float | None:
        return next((t for t, line in self.lines if t >= after and pattern.search(line)), None)


def chain(console: Console, start: float, *patterns: re.Pattern) -> list[float | None]:
    """start, then the time of each pattern's first line after the one before it."""
    marks = [start]
    for pattern in patterns:
        marks.append(console.first(pattern, marks[-1]) if marks[-1] is not None else None)
    return marks


def spans(names: list[str], marks: list[float | None]) -> dict:
    return {name: round(b - a, 1) if a is not None and b is not None else None
            for name, a, b in zip(names, marks, marks[1:])}


def boot_phases(console: Console, reset: float, ssh_at: float | None) -> dict:
    """grub, kernel, initrd and to-ssh seconds of the boot that started at reset."""
    marks = chain(console, reset, KERNEL, INIT, ROOTFS)
    return spans(["grub", "kernel", "initrd", "to-ssh"], marks + [ssh_at])


def apply_policy(name: str, workdir: Path) -> float:
    """crashdump.kdump.site with the example local policy, reboots allowed; seconds taken."""
    import yaml  # the venv's; the lab itself needs only the standard library
    policy = yaml.safe_load((ROOT / "schemas/examples/local.yml").read_text())["kdump_policy"]
    inventory = workdir / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: kdumplab.host_vars(name)},
                                                 "vars": {"kdump_policy": dict(policy, reboot="allowed"),
                                                          "kdump_reboot_timeout": 600}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache/collections"))
    started = time.monotonic()
    playbook = str(Path(sys.executable).parent / "ansible-playbook")  # the venv's, PATH or not
    run = subprocess.run([playbook, "-i", str(inventory), "crashdump.kdump.site"], env=env, capture_output=True,
                         text=True, timeout=1800, stdin=subprocess.DEVNULL)
    if run.returncode != 0:
        raise kdumplab.LabError(f"site failed:\n{run.stdout[-3000:]}\n{run.stderr[-1000:]}")
    return round(time.monotonic() - started, 1)


def capture_phases(console: Console, crashed: float, back: float) -> dict:
    marks = chain(console, crashed, INIT, CAPTURE, SAVED, RESET)
    phases = spans(["capture-kernel", "capture-userspace", "dump", "to-reset"], marks)
    if marks[-1] is not None:
        phases.update({f"reboot-{k}": v for k, v in boot_phases(console, marks[-1], back).items()})
    phases["crash-to-ssh"] = round(back - crashed, 1)
    return phases


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="bookworm")
    parser.add_argument("--memory", type=int, default=1024)
    parser.add_argument("--name", default="bench-lab")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="leave the VM running")
    parser.add_argument("--boot-only", action="store_true", help="measure the first boot only")
    args = parser.parse_args(argv)
    name, result = args.name, {"suite": args.suite, "memory_mib": args.memory}
    kdumplab.build_image(args.suite)
    kdumplab.stop_vm(name, remove=True)
    kdumplab.create_vm(name, args.suite, args.memory, [], [], [])
    console = Console(kdumplab.vm_dir(name) / "console.log").start()
    try:
        start = time.monotonic()
        kdumplab.start_vm(name)
        # Probed every 0.5 s: the SSH figure is one of the phases measured.
        result["first-boot"] = boot_phases(console, start, kdumplab.wait_ssh(name, 600, interval=0.5))
        print(f"first boot: {result['first-boot']}", flush=True)
        if args.boot_only:
            return report(result, args.json)

        apply_started = time.monotonic()
        result["apply-seconds"] = apply_policy(name, kdumplab.vm_dir(name))
        reset = console.first(RESET, apply_started)
        if reset:  # ansible's reboot module waited for SSH itself: no to-ssh figure here
            result["reservation-reboot"] = spans(["grub", "kernel", "initrd"],
                                                 chain(console, reset, KERNEL, INIT, ROOTFS))
        print(f"apply (site, with the reservation reboot): {result['apply-seconds']} s; "
              f"reservation reboot: {result.get('reservation-reboot')}", flush=True)

        crashed = time.monotonic()
        kdumplab.crash(name, 900)
        back = time.monotonic()
        result["crash"] = capture_phases(console, console.first(SYSRQ, crashed) or crashed, back)
        print(f"crash: {result['crash']}", flush=True)
    finally:
        console.stop()
        if not args.keep:
            kdumplab.stop_vm(name, remove=True)
    return report(result, args.json)


def report(result: dict, json_file: Path | None) -> int:
    if json_file:
        json_file.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
