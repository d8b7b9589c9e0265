# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): how each
distribution family sets crashkernel=, enables its service and loads the capture kernel.

Not a public API; it may change without notice.
"""

from __future__ import annotations

import os

from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import MANAGED_HEADER
from ansible_collections.crashdump.kdump.plugins.module_utils._families import CAPTURE_SCRIPT, DEBIAN_KDUMP_INITRD, FAMILIES
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import (  # noqa: F401 (re-exported)
    KEXEC_CRASH_LOADED,
    BackendError,
    CommandHost,
    crashkernel_words,
    next_boot_cmdline,
    planned_values,
)
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends_rpm import RedHatHost, SuseHost

DEBIAN = FAMILIES["debian"]


class DebianHost(CommandHost):
    """Debian and Ubuntu: GRUB drop-in + update-grub, kdump-tools service, kdump-config."""

    grub_dropin = DEBIAN.crashkernel_file

    def bootloader_files(self, crashkernel):
        return [{"path": self.grub_dropin, "mode": 0o644, "content": self.grub_dropin_content(crashkernel)}]

    @staticmethod
    def grub_dropin_content(crashkernel):
        """Shell sourced by grub-mkconfig: drop every crashkernel= that other files put on
        the command line, then add ours, one word per planned value (none when kdump is disabled)."""
        add = "".join(f" crashkernel={value}" for value in (crashkernel or "").split())
        return (
            MANAGED_HEADER +
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
        """Whether the generated GRUB menu's default entry has exactly these crashkernel= words
        (or none), as update-grub writes them from the drop-in."""
        source, args = next_boot_cmdline(self, "debian")
        return args is not None and crashkernel_words(args) == planned_values(crashkernel)

    def update_bootloader(self):
        self.run("update-grub")

    def initrd(self):
        return f"{DEBIAN_KDUMP_INITRD}-{self.kernel_release()}"  # what kdump-config symlinks links to

    def prepare_needed(self):
        return not os.path.exists(self.path(self.initrd()))

    def prepare(self):
        """Build the capture initrd now (mkinitramfs, minutes on slow hosts) rather than at
        the next boot, which the reboot that activates the reservation would then wait for."""
        if not self.prepare_needed():
            return False
        release = self.kernel_release()
        self.run("kdump-config", "symlinks", release)
        # kdump-config load rebuilds the initrd unless it was built with the current
        # /etc/kdump/sysctl.conf, which it records this way (check_sysctl_change).
        sysctls, dummy = self.snapshot("/etc/kdump/sysctl.conf")
        if sysctls is not None:
            self.write_file(f"/var/lib/kdump/latest_sysctls-{release}", sysctls, 0o644)
        return True

    def load(self):
        """(Re)load the capture kernel with the current configuration."""
        self.run("kdump-config", "reload" if self.crash_kernel_loaded() else "load")
        if not self.crash_kernel_loaded():
            raise BackendError(f"kdump-config load ended but {KEXEC_CRASH_LOADED} is not 1")

    def unload(self):
        if self.crash_kernel_loaded():
            self.run("kdump-config", "unload")

    def check_target(self):
        """The capture script's own check: the target is reachable and writable now. Not in
        check mode: it logs in, mounts and writes a probe. It changes nothing that stays."""
        if not self.module.check_mode and os.path.exists(self.path(CAPTURE_SCRIPT)):
            self.run(CAPTURE_SCRIPT, "check")
        return False


HOST_BACKENDS = {"debian": DebianHost, "redhat": RedHatHost, "suse": SuseHost}
