"""kdump_config's host side: the GRUB drop-in as grub-mkconfig sources it, and check mode."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _hostcommon
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import DebianHost, cmdline_crashkernel
from ansible_collections.crashdump.kdump.plugins.modules import kdump_config

PACKAGE_DROPIN = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n'


def sourced_cmdline(tmp_path, crashkernel, linux="console=ttyS0 crashkernel=64M", default="quiet"):
    """Source /etc/default/grub, the package's drop-in, then ours, in grub-mkconfig's order."""
    (tmp_path / "kdump-tools.cfg").write_text(PACKAGE_DROPIN)
    (tmp_path / "zz-crashdump-kdump.cfg").write_text(DebianHost.grub_dropin_content(crashkernel))
    script = (f'GRUB_CMDLINE_LINUX="{linux}"; GRUB_CMDLINE_LINUX_DEFAULT="{default}"; '
              f'for x in {tmp_path}/*.cfg; do . "$x"; done; '
              'printf "%s|%s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"')
    out = subprocess.run(["sh", "-c", script], check=True, capture_output=True, text=True).stdout
    return out.split("|")


def test_dropin_leaves_exactly_our_crashkernel(tmp_path):
    linux, default = sourced_cmdline(tmp_path, "192M")
    assert linux == "console=ttyS0"
    assert default == "quiet crashkernel=192M"


def test_dropin_without_crashkernel_removes_every_reservation(tmp_path):
    linux, default = sourced_cmdline(tmp_path, None)
    assert "crashkernel" not in linux + default
    assert default == "quiet"


@pytest.mark.parametrize("cmdline, expected", [
    ("BOOT_IMAGE=/vmlinuz ro crashkernel=192M quiet", "192M"),
    ("ro crashkernel=384M-:128M crashkernel=256M", "256M"),  # the kernel takes the last one
    ("ro quiet", None),
])
def test_cmdline_crashkernel(cmdline, expected):
    assert cmdline_crashkernel(cmdline) == expected


def test_bootloader_has_reads_the_first_linux_line(tmp_path, monkeypatch):
    grub_cfg = tmp_path / "grub.cfg"
    grub_cfg.write_text("menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz root=UUID=x ro crashkernel=192M\n}\n"
                        "menuentry 'recovery' {\n\tlinux\t/boot/vmlinuz ro single\n}\n")
    monkeypatch.setattr(DebianHost, "grub_cfg", str(grub_cfg))
    host = DebianHost(module=None)
    assert host.bootloader_has("192M")
    assert not host.bootloader_has("256M")


class FakeModule:
    """Just enough of AnsibleModule for Applier in check mode."""

    check_mode = True

    def run_command(self, args, environ_update=None):
        return 1, "not-found\n", ""


def test_check_mode_reports_changes_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(DebianHost, "grub_dropin", str(tmp_path / "grub.d" / "zz.cfg"))
    monkeypatch.setattr(DebianHost, "grub_cfg", str(tmp_path / "missing-grub.cfg"))
    monkeypatch.setattr(_hostcommon, "KEXEC_CRASH_SIZE", str(tmp_path / "missing"))
    monkeypatch.setattr(_hostcommon, "KEXEC_CRASH_LOADED", str(tmp_path / "missing"))
    plan = {
        "family": "debian", "enabled": True, "service": "kdump-tools", "crashkernel": "192M",
        "files": [{"path": str(tmp_path / "etc" / "kdump-tools"), "content": "USE_KDUMP=1\n", "mode": "0644"}],
        "directories": [{"path": str(tmp_path / "crash"), "mode": "0700"}],
        "mounts": ["var-lib-crashdump\\x2dkdump-target.mount"],
    }
    applier = kdump_config.Applier(FakeModule(), plan)
    applier.host.check_target = lambda: pytest.fail("check mode must not probe the target")
    result = applier.apply()
    assert result["changed"]
    assert result["reboot_required"]
    assert len(result["changed_files"]) == 3  # config, GRUB drop-in, dump directory
    assert [d["after"] for d in result["diff"]][0] == "USE_KDUMP=1\n"
    assert list(tmp_path.iterdir()) == []


class RealModule(FakeModule):
    """Applier outside check mode, writing into tmp_path; commands succeed."""

    check_mode = False

    def run_command(self, args, environ_update=None):
        return 0, "", ""

    def add_cleanup_file(self, path):
        pass

    def atomic_move(self, src, dest):
        import os
        os.replace(src, dest)


def test_unreachable_target_puts_the_previous_files_back(tmp_path, monkeypatch):
    monkeypatch.setattr(DebianHost, "grub_dropin", str(tmp_path / "zz.cfg"))
    monkeypatch.setattr(DebianHost, "grub_cfg", str(tmp_path / "missing-grub.cfg"))
    config = tmp_path / "kdump-tools"
    config.write_text("KDUMP_COREDIR=/var/crash\n")
    plan = {
        "family": "debian", "enabled": True, "service": "kdump-tools", "crashkernel": "192M",
        "files": [{"path": str(config), "content": "SSH=kdump@gone\n", "mode": "0644"},
                  {"path": str(tmp_path / "known_hosts"), "content": "gone ssh-ed25519 AAAA\n", "mode": "0644"}],
        "directories": [], "mounts": [],
    }
    applier = kdump_config.Applier(RealModule(), plan)

    def unreachable():
        raise _hostcommon.BackendError("capture check failed: dump server unreachable")
    applier.host.check_target = unreachable
    with pytest.raises(_hostcommon.BackendError, match="unreachable"):
        applier.apply()
    assert config.read_text() == "KDUMP_COREDIR=/var/crash\n"
    assert not (tmp_path / "known_hosts").exists()
