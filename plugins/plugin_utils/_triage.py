# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller side, standard library only): crash triage from the
kernel log saved with a dump.

Not a public API; it may change without notice.

``triage(text)`` reads a dmesg (as makedumpfile --dump-dmesg or vmcore-dmesg writes it, or the
tail of one) and returns what crashed: the reason's class and text, the RIP function, the first
call trace frames, the kernel release, seconds since boot, and a signature that is the same for
the same bug on every host. It returns None when the text holds no crash report.

The log is cut into reports, each starting at a line the kernel prints first when something goes
wrong (the formats of panic(), __die/show_fault_oops, BUG(), the soft and hard lockup watchdogs,
hung_task.c, sysrq). Which report is the crash:
1. A panic that names its cause (sysrq, soft lockup, hard lockup, hung task, panic_on_warn, fatal
   exception) is the last report of that kind before it; for a fatal exception, the first oops.
   When that report is not in the log (cut off), the panic itself, with the class it names.
2. Without such a panic (kdump starts from oops_end before panic() is reached, so an oops dump
   has no panic line): the first oops (Oops, BUG:, kernel BUG at, a NULL dereference), since
   later oopses are usually the damage the first one left; else the first panic; else the first
   report of any kind.
"""

from __future__ import annotations

import hashlib
import re

SIGNATURE_FRAMES = 5
SHOWN_FRAMES = 8

# A dmesg line: "[  245.730447] text", optionally with a caller id "[    T1]" and a syslog level "<4>".
LINE = re.compile(r"^(?:<\d+>)?\[\s*(\d+\.\d+)\](?:\[\s*[TC]\d+\])?\s?(.*)$")

# (class, pattern) for the first line of a report, in the order they are tried.
STARTS = (
    ("sysrq_crash", re.compile(r"(?:sysrq: |SysRq : )+Trigger a crash")),
    ("panic", re.compile(r"Kernel panic - not syncing: ?(.*)")),
    ("soft_lockup", re.compile(r"(?:watchdog: )?BUG: soft lockup - CPU#\d+ stuck for \d+s! \[(.+):(\d+)\]")),
    ("hard_lockup", re.compile(r"(?:NMI )?watchdog: Watchdog detected hard LOCKUP on cpu \d+")),
    ("hung_task", re.compile(r"INFO: task (.+):(\d+) blocked for more than \d+ seconds\.")),
    ("null_dereference", re.compile(r"BUG: (?:unable to handle )?kernel NULL pointer dereference"
                                    r"|Unable to handle kernel NULL pointer dereference")),
    ("page_fault", re.compile(r"BUG: unable to handle (?:page fault for address|kernel paging request)"
                              r"|Unable to handle kernel paging request")),
    ("bug_on", re.compile(r"kernel BUG at \S+:\d+!")),
    ("warning", re.compile(r"WARNING: CPU: \d+ PID: \d+ at ")),
    ("bug", re.compile(r"BUG: ")),
    ("general_protection", re.compile(r"(?:Oops: )?general protection fault\b")),
    ("oops", re.compile(r"Oops: ")),
)
OOPS_CLASSES = ("null_dereference", "page_fault", "bug_on", "general_protection", "oops", "bug")
# "Oops: 0002 [#1] SMP" (or "invalid opcode: 0000 [#1]") after a fault or BUG() line is the same report.
DIE_LINE = re.compile(r"^(?:Oops: )?[\w ,-]+: [0-9a-f]{4} \[#\d+\]")
JOINS_DIE_LINE = ("null_dereference", "page_fault", "bug_on")
# What the panic says about its cause, and the report classes that cause can be.
PANIC_CAUSES = (
    (re.compile(r"^sysrq triggered crash"), ("sysrq_crash",)),
    (re.compile(r"^softlockup: "), ("soft_lockup",)),
    (re.compile(r"^Hard LOCKUP"), ("hard_lockup",)),
    (re.compile(r"^hung_task: "), ("hung_task",)),
    (re.compile(r"panic_on_warn set"), ("warning", "bug")),
    (re.compile(r"^Fatal exception"), OOPS_CLASSES),
)

CPU_LINE = re.compile(r"^CPU: \d+ (?:UID: \d+ )?PID: (\d+) Comm: (.*?)(?: Kdump: loaded)?"
                      r" (?:Not tainted|Tainted: [A-Z -]+?) +(\S+) #")
HUNG_TAINT_LINE = re.compile(r"^\s+(?:Not tainted|Tainted: [A-Z -]+?) +(\S+) #")
LINUX_VERSION = re.compile(r"^Linux version (\S+)")
RIP = re.compile(r"^(?:RIP|pc) ?: (?:[0-9a-f]{4}:)?([A-Za-z_][\w.]*)\+0x")
TRACE_START = re.compile(r"^Call [Tt]race:")
FRAME = re.compile(r"^\s*(\? )?([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[.+\])?\s*$")
TRACE_END = re.compile(r"^(?:---\[ end|Modules linked in:|Kernel Offset:|CR2: )")
# The frames of the code that prints a report, the same in every report: not part of the crash.
REPORTING_FRAMES = {"dump_stack", "dump_stack_lvl", "__dump_stack", "show_stack", "dump_backtrace",
                    "panic", "vpanic", "nmi_panic"}

# For the signature: what differs between two hosts hitting the same bug.
ADDRESS = re.compile(r"\b(?:0x)?[0-9a-f]{8,16}\b")
NUMBER = re.compile(r"\d+")


def log_lines(text):
    """(seconds since boot or None, message) for each line of a dmesg."""
    for raw in (text or "").splitlines():
        match = LINE.match(raw)
        if match:
            yield float(match.group(1)), match.group(2)
        elif raw.strip():
            yield None, raw.rstrip()


def start_class(message):
    for name, pattern in STARTS:
        if pattern.match(message):
            return name
    return None


class Report:
    """The lines of one report: from its first line to the next report's first line."""

    def __init__(self, kind, seconds, message):
        self.kind, self.seconds, self.head = kind, seconds, message
        self.lines = [message]
        self.has_die_line = False

    def release(self):
        for message in self.lines:
            match = CPU_LINE.match(message) or HUNG_TAINT_LINE.match(message)
            if match:
                return match.groups()[-1]
        return None

    def process(self):
        """(pid, comm) from the first line of a hung task or soft lockup report (a CPU: line in a
        hung task's report is khungtaskd's backtrace), else from the report's CPU: line."""
        match = dict(STARTS)[self.kind].match(self.head) if self.kind in ("hung_task", "soft_lockup") else None
        if match:
            return int(match.group(2)), match.group(1)
        for message in self.lines:
            match = CPU_LINE.match(message)
            if match:
                return int(match.group(1)), match.group(2)
        return None, None

    def rip(self):
        """The function the CPU was in: the report's first RIP line with a symbol."""
        for message in self.lines:
            match = RIP.match(message.strip())
            if match:
                return function_name(match.group(1))
        return None

    def trace(self):
        """(RIP function or None, frames) of the report's first call trace, reliable frames only.

        When the trace holds a kernel register dump (an interrupt or NMI that reported on the code
        it interrupted, as the lockup watchdogs do), that RIP and the frames after it are kept:
        the frames before it are the interrupt's own.
        """
        frames, rip, inside = [], None, False
        for message in self.lines:
            if not inside:
                inside = bool(TRACE_START.match(message))
                continue
            if TRACE_END.match(message) or TRACE_START.match(message):
                break
            match = RIP.match(message.strip())
            if match:
                rip, frames = function_name(match.group(1)), []
                continue
            match = FRAME.match(message)
            if match and not match.group(1):
                name = function_name(match.group(2))
                if name not in REPORTING_FRAMES:
                    frames.append(name)
        return rip, frames


def function_name(symbol):
    """'watchdog_timer_fn.cold' -> 'watchdog_timer_fn': compiler suffixes differ between builds."""
    return symbol.split(".", 1)[0]


def split_reports(text):
    """The reports in a dmesg, in order, and the kernel release of its 'Linux version' line."""
    reports, current, release = [], None, None
    for seconds, message in log_lines(text):
        if release is None:
            match = LINUX_VERSION.match(message)
            release = match.group(1) if match else None
        kind = start_class(message)
        joins = (current is not None and current.kind in JOINS_DIE_LINE and not current.has_die_line
                 and DIE_LINE.match(message))
        if joins:
            current.has_die_line = True
        elif kind:
            current = Report(kind, seconds, message)
            reports.append(current)
            continue
        if current is not None:
            current.lines.append(message)
    return reports, release


def panic_cause(panic):
    """The report classes the panic's own words name as its cause, or None."""
    reason = dict(STARTS)["panic"].match(panic.head).group(1)
    for pattern, classes in PANIC_CAUSES:
        if pattern.search(reason):
            return classes
    return None


def choose(reports):
    """(the crash report, its class, the panic or None, the rule that chose it); see the module
    docstring. A panic whose named report is not in the log (cut off) has the class it names."""
    panic = next((r for r in reports if r.kind == "panic"), None)
    if panic is not None:
        classes = panic_cause(panic)
        before = reports[:reports.index(panic)]
        candidates = [r for r in before if r.kind in (classes or ())]
        if candidates and classes == OOPS_CLASSES:
            return candidates[0], candidates[0].kind, panic, "the first oops before the panic (fatal exception)"
        if candidates:
            last = candidates[-1]
            return last, last.kind, panic, f"the last {last.kind} report before the panic"
        if classes:
            kind = "oops" if classes == OOPS_CLASSES else classes[0]
            return panic, kind, panic, f"the panic, which names a {kind} report that is not in the log"
    oopses = [r for r in reports if r.kind in OOPS_CLASSES]
    if oopses:
        return oopses[0], oopses[0].kind, panic, "the first oops in the log"
    if panic is not None:
        return panic, "panic", panic, "the panic (no earlier report)"
    return reports[0], reports[0].kind, None, f"the first {reports[0].kind} report in the log"


def normalise(reason):
    """The reason without what differs between hosts: addresses, PIDs, CPU numbers, seconds."""
    return NUMBER.sub("N", ADDRESS.sub("ADDR", reason)).strip()


def signature(kind, reason, rip, frames):
    key = "\n".join([kind, normalise(reason), rip or ""] + frames[:SIGNATURE_FRAMES])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def triage(text):
    """What crashed, from a dmesg text; None when it holds no crash report."""
    reports, version_release = split_reports(text)
    if not reports:
        return None
    cause, kind, panic, rule = choose(reports)
    # The crash report's own trace; a report without one (sysrq, a lockup's first line) has the panic's.
    rip, frames = cause.trace()
    if not frames and panic is not None:
        rip, frames = panic.trace()
    rip = cause.rip() or rip
    pid, comm = cause.process()
    if pid is None and panic is not None:
        pid, comm = panic.process()
    reason = cause.head.strip()
    return {
        "class": kind,
        "reason": reason,
        "panic": dict(STARTS)["panic"].match(panic.head).group(1).strip() if panic else None,
        "rip": rip,
        "frames": frames[:SHOWN_FRAMES],
        "comm": comm,
        "pid": pid,
        "kernel_release": cause.release() or (panic.release() if panic else None) or version_release,
        "seconds": cause.seconds,
        "reports": len(reports),
        "rule": rule,
        "signature": signature(kind, reason, rip, frames),
    }
