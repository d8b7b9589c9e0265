#!/usr/bin/env python
"""Measure a no-op enforcement run against `ansible -m ping` on the same hosts, in one run.

Runs, alternately and --repeat times each, on the hosts of --hosts, with SSH pipelining off and
on (ANSIBLE_PIPELINING, one mode after the other within each round):

  ping    ansible HOSTS -m ansible.builtin.ping   (one module execution per host: the floor)
  no-op   ansible-playbook crashdump.kdump.site    (the hosts already comply with their policy)

and reports the median wall seconds of each per mode, their ratios, and what the no-op run did per host:
module executions on the host itself, modules run for it elsewhere (delegated), controller-only
tasks, and changed tasks, which must be 0 (the run must really be a no-op).

    source .venv/bin/activate && export ANSIBLE_CONFIG=$PWD/ansible.cfg
    python scripts/bench-noop.py -i INVENTORY [-i MORE] [--hosts PATTERN] [--repeat 3] [--pipelining off,on]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Counts, per host, the task results that came from a module executed on the host itself, or
# for it on another host (delegate_to: the dump server, the controller); a module's result
# carries its 'invocation', controller-only actions such as set_fact, assert or validate_policy
# do not. And the changed ones.
COUNT_CALLBACK = '''
import json, os
from collections import defaultdict
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "crashdump_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.hosts = defaultdict(lambda: {"remote_modules": 0, "delegated_modules": 0, "controller_tasks": 0,
                                          "changed": 0})

    def _count(self, result, **dummy):
        counts = self.hosts[result._host.get_name()]
        if "invocation" not in result._result:
            counts["controller_tasks"] += 1
        elif result._result.get("_ansible_delegated_vars"):
            counts["delegated_modules"] += 1
        else:
            counts["remote_modules"] += 1
        counts["changed"] += bool(result._result.get("changed"))

    v2_runner_on_ok = v2_runner_on_failed = _count

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["CRASHDUMP_COUNT_FILE"], "w") as handle:
            json.dump(self.hosts, handle)
'''


def timed(command, env):
    started = time.monotonic()
    run = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if run.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--inventory", action="append", required=True)
    parser.add_argument("--hosts", default="all")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--pipelining", default="off,on", type=lambda text: text.split(","),
                        help="modes to measure, off and/or on (default both)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if not args.pipelining or set(args.pipelining) - {"off", "on"}:
        parser.error(f"--pipelining: off, on or off,on, not {','.join(args.pipelining)}")

    inventories = [part for path in args.inventory for part in ("-i", path)]
    with tempfile.TemporaryDirectory(prefix="bench-noop-") as work:
        Path(work, "crashdump_count.py").write_text(COUNT_CALLBACK, encoding="utf-8")
        counts_file = os.path.join(work, "counts.json")
        env = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=work, ANSIBLE_CALLBACKS_ENABLED="crashdump_count",
                   CRASHDUMP_COUNT_FILE=counts_file, ANSIBLE_FORKS=str(args.forks))
        env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
        bin_dir = Path(sys.executable).parent  # the venv's ansible, PATH or not
        ping = [str(bin_dir / "ansible"), args.hosts, *inventories, "-m", "ansible.builtin.ping"]
        noop = [str(bin_dir / "ansible-playbook"), *inventories, "crashdump.kdump.site",
                "-e", f"kdump_hosts={args.hosts}"]
        times = {mode: {"ping": [], "noop": []} for mode in args.pipelining}
        for round_number in range(1, args.repeat + 1):
            for mode, runs in times.items():
                mode_env = dict(env, ANSIBLE_PIPELINING=str(mode == "on"))
                runs["ping"].append(timed(ping, mode_env))
                runs["noop"].append(timed(noop, mode_env))
                print(f"round {round_number}, pipelining {mode}: ping {runs['ping'][-1]:.1f}s, "
                      f"no-op {runs['noop'][-1]:.1f}s", flush=True)
        with open(counts_file, encoding="utf-8") as handle:
            per_host = json.load(handle)  # of the last no-op run

    medians = {mode: {name: statistics.median(values) for name, values in runs.items()}
               for mode, runs in times.items()}
    figures = {
        "hosts": sorted(per_host),
        "repeat": args.repeat,
        "median_seconds": {mode: {name: round(value, 1) for name, value in runs.items()}
                           for mode, runs in medians.items()},
        "ratio_noop_to_ping": {mode: round(runs["noop"] / runs["ping"], 2) for mode, runs in medians.items()},
        "per_host": per_host,
    }
    print(f"hosts: {len(per_host)} ({', '.join(sorted(per_host))}); {args.repeat} rounds, medians")
    for mode, runs in medians.items():
        print(f"pipelining {mode}: ping {runs['ping']:.1f}s, no-op enforcement {runs['noop']:.1f}s: "
              f"ratio no-op/ping {figures['ratio_noop_to_ping'][mode]}x")
    for host, counts in sorted(per_host.items()):
        print(f"{host}: {counts['remote_modules']} module executions on the host, {counts['delegated_modules']} "
              f"delegated, {counts['controller_tasks']} controller-only tasks, {counts['changed']} changed")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    changed = {host: c["changed"] for host, c in per_host.items() if c["changed"]}
    if changed:
        sys.exit(f"not a no-op run: changed tasks per host {changed}")


if __name__ == "__main__":
    main()
