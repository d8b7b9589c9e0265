"""The one-pass validation of many hosts (validate_policy with hosts), on a real inventory.

Real InventoryManager, VariableManager, HostVars and Templar, as ansible-playbook builds them;
no playbook run, so each case is fast.
"""

from __future__ import annotations

import textwrap

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.crashdump.kdump.plugins.action import validate_policy
from ansible_collections.crashdump.kdump.plugins.action.validate_policy import invalid_hosts

from conftest import COLLECTIONS_PATH


@pytest.fixture(scope="module", autouse=True)
def plugin_loader():
    init_plugin_loader([COLLECTIONS_PATH])


def inventory(tmp_path, text):
    path = tmp_path / "inventory.yml"
    path.write_text(textwrap.dedent(text))
    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(path)])
    return HostVars(manager, VariableManager(loader=loader, inventory=manager), loader), Templar(loader=loader)


def test_a_bad_host_among_good_ones(tmp_path):
    hostvars, templar = inventory(tmp_path, """
        all:
          vars:
            kdump_policy: {target: {type: ssh, host: dumps.example.org, user: kdump}}
          hosts:
            a.invalid:
            b.invalid:
              kdump_policy: {target: {type: ssh, host: dumps.example.org, user: kdump, port: 0}}
            c.invalid:
        """)
    assert invalid_hosts(["a.invalid", "b.invalid", "c.invalid"], hostvars, templar) == {
        "b.invalid": ["host b.invalid: kdump_policy.target.port: expected an integer from 1 to 65535, got 0"],
    }


def test_missing_unknown_and_untemplatable_hosts(tmp_path):
    hostvars, templar = inventory(tmp_path, """
        all:
          hosts:
            bare.invalid:
            broken.invalid:
              kdump_policy: {target: {type: ssh, host: "{{ nowhere }}", user: kdump}}
        """)
    invalid = invalid_hosts(["bare.invalid", "gone.invalid", "broken.invalid"], hostvars, templar)
    assert list(invalid) == ["bare.invalid", "gone.invalid", "broken.invalid"]
    assert invalid["bare.invalid"] == ["host bare.invalid: kdump_policy is not defined"]
    assert invalid["gone.invalid"] == ["host gone.invalid: not in the inventory"]
    assert invalid["broken.invalid"] == [
        "host broken.invalid: kdump_policy: could not be templated: 'nowhere' is undefined"]


def test_a_shared_policy_with_templates_is_templated_per_host(tmp_path):
    # One group_vars object for every host, rendered with each host's own variables and hostvars.
    hostvars, templar = inventory(tmp_path, """
        all:
          vars:
            kdump_policy:
              target: {type: ssh, host: "{{ dump_server }}", user: kdump,
                       port: "{{ hostvars['dumps.invalid'].ssh_port }}"}
          hosts:
            dumps.invalid:
              dump_server: dumps.example.org
              ssh_port: 2222
            good.invalid:
              dump_server: other.example.org
            bad.invalid:
              dump_server: not a host name
        """)
    invalid = invalid_hosts(["dumps.invalid", "good.invalid", "bad.invalid"], hostvars, templar)
    assert list(invalid) == ["bad.invalid"]
    assert invalid["bad.invalid"][0].startswith("host bad.invalid: kdump_policy.target.host: expected a host name")


def test_a_shared_policy_without_templates_is_templated_once(tmp_path, monkeypatch):
    names = [f"n{i:02d}.invalid" for i in range(20)]
    hosts = "".join(f"    {name}:\n" for name in names[:-1])
    hostvars, templar = inventory(tmp_path, (
        "all:\n"
        "  vars:\n"
        "    kdump_policy: {target: {type: local}, retention: {min_free: 2G}}\n"
        f"  hosts:\n{hosts}"
        f"    {names[-1]}:\n"
        "      kdump_policy: {target: {type: nfs, host: 192.0.2.1, export: /srv/crash}}\n"))
    templated = []
    real_template = Templar.template

    def counting_template(self, variable, **kwargs):
        templated.append(variable)
        return real_template(self, variable, **kwargs)

    monkeypatch.setattr(Templar, "template", counting_template)
    policies = []
    monkeypatch.setattr(validate_policy, "normalise_policy", lambda policy, host: policies.append(policy))
    assert invalid_hosts(names, hostvars, templar) == {}
    assert len(templated) == 2  # the group's policy once, the last host's own once
    assert policies[:19] == [{"target": {"type": "local"}, "retention": {"min_free": "2G"}}] * 19
    assert policies[19] == {"target": {"type": "nfs", "host": "192.0.2.1", "export": "/srv/crash"}}
