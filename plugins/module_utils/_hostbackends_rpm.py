# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): how the Red Hat
and SUSE families set crashkernel=, enable their kdump service and load the capture kernel.

Not a public API; it may change without notice. kdump_config finds these classes through
``_hostbackends.HOST_BACKENDS``. Every file they read or write is below ``root`` and every
command goes through the module's run_command, so that unit tests can stand in for both.

The files that set crashkernel= are returned by ``bootloader_files()`` and written by
kdump_config with the native files, so check mode, diff and its restore-on-failure cover them:

- Red Hat: the bootloader entries belong to grubby, so the planned value is kept in a small
  file of this collection's own (``crashkernel_file``) and applied with
  ``grubby --update-kernel=ALL --remove-args=crashkernel [--args=crashkernel=X]``, checked in
  ``grubby --info=ALL``. kdump.conf carries ``auto_reset_crashkernel no`` so that kdump-utils
  does not reset it on updates.
- SUSE: /etc/default/grub itself (GRUB_CMDLINE_LINUX_DEFAULT), then
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
import stat
import tempfile

from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import MANAGED_HEADER
from ansible_collections.crashdump.kdump.plugins.module_utils._facts import DEFAULT_DUMP_PATH, parse_kdump_conf
from ansible_collections.crashdump.kdump.plugins.module_utils._families import FAMILIES, KDUMP_CONF
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import (
    GRUB_CMDLINE,
    KEXEC_CRASH_LOADED,
    BackendError,
    CommandHost,
    crashkernel_words,
    default_grub_cmdline,
    grubby_entries,
    next_boot_cmdline,
    planned_values,
    unquote,
    written_crashkernel,
)

# kdump.conf directives whose target mkdumprd mounts to check that `path` exists on it
MOUNTED_TARGETS = ("ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "nfs", "virtiofs")


def expected_words(crashkernel):
    """The crashkernel= words of planned values ('128M 512M,cma': two words)."""
    return [f"crashkernel={value}" for value in planned_values(crashkernel)]


def crashkernel_file_content(crashkernel):
    # Double quotes keep '128M 512M,cma' one assignment; the planner's values hold only
    # sizes, ranges and suffixes ([0-9A-Za-z,:@-]), nothing a shell would expand. Read back
    # by _hostcommon.written_crashkernel.
    return (MANAGED_HEADER + "# The crashkernel= value(s) the bootloader is set to (empty: none).\n"
            f'CRASHKERNEL="{crashkernel or ""}"\n')


def set_default_grub_crashkernel(text, crashkernel):
    """/etc/default/grub with every crashkernel= removed from GRUB_CMDLINE_LINUX and
    GRUB_CMDLINE_LINUX_DEFAULT, and crashkernel=X appended to the latter (none when X is None).
    Lines that already say that are kept as they are, so a compliant file is not rewritten."""
    lines, seen = [], set()
    for line in text.splitlines():
        match = GRUB_CMDLINE.match(line.strip())
        if not match:
            lines.append(line)
            continue
        key, value = match.group(1), unquote(match.group(2))
        if value is None:
            raise BackendError(f"/etc/default/grub: {key} is too complex to edit safely "
                               "(quotes, escapes or expansions); set crashkernel= there by hand")
        words = [word for word in value.split() if not word.startswith("crashkernel=")]
        if key == "GRUB_CMDLINE_LINUX_DEFAULT":
            words += expected_words(crashkernel)
        seen.add(key)
        lines.append(line if words == value.split() else f'{key}="{" ".join(words)}"')
    if "GRUB_CMDLINE_LINUX_DEFAULT" not in seen and crashkernel:
        lines.append(f'GRUB_CMDLINE_LINUX_DEFAULT="{" ".join(expected_words(crashkernel))}"')
    return text if lines == text.splitlines() else "\n".join(lines) + "\n"


def findmnt_fields(output):
    """The first line of `findmnt -n -r -o A,B` as [A, B] (B may be empty), its \\xNN
    escapes decoded; None for no line."""
    for line in output.splitlines():
        return [re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), field)
                for field in (line.split(" ") + [""])[:2]]
    return None


class _RpmHost(CommandHost):
    """What the RPM families share: the kdump systemd unit, files below ``root``."""

    service = FAMILIES["redhat"].service  # SUSE's is the same

    def prepare(self):
        """Nothing to prepare: the service start builds the capture initrd when it is out of date."""
        return False

    def service_log(self):
        rc, out, dummy = self.command(["journalctl", "-u", self.service, "-n", "20", "--no-pager"])
        return out.strip() if rc == 0 else ""

    def load(self):
        """(Re)start the kdump service with the current configuration and check it loaded."""
        try:
            self.run("systemctl", "restart", self.service)
        except BackendError as exc:
            log = self.service_log()
            raise BackendError(f"{exc}\n{log}" if log else str(exc)) from None
        if not self.crash_kernel_loaded():
            raise BackendError(f"systemctl restart {self.service} ended but {KEXEC_CRASH_LOADED} is not 1")

    def unload(self):
        if self.crash_kernel_loaded():
            self.run("systemctl", "stop", self.service)


class RedHatHost(_RpmHost):
    """RHEL, CentOS Stream, AlmaLinux, Rocky, Fedora: grubby, kdump.service (kdumpctl)."""

    crashkernel_file = FAMILIES["redhat"].crashkernel_file

    def bootloader_files(self, crashkernel):
        return [{"path": self.crashkernel_file, "mode": 0o644,
                 "content": crashkernel_file_content(crashkernel)}]

    def bootloader_has(self, crashkernel):
        """Whether every Linux boot entry has exactly this crashkernel= (or none), as
        update_bootloader() leaves them."""
        entries = grubby_entries(self, "ALL")
        return bool(entries) and all(crashkernel_words(entry.get("args")) == planned_values(crashkernel)
                                     for entry in entries)

    def update_bootloader(self):
        """Every boot entry gets the value of the crashkernel file (also after a restore of
        that file), replacing every crashkernel= it had."""
        crashkernel = written_crashkernel(self.read(self.crashkernel_file))
        add = ["--args=" + " ".join(expected_words(crashkernel))] if crashkernel else []
        self.run("grubby", "--update-kernel=ALL", "--remove-args=crashkernel", *add)

    def check_target(self):
        """mkdumprd refuses to build the capture initrd unless kdump.conf's ``path`` exists on
        its device or NFS target (check_user_configured_target): create it there, private to
        root, finding the target as mkdumprd does (mounted, else in /etc/fstab with noauto,
        else mounted on a temporary directory for the purpose). Returns whether it was (or
        in check mode would be) created; check mode mounts nothing, so it can tell only for
        a target that is mounted already."""
        conf = parse_kdump_conf(self.read(KDUMP_CONF, ""))
        fstype = next((kind for kind in MOUNTED_TARGETS if kind in conf), None)
        if fstype is None:
            return False
        source, path = conf[fstype], conf.get("path") or DEFAULT_DUMP_PATH
        mounted = self.findmnt("-k", source, "TARGET,SOURCE")
        if mounted and not mounted[1].endswith("]"):
            return self.make_dump_dir(self.path(mounted[0]), path, source)
        if self.module.check_mode:
            return False
        fstab = self.findmnt("-s", source, "TARGET,OPTIONS")
        if fstab and "noauto" not in fstab[1].split(","):
            raise BackendError(f"dump target {source} is in /etc/fstab but neither mounted nor noauto, which "
                               "mkdumprd refuses: mount it (or mark it noauto) and run again")
        if fstab:
            return self.with_mount(["mount", fstab[0]], fstab[0], path, source)
        temporary = tempfile.mkdtemp(prefix="crashdump-kdump-target.", dir=self.path("/run"))
        mountpoint = "/run/" + os.path.basename(temporary)
        try:
            return self.with_mount(["mount", "-t", fstype, "-o", "defaults", source, mountpoint],
                                   mountpoint, path, source)
        finally:
            try:
                os.rmdir(temporary)
            except OSError:
                pass  # still mounted: the error says so

    def findmnt(self, table, source, columns):
        """The first match in the kernel's mount table (-k) or in /etc/fstab (-s); None when
        there is none (findmnt then prints nothing)."""
        dummy, out, dummy = self.command(["findmnt", table, "-n", "-r", "-o", columns, "--source", source])
        return findmnt_fields(out)

    def with_mount(self, mount, mountpoint, path, source):
        """make_dump_dir() with the target mounted for the purpose, unmounted after."""
        try:
            self.run(*mount)
        except BackendError as exc:
            raise BackendError(f"dump target {source}: cannot mount it to create the dump path {path} "
                               f"there, which mkdumprd needs: {exc}") from None
        try:
            return self.make_dump_dir(self.path(mountpoint), path, source)
        finally:
            rc, out, err = self.command(["umount", mountpoint])
            if rc != 0:
                raise BackendError(f"dump target {source}: umount {mountpoint} failed (rc={rc}), it is still "
                                   f"mounted there: {(err or out).strip()}")

    def make_dump_dir(self, mountpoint, path, source):
        """mkdir -p, every directory it makes private to root (os.makedirs would give the
        parents the umask's mode)."""
        mountpoint = os.path.normpath(mountpoint)
        missing, directory = [], os.path.normpath(os.path.join(mountpoint, path.lstrip("/")))
        while not os.path.isdir(directory) and directory != mountpoint:
            missing.insert(0, directory)
            directory = os.path.dirname(directory)
        if self.module.check_mode:
            return bool(missing)
        try:
            for directory in missing:
                os.mkdir(directory, 0o700)
                os.chmod(directory, 0o700)
        except OSError as exc:
            raise BackendError(f"dump target {source}: cannot create the dump path {path} there: "
                               f"{exc.strerror}") from None
        return bool(missing)


class SuseHost(_RpmHost):
    """SLES, openSUSE Leap: /etc/default/grub + grub2-mkconfig, kdump.service."""

    default_grub = FAMILIES["suse"].crashkernel_file
    grub_cfg = FAMILIES["suse"].grub_cfg

    def bootloader_files(self, crashkernel):
        """/etc/default/grub with crashkernel= set, in its own mode."""
        path = self.path(self.default_grub)
        current = self.read(self.default_grub)
        if current is None:
            raise BackendError(f"{self.default_grub} is missing: only GRUB 2 hosts are supported")
        return [{"path": self.default_grub, "mode": stat.S_IMODE(os.stat(path).st_mode),
                 "content": set_default_grub_crashkernel(current, crashkernel)}]

    def bootloader_has(self, crashkernel):
        """Whether /etc/default/grub and the generated menu's first entry both carry exactly
        this crashkernel= (or none): a stale grub.cfg or a value the next grub2-mkconfig would
        drop both need an update."""
        planned = planned_values(crashkernel)
        if crashkernel_words(default_grub_cmdline(self.read(self.default_grub))) != planned:
            return False
        source, args = next_boot_cmdline(self, "suse")
        return source == self.grub_cfg and args is not None and crashkernel_words(args) == planned

    def update_bootloader(self):
        """Regenerate the menu from /etc/default/grub (as written, or as restored)."""
        self.run("grub2-mkconfig", "-o", self.path(self.grub_cfg))
