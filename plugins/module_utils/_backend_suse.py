# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (planning, standard library only: kdump_config runs it on the
managed host): the SUSE backend.

Not a public API; it may change without notice. Import it through ``_plan``
(``_plan.BACKENDS``), which imports this module at its end.

SLES and openSUSE Leap 15+: ``/etc/sysconfig/kdump``, sourced by bash (KEY="value").
Facts are from openSUSE/kdump (sysconfig.kdump.in, kdump(5), kdump-read-config.sh,
dracut/kdump-save, dracut/module-setup.sh, packaging/suse/kdump.spec):

- KDUMP_SAVEDIR is a URL: file:///path, ssh://user@host/path, nfs://host/path.
  There is no raw target (``raw`` is only a KDUMP_DUMPFORMAT) and no device
  target (a ``file://`` path must lie on a filesystem the host mounts);
- KDUMP_DUMPFORMAT maps makedumpfile's compression: compressed (zlib), lzo,
  snappy, zstd; ELF for none. kdump-save always writes makedumpfile's
  flattened format and always saves the dmesg, so ``filter.dmesg: false``
  is refused;
- after kdump-save, kdump-save.service always reboots (``reboot -f``): on_success
  is reboot only; on failure KDUMP_CONTINUE_ON_ERROR="true" goes on (and
  reboots), "false" opens a debug shell first;
- KDUMP_KEEP_OLD_DUMPS deletes before saving and keeps that many *old* dumps
  besides the new one (0 keeps all, -1 keeps none: kdumptool's deletedumps.cc,
  dracut/kdump-save). kdump 1.9 to 2.0.12 read it with ^[0-9]+$ and turn -1 into
  the default 0, keep all (fixed in 2.0.13, bsc#1234845), so retention.keep 1
  needs a kdump known to read -1. KDUMP_FREE_DISK_SIZE is in MB and deletes the
  new dump afterwards if less remains; both only for file:// targets;
- the package makes the file mode 0600 (it may hold SMTP and URL passwords);
- crashkernel=: KDUMP_CRASHKERNEL is set to the planned value, and
  KDUMP_UPDATE_BOOTLOADER="false" keeps kdump-commandline.service to checking
  only: the collection's host backend sets the bootloader itself.

For ssh, KDUMP_HOST_KEY is the server's pinned host key (the first of host_keys: it
holds one), "TYPE BASE64" as kdump 1.9+ reads it: kdump's initrd setup writes
``HOST $KDUMP_HOST_KEY`` as the capture kernel's known_hosts, with StrictHostKeyChecking
yes (``*`` would turn checking off: never written). kdump-save sends
``umask 077; mkdir -p DIR && cat > DIR/FILE`` with DIR the URL's path plus
HOSTNAME-DATE, so that path must be the dump server's base directory. kdump before
2.0.17 (a02becb, "limit dump file permissions") sends the same without ``umask 077;``:
its dumps get the server's umask, and the collection's receiver refuses the command,
so ssh needs kdump 2.0.17+. A port other than 22 is refused: that setup takes the host
from the URL as ``host:port``, not the ``[host]:port`` form OpenSSH looks up for other
ports, so host key checking would fail in the capture kernel.
"""

from __future__ import annotations

import posixpath

from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import (
    MANAGED_HEADER,
    Backend,
    shell_assignments,
    version_tuple,
)
from ansible_collections.crashdump.kdump.plugins.module_utils._value_kinds import is_kind

MIB = 1024 * 1024
# kdump versions whose config reader accepts KDUMP_KEEP_OLD_DUMPS=-1: kdumptool (before 1.9) and 2.0.13+.
KEEP_NONE_READERS = ((None, (1, 9, 0)), ((2, 0, 13), None))
SSH_FROM = (2, 0, 17)  # kdump-save's ssh command sets umask 077
DUMPFORMAT = {"none": "ELF", "zlib": "compressed", "lzo": "lzo", "snappy": "snappy", "zstd": "zstd"}
TARGET_REFUSALS = {
    "raw": "SUSE kdump has no raw device target (raw is only a dump format there)",
    "device": "SUSE kdump takes a directory, not a device: use a local target whose path is on that "
              "filesystem, mounted through /etc/fstab",
}


def keep_old_dumps(keep):
    """retention.keep (dumps on disk after saving, 0 = all) as KDUMP_KEEP_OLD_DUMPS, which counts the
    old dumps left besides the new one (0 = keep all, -1 = delete all old ones)."""
    if keep == 0:
        return 0
    return keep - 1 if keep > 1 else -1


def reads_keep_none(kdump_version):
    """Whether this kdump package version's config reader accepts KDUMP_KEEP_OLD_DUMPS=-1."""
    version = version_tuple(kdump_version)
    return version is not None and any((low is None or version >= low) and (high is None or version < high)
                                       for low, high in KEEP_NONE_READERS)


class SuseBackend(Backend):
    """SLES / openSUSE Leap: /etc/sysconfig/kdump, kdump service, crashkernel in GRUB."""

    family = "suse"
    packages = ("kdump", "makedumpfile", "kexec-tools")
    targets = ("local", "ssh", "nfs")
    on_failure = ("reboot", "shell")
    on_success = ("reboot",)  # kdump-save.service always runs reboot -f after saving
    supported = {"sles": "15", "sled": "15", "opensuse-leap": "15"}

    def pinned_host_keys(self, target, read):
        """KDUMP_HOST_KEY, when KDUMP_SAVEDIR still names this target's server."""
        settings = (self.facts.get("config") or {}).get("settings") or {}
        key = settings.get("KDUMP_HOST_KEY", "")
        pinned = settings.get("KDUMP_SAVEDIR") == self.savedir(target) and is_kind("host_key", key)
        return [key] if pinned else []

    def support_note(self, field, value):
        return f": {TARGET_REFUSALS[value]}" if field == "target.type" and value in TARGET_REFUSALS else ""

    def check(self, policy):
        errors = super().check(policy)
        target = policy["target"]
        if target["type"] in ("ssh", "nfs") and ":" in target["host"]:
            errors.append(self.error("target.host", f"{target['host']!r} is not supported: kdump-save splits "
                                                    "the KDUMP_SAVEDIR host at the first ':', so an IPv6 "
                                                    "address cannot be used; give a host name"))
        if target["type"] == "ssh" and target["port"] != 22:
            errors.append(self.error("target.port", f"{target['port']} is not supported: kdump's initrd setup "
                                                    "records the server's host key as host:port, not the "
                                                    "[host]:port form OpenSSH looks up for other ports, so "
                                                    "host key checking would fail at crash time"))
        if not policy["filter"]["dmesg"]:
            errors.append(self.error("filter.dmesg", "false is not supported: SUSE kdump always saves the "
                                                     "dmesg next to the vmcore and has no setting to skip it"))
        kdump_version = ((self.facts.get("tooling") or {}).get("packages") or {}).get("kdump")
        if target["type"] == "ssh" and not (version_tuple(kdump_version) or ()) >= SSH_FROM:
            errors.append(self.error("target.type", "'ssh' needs kdump 2.0.17 or later, this host has "
                                                    f"{kdump_version or 'none installed yet (install kdump first)'}: "
                                                    "earlier kdump-save writes the dump with the server's umask, "
                                                    "in a command the collection's dump server refuses"))
        if target["type"] == "local" and policy["retention"]["keep"] == 1 and not reads_keep_none(kdump_version):
            errors.append(self.error("retention.keep", "1 is not supported with this host's kdump "
                                                       f"({kdump_version or 'not installed yet'}): keeping only the "
                                                       "new dump needs KDUMP_KEEP_OLD_DUMPS=-1, which kdump 1.9 to "
                                                       "2.0.12 read as 0, keep all; use 0 or 2 and more, or "
                                                       "kdump 2.0.13+"))
        return errors

    @staticmethod
    def savedir(target):
        kind = target["type"]
        if kind == "ssh":
            return f"ssh://{target['user']}@{target['host']}{target['path']}"
        if kind == "nfs":
            return f"nfs://{target['host']}{posixpath.join(target['export'], target['path'].lstrip('/'))}"
        return f"file://{target['path']}"

    def settings(self, policy, compression):
        target, retention = policy["target"], policy["retention"]
        settings = [("KDUMP_SAVEDIR", self.savedir(target))]
        if target["type"] == "local":
            settings += [
                ("KDUMP_KEEP_OLD_DUMPS", keep_old_dumps(retention["keep"])),
                ("KDUMP_FREE_DISK_SIZE", -(-retention["min_free"] // MIB)),  # MB, rounded up
            ]
        if target["type"] == "ssh":
            settings += [("KDUMP_SSH_IDENTITY", target["key"]), ("KDUMP_HOST_KEY", self.host_keys[0])]
        settings += [
            ("KDUMP_DUMPLEVEL", policy["filter"]["dump_level"]),
            ("KDUMP_DUMPFORMAT", DUMPFORMAT[compression]),
            ("KDUMP_IMMEDIATE_REBOOT", "true"),
            ("KDUMP_CONTINUE_ON_ERROR", "false" if policy["on_failure"] == "shell" else "true"),
            ("KDUMP_UPDATE_BOOTLOADER", "false"),
        ]
        return settings

    def render_config(self, policy, compression, crashkernel=None):
        settings = self.settings(policy, compression)
        if crashkernel:
            settings.append(("KDUMP_CRASHKERNEL", f"crashkernel={crashkernel}"))
        note = ""
        if policy["target"]["type"] != "local":
            note = ("# retention (keep, min_free) is not enforced by kdump for remote targets "
                    "(KDUMP_KEEP_OLD_DUMPS and KDUMP_FREE_DISK_SIZE apply to file:// only).\n")
        return MANAGED_HEADER + note + shell_assignments(settings)

    def files(self, policy, compression):
        crashkernel = self.crashkernel(policy)["value"] if policy["enabled"] else None
        return [{"path": self.config_path, "content": self.render_config(policy, compression, crashkernel),
                 "mode": "0600"}]
