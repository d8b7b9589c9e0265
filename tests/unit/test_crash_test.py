"""The crash test's verdict: the dump of this crash, where the policy says, checked."""

from __future__ import annotations

import pytest

from ansible_collections.crashdump.kdump.plugins.plugin_utils._crash_test import server_dump_dir, verdict
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy

T0, T1 = 1_790_000_000.0, 1_790_000_212.4


def policy(**target):
    return normalise_policy({"target": target or {"type": "local", "path": "/var/crash"}})


def dump(path, size=50 * 2 ** 20, fmt="flattened", sysrq=True):
    directory = path.rsplit("/", 1)[0]
    return {"path": path, "directory": directory, "size": size, "format": fmt, "compression": "lzo",
            "dump_level": 31, "dmesg": f"{directory}/dmesg", "dmesg_has_sysrq_crash": sysrq}


OLD = dump("/var/crash/202611270900/dump.202611270900")
NEW = dump("/var/crash/202611281000/dump.202611281000")
BEFORE = {"boot_id": "a", "dumps": [OLD], "dump_path": "/var/crash",
          "last_capture": {"result": "saved", "location": OLD["path"], "stamp": "202611270900"}}


def after(*dumps, result="saved", location=NEW["path"], stamp="202611281000", boot_id="b"):
    record = {"result": result, "location": location, "stamp": stamp, "detail": "the ssh target failed"}
    return {"boot_id": boot_id, "dumps": list(dumps), "dump_path": "/var/crash", "last_capture": record}


def test_local_dump_found_checked_and_timed():
    result = verdict(BEFORE, after(NEW, OLD), None, policy(), T0, T1)
    assert result["passed"] is True and result["reason"] == ""
    assert result["location"] == NEW["path"] and result["size"] == NEW["size"]
    assert result["seconds_crash_to_back"] == 212.4 and result["epoch"] == int(T0)
    assert result["time"].endswith("Z") and result["on_server"] is False


@pytest.mark.parametrize("dumps, kwargs, reason", [
    ((NEW, OLD), {"boot_id": "a"}, "did not go down"),
    ((NEW, OLD), {"result": "saved_to_rootfs"}, "recorded 'saved_to_rootfs': the ssh target failed"),
    ((NEW, OLD), {"result": "failed", "location": ""}, "recorded 'failed'"),
    ((OLD,), {}, "no new dump found where the policy says (local: /var/crash/202611281000"),
    ((dump(NEW["path"], fmt="unknown"),), {}, "not a dump"),
    ((dump(NEW["path"], size=4096),), {}, "4096 bytes, less than crash_test_min_bytes"),
    ((dump(NEW["path"], sysrq=False),), {}, "no dmesg with the sysrq crash"),
])
def test_each_failure_names_its_reason(dumps, kwargs, reason):
    result = verdict(BEFORE, after(*dumps, **kwargs), None, policy(), T0, T1)
    assert result["passed"] is False and reason in result["reason"]


def test_dmesg_not_required_when_the_policy_saves_none():
    quiet = normalise_policy({"target": {"type": "local"}, "filter": {"dmesg": False}})
    assert verdict(BEFORE, after(dump(NEW["path"], sysrq=False)), None, quiet, T0, T1)["passed"] is True


def test_without_a_capture_record_a_dump_that_was_not_there_before():
    before = dict(BEFORE, last_capture=None)
    later = dict(after(NEW, OLD), last_capture=None)
    assert verdict(before, later, None, policy(), T0, T1)["location"] == NEW["path"]
    assert "no new dump" in verdict(before, dict(later, dumps=[OLD]), None, policy(), T0, T1)["reason"]


SSH = {"type": "ssh", "host": "dumps", "user": "kdump", "path": "/srv/crash"}


def test_ssh_dump_is_looked_for_on_the_server_by_stamp():
    on_server = dump("/srv/crash/web1/202611281000/dump.202611281000")
    record = after(location="kdump@dumps:web1/202611281000")
    result = verdict(BEFORE, record, {"dumps": [on_server]}, policy(**SSH), T0, T1)
    assert result["passed"] is True and result["location"] == on_server["path"] and result["on_server"]
    assert "set crash_test_dump_server" in verdict(BEFORE, record, None, policy(**SSH), T0, T1)["reason"]
    assert "no new dump" in verdict(BEFORE, record, {"dumps": [OLD]}, policy(**SSH), T0, T1)["reason"]


def test_raw_dump_recovered_at_boot():
    result = verdict(BEFORE, after(NEW, result="recovered"), None, policy(type="raw", device="/dev/sdb"), T0, T1)
    assert result["passed"] is True and result["capture"] == "recovered"


def test_server_dump_dir():
    assert server_dump_dir(policy(**SSH), "web1") == "/srv/crash/web1"
    nfs = policy(type="nfs", host="dumps", export="/srv/crash", path="/")
    assert server_dump_dir(nfs, "web1") == "/srv/crash/web1"
    nfs = policy(type="nfs", host="dumps", export="/export/", path="/kdump")
    assert server_dump_dir(nfs, "web1") == "/export/kdump/web1"


def test_the_record_keeps_what_it_proved_passed_or_not():
    before = dict(BEFORE, kernel_release="6.1.0-50-amd64", capture_config={"checksum": "ab12", "files": []})
    passed = verdict(before, after(NEW, OLD), None, policy(), T0, T1)
    failed = verdict(before, after(OLD), None, policy(), T0, T1)
    for result in (passed, failed):
        assert (result["kernel_release"], result["capture_checksum"]) == ("6.1.0-50-amd64", "ab12")
    assert passed["passed"] and not failed["passed"]
    older = verdict(BEFORE, after(NEW, OLD), None, policy(), T0, T1)  # facts without these keys
    assert (older["kernel_release"], older["capture_checksum"]) == (None, None)
