# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller side): the SUSE backend.

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
  (0 keeps all, -1 keeps none), KDUMP_FREE_DISK_SIZE is in MB and deletes the new
  dump afterwards if less remains; both only for file:// targets;
- the package makes the file mode 0600 (it may hold SMTP and URL passwords);
- crashkernel=: KDUMP_CRASHKERNEL is set to the planned value, and
  KDUMP_UPDATE_BOOTLOADER="false" keeps kdump-commandline.service to checking
  only: the collection's host backend sets the bootloader itself.

For ssh, KDUMP_HOST_KEY is left empty: kdump's initrd setup then copies the
server's key from root's known_hosts (``ssh-keygen -F host``), so that file must
hold it. A port other than 22 is refused: that setup looks the key up and
writes it as ``host:port``, not the ``[host]:port`` form OpenSSH uses for other
ports, so strict host key checking would fail in the capture kernel.
"""

from __future__ import annotations

import posixpath

from ansible_collections.crashdump.kdump.plugins.plugin_utils._backend_base import MANAGED_HEADER, Backend

MIB = 1024 * 1024
SUPPORTED = {"sles": 15, "sled": 15, "opensuse-leap": 15}  # os-release ID -> lowest major
# openSUSE's makedumpfile.spec builds lzo, snappy and (SLE 15 SP2+) zstd in; the facts of an
# installed makedumpfile take precedence.
KNOWN_COMPRESSIONS = ("zlib", "lzo", "snappy", "zstd")
DUMPFORMAT = {"none": "ELF", "zlib": "compressed", "lzo": "lzo", "snappy": "snappy", "zstd": "zstd"}
TARGET_REFUSALS = {
    "raw": "SUSE kdump has no raw device target (raw is only a dump format there)",
    "device": "SUSE kdump takes a directory, not a device: use a local target whose path is on that "
              "filesystem, mounted through /etc/fstab",
}


def shell_value(value):
    """value double-quoted for a bash-sourced file; the policy's character sets never need escapes,
    but escape anyway so that a future field cannot break out of the quotes."""
    escaped = "".join("\\" + char if char in '"$`\\' else char for char in str(value))
    return f'"{escaped}"'


def keep_old_dumps(keep):
    """retention.keep (dumps on disk after saving, 0 = all) as KDUMP_KEEP_OLD_DUMPS, which counts the
    old dumps left before the new one is saved (0 = keep all, -1 = delete all)."""
    if keep == 0:
        return 0
    return keep - 1 if keep > 1 else -1


class SuseBackend(Backend):
    """SLES / openSUSE Leap: /etc/sysconfig/kdump, kdump service, crashkernel in GRUB."""

    family = "suse"
    packages = ("kdump", "makedumpfile", "kexec-tools")
    service = "kdump"
    targets = ("local", "ssh", "nfs")
    on_failure = ("reboot", "shell")
    on_success = ("reboot",)  # kdump-save.service always runs reboot -f after saving
    config_path = "/etc/sysconfig/kdump"

    def __init__(self, host, facts, host_keys=()):
        super().__init__(host, facts, host_keys)
        dist = facts.get("distribution") or {}
        self.os_id, self.major = dist.get("id"), dist.get("major")

    def compressions(self):
        if (self.facts.get("tooling") or {}).get("compressions"):
            return super().compressions()
        return KNOWN_COMPRESSIONS

    def check(self, policy):
        errors = []
        lowest = SUPPORTED.get(self.os_id)
        if lowest is None or self.major is None or self.major < lowest:
            errors.append(f"host {self.host} ({self.distribution}): crashdump.kdump supports "
                          f"{', '.join(f'{os_id} {major}+' for os_id, major in SUPPORTED.items())} "
                          "in the SUSE family, not this release")
        target = policy["target"]
        for message in super().check(policy):
            if ": kdump_policy.target.type: " not in message or target["type"] not in TARGET_REFUSALS:
                errors.append(message)
        if target["type"] in TARGET_REFUSALS:
            errors.append(self.error("target.type", f"{target['type']!r} is not supported: "
                                                    f"{TARGET_REFUSALS[target['type']]}"))
        if target["type"] in ("ssh", "nfs") and ":" in target["host"]:
            errors.append(self.error("target.host", f"{target['host']!r} is not supported: kdump-save splits "
                                                    "the KDUMP_SAVEDIR host at the first ':', so an IPv6 "
                                                    "address cannot be used; give a host name"))
        if target["type"] == "ssh" and target["port"] != 22:
            errors.append(self.error("target.port", f"{target['port']} is not supported: kdump's initrd setup "
                                                    "records the server's host key without the [host]:port "
                                                    "form OpenSSH needs for other ports, so host key "
                                                    "checking would fail at crash time"))
        if not policy["filter"]["dmesg"]:
            errors.append(self.error("filter.dmesg", "false is not supported: SUSE kdump always saves the "
                                                     "dmesg next to the vmcore and has no setting to skip it"))
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
            settings.append(("KDUMP_SSH_IDENTITY", target["key"]))
        settings += [
            ("KDUMP_DUMPLEVEL", policy["filter"]["dump_level"]),
            ("KDUMP_DUMPFORMAT", DUMPFORMAT[compression]),
            ("KDUMP_IMMEDIATE_REBOOT", "true"),
            ("KDUMP_CONTINUE_ON_ERROR", "false" if policy["on_failure"] == "shell" else "true"),
            ("KDUMP_UPDATE_BOOTLOADER", "false"),
        ]
        return settings

    def render_config(self, policy, compression, crashkernel=None):
        lines = [f"{key}={shell_value(value)}" for key, value in self.settings(policy, compression)]
        if crashkernel:
            lines.append(f"KDUMP_CRASHKERNEL={shell_value('crashkernel=' + crashkernel)}")
        note = ""
        if policy["target"]["type"] != "local":
            note = ("# retention (keep, min_free) is not enforced by kdump for remote targets "
                    "(KDUMP_KEEP_OLD_DUMPS and KDUMP_FREE_DISK_SIZE apply to file:// only).\n")
        return MANAGED_HEADER + note + "\n".join(lines) + "\n"

    def files(self, policy, compression):
        crashkernel = self.crashkernel(policy)["value"] if policy["enabled"] else None
        return [{"path": self.config_path, "content": self.render_config(policy, compression, crashkernel),
                 "mode": "0600"}]
