# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for crashdump.kdump.kdump_config (module: plugins/modules/kdump_config.py).

Validates and normalises kdump_policy with pydantic here, on the controller, then runs the module
once on the host, which reads the host, plans (plugins/module_utils/_plan.py), compares and applies.
A policy that is invalid fails the task before the host is contacted; a run that leaves nothing to
do but whose capture kernel is not loaded fails it after (the role needs no task to check that).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import KDUMP_CONFIG
from ansible_collections.crashdump.kdump.plugins.module_utils._backend_debian import capture_script
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import (
    PolicyError,
    PydanticMissingError,
    normalise_policy,
)


def not_loaded_error(result, host):
    """The task's error when a finished run (nothing pending, no reboot due, not check mode) of an
    enabled policy leaves the capture kernel unloaded; None when there is nothing to say."""
    finished = not (result.get("failed") or result.get("check_mode") or result.get("pending")
                    or result.get("reboot_required"))
    if not finished or not (result.get("plan") or {}).get("enabled") or result.get("loaded"):
        return None
    return (f"{host}: the capture kernel is not loaded although {result.get('reserved_bytes')} bytes are reserved "
            f"(crashkernel={result.get('crashkernel_running') or 'none'})")


class ActionModule(ActionBase):
    """Normalise the policy on the controller, then enforce it in one module run on the host."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp  # no effect since ansible-core 2.x; kept for the signature
        dummy, args = self.validate_argument_spec(**KDUMP_CONFIG)
        host = str(task_vars.get("inventory_hostname", "")) or None
        try:
            policy = normalise_policy(args["policy"], host=host)
        except PolicyError as exc:
            result.update(failed=True, changed=False, msg="\n".join(exc.errors), errors=exc.errors)
            return result
        except PydanticMissingError as exc:
            result.update(failed=True, changed=False, msg=str(exc), errors=[str(exc)])
            return result
        module_args = dict(policy=policy, host_keys=args["host_keys"], inventory_hostname=host,
                           capture_script=capture_script())
        result.update(self._execute_module(module_name="crashdump.kdump.kdump_config", module_args=module_args,
                                           task_vars=task_vars))
        result["policy"] = policy
        # The role's own conditions need it: ansible_check_mode is false under a task-level check_mode.
        result["check_mode"] = bool(self._play_context.check_mode)
        error = not_loaded_error(result, host)
        if error:
            result.update(failed=True, msg=error)
        return result
