"""Verify the example local-target policy on a real Debian VM, then prove it by crashing it."""

from __future__ import annotations

import base64
import json
import os
import sys
import time

import pytest
import testinfra.utils.ansible_runner
import yaml

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "lab"))
sys.path.insert(0, os.path.join(PROJECT, ".cache", "collections"))

import kdumplab  # noqa: E402
from ansible_collections.crashdump.kdump.plugins.module_utils import _facts  # noqa: E402
from ansible_collections.crashdump.kdump.plugins.plugin_utils import _crashkernel  # noqa: E402

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")

with open(os.path.join(PROJECT, "schemas", "examples", "local.yml"), encoding="utf-8") as handle:
    POLICY = yaml.safe_load(handle)["kdump_policy"]

CRASH_TIMEOUT = 900  # seconds: capture boot, dump and a normal boot, all under TCG
RESULTS = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp"), "crash-results.json")


def kdump_tools_config(host):
    """/etc/default/kdump-tools and the capture script's settings as the shell sees them
    (sourced, not parsed by hand)."""
    script = ". /etc/default/kdump-tools; . /etc/crashdump-kdump/capture.conf; for v in USE_KDUMP " \
             "KDUMP_COREDIR KDUMP_NUM_DUMPS KDUMP_DUMP_DMESG MAKEDUMP_ARGS CRASHDUMP_TARGET CRASHDUMP_ON_FAILURE " \
             "CRASHDUMP_ON_SUCCESS; do eval echo \"$v=\\$$v\"; done"
    out = host.check_output("sh -c %s", script)  # testinfra quotes the argument
    return dict(line.split("=", 1) for line in out.splitlines())


def planned_crashkernel(host):
    mem_total = int(host.check_output("awk '/^MemTotal:/ {print $2}' /proc/meminfo")) * 1024
    ram = mem_total + int(host.file("/sys/kernel/kexec_crash_size").content_string)
    return _crashkernel.format_size(_crashkernel.auto_size(ram, "x86_64", POLICY["target"]["type"]))


def test_capture_kernel_loaded(host):
    assert host.file("/sys/kernel/kexec_crash_loaded").content_string.strip() == "1"
    assert int(host.file("/sys/kernel/kexec_crash_size").content_string) > 0


def test_running_kernel_has_planned_crashkernel(host):
    cmdline = host.file("/proc/cmdline").content_string.split()
    assert [w for w in cmdline if w.startswith("crashkernel=")] == [f"crashkernel={planned_crashkernel(host)}"]


def test_kdump_tools_config_matches_policy(host):
    config = kdump_tools_config(host)
    assert config["USE_KDUMP"] == "1"
    assert config["KDUMP_COREDIR"] == POLICY["target"]["path"]
    assert config["KDUMP_NUM_DUMPS"] == str(POLICY["retention"]["keep"])
    assert config["KDUMP_DUMP_DMESG"] == "1"
    assert (config["CRASHDUMP_TARGET"], config["CRASHDUMP_ON_FAILURE"], config["CRASHDUMP_ON_SUCCESS"]) == (
        "local", POLICY["on_failure"], POLICY["on_success"])
    assert config["MAKEDUMP_ARGS"].split() == ["-F", best_compression_flag(host),
                                               "-d", str(POLICY["filter"]["dump_level"])]


FLAGS = {"zstd": "-z", "lzo": "-l", "snappy": "-p", "zlib": "-c"}


def best_compression(host):
    """compression: auto = the best the host's makedumpfile was built with (Debian 12: lzo,
    Debian 13: zstd), read here from makedumpfile itself."""
    lines = host.check_output("makedumpfile -v").splitlines()[1:]
    enabled = {words[0] for words in map(str.split, lines) if words[1:] == ["enabled"]}
    return next((name for name in ("zstd", "lzo", "snappy") if name in enabled), "zlib")  # zlib: always built in


def best_compression_flag(host):
    return FLAGS[best_compression(host)]


def test_service_enabled_and_dump_dir_private(host):
    assert host.service("kdump-tools").is_enabled
    assert host.file(POLICY["target"]["path"]).mode == 0o700


def dumps(host):
    out = host.check_output("find %s -mindepth 2 -maxdepth 2 -name 'dump.*' -printf '%%h\\n' | sort",
                            POLICY["target"]["path"])
    return set(out.split())


def test_forced_crash_leaves_a_valid_dump(host):
    name = host.backend.get_hostname()
    before = dumps(host)
    timing = kdumplab.crash(name, CRASH_TIMEOUT)
    new = sorted(dumps(host) - before)
    assert len(new) == 1, f"expected one new dump directory, found {new}\n{kdumplab.console_tail(name)}"
    directory = new[0]
    stamp = os.path.basename(directory)
    dump = host.file(f"{directory}/dump.{stamp}")
    dmesg = host.file(f"{directory}/dmesg.{stamp}")
    # Debian's kdump-tools writes makedumpfile's flattened format (-F).
    head = base64.b64decode(host.check_output("head -c %s %s | base64 -w0", str(_facts.HEAD_BYTES), dump.path))
    assert _facts.dump_format(head) == "flattened"
    assert _facts.dump_details(head) == {"compression": best_compression(host),
                                         "dump_level": POLICY["filter"]["dump_level"]}
    assert dump.size > 1024 * 1024
    assert dump.mode == 0o600, "a vmcore holds the host's memory: root only"
    assert "sysrq: Trigger a crash" in dmesg.content_string
    saved_seconds = dump.mtime.timestamp() - timing["guest_crashed_at"]
    result = dict(timing, dump=dump.path, dump_bytes=dump.size, seconds_crash_to_dump_saved=round(saved_seconds, 1))
    with open(RESULTS, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"\ncrash result: {json.dumps(result)}")


@pytest.fixture(autouse=True, scope="module")
def _time_verify():
    started = time.monotonic()
    yield
    print(f"\nverify took {time.monotonic() - started:.0f}s")
