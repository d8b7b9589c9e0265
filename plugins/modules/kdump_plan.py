# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done on the controller by plugins/action/kdump_plan.py; main() only hands the
# shared argument spec to AnsibleModule, for ansible-test's validate-modules.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kdump_plan
short_description: Plan a host's native kdump configuration from a policy and its facts
version_added: 0.1.0
description:
  - Validates O(policy), checks that the host's distribution tooling can honour it (target type,
    compression supported by its makedumpfile, failure and success actions), computes the
    C(crashkernel=) value (sizing C(auto) from the host's RAM, architecture and target type), and
    renders the native configuration files.
  - Runs on the controller only and never connects to the host.
  - A policy the host cannot honour fails with a message naming the host, its distribution, the
    field and the reason, before anything changes.
  - The role C(crashdump.kdump.kdump) calls it between M(crashdump.kdump.kdump_facts) and
    M(crashdump.kdump.kdump_config).
author:
  - crashdump.kdump developers (!UNKNOWN)
options:
  policy:
    description: The kdump policy, raw or as returned by M(crashdump.kdump.validate_policy).
    type: raw
    required: true
  facts:
    description: The host's C(kdump) facts from M(crashdump.kdump.kdump_facts).
    type: dict
    required: true
  host_keys:
    description:
      - Public host keys (C(type base64)) of the SSH dump server, pinned in the capture
        environment's known_hosts. Required for C(ssh) targets on Debian and Ubuntu.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - crashdump.kdump._controller_action
requirements:
  - pydantic >= 2 on the controller
"""

EXAMPLES = r"""
---
- name: Read the host's kdump state
  crashdump.kdump.kdump_facts:

- name: Plan its configuration
  crashdump.kdump.kdump_plan:
    policy: "{{ kdump_policy }}"
    facts: "{{ ansible_facts['kdump'] }}"
  register: kdump_plan_result
"""

RETURN = r"""
plan:
  description: What M(crashdump.kdump.kdump_config) applies.
  returned: success
  type: dict
  contains:
    family:
      description: Distribution family backend.
      type: str
      sample: debian
    crashkernel:
      description:
        - The C(crashkernel=) value(s) for this host, space-separated (C(128M 512M,cma) with reservation.cma),
          or null when kdump is disabled.
      type: str
      sample: 192M
    crashkernel_bytes:
      description: What the regular reservation amounts to on this host (what C(/sys/kernel/kexec_crash_size) shows).
      type: int
      sample: 201326592
    crashkernel_cma_bytes:
      description: The C(crashkernel=SIZE,cma) part of the plan (C(reservation.cma)), 0 when there is none.
      type: int
      sample: 0
    compression:
      description: The compression the dump will use (C(auto) resolved).
      type: str
      sample: lzo
    missing_packages:
      description: Packages of the native tooling that are not installed yet.
      type: list
      elements: str
    package_manager:
      description:
        - The package manager module that installs them (C(ansible.builtin.package)'s O(ansible.builtin.package#module:use)),
          or C(auto) to let that module find out.
      type: str
      sample: apt
    files:
      description: Native files with their full content and mode.
      type: list
      elements: dict
    sysctls:
      description: The panic triggers C(kdump_policy.panic_on) sets (true 1, false 0), by sysctl name.
      type: dict
      sample: {kernel.panic_on_oops: 1}
  sample:
    family: debian
    crashkernel: 192M
errors:
  description: Every reason the plan could not be made.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import KDUMP_PLAN


def main():
    module = AnsibleModule(supports_check_mode=True, **KDUMP_PLAN)
    module.fail_json(msg="crashdump.kdump.kdump_plan runs on the controller; its action plugin was not found")


if __name__ == "__main__":
    main()
