# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): how each
distribution family sets crashkernel=, enables its service and loads the capture kernel.

Not a public API; it may change without notice.
"""

from __future__ import annotations

import os
import shutil

KEXEC_CRASH_LOADED = "/sys/kernel/kexec_crash_loaded"
KEXEC_CRASH_SIZE = "/sys/kernel/kexec_crash_size"


class BackendError(Exception):
    """A native tool failed; the message carries its output."""


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return default


def crash_kernel_loaded():
    return read_text(KEXEC_CRASH_LOADED).strip() == "1"


def reserved_bytes():
    try:
        return int(read_text(KEXEC_CRASH_SIZE, "0").strip() or 0)
    except ValueError:
        return 0


def cmdline_crashkernel(cmdline=None):
    """The crashkernel= value the running kernel was booted with (the last one wins)."""
    values = [w.split("=", 1)[1] for w in (cmdline or read_text("/proc/cmdline")).split()
              if w.startswith("crashkernel=")]
    return values[-1] if values else None


class DebianHost:
    """Debian and Ubuntu: GRUB drop-in + update-grub, kdump-tools service, kdump-config."""

    # Sorts after the package's own kdump-tools.cfg, whose crashkernel= it replaces.
    grub_dropin = "/etc/default/grub.d/zz-crashdump-kdump.cfg"
    grub_cfg = "/boot/grub/grub.cfg"

    def __init__(self, module):
        self.module = module

    def run(self, *args):
        rc, out, err = self.module.run_command(list(args), environ_update={"LC_ALL": "C"})
        if rc != 0:
            raise BackendError(f"{' '.join(args)} failed (rc={rc}): {(err or out).strip()[-2000:]}")
        return out

    @staticmethod
    def grub_dropin_content(crashkernel):
        """Shell sourced by grub-mkconfig: drop every crashkernel= that other files put on
        the command line, then add ours (none when kdump is disabled)."""
        add = f" crashkernel={crashkernel}" if crashkernel else ""
        return (
            "# Managed by crashdump.kdump from kdump_policy: local changes are overwritten.\n"
            "# The only crashkernel= on the kernel command line is the one set here.\n"
            "__crashdump_strip() {\n"
            "  __out=\n"
            "  for __word in $1; do\n"
            "    case $__word in crashkernel=*) ;; *) __out=\"$__out $__word\" ;; esac\n"
            "  done\n"
            "  printf '%s' \"${__out# }\"\n"
            "}\n"
            'GRUB_CMDLINE_LINUX="$(__crashdump_strip "$GRUB_CMDLINE_LINUX")"\n'
            f'GRUB_CMDLINE_LINUX_DEFAULT="$(__crashdump_strip "$GRUB_CMDLINE_LINUX_DEFAULT"){add}"\n'
        )

    def bootloader_has(self, crashkernel):
        """Whether the generated GRUB menu boots with exactly this crashkernel= (or none)."""
        for line in read_text(self.grub_cfg).splitlines():
            words = line.split()
            if words and words[0] == "linux":
                return cmdline_crashkernel(line) == crashkernel
        return False

    def update_bootloader(self):
        self.run("update-grub")

    def service_state(self, service):
        rc, out, dummy = self.module.run_command(["systemctl", "is-enabled", service],
                                                 environ_update={"LC_ALL": "C"})
        return out.strip() == "enabled"

    def enable_service(self, service, enabled):
        self.run("systemctl", "enable" if enabled else "disable", service)

    def prepare(self):
        """Build the capture initrd now (mkinitramfs, minutes on slow hosts) rather than at
        the next boot, which the reboot that activates the reservation would then wait for."""
        release = os.uname().release
        if os.path.exists(f"/var/lib/kdump/initrd.img-{release}"):
            return False
        self.run("kdump-config", "symlinks", release)
        # kdump-config load rebuilds the initrd unless it was built with the current
        # /etc/kdump/sysctl.conf, which it records this way (check_sysctl_change).
        if os.path.exists("/etc/kdump/sysctl.conf"):
            shutil.copyfile("/etc/kdump/sysctl.conf", f"/var/lib/kdump/latest_sysctls-{release}")
        return True

    def load(self):
        """(Re)load the capture kernel with the current configuration."""
        self.run("kdump-config", "reload" if crash_kernel_loaded() else "load")
        if not crash_kernel_loaded():
            raise BackendError("kdump-config load ended but /sys/kernel/kexec_crash_loaded is not 1")

    def unload(self):
        if crash_kernel_loaded():
            self.run("kdump-config", "unload")


# The RPM families' host backends use the helpers above, so they are imported once those exist.
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends_rpm import (  # noqa: E402
    RedHatHost,
    SuseHost,
)

HOST_BACKENDS = {"debian": DebianHost, "redhat": RedHatHost, "suse": SuseHost}

