# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the crash_test role: where the dump server keeps a host's dumps, and the verdict."""

from __future__ import annotations

from ansible_collections.crashdump.kdump.plugins.plugin_utils import _crash_test


def crash_test_verdict(after, before, server, policy, crashed_at, back_at, min_bytes=_crash_test.MIB):
    return _crash_test.verdict(before, after, server, policy, float(crashed_at), float(back_at), int(min_bytes))


def crash_test_server_dir(policy, host):
    return _crash_test.server_dump_dir(policy, host)


class FilterModule:
    def filters(self):
        return {"crash_test_verdict": crash_test_verdict, "crash_test_server_dir": crash_test_server_dir}
