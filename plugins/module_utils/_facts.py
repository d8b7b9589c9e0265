# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side): readers and parsers behind kdump_facts.

Not a public API; it may change without notice. Python standard library only: this runs on
managed hosts with their own Python (3.8 or later).

Every reader takes a ``Host`` so that unit tests can point it at a directory tree standing in for
``/`` and at canned command output. No reader raises because a file or a tool is missing: it
returns None, False, 0 or an empty list instead.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import re
import shlex
import stat
import struct

from ansible_collections.crashdump.kdump.plugins.module_utils._families import (
    DEBIAN_KDUMP_INITRD,
    DEBIAN_KDUMP_KERNEL,
    FAMILIES,
    KDUMP_UTILS,
    family as family_table,
    release_tooling,
)
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import (  # noqa: F401 (Host re-exported)
    MAX_READ_BYTES,
    OSRELEASE,
    Host,
    crash_kernel_loaded,
    crashkernel_words,
    default_grub_cmdline,
    effective_crashkernel,
    kernel_release,
    next_boot_cmdline,
    reserved_bytes,
    running_crashkernel,
    written_crashkernel,
)
from ansible_collections.crashdump.kdump.plugins.module_utils._panic_triggers import PANIC_SYSCTLS, proc_path

MAX_DUMPS = 50
MAX_DMESG_BYTES = MAX_READ_BYTES
MAX_SCANNED_DIRS = 2000  # bounds the walk of a dump path holding years of crash directories
DEFAULT_DUMP_PATH = "/var/crash"
PROC_MEMINFO = "/proc/meminfo"
# The kdump tooling, and what Debian targets need (ssh, nfs): the planner compares them with its own list.
TOOLING_PACKAGES = ("kdump-tools", "kdump-utils", "kexec-tools", "makedumpfile", "kdump", "openssh-client", "nfs-common")
OPTIONAL_COMPRESSIONS = ("lzo", "snappy", "zstd")
KERNEL_CONFIG_OPTIONS = ("CONFIG_CMA",)  # what the planner asks of the running kernel's build
MAX_KERNEL_CONFIG_BYTES = 4 * MAX_DMESG_BYTES
LOCAL_FACT_FILE = "/etc/ansible/facts.d/crashdump_kdump.fact"
LAST_CAPTURE_FILE = "/var/lib/crashdump-kdump/last-capture"  # written by the Debian capture script
LAST_CAPTURE_INTEGERS = ("mem_total_kib", "mem_available_min_kib")
VMCORE_CREATION_STATUS = "/var/lib/kdump/vmcore-creation.status"  # written by kdumpctl test (kdump-utils)

ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
SYSRQ_CRASH = re.compile(rb"sysrq\s*:\s*trigger a crash", re.I)
DUMP_NAME = re.compile(r"^(dump\..+|vmcore|vmcore\..+|.+\.recovered)$")
# The first line of a kernel crash report (the controller's _triage.py tells the kinds apart).
CRASH_REPORT_START = re.compile(
    rb"^(?:<\d+>)?(?:\[[\d. TC]+\] ?)*(?:Kernel panic - not syncing|(?:sysrq: |SysRq : )+Trigger a crash"
    rb"|(?:watchdog: )?BUG: |(?:NMI )?watchdog: Watchdog detected hard LOCKUP|INFO: task .+ blocked for more than"
    rb"|Oops: |kernel BUG at |general protection fault|Unable to handle kernel|WARNING: CPU: )", re.M)
PANIC_WINDOW = 64 * 1024  # the end of a dmesg searched for the crash report
PANIC_LOG_BYTES = 16 * 1024  # what a dump's panic_log keeps of it


# --- distribution and machine -------------------------------------------------------------

def parse_os_release(text):
    """/etc/os-release KEY=value lines (quoted or not) into a dict."""
    return parse_shell_assignments(text or "")


def family_of(os_id, id_like):
    for candidate in [os_id] + id_like.split():
        for family, table in FAMILIES.items():
            if candidate in table.ids:
                return family
    return "unknown"


def major_of(version_id):
    match = re.match(r"\d+", version_id or "")
    return int(match.group(0)) if match else None


def read_distribution(host):
    release = parse_os_release(host.read("/etc/os-release") or host.read("/usr/lib/os-release"))
    os_id = release.get("ID", "").lower() or None
    version_id = release.get("VERSION_ID") or None
    return {
        "id": os_id,
        "version_id": version_id,
        "major": major_of(version_id),
        "family": family_of(os_id or "", release.get("ID_LIKE", "").lower()),
    }


def parse_meminfo_bytes(text, field):
    """A /proc/meminfo field in bytes; None when absent."""
    match = re.search(rf"^{field}:\s+(\d+)\s*kB", text or "", re.M)
    return int(match.group(1)) * 1024 if match else None


def parse_kernel_config(text, options=KERNEL_CONFIG_OPTIONS):
    """{option: 'y' | 'm' | a value | 'n' ('# CONFIG_X is not set') | None (absent)} of a
    kernel .config text, for the options asked (the last line about an option wins). One
    regular expression over the whole text: a line-by-line scan of a distribution kernel's
    ~10,000 lines cost most of a second on a slow host, in every run."""
    found = dict.fromkeys(options)
    names = "|".join(re.escape(name) for name in options)
    for unset, name, value in re.findall(rf"^(?:# ({names}) is not set|({names})=([^\r\n]+))\r?$", text or "", re.M):
        if unset or value:
            found[unset or name] = "n" if unset else value
    return found


def read_kernel_config(host, release, options=KERNEL_CONFIG_OPTIONS):
    """The running kernel's build options the planner needs: {"path": where they were read
    (None when neither /boot/config-RELEASE nor /proc/config.gz is readable), "options"}."""
    path = f"/boot/config-{release}"
    text = host.read(path, limit=MAX_KERNEL_CONFIG_BYTES)
    if text is None:
        path = "/proc/config.gz"
        try:
            with gzip.open(host.path(path), "rb") as handle:
                text = handle.read(MAX_KERNEL_CONFIG_BYTES).decode("utf-8", "replace")
        except (OSError, EOFError):
            path = None
    return {"path": path, "options": parse_kernel_config(text, options)}


# --- packages and makedumpfile --------------------------------------------------------------

def parse_dpkg_query(output):
    """Lines '<package> <want> <flag> <status> <version>' into {package: version}, installed only."""
    versions = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 5 and words[3] == "installed":
            versions[words[0].split(":")[0]] = words[4]
    return versions


def parse_rpm_query(output):
    """Lines '<name> <version>-<release>' into {name: version}; 'package x is not installed' skipped."""
    versions = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) == 2 and not line.startswith("package "):
            versions[words[0]] = words[1]
    return versions


def query_packages(host, family):
    """Installed versions of the tooling packages, by dpkg-query or rpm, whichever fits the host."""
    dpkg = ("dpkg-query", ["-W", "-f", "${Package} ${Status} ${Version}\n"], parse_dpkg_query)
    rpm = ("rpm", ["-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\n"], parse_rpm_query)
    order = [rpm, dpkg] if family in ("redhat", "suse") else [dpkg, rpm]
    for tool, args, parse in order:
        result = host.query(tool, *(args + list(TOOLING_PACKAGES)))
        if result is not None:
            found = parse(result[1])
            return dict((name, found.get(name)) for name in TOOLING_PACKAGES)
    return dict((name, None) for name in TOOLING_PACKAGES)


def parse_makedumpfile_version(output):
    """`makedumpfile -v` into (version, compressions). zlib is built into every makedumpfile."""
    match = re.search(r"version\s+(\S+)", output or "")
    if not match:
        return None, []
    enabled = set(re.findall(r"^\s*(\w+)\s*:?\s+enabled\b", output, re.M | re.I))
    return match.group(1), ["zlib"] + [name for name in OPTIONAL_COMPRESSIONS if name in enabled]


def tooling_name(family, major, os_id, packages):
    """The package that carries the kdump service on this host (installed or not)."""
    table = family_table(family)
    if table is None:
        return None
    if table.tooling_split is not None and packages.get(KDUMP_UTILS):
        return KDUMP_UTILS
    return release_tooling(table, os_id, major)


def read_tooling(host, distribution):
    packages = query_packages(host, distribution["family"])
    result = host.query("makedumpfile", "-v")
    version, compressions = parse_makedumpfile_version(result[1] if result else "")
    name = tooling_name(distribution["family"], distribution["major"], distribution["id"], packages)
    return {
        "name": name,
        "installed": bool(name and packages.get(name)),
        "packages": packages,
        "makedumpfile_version": version,
        "compressions": compressions,
    }


# --- crashkernel ----------------------------------------------------------------------------

def read_int(host, path):
    text = host.read(path)
    try:
        return int(text.strip())
    except (AttributeError, ValueError):
        return None


def read_crashkernel(host, family):
    source, bootloader_args = next_boot_cmdline(host, family)
    return {
        "cmdline": running_crashkernel(host),
        "bootloader": effective_crashkernel(bootloader_args),
        "bootloader_source": source,
        # The regular reservation (with its ,low part); a ,cma reservation is not counted there.
        "reserved_bytes": reserved_bytes(host),
        # Every CMA area of the running kernel, the crashkernel ,cma one among them.
        "cma_total_bytes": parse_meminfo_bytes(host.read(PROC_MEMINFO), "CmaTotal"),
    }


# --- service --------------------------------------------------------------------------------

# The unit file states `systemctl is-enabled` exits 0 for (systemctl(1), "is-enabled").
ENABLED_UNIT_FILE_STATES = ("enabled", "enabled-runtime", "static", "indirect", "alias", "generated", "transient")
# The states it names for a unit that exists but does not start at boot.
DISABLED_UNIT_FILE_STATES = ("disabled", "masked", "masked-runtime", "linked", "linked-runtime")
SERVICE_PROPERTIES = "LoadState,ActiveState,UnitFileState"


def parse_systemctl_show(output):
    """`systemctl show --property=...` lines 'Name=value' into {name: value}."""
    return dict(line.partition("=")[::2] for line in output.splitlines() if "=" in line)


def read_service(host, family):
    """Whether the kdump service is enabled for the next boot and active now, from one
    `systemctl show` (one process, not an is-enabled and an is-active: each costs a systemd
    round trip). None for what systemd cannot say: both for an unknown unit; active where
    systemd is not running (a chroot, a container), enabled then read from the unit files."""
    table = family_table(family)
    if table is None:
        return {"name": None, "enabled": None, "active": None}
    unit = table.service + ".service"
    result = host.query("systemctl", "show", f"--property={SERVICE_PROPERTIES}", unit)
    if result is not None and result[0] != 0:
        return {"name": table.service, "enabled": enabled_offline(host, unit), "active": None}
    state = parse_systemctl_show(result[1]) if result else {}
    known = state.get("LoadState") not in (None, "not-found")
    return {
        "name": table.service,
        "enabled": state.get("UnitFileState") in ENABLED_UNIT_FILE_STATES if known else None,
        "active": state.get("ActiveState") in ("active", "reloading") if known else None,
    }


def enabled_offline(host, unit):
    """`systemctl is-enabled` reads the unit files without a running systemd; None when it
    cannot say (no such unit, or no answer it documents)."""
    result = host.query("systemctl", "is-enabled", unit)
    answer = result[1].strip() if result else ""
    if answer in ENABLED_UNIT_FILE_STATES:
        return True
    return False if answer in DISABLED_UNIT_FILE_STATES else None


# --- native configuration and target -------------------------------------------------------

def logical_lines(text):
    """Lines of a shell file, a line ending in an open quote joined with the next ones."""
    pending = ""
    for line in text.splitlines():
        pending = pending + "\n" + line if pending else line
        try:
            yield shlex.split(pending, comments=True)
        except ValueError:
            continue
        pending = ""


def parse_shell_assignments(text):
    """KEY=value assignments of a shell-sourced file, quotes removed, nothing evaluated.

    Lines that are commands rather than assignments (including `KEY = value`, which a shell runs
    as the command KEY) are ignored, as a shell would not set a variable from them.
    """
    settings = {}
    for words in logical_lines(text):
        if words and words[0] == "export":
            words = words[1:]
        matches = [ASSIGNMENT.match(word) for word in words]
        if words and all(matches):
            settings.update(match.groups() for match in matches)
    return settings


def parse_kdump_conf(text):
    """/etc/kdump.conf 'directive value…' lines into {directive: value}; a repeat replaces."""
    settings = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(None, 1)
        if words:
            settings[words[0]] = words[1].strip() if len(words) > 1 else ""
    return settings


def parse_suse_savedir(savedir):
    """KDUMP_SAVEDIR (a URL or a bare path) into (path, ssh, nfs)."""
    match = re.match(r"^(\w+)://([^/]*)(/.*)?$", savedir)
    if not match:
        return savedir or DEFAULT_DUMP_PATH, None, None
    scheme, authority, path = match.groups()
    path = path or "/"
    if scheme == "file":
        return path, None, None
    if scheme in ("ssh", "sftp"):
        return path, authority, None
    if scheme == "nfs":
        return path, None, authority + ":" + path
    return path, None, None


def target_of(family, settings):
    """{path, ssh, nfs}: where the native tooling sends a dump, from its parsed settings."""
    if family == "debian":
        path, ssh, nfs = settings.get("KDUMP_COREDIR"), settings.get("SSH"), settings.get("NFS")
    elif family == "redhat":
        path, ssh, nfs = settings.get("path"), settings.get("ssh"), settings.get("nfs")
    elif family == "suse":
        path, ssh, nfs = parse_suse_savedir(settings.get("KDUMP_SAVEDIR", ""))
    else:
        path, ssh, nfs = None, None, None
    return {"path": path or DEFAULT_DUMP_PATH, "ssh": ssh or None, "nfs": nfs or None}


def read_config(host, family):
    path = family_table(family) and family_table(family).config_path
    text = host.read(path) if path else None
    if text is None:
        settings = {}
    elif family == "redhat":
        settings = parse_kdump_conf(text)
    else:
        settings = parse_shell_assignments(text)
    return {"path": path, "exists": text is not None, "settings": settings}


# --- dumps ----------------------------------------------------------------------------------

# kdump-compressed format (makedumpfile's diskdump.h), x86_64 layout: disk_dump_header.status
# at byte 424 and block_size at 428; kdump_sub_header.dump_level 8 bytes into the second block.
STATUS_OFFSET, BLOCK_SIZE_OFFSET, DUMP_LEVEL_OFFSET = 424, 428, 8
COMPRESSION_FLAGS = ((0x20, "zstd"), (0x4, "snappy"), (0x2, "lzo"), (0x1, "zlib"))
FLAT_HEADER_SIZE = 4096  # makedumpfile_header; then (offset, size) big-endian records
HEAD_BYTES = 64 * 1024
BLOCK_SIZES = (4096, 8192, 16384, 65536)  # page sizes makedumpfile uses as block_size


def unflatten(data, spans):
    """The dump a flattened stream describes, as far as ``data`` (the stream's beginning) has
    it: bytes up to the end of the last span, or None unless every (start, end) span is there.
    makedumpfile leaves gaps (the header record is 464 bytes of a 4 KiB block)."""
    upto = max(end for dummy, end in spans)
    image, seen = bytearray(upto), bytearray(upto)
    pos = FLAT_HEADER_SIZE
    while pos + 16 <= len(data):
        offset, size = struct.unpack_from(">qq", data, pos)
        pos += 16
        if offset < 0 or size < 0:
            break
        chunk = data[pos:pos + size]
        pos += size
        if offset < upto:
            end = min(upto, offset + len(chunk))
            image[offset:end] = chunk[:end - offset]
            seen[offset:end] = b"\x01" * (end - offset)
    return bytes(image) if all(all(seen[a:b]) for a, b in spans) else None


def dump_details(head):
    """{compression, dump_level} from the header of a kdump-compressed dump or of a flattened
    stream of one; None values when the header cannot be read."""
    unknown = {"compression": None, "dump_level": None}
    fmt = dump_format(head)
    if fmt == "flattened":
        first = unflatten(head, [(0, BLOCK_SIZE_OFFSET + 4)])
        block = struct.unpack_from("<i", first, BLOCK_SIZE_OFFSET)[0] if first and first[:8] == b"KDUMP   " else 0
        level_at = block + DUMP_LEVEL_OFFSET
        head = unflatten(head, [(0, BLOCK_SIZE_OFFSET + 4), (level_at, level_at + 4)]) if block in BLOCK_SIZES else None
    elif fmt != "kdump-compressed":
        return unknown
    if not head or len(head) < BLOCK_SIZE_OFFSET + 4:
        return unknown
    status, block = struct.unpack_from("<Ii", head, STATUS_OFFSET)
    if block not in BLOCK_SIZES or len(head) < block + DUMP_LEVEL_OFFSET + 4:
        return unknown
    compression = next((name for flag, name in COMPRESSION_FLAGS if status & flag), "none")
    return {"compression": compression, "dump_level": struct.unpack_from("<i", head, block + DUMP_LEVEL_OFFSET)[0]}


def dump_format(header):
    if header.startswith(b"KDUMP   "):
        return "kdump-compressed"
    if header[:16].startswith(b"makedumpfile"):
        return "flattened"
    if header.startswith(b"\x7fELF"):
        return "elf"
    return "unknown"


def find_dump_files(top):
    """Regular files named like dumps in ``top`` and up to two directory levels below it."""
    found, directories, scanned = [], [(top, 0)], 0
    while directories and scanned < MAX_SCANNED_DIRS:
        directory, depth = directories.pop()
        scanned += 1
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and depth < 2:
                directories.append((entry.path, depth + 1))
            elif entry.is_file(follow_symlinks=False) and DUMP_NAME.match(entry.name):
                found.append(entry)
    return found


def dmesg_next_to(dump_file):
    """The dmesg file saved with a dump: dmesg.<stamp> (Debian), vmcore-dmesg.txt, dmesg.txt."""
    directory, name = os.path.split(dump_file)
    candidates = []
    if name.startswith("dump."):
        candidates.append("dmesg." + name.split(".")[1])
    candidates += ["vmcore-dmesg.txt", "dmesg.txt"]
    for candidate in candidates:
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_head(path, size):
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except (OSError, IOError):
        return b""


def utc_iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_dump(host, entry):
    info = entry.stat(follow_symlinks=False)
    dmesg = dmesg_next_to(entry.path)
    head = read_head(entry.path, HEAD_BYTES)
    return dict(dump_details(head), **{
        "path": host.host_path(entry.path),
        "directory": host.host_path(os.path.dirname(entry.path)),
        "size": info.st_size,
        "mtime": int(info.st_mtime),
        "time": utc_iso(int(info.st_mtime)),
        "format": dump_format(head),
        "dmesg": host.host_path(dmesg) if dmesg else None,
        "dmesg_has_sysrq_crash": bool(dmesg and SYSRQ_CRASH.search(read_head(dmesg, MAX_DMESG_BYTES))),
        "panic_log": panic_log(dmesg) if dmesg else None,
        "mode": "%04o" % stat.S_IMODE(info.st_mode),
    })


def read_tail(path, size):
    """The last ``size`` bytes of a file, from its first whole line; b"" when unreadable."""
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, end - size))
            data = handle.read(size)
    except (OSError, IOError):
        return b""
    return data.split(b"\n", 1)[-1] if end > size else data


def panic_log(dmesg_path):
    """The kernel log saved with a dump from its first crash report on, for the controller's
    triage: searched in the last PANIC_WINDOW bytes; of a longer one, the first and the last
    PANIC_LOG_BYTES / 2 (the report's start and the panic at the end). None without a report."""
    data = read_tail(dmesg_path, PANIC_WINDOW)
    match = CRASH_REPORT_START.search(data)
    if not match:
        return None
    data = data[match.start():]
    if len(data) > PANIC_LOG_BYTES:
        half = PANIC_LOG_BYTES // 2
        data = data[:half].rsplit(b"\n", 1)[0] + b"\n[...]\n" + data[-half:].split(b"\n", 1)[-1]
    return data.decode("utf-8", "replace")


def read_dumps(host, dump_path):
    """Dumps below the dump path, newest first, at most MAX_DUMPS."""
    entries = find_dump_files(host.path(dump_path))
    entries.sort(key=lambda entry: (entry.stat(follow_symlinks=False).st_mtime, entry.path), reverse=True)
    return [describe_dump(host, entry) for entry in entries[:MAX_DUMPS]]


def free_bytes(host, dump_path):
    """Space available to unprivileged writers at the dump path or its nearest existing parent."""
    path = host.path(dump_path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    return info.f_bavail * info.f_frsize


# --- everything -----------------------------------------------------------------------------

def read_last_crash_test(host):
    text = host.read(LOCAL_FACT_FILE)
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None


def read_last_capture(host):
    """The capture script's record of the last capture boot: result (saved, saved_to_rootfs,
    failed, recovered), location, detail, target, stamp, time; None when there was none."""
    text = host.read(LAST_CAPTURE_FILE)
    if not text:
        return None
    record = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    for key in LAST_CAPTURE_INTEGERS:
        if key in record:
            record[key] = int(record[key]) if record[key].isascii() and record[key].isdigit() else None
    return record


# Kernels and initrds are identified by their real path, size and mtime (a rebuild rewrites them;
# hashing a 40 MB initrd on every run would not be cheap), the configuration files by content.
IMAGE_BYTES = 1024 * 1024  # files larger than this are identified by real path, size and mtime


def read_capture_config(host, family, release, settings):
    """{checksum, files}: a SHA-256 over the family's capture inputs (_families) that exist, so
    that a crash test record can tell whether what it proved has changed since; None on other
    families. {release} is the running kernel's; on Debian {kernel} and {initrd} are
    KDUMP_KERNEL and KDUMP_INITRD."""
    kernel = settings.get("KDUMP_KERNEL") or DEBIAN_KDUMP_KERNEL
    initrd = settings.get("KDUMP_INITRD") or DEBIAN_KDUMP_INITRD
    inputs = family_table(family).capture_inputs if family_table(family) else ()
    paths = [path.format(release=release, kernel=kernel, initrd=initrd) for path in inputs]
    if not paths:
        return None
    digest, present = hashlib.sha256(), []
    for path in paths:
        try:
            info = os.stat(host.path(path))
        except OSError:
            continue
        present.append(path)
        if info.st_size > IMAGE_BYTES:
            real = host.host_path(os.path.realpath(host.path(path)))
            digest.update(f"{path} {real} {info.st_size} {info.st_mtime_ns}\n".encode())
        else:
            digest.update(f"{path} {hashlib.sha256(read_head(host.path(path), IMAGE_BYTES)).hexdigest()}\n".encode())
    return {"checksum": digest.hexdigest(), "files": present}


def parse_vmcore_creation_status(text):
    """kdumpctl's '<status> kdump_test_id=<epoch>-<nanoseconds>' (status pending, success, fail or
    manual) into {status, epoch, time}; None when the text is not that."""
    match = re.match(r"^(\w+) kdump_test_id=(\d+)-\d+\s*$", text or "")
    if not match:
        return None
    epoch = int(match.group(2))
    return {"status": match.group(1), "epoch": epoch, "time": utc_iso(epoch)}


# --- conflicts: what defeats kdump whatever the policy says ----------------------------------

LOCKDOWN_MODE = re.compile(r"\[(\w+)\]")
MASK_DIRS = ("/etc/systemd/system", "/run/systemd/system")


def kernel_config_has(host, release, *options):
    """Whether the running kernel's configuration sets every option to y; None when it cannot be read."""
    config = read_kernel_config(host, release, options)
    if config["path"] is None:
        return None
    return all(config["options"][option] == "y" for option in options)


def lockdown_conflict(host, release, loaded):
    """Lockdown refuses kexec_load; kexec_file_load then needs a kernel that verifies the capture
    kernel's signature (CONFIG_KEXEC_FILE and CONFIG_KEXEC_SIG)."""
    match = LOCKDOWN_MODE.search(host.read("/sys/kernel/security/lockdown") or "")
    if not match or match.group(1) == "none" or loaded:
        return None
    if kernel_config_has(host, release, "CONFIG_KEXEC_FILE", "CONFIG_KEXEC_SIG") is not False:
        return None
    return (f"kernel lockdown ({match.group(1)}) refuses kexec_load and this kernel has no signed "
            f"kexec_file_load (CONFIG_KEXEC_FILE and CONFIG_KEXEC_SIG in /boot/config-{release}): "
            f"no capture kernel can be loaded")


def our_crashkernel(host, family):
    """(file, value) of the crashkernel= the kdump role wrote, or (file, None): Debian's GRUB
    drop-in appends it to GRUB_CMDLINE_LINUX_DEFAULT on its last line, SUSE's host backend to
    GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, Red Hat's keeps it in its crashkernel file."""
    path = family_table(family) and family_table(family).crashkernel_file
    text = host.read(path) if path else None
    if text is None:
        return path, None
    if family == "redhat":
        return path, written_crashkernel(text) or ""
    if family == "suse":
        return path, " ".join(crashkernel_words(default_grub_cmdline(text)))
    lines = [line for line in text.splitlines() if line.startswith("GRUB_CMDLINE_LINUX_DEFAULT=")]
    return path, " ".join(value.rstrip('"') for value in crashkernel_words(lines[-1] if lines else ""))


def foreign_crashkernel_conflict(host, family, crashkernel):
    """A crashkernel= on the next boot's command line that the kdump role did not write."""
    path, ours = our_crashkernel(host, family)
    values = (crashkernel.get("bootloader") or "").split()
    if ours is None or not values:
        return None
    foreign = [value for value in values if value not in ours.split()]
    if not foreign:
        return None
    return (f"crashkernel={' crashkernel='.join(foreign)} on the next boot's command line "
            f"({crashkernel.get('bootloader_source')}) comes from elsewhere: the kdump role set "
            f"{'crashkernel=' + ' crashkernel='.join(ours.split()) if ours else 'none'} ({path})")


def masked_conflict(host, family):
    name = family_table(family) and family_table(family).service
    for directory in MASK_DIRS if name else ():
        unit = host.path(f"{directory}/{name}.service")
        if os.path.islink(unit) and os.readlink(unit) == "/dev/null":
            return f"the {name} service is masked ({directory}/{name}.service links to /dev/null)"
    return None


def read_conflicts(host, family, release, crashkernel, loaded):
    """Why kdump cannot work here whatever the policy says, one sentence each."""
    conflicts = []
    if read_int(host, "/proc/sys/kernel/kexec_load_disabled") == 1:
        conflicts.append("kernel.kexec_load_disabled=1 (a hardening setting): no capture kernel can be "
                         "loaded or reloaded until the next boot")
    if host.read(OSRELEASE) is not None and not os.path.exists(host.path("/proc/sysrq-trigger")):
        conflicts.append("no /proc/sysrq-trigger (a kernel without CONFIG_MAGIC_SYSRQ): a crash test cannot "
                         "crash this host")
    conflicts += [reason for reason in (lockdown_conflict(host, release, loaded),
                                        foreign_crashkernel_conflict(host, family, crashkernel),
                                        masked_conflict(host, family)) if reason]
    return conflicts


def read_panic_sysctls(host):
    """The running value of each panic trigger sysctl; None when this kernel lacks it."""
    return {name: read_int(host, proc_path(name)) for name in PANIC_SYSCTLS}


def read_public_key(host, key_path):
    """The one-line public key next to a private key, or None."""
    text = host.read(key_path + ".pub") if key_path else None
    words = (text or "").split()
    return " ".join(words[:3]) if len(words) >= 2 else None


def gather(host, dump_path=None, ssh_key=None):
    """The kdump facts of a host: the dict returned as ansible_facts.kdump."""
    distribution = read_distribution(host)
    family = distribution["family"]
    config = read_config(host, family)
    target = target_of(family, config["settings"])
    dump_path = dump_path or target["path"]
    release = kernel_release(host)
    crashkernel = read_crashkernel(host, family)
    loaded = crash_kernel_loaded(host)
    return {
        "distribution": distribution,
        "architecture": os.uname().machine,
        "mem_total_bytes": parse_meminfo_bytes(host.read(PROC_MEMINFO), "MemTotal"),
        "kernel_release": release,
        "kernel_config": read_kernel_config(host, release),
        # Changes at every boot: how the crash test tells that the host went down and came back.
        "boot_id": (host.read("/proc/sys/kernel/random/boot_id") or "").strip() or None,
        "tooling": read_tooling(host, distribution),
        "crashkernel": crashkernel,
        "loaded": loaded,
        "service": read_service(host, family),
        "config": config,
        "target": target,
        "dump_path": dump_path,
        "dump_path_free_bytes": free_bytes(host, dump_path),
        "dumps": read_dumps(host, dump_path),
        "last_crash_test": read_last_crash_test(host),
        "last_capture": read_last_capture(host),
        "capture_config": read_capture_config(host, family, release, config["settings"]),
        "vmcore_creation_status": parse_vmcore_creation_status(host.read(VMCORE_CREATION_STATUS)),
        "conflicts": read_conflicts(host, family, release, crashkernel, loaded),
        "ssh_public_key": read_public_key(host, ssh_key),
        "panic_sysctls": read_panic_sysctls(host),
    }
