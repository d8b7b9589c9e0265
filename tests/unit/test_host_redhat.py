"""The Red Hat host backend (grubby, kdump.service, the dump path on device and NFS targets)
with a fake command runner and a directory tree standing in for /.

grubby --info fixtures follow grubby's two output formats: grubby-bls (RHEL 8+, Fedora: every
value quoted, root= split out of args, id= of the Boot Loader Spec entry; RHEL 8 keeps
$tuned_params unexpanded) and the C grubby of non-BLS hosts (only args quoted, "non linux
entry" for chainloaders). The kdump.conf inputs are the planner's own golden files.
"""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _hostcommon
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends_rpm import (
    RedHatHost,
    crashkernel_file_content,
    written_crashkernel,
)
from ansible_collections.crashdump.kdump.plugins.modules import kdump_config

from hostfakes import FakeFilesystem, FakeModule, read, write

HERE = os.path.dirname(__file__)
RHEL9_DEFAULT = "1G-4G:192M,4G-64G:256M,64G-:512M"
OK = (0, "", "")
NOT_FOUND = (1, "", "")


def fixture(name):
    with open(os.path.join(HERE, "fixtures", "host", name), encoding="utf-8") as handle:
        return handle.read()


def golden(name):
    with open(os.path.join(HERE, "golden", "rhel9", name), encoding="utf-8") as handle:
        return handle.read()


def host_at(root, handlers=None, check_mode=False):
    module = FakeModule(handlers, check_mode)
    return RedHatHost(module, root=str(root)), module


# --- grubby --info ---------------------------------------------------------------------------

def test_grubby_bls_output_parses_into_entries():
    entries = _hostcommon.parse_grubby_info(fixture("grubby-info-all.rhel9"))
    assert len(entries) == 3
    assert entries[2] == {
        "index": "2",
        "kernel": "/boot/vmlinuz-0-rescue-0f1b6e4c8e1d4b7e9c2f5a3b1d6e8f90",
        "args": f"ro crashkernel={RHEL9_DEFAULT} resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root "
                "rd.lvm.lv=rhel/swap",
        "root": "/dev/mapper/rhel-root",
        "initrd": "/boot/initramfs-0-rescue-0f1b6e4c8e1d4b7e9c2f5a3b1d6e8f90.img",
        "title": "Red Hat Enterprise Linux (0-rescue-0f1b6e4c8e1d4b7e9c2f5a3b1d6e8f90) 9.4 (Plow)",
        "id": "0f1b6e4c8e1d4b7e9c2f5a3b1d6e8f90-0-rescue",
    }


def test_grubby_rhel8_keeps_tuned_params_unexpanded():
    entries = _hostcommon.parse_grubby_info(fixture("grubby-info-all.rhel8"))
    assert [e["args"].split()[-1] for e in entries] == ["$tuned_params", "quiet"]
    assert entries[0]["initrd"] == "/boot/initramfs-4.18.0-553.el8_10.x86_64.img $tuned_initrd"


def test_legacy_grubby_output_skips_non_linux_entries():
    entries = _hostcommon.parse_grubby_info(fixture("grubby-info-all.legacy"))
    assert [e["index"] for e in entries] == ["0", "2"]
    assert entries[0]["kernel"] == "/boot/vmlinuz-3.10.0-1160.el7.x86_64"
    assert entries[0]["title"] == "CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)"
    assert entries[0]["args"].startswith("ro crashkernel=256M rd.lvm.lv=centos/root")


def test_grubby_output_without_entries():
    assert _hostcommon.parse_grubby_info("") == []
    assert _hostcommon.parse_grubby_info("args=\"ro\"\n") == []  # a value before any index= belongs to nothing


# --- bootloader_has / update_bootloader --------------------------------------------------------

def with_args(text, old, new):
    return text.replace(f"crashkernel={old}", new)


def rescue_without_crashkernel(text):
    """The fixture with crashkernel= gone from its last (rescue) entry only."""
    head, sep, rescue = text.rpartition("index=2\n")
    return head + sep + rescue.replace(f" crashkernel={RHEL9_DEFAULT}", "")


@pytest.mark.parametrize("output, planned, expected", [
    (fixture("grubby-info-all.rhel9"), RHEL9_DEFAULT, True),
    (fixture("grubby-info-all.rhel9"), "256M", False),
    (fixture("grubby-info-all.rhel9"), None, False),
    # one entry (the rescue one) without it: --update-kernel=ALL would change it
    (rescue_without_crashkernel(fixture("grubby-info-all.rhel9")), RHEL9_DEFAULT, False),
    (with_args(fixture("grubby-info-all.rhel9"), RHEL9_DEFAULT, "crashkernel=256M crashkernel=128M"), "256M", False),
    (with_args(fixture("grubby-info-all.rhel9"), RHEL9_DEFAULT, "nokaslr"), None, True),
    (fixture("grubby-info-all.rhel8"), "auto", True),
    (fixture("grubby-info-all.legacy"), "256M", True),
    ("", None, False),  # no boot entry at all: nothing to trust
])
def test_bootloader_has_reads_every_entry(tmp_path, output, planned, expected):
    host, module = host_at(tmp_path, {"grubby": (0, output, "")})
    assert host.bootloader_has(planned) is expected
    assert module.calls == [["grubby", "--info=ALL"]]


def test_bootloader_has_is_false_when_grubby_fails(tmp_path):
    host, dummy = host_at(tmp_path, {"grubby": (1, fixture("grubby-info-all.rhel9"), "error")})
    assert host.bootloader_has(RHEL9_DEFAULT) is False


@pytest.mark.parametrize("value, argv_tail", [
    ("256M", ["--remove-args=crashkernel", "--args=crashkernel=256M"]),
    (RHEL9_DEFAULT, ["--remove-args=crashkernel", f"--args=crashkernel={RHEL9_DEFAULT}"]),
    (None, ["--remove-args=crashkernel"]),
])
def test_update_bootloader_applies_the_crashkernel_file(tmp_path, value, argv_tail):
    host, module = host_at(tmp_path, {"grubby": OK})
    for entry in host.bootloader_files(value):
        write(tmp_path, entry["path"], entry["content"])
    host.update_bootloader()
    assert module.calls == [["grubby", "--update-kernel=ALL"] + argv_tail]


def test_update_bootloader_failure_carries_grubby_output(tmp_path):
    host, dummy = host_at(tmp_path, {"grubby": (1, "", "grubby fatal error: unable to find a suitable template\n")})
    with pytest.raises(_hostcommon.BackendError, match=r"grubby --update-kernel=ALL --remove-args=crashkernel "
                                                       r"failed \(rc=1\): grubby fatal error: unable to find"):
        host.update_bootloader()


def test_crashkernel_file_content():
    assert crashkernel_file_content("256M") == (
        "# Managed by crashdump.kdump from kdump_policy: local changes are overwritten.\n"
        "# The crashkernel= value(s) the bootloader is set to (empty: none).\n"
        'CRASHKERNEL="256M"\n')
    assert crashkernel_file_content(None).endswith('\nCRASHKERNEL=""\n')


def test_crashkernel_file_is_a_host_path_and_round_trips(tmp_path):
    # a host path, like the plan's files: kdump_config writes both through the host (below root)
    host, dummy = host_at(tmp_path)
    [entry] = host.bootloader_files("256M@16M")
    assert entry["path"] == "/etc/crashdump-kdump/crashkernel" and entry["mode"] == 0o644
    assert entry["content"] == crashkernel_file_content("256M@16M")
    write(tmp_path, entry["path"], entry["content"])
    assert written_crashkernel(read(tmp_path, "/etc/crashdump-kdump/crashkernel")) == "256M@16M"
    assert written_crashkernel(None) is None


# --- the kdump service -------------------------------------------------------------------------

def loaded(root, value):
    write(root, "/sys/kernel/kexec_crash_loaded", f"{value}\n")


def test_load_restarts_the_service_and_checks_the_kernel(tmp_path):
    loaded(tmp_path, 1)
    host, module = host_at(tmp_path, {"systemctl": OK})
    host.load()
    assert module.calls == [["systemctl", "restart", "kdump"]]


def test_load_that_leaves_nothing_loaded_fails(tmp_path):
    loaded(tmp_path, 0)
    host, dummy = host_at(tmp_path, {"systemctl": OK})
    with pytest.raises(_hostcommon.BackendError, match="systemctl restart kdump ended but "
                                                       "/sys/kernel/kexec_crash_loaded is not 1"):
        host.load()


def test_failed_start_reports_the_service_log(tmp_path):
    log = ("kdumpctl[812]: kdump: Dump path \"/hosts\" does not exist in dump target \"nfs.example.org:/srv/crash\"\n"
           "kdumpctl[812]: kdump: mkdumprd: failed to make kdump initrd\n")
    host, module = host_at(tmp_path, {"systemctl": (1, "", "Job for kdump.service failed."),
                                      "journalctl": (0, log, "")})
    with pytest.raises(_hostcommon.BackendError) as info:
        host.load()
    assert str(info.value) == ("systemctl restart kdump failed (rc=1): Job for kdump.service failed.\n"
                               + log.strip())
    assert module.calls[1] == ["journalctl", "-u", "kdump", "-n", "20", "--no-pager"]


def test_failed_start_without_a_journal(tmp_path):
    host, dummy = host_at(tmp_path, {"systemctl": (1, "", "failed"), "journalctl": (1, "ignored", "")})
    with pytest.raises(_hostcommon.BackendError) as info:
        host.load()
    assert str(info.value) == "systemctl restart kdump failed (rc=1): failed"


@pytest.mark.parametrize("value, calls", [(1, [["systemctl", "stop", "kdump"]]), (0, [])])
def test_unload_stops_the_service_only_when_loaded(tmp_path, value, calls):
    loaded(tmp_path, value)
    host, module = host_at(tmp_path, {"systemctl": OK})
    host.unload()
    assert module.calls == calls


def test_nothing_to_prepare(tmp_path):
    host, module = host_at(tmp_path)
    assert host.prepare() is False and module.calls == []


# --- the dump path on the target (mkdumprd's check_user_configured_target) -----------------------

FINDMNT_K = ["findmnt", "-k", "-n", "-r", "-o", "TARGET,SOURCE", "--source"]
FINDMNT_S = ["findmnt", "-s", "-n", "-r", "-o", "TARGET,OPTIONS", "--source"]


def nfs_host(tmp_path, conf="nfs-level31-auto.conf", findmnt_k=NOT_FOUND, findmnt_s=NOT_FOUND, check_mode=False,
             **fs_results):
    write(tmp_path, "/etc/kdump.conf", golden(conf))
    os.makedirs(tmp_path / "run", exist_ok=True)
    target = FakeFilesystem(tmp_path, tmp_path / "server-export", **fs_results)
    findmnt = {"-k": findmnt_k, "-s": findmnt_s}
    host, module = host_at(tmp_path, {"findmnt": lambda args: findmnt[args[1]], "mount": target.mount,
                                      "umount": target.umount}, check_mode)
    return host, module, target


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_nfs_path_is_created_on_a_temporary_mount(tmp_path):
    host, module, target = nfs_host(tmp_path)
    assert host.check_target() is True
    mountpoint = module.calls[2][-1]
    assert mountpoint.startswith("/run/crashdump-kdump-target.")  # recognisable in a mount listing
    assert module.calls == [FINDMNT_K + ["nfs.example.org:/srv/crash"], FINDMNT_S + ["nfs.example.org:/srv/crash"],
                            ["mount", "-t", "nfs", "-o", "defaults", "nfs.example.org:/srv/crash", mountpoint],
                            ["umount", mountpoint]]
    assert mode_of(os.path.join(target.store, "hosts")) == 0o700
    assert os.listdir(tmp_path / "run") == []  # the temporary mount point is gone


def test_existing_path_is_left_alone_and_still_unmounted(tmp_path):
    host, module, target = nfs_host(tmp_path)
    os.makedirs(os.path.join(target.store, "hosts"), mode=0o755)
    assert host.check_target() is False
    assert [call[0] for call in module.calls] == ["findmnt", "findmnt", "mount", "umount"]
    assert mode_of(os.path.join(target.store, "hosts")) == 0o755


def test_device_target_mounted_already_gets_the_path_there(tmp_path):
    source = "UUID=0b9c5a7e-3f9e-4c1e-9d3b-2a4c6e8f0a1b"
    host, module, dummy = nfs_host(tmp_path, "device-level31-auto.conf",
                                   findmnt_k=(0, f"/srv/dump\\x20disk {source}\n", ""))
    os.makedirs(tmp_path / "srv/dump disk")
    assert host.check_target() is True
    assert module.calls == [FINDMNT_K + [source]]
    assert mode_of(tmp_path / "srv/dump disk/crash") == 0o700


def test_btrfs_subvolume_mount_is_not_the_target_root(tmp_path):
    source = "UUID=0b9c5a7e-3f9e-4c1e-9d3b-2a4c6e8f0a1b"
    host, module, target = nfs_host(tmp_path, "device-level31-auto.conf",
                                    findmnt_k=(0, f"/home /dev/vdb[/@home]\n", ""))
    assert host.check_target() is True
    assert module.calls[2][:6] == ["mount", "-t", "xfs", "-o", "defaults", source]
    assert not (tmp_path / "home/crash").exists() and (tmp_path / "server-export/crash").is_dir()


def test_noauto_fstab_entry_is_mounted_where_fstab_says(tmp_path):
    host, module, target = nfs_host(tmp_path, findmnt_s=(0, "/mnt/crash rw,noauto,vers=4.2\n", ""))
    os.makedirs(tmp_path / "mnt/crash")
    assert host.check_target() is True
    assert module.calls[2:] == [["mount", "/mnt/crash"], ["umount", "/mnt/crash"]]
    assert (tmp_path / "server-export/hosts").is_dir()


def test_fstab_entry_that_is_not_mounted_is_refused_like_mkdumprd(tmp_path):
    host, module, dummy = nfs_host(tmp_path, findmnt_s=(0, "/mnt/crash rw,vers=4.2\n", ""))
    with pytest.raises(_hostcommon.BackendError, match=r"^dump target nfs.example.org:/srv/crash is in /etc/fstab "
                                                       r"but neither mounted nor noauto, which mkdumprd refuses: "
                                                       r"mount it \(or mark it noauto\) and run again$"):
        host.check_target()
    assert [call[0] for call in module.calls] == ["findmnt", "findmnt"]


def test_mount_failure_is_clear_and_leaves_no_mount_point(tmp_path):
    host, module, dummy = nfs_host(tmp_path, mount_rc=(32, "", "mount.nfs: Connection timed out"))
    with pytest.raises(_hostcommon.BackendError) as info:
        host.check_target()
    assert str(info.value) == (
        "dump target nfs.example.org:/srv/crash: cannot mount it to create the dump path /hosts there, which "
        f"mkdumprd needs: mount -t nfs -o defaults nfs.example.org:/srv/crash {module.calls[2][-1]} failed "
        "(rc=32): mount.nfs: Connection timed out")
    assert [call[0] for call in module.calls] == ["findmnt", "findmnt", "mount"]
    assert os.listdir(tmp_path / "run") == []


def test_umount_failure_says_it_is_still_mounted(tmp_path):
    host, module, dummy = nfs_host(tmp_path, umount_rc=(32, "", "umount: target is busy."))
    with pytest.raises(_hostcommon.BackendError, match=r"dump target nfs.example.org:/srv/crash: umount .* failed "
                                                       r"\(rc=32\), it is still mounted there: umount: target is busy"):
        host.check_target()


def test_path_that_cannot_be_created(tmp_path):
    host, module, target = nfs_host(tmp_path)
    with open(os.path.join(target.store, "hosts"), "w", encoding="utf-8"):
        pass  # a file where the directory should be
    with pytest.raises(_hostcommon.BackendError, match=r"dump target nfs.example.org:/srv/crash: cannot create the "
                                                       r"dump path /hosts there: File exists"):
        host.check_target()
    assert module.calls[-1][0] == "umount"


def test_check_mode_mounts_nothing(tmp_path):
    host, module, target = nfs_host(tmp_path, check_mode=True)
    assert host.check_target() is False
    assert module.calls == [FINDMNT_K + ["nfs.example.org:/srv/crash"]]
    source = "UUID=0b9c5a7e-3f9e-4c1e-9d3b-2a4c6e8f0a1b"
    host, module, dummy = nfs_host(tmp_path, "device-level31-auto.conf", check_mode=True,
                                   findmnt_k=(0, f"/srv/dump {source}\n", ""))
    os.makedirs(tmp_path / "srv/dump")
    assert host.check_target() is True  # predicted
    assert not (tmp_path / "srv/dump/crash").exists()


def test_every_directory_created_is_private(tmp_path):
    write(tmp_path, "/etc/kdump.conf", "ext4 LABEL=dumps\npath //var//crash/\n")
    host, dummy = host_at(tmp_path, {"findmnt": (0, "/dumps LABEL=dumps\n", "")})
    os.makedirs(tmp_path / "dumps")
    assert host.check_target() is True
    assert mode_of(tmp_path / "dumps/var/crash") == mode_of(tmp_path / "dumps/var") == 0o700
    os.rmdir(tmp_path / "dumps/var/crash")
    write(tmp_path, "/etc/kdump.conf", "xfs LABEL=dumps\n")  # no path: kdump's default
    assert host.check_target() is True and (tmp_path / "dumps/var/crash").is_dir()


def test_mounted_target_where_the_path_cannot_be_created(tmp_path):
    write(tmp_path, "/etc/kdump.conf", "ext4 LABEL=dumps\npath /crash\n")
    write(tmp_path, "/dumps/crash", "")
    host, dummy = host_at(tmp_path, {"findmnt": (0, "/dumps LABEL=dumps\n", "")})
    with pytest.raises(_hostcommon.BackendError, match="^dump target LABEL=dumps: cannot create the dump path /crash "
                                                       "there: File exists$"):
        host.check_target()


def test_noauto_mount_failure_names_the_target(tmp_path):
    host, module, dummy = nfs_host(tmp_path, findmnt_s=(0, "/mnt/crash noauto\n", ""),
                                   mount_rc=(32, "", "mount.nfs: access denied by server"))
    with pytest.raises(_hostcommon.BackendError) as info:
        host.check_target()
    assert str(info.value) == ("dump target nfs.example.org:/srv/crash: cannot mount it to create the dump path "
                               "/hosts there, which mkdumprd needs: mount /mnt/crash failed (rc=32): mount.nfs: "
                               "access denied by server")


def test_fstab_entry_without_options_is_not_noauto(tmp_path):
    host, module, dummy = nfs_host(tmp_path, findmnt_s=(0, "/mnt/crash\n", ""))
    with pytest.raises(_hostcommon.BackendError, match="neither mounted nor noauto"):
        host.check_target()


def test_the_real_root_by_default():
    host = RedHatHost(FakeModule())
    assert host.path("/etc/kdump.conf") == "/etc/kdump.conf"


@pytest.mark.parametrize("conf", ["local-level31-auto.conf", "ssh-level31-auto.conf", "raw-level31-auto.conf"])
def test_targets_mkdumprd_does_not_mount_need_nothing(tmp_path, conf):
    write(tmp_path, "/etc/kdump.conf", golden(conf))
    host, module = host_at(tmp_path)
    assert host.check_target() is False and module.calls == []


# --- through kdump_config: apply, check mode, restore -------------------------------------------

def plan(root, crashkernel=RHEL9_DEFAULT, conf="nfs-level31-auto.conf"):
    return {
        "family": "redhat", "enabled": True, "service": "kdump", "crashkernel": crashkernel,
        "files": [{"path": "/etc/kdump.conf", "content": golden(conf), "mode": "0644"}],
        "directories": [], "mounts": [],
    }


def applier_at(root, module, plan_, service_enabled=True):
    return kdump_config.Applier(module, plan_, RedHatHost(module, root=str(root)), service_enabled)


@pytest.fixture
def kernel(tmp_path):
    """The running kernel below the fake root: its command line, reserved memory, not loaded."""
    write(tmp_path, "/proc/cmdline", f"BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0 ro crashkernel={RHEL9_DEFAULT} quiet\n")
    write(tmp_path, "/sys/kernel/kexec_crash_size", "268435456\n")
    loaded(tmp_path, 0)


def grubby_host(args_now):
    """grubby --info=ALL of a host whose entries have ``args_now``; --update-kernel sets it."""
    state = {"args": args_now}

    def grubby(args):
        if args[1] == "--info=ALL":
            return 0, f'index=0\nkernel="/boot/vmlinuz-5.14.0"\nargs="{state["args"]}"\nroot="/dev/vda3"\n', ""
        kept = [w for w in state["args"].split() if not w.startswith("crashkernel=")]
        state["args"] = " ".join(kept + [a[len("--args="):] for a in args[2:] if a.startswith("--args=")])
        return OK
    return grubby, state


def test_apply_creates_the_nfs_path_sets_grubby_and_loads(tmp_path, kernel):
    grubby, boot = grubby_host("ro quiet")
    target = FakeFilesystem(tmp_path, tmp_path / "server-export")
    os.makedirs(tmp_path / "run")

    def systemctl(args):
        if args[1] == "restart":
            loaded(tmp_path, 1)
        return OK
    module = FakeModule({"grubby": grubby, "systemctl": systemctl, "findmnt": NOT_FOUND,
                         "mount": target.mount, "umount": target.umount})
    result = applier_at(tmp_path, module, plan(tmp_path), service_enabled=False).apply()
    assert [call[:2] for call in module.calls] == [
        ["findmnt", "-k"], ["findmnt", "-s"], ["mount", "-t"], ["umount", module.calls[3][1]],
        ["grubby", "--info=ALL"], ["grubby", "--update-kernel=ALL"],
        ["systemctl", "enable"], ["systemctl", "restart"]]
    assert module.calls[5] == ["grubby", "--update-kernel=ALL", "--remove-args=crashkernel",
                               f"--args=crashkernel={RHEL9_DEFAULT}"]
    assert boot["args"] == f"ro quiet crashkernel={RHEL9_DEFAULT}"
    assert (tmp_path / "server-export/hosts").is_dir()
    assert result["changed_files"] == ["/etc/kdump.conf", "/etc/crashdump-kdump/crashkernel"]
    assert result["loaded"] is True and result["reboot_required"] is False


def test_check_mode_runs_only_readers(tmp_path, kernel):
    grubby, boot = grubby_host("ro quiet")
    module = FakeModule({"grubby": grubby}, check_mode=True)
    result = applier_at(tmp_path, module, plan(tmp_path), service_enabled=False).apply()
    assert module.calls == [["grubby", "--info=ALL"]]
    assert result["changed"] and [d["before_header"] for d in result["diff"]] == [
        "/etc/kdump.conf", "/etc/crashdump-kdump/crashkernel"]
    assert sorted(os.listdir(tmp_path)) == ["proc", "sys"]


def test_failed_load_restores_the_files_and_the_boot_entries(tmp_path, kernel):
    previous = golden("local-level31-auto.conf")
    write(tmp_path, "/etc/kdump.conf", previous)
    write(tmp_path, "/etc/crashdump-kdump/crashkernel", crashkernel_file_content("256M"))
    loaded(tmp_path, 1)  # the previous configuration was loaded: the rollback loads it again
    grubby, boot = grubby_host("ro crashkernel=256M")
    restarts = []

    def systemctl(args):
        if args[1] == "restart":
            restarts.append(read(tmp_path, "/etc/kdump.conf"))
            return (1, "", "Job for kdump.service failed.") if len(restarts) == 1 else OK
        return OK
    module = FakeModule({"grubby": grubby, "systemctl": systemctl, "journalctl": NOT_FOUND})
    with pytest.raises(_hostcommon.BackendError, match="Job for kdump.service failed"):
        applier_at(tmp_path, module, plan(tmp_path, conf="ssh-level31-auto.conf")).apply()
    grubby_calls = [call for call in module.calls if call[0] == "grubby"]
    assert grubby_calls == [
        ["grubby", "--info=ALL"],
        ["grubby", "--update-kernel=ALL", "--remove-args=crashkernel", f"--args=crashkernel={RHEL9_DEFAULT}"],
        ["grubby", "--update-kernel=ALL", "--remove-args=crashkernel", "--args=crashkernel=256M"]]
    assert boot["args"] == "ro crashkernel=256M"
    assert read(tmp_path, "/etc/kdump.conf") == previous
    assert written_crashkernel(read(tmp_path, "/etc/crashdump-kdump/crashkernel")) == "256M"
    assert restarts == [golden("ssh-level31-auto.conf"), previous]  # the new one failed, the old one reloaded


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_dump_path_missing_on_a_mounted_target_counts_as_a_change(tmp_path, kernel, check_mode):
    # Everything else compliant: the one change is the dump path mkdumprd needs on the device.
    conf, source = "device-level31-auto.conf", "UUID=0b9c5a7e-3f9e-4c1e-9d3b-2a4c6e8f0a1b"
    write(tmp_path, "/etc/kdump.conf", golden(conf))
    write(tmp_path, "/etc/crashdump-kdump/crashkernel", crashkernel_file_content(RHEL9_DEFAULT))
    loaded(tmp_path, 1)
    os.makedirs(tmp_path / "srv/dump")
    grubby, dummy = grubby_host(f"ro crashkernel={RHEL9_DEFAULT}")
    module = FakeModule({"grubby": grubby, "findmnt": (0, f"/srv/dump {source}\n", "")}, check_mode=check_mode)
    result = applier_at(tmp_path, module, plan(tmp_path, conf=conf)).apply()
    assert module.calls == [FINDMNT_K + [source], ["grubby", "--info=ALL"]]
    assert result["changed"] is True and result["changed_files"] == []
    assert (tmp_path / "srv/dump/crash").is_dir() is not check_mode  # check mode mounts and creates nothing
    # once the path exists, the same run is no change
    module.calls.clear()
    os.makedirs(tmp_path / "srv/dump/crash", exist_ok=True)
    assert applier_at(tmp_path, module, plan(tmp_path, conf=conf)).apply()["changed"] is False
