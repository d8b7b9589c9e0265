"""crashdump.kdump.validate and the validate_policy action, run through ansible-playbook.

The inventories name fictional hosts (.invalid names, TEST-NET addresses): validation must
never try to reach them.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap

import pytest

from conftest import REPO_ROOT

VALID_SSH = "{type: ssh, host: dumps.example.org, user: kdump}"


def run_playbook(tmp_path, inventory, playbook="crashdump.kdump.validate", *extra):
    inventory_file = tmp_path / "inventory.yml"
    inventory_file.write_text(textwrap.dedent(inventory))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_TIMEOUT="5", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    return subprocess.run(["ansible-playbook", "-i", str(inventory_file), playbook, *extra],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_valid_inventory_passes_without_contacting_hosts(tmp_path):
    result = run_playbook(tmp_path, f"""
        all:
          vars:
            kdump_policy:
              target: {VALID_SSH}
          hosts:
            ghost.invalid:
            web01:
              ansible_host: 203.0.113.9
            web02:
              ansible_host: 203.0.113.10
              kdump_policy: {{target: {{type: local}}, reservation: {{size: 256M}}}}
        """, "crashdump.kdump.validate", "-vvv")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "kdump_policy: 3 of 3 host(s) valid" in output
    # -vvv would show any connection attempt
    assert "ESTABLISH" not in output and "UNREACHABLE" not in output
    assert "Traceback" not in output


def test_every_invalid_host_is_reported(tmp_path):
    result = run_playbook(tmp_path, """
        all:
          hosts:
            ghost.invalid:
              kdump_policy:
                target: {type: ssh, host: dumps.example.org, user: kdump, port: 70000}
            good:
              ansible_host: 203.0.113.9
              kdump_policy:
                target: {type: ssh, host: dumps.example.org, user: kdump}
            bad-local:
              ansible_host: 203.0.113.10
              kdump_policy:
                target: {type: local, host: dumps.example.org}
                on_failure: dump_to_rootfs
            no-policy:
              ansible_host: 203.0.113.11
            bad-template:
              ansible_host: 203.0.113.12
              kdump_policy:
                target: {type: ssh, host: "{{ no_such_variable }}", user: kdump}
            templated:
              ansible_host: 203.0.113.13
              kdump_ssh_port: 2222
              kdump_policy:
                target: {type: ssh, host: "{{ inventory_hostname }}.example.org", user: kdump,
                         port: "{{ kdump_ssh_port }}"}
        """)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert "UNREACHABLE" not in output
    assert "kdump_policy: 2 of 6 host(s) valid, invalid: ghost.invalid, bad-local, no-policy, bad-template" in output
    for message in (
        "host ghost.invalid: kdump_policy.target.port: expected an integer from 1 to 65535, got 70000",
        "host bad-local: kdump_policy.target.host: not used by target type local",
        "host bad-local: kdump_policy.on_failure: expected reboot, halt, poweroff or shell",
        "host no-policy: kdump_policy is not defined",
        "host bad-template: kdump_policy: could not be templated",
    ):
        assert message in output, message
    assert recap_lines(output) == {
        # ghost.invalid, the first host, carries the three run_once tasks of the validating play
        "ghost.invalid": "ok=3 failed=1", "bad-local": "ok=0 failed=1", "no-policy": "ok=0 failed=1",
        "bad-template": "ok=0 failed=1",
    }  # the valid hosts ran no task of their own: one pass validated them all


def recap_lines(output):
    """{host: "ok=N failed=N"} from the PLAY RECAP."""
    recap = output[output.index("PLAY RECAP"):].splitlines()[1:]
    found = (re.match(r"^(\S+)\s*: ok=(\d+).* failed=(\d+)", line) for line in recap)
    return {match[1]: f"ok={match[2]} failed={match[3]}" for match in found if match}


def test_many_hosts_in_one_pass(tmp_path):
    names = [f"node{i:03d}.invalid" for i in range(1, 301)]
    bad = {"node007.invalid": "{target: {type: nfs, host: dumps.example.org}}",  # no export
           "node150.invalid": "{retention: {keep: -1}}"}
    lines = []
    for name in names:
        if name in bad:
            lines.append(f"    {name}:\n      kdump_policy: {bad[name]}")
        elif name == "node300.invalid":
            lines.append(f"    {name}:\n      kdump_policy: null")
        else:
            lines.append(f"    {name}:")
    inventory = "all:\n  vars:\n    kdump_policy: {target: {type: local}}\n  hosts:\n" + "\n".join(lines) + "\n"
    result = run_playbook(tmp_path, inventory)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert ("kdump_policy: 297 of 300 host(s) valid, invalid: node007.invalid, node150.invalid, node300.invalid"
            in output)
    assert "host node007.invalid: kdump_policy.target.export:" in output
    assert "host node150.invalid: kdump_policy.retention.keep:" in output
    assert "host node300.invalid: kdump_policy is not defined" in output
    # one validation task result for 300 hosts, and a task of their own for the 3 invalid hosts only
    results = [line.split("]")[0] for line in output.splitlines() if line.startswith(("ok: [", "fatal: ["))
               and "(item=" not in line]
    # the validation and the summary; then the failures, in the order the parallel workers finish
    assert results[:2] == ["ok: [node001.invalid"] * 2
    assert sorted(results[2:]) == ["fatal: [node007.invalid", "fatal: [node150.invalid", "fatal: [node300.invalid"]
    assert recap_lines(output) == {"node001.invalid": "ok=3 failed=0", "node007.invalid": "ok=0 failed=1",
                                   "node150.invalid": "ok=0 failed=1", "node300.invalid": "ok=0 failed=1"}


def test_all_hosts_invalid_still_reports_all(tmp_path):
    result = run_playbook(tmp_path, """
        all:
          vars:
            kdump_policy: {filter: {compression: gzip}}
          hosts:
            a.invalid:
            b.invalid:
        """)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "kdump_policy: 0 of 2 host(s) valid, invalid: a.invalid, b.invalid" in output
    for host in ("a.invalid", "b.invalid"):
        assert f"host {host}: kdump_policy.filter.compression: expected one of" in output
        assert "got 'gzip'" in output


def test_host_pattern_variable(tmp_path):
    result = run_playbook(tmp_path, f"""
        all:
          children:
            web:
              hosts:
                w1.invalid:
                  kdump_policy: {{target: {VALID_SSH}}}
            db:
              hosts:
                d1.invalid:
        """, "crashdump.kdump.validate", "-e", "kdump_validate_hosts=web")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "kdump_policy: 1 of 1 host(s) valid" in output


ACTION_PLAYBOOK = r"""
- name: Exercise validate_policy directly
  hosts: all
  gather_facts: false
  tasks:
    - name: Validate an explicit policy argument
      crashdump.kdump.validate_policy:
        policy:
          target: {type: nfs, host: 192.0.2.1, export: /srv/crash}
          retention: {min_free: 2G}
          filter: {dump_level: [zero, free]}
      register: explicit

    - name: Check the normalised result
      ansible.builtin.assert:
        that:
          - explicit is not changed
          - explicit.policy.retention.min_free == 2147483648
          - explicit.policy.filter.dump_level == 17
          - explicit.policy.target.export == '/srv/crash'
          - explicit.policy.target.path == '/var/crash'
          - explicit.policy.target | length == 4

    - name: Validate the host's own variable in check mode
      crashdump.kdump.validate_policy:
      check_mode: true
      register: from_var

    - name: Check the host variable was used
      ansible.builtin.assert:
        that:
          - from_var.policy.target.type == 'local'
          - from_var.policy.reservation.size == 268435456

    - name: Validate a broken explicit policy
      crashdump.kdump.validate_policy:
        policy: {target: {type: ssh, host: "bad host", user: kdump}, reboot: yes}
      register: broken
      failed_when: false

    - name: Check the errors
      ansible.builtin.assert:
        that:
          - broken.errors | length == 2
          - broken.msg == broken.errors | join('\n')
          - "broken.errors[0].startswith('host ghost.invalid: kdump_policy.target.host: expected a host name')"
          - broken.errors[0] is search("got 'bad host'$")
          - "broken.errors[1] == 'host ghost.invalid: kdump_policy.reboot: expected one of never, allowed, got true'"

    - name: Validate a list of hosts in one pass
      crashdump.kdump.validate_policy:
        hosts: [ghost.invalid, nowhere.invalid, ghost.invalid]
      register: listed
      ignore_errors: true

    - name: Validate the valid host alone
      crashdump.kdump.validate_policy:
        hosts: [ghost.invalid]
      register: alone

    - name: Check the per-host results
      ansible.builtin.assert:
        that:
          - listed is failed and listed is not changed
          - "listed.msg == 'kdump_policy: 1 of 2 host(s) valid, invalid: nowhere.invalid'"
          - "listed.invalid == {'nowhere.invalid': ['host nowhere.invalid: not in the inventory']}"
          - "listed.errors == ['host nowhere.invalid: not in the inventory']"
          - listed.policy is not defined
          - alone is not failed
          - "alone.msg == 'kdump_policy: 1 of 1 host(s) valid'"
          - alone.invalid == {} and alone.errors == []

    - name: Reject unknown arguments cleanly
      crashdump.kdump.validate_policy:
        polcy: {}
      register: bad_args
      ignore_errors: true  # ansible-core fails bad arguments before failed_when applies

    - name: Check the argument error
      ansible.builtin.assert:
        that:
          - bad_args.msg is search('polcy')
"""


def test_action_plugin_directly(tmp_path):
    playbook = tmp_path / "action.yml"
    playbook.write_text(ACTION_PLAYBOOK)
    result = run_playbook(tmp_path, """
        all:
          hosts:
            ghost.invalid:
              ansible_host: 203.0.113.9
              kdump_policy: {reservation: {size: 256M}}
        """, str(playbook))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output


@pytest.mark.parametrize("policy", ["[1, 2]", "'just a string'", "12345678901234567890123456789", "{target: [[[[[]]]]]}"])
def test_hostile_policies_give_messages_not_tracebacks(tmp_path, policy):
    result = run_playbook(tmp_path, f"""
        all:
          hosts:
            ghost.invalid:
              kdump_policy: {policy}
        """)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "host ghost.invalid: kdump_policy" in output
    assert "Traceback" not in output
