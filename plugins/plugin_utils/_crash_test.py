# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller): the verdict of a crash test, from the host's kdump
facts before and after the crash (and the dump server's, for ssh and nfs targets).

Not a public API; it may change without notice.
"""

from __future__ import annotations

import datetime
import posixpath

REMOTE_TARGETS = ("ssh", "nfs")
MIB = 1024 * 1024


class CrashTestFailed(Exception):
    """The crash test did not prove a dump; the message says why."""


def utc_iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def server_dump_dir(policy, host):
    """Where the dump server keeps this host's dumps, on the server's own file system."""
    target = policy["target"]
    if target["type"] == "ssh":
        return posixpath.join(target["path"], host)
    base = posixpath.join(target["export"], target["path"].strip("/"))
    return posixpath.join(base, host)


def new_capture_record(before, after):
    """The capture script's record of this crash, or None when it wrote none (another tooling)."""
    record = after.get("last_capture")
    return record if record and record != before.get("last_capture") else None


def find_dump(before, after, server, policy):
    """The dump of this crash where the policy says it goes, and the capture record."""
    target = policy["target"]["type"]
    record = new_capture_record(before, after)
    if record:
        if record.get("result") not in ("saved", "recovered"):
            raise CrashTestFailed(f"the capture kernel recorded {record.get('result')!r}: "
                                  f"{record.get('detail') or 'no detail'} (location {record.get('location') or 'none'})")
        if target in REMOTE_TARGETS:
            if server is None:
                raise CrashTestFailed(f"the {target} dump is on the dump server: set crash_test_dump_server "
                                      f"(or kdump_dump_server) to its inventory name to check it")
            stamp = record.get("stamp")
            found = [d for d in server.get("dumps") or [] if posixpath.basename(d["directory"]) == stamp]
        else:
            found = [d for d in after.get("dumps") or [] if d["path"] == record.get("location")]
        where = record.get("location")
    else:
        if target in REMOTE_TARGETS:
            raise CrashTestFailed("the host left no capture record, so the dump on the server cannot be told apart")
        known = {d["path"] for d in before.get("dumps") or []}
        found = [d for d in after.get("dumps") or [] if d["path"] not in known]
        where = after.get("dump_path")
    if not found:
        raise CrashTestFailed(f"no new dump found where the policy says ({target}: {where})")
    return found[0], record


def check_dump(dump, policy, min_bytes):
    if dump.get("format") in (None, "unknown"):
        raise CrashTestFailed(f"{dump['path']}: not a dump (no kdump, flattened or ELF header)")
    if int(dump.get("size") or 0) < min_bytes:
        raise CrashTestFailed(f"{dump['path']}: {dump.get('size')} bytes, less than crash_test_min_bytes {min_bytes}")
    if policy["filter"]["dmesg"] and not dump.get("dmesg_has_sysrq_crash"):
        raise CrashTestFailed(f"{dump['path']}: no dmesg with the sysrq crash next to it ({dump.get('dmesg')})")


def verdict(before, after, server, policy, crashed_at, back_at, min_bytes=MIB):
    """The crash test's result: what the local fact records and the report reads."""
    result = {
        "passed": False,
        "time": utc_iso(crashed_at),
        "epoch": int(crashed_at),
        "target": policy["target"]["type"],
        "seconds_crash_to_back": round(back_at - crashed_at, 1),
        # What was proved: the report marks the proof stale when either has changed since.
        "kernel_release": before.get("kernel_release"),
        "capture_checksum": (before.get("capture_config") or {}).get("checksum"),
    }
    try:
        if after.get("boot_id") and after.get("boot_id") == before.get("boot_id"):
            raise CrashTestFailed("the host did not go down: its boot id did not change")
        dump, record = find_dump(before, after, server, policy)
        check_dump(dump, policy, min_bytes)
    except CrashTestFailed as exc:
        return dict(result, reason=str(exc))
    server_side = policy["target"]["type"] in REMOTE_TARGETS
    return dict(result, passed=True, reason="", location=dump["path"], on_server=server_side,
                capture=(record or {}).get("result", "saved"),
                **{key: dump.get(key) for key in ("size", "format", "compression", "dump_level", "dmesg",
                                                  "dmesg_has_sysrq_crash")})
