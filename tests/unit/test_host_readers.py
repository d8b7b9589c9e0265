"""One reader per host fact: the cases where kdump_facts and the host backends used to read the
same file by different rules, now read once, each checked against a value written by hand.

- crashkernel=: kernel/crash_reserve.c get_last_crashkernel takes the last word without a
  suffix; only without one does parse_crashkernel read the last ,high (and ,low); ,cma comes
  on top. The facts used to join every word, the backends to keep every suffix.
- GRUB: the first kernel line of grub.cfg, whichever of GRUB's linux, linux16 or linuxefi
  boots it. The Debian backend used to read only `linux` lines.
- SUSE: the next boot is the generated menu; GRUB_CMDLINE_LINUX counts as much as
  GRUB_CMDLINE_LINUX_DEFAULT. The facts used to read only the latter.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _facts
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import HOST_BACKENDS
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import module_host

from hostfakes import FakeModule, write

HERE = os.path.dirname(__file__)


def fixture(*parts):
    with open(os.path.join(HERE, "fixtures", *parts), encoding="utf-8") as handle:
        return handle.read()


def hosts(root, family, handlers=None):
    """The facts' view and the backend's view of one fake root."""
    module = FakeModule(handlers)
    return module_host(module, str(root)), HOST_BACKENDS[family](module, root=str(root))


@pytest.mark.parametrize("cmdline, expected", [
    # kdump-tools' default and the role's value both on the line: the last plain one counts
    ("BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=1 ro crashkernel=384M-:128M quiet crashkernel=192M", "192M"),
    # ,high and ,low are read only when there is no plain crashkernel=
    ("ro crashkernel=192M crashkernel=512M,high crashkernel=72M,low", "192M"),
    ("ro crashkernel=219M,high crashkernel=72M,low", "219M,high 72M,low"),
    ("ro crashkernel=1G,high crashkernel=219M,high", "219M,high"),
    # ,cma is added to the regular reservation, never alone
    ("ro crashkernel=128M crashkernel=1G,cma crashkernel=512M,cma", "128M 512M,cma"),
    ("ro crashkernel=512M,cma crashkernel=72M,low", None),
])
def test_running_crashkernel_is_what_the_kernel_reserves(tmp_path, cmdline, expected):
    write(tmp_path, "/proc/cmdline", cmdline + "\n")
    facts_host, backend = hosts(tmp_path, "debian")
    assert _facts.read_crashkernel(facts_host, "debian")["cmdline"] == expected
    assert backend.running_crashkernel() == expected


EFI_MENU = ("menuentry 'Ubuntu' --class ubuntu {\n\tlinuxefi\t/boot/vmlinuz-5.4.0-42-generic root=UUID=1 ro quiet "
            "crashkernel=192M\n\tinitrdefi\t/boot/initrd.img-5.4.0-42-generic\n}\n"
            "menuentry 'Ubuntu (recovery)' {\n\tlinux\t/boot/vmlinuz-5.4.0-42-generic root=UUID=1 ro single "
            "crashkernel=384M-:128M\n}\n")


def test_debian_menu_booting_with_linuxefi(tmp_path):
    write(tmp_path, "/boot/grub/grub.cfg", EFI_MENU)
    facts_host, backend = hosts(tmp_path, "debian")
    assert _facts.read_crashkernel(facts_host, "debian")["bootloader"] == "192M"
    assert backend.bootloader_has("192M") is True
    assert backend.bootloader_has("384M-:128M") is False  # the recovery entry is not the next boot


def test_suse_crashkernel_in_grub_cmdline_linux(tmp_path):
    """grub2-mkconfig's 10_linux boots the first entry with GRUB_CMDLINE_LINUX, then
    GRUB_CMDLINE_LINUX_DEFAULT: a crashkernel= in the former is on the next boot's line."""
    default = fixture("host", "default-grub.sles15").replace(" crashkernel=219M,high crashkernel=72M,low", "")
    default = default.replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="crashkernel=256M"')
    menu = fixture("host", "grub.cfg.sles15").replace("crashkernel=219M,high crashkernel=72M,low", "", 1)
    menu = menu.replace("${extra_cmdline}  splash=silent", "${extra_cmdline} crashkernel=256M splash=silent", 1)
    write(tmp_path, "/etc/default/grub", default)
    write(tmp_path, "/boot/grub2/grub.cfg", menu)
    facts_host, backend = hosts(tmp_path, "suse")
    crashkernel = _facts.read_crashkernel(facts_host, "suse")
    assert (crashkernel["bootloader"], crashkernel["bootloader_source"]) == ("256M", "/boot/grub2/grub.cfg")
    assert backend.bootloader_has("256M") is True


def test_suse_stale_menu_is_the_next_boot(tmp_path):
    """/etc/default/grub edited, grub2-mkconfig not run yet: the next boot is still the menu's."""
    write(tmp_path, "/etc/default/grub", fixture("host", "default-grub.sles15").replace(
        "crashkernel=219M,high crashkernel=72M,low", "crashkernel=256M"))
    write(tmp_path, "/boot/grub2/grub.cfg", fixture("host", "grub.cfg.sles15"))
    facts_host, backend = hosts(tmp_path, "suse")
    assert _facts.read_crashkernel(facts_host, "suse")["bootloader"] == "219M,high 72M,low"
    assert backend.bootloader_has("256M") is False
    # what the role keeps in /etc/default/grub differs from the menu's: reported
    assert _facts.read_conflicts(facts_host, "suse", "6.4.0", _facts.read_crashkernel(facts_host, "suse"),
                                 True)[-1].startswith("crashkernel=219M,high crashkernel=72M,low on the next boot's")


def test_red_hat_default_entry_and_every_entry(tmp_path):
    info = fixture("host", "grubby-info-all.rhel9")
    facts_host, backend = hosts(tmp_path, "redhat", {"grubby": (0, info, "")})
    assert _facts.read_crashkernel(facts_host, "redhat")["bootloader"] == "1G-4G:192M,4G-64G:256M,64G-:512M"
    assert backend.bootloader_has("1G-4G:192M,4G-64G:256M,64G-:512M") is True
