# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): what every host
backend shares: kernel state readers, file operations, running commands, systemd units.

Not a public API; it may change without notice.

Every file operation converts an OSError into a BackendError naming the file and the
operation, so kdump_config can roll back and report one message instead of a traceback.
"""

from __future__ import annotations

import os
import tempfile

KEXEC_CRASH_LOADED = "/sys/kernel/kexec_crash_loaded"
KEXEC_CRASH_SIZE = "/sys/kernel/kexec_crash_size"
PROC_CMDLINE = "/proc/cmdline"


class BackendError(Exception):
    """A native tool or a file operation failed; the message says which and why."""


def os_error(operation, path, exc):
    """The one message of a failed file operation (an OSError, or atomic_move's Exception)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    cause = exc.__cause__
    if cause is not None:
        reason += f" ({getattr(cause, 'strerror', None) or cause})"
    return BackendError(f"cannot {operation} {path}: {reason}")


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return default


def crash_kernel_loaded(root="/"):
    return read_text(os.path.join(root, KEXEC_CRASH_LOADED.lstrip("/"))).strip() == "1"


CRASHKERNEL_SUFFIXES = (",high", ",low", ",cma")


def cmdline_crashkernel(cmdline):
    """The crashkernel= values a kernel reads from a command line, space-separated: the last
    one without a suffix, then the last of each suffix (,high ,low ,cma), as the kernel
    picks them; None when there is none."""
    values = [w.split("=", 1)[1] for w in (cmdline or "").split() if w.startswith("crashkernel=")]
    plain = [v for v in values if not v.endswith(CRASHKERNEL_SUFFIXES)]
    picked = plain[-1:]
    for suffix in CRASHKERNEL_SUFFIXES:
        picked += [v for v in values if v.endswith(suffix)][-1:]
    return " ".join(picked) or None


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


class CommandHost:
    """The managed host: its files below ``root`` (``/``, or a directory standing in for it
    in tests), its tools run through the module; systemd units. Paths given to the methods
    are the host's own (``/etc/...``)."""

    def __init__(self, module, root="/"):
        self.module = module
        self.root = root

    def path(self, host_path):
        return os.path.join(self.root, host_path.lstrip("/"))

    # --- files and kernel state ---------------------------------------------------------

    def read(self, host_path, default=""):
        return read_text(self.path(host_path), default)

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
        return crash_kernel_loaded(self.root)

    def reserved_bytes(self):
        try:
            return int(self.read(KEXEC_CRASH_SIZE, "0").strip() or 0)
        except ValueError:
            return 0

    def running_crashkernel(self):
        """The crashkernel= value the running kernel was booted with."""
        return cmdline_crashkernel(self.read(PROC_CMDLINE))

    def kernel_release(self):
        return self.read("/proc/sys/kernel/osrelease").strip()

    # --- commands and units -------------------------------------------------------------

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

    def prepare_needed(self):
        """Whether prepare() has work to do (default: none)."""
        return False

    def check_target(self):
        """Raise BackendError when the dump target cannot take a dump now (default: no check)."""
