# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): what every host
backend shares: kernel state readers, running commands, systemd units.

Not a public API; it may change without notice.
"""

from __future__ import annotations

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


class CommandHost:
    """Runs the host's tools through the module; systemd units."""

    def __init__(self, module):
        self.module = module

    def run(self, *args):
        rc, out, err = self.module.run_command(list(args), environ_update={"LC_ALL": "C"})
        if rc != 0:
            raise BackendError(f"{' '.join(args)} failed (rc={rc}): {(err or out).strip()[-2000:]}")
        return out

    def succeeds(self, *args):
        rc, dummy, dummy = self.module.run_command(list(args), environ_update={"LC_ALL": "C"})
        return rc == 0

    def service_state(self, service):
        rc, out, dummy = self.module.run_command(["systemctl", "is-enabled", service],
                                                 environ_update={"LC_ALL": "C"})
        return out.strip() == "enabled"

    def enable_service(self, service, enabled):
        """Enable for the next boot; disabling also stops it now (kdump off means off)."""
        self.run("systemctl", *(["enable"] if enabled else ["disable", "--now"]), service)

    def daemon_reload(self):
        self.run("systemctl", "daemon-reload")

    def unit_active(self, unit):
        return self.succeeds("systemctl", "is-active", "--quiet", unit)

    def start_unit(self, unit):
        self.run("systemctl", "start", unit)

    def stop_unit(self, unit):
        self.run("systemctl", "stop", unit)

    def check_target(self):
        """Raise BackendError when the dump target cannot take a dump now (default: no check)."""
