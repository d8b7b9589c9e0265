"""The SUSE host backend (/etc/default/grub, grub2-mkconfig, kdump.service) with a fake command
runner and a directory tree standing in for /.

default-grub.sles15 is the file SLES 15 SP6 installs; grub.cfg.sles15 is what its
grub2-mkconfig writes from it (10_linux: the first entry boots with GRUB_CMDLINE_LINUX and
GRUB_CMDLINE_LINUX_DEFAULT, the recovery entry with GRUB_CMDLINE_LINUX_RECOVERY instead).
The fake grub2-mkconfig below sources /etc/default/grub with sh and writes that layout.
"""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _hostcommon
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends_rpm import SuseHost, set_default_grub_crashkernel
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import default_grub_settings
from ansible_collections.crashdump.kdump.plugins.modules import kdump_config

from hostfakes import FakeModule, read, write

HERE = os.path.dirname(__file__)
OK = (0, "", "")
SLES_DEFAULT = ("splash=silent resume=/dev/disk/by-uuid/4a6a3c7e-8f5e-4f0b-9b3c-2f1e6d5c4b3a mitigations=auto quiet "
                "security=apparmor")
SLES_CRASHKERNEL = "crashkernel=219M,high crashkernel=72M,low"


def fixture(name):
    with open(os.path.join(HERE, "fixtures", "host", name), encoding="utf-8") as handle:
        return handle.read()


def host_at(root, handlers=None, check_mode=False):
    module = FakeModule(handlers, check_mode)
    return SuseHost(module, root=str(root)), module


# --- /etc/default/grub ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    (fixture("default-grub.sles15"), {"GRUB_CMDLINE_LINUX_DEFAULT": f"{SLES_DEFAULT} {SLES_CRASHKERNEL}",
                                      "GRUB_CMDLINE_LINUX": ""}),
    ("GRUB_CMDLINE_LINUX_DEFAULT=quiet\n", {"GRUB_CMDLINE_LINUX_DEFAULT": "quiet"}),
    ("GRUB_CMDLINE_LINUX='crashkernel=128M rd.shell=0'\n", {"GRUB_CMDLINE_LINUX": "crashkernel=128M rd.shell=0"}),
    ('   GRUB_CMDLINE_LINUX="console=ttyS0"\n', {"GRUB_CMDLINE_LINUX": "console=ttyS0"}),
    ('#GRUB_CMDLINE_LINUX="crashkernel=1G"\nGRUB_CMDLINE_XEN_DEFAULT="vga=gfx-1024x768x16"\n', {}),
    ('GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT quiet"\n', {"GRUB_CMDLINE_LINUX_DEFAULT": None}),
    ('GRUB_CMDLINE_LINUX_DEFAULT="quiet \\"x\\""\n', {"GRUB_CMDLINE_LINUX_DEFAULT": None}),
    ("GRUB_CMDLINE_LINUX_DEFAULT='it'\\''s'\n", {"GRUB_CMDLINE_LINUX_DEFAULT": None}),
    ("GRUB_CMDLINE_LINUX_DEFAULT=quiet;reboot\n", {"GRUB_CMDLINE_LINUX_DEFAULT": None}),
    ("GRUB_CMDLINE_LINUX_DEFAULT=`uname`\n", {"GRUB_CMDLINE_LINUX_DEFAULT": None}),
    ('GRUB_CMDLINE_LINUX_DEFAULT="\n', {"GRUB_CMDLINE_LINUX_DEFAULT": None}),  # continues on the next line
])
def test_default_grub_settings(text, expected):
    assert default_grub_settings(text) == expected


def test_sles_file_changes_in_its_crashkernel_words_only():
    text = fixture("default-grub.sles15")
    edited = set_default_grub_crashkernel(text, "256M")
    old_line = f'GRUB_CMDLINE_LINUX_DEFAULT="{SLES_DEFAULT} {SLES_CRASHKERNEL}"'
    assert edited == text.replace(old_line, f'GRUB_CMDLINE_LINUX_DEFAULT="{SLES_DEFAULT} crashkernel=256M"')
    assert set_default_grub_crashkernel(text, None) == text.replace(old_line,
                                                                    f'GRUB_CMDLINE_LINUX_DEFAULT="{SLES_DEFAULT}"')


@pytest.mark.parametrize("text, crashkernel, expected", [
    # unquoted, and moved out of GRUB_CMDLINE_LINUX (grub2-mkconfig joins both)
    ("GRUB_CMDLINE_LINUX='crashkernel=128M console=ttyS0'\nGRUB_CMDLINE_LINUX_DEFAULT=quiet\n", "256M",
     'GRUB_CMDLINE_LINUX="console=ttyS0"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet crashkernel=256M"\n'),
    ("GRUB_TIMEOUT=8\n", "1G-4G:192M,4G-:256M", 'GRUB_TIMEOUT=8\nGRUB_CMDLINE_LINUX_DEFAULT="crashkernel=1G-4G:192M,4G-:256M"\n'),
    ("GRUB_TIMEOUT=8\n", None, "GRUB_TIMEOUT=8\n"),
    ('GRUB_CMDLINE_LINUX_DEFAULT="crashkernel=256M"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n', "256M",
     'GRUB_CMDLINE_LINUX_DEFAULT="crashkernel=256M"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet crashkernel=256M"\n'),
    # compliant already: kept byte for byte (no quotes added, no newline added)
    ("GRUB_CMDLINE_LINUX_DEFAULT=crashkernel=256M", "256M", "GRUB_CMDLINE_LINUX_DEFAULT=crashkernel=256M"),
    ("GRUB_CMDLINE_LINUX=''\nGRUB_CMDLINE_LINUX_DEFAULT='quiet'", None, "GRUB_CMDLINE_LINUX=''\nGRUB_CMDLINE_LINUX_DEFAULT='quiet'"),
])
def test_default_grub_edit(text, crashkernel, expected):
    assert set_default_grub_crashkernel(text, crashkernel) == expected


def test_default_grub_edit_refuses_values_it_cannot_rewrite():
    with pytest.raises(_hostcommon.BackendError) as info:
        set_default_grub_crashkernel('GRUB_CMDLINE_LINUX="$EXTRA"\nGRUB_CMDLINE_LINUX_DEFAULT=quiet\n', "256M")
    assert str(info.value) == ("/etc/default/grub: GRUB_CMDLINE_LINUX is too complex to edit safely (quotes, "
                               "escapes or expansions); set crashkernel= there by hand")


def test_bootloader_file_is_default_grub_in_its_own_mode(tmp_path):
    write(tmp_path, "/etc/default/grub", fixture("default-grub.sles15"), mode=0o600)
    host, module = host_at(tmp_path)
    assert host.bootloader_files("256M") == [{
        "path": "/etc/default/grub", "mode": 0o600,
        "content": set_default_grub_crashkernel(fixture("default-grub.sles15"), "256M")}]
    assert module.calls == []


def test_missing_default_grub_is_refused(tmp_path):
    host, dummy = host_at(tmp_path)
    with pytest.raises(_hostcommon.BackendError, match="^/etc/default/grub is missing: only GRUB 2 hosts are supported$"):
        host.bootloader_files("256M")


# --- bootloader_has / update_bootloader ----------------------------------------------------------

def sles_cfg(args):
    """grub.cfg.sles15 with the first entry booting with ``args``."""
    text = fixture("grub.cfg.sles15")
    return text.replace(f"{SLES_DEFAULT} {SLES_CRASHKERNEL}", args, 1)


@pytest.mark.parametrize("default_args, cfg_args, planned, expected", [
    (f"{SLES_DEFAULT} {SLES_CRASHKERNEL}", f"{SLES_DEFAULT} {SLES_CRASHKERNEL}", "256M", False),
    (f"{SLES_DEFAULT} crashkernel=256M", f"{SLES_DEFAULT} crashkernel=256M", "256M", True),
    (f"{SLES_DEFAULT} crashkernel=256M", f"{SLES_DEFAULT} {SLES_CRASHKERNEL}", "256M", False),  # stale grub.cfg
    (f"{SLES_DEFAULT} {SLES_CRASHKERNEL}", f"{SLES_DEFAULT} crashkernel=256M", "256M", False),  # next mkconfig drops it
    (SLES_DEFAULT, SLES_DEFAULT, None, True),
    (SLES_DEFAULT, f"{SLES_DEFAULT} crashkernel=256M", None, False),
])
def test_bootloader_has_needs_both_files(tmp_path, default_args, cfg_args, planned, expected):
    write(tmp_path, "/etc/default/grub", f'GRUB_CMDLINE_LINUX=""\nGRUB_CMDLINE_LINUX_DEFAULT="{default_args}"\n')
    write(tmp_path, "/boot/grub2/grub.cfg", sles_cfg(cfg_args))
    host, module = host_at(tmp_path)
    assert host.bootloader_has(planned) is expected
    assert module.calls == []


def test_crashkernel_in_grub_cmdline_linux_counts_too(tmp_path):
    write(tmp_path, "/etc/default/grub", 'GRUB_CMDLINE_LINUX="crashkernel=128M"\nGRUB_CMDLINE_LINUX_DEFAULT="crashkernel=256M"\n')
    write(tmp_path, "/boot/grub2/grub.cfg", "menuentry 'SLES' {\n\tlinux /boot/vmlinuz crashkernel=256M\n}\n")
    assert host_at(tmp_path)[0].bootloader_has("256M") is False


@pytest.mark.parametrize("cfg", [
    None,  # no menu yet
    "menuentry 'other' {\n\tchainloader +1\n}\n",  # no Linux entry
])
def test_bootloader_has_without_a_linux_entry(tmp_path, cfg):
    write(tmp_path, "/etc/default/grub", 'GRUB_CMDLINE_LINUX_DEFAULT="crashkernel=256M"\n')
    if cfg is not None:
        write(tmp_path, "/boot/grub2/grub.cfg", cfg)
    assert host_at(tmp_path)[0].bootloader_has("256M") is False


@pytest.mark.parametrize("kernel_line", ["linux", "linux16", "linuxefi"])
def test_every_grub_kernel_command_counts(tmp_path, kernel_line):
    write(tmp_path, "/etc/default/grub", 'GRUB_CMDLINE_LINUX_DEFAULT="crashkernel=256M"\n')
    write(tmp_path, "/boot/grub2/grub.cfg", f"menuentry 'SLES' {{\n\t{kernel_line}\t/boot/vmlinuz crashkernel=256M\n}}\n")
    assert host_at(tmp_path)[0].bootloader_has("256M") is True


def test_update_bootloader_regenerates_the_menu(tmp_path):
    host, module = host_at(tmp_path, {"grub2-mkconfig": OK})
    host.update_bootloader()
    assert module.calls == [["grub2-mkconfig", "-o", str(tmp_path / "boot/grub2/grub.cfg")]]


def test_update_bootloader_failure_carries_the_output(tmp_path):
    host, dummy = host_at(tmp_path, {"grub2-mkconfig": (1, "", "/usr/sbin/grub2-probe: error: failed to get canonical "
                                                              "path of `overlay'.\n")})
    with pytest.raises(_hostcommon.BackendError, match=r"grub2-mkconfig -o .*grub.cfg failed \(rc=1\): "
                                                       r"/usr/sbin/grub2-probe: error: failed to get canonical path"):
        host.update_bootloader()


# --- through kdump_config: apply, idempotence, check mode, restore --------------------------------

def grub2_mkconfig(root):
    """grub2-mkconfig as SLES runs it: /etc/default/grub sourced by sh, 10_linux's first entry."""
    def run(args):
        assert args[1:] == ["-o", str(root / "boot/grub2/grub.cfg")]
        script = '. "$1"; printf "%s %s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"'
        cmdline = subprocess.run(["sh", "-c", script, "sh", str(root / "etc/default/grub")], check=True,
                                 capture_output=True, text=True).stdout.strip()
        write(root, "/boot/grub2/grub.cfg", sles_cfg(cmdline))
        return OK
    return run


@pytest.fixture
def kernel(tmp_path):
    """The running kernel below the fake root: booted with crashkernel=256M, not loaded."""
    write(tmp_path, "/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.4.0 root=/dev/vda2 crashkernel=256M\n")
    write(tmp_path, "/sys/kernel/kexec_crash_size", "268435456\n")
    write(tmp_path, "/sys/kernel/kexec_crash_loaded", "0\n")
    write(tmp_path, "/etc/default/grub", fixture("default-grub.sles15"))
    write(tmp_path, "/boot/grub2/grub.cfg", fixture("grub.cfg.sles15"))


def plan(root, sysconfig='KDUMP_CRASHKERNEL="256M"\n'):
    return {"family": "suse", "enabled": True, "service": "kdump", "crashkernel": "256M",
            "files": [{"path": "/etc/sysconfig/kdump", "content": sysconfig, "mode": "0644"}],
            "directories": [], "mounts": []}


def apply(root, module, plan_, service_enabled=False):
    return kdump_config.Applier(module, plan_, SuseHost(module, root=str(root)), service_enabled).apply()


def systemctl(root, fail_restarts=0):
    state = {"enabled": False, "restarts": 0}

    def run(args):
        if args[1] == "enable":
            state["enabled"] = True
        if args[1] == "restart":
            state["restarts"] += 1
            if state["restarts"] <= fail_restarts:
                return 1, "", "Job for kdump.service failed."
            write(root, "/sys/kernel/kexec_crash_loaded", "1\n")
        return OK
    return run


def test_apply_writes_default_grub_through_the_file_step_then_is_idempotent(tmp_path, kernel):
    handlers = {"grub2-mkconfig": grub2_mkconfig(tmp_path), "systemctl": systemctl(tmp_path)}
    module = FakeModule(handlers)
    result = apply(tmp_path, module, plan(tmp_path))
    assert result["changed_files"] == ["/etc/sysconfig/kdump", "/etc/default/grub"]
    grub_diff = result["diff"][1]
    assert grub_diff["before"] == fixture("default-grub.sles15")
    assert grub_diff["after"] == set_default_grub_crashkernel(fixture("default-grub.sles15"), "256M")
    assert read(tmp_path, "/etc/default/grub") == grub_diff["after"]
    assert module.calls == [["grub2-mkconfig", "-o", str(tmp_path / "boot/grub2/grub.cfg")],
                            ["systemctl", "enable", "kdump"],
                            ["systemctl", "restart", "kdump"]]
    assert f"{SLES_DEFAULT} crashkernel=256M\n" in read(tmp_path, "/boot/grub2/grub.cfg")
    assert result["loaded"] is True

    again = FakeModule(handlers)
    result = apply(tmp_path, again, plan(tmp_path), service_enabled=True)
    assert result["changed"] is False and result["changed_files"] == []
    assert again.calls == []


def test_check_mode_diffs_default_grub_and_writes_nothing(tmp_path, kernel):
    module = FakeModule({"systemctl": (1, "disabled\n", "")}, check_mode=True)
    result = apply(tmp_path, module, plan(tmp_path))
    assert result["changed"]
    assert result["diff"][1]["before_header"] == "/etc/default/grub"
    assert "crashkernel=256M" in result["diff"][1]["after"]
    assert read(tmp_path, "/etc/default/grub") == fixture("default-grub.sles15")
    assert read(tmp_path, "/boot/grub2/grub.cfg") == fixture("grub.cfg.sles15")
    assert module.calls == []


def test_failed_load_restores_default_grub_and_regenerates_the_menu(tmp_path, kernel):
    module = FakeModule({"grub2-mkconfig": grub2_mkconfig(tmp_path), "systemctl": systemctl(tmp_path, 1),
                         "journalctl": (1, "", "")})
    with pytest.raises(_hostcommon.BackendError, match="Job for kdump.service failed"):
        apply(tmp_path, module, plan(tmp_path))
    assert read(tmp_path, "/etc/default/grub") == fixture("default-grub.sles15")
    assert not os.path.exists(tmp_path / "etc/sysconfig/kdump")  # it was new
    assert [call for call in module.calls if call[0] == "grub2-mkconfig"] == [
        ["grub2-mkconfig", "-o", str(tmp_path / "boot/grub2/grub.cfg")]] * 2
    assert f"{SLES_DEFAULT} {SLES_CRASHKERNEL}\n" in read(tmp_path, "/boot/grub2/grub.cfg")
    assert stat.S_IMODE(os.stat(tmp_path / "etc/default/grub").st_mode) == 0o644
