# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): how the Red Hat
and SUSE families set crashkernel=, enable their kdump service and load the capture kernel.

Not a public API; it may change without notice. kdump_config finds these classes through
``_hostbackends.HOST_BACKENDS``.

Neither family has a drop-in directory for kernel arguments that its bootloader tooling
reads, so the planned crashkernel= value is kept in a small file of this collection's own
(``crashkernel_file``, written with the native files, so check mode, diff and the
restore-on-failure of kdump_config cover it) and applied by the native tool:

- Red Hat: ``grubby --update-kernel=ALL --args=crashkernel=X`` (``--remove-args=crashkernel``
  when kdump is off), checked with ``grubby --info=DEFAULT``. kdump.conf carries
  ``auto_reset_crashkernel no`` so that kdump-utils does not reset it on updates.
- SUSE: GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then
  ``grub2-mkconfig -o /boot/grub2/grub.cfg``; checked in both files. /etc/sysconfig/kdump
  carries the same value in KDUMP_CRASHKERNEL with KDUMP_UPDATE_BOOTLOADER="false", so
  kdump-commandline.service only checks it.

The kdump service is (re)started through systemd, which runs ``kdumpctl start`` (Red Hat)
or kdump's load script (SUSE); both rebuild the capture initrd when the configuration is
newer than it.
"""

from __future__ import annotations

import os
import re
import tempfile

from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import (
    BackendError,
    CommandHost,
    crash_kernel_loaded,
    read_text,
)


MANAGED_HEADER = "# Managed by crashdump.kdump from kdump_policy: local changes are overwritten.\n"
CRASHKERNEL_FILE = "/etc/crashdump-kdump/crashkernel"
_FROM_FILE = object()  # update_bootloader(): take the value from the crashkernel file
_GRUB_CMDLINE = re.compile(r"^(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(.*)$")
_KERNEL_LINE = ("linux", "linuxefi", "linux16")


def crashkernel_words(cmdline):
    """Every crashkernel=... word of a kernel command line, in order."""
    return [word for word in (cmdline or "").split() if word.startswith("crashkernel=")]


def expected_words(crashkernel):
    """The crashkernel= words of planned values ('128M 512M,cma': two words)."""
    return [f"crashkernel={value}" for value in (crashkernel or "").split()]


def crashkernel_file_content(crashkernel):
    # Double quotes keep '128M 512M,cma' one assignment; the planner's values hold only
    # sizes, ranges and suffixes ([0-9A-Za-z,:@-]), nothing a shell would expand.
    return (MANAGED_HEADER + "# The crashkernel= value(s) the bootloader is set to (empty: none).\n"
            f'CRASHKERNEL="{crashkernel or ""}"\n')


def planned_crashkernel(path=CRASHKERNEL_FILE):
    """The value crashkernel_file_content() wrote (quoted, or unquoted by earlier versions);
    None when empty or absent."""
    for line in read_text(path).splitlines():
        if line.startswith("CRASHKERNEL="):
            return _unquote(line.split("=", 1)[1]) or None
    return None


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"' and re.search(r'[\\"$`]', inner):
            return None  # escapes or expansions: not a value this code edits safely
        if value[0] == "'" and "'" in inner:
            return None
        return inner
    return value if re.fullmatch(r"[^\s\"'$`\\;&|<>()]*", value) else None


def default_grub_settings(text):
    """{GRUB_CMDLINE_LINUX[_DEFAULT]: value} of /etc/default/grub; None for a value too
    complex to rewrite (expansions, escapes, continuation lines)."""
    settings = {}
    for line in text.splitlines():
        match = _GRUB_CMDLINE.match(line.strip())
        if match:
            settings[match.group(1)] = _unquote(match.group(2))
    return settings


def set_default_grub_crashkernel(text, crashkernel):
    """/etc/default/grub with every crashkernel= removed from GRUB_CMDLINE_LINUX and
    GRUB_CMDLINE_LINUX_DEFAULT, and crashkernel=X appended to the latter (none when X is None)."""
    lines, seen = [], set()
    for line in text.splitlines():
        match = _GRUB_CMDLINE.match(line.strip())
        if not match:
            lines.append(line)
            continue
        key, value = match.group(1), _unquote(match.group(2))
        if value is None:
            raise BackendError(f"/etc/default/grub: {key} is too complex to edit safely "
                               "(quotes, escapes or expansions); set crashkernel= there by hand")
        words = [word for word in value.split() if not word.startswith("crashkernel=")]
        if key == "GRUB_CMDLINE_LINUX_DEFAULT":
            words += expected_words(crashkernel)
        seen.add(key)
        lines.append(f'{key}="{" ".join(words)}"')
    if "GRUB_CMDLINE_LINUX_DEFAULT" not in seen and crashkernel:
        lines.append(f'GRUB_CMDLINE_LINUX_DEFAULT="{" ".join(expected_words(crashkernel))}"')
    return "\n".join(lines) + "\n"


class _SystemdHost(CommandHost):
    """What the RPM families share: the kdump systemd unit, the crashkernel file."""

    crashkernel_file = CRASHKERNEL_FILE
    service = "kdump"

    def bootloader_files(self, crashkernel):
        return [{"path": self.crashkernel_file, "mode": 0o644, "content": crashkernel_file_content(crashkernel)}]

    def prepare(self):
        """Nothing to prepare: the service start builds the capture initrd when it is out of date."""
        return False

    def service_log(self):
        rc, out, err = self.module.run_command(["journalctl", "-u", self.service, "-n", "20", "--no-pager"],
                                               environ_update={"LC_ALL": "C"})
        return out.strip() if rc == 0 else ""

    def load(self):
        """(Re)start the kdump service with the current configuration and check it loaded."""
        try:
            self.run("systemctl", "restart", self.service)
        except BackendError as exc:
            log = self.service_log()
            raise BackendError(f"{exc}\n{log}" if log else str(exc)) from None
        if not crash_kernel_loaded():
            raise BackendError(f"systemctl restart {self.service} ended but /sys/kernel/kexec_crash_loaded is not 1")

    def unload(self):
        if crash_kernel_loaded():
            self.run("systemctl", "stop", self.service)


class RedHatHost(_SystemdHost):
    """RHEL, CentOS Stream, AlmaLinux, Rocky, Fedora: grubby, kdump.service (kdumpctl)."""

    def bootloader_has(self, crashkernel):
        """Whether the default boot entry has exactly this crashkernel= (or none)."""
        rc, out, dummy = self.module.run_command(["grubby", "--info=DEFAULT"], environ_update={"LC_ALL": "C"})
        if rc != 0:
            return False
        match = re.search(r'^args="?(.*?)"?\s*$', out, re.M)
        return bool(match) and crashkernel_words(match.group(1)) == expected_words(crashkernel)

    def update_bootloader(self, crashkernel=_FROM_FILE):
        if crashkernel is _FROM_FILE:
            crashkernel = planned_crashkernel(self.crashkernel_file)
        if crashkernel:
            # grubby drops every crashkernel= word before adding these (grubby-bls update_args).
            self.run("grubby", "--update-kernel=ALL", "--args=" + " ".join(expected_words(crashkernel)))
        else:
            self.run("grubby", "--update-kernel=ALL", "--remove-args=crashkernel")


class SuseHost(_SystemdHost):
    """SLES, openSUSE Leap: /etc/default/grub + grub2-mkconfig, kdump.service."""

    default_grub = "/etc/default/grub"
    grub_cfg = "/boot/grub2/grub.cfg"

    def bootloader_has(self, crashkernel):
        """Whether /etc/default/grub and the generated menu's first entry both carry exactly
        this crashkernel= (or none): a stale grub.cfg or a value the next grub2-mkconfig would
        drop both need an update."""
        settings = default_grub_settings(read_text(self.default_grub))
        configured = " ".join(settings.get(key) or "" for key in ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"))
        if crashkernel_words(configured) != expected_words(crashkernel):
            return False
        for line in read_text(self.grub_cfg).splitlines():
            words = line.split()
            if words and words[0] in _KERNEL_LINE:
                return crashkernel_words(line) == expected_words(crashkernel)
        return False

    def update_bootloader(self, crashkernel=_FROM_FILE):
        if crashkernel is _FROM_FILE:
            crashkernel = planned_crashkernel(self.crashkernel_file)
        current = read_text(self.default_grub, None)
        if current is None:
            raise BackendError(f"{self.default_grub} is missing: only GRUB 2 hosts are supported")
        wanted = set_default_grub_crashkernel(current, crashkernel)
        if wanted != current:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.default_grub), prefix=".crashdump-kdump-")
            self.module.add_cleanup_file(tmp)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(wanted)
            self.module.atomic_move(tmp, self.default_grub)  # keeps the file's mode and owner
        self.run("grub2-mkconfig", "-o", self.grub_cfg)
