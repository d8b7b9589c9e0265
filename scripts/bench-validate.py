#!/usr/bin/env python
"""Measure the controller-side cost of the crashdump.kdump.validate playbook.

Generates an inventory of N hosts (host0001..) in a temporary directory, with a realistic
kdump_policy in group_vars/all (schemas/examples/ssh.yml) and an invalid policy for ~5% of the
hosts in host_vars, then runs, alternately and --repeat times each:

  validate  ansible-playbook crashdump.kdump.validate (expected exit status 2; the output must
            name exactly the hosts given an invalid policy, and the recap fail exactly those)
  baseline  a play of one `meta: noop` task over the same inventory: ansible-playbook reads the
            inventory and iterates every host in the controller process, and nothing connects

Reports the median wall seconds and the median CPU seconds (user + system, of ansible-playbook
and its workers) of each, their ratios validate/baseline and milliseconds per host. On a machine
whose load swings (lab VMs), the CPU ratio is the steadier of the two.

    source .venv/bin/activate && export ANSIBLE_CONFIG=$PWD/ansible.cfg
    python scripts/bench-validate.py [--hosts 1000] [--repeat 3] [--forks 50] [--invalid-percent 5]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POLICY_EXAMPLE = REPO / "schemas" / "examples" / "ssh.yml"

BASELINE_PLAYBOOK = """\
---
# Baseline: one task that the controller iterates for every host, in its own process (meta
# tasks need no worker), without any connection.
- name: Baseline (no host is contacted)
  hosts: all
  gather_facts: false
  tasks:
    - name: Do nothing per host
      ansible.builtin.meta: noop
"""

# An invalid policy: a target type that does not exist and a negative retention.
INVALID_POLICY = """\
---
kdump_policy:
  reservation:
    size: auto
  target:
    type: carrier-pigeon
  retention:
    keep: -1
"""

SUMMARY_RE = re.compile(r"kdump_policy: (\d+) of (\d+) host\(s\) valid(?:, invalid: ([^\"\n]*))?")


def make_inventory(root: Path, hosts: int, invalid_percent: float) -> tuple[Path, list[str]]:
    names = [f"host{i:04d}" for i in range(1, hosts + 1)]
    step = max(1, round(100 / invalid_percent)) if invalid_percent > 0 else 0
    invalid = names[step - 1 :: step] if step else []
    inv = root / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (inv / "hosts.yml").write_text(
        "---\nall:\n  hosts:\n" + "".join(f"    {name}:\n" for name in names), encoding="utf-8"
    )
    shutil.copyfile(POLICY_EXAMPLE, inv / "group_vars" / "all.yml")
    for name in invalid:
        (inv / "host_vars" / f"{name}.yml").write_text(INVALID_POLICY, encoding="utf-8")
    return inv, invalid


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the command and every process it waited for, exit status, output)."""
    start, cpu = time.monotonic(), children_cpu()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    elapsed, cpu = time.monotonic() - start, children_cpu() - cpu
    log.write_text(proc.stdout, encoding="utf-8")
    return elapsed, cpu, proc.returncode, proc.stdout


def check_validate(rc: int, out: str, hosts: int, invalid: list[str], log: Path) -> None:
    expected_rc = 2 if invalid else 0
    if rc != expected_rc:
        sys.exit(f"validate: exit status {rc}, expected {expected_rc} (output: {log})")
    match = SUMMARY_RE.search(out)
    if not match:
        sys.exit(f"validate: no summary line in the output ({log})")
    valid, total, listed = int(match.group(1)), int(match.group(2)), match.group(3)
    reported = sorted(h.strip() for h in listed.split(",")) if listed else []
    if total != hosts or valid != hosts - len(invalid) or reported != sorted(invalid):
        sys.exit(
            f"validate: summary says {valid} of {total} valid, invalid {reported[:5]}...; "
            f"expected {hosts - len(invalid)} of {hosts}, invalid {sorted(invalid)[:5]}... ({log})"
        )
    failed = sorted(re.findall(r"^(host\d+)\s*:.*failed=1", out, re.MULTILINE))
    if failed != sorted(invalid):
        sys.exit(f"validate: the recap fails {len(failed)} host(s), expected {len(invalid)} ({log})")


def check_baseline(rc: int, out: str, log: Path) -> None:
    # meta tasks leave no per-host result: the recap is empty
    if rc != 0 or "TASK [Do nothing per host]" not in out or "PLAY RECAP" not in out:
        sys.exit(f"baseline: exit status {rc}, or the play did not run ({log})")


def measure(commands: dict[str, list[str]], env: dict[str, str], root: Path, args: argparse.Namespace,
            invalid: list[str]) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each command, run alternately --repeat times; each run's output is checked."""
    times: dict[str, list[tuple[float, float]]] = {"validate": [], "baseline": []}
    print(f"{'run':>3}  {'validate wall/CPU s':>19}  {'baseline wall/CPU s':>19}")
    for i in range(1, args.repeat + 1):
        # Alternate which one goes first so drift in machine load hits both equally.
        order = ["validate", "baseline"] if i % 2 else ["baseline", "validate"]
        for name in order:
            log = root / f"{name}-{i}.log"
            elapsed, cpu, rc, out = run(commands[name], env, log)
            if name == "validate":
                check_validate(rc, out, args.hosts, invalid, log)
            else:
                check_baseline(rc, out, log)
            times[name].append((elapsed, cpu))
        print(f"{i:>3}  " + "  ".join(f"{'%.2f / %.2f' % times[name][-1]:>19}" for name in ("validate", "baseline")))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--invalid-percent", type=float, default=5.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (inventory, logs)")
    args = parser.parse_args()
    if args.hosts < 1 or args.repeat < 1 or args.forks < 1:
        parser.error("--hosts, --repeat and --forks must be at least 1")

    playbook_bin = shutil.which("ansible-playbook")
    if not playbook_bin:
        sys.exit("ansible-playbook not found: source .venv/bin/activate first")
    root = Path(tempfile.mkdtemp(prefix="kdump-bench-"))
    try:
        inv, invalid = make_inventory(root, args.hosts, args.invalid_percent)
        baseline = root / "baseline.yml"
        baseline.write_text(BASELINE_PLAYBOOK, encoding="utf-8")
        env = dict(os.environ)
        env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
        env.update(ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
                   ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOAD_CALLBACK_PLUGINS="0")
        common = [playbook_bin, "-i", str(inv / "hosts.yml"), "--forks", str(args.forks)]
        commands = {
            "validate": common + ["crashdump.kdump.validate"],
            "baseline": common + [str(baseline)],
        }
        print(f"{args.hosts} hosts ({len(invalid)} invalid), forks {args.forks}, {args.repeat} run(s) each, "
              "baseline: a play of one meta: noop task")
        times = measure(commands, env, root, args, invalid)
        for index, kind in enumerate(("wall", "CPU")):
            med_v = statistics.median(run_times[index] for run_times in times["validate"])
            med_b = statistics.median(run_times[index] for run_times in times["baseline"])
            print(f"{kind}: validate {med_v:.2f} s, meta: noop playbook {med_b:.2f} s, ratio {med_v / med_b:.2f}x, "
                  f"difference {1000 * (med_v - med_b) / args.hosts:.2f} ms per host "
                  f"({args.hosts} hosts, {len(invalid)} invalid, {args.repeat} runs, medians)")
        return 0
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
