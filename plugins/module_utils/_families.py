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
    "compressions",       # makedumpfile's compressions by release, until makedumpfile -v says (guessed_compressions)
])

KDUMP_TOOLS_CONFIG = "/etc/default/kdump-tools"  # Debian
KDUMP_CONF = "/etc/kdump.conf"  # Red Hat
SYSCONFIG_KDUMP = "/etc/sysconfig/kdump"  # SUSE's configuration; on Red Hat kdumpctl's settings
CAPTURE_SCRIPT = "/usr/lib/crashdump-kdump/capture"  # Debian: the collection's capture script
CAPTURE_CONF = "/etc/crashdump-kdump/capture.conf"  # Debian: what the capture script is told
# Debian: KDUMP_KERNEL and KDUMP_INITRD as kdump-tools sets them by default (kdump-config's links
# to the running release's kernel and to the capture initrd it builds, initrd.img-RELEASE)
DEBIAN_KDUMP_KERNEL = "/var/lib/kdump/vmlinuz"
DEBIAN_KDUMP_INITRD = "/var/lib/kdump/initrd.img"
KDUMP_UTILS = "kdump-utils"  # Red Hat: the package that carries kdumpctl from tooling_split on
DEBIAN_GRUB_DROPIN = "/etc/default/grub.d/zz-crashdump-kdump.cfg"  # sorts after kdump-tools' own .cfg
RPM_CRASHKERNEL_FILE = "/etc/crashdump-kdump/crashkernel"
DEFAULT_GRUB = "/etc/default/grub"

FAMILIES = {
    "debian": Family(
        ids=("debian", "ubuntu"),
        config_path=KDUMP_TOOLS_CONFIG,
        service="kdump-tools",
        tooling="kdump-tools",
        tooling_split=None,
        grub_cfg="/boot/grub/grub.cfg",
        crashkernel_file=DEBIAN_GRUB_DROPIN,
        # {kernel} and {initrd} are KDUMP_KERNEL and KDUMP_INITRD (kdump-config's symlinks by default)
        capture_inputs=(KDUMP_TOOLS_CONFIG, CAPTURE_CONF, CAPTURE_SCRIPT, "{kernel}", "{initrd}"),
        compressions=(
            ("debian", (12,), (13,), ("zlib", "lzo")),
            ("debian", (13,), (14,), ("zlib", "lzo", "zstd")),
            ("ubuntu", (22,), (23,), ("zlib", "lzo", "snappy")),
            ("ubuntu", (24,), (25,), ("zlib", "lzo", "snappy", "zstd")),
        ),
    ),
    "redhat": Family(
        ids=("rhel", "centos", "fedora", "almalinux", "rocky", "ol", "amzn"),
        config_path=KDUMP_CONF,
        service="kdump",
        tooling="kexec-tools",
        tooling_split={"fedora": 41, "*": 10},  # kdump-utils split out of kexec-tools here
        grub_cfg=None,  # grubby owns the boot entries
        crashkernel_file=RPM_CRASHKERNEL_FILE,
        capture_inputs=(KDUMP_CONF, SYSCONFIG_KDUMP, "/boot/vmlinuz-{release}",
                        "/boot/initramfs-{release}kdump.img", "/var/lib/kdump/initramfs-{release}kdump.img"),
        # lzo (-l) is kdump.conf's default core_collector, so every makedumpfile these releases ship has it
        compressions=(("*", None, None, ("zlib", "lzo")),),
    ),
    "suse": Family(
        ids=("sles", "sled", "suse", "opensuse", "opensuse-leap", "opensuse-tumbleweed", "sle-micro"),
        config_path=SYSCONFIG_KDUMP,
        service="kdump",
        tooling="kdump",
        tooling_split=None,
        grub_cfg="/boot/grub2/grub.cfg",
        crashkernel_file=DEFAULT_GRUB,  # the host backend sets GRUB_CMDLINE_LINUX_DEFAULT there
        capture_inputs=(SYSCONFIG_KDUMP, "/boot/vmlinuz-{release}", "/boot/initrd-{release}-kdump"),
        # zlib, lzo and snappy on every SLE 15 service pack (kdump reads snappy since 0.8.10); zstd only
        # from SP6 (15.6), the first released after both makedumpfile 1.7.0 (2021-11, the first with
        # zstd) and kdump 1.9, whose kdump-save maps KDUMP_DUMPFORMAT=zstd. Earlier service packs get
        # zstd only when their installed makedumpfile reports it.
        compressions=(("*", (15, 6), None, ("zlib", "lzo", "snappy", "zstd")),
                      ("*", None, None, ("zlib", "lzo", "snappy"))),
    ),
}


def family(name):
    """The table of a family; None for an unknown one."""
    return FAMILIES.get(name)


def release_tooling(table, os_id, major):
    """The package that carries the kdump service on this release of the family (installed or not)."""
    split = table.tooling_split
    if split is None or major is None or major < split.get(os_id, split["*"]):
        return table.tooling
    return KDUMP_UTILS


def guessed_compressions(table, os_id, release):
    """What the release's makedumpfile is built with, for a host where it is not installed yet:
    the first row of table.compressions, (os-release ID or "*", first release, first release
    past it; None: unbounded, compressions), that holds the release (a version tuple, None
    when unknown); zlib alone, built into every makedumpfile, when none does."""
    for row_id, lowest, past, compressions in table.compressions:
        if row_id not in ("*", os_id):
            continue
        if (lowest is None or (release is not None and release >= lowest)) and \
                (past is None or (release is not None and release < past)):
            return compressions
    return ("zlib",)
