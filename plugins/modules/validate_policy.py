# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done on the controller by plugins/action/validate_policy.py; main() only hands the
# shared argument spec to AnsibleModule, for ansible-test's validate-modules.

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
  - With O(hosts), validates the C(kdump_policy) variable of every listed inventory host in one
    controller pass and fails when any of them is invalid, returning RV(invalid) per host. The
    playbook C(crashdump.kdump.validate) runs it once for the whole inventory (C(run_once)).
  - The JSON Schema of the policy is C(schemas/kdump-policy.schema.json) in the collection.
author:
  - crashdump.kdump developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - crashdump.kdump._controller_action
requirements:
  - pydantic >= 2 on the controller
options:
  policy:
    description:
      - The policy to validate, with the structure of the C(kdump_policy) variable.
      - When O(policy) and O(hosts) are omitted, the host's templated C(kdump_policy) variable is
        validated; if it is not defined, the task fails with C(kdump_policy is not defined).
      - Mutually exclusive with O(hosts).
    type: raw
  hosts:
    description:
      - Inventory hostnames whose templated C(kdump_policy) variables to validate, for example
        C({{ ansible_play_hosts }}) in a C(run_once) task. A host without the variable, or not in the
        inventory, is invalid.
      - Nothing is normalised in this mode; RV(policy) is not returned.
      - Mutually exclusive with O(policy).
    type: list
    elements: str
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

- name: Validate every host of the play in one task
  crashdump.kdump.validate_policy:
    hosts: "{{ ansible_play_hosts }}"
  run_once: true
  register: kdump_fleet
  failed_when: kdump_fleet.invalid is not defined

- name: List the invalid hosts
  ansible.builtin.debug:
    msg: "{{ kdump_fleet.invalid | list }}"
  run_once: true
"""

RETURN = r"""
policy:
  description:
    - The normalised policy. Every field is present, defaults filled in; C(target) holds only the fields
      of its C(type). Sizes are bytes; C(reservation.size) is C(auto), bytes, or a list of ranges
      C({from, to, size}) in bytes (C(to) is null for an open-ended last range); C(filter.dump_level)
      is the makedumpfile bitmask.
  returned: success, without O(hosts)
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
  returned: failure, and always with O(hosts)
  type: list
  elements: str
  sample:
    - "host web01: kdump_policy.target.port: expected an integer from 1 to 65535, got 70000"
invalid:
  description: Each invalid host of O(hosts), in their order, with its messages (as in RV(errors)).
  returned: with O(hosts)
  type: dict
  sample:
    web01: ["host web01: kdump_policy.target.port: expected an integer from 1 to 65535, got 70000"]
msg:
  description:
    - "With O(hosts), the summary C(kdump_policy: N of M host(s) valid), followed by C(, invalid: ) and
      the invalid hosts when there are any."
    - Otherwise, on failure, the messages of RV(errors) joined by newlines.
  returned: failure, and always with O(hosts)
  type: str
  sample: "kdump_policy: 2 of 3 host(s) valid, invalid: web01"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import VALIDATE_POLICY


def main():
    module = AnsibleModule(supports_check_mode=True, **VALIDATE_POLICY)
    module.fail_json(msg="crashdump.kdump.validate_policy runs on the controller; its action plugin was not found")


if __name__ == "__main__":
    main()
