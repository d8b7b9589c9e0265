"""Run this collection's playbooks against the lab VMs from a Molecule verifier, the way an
operator would: ansible-playbook with the scenario's inventory and ssh settings."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(PROJECT, "lab"))
import kdumplab  # noqa: E402


def ansible_env(**extra):
    """The verifier's environment plus the scenario's ansible.cfg (host key pinning, ssh options),
    without the colour Molecule forces on its own output: the tests read what the runs print."""
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": os.path.join(PROJECT, ".cache", "collections"),
           "ANSIBLE_FORCE_COLOR": "0", **extra}
    cfg = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "ansible.cfg")
    if os.path.exists(cfg):
        env["ANSIBLE_CONFIG"] = cfg
    return env


def inventories(*extra):
    paths = [os.environ["MOLECULE_INVENTORY_FILE"], *extra]
    return [part for path in paths for part in ("-i", path)]


def run_playbook(playbook, *args, extra_inventories=(), cwd=None, timeout=3600, env=None):
    """ansible-playbook PLAYBOOK (a path, or crashdump.kdump.<name>); stdin closed, output captured."""
    command = ["ansible-playbook", *inventories(*extra_inventories), playbook, *args]
    return subprocess.run(command, cwd=cwd, env=env or ansible_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def vars_file(data):
    """An extra-vars file (-e @PATH) holding data, in the lab's directory and named by its content:
    the same vars reuse one file, and none is left behind in /tmp."""
    text = json.dumps(data, sort_keys=True)
    path = kdumplab.LAB_DIR / f"vars-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path.write_text(text)
    return str(path)


def tail(run, chars=4000):
    """The end of a playbook's output; for a failed run, each lab VM's serial console too (a VM
    that is "unreachable" says there what it was doing)."""
    text = f"exit {run.returncode}\n{run.stdout[-chars:]}\n{run.stderr[-2000:]}"
    if run.returncode != 0:
        text += "".join(f"\n{kdumplab.console_tail(name, 30)}" for name in kdumplab.all_vms())
    return text
