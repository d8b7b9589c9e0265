"""kdump_config's action plugin fails a finished run whose capture kernel is not loaded: the role
relies on it instead of a task of its own."""

from __future__ import annotations

import pytest

from ansible_collections.crashdump.kdump.plugins.action.kdump_config import not_loaded_error

FINISHED = {"changed": False, "pending": [], "reboot_required": False, "check_mode": False, "loaded": False,
            "plan": {"enabled": True}, "reserved_bytes": 167772160, "crashkernel_running": "160M"}


def test_a_finished_run_without_the_capture_kernel_fails_naming_the_host():
    assert not_loaded_error(FINISHED, "web1") == (
        "web1: the capture kernel is not loaded although 167772160 bytes are reserved (crashkernel=160M)")


def test_nothing_reserved_reads_none():
    result = dict(FINISHED, reserved_bytes=0, crashkernel_running="")
    assert not_loaded_error(result, "web1") == (
        "web1: the capture kernel is not loaded although 0 bytes are reserved (crashkernel=none)")


@pytest.mark.parametrize("change", [
    {"loaded": True},
    {"pending": ["packages"]},  # the role installs them and runs again
    {"pending": ["ssh"]},
    {"reboot_required": True},  # loaded after the reboot, checked by the run after it
    {"check_mode": True},  # a prediction, not a run
    {"failed": True, "msg": "the module's own error"},
    {"plan": None},  # nothing planned (an ssh client without a host key yet)
    {"plan": {"enabled": False}},  # kdump switched off: nothing should be loaded
], ids=lambda change: ",".join(change))
def test_no_error_where_the_run_is_not_finished_or_nothing_must_be_loaded(change):
    assert not_loaded_error(dict(FINISHED, **change), "web1") is None
