# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for crashdump.kdump.validate_policy (documentation: plugins/modules/validate_policy.py).

Runs on the controller only and never contacts the host: validating a policy must work for
hosts that are down, unreachable or not built yet. With ``hosts`` it validates every listed
host's kdump_policy in one pass (the crashdump.kdump.validate playbook runs it once for the whole
inventory: a task per host would cost a worker process per host).
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import VALIDATE_POLICY
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import (
    PolicyError,
    PydanticMissingError,
    normalise_policy,
)

POLICY_VAR = "kdump_policy"


class ActionModule(ActionBase):
    """Validate and normalise kdump_policy on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp  # no effect since ansible-core 2.x; kept for the signature

        dummy, args = self.validate_argument_spec(**VALIDATE_POLICY)
        try:
            if args["hosts"] is not None:
                return self._validate_hosts(result, args["hosts"], task_vars["hostvars"])
            return self._validate_one(result, args, task_vars)
        except PydanticMissingError as exc:
            return self._failed(result, [str(exc)])

    def _validate_one(self, result, args, task_vars):
        host = str(task_vars.get("inventory_hostname", "")) or None
        errors, policy = [], args["policy"]
        if "policy" not in self._task.args and POLICY_VAR in task_vars:
            try:
                policy = self._templar.template(task_vars[POLICY_VAR])
            except AnsibleError as exc:
                errors = [template_error(host, exc)]
        if not errors:
            errors, result["policy"] = checked(policy, host)
        if errors:
            return self._failed(result, errors)
        result["changed"] = False
        return result

    def _validate_hosts(self, result, hosts, hostvars):
        hosts = list(dict.fromkeys(hosts))
        invalid = invalid_hosts(hosts, hostvars, self._templar)
        summary = f"{POLICY_VAR}: {len(hosts) - len(invalid)} of {len(hosts)} host(s) valid"
        if invalid:
            summary += ", invalid: " + ", ".join(invalid)
        errors = [message for messages in invalid.values() for message in messages]
        result.update(changed=False, failed=bool(invalid), msg=summary, invalid=invalid, errors=errors)
        return result

    @staticmethod
    def _failed(result, errors):
        result.update(failed=True, changed=False, msg="\n".join(errors), errors=list(errors))
        return result


def invalid_hosts(hosts, hostvars, templar):
    """{host: its error messages} for each host of hosts whose kdump_policy is invalid, in order."""
    read = PolicyReader(hostvars, templar).read
    invalid = {}
    for host in hosts:
        errors, policy = read(host)
        if not errors:
            errors, dummy = checked(policy, host)
        if errors:
            invalid[host] = errors
    return invalid


def checked(policy, host):
    """(errors, the normalised policy or None)."""
    try:
        return [], normalise_policy(policy, host=host)
    except PolicyError as exc:
        return exc.errors, None


class PolicyReader:
    """Reads hosts' templated kdump_policy from hostvars.

    A policy without templates (typically the one in group_vars, a single object shared by many
    hosts) is templated once rather than once per host: templating is most of what validating a
    large inventory costs.
    """

    def __init__(self, hostvars, templar):
        self._hostvars = hostvars
        self._templar = templar
        self._shared = {}  # id(raw policy) -> (raw policy, templated); holding the raw value keeps its id

    def read(self, host):
        """(errors, policy) of one inventory host; policy None when the host does not define one."""
        if host not in self._hostvars:
            return [f"host {host}: not in the inventory"], None
        variables = self._hostvars.raw_get(host)
        if POLICY_VAR not in variables:
            return [], None
        raw = variables[POLICY_VAR]
        if id(raw) in self._shared:
            return [], self._shared[id(raw)][1]
        # as in a task of the host: its variables, and hostvars (raw_get leaves it out)
        templar = self._templar.copy_with_new_env(available_variables={**variables, "hostvars": self._hostvars})
        try:
            policy = templar.template(raw)
            if not templar.is_template(raw):
                self._shared[id(raw)] = (raw, policy)
        except AnsibleError as exc:
            return [template_error(host, exc)], None
        return [], policy


def template_error(host, exc):
    """An undefined variable or broken template inside the policy, reported like a policy error."""
    prefix = f"host {host}: " if host else ""
    return f"{prefix}{POLICY_VAR}: could not be templated: {exc.message}"
