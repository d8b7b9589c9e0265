# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to crashdump.kdump: the attributes shared by its controller-only actions. Use after
# ansible.builtin.action_common_attributes{,.conn,.flow}, which describe them (fragments don't nest);
# a module's own attributes entries override these key by key.

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  connection:
    support: none
    details: Never opens a connection to the host; works for unreachable or not yet existing hosts.
  delegation:
    support: none
  diff_mode:
    support: none
  idempotent:
    support: full
    description: When run twice in a row with the same arguments, the second invocation indicates no change.
  platform:
    support: full
    platforms: all
"""
