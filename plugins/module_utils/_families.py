# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): what the host side
knows about each distribution family, one table each, read by kdump_facts and the host
backends alike.

Not a public API; it may change without notice.
"""

from __future__ import annotations

from collections import namedtuple

Family = namedtuple("Family", [
    "ids",                # os-release ID / ID_LIKE values of the family
    "config_path",        # the native kdump configuration
    "service",            # the kdump systemd service (without .service)
    "tooling",            # the package that carries the service (Red Hat: see tooling_split)
    "tooling_split",      # Red Hat: {os-release ID: first major release with kdump-utils}, "*" for the rest
    "grub_cfg",           # the generated GRUB menu, where the next boot's arguments are read
    "crashkernel_file",   # the file the kdump role keeps its crashkernel= value in
    "capture_inputs",     # what the capture kernel boots with and is told (see _facts.read_capture_config)
])

CAPTURE_SCRIPT = "/usr/lib/crashdump-kdump/capture"  # Debian: the collection's capture script
DEBIAN_GRUB_DROPIN = "/etc/default/grub.d/zz-crashdump-kdump.cfg"  # sorts after kdump-tools' own .cfg
RPM_CRASHKERNEL_FILE = "/etc/crashdump-kdump/crashkernel"
DEFAULT_GRUB = "/etc/default/grub"

FAMILIES = {
    "debian": Family(
        ids=("debian", "ubuntu"),
        config_path="/etc/default/kdump-tools",
        service="kdump-tools",
        tooling="kdump-tools",
        tooling_split=None,
        grub_cfg="/boot/grub/grub.cfg",
        crashkernel_file=DEBIAN_GRUB_DROPIN,
        # {kernel} and {initrd} are KDUMP_KERNEL and KDUMP_INITRD (kdump-config's symlinks by default)
        capture_inputs=("/etc/default/kdump-tools", "/etc/crashdump-kdump/capture.conf", CAPTURE_SCRIPT,
                        "{kernel}", "{initrd}"),
    ),
    "redhat": Family(
        ids=("rhel", "centos", "fedora", "almalinux", "rocky", "ol", "amzn"),
        config_path="/etc/kdump.conf",
        service="kdump",
        tooling="kexec-tools",
        tooling_split={"fedora": 41, "*": 10},  # kdump-utils split out of kexec-tools here
        grub_cfg=None,  # grubby owns the boot entries
        crashkernel_file=RPM_CRASHKERNEL_FILE,
        capture_inputs=("/etc/kdump.conf", "/etc/sysconfig/kdump", "/boot/vmlinuz-{release}",
                        "/boot/initramfs-{release}kdump.img", "/var/lib/kdump/initramfs-{release}kdump.img"),
    ),
    "suse": Family(
        ids=("sles", "sled", "suse", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sle-micro"),
        config_path="/etc/sysconfig/kdump",
        service="kdump",
        tooling="kdump",
        tooling_split=None,
        grub_cfg="/boot/grub2/grub.cfg",
        crashkernel_file=DEFAULT_GRUB,  # the host backend sets GRUB_CMDLINE_LINUX_DEFAULT there
        capture_inputs=("/etc/sysconfig/kdump", "/boot/vmlinuz-{release}", "/boot/initrd-{release}-kdump"),
    ),
}


def family(name):
    """The table of a family; None for an unknown one."""
    return FAMILIES.get(name)
