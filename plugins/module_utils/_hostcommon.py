# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): the managed host as
both modules see it (``module_host``, ``CommandHost``), its kernel state readers, file
operations, commands and systemd units.

Not a public API; it may change without notice.

Every file operation converts an OSError into a BackendError naming the file and the
operation, so kdump_config can roll back and report one message instead of a traceback.
"""

from __future__ import annotations

import os
import re
import tempfile

from ansible_collections.crashdump.kdump.plugins.module_utils._families import DEFAULT_GRUB, family as family_table

KEXEC_CRASH_LOADED = "/sys/kernel/kexec_crash_loaded"
KEXEC_CRASH_SIZE = "/sys/kernel/kexec_crash_size"
PROC_CMDLINE = "/proc/cmdline"
OSRELEASE = "/proc/sys/kernel/osrelease"
KERNEL_CMDLINE = "/etc/kernel/cmdline"  # Red Hat without grubby: what kernel-install gives new entries
MAX_READ_BYTES = 1024 * 1024
MAX_GRUB_CFG_BYTES = 4 * MAX_READ_BYTES
# GRUB's commands that boot a Linux kernel: linux (every platform), linux16 (i386-pc, 16-bit
# boot protocol) and linuxefi (the EFI handover of Fedora's and SUSE's GRUB patches).
GRUB_KERNEL_COMMANDS = ("linux", "linux16", "linuxefi")
# kernel/crash_reserve.c suffix_tbl: a crashkernel= word ending in one of these is read only
# as that kind of reservation.
CRASHKERNEL_SUFFIXES = (",high", ",low", ",cma")
C_LOCALE = {"LC_ALL": "C", "LANG": "C"}  # tool output is parsed: never translated
SBIN_DIRS = ["/usr/sbin", "/sbin"]  # root's tools, looked for there also when PATH lacks them
GRUB_CMDLINE = re.compile(r"^(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(.*)$")


class BackendError(Exception):
    """A native tool or a file operation failed; the message says which and why."""


def os_error(operation, path, exc):
    """The one message of a failed file operation (an OSError, or atomic_move's Exception)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    cause = exc.__cause__
    if cause is not None:
        reason += f" ({getattr(cause, 'strerror', None) or cause})"
    return BackendError(f"cannot {operation} {path}: {reason}")


class Host:
    """The managed host as every reader sees it: files below ``root`` (``/``, or a directory
    standing in for it in tests), commands through ``runner``. Paths given to the methods are
    the host's own (``/etc/...``).

    ``runner(args)`` returns (rc, stdout, stderr); ``which(name)`` returns a path or None.
    """

    def __init__(self, runner, which, root="/"):
        self.runner = runner
        self.which = which
        self.root = root

    def path(self, host_path):
        return os.path.join(self.root, host_path.lstrip("/"))

    def host_path(self, real_path):
        """The path as the host names it (the inverse of path())."""
        if self.root in ("", "/"):
            return real_path
        relative = os.path.relpath(real_path, self.root)
        return "/" if relative == "." else "/" + relative

    def read(self, host_path, default=None, limit=MAX_READ_BYTES):
        """The file's text (its first ``limit`` bytes), ``default`` when it cannot be read."""
        try:
            with open(self.path(host_path), "rb") as handle:
                return handle.read(limit).decode("utf-8", "replace")
        except OSError:
            return default

    def query(self, name, *args):
        """Run a tool by name: (rc, stdout, stderr), None when it is not installed."""
        binary = self.which(name)
        if binary is None:
            return None
        return self.runner([binary] + list(args))


def module_commands(module):
    """(runner, which) of the host an AnsibleModule runs on: every command through
    module.run_command in the C locale, every tool looked for in PATH and in SBIN_DIRS.
    The one place both modules get their commands from."""
    def runner(args):
        return module.run_command(list(args), environ_update=dict(C_LOCALE))

    def which(name):
        return module.get_bin_path(name, opt_dirs=SBIN_DIRS)

    return runner, which


def module_host(module, root="/"):
    """The host an AnsibleModule runs on, as the readers see it (files below ``root``)."""
    return Host(*module_commands(module), root=root)


# --- kernel state: one reader each, for kdump_facts and the host backends -------------------

def crashkernel_words(cmdline):
    """The value of every crashkernel= word of a kernel command line, in order."""
    return [word.split("=", 1)[1] for word in (cmdline or "").split() if word.startswith("crashkernel=")]


def planned_values(crashkernel):
    """The crashkernel= values of a planned value ('128M 512M,cma': two)."""
    return (crashkernel or "").split()


def effective_crashkernel(cmdline):
    """The crashkernel= values the kernel reserves from a command line, space-separated, as
    parse_crashkernel (kernel/crash_reserve.c) picks them: the last word without a suffix;
    without one, the last ,high and the last ,low with it (a ,low alone reserves nothing);
    then the last ,cma. None when that leaves nothing to reserve."""
    values = crashkernel_words(cmdline)

    def last(suffix):
        if suffix is None:
            return [v for v in values if not v.endswith(CRASHKERNEL_SUFFIXES)][-1:]
        return [v for v in values if v.endswith(suffix)][-1:]

    regular = last(None) or (last(",high") + last(",low") if last(",high") else [])
    return " ".join(regular + last(",cma")) if regular else None


def crash_kernel_loaded(host):
    return (host.read(KEXEC_CRASH_LOADED) or "").strip() == "1"


def reserved_bytes(host):
    """The regular reservation of the running kernel (with its ,low part; not a ,cma one)."""
    try:
        return int((host.read(KEXEC_CRASH_SIZE) or "0").strip() or 0)
    except ValueError:
        return 0


def running_crashkernel(host):
    """What the running kernel reserved from its command line (effective_crashkernel)."""
    return effective_crashkernel(host.read(PROC_CMDLINE))


def kernel_release(host):
    text = host.read(OSRELEASE)
    return text.strip() if text else os.uname().release


# --- the next boot's kernel command line ---------------------------------------------------

def grub_cfg_kernel_args(text):
    """Arguments of the first kernel line of a grub.cfg (its first menuentry, GRUB's default
    0); None without one."""
    for line in (text or "").splitlines():
        words = line.split(None, 2)
        if words and words[0] in GRUB_KERNEL_COMMANDS:
            return words[2] if len(words) > 2 else ""
    return None


def parse_grubby_info(output):
    """`grubby --info=...` into one {key: value} per Linux boot entry, quotes removed.

    grubby prints index=N, then kernel=, args="...", root=, initrd=, title= (and id= for a
    Boot Loader Spec entry; only args is always quoted), or "non linux entry"."""
    entries = []
    for line in (output or "").splitlines():
        key, sep, value = line.strip().partition("=")
        value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        if key == "index" and sep:
            entries.append({"index": value})
        elif sep and entries:
            entries[-1][key] = value
    return [entry for entry in entries if "kernel" in entry]


def grubby_entries(host, which="ALL"):
    """The Linux boot entries grubby reports (--info=ALL, or DEFAULT); None when grubby is
    missing or fails."""
    result = host.query("grubby", f"--info={which}")
    return parse_grubby_info(result[1]) if result is not None and result[0] == 0 else None


def unquote(value):
    """A shell word's value when it is a plain one (quoted or not); None for one with
    escapes or expansions, which this code neither evaluates nor edits."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"' and re.search(r'[\\"$`]', inner):
            return None
        if value[0] == "'" and "'" in inner:
            return None
        return inner
    return value if re.fullmatch(r"[^\s\"'$`\\;&|<>()]*", value) else None


def written_crashkernel(text):
    """The value of the Red Hat crashkernel file (_hostbackends_rpm.crashkernel_file_content;
    quoted, or unquoted as earlier versions wrote it); None when empty or absent."""
    for line in (text or "").splitlines():
        if line.startswith("CRASHKERNEL="):
            return unquote(line.split("=", 1)[1]) or None
    return None


def default_grub_settings(text):
    """{GRUB_CMDLINE_LINUX[_DEFAULT]: value} of /etc/default/grub; None for a value too
    complex to read or rewrite (expansions, escapes, continuation lines)."""
    settings = {}
    for line in (text or "").splitlines():
        match = GRUB_CMDLINE.match(line.strip())
        if match:
            settings[match.group(1)] = unquote(match.group(2))
    return settings


def default_grub_cmdline(text):
    """The arguments grub-mkconfig's 10_linux gives the default entry from /etc/default/grub:
    GRUB_CMDLINE_LINUX, then GRUB_CMDLINE_LINUX_DEFAULT."""
    settings = default_grub_settings(text)
    return " ".join(settings.get(key) or "" for key in ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")).strip()


def next_boot_cmdline(host, family):
    """(source, kernel arguments) of the next boot, as the family's bootloader keeps them;
    (None, None) when they cannot be read. Red Hat: grubby's default entry (else
    /etc/kernel/cmdline); Debian and SUSE: the generated menu's first kernel line (SUSE
    without a readable menu: what /etc/default/grub gives it)."""
    table = family_table(family)
    if table is None:
        return None, None
    if table.grub_cfg is None:
        entries = grubby_entries(host, "DEFAULT")
        if entries is not None:
            return "grubby --info=DEFAULT", entries[0].get("args", "") if entries else None
        text = host.read(KERNEL_CMDLINE)
        return (KERNEL_CMDLINE, text) if text is not None else (None, None)
    text = host.read(table.grub_cfg, limit=MAX_GRUB_CFG_BYTES)
    if text is not None:
        return table.grub_cfg, grub_cfg_kernel_args(text)
    text = host.read(DEFAULT_GRUB) if family == "suse" else None
    return (DEFAULT_GRUB, default_grub_cmdline(text)) if text is not None else (None, None)


def sync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(module, path, content, mode=None):
    """Write ``content`` (str or bytes) to ``path``: a temporary file in the same directory,
    synced, then renamed over it with ``module.atomic_move``, so readers never see half a file.
    ``mode`` None keeps an existing file's mode (atomic_move copies it; a new file gets the
    umask's). Synced before and after the rename: the next crash may come any second, and a
    file renamed before its data reached the disk comes back empty (seen in the lab).
    Raises BackendError naming the file and the step that failed."""
    directory = os.path.dirname(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    step = "create the directory of"
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        step = "create a temporary file for"
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".crashdump-kdump-")
        module.add_cleanup_file(tmp)
        step = "write"
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        step = "rename the temporary file over"
        module.atomic_move(tmp, path)
        if mode is not None:
            step = "set the mode of"
            os.chmod(path, mode)  # atomic_move gives the file the old file's mode, or the umask's
        step = "sync the directory of"
        sync_directory(directory)
    except Exception as exc:  # OSError, and atomic_move's own failures (plain Exception)
        raise os_error(step, path, exc) from None


class CommandHost(Host):
    """The managed host as the host backends act on it: module_host's files and commands,
    plus file operations and systemd units."""

    def __init__(self, module, root="/"):
        super().__init__(*module_commands(module), root=root)
        self.module = module

    def command(self, args):
        """(rc, stdout, stderr) of a command the backend needs; BackendError when its tool is
        not installed."""
        result = self.query(*args)
        if result is None:
            raise BackendError(f"{args[0]} is not installed here (looked for in PATH and {', '.join(SBIN_DIRS)})")
        return result

    # --- files and kernel state ---------------------------------------------------------

    def snapshot(self, host_path):
        """(content as bytes, mode) of a file, (None, None) when it does not exist."""
        try:
            with open(self.path(host_path), "rb") as handle:
                return handle.read(), os.fstat(handle.fileno()).st_mode & 0o7777
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise os_error("read", self.path(host_path), exc) from None

    def file_mode(self, host_path):
        try:
            return os.stat(self.path(host_path)).st_mode & 0o7777
        except OSError:
            return None

    def is_dir(self, host_path):
        return os.path.isdir(self.path(host_path))

    def write_file(self, host_path, content, mode=None):
        write_atomically(self.module, self.path(host_path), content, mode)

    def remove_file(self, host_path):
        """Remove a file (already gone is fine) and sync its directory."""
        path = self.path(host_path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise os_error("remove", path, exc) from None
        try:
            sync_directory(os.path.dirname(path))
        except OSError as exc:
            raise os_error("sync the directory of", path, exc) from None

    def make_directory(self, host_path, mode):
        path, step = self.path(host_path), "create the directory"
        try:
            os.makedirs(path, mode=mode, exist_ok=True)
            step = "set the mode of the directory"
            os.chmod(path, mode)
        except OSError as exc:
            raise os_error(step, path, exc) from None

    def crash_kernel_loaded(self):
        return crash_kernel_loaded(self)

    def reserved_bytes(self):
        return reserved_bytes(self)

    def running_crashkernel(self):
        return running_crashkernel(self)

    def kernel_release(self):
        return kernel_release(self)

    # --- commands and units -------------------------------------------------------------

    def run(self, *args):
        rc, out, err = self.command(args)
        if rc != 0:
            raise BackendError(f"{' '.join(args)} failed (rc={rc}): {(err or out).strip()[-2000:]}")
        return out

    def succeeds(self, *args):
        rc, dummy, dummy = self.command(args)
        return rc == 0

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

    def prepare_needed(self):
        """Whether prepare() has work to do (default: none)."""
        return False

    def check_target(self):
        """Raise BackendError when the dump target cannot take a dump now (default: no check)."""
