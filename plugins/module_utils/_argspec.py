# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump: the argument specs of its action plugins, written once.

Each action plugin validates its arguments against its spec here, and its module
(plugins/modules/<name>.py: documentation only, or kdump_config's host side) hands the same spec to AnsibleModule, which is where ansible-test's
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

KDUMP_CONFIG = {
    "argument_spec": {
        "policy": {"type": "raw", "required": True},
        # public host keys of the dump server, not secrets
        "host_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
        # set by the action plugin: the task's own values are replaced
        "inventory_hostname": {"type": "str"},
        "capture_script": {"type": "str"},
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
