"""kdump_facts: the parsers on real and documented file formats, the dump scan, and the whole module
run against a directory tree standing in for a host's root file system.

Fixtures ending in .debian12 were captured from the lab's Debian 12 VM (kdump-tools 1:1.8.1,
makedumpfile 1:1.7.2-1) after a real sysrq crash; the others follow the documented formats.
"""

from __future__ import annotations

import json
import os
import struct

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.crashdump.kdump.plugins.module_utils import _facts, _hostcommon
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import DebianHost
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends_rpm import crashkernel_file_content
from ansible_collections.crashdump.kdump.plugins.module_utils._panic_triggers import PANIC_SYSCTLS
from ansible_collections.crashdump.kdump.plugins.modules import kdump_facts

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "facts")

# What makedumpfile -F writes first: signature, then big-endian type 1 and version 1 (seen on the VM).
FLATTENED_HEADER = b"makedumpfile\0\0\0\0" + struct.pack(">qq", 1, 1)
KDUMP_HEADER = b"KDUMP   " + struct.pack("<i", 6) + b"\0" * 20
ELF_HEADER = b"\x7fELF\x02\x01\x01" + b"\0" * 25


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def write(root, path, content, mode=None, mtime=None):
    full = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
    if mode is not None:
        os.chmod(full, mode)
    if mtime is not None:
        os.utime(full, (mtime, mtime))
    return full


class FakeTools:
    """Canned command output by tool name; tools not listed are 'not installed'."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    def which(self, name):
        return "/usr/sbin/" + name if name in self.outputs else None

    def run(self, args):
        self.calls.append(args)
        output = self.outputs[os.path.basename(args[0])]
        return output(args) if callable(output) else output


def host_at(root, outputs=None):
    tools = FakeTools(outputs or {})
    return _facts.Host(tools.run, tools.which, root=str(root)), tools


# --- distribution -------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("os-release.debian12", {"id": "debian", "version_id": "12", "major": 12, "family": "debian"}),
    ("os-release.ubuntu2404", {"id": "ubuntu", "version_id": "24.04", "major": 24, "family": "debian"}),
    ("os-release.rhel9", {"id": "rhel", "version_id": "9.4", "major": 9, "family": "redhat"}),
    ("os-release.rocky10", {"id": "rocky", "version_id": "10.0", "major": 10, "family": "redhat"}),
    ("os-release.sles15", {"id": "sles", "version_id": "15.6", "major": 15, "family": "suse"}),
    ("os-release.opensuse-leap15", {"id": "opensuse-leap", "version_id": "15.6", "major": 15, "family": "suse"}),
])
def test_distribution_from_os_release(tmp_path, name, expected):
    write(tmp_path, "/etc/os-release", fixture(name))
    assert _facts.read_distribution(host_at(tmp_path)[0]) == expected


def test_family_falls_back_to_id_like_and_else_unknown():
    assert _facts.family_of("linuxmint", "ubuntu debian") == "debian"
    assert _facts.family_of("ol", "fedora") == "redhat"
    assert _facts.family_of("arch", "") == "unknown"


def test_missing_os_release_is_unknown(tmp_path):
    assert _facts.read_distribution(host_at(tmp_path)[0]) == {
        "id": None, "version_id": None, "major": None, "family": "unknown"}


def test_mem_total_in_bytes():
    assert _facts.parse_meminfo_bytes("MemTotal:         983744 kB\nMemFree: 1 kB\n", "MemTotal") == 983744 * 1024
    assert _facts.parse_meminfo_bytes("", "MemTotal") is None


# --- packages and makedumpfile --------------------------------------------------------------

def test_dpkg_query_output_of_debian12():
    assert _facts.parse_dpkg_query(fixture("dpkg-query.debian12")) == {
        "kdump-tools": "1:1.8.1", "kexec-tools": "1:2.0.25-3+deb12u3", "makedumpfile": "1:1.7.2-1"}


def test_dpkg_query_ignores_removed_packages_and_strips_arch():
    output = "kdump-tools deinstall ok config-files 1:1.8.1\nmakedumpfile:amd64 hold ok installed 1:1.7.2-1\n"
    assert _facts.parse_dpkg_query(output) == {"makedumpfile": "1:1.7.2-1"}


def test_rpm_output_skips_missing_packages():
    assert _facts.parse_rpm_query(fixture("rpm-q.rhel9")) == {
        "kexec-tools": "2.0.27-8.el9", "makedumpfile": "1.7.4-1.el9"}


def test_packages_queried_once_with_dpkg_on_debian(tmp_path):
    host, tools = host_at(tmp_path, {"dpkg-query": (1, fixture("dpkg-query.debian12"), "no packages found")})
    packages = _facts.query_packages(host, "debian")
    assert packages == {"kdump-tools": "1:1.8.1", "kdump-utils": None, "kexec-tools": "1:2.0.25-3+deb12u3",
                        "makedumpfile": "1:1.7.2-1", "kdump": None, "openssh-client": None, "nfs-common": None}
    assert len(tools.calls) == 1 and tools.calls[0][-7:] == list(_facts.TOOLING_PACKAGES)


def test_packages_with_no_package_tool_are_all_null(tmp_path):
    assert set(_facts.query_packages(host_at(tmp_path)[0], "redhat").values()) == {None}


@pytest.mark.parametrize("name, version, compressions", [
    ("makedumpfile-v.debian12", "1.7.2", ["zlib", "lzo"]),
    ("makedumpfile-v.zstd", "1.7.6", ["zlib", "lzo", "zstd"]),
    ("makedumpfile-v.old-no-zstd-line", "1.6.7", ["zlib", "lzo", "snappy"]),
])
def test_makedumpfile_compressions(name, version, compressions):
    assert _facts.parse_makedumpfile_version(fixture(name)) == (version, compressions)


def test_makedumpfile_unparseable_output():
    assert _facts.parse_makedumpfile_version("") == (None, [])
    assert _facts.parse_makedumpfile_version("makedumpfile: command not found") == (None, [])


@pytest.mark.parametrize("family, major, os_id, packages, expected", [
    ("debian", 12, "debian", {}, "kdump-tools"),
    ("suse", 15, "sles", {}, "kdump"),
    ("redhat", 9, "rhel", {"kexec-tools": "2.0.27"}, "kexec-tools"),
    ("redhat", 10, "rocky", {}, "kdump-utils"),
    ("redhat", 9, "centos", {"kdump-utils": "1.0.42"}, "kdump-utils"),
    ("redhat", 40, "fedora", {}, "kexec-tools"),
    ("redhat", 41, "fedora", {}, "kdump-utils"),
    ("unknown", None, "arch", {}, None),
])
def test_tooling_name(family, major, os_id, packages, expected):
    assert _facts.tooling_name(family, major, os_id, packages) == expected


def test_tooling_without_makedumpfile(tmp_path):
    host, _ = host_at(tmp_path, {"rpm": (0, fixture("rpm-q.rhel9"), "")})
    tooling = _facts.read_tooling(host, {"family": "redhat", "major": 9, "id": "rhel"})
    assert tooling["name"] == "kexec-tools" and tooling["installed"] is True
    assert tooling["makedumpfile_version"] is None and tooling["compressions"] == []


# --- crashkernel ----------------------------------------------------------------------------

def test_running_crashkernel_of_cmdline(tmp_path):
    write(tmp_path, "/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro crashkernel=384M-:128M quiet\n")
    assert _hostcommon.running_crashkernel(host_at(tmp_path)[0]) == "384M-:128M"
    assert _hostcommon.effective_crashkernel("crashkernel=219M,high crashkernel=72M,low") == "219M,high 72M,low"
    assert _hostcommon.effective_crashkernel("ro nocrashkernel=1 quiet") is None
    assert _hostcommon.effective_crashkernel(None) is None


def test_grub_cfg_default_entry_of_debian12():
    args = _hostcommon.grub_cfg_kernel_args(fixture("grub.cfg.debian12"))
    assert args.startswith("root=UUID=3925f549")
    assert _hostcommon.effective_crashkernel(args) == "384M-:128M"


def test_grub_cfg_first_linux_line_decides():
    text = "menuentry 'a' {\n\tlinux /vmlinuz root=/dev/sda1 ro\n}\nmenuentry 'b' {\n\tlinux /vmlinuz crashkernel=1G\n}\n"
    assert _hostcommon.effective_crashkernel(_hostcommon.grub_cfg_kernel_args(text)) is None
    assert _hostcommon.grub_cfg_kernel_args("set default=0\n") is None


def test_bootloader_redhat_from_grubby(tmp_path):
    host, tools = host_at(tmp_path, {"grubby": (0, fixture("grubby-info.rhel9"), "")})
    source, args = _hostcommon.next_boot_cmdline(host, "redhat")
    assert source == "grubby --info=DEFAULT" and tools.calls == [["/usr/sbin/grubby", "--info=DEFAULT"]]
    assert _hostcommon.effective_crashkernel(args) == "1G-4G:192M,4G-64G:256M,64G-:512M"


def test_bootloader_redhat_without_grubby_reads_kernel_cmdline(tmp_path):
    write(tmp_path, "/etc/kernel/cmdline", "root=UUID=x ro crashkernel=2G-64G:256M\n")
    source, args = _hostcommon.next_boot_cmdline(host_at(tmp_path)[0], "redhat")
    assert (source, _hostcommon.effective_crashkernel(args)) == ("/etc/kernel/cmdline", "2G-64G:256M")


def test_bootloader_suse_without_a_menu_from_default_grub(tmp_path):
    write(tmp_path, "/etc/default/grub", fixture("grub.sles15"))
    source, args = _hostcommon.next_boot_cmdline(host_at(tmp_path)[0], "suse")
    assert (source, _hostcommon.effective_crashkernel(args)) == ("/etc/default/grub", "219M,high 72M,low")


def test_bootloader_absent_everywhere(tmp_path):
    for family in ("debian", "redhat", "suse", "unknown"):
        assert _hostcommon.next_boot_cmdline(host_at(tmp_path)[0], family) == (None, None)


# --- service --------------------------------------------------------------------------------

# `systemctl show --property=LoadState,ActiveState,UnitFileState UNIT` of systemd 252 (Debian 12)
@pytest.mark.parametrize("shown, expected", [
    ("enabled", (True, True)),
    ("disabled", (False, True)),  # disabled for the next boot, still running
    ("static", (True, True)),  # is-enabled exits 0 for a static unit too
    ("masked", (False, False)),
    ("not-found", (None, None)),  # the unit does not exist: rc 0, LoadState=not-found
])
def test_service_states(tmp_path, shown, expected):
    host, _ = host_at(tmp_path, {"systemctl": (0, fixture(f"systemctl-show.{shown}.debian12"), "")})
    service = _facts.read_service(host, "debian")
    assert (service["name"], service["enabled"], service["active"]) == ("kdump-tools",) + expected


NOT_BOOTED = (1, "", "System has not been booted with systemd as init system (PID 1). "
                    "Can't operate.\nFailed to connect to bus: Host is down\n")


@pytest.mark.parametrize("is_enabled, expected", [
    ((0, "enabled\n", ""), True),
    ((0, "static\n", ""), True),
    ((1, "disabled\n", ""), False),
    ((1, "masked\n", ""), False),
    ((1, "", "Failed to get unit file state for kdump-tools.service: No such file or directory\n"), None),
])
def test_service_when_systemd_is_not_running_is_read_from_the_unit_files(tmp_path, is_enabled, expected):
    answers = {"show": NOT_BOOTED, "is-enabled": is_enabled}
    host, tools = host_at(tmp_path, {"systemctl": lambda args: answers[args[1]]})
    assert _facts.read_service(host, "debian") == {"name": "kdump-tools", "enabled": expected, "active": None}
    assert tools.calls == [
        ["/usr/sbin/systemctl", "show", "--property=LoadState,ActiveState,UnitFileState", "kdump-tools.service"],
        ["/usr/sbin/systemctl", "is-enabled", "kdump-tools.service"]]


def test_service_without_systemd(tmp_path):
    assert _facts.read_service(host_at(tmp_path)[0], "redhat") == {"name": "kdump", "enabled": None, "active": None}


# --- configuration and target ---------------------------------------------------------------

def test_kdump_tools_config_of_debian12():
    assert _facts.parse_shell_assignments(fixture("kdump-tools.debian12")) == {
        "USE_KDUMP": "1",
        "KDUMP_KERNEL": "/var/lib/kdump/vmlinuz",
        "KDUMP_INITRD": "/var/lib/kdump/initrd.img",
        "KDUMP_COREDIR": "/var/crash",
    }


def test_kdump_tools_quoting_comments_and_non_assignments():
    settings = _facts.parse_shell_assignments(fixture("kdump-tools.quoting"))
    assert settings == {
        "USE_KDUMP": "1",  # `USE_KDUMP = 0` is a command to a shell, not an assignment
        "KDUMP_COREDIR": "/srv/crash dumps",
        "KDUMP_FAIL_CMD": "echo 'makedumpfile FAILED.'; /bin/bash; reboot -f",
        "MAKEDUMP_ARGS": "-c -d 31",
        "SSH": "kdump@dumps.example.org",
        "SSH_KEY": "/root/.ssh/kdump_id_ed25519",
        "KDUMP_CMDLINE_APPEND": "reset_devices\n  nr_cpus=1",
        "NFS_TIMEO": "",
        "KDUMP_DUMP_DMESG": "",
        "KDUMP_KEXEC_ARGS": "$EXTRA --elf64-core-headers",  # never evaluated
    }


def test_kdump_conf_directives():
    assert _facts.parse_kdump_conf(fixture("kdump.conf.rhel9")) == {
        "ssh": "kdump@dumps.example.org",
        "sshkey": "/root/.ssh/kdump_id_ed25519",
        "path": "/var/crash",
        "core_collector": "makedumpfile -F -l --message-level 7 -d 31",
        "failure_action": "shell",
        "auto_reset_crashkernel": "yes",
    }


@pytest.mark.parametrize("family, settings, expected", [
    ("debian", {}, ("/var/crash", None, None)),
    ("debian", {"KDUMP_COREDIR": "/srv/crash", "SSH": "kdump@dumps", "NFS": ""}, ("/srv/crash", "kdump@dumps", None)),
    ("debian", {"NFS": "nfs1:/export/crash"}, ("/var/crash", None, "nfs1:/export/crash")),
    ("redhat", {"ssh": "kdump@dumps", "path": "/crash"}, ("/crash", "kdump@dumps", None)),
    ("redhat", {"nfs": "nfs1:/export"}, ("/var/crash", None, "nfs1:/export")),
    ("suse", {"KDUMP_SAVEDIR": "file:///var/crash"}, ("/var/crash", None, None)),
    ("suse", {"KDUMP_SAVEDIR": "/srv/crash"}, ("/srv/crash", None, None)),
    ("suse", {"KDUMP_SAVEDIR": "sftp://kdump@dumps/srv/crash"}, ("/srv/crash", "kdump@dumps", None)),
    ("suse", {"KDUMP_SAVEDIR": "nfs://nfs.example.org/srv/crash"}, ("/srv/crash", None, "nfs.example.org:/srv/crash")),
    ("unknown", {"KDUMP_COREDIR": "/x"}, ("/var/crash", None, None)),
])
def test_target(family, settings, expected):
    target = _facts.target_of(family, settings)
    assert (target["path"], target["ssh"], target["nfs"]) == expected


def test_config_of_each_family(tmp_path):
    write(tmp_path, "/etc/kdump.conf", fixture("kdump.conf.rhel9"))
    write(tmp_path, "/etc/sysconfig/kdump", fixture("kdump.sysconfig.sles15"))
    host = host_at(tmp_path)[0]
    assert _facts.read_config(host, "redhat")["settings"]["failure_action"] == "shell"
    assert _facts.read_config(host, "suse")["settings"]["KDUMP_SAVEDIR"] == "nfs://nfs.example.org/srv/crash"
    assert _facts.read_config(host, "debian") == {"path": "/etc/default/kdump-tools", "exists": False, "settings": {}}
    assert _facts.read_config(host, "unknown") == {"path": None, "exists": False, "settings": {}}


# --- dumps ----------------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    (FLATTENED_HEADER, "flattened"),
    (KDUMP_HEADER, "kdump-compressed"),
    (ELF_HEADER, "elf"),
    (b"\x1f\x8b\x08\x00", "unknown"),
    (b"", "unknown"),
])
def test_dump_format(header, expected):
    assert _facts.dump_format(header[:16]) == expected


def test_sysrq_crash_in_dmesg_of_debian12():
    assert _facts.SYSRQ_CRASH.search(fixture("dmesg.debian12-sysrq").encode())
    assert _facts.SYSRQ_CRASH.search(b"[  100.1] SysRq : Trigger a crash\n")  # kernels before 5.x
    assert not _facts.SYSRQ_CRASH.search(b"[    0.0] Kernel panic - not syncing: Fatal exception\n")


def make_dump_tree(root, base="/var/crash"):
    """The three layouts: Debian kdump-tools, Red Hat kdump-utils (ssh), SUSE; plus noise."""
    dmesg = fixture("dmesg.debian12-sysrq")
    write(root, base + "/202611280306/dump.202611280306", FLATTENED_HEADER + b"\0" * 100, 0o644, 1795835229)
    write(root, base + "/202611280306/dmesg.202611280306", dmesg, 0o600, 1795835200)
    write(root, base + "/10.0.2.15-2026-11-27-10:00:01/vmcore.flat", FLATTENED_HEADER, 0o600, 1795760000)
    write(root, base + "/10.0.2.15-2026-11-27-10:00:01/vmcore-dmesg.txt", "Oops: general protection\n")
    write(root, base + "/2026-11-26-09:00/vmcore", KDUMP_HEADER, 0o600, 1795670000)
    write(root, base + "/2026-11-26-09:00/dmesg.txt", "[ 1.0] SysRq : Trigger a crash\n")
    write(root, base + "/nfs1/2026-11-25-08:00/vmcore", ELF_HEADER, 0o640, 1795580000)
    write(root, base + "/old.recovered", b"junk", 0o600, 1795490000)
    # not dumps: kdump-tools' lock and kexec record, an unfinished dump, apport reports, too deep
    write(root, base + "/kdump_lock", "")
    write(root, base + "/kexec_cmd", "/sbin/kexec -p ...")
    write(root, base + "/202611280400/dump-incomplete", FLATTENED_HEADER)
    write(root, base + "/_usr_bin_foo.0.crash", "apport")
    write(root, base + "/a/b/c/vmcore", ELF_HEADER)


# The fixture from its "sysrq: Trigger a crash" line on (the lines before are the boot).
SYSRQ_PANIC_LOG = (
    "[  245.726614] sysrq: Trigger a crash\n"
    "[  245.730447] Kernel panic - not syncing: sysrq triggered crash\n"
    "[  245.731096] CPU: 0 PID: 2637 Comm: sh Kdump: loaded Not tainted 6.1.0-50-amd64 #1  Debian 6.1.176-1\n"
    "[  245.731785] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014\n"
    "[  245.732450] Call Trace:\n"
    "[  245.733763]  <TASK>\n"
    "[  245.734699]  dump_stack_lvl+0x44/0x5c\n"
)


def test_dump_scan_finds_each_layout_newest_first(tmp_path):
    make_dump_tree(tmp_path)
    dumps = _facts.read_dumps(host_at(tmp_path)[0], "/var/crash")
    assert [d["path"] for d in dumps] == [
        "/var/crash/202611280306/dump.202611280306",
        "/var/crash/10.0.2.15-2026-11-27-10:00:01/vmcore.flat",
        "/var/crash/2026-11-26-09:00/vmcore",
        "/var/crash/nfs1/2026-11-25-08:00/vmcore",
        "/var/crash/old.recovered",
    ]
    assert dumps[0] == {
        "path": "/var/crash/202611280306/dump.202611280306",
        "directory": "/var/crash/202611280306",
        "size": 132,
        "mtime": 1795835229,
        "time": "2026-11-28T03:07:09Z",
        "format": "flattened",
        "dmesg": "/var/crash/202611280306/dmesg.202611280306",
        "dmesg_has_sysrq_crash": True,
        "mode": "0644",
        "compression": None,  # the fixture's stream holds no dump header
        "dump_level": None,
        "panic_log": SYSRQ_PANIC_LOG,
    }
    assert [(d["format"], d["dmesg_has_sysrq_crash"], d["mode"]) for d in dumps[1:]] == [
        ("flattened", False, "0600"), ("kdump-compressed", True, "0600"), ("elf", False, "0640"),
        ("unknown", False, "0600")]
    assert dumps[1]["dmesg"].endswith("/vmcore-dmesg.txt") and dumps[2]["dmesg"].endswith("/dmesg.txt")
    assert dumps[3]["dmesg"] is None


def kdump_compressed(status, dump_level, block=4096):
    """The first two blocks of a kdump-compressed dump, as makedumpfile writes them on x86_64."""
    header = bytearray(2 * block)
    header[:8] = b"KDUMP   "
    struct.pack_into("<i", header, 8, 6)
    struct.pack_into("<Ii", header, 424, status, block)
    struct.pack_into("<Qi", header, block, 0x1000000, dump_level)
    return bytes(header)


def flattened(image, block=4096):
    """makedumpfile -F's stream of ``image`` in the order seen on a real dump: a 4 KiB header,
    then (offset, size) records: the 464-byte disk_dump_header, later blocks, then the sub-header
    (the rest of block 0 is never written)."""
    records = [(0, image[:464]), (block + 104, image[block + 104:2 * block]), (block, image[block:block + 104])]
    stream = FLATTENED_HEADER.ljust(4096, b"\0")
    for offset, data in records:
        stream += struct.pack(">qq", offset, len(data)) + data
    return stream + struct.pack(">qq", -1, -1)


@pytest.mark.parametrize("status, compression", [(0x1, "zlib"), (0x2, "lzo"), (0x4, "snappy"), (0x20, "zstd"),
                                                 (0x0, "none"), (0x10 | 0x2, "lzo")])
def test_dump_header_gives_compression_and_dump_level(status, compression):
    image = kdump_compressed(status, 31)
    expected = {"compression": compression, "dump_level": 31}
    assert _facts.dump_details(image) == expected
    assert _facts.dump_details(flattened(image)) == expected


def test_dump_header_unreadable_is_unknown():
    unknown = {"compression": None, "dump_level": None}
    image = kdump_compressed(0x2, 17)
    assert _facts.dump_details(flattened(image)[:4096 + 16 + 100]) == unknown  # header record cut short
    assert _facts.dump_details(flattened(image)[:-(16 + 104 + 16)]) == unknown  # sub-header record missing
    assert _facts.dump_details(b"\x7fELF" + b"\0" * 100) == unknown
    assert _facts.dump_details(image[:4100]) == unknown  # sub-header cut short


def test_dump_scan_is_capped(tmp_path):
    for minute in range(_facts.MAX_DUMPS + 5):
        stamp = "2026112800%02d" % minute
        write(tmp_path, "/var/crash/%s/dump.%s" % (stamp, stamp), FLATTENED_HEADER, mtime=1795000000 + minute)
    dumps = _facts.read_dumps(host_at(tmp_path)[0], "/var/crash")
    assert len(dumps) == _facts.MAX_DUMPS
    assert dumps[0]["path"].endswith("dump.202611280054")


def test_dump_scan_of_missing_path(tmp_path):
    assert _facts.read_dumps(host_at(tmp_path)[0], "/var/crash") == []


def test_dump_scan_does_not_follow_symlinks(tmp_path):
    write(tmp_path, "/elsewhere/vmcore", ELF_HEADER)
    os.makedirs(str(tmp_path / "var" / "crash"))
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "var" / "crash" / "link"))
    assert _facts.read_dumps(host_at(tmp_path)[0], "/var/crash") == []


def test_free_bytes_of_nearest_existing_parent(tmp_path):
    free = _facts.free_bytes(host_at(tmp_path)[0], "/not/yet/there")
    assert isinstance(free, int) and free > 0


# --- the whole module -----------------------------------------------------------------------

def debian12_root(root):
    write(root, "/etc/os-release", fixture("os-release.debian12"))
    write(root, "/proc/meminfo", "MemTotal:         850652 kB\nMemFree:          500000 kB\n"
                                 "CmaTotal:              0 kB\nCmaFree:               0 kB\n")
    write(root, "/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=x ro crashkernel=384M-:128M\n")
    write(root, "/proc/sys/kernel/osrelease", "6.1.0-50-amd64\n")
    write(root, "/proc/sys/kernel/random/boot_id", "0f3c2d1e-8a7b-4c5d-9e0f-123456789abc\n")
    write(root, "/sys/kernel/kexec_crash_size", "134217728\n")
    write(root, "/sys/kernel/kexec_crash_loaded", "1\n")
    write(root, "/proc/sysrq-trigger", "")
    write(root, "/boot/grub/grub.cfg", fixture("grub.cfg.debian12"))
    write(root, "/etc/default/kdump-tools", fixture("kdump-tools.debian12"))
    write(root, "/etc/ansible/facts.d/crashdump_kdump.fact", json.dumps({"result": "passed"}))
    make_dump_tree(root)


DEBIAN12_TOOLS = {
    "dpkg-query": (1, fixture("dpkg-query.debian12"), "dpkg-query: no packages found matching kdump"),
    "makedumpfile": (0, fixture("makedumpfile-v.debian12"), ""),
    "systemctl": (0, fixture("systemctl-show.enabled.debian12"), ""),
}


def run_module(monkeypatch, capsys, root, tools, args=None):
    fake = FakeTools(tools)
    monkeypatch.setattr(kdump_facts, "ROOT", str(root))
    monkeypatch.setattr(kdump_facts.AnsibleModule, "get_bin_path", lambda self, name, **kw: fake.which(name))
    environments = []

    def run_command(self, args, environ_update=None, **kwargs):
        environments.append(environ_update)
        return fake.run(args)

    monkeypatch.setattr(kdump_facts.AnsibleModule, "run_command", run_command)
    with patch_module_args(args or {}):
        with pytest.raises(SystemExit) as info:
            kdump_facts.main()
    result = json.loads(capsys.readouterr().out)
    assert info.value.code == 0, result
    assert all(env and env["LC_ALL"] == "C" for env in environments)
    assert bool(environments) == bool(tools)  # every installed tool is asked, with LC_ALL=C
    return result


def test_module_on_a_debian12_tree(monkeypatch, capsys, tmp_path):
    debian12_root(tmp_path)
    result = run_module(monkeypatch, capsys, tmp_path, DEBIAN12_TOOLS)
    facts = result["ansible_facts"]["kdump"]
    assert result["changed"] is False and result["kdump"] == facts
    assert sorted(facts) == sorted([
        "distribution", "architecture", "mem_total_bytes", "kernel_release", "kernel_config", "boot_id", "tooling",
        "crashkernel", "loaded", "service", "config", "target", "dump_path", "dump_path_free_bytes", "dumps",
        "last_crash_test", "last_capture", "capture_config", "vmcore_creation_status", "conflicts",
        "ssh_public_key", "panic_sysctls"])
    assert facts["distribution"] == {"id": "debian", "version_id": "12", "major": 12, "family": "debian"}
    assert facts["mem_total_bytes"] == 850652 * 1024 and facts["kernel_release"] == "6.1.0-50-amd64"
    assert facts["boot_id"] == "0f3c2d1e-8a7b-4c5d-9e0f-123456789abc"
    assert facts["tooling"]["name"] == "kdump-tools" and facts["tooling"]["installed"] is True
    assert facts["tooling"]["makedumpfile_version"] == "1.7.2"
    assert facts["tooling"]["compressions"] == ["zlib", "lzo"]
    assert facts["crashkernel"] == {"cmdline": "384M-:128M", "bootloader": "384M-:128M",
                                    "bootloader_source": "/boot/grub/grub.cfg", "reserved_bytes": 134217728,
                                    "cma_total_bytes": 0}
    assert facts["kernel_config"] == {"path": None, "options": {"CONFIG_CMA": None}}  # no /boot/config here
    assert facts["loaded"] is True
    assert facts["service"] == {"name": "kdump-tools", "enabled": True, "active": True}
    assert facts["config"]["exists"] is True and facts["config"]["settings"]["USE_KDUMP"] == "1"
    assert facts["target"] == {"path": "/var/crash", "ssh": None, "nfs": None}
    assert facts["dump_path"] == "/var/crash" and facts["dump_path_free_bytes"] > 0
    assert len(facts["dumps"]) == 5 and facts["dumps"][0]["dmesg_has_sysrq_crash"] is True
    assert facts["last_crash_test"] == {"result": "passed"}
    assert facts["conflicts"] == [] and facts["vmcore_creation_status"] is None
    assert facts["capture_config"]["files"] == ["/etc/default/kdump-tools"]  # the tree has no capture kernel


def test_module_dump_path_option_and_coredir(monkeypatch, capsys, tmp_path):
    debian12_root(tmp_path)
    write(tmp_path, "/etc/default/kdump-tools", 'USE_KDUMP=1\nKDUMP_COREDIR="/srv/crash"\n')
    make_dump_tree(tmp_path, "/srv/crash")
    facts = run_module(monkeypatch, capsys, tmp_path, DEBIAN12_TOOLS)["kdump"]
    assert facts["dump_path"] == "/srv/crash" and facts["dumps"][0]["path"].startswith("/srv/crash/")
    facts = run_module(monkeypatch, capsys, tmp_path, DEBIAN12_TOOLS, {"dump_path": "/var/crash/nfs1"})["kdump"]
    assert [d["path"] for d in facts["dumps"]] == ["/var/crash/nfs1/2026-11-25-08:00/vmcore"]


def test_module_on_an_empty_host_never_fails(monkeypatch, capsys, tmp_path):
    facts = run_module(monkeypatch, capsys, tmp_path, {})["kdump"]
    assert facts["distribution"]["family"] == "unknown"
    assert facts["tooling"] == {"name": None, "installed": False, "packages": dict.fromkeys(_facts.TOOLING_PACKAGES),
                                "makedumpfile_version": None, "compressions": []}
    assert facts["crashkernel"] == {"cmdline": None, "bootloader": None, "bootloader_source": None, "reserved_bytes": 0,
                                    "cma_total_bytes": None}
    assert facts["loaded"] is False and facts["mem_total_bytes"] is None
    assert facts["service"] == {"name": None, "enabled": None, "active": None}
    assert facts["dumps"] == [] and facts["last_crash_test"] is None and facts["dump_path"] == "/var/crash"
    assert facts["panic_sysctls"] == dict.fromkeys(PANIC_SYSCTLS)


def test_module_ignores_a_fact_file_that_is_not_json(monkeypatch, capsys, tmp_path):
    write(tmp_path, "/etc/ansible/facts.d/crashdump_kdump.fact", "[section]\nkey=value\n")
    assert run_module(monkeypatch, capsys, tmp_path, {})["kdump"]["last_crash_test"] is None


def test_module_rejects_unknown_options(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(kdump_facts, "ROOT", str(tmp_path))
    with patch_module_args({"dmesg_lines": 10}):
        with pytest.raises(SystemExit) as info:
            kdump_facts.main()
    assert info.value.code == 1
    assert "dmesg_lines" in json.loads(capsys.readouterr().out)["msg"]


# --- capture record integers, capture configuration, kdumpctl test status ------------------------

def test_last_capture_memory_figures_are_integers(tmp_path):
    write(tmp_path, _facts.LAST_CAPTURE_FILE, "result=saved\nstamp=202611280306\nmem_total_kib=225484\n"
                                              "mem_available_min_kib=61240\n")
    assert _facts.read_last_capture(host_at(tmp_path)[0]) == {
        "result": "saved", "stamp": "202611280306", "mem_total_kib": 225484, "mem_available_min_kib": 61240}
    write(tmp_path, _facts.LAST_CAPTURE_FILE, "result=saved\nmem_total_kib=\nmem_available_min_kib=-5\n")
    assert _facts.read_last_capture(host_at(tmp_path)[0]) == {
        "result": "saved", "mem_total_kib": None, "mem_available_min_kib": None}
    write(tmp_path, _facts.LAST_CAPTURE_FILE, "mem_total_kib=\u00b2\nmem_available_min_kib=12 kB\n")  # not numbers
    assert _facts.read_last_capture(host_at(tmp_path)[0]) == {"mem_total_kib": None, "mem_available_min_kib": None}


def capture_tree(root):
    write(root, "/etc/default/kdump-tools", "USE_KDUMP=1\n")
    write(root, "/usr/lib/crashdump-kdump/capture", "#!/bin/sh\n")
    write(root, "/boot/vmlinuz-6.1.0-50-amd64", b"k" * 100, mtime=1795000000)
    write(root, "/var/lib/kdump/initrd.img-6.1.0-50-amd64", b"i" * (_facts.IMAGE_BYTES + 1), mtime=1795000000)
    write(root, "/var/lib/kdump/initrd.img-6.1.0-51-amd64", b"i" * (_facts.IMAGE_BYTES + 1), mtime=1795000000)
    # kdump-config symlinks: relative links, so that they resolve inside the test's root
    os.symlink("../../../boot/vmlinuz-6.1.0-50-amd64", str(root / "var/lib/kdump/vmlinuz"))
    os.symlink("initrd.img-6.1.0-50-amd64", str(root / "var/lib/kdump/initrd.img"))


DEBIAN_INPUTS = ["/etc/default/kdump-tools", "/usr/lib/crashdump-kdump/capture", "/var/lib/kdump/vmlinuz",
                 "/var/lib/kdump/initrd.img"]


def test_capture_config_checksum_follows_each_input(tmp_path):
    capture_tree(tmp_path)
    host = host_at(tmp_path)[0]

    def checksum(settings=None):
        return _facts.read_capture_config(host, "debian", "6.1.0-50-amd64", settings or {})

    first = checksum()
    assert first["files"] == DEBIAN_INPUTS and len(first["checksum"]) == 64
    assert checksum() == first  # stable

    seen = {first["checksum"]}
    changes = [
        lambda: write(tmp_path, "/etc/default/kdump-tools", "USE_KDUMP=1\nMAKEDUMP_ARGS='-c -d 1'\n"),
        lambda: write(tmp_path, "/etc/crashdump-kdump/capture.conf", "CRASHDUMP_TARGET=local\n"),  # appears
        # a rebuilt initrd of the same size: its mtime changed
        lambda: write(tmp_path, "/var/lib/kdump/initrd.img-6.1.0-50-amd64", b"j" * (_facts.IMAGE_BYTES + 1),
                      mtime=1795000100),
        # the link now leads to another initrd with the same size and mtime
        lambda: (os.unlink(str(tmp_path / "var/lib/kdump/initrd.img")),
                 os.symlink("initrd.img-6.1.0-51-amd64", str(tmp_path / "var/lib/kdump/initrd.img"))),
        lambda: os.unlink(str(tmp_path / "boot/vmlinuz-6.1.0-50-amd64")),  # the kernel link now leads nowhere
    ]
    for change in changes:
        change()
        seen.add(checksum()["checksum"])
    assert len(seen) == len(changes) + 1
    assert checksum()["files"] == ["/etc/default/kdump-tools", "/etc/crashdump-kdump/capture.conf",
                                   "/usr/lib/crashdump-kdump/capture", "/var/lib/kdump/initrd.img"]
    # an image is known by size and mtime: the same bytes rewritten later count as a rebuild
    before = checksum()["checksum"]
    os.utime(str(tmp_path / "var/lib/kdump/initrd.img-6.1.0-51-amd64"), (1795000200, 1795000200))
    assert checksum()["checksum"] != before
    # KDUMP_KERNEL and KDUMP_INITRD of the configuration name other files
    other = checksum({"KDUMP_KERNEL": "/var/lib/kdump/initrd.img-6.1.0-50-amd64", "KDUMP_INITRD": "/srv/initrd"})
    assert other["files"] == ["/etc/default/kdump-tools", "/etc/crashdump-kdump/capture.conf",
                              "/usr/lib/crashdump-kdump/capture", "/var/lib/kdump/initrd.img-6.1.0-50-amd64"]


def test_capture_config_of_red_hat_and_unknown_families(tmp_path):
    write(tmp_path, "/etc/kdump.conf", "path /var/crash\n")
    write(tmp_path, "/boot/initramfs-5.14.0-427.el9.x86_64kdump.img", b"x" * 10)
    config = _facts.read_capture_config(host_at(tmp_path)[0], "redhat", "5.14.0-427.el9.x86_64", {})
    assert config["files"] == ["/etc/kdump.conf", "/boot/initramfs-5.14.0-427.el9.x86_64kdump.img"]
    assert _facts.read_capture_config(host_at(tmp_path)[0], "unknown", "6.1", {}) is None


def test_vmcore_creation_status_of_kdumpctl_test():
    # set_vmcore_creation_status in kdump-utils' kdumpctl: "$_status kdump_test_id=$(date +%s-%N)"
    assert _facts.parse_vmcore_creation_status("success kdump_test_id=1795835229-123456789\n") == {
        "status": "success", "epoch": 1795835229, "time": "2026-11-28T03:07:09Z"}
    assert _facts.parse_vmcore_creation_status("pending kdump_test_id=1795835229-5")["status"] == "pending"
    for text in (None, "", "success", "success kdump_test_id=", "garbage here\n"):
        assert _facts.parse_vmcore_creation_status(text) is None


# --- conflicts ---------------------------------------------------------------------------------------

def conflict_root(root):
    """A Debian host that the kdump role configured, with no conflict."""
    write(root, "/proc/sys/kernel/osrelease", "6.1.0-50-amd64\n")
    write(root, "/proc/sys/kernel/kexec_load_disabled", "0\n")
    write(root, "/proc/sysrq-trigger", "")
    write(root, "/sys/kernel/security/lockdown", "[none] integrity confidentiality\n")
    write(root, DebianHost.grub_dropin, DebianHost.grub_dropin_content("384M-:128M"))  # as the role writes it


OURS = {"cmdline": "384M-:128M", "bootloader": "384M-:128M", "bootloader_source": "/boot/grub/grub.cfg"}


def conflicts(root, crashkernel=None, loaded=True, family="debian"):
    return _facts.read_conflicts(host_at(root)[0], family, "6.1.0-50-amd64", crashkernel or OURS, loaded)


def test_no_conflict_on_a_configured_host(tmp_path):
    conflict_root(tmp_path)
    assert conflicts(tmp_path) == []


def test_kexec_load_disabled(tmp_path):
    conflict_root(tmp_path)
    write(tmp_path, "/proc/sys/kernel/kexec_load_disabled", "1\n")
    assert conflicts(tmp_path) == ["kernel.kexec_load_disabled=1 (a hardening setting): no capture kernel can be "
                                   "loaded or reloaded until the next boot"]


def test_no_sysrq_trigger(tmp_path):
    conflict_root(tmp_path)
    os.unlink(str(tmp_path / "proc/sysrq-trigger"))
    assert conflicts(tmp_path) == ["no /proc/sysrq-trigger (a kernel without CONFIG_MAGIC_SYSRQ): a crash test "
                                   "cannot crash this host"]


def test_kernel_sysrq_0_is_not_a_conflict(tmp_path):
    """kernel.sysrq masks the keyboard only: writes to /proc/sysrq-trigger are always handled
    (write_sysrq_trigger calls __handle_sysrq(c, false), check_mask false; admin-guide/sysrq.rst)."""
    conflict_root(tmp_path)
    write(tmp_path, "/proc/sys/kernel/sysrq", "0\n")
    assert conflicts(tmp_path) == []


@pytest.mark.parametrize("mode, config, loaded, conflict", [
    ("[integrity]", "CONFIG_KEXEC_FILE=y\n# CONFIG_KEXEC_SIG is not set\n", False, True),
    ("none integrity [confidentiality]", "# CONFIG_KEXEC_FILE is not set\n", False, True),
    ("[integrity]", "CONFIG_KEXEC_FILE=y\nCONFIG_KEXEC_SIG=y\n", False, False),  # signed kexec_file_load works
    ("[integrity]", "# CONFIG_KEXEC_FILE is not set\n", True, False),  # loaded anyway: it works
    ("[integrity]", None, False, False),  # no kernel config: not known, not claimed
    ("[none] integrity confidentiality", "# CONFIG_KEXEC_FILE is not set\n", False, False),
])
def test_lockdown_without_signed_kexec_file_load(tmp_path, mode, config, loaded, conflict):
    conflict_root(tmp_path)
    write(tmp_path, "/sys/kernel/security/lockdown", mode + "\n")
    if config is not None:
        write(tmp_path, "/boot/config-6.1.0-50-amd64", config)
    found = conflicts(tmp_path, loaded=loaded)
    assert bool(found) == conflict
    if conflict:
        assert found[0].startswith(f"kernel lockdown ({mode[mode.index('[') + 1:mode.index(']')]}) refuses "
                                   "kexec_load") and "/boot/config-6.1.0-50-amd64" in found[0]


def test_crashkernel_from_elsewhere(tmp_path):
    conflict_root(tmp_path)
    assert conflicts(tmp_path, dict(OURS, bootloader="384M-:128M 512M")) == [
        "crashkernel=512M on the next boot's command line (/boot/grub/grub.cfg) comes from elsewhere: the kdump "
        "role set crashkernel=384M-:128M (/etc/default/grub.d/zz-crashdump-kdump.cfg)"]
    # before the role ran (no drop-in), a crashkernel= is what the role will replace: no conflict
    os.unlink(str(tmp_path / "etc/default/grub.d/zz-crashdump-kdump.cfg"))
    assert conflicts(tmp_path, dict(OURS, bootloader="512M")) == []


def test_crashkernel_from_elsewhere_on_red_hat_and_with_kdump_off(tmp_path):
    conflict_root(tmp_path)
    write(tmp_path, "/etc/crashdump-kdump/crashkernel", crashkernel_file_content("448M"))  # as the role writes it
    grubby = {"bootloader": "1G-4G:192M,4G-64G:256M", "bootloader_source": "grubby --info=DEFAULT"}
    assert conflicts(tmp_path, grubby, family="redhat") == [
        "crashkernel=1G-4G:192M,4G-64G:256M on the next boot's command line (grubby --info=DEFAULT) comes from "
        "elsewhere: the kdump role set crashkernel=448M (/etc/crashdump-kdump/crashkernel)"]
    # enabled: false leaves a drop-in without crashkernel=: any value is foreign
    write(tmp_path, DebianHost.grub_dropin, DebianHost.grub_dropin_content(None))
    assert "the kdump role set none" in conflicts(tmp_path, dict(OURS, bootloader="256M"))[0]


def test_masked_service(tmp_path):
    conflict_root(tmp_path)
    os.makedirs(str(tmp_path / "etc/systemd/system"))
    os.symlink("/dev/null", str(tmp_path / "etc/systemd/system/kdump-tools.service"))
    assert conflicts(tmp_path) == [
        "the kdump-tools service is masked (/etc/systemd/system/kdump-tools.service links to /dev/null)"]
    os.unlink(str(tmp_path / "etc/systemd/system/kdump-tools.service"))  # an alias link is not a mask
    os.symlink("/lib/systemd/system/kdump-tools.service", str(tmp_path / "etc/systemd/system/kdump-tools.service"))
    assert conflicts(tmp_path) == []
    os.makedirs(str(tmp_path / "run/systemd/system"))
    os.symlink("/dev/null", str(tmp_path / "run/systemd/system/kdump.service"))
    assert conflicts(tmp_path, family="redhat") == [
        "the kdump service is masked (/run/systemd/system/kdump.service links to /dev/null)"]


def test_module_reports_conflicts_and_the_kdumpctl_test_status(monkeypatch, capsys, tmp_path):
    debian12_root(tmp_path)
    write(tmp_path, "/proc/sys/kernel/kexec_load_disabled", "1\n")
    write(tmp_path, _facts.VMCORE_CREATION_STATUS, "fail kdump_test_id=1795835229-1\n")
    facts = run_module(monkeypatch, capsys, tmp_path, DEBIAN12_TOOLS)["kdump"]
    assert len(facts["conflicts"]) == 1 and facts["conflicts"][0].startswith("kernel.kexec_load_disabled=1")
    assert facts["vmcore_creation_status"]["status"] == "fail"


# --- panic triggers ---------------------------------------------------------------------------

def test_panic_sysctls_are_the_running_values_and_null_when_the_kernel_lacks_one(tmp_path):
    # A kernel without CONFIG_HARDLOCKUP_DETECTOR has no hardlockup_panic; values as /proc shows them.
    write(tmp_path, "/proc/sys/kernel/panic_on_oops", "1\n")
    write(tmp_path, "/proc/sys/kernel/hung_task_panic", "0\n")
    write(tmp_path, "/proc/sys/kernel/softlockup_panic", "0\n")
    write(tmp_path, "/proc/sys/kernel/panic_on_unrecovered_nmi", "garbage\n")
    assert _facts.read_panic_sysctls(host_at(tmp_path)[0]) == {
        "kernel.panic_on_oops": 1, "kernel.hung_task_panic": 0, "kernel.softlockup_panic": 0,
        "kernel.hardlockup_panic": None, "kernel.panic_on_unrecovered_nmi": None}


def test_module_reports_the_panic_sysctls(monkeypatch, capsys, tmp_path):
    debian12_root(tmp_path)
    for name, value in (("panic_on_oops", "0"), ("hung_task_panic", "1"), ("softlockup_panic", "0"),
                        ("hardlockup_panic", "0"), ("panic_on_unrecovered_nmi", "0")):
        write(tmp_path, f"/proc/sys/kernel/{name}", value + "\n")
    facts = run_module(monkeypatch, capsys, tmp_path, DEBIAN12_TOOLS)["kdump"]
    assert facts["panic_sysctls"] == {"kernel.panic_on_oops": 0, "kernel.hung_task_panic": 1,
                                      "kernel.softlockup_panic": 0, "kernel.hardlockup_panic": 0,
                                      "kernel.panic_on_unrecovered_nmi": 0}
