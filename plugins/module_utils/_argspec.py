# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump: the argument specs of its controller-only actions, written once.

Each action plugin validates its arguments against its spec here, and its documentation module
(plugins/modules/<name>.py) hands the same spec to AnsibleModule, which is where ansible-test's
validate-modules and tests/unit/test_argspec.py read it to compare it with DOCUMENTATION.
Each value holds AnsibleModule / ActionBase.validate_argument_spec keyword arguments.

Not a public API; it may change without notice.
"""

from __future__ import annotations

VALIDATE_POLICY = {
    "argument_spec": {
        "policy": {"type": "raw"},
        "hosts": {"type": "list", "elements": "str"},
    },
    "mutually_exclusive": [["policy", "hosts"]],
}

KDUMP_PLAN = {
    "argument_spec": {
        "policy": {"type": "raw", "required": True},
        "facts": {"type": "dict", "required": True},
        # public host keys of the dump server, not secrets
        "host_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
    },
}

KDUMP_REPORT = {
    "argument_spec": {
        "hosts": {"type": "list", "elements": "str", "required": True},
        "rows": {"type": "dict", "default": {}},
        "dest": {"type": "path", "required": True},
        "max_age_days": {"type": "int", "default": 30},
        "now": {"type": "float"},
        "title": {"type": "str"},
        "fail_on_noncompliant": {"type": "bool", "default": False},
    },
}
