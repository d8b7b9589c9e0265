# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for crashdump.kdump.kdump_plan (documentation: plugins/modules/kdump_plan.py).

Controller only: turns a policy and the host's kdump facts into the plan that
crashdump.kdump.kdump_config applies, or fails naming host, distribution, field and reason.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import KDUMP_PLAN
from ansible_collections.crashdump.kdump.plugins.module_utils._plan import PlanError, make_plan
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import (
    PolicyError,
    PydanticMissingError,
    normalise_policy,
)


class ActionModule(ActionBase):
    """Plan the native configuration of one host from its policy and facts."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(**KDUMP_PLAN)
        host = str(task_vars.get("inventory_hostname", "")) or None
        try:
            policy = normalise_policy(args["policy"], host=host)
            result["plan"] = make_plan(policy, args["facts"], host, args["host_keys"])
        except (PolicyError, PlanError) as exc:
            result.update(failed=True, msg="\n".join(exc.errors), errors=exc.errors)
        except PydanticMissingError as exc:
            result.update(failed=True, msg=str(exc), errors=[str(exc)])
        result["changed"] = False
        return result
