# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for crashdump.kdump.validate_policy (documentation: plugins/modules/validate_policy.py).

Runs on the controller only and never contacts the host: validating a policy must work for
hosts that are down, unreachable or not built yet.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

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

        dummy, args = self.validate_argument_spec(argument_spec={"policy": {"type": "raw"}})
        host = str(task_vars.get("inventory_hostname", "")) or None
        prefix = f"host {host}: " if host else ""

        if "policy" in self._task.args:
            policy = args["policy"]
        elif POLICY_VAR in task_vars:
            try:
                policy = self._templar.template(task_vars[POLICY_VAR])
            except AnsibleError as exc:
                # An undefined variable or broken template inside the policy: report it like a policy error.
                message = f"{prefix}{POLICY_VAR}: could not be templated: {exc.message}"
                return self._failed(result, [message])
        else:
            policy = None

        try:
            result["policy"] = normalise_policy(policy, host=host)
        except PolicyError as exc:
            return self._failed(result, exc.errors)
        except PydanticMissingError as exc:
            return self._failed(result, [str(exc)])
        result["changed"] = False
        return result

    @staticmethod
    def _failed(result, errors):
        result.update(failed=True, changed=False, msg="\n".join(errors), errors=list(errors))
        return result
