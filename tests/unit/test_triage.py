"""Crash triage: a dump's dmesg read into what crashed, on a real lab dmesg and on fixtures written
from the kernel's documented formats (panic(), __die/show_fault_oops, BUG(), the soft and hard
lockup watchdogs, hung_task.c, sysrq), and the host-side cut that kdump_facts returns as panic_log.

Every expected parse below is written by hand from the fixture's lines.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _facts
from ansible_collections.crashdump.kdump.plugins.plugin_utils._triage import normalise, triage

HERE = os.path.dirname(__file__)


def fixture(name):
    folder = "facts" if name == "dmesg.debian12-sysrq" else "triage"
    with open(os.path.join(HERE, "fixtures", folder, name), encoding="utf-8") as handle:
        return handle.read()


def without_signature(parse):
    return {key: value for key, value in parse.items() if key != "signature"}


EXPECTED = {
    # Real: the lab's Debian 12 VM after sysrq c (the fixture keeps the first frame of the trace only).
    "dmesg.debian12-sysrq": {
        "class": "sysrq_crash", "reason": "sysrq: Trigger a crash", "panic": "sysrq triggered crash",
        "rip": None, "frames": [], "comm": "sh", "pid": 2637, "kernel_release": "6.1.0-50-amd64",
        "seconds": 245.726614, "reports": 2, "rule": "the last sysrq_crash report before the panic"},
    "dmesg.sysrq-full": {
        "class": "sysrq_crash", "reason": "sysrq: Trigger a crash", "panic": "sysrq triggered crash",
        "rip": None,
        "frames": ["sysrq_handle_crash", "__handle_sysrq", "write_sysrq_trigger", "proc_reg_write", "vfs_write",
                   "ksys_write", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"],
        "comm": "sh", "pid": 1203, "kernel_release": "6.1.0-27-amd64", "seconds": 88.21453, "reports": 3,
        "rule": "the last sysrq_crash report before the panic"},
    # panic_on_oops: kdump starts in oops_end, before panic() would print anything.
    "dmesg.null-deref": {
        "class": "null_dereference", "reason": "BUG: kernel NULL pointer dereference, address: 0000000000000008",
        "panic": None, "rip": "nullmod_store",
        "frames": ["kernfs_fop_write_iter", "vfs_write", "ksys_write", "do_syscall_64",
                   "entry_SYSCALL_64_after_hwframe"],
        "comm": "insmod", "pid": 1432, "kernel_release": "6.1.0-27-amd64", "seconds": 112.348912, "reports": 1,
        "rule": "the first oops in the log"},
    "dmesg.bug-on": {
        "class": "bug_on", "reason": "kernel BUG at fs/ext4/inode.c:2732!", "panic": None, "rip": "ext4_writepages",
        "frames": ["do_writepages", "__writeback_single_inode", "writeback_sb_inodes", "__writeback_inodes_wb",
                   "wb_writeback", "wb_workfn", "process_one_work", "worker_thread"],
        "comm": "kworker/u4:3", "pid": 88, "kernel_release": "6.1.0-27-amd64", "seconds": 3021.55124, "reports": 1,
        "rule": "the first oops in the log"},
    # kernel.hung_task_panic=1: the blocked task's report, not khungtaskd's panic trace.
    "dmesg.hung-task": {
        "class": "hung_task", "reason": "INFO: task tar:2231 blocked for more than 120 seconds.",
        "panic": "hung_task: blocked tasks", "rip": None,
        "frames": ["__schedule", "schedule", "io_schedule", "folio_wait_bit_common", "nfs_read_folio",
                   "filemap_read_folio", "filemap_get_pages", "filemap_read"],
        "comm": "tar", "pid": 2231, "kernel_release": "6.1.0-27-amd64", "seconds": 1228.130045, "reports": 2,
        "rule": "the last hung_task report before the panic"},
    # kernel.softlockup_panic=1
    "dmesg.soft-lockup": {
        "class": "soft_lockup", "reason": "watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [spin:1587]",
        "panic": "softlockup: hung tasks", "rip": "spin_write",
        "frames": ["proc_reg_write", "vfs_write", "ksys_write", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"],
        "comm": "spin", "pid": 1587, "kernel_release": "6.1.0-27-amd64", "seconds": 364.12023, "reports": 2,
        "rule": "the last soft_lockup report before the panic"},
    # kernel.hardlockup_panic=1, 6.12's "watchdog:" prefix and UID in the CPU line.
    "dmesg.hard-lockup": {
        "class": "hard_lockup", "reason": "watchdog: Watchdog detected hard LOCKUP on cpu 3", "panic": "Hard LOCKUP",
        "rip": "native_queued_spin_lock_slowpath",
        "frames": ["_raw_spin_lock", "mydrv_irq_handler", "__handle_irq_event_percpu", "handle_irq_event",
                   "handle_edge_irq", "__common_interrupt", "common_interrupt", "asm_common_interrupt"],
        "comm": "swapper/3", "pid": 0, "kernel_release": "6.12.12-amd64", "seconds": 842.33011, "reports": 2,
        "rule": "the last hard_lockup report before the panic"},
    # Oops #1 killed a task; oops #2, in a timer interrupt, started kdump: the first is the one.
    "dmesg.multiple-oops": {
        "class": "general_protection",
        "reason": "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] "
                  "PREEMPT SMP NOPTI",
        "panic": None, "rip": "__list_del_entry_valid",
        "frames": ["mycache_evict", "mycache_shrink", "do_shrink_slab", "shrink_slab", "shrink_node"],
        "comm": "java", "pid": 40817, "kernel_release": "5.14.0-427.13.1.el9_4.x86_64", "seconds": 501.772201,
        "reports": 2, "rule": "the first oops in the log"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_panic_kind(name):
    parse = triage(fixture(name))
    assert without_signature(parse) == EXPECTED[name]
    assert len(parse["signature"]) == 16 and int(parse["signature"], 16) >= 0


def test_signatures_tell_the_kinds_apart():
    signatures = {triage(fixture(name))["signature"] for name in EXPECTED}
    assert len(signatures) == len(EXPECTED)


def other_host(text):
    """The same crash on another host: other timestamps, PIDs, CPU, addresses, seconds stuck."""
    return (text.replace("[  364.", "[ 9071.").replace("spin:1587", "spin:30211").replace("PID: 1587", "PID: 30211")
            .replace("CPU#1", "CPU#7").replace("CPU: 1 ", "CPU: 7 ").replace("26s!", "48s!")
            .replace("ffffb4f0c0b7fe40", "ffffc90001d3be40").replace("+0x56/0xa0", "+0x5a/0xa0"))


def test_the_same_bug_on_two_hosts_has_one_signature_and_another_bug_another():
    text = fixture("dmesg.soft-lockup")
    moved = other_host(text)
    assert moved != text and triage(moved)["pid"] == 30211
    assert triage(moved)["signature"] == triage(text)["signature"]
    other_function = text.replace("spin_write+0x1a/0x30", "spin_read+0x1a/0x30")
    assert triage(other_function)["signature"] != triage(text)["signature"]
    other_caller = text.replace("proc_reg_write+", "kernfs_fop_write_iter+")
    assert triage(other_caller)["signature"] != triage(text)["signature"]


def test_normalised_reason_drops_what_differs_between_hosts():
    assert normalise("watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [spin:1587]") == \
        "watchdog: BUG: soft lockup - CPU#N stuck for Ns! [spin:N]"
    assert normalise("BUG: kernel NULL pointer dereference, address: 0000000000000008") == \
        "BUG: kernel NULL pointer dereference, address: ADDR"
    assert normalise("general protection fault, probably for non-canonical address 0xdead000000000100: 0000") == \
        "general protection fault, probably for non-canonical address ADDR: N"


def test_soft_lockup_whose_panic_follows_its_first_line():
    """As consoles show it: the panic right after the BUG line; the interrupted code is in the
    panic's own trace, after its register dump."""
    lines = fixture("dmesg.soft-lockup").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "BUG: soft lockup" in line)
    panic = next(i for i, line in enumerate(lines) if "Kernel panic" in line)
    parse = triage("".join(lines[:start + 1] + lines[panic:]))
    assert (parse["class"], parse["rip"], parse["comm"], parse["pid"]) == ("soft_lockup", "spin_write", "spin", 1587)
    assert parse["frames"] == ["proc_reg_write", "vfs_write", "ksys_write", "do_syscall_64",
                               "entry_SYSCALL_64_after_hwframe"]


def test_fatal_exception_panic_takes_the_first_oops():
    text = fixture("dmesg.multiple-oops") + "[  644.108201] Kernel panic - not syncing: Fatal exception in interrupt\n"
    parse = triage(text)
    assert (parse["class"], parse["rip"], parse["panic"]) == (
        "general_protection", "__list_del_entry_valid", "Fatal exception in interrupt")
    assert parse["rule"] == "the first oops before the panic (fatal exception)"


def test_panic_on_warn_is_the_warning():
    text = ("[   19.630201] WARNING: CPU: 0 PID: 1 at drivers/gpu/drm/drm_gem.c:1023 drm_gem_object_release+0x45/0x50 "
            "[drm]\n"
            "[   19.630402] Modules linked in: bochs drm_vram_helper\n"
            "[   19.630602] Kernel panic - not syncing: kernel: panic_on_warn set ...\n")
    parse = triage(text)
    assert (parse["class"], parse["panic"]) == ("warning", "kernel: panic_on_warn set ...")
    assert parse["reason"].startswith("WARNING: CPU: 0 PID: 1 at drivers/gpu/drm/drm_gem.c:1023")


def test_a_direct_panic_is_its_own_reason():
    text = ("[    2.104201] VFS: Cannot open root device \"vda1\" or unknown-block(0,0): error -6\n"
            "[    2.104601] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
            "[    2.104801] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-27-amd64 #1  Debian 6.1.115-1\n"
            "[    2.105001] Call Trace:\n"
            "[    2.105101]  <TASK>\n"
            "[    2.105201]  dump_stack_lvl+0x44/0x5c\n"
            "[    2.105301]  panic+0x118/0x2ed\n"
            "[    2.105401]  mount_block_root+0x1d3/0x1ea\n"
            "[    2.105501]  prepare_namespace+0x136/0x165\n"
            "[    2.105601]  kernel_init_freeable+0x25c/0x286\n"
            "[    2.105701]  </TASK>\n")
    parse = triage(text)
    assert parse["class"] == "panic"
    assert parse["reason"] == "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
    assert parse["frames"] == ["mount_block_root", "prepare_namespace", "kernel_init_freeable"]
    assert (parse["comm"], parse["pid"], parse["kernel_release"]) == ("swapper/0", 1, "6.1.0-27-amd64")
    assert parse["rule"] == "the panic (no earlier report)"


def test_older_kernels_and_syslog_prefixes():
    text = ("<0>[  100.100000] SysRq : Trigger a crash\n"
            "<0>[  100.100100] Kernel panic - not syncing: sysrq triggered crash\n"
            "<4>[  100.100200] CPU: 0 PID: 77 Comm: bash Not tainted 4.19.0-26-amd64 #1 Debian 4.19.304-1\n")
    parse = triage(text)
    assert (parse["class"], parse["kernel_release"], parse["comm"], parse["seconds"]) == (
        "sysrq_crash", "4.19.0-26-amd64", "bash", 100.1)


@pytest.mark.parametrize("text", [
    "", None, "\n\n", "\x00\x01\x02garbage\xff",
    "[    0.000000] Linux version 6.1.0-27-amd64 (gcc) #1 SMP\n[    1.000000] Freeing unused kernel memory\n",
    "Oops\nBUG\nKernel panic\n",  # the words, not the kernel's lines
])
def test_no_crash_report_is_none(text):
    assert triage(text) is None


def test_truncated_dmesg_keeps_what_is_there():
    text = fixture("dmesg.null-deref")
    cut = text[:text.index("vfs_write+")]
    parse = triage(cut)
    assert (parse["class"], parse["rip"], parse["frames"]) == ("null_dereference", "nullmod_store",
                                                              ["kernfs_fop_write_iter"])
    cut_mid_line = text[:text.index("RIP: 0010:") + 12]
    parse = triage(cut_mid_line)
    assert parse["class"] == "null_dereference" and parse["rip"] is None and parse["frames"] == []
    assert parse["kernel_release"] == "6.1.0-27-amd64"


# --- the host side: the panic_log cut that kdump_facts returns ------------------------------------

def write_dmesg(tmp_path, text):
    path = tmp_path / "dmesg.202611280306"
    path.write_bytes(text.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_panic_log_parses_as_the_whole_dmesg(tmp_path, name):
    text = fixture(name)
    log = _facts.panic_log(write_dmesg(tmp_path, text))
    assert len(log) < len(text) and not log.startswith("[    0.000000] Linux version")
    whole = triage(text)
    assert triage(log) == whole


def test_panic_log_of_a_long_log_is_bounded_and_keeps_start_and_end(tmp_path):
    boot = "".join(f"[{n / 10:12.6f}] audit: type=1400 apparmor=\"STATUS\" operation=\"profile_load\"\n"
                   for n in range(5000))
    noisy_hung = fixture("dmesg.hung-task").replace(
        "[ 1228.140230] Kernel panic",
        "".join(f"[ 1228.139{n:03d}] lock #{n}: (&sb->s_type->i_mutex_key#9){{++++}}-{{3:3}}\n" for n in range(400))
        + "[ 1228.140230] Kernel panic")
    log = _facts.panic_log(write_dmesg(tmp_path, boot + noisy_hung))
    assert len(log.encode()) <= _facts.PANIC_LOG_BYTES + 16
    assert log.startswith("[ 1228.130045] INFO: task tar:2231 blocked") and "\n[...]\n" in log
    parse = triage(log)
    assert (parse["class"], parse["panic"], parse["frames"][:3]) == (
        "hung_task", "hung_task: blocked tasks", ["__schedule", "schedule", "io_schedule"])


def test_panic_log_without_a_report_or_a_file(tmp_path):
    assert _facts.panic_log(write_dmesg(tmp_path, "[    1.000000] Freeing unused kernel memory\n")) is None
    assert _facts.panic_log(str(tmp_path / "missing")) is None


def test_the_last_report_of_the_kind_the_panic_names():
    """An earlier soft lockup that did not panic (softlockup_panic set since), then the one that did."""
    lines = fixture("dmesg.soft-lockup").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "BUG: soft lockup" in line)
    earlier = ["[  120.000100] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [kworker/0:1:31]\n",
               "[  120.000200] CPU: 0 PID: 31 Comm: kworker/0:1 Not tainted 6.1.0-27-amd64 #1  Debian 6.1.115-1\n",
               "[  120.000300] RIP: 0010:e1000_clean+0x1a/0x30 [e1000]\n"]
    parse = triage("".join(lines[:start] + earlier + lines[start:]))
    assert (parse["reason"], parse["rip"], parse["reports"]) == (
        "watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [spin:1587]", "spin_write", 3)


@pytest.mark.parametrize("panic, kind", [
    ("softlockup: hung tasks", "soft_lockup"), ("Hard LOCKUP", "hard_lockup"),
    ("hung_task: blocked tasks", "hung_task"), ("Fatal exception", "oops")])
def test_a_panic_whose_report_was_cut_off_keeps_the_class_it_names(panic, kind):
    parse = triage(f"[  364.136220] Kernel panic - not syncing: {panic}\n"
                   "[  364.136801] CPU: 1 PID: 1587 Comm: spin Not tainted 6.1.0-27-amd64 #1  Debian 6.1.115-1\n")
    assert (parse["class"], parse["reason"], parse["comm"]) == (kind, f"Kernel panic - not syncing: {panic}", "spin")
    assert parse["rule"] == f"the panic, which names a {kind} report that is not in the log"


def test_hung_task_without_its_panic_and_with_all_cpu_backtraces():
    """hung_task_all_cpu_backtrace adds an NMI backtrace to the report: its trace is not the task's."""
    lines = fixture("dmesg.hung-task").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "INFO: task" in line)
    end = next(i for i, line in enumerate(lines) if "filemap_invalidate_unlock_two" in line)
    backtrace = ["[ 1228.139501]  </TASK>\n",
                 "[ 1228.139601] NMI backtrace for cpu 0\n",
                 "[ 1228.139701] CPU: 0 PID: 38 Comm: khungtaskd Not tainted 6.1.0-27-amd64 #1  Debian 6.1.115-1\n",
                 "[ 1228.139801] Call Trace:\n",
                 "[ 1228.139901]  <TASK>\n",
                 "[ 1228.140001]  nmi_cpu_backtrace+0xd8/0x100\n",
                 "[ 1228.140101]  watchdog+0x2a5/0x5a0\n"]
    parse = triage("".join(lines[start:end] + backtrace))  # no Linux version line, no panic
    assert parse["frames"] == ["__schedule", "schedule", "io_schedule", "folio_wait_bit_common"]
    assert (parse["kernel_release"], parse["comm"], parse["panic"]) == ("6.1.0-27-amd64", "tar", None)


def test_panic_log_ignores_the_cut_first_line_of_its_window(tmp_path):
    """The window starts inside a line whose rest reads like a report start: not one."""
    first, report = "Oops: not a report, the end of a longer line\n", fixture("dmesg.sysrq-full")
    filler = _facts.PANIC_WINDOW - len(first) - len(report)
    window = first + "[   10.000000] " + "y" * (filler - 16) + "\n" + report
    assert len(window.encode()) == _facts.PANIC_WINDOW
    log = _facts.panic_log(write_dmesg(tmp_path, "[    1.000000] note: " + "x" * 100 + " " + window))
    assert log.startswith("[   19.630201] WARNING: CPU: 0 PID: 1 at drivers/gpu/drm/drm_gem.c:1023")
    short = "[    1.000000] Kernel panic - not syncing: VFS: Unable to mount root fs\n"  # the whole file: kept
    assert _facts.panic_log(write_dmesg(tmp_path, short)) == short
