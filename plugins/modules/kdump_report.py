# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done on the controller by plugins/action/kdump_report.py; main() only hands the
# shared argument spec to AnsibleModule, for ansible-test's validate-modules.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kdump_report
short_description: Write the kdump compliance report of a set of hosts (HTML, JSON, JUnit XML)
version_added: 0.1.0
description:
  - Compares each host with its kdump policy, from the rows the playbook C(crashdump.kdump.report) gathers
    (the validated policy, the plan, the check-mode result of applying it, and the host's kdump facts), and
    writes the result into O(dest) on the controller as C(kdump-report.html), C(kdump-report.json) and
    C(kdump-report.xml) (JUnit XML).
  - "A host whose policy enables kdump is C(compliant) when the kdump service is enabled, at least the planned
    memory is reserved, the capture kernel is loaded, applying the plan would change nothing, no reboot is
    pending, and its last crash test passed within O(max_age_days) days."
  - "A host whose policy disables kdump is C(compliant_off) when the service is not enabled, no capture kernel
    is loaded, nothing is reserved, the running kernel has no C(crashkernel=), applying the plan would change
    nothing and no reboot is pending. No crash test is required."
  - A passed crash test is stale, and the host C(noncompliant), when the kernel was updated or the capture
    configuration changed since (the record's C(kernel_release) and C(capture_checksum) against the facts).
    C(kdumpctl test)'s C(vmcore-creation.status) counts as the host's own record; the newer one wins.
  - Otherwise a host is C(noncompliant), with one reason per failed rule naming the values found; C(conflict)
    when M(crashdump.kdump.kdump_facts) found something that defeats kdump whatever the policy says (its
    C(conflicts) are the first reasons); C(error) when the kdump role failed for it (invalid policy, planning
    error, module failure); C(unreachable) when it was not reached or has no row.
  - The report also groups every dump's crash across the fleet by signature (C(crashes)), shows each host's
    C(last_panic), and compares what the capture kernel used at its peak with the reservation (C(headroom),
    hosts under 20% free flagged, the reclaimable total).
  - The HTML page is a single file without external resources; the JUnit XML has one test case per host
    (noncompliant and conflict hosts fail, erroneous and unreachable hosts are errors).
  - Runs on the controller only and never connects to a host. Files are replaced atomically and only when
    their content changes; O(dest) is created (mode C(0755)) when missing, files are mode C(0644).
  - The report shows only the fields it needs; never the native configuration files, the plan's file
    contents, the SSH key or anything else from the hosts' secrets.
author:
  - crashdump.kdump developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - crashdump.kdump._controller_action
attributes:
  check_mode:
    support: full
    details: Reports whether the files would change and writes nothing.
  connection:
    support: none
    details: Never opens a connection to a host; the files are written on the controller.
  idempotent:
    support: partial
    details:
      - The files record when they were generated, so a run without O(now) rewrites them.
      - With the same O(now) and the same rows, a second run changes nothing.
options:
  hosts:
    description:
      - Every host the report is about, in the order to report them (the play's hosts in inventory order).
      - A host without a row in O(rows) is reported as C(unreachable).
    type: list
    elements: str
    required: true
  rows:
    description:
      - The rows gathered for the hosts that were reached, by inventory hostname. Each row may hold
        C(reachable) (bool), C(error) (why the kdump role failed for the host), C(policy) (the validated
        policy), C(plan) and C(check) (the plan and the check-mode result of M(crashdump.kdump.kdump_config))
        and C(facts) (the host's C(kdump) facts); any of them may be missing.
      - Rows of hosts not in O(hosts) are reported after them.
    type: dict
    default: {}
  dest:
    description: The directory on the controller the three files are written to; created when missing.
    type: path
    required: true
  max_age_days:
    description: How many days a passed crash test counts for.
    type: int
    default: 30
  now:
    description: The time of the report, seconds since the epoch; the current time when omitted (for tests).
    type: float
  title:
    description: The title of the HTML page; C(kdump compliance) when omitted.
    type: str
  fail_on_noncompliant:
    description:
      - Fail, after writing the files, when a host is not compliant (status C(noncompliant), C(conflict),
        C(error) or C(unreachable)), listing each with its first reason.
    type: bool
    default: false
seealso:
  - module: crashdump.kdump.kdump_facts
  - module: crashdump.kdump.kdump_config
"""

EXAMPLES = r"""
---
- name: Write the compliance report of every host that has a row
  crashdump.kdump.kdump_report:
    hosts: "{{ groups['all'] }}"
    rows: "{{ kdump_report_rows }}"
    dest: /srv/reports/kdump
    max_age_days: 30
  register: kdump_report

- name: Fail the CI job when a host is not compliant
  crashdump.kdump.kdump_report:
    hosts: "{{ groups['all'] }}"
    rows: "{{ kdump_report_rows }}"
    dest: "{{ playbook_dir }}/kdump-report"
    fail_on_noncompliant: true
"""

RETURN = r"""
summary:
  description: How many hosts have each status, and C(total).
  returned: always
  type: dict
  sample: {compliant: 3, compliant_off: 1, noncompliant: 1, conflict: 0, error: 0, unreachable: 1, total: 6}
files:
  description: The paths of the files written, by kind.
  returned: always
  type: dict
  sample:
    html: /srv/reports/kdump/kdump-report.html
    json: /srv/reports/kdump/kdump-report.json
    junit: /srv/reports/kdump/kdump-report.xml
hosts:
  description: Each host's status (C(compliant), C(compliant_off), C(noncompliant), C(conflict), C(error) or
    C(unreachable))
    and the reasons it is not compliant, in the order of O(hosts).
  returned: always
  type: list
  elements: dict
  sample:
    - {host: web01, status: compliant, reasons: []}
    - host: web02
      status: noncompliant
      reasons: ["capture kernel not loaded (kexec_crash_loaded is not 1)", "never crash-tested"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import KDUMP_REPORT


def main():
    module = AnsibleModule(supports_check_mode=True, **KDUMP_REPORT)
    module.fail_json(msg="crashdump.kdump.kdump_report runs on the controller; its action plugin was not found")


if __name__ == "__main__":
    main()
