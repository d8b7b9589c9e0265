"""Each module's documented options are its argument spec, and the controller actions enforce it.

The argument spec is read by running each module's main() against a stand-in AnsibleModule that
records its keyword arguments (as ansible-test's validate-modules does), so the host modules are
checked the same way as the documentation modules of the controller actions.
"""

from __future__ import annotations

import importlib
import os
import textwrap

import pytest
import yaml

from ansible_collections.crashdump.kdump.plugins.module_utils import _argspec

from conftest import REPO_ROOT
from test_validate_playbook import run_playbook

MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO_ROOT, "plugins", "modules"))
                 if name.endswith(".py") and not name.startswith("_"))
# What an option is when DOCUMENTATION or the spec leaves a key out (AnsibleModule's own defaults).
DEFAULTS = {"type": "str", "required": False, "default": None, "elements": None, "choices": None, "aliases": None}


class Recorded(Exception):
    def __init__(self, kwargs):
        super().__init__("AnsibleModule called")
        self.kwargs = kwargs


def recorded_module(*args, **kwargs):
    assert not args, "pass AnsibleModule keyword arguments only"
    raise Recorded(kwargs)


def argument_spec_of(name, monkeypatch):
    module = importlib.import_module(f"ansible_collections.crashdump.kdump.plugins.modules.{name}")
    monkeypatch.setattr(module, "AnsibleModule", recorded_module)
    with pytest.raises(Recorded) as recorded:
        module.main()
    return module, recorded.value.kwargs


def normalised(options, keys):
    return {
        option: {key: spec.get(key, DEFAULTS[key]) for key in keys}
        | ({"options": normalised(spec["options"], keys)} if spec.get("options") else {})
        for option, spec in options.items()
    }


def test_the_action_plugins_have_a_module():
    actions = sorted(name[:-3] for name in os.listdir(os.path.join(REPO_ROOT, "plugins", "action"))
                     if name.endswith(".py") and not name.startswith("_"))
    assert actions == ["kdump_config", "kdump_report", "validate_policy"]
    assert set(actions) <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(name, monkeypatch):
    module, kwargs = argument_spec_of(name, monkeypatch)
    documented = yaml.safe_load(module.DOCUMENTATION).get("options", {})
    spec = kwargs["argument_spec"]
    assert sorted(documented) == sorted(spec)
    # the documentation's description is the only key the spec does not have
    for option in documented.values():
        assert set(option) <= set(DEFAULTS) | {"description", "options"}
    assert normalised(documented, DEFAULTS) == normalised(spec, DEFAULTS)
    assert kwargs.get("supports_check_mode") is True


@pytest.mark.parametrize("name, shared", [
    ("validate_policy", _argspec.VALIDATE_POLICY),
    ("kdump_config", _argspec.KDUMP_CONFIG),
    ("kdump_report", _argspec.KDUMP_REPORT),
])
def test_documentation_modules_use_the_shared_spec(name, shared, monkeypatch):
    dummy, kwargs = argument_spec_of(name, monkeypatch)
    assert {key: value for key, value in kwargs.items() if key != "supports_check_mode"} == shared


ARGUMENTS_PLAYBOOK = r"""
- name: Every controller action rejects what its argument spec does not allow
  hosts: all
  gather_facts: false
  tasks:
    - name: An unknown kdump_config option
      crashdump.kdump.kdump_config:
        policy: {}
        host_key: []
      register: config_unknown
      ignore_errors: true

    - name: kdump_config without its policy
      crashdump.kdump.kdump_config:
        host_keys: []
      register: config_missing
      ignore_errors: true

    - name: kdump_config with an invalid policy fails on the controller (the host does not exist)
      crashdump.kdump.kdump_config:
        policy: {target: {type: ssh, host: dumps.example.org, user: kdump, port: 70000}}
      register: config_invalid
      ignore_errors: true

    - name: An unknown kdump_report option
      crashdump.kdump.kdump_report:
        hosts: []
        dest: /nonexistent
        colour: red
      register: report_unknown
      ignore_errors: true

    - name: validate_policy with both policy and hosts
      crashdump.kdump.validate_policy:
        policy: {}
        hosts: [ghost.invalid]
      register: both
      ignore_errors: true

    - name: Check the messages
      ansible.builtin.assert:
        that:
          - config_unknown is failed and config_unknown.msg is search('host_key')
          - config_missing is failed and config_missing.msg is search('policy')
          - config_invalid is failed and config_invalid is not unreachable
          - "config_invalid.msg == 'host ghost.invalid: kdump_policy.target.port: expected an integer from 1 to 65535, got 70000'"
          - report_unknown is failed and report_unknown.msg is search('colour')
          - both is failed and both.msg is search('mutually exclusive') and both.msg is search('policy')
"""


def test_actions_enforce_their_spec(tmp_path):
    playbook = tmp_path / "arguments.yml"
    playbook.write_text(ARGUMENTS_PLAYBOOK)
    result = run_playbook(tmp_path, textwrap.dedent("""
        all:
          hosts:
            ghost.invalid:
              ansible_host: 203.0.113.9
        """), str(playbook))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
