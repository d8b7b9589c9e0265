# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/validate_policy.py.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validate_policy
short_description: Validate and normalise a kdump policy on the controller
version_added: 0.1.0
description:
  - Checks O(policy) (by default the host's C(kdump_policy) variable) against the policy model of
    this collection and returns it normalised, with every default filled in and every size in bytes.
  - Runs on the controller only and never connects to the host, so it works for hosts that are down,
    unreachable or not built yet.
  - On an invalid policy the task fails, and lists every problem found, each naming the host, the field
    path (for example C(kdump_policy.target.port)), what was expected and the value given.
  - The playbook C(crashdump.kdump.validate) runs this action for a whole inventory.
  - The JSON Schema of the policy is C(schemas/kdump-policy.schema.json) in the collection.
author:
  - crashdump.kdump developers
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - crashdump.kdump._controller_action
options:
  policy:
    description:
      - The policy to validate, with the structure of the C(kdump_policy) variable.
      - When omitted, the host's templated C(kdump_policy) variable is validated; if it is not defined,
        the task fails with C(kdump_policy is not defined).
    type: raw
"""

EXAMPLES = r"""
---
- name: Validate the host's kdump_policy without connecting to it
  crashdump.kdump.validate_policy:

- name: Validate an explicit policy and use the normalised result
  crashdump.kdump.validate_policy:
    policy:
      target:
        type: ssh
        host: dumps.example.org
        user: kdump
      retention:
        min_free: 10G
  register: kdump_checked

- name: Show the normalised size limit in bytes
  ansible.builtin.debug:
    msg: "{{ kdump_checked.policy.retention.min_free }}"
"""

RETURN = r"""
policy:
  description:
    - The normalised policy. Every field is present, defaults filled in; C(target) holds only the fields
      of its C(type). Sizes are bytes; C(reservation.size) is C(auto), bytes, or a list of ranges
      C({from, to, size}) in bytes (C(to) is null for an open-ended last range); C(filter.dump_level)
      is the makedumpfile bitmask.
  returned: success
  type: dict
  sample:
    enabled: true
    reservation: {size: auto, offset: null}
    target: {type: local, path: /var/crash}
    filter: {dump_level: 31, compression: auto, dmesg: true}
    on_failure: reboot
    on_success: reboot
    retention: {keep: 3, min_free: 1073741824}
    reboot: never
errors:
  description: One message per problem found, each starting with C(host <inventory_hostname>:).
  returned: failure
  type: list
  elements: str
  sample:
    - "host web01: kdump_policy.target.port: expected an integer from 1 to 65535, got 70000"
"""
