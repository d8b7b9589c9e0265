# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller and managed host, standard library only): the kernel
events that can panic a host, and so produce a dump, each with the sysctl that decides it.

Not a public API; it may change without notice. The one table behind kdump_policy.panic_on,
the plan's sysctl.d file, kdump_config's live step, kdump_facts and the report.
"""

from __future__ import annotations

# Sorts after every numbered file and /etc/sysctl.d/99-sysctl.conf (/etc/sysctl.conf), so the
# policy's value is the one systemd-sysctl leaves at boot.
SYSCTL_FILE = "/etc/sysctl.d/zz-crashdump-kdump.conf"

# kdump_policy.panic_on key: (sysctl, what a kernel needs to have it; None: every kernel has it).
PANIC_TRIGGERS = {
    "oops": ("kernel.panic_on_oops", None),
    "hung_task": ("kernel.hung_task_panic", "CONFIG_DETECT_HUNG_TASK"),
    "soft_lockup": ("kernel.softlockup_panic", "CONFIG_SOFTLOCKUP_DETECTOR"),
    "hard_lockup": ("kernel.hardlockup_panic", "CONFIG_HARDLOCKUP_DETECTOR, the NMI watchdog"),
    "unrecovered_nmi": ("kernel.panic_on_unrecovered_nmi", "an x86 kernel"),
}
PANIC_SYSCTLS = tuple(sysctl for sysctl, dummy in PANIC_TRIGGERS.values())


def proc_path(sysctl):
    """/proc/sys/kernel/panic_on_oops for kernel.panic_on_oops."""
    return "/proc/sys/" + sysctl.replace(".", "/")


def missing_reason(sysctl):
    """Why a sysctl of the table cannot be set on a kernel that lacks it, in one clause."""
    needs = dict(PANIC_TRIGGERS.values()).get(sysctl)
    return (f"this kernel has no {sysctl} ({proc_path(sysctl)} does not exist"
            f"{': it needs ' + needs if needs else ''})")
