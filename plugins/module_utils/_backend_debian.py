# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (planning, standard library only: kdump_config runs it on the
managed host): the Debian and Ubuntu backend. Not a public API.

kdump-tools loads the capture kernel and, in the capture boot, runs kdump-tools-dump.service,
whose savecore only knows a local directory (plus an SSH mode that needs a shell on the server)
and always ends with ``reboot -f``. The collection keeps kdump-tools for loading and for local
and device saves, and replaces the dump service's ExecStart with its capture script
(roles/kdump/files/debian-capture.sh), which adds the raw, ssh and nfs targets, the
dump_to_rootfs fallback, on_success, min_free, and records each capture's outcome.
"""

from __future__ import annotations

import os

from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import (
    MAKEDUMPFILE_FLAG,
    MANAGED_HEADER,
    Backend,
    known_hosts_line,
    shell_assignments,
)
from ansible_collections.crashdump.kdump.plugins.module_utils._families import (
    CAPTURE_CONF,
    CAPTURE_SCRIPT,
    DEBIAN_KDUMP_INITRD,
    DEBIAN_KDUMP_KERNEL,
)

KNOWN_HOSTS = "/etc/crashdump-kdump/known_hosts"
SYSTEMD_UNITS = "/etc/systemd/system"  # the administrator's units, and their drop-ins
DEVICE_MOUNT = "/var/lib/crashdump-kdump/target"
ROOTFS_DIR = "/var/crash"  # dump_to_rootfs's directory when the target is not on the root filesystem
DEVICE_MOUNT_UNIT = "var-lib-crashdump\\x2dkdump-target.mount"  # systemd-escape --path of DEVICE_MOUNT
CAPTURE_SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "kdump", "files",
                              "debian-capture.sh")
DEVICE_LINKS = {"UUID": "by-uuid", "LABEL": "by-label", "PARTUUID": "by-partuuid", "PARTLABEL": "by-partlabel"}


def device_node(device):
    """A block device node for a tag (udev's /dev/disk links), so systemd can wait for it."""
    kind, sep, value = device.partition("=")
    if sep and kind in DEVICE_LINKS:
        return f"/dev/disk/{DEVICE_LINKS[kind]}/{value.lower() if 'UUID' in kind else value}"
    return device


def capture_script():
    """The capture script's text, read on the controller (kdump_config's action plugin hands it to
    the host, where the collection's role files are not)."""
    with open(CAPTURE_SOURCE, encoding="utf-8") as handle:
        return handle.read()


class DebianBackend(Backend):
    """Debian and Ubuntu: kdump-tools, /etc/default/kdump-tools, GRUB drop-in + update-grub."""

    family = "debian"
    package_manager = "apt"
    packages = ("kdump-tools", "makedumpfile", "kexec-tools")
    target_packages = {"ssh": ("openssh-client",), "nfs": ("nfs-common",)}
    known_hosts = KNOWN_HOSTS
    targets = ("local", "device", "raw", "ssh", "nfs")
    on_failure = ("reboot", "halt", "poweroff", "shell", "dump_to_rootfs")
    on_success = ("reboot", "halt", "poweroff")
    supported = {"debian": "12", "ubuntu": "22.04"}
    release_floor_reason = (
        "the capture script and the release tables are built and checked for these releases' kdump-tools "
        "only (Debian 11 and Ubuntu 20.04 are not); Ubuntu 18.04's kdump-tools 1.6.3 predates kdump-tools-dump.service (added in "
        "1:1.6.6-2, 2019), the unit the capture script takes over")
    dropin_file = SYSTEMD_UNITS + "/{}.service.d/crashdump-kdump.conf"

    def packages_for(self, policy):
        return self.packages + self.target_packages.get(policy["target"]["type"], ())

    @staticmethod
    def coredir(policy):
        """KDUMP_COREDIR: where kdump-tools saves (local, device), where a raw dump is recovered
        into, and for remote targets the root-filesystem fallback that kdump_facts reads."""
        target = policy["target"]
        if target["type"] == "device":
            return DEVICE_MOUNT + (target["path"] if target["path"] != "/" else "")
        return target["path"] if target["type"] in ("local", "raw") else ROOTFS_DIR

    def render_config(self, policy, compression):
        flag = MAKEDUMPFILE_FLAG[compression]
        makedump_args = " ".join(part for part in ("-F", flag, f"-d {policy['filter']['dump_level']}") if part)
        settings = {
            "USE_KDUMP": 1 if policy["enabled"] else 0,
            "KDUMP_KERNEL": DEBIAN_KDUMP_KERNEL,
            "KDUMP_INITRD": DEBIAN_KDUMP_INITRD,
            "KDUMP_COREDIR": self.coredir(policy),
            "KDUMP_DUMP_DMESG": 1 if policy["filter"]["dmesg"] else 0,
            "KDUMP_NUM_DUMPS": policy["retention"]["keep"],
            "MAKEDUMP_ARGS": makedump_args,
        }
        return MANAGED_HEADER + shell_assignments(settings)

    def render_capture_conf(self, policy):
        target = policy["target"]
        settings = {
            "CRASHDUMP_TARGET": target["type"],
            "CRASHDUMP_HOST": self.host,
            "CRASHDUMP_ON_SUCCESS": policy["on_success"],
            "CRASHDUMP_ON_FAILURE": policy["on_failure"],
            # dump_to_rootfs: a directory of the root filesystem, whatever failed
            "CRASHDUMP_ROOTFS_DIR": target["path"] if target["type"] in ("local", "raw") else ROOTFS_DIR,
            "CRASHDUMP_MIN_FREE": policy["retention"]["min_free"],
            "CRASHDUMP_KEEP": policy["retention"]["keep"],
        }
        if target["type"] == "device":
            settings["CRASHDUMP_MOUNT"] = DEVICE_MOUNT
        if target["type"] == "raw":
            settings["CRASHDUMP_RAW_DEVICE"] = device_node(target["device"])
        if target["type"] == "ssh":
            settings.update(CRASHDUMP_SSH_DEST=f"{target['user']}@{target['host']}",
                            CRASHDUMP_SSH_PORT=target["port"], CRASHDUMP_SSH_KEY=target["key"],
                            CRASHDUMP_SSH_KNOWN_HOSTS=KNOWN_HOSTS)
        if target["type"] == "nfs":
            host = f"[{target['host']}]" if ":" in target["host"] else target["host"]
            settings.update(CRASHDUMP_NFS_EXPORT=f"{host}:{target['export']}", CRASHDUMP_NFS_DIR=target["path"])
        return MANAGED_HEADER + shell_assignments(settings)

    def dropins(self, policy):
        """The dump service runs the capture script (private files: UMask); kdump-tools.service
        recovers a raw dump at boot; both wait for a dump filesystem's mount."""
        needs_mount = f"[Unit]\nRequiresMountsFor={DEVICE_MOUNT}\n\n" if policy["target"]["type"] == "device" else ""
        dump = (f"{needs_mount}[Service]\n# A vmcore is a copy of memory, secrets included: nobody but root reads it.\n"
                f"UMask=0077\nExecStart=\nExecStart={CAPTURE_SCRIPT}\n")
        boot = f"{needs_mount}[Service]\nExecStartPre=-{CAPTURE_SCRIPT} recover\n"
        return [(self.dropin_file.format("kdump-tools-dump"), dump), (self.dropin_file.format(self.service), boot)]

    def mount_unit(self, target):
        return (f"[Unit]\nDescription=crashdump.kdump dump filesystem ({target['device']})\n\n"
                f"[Mount]\nWhat={device_node(target['device'])}\nWhere={DEVICE_MOUNT}\n"
                f"Type={target['fstype']}\nOptions=nodev,nosuid,noexec\n")

    def files(self, policy, compression):
        target = policy["target"]
        files = [
            {"path": self.config_path, "content": self.render_config(policy, compression), "mode": "0644"},
            {"path": CAPTURE_CONF, "content": self.render_capture_conf(policy), "mode": "0644"},
            {"path": CAPTURE_SCRIPT, "content": self.capture_script or capture_script(), "mode": "0755"},
        ]
        files += [{"path": path, "content": MANAGED_HEADER + text, "mode": "0644"}
                  for path, text in self.dropins(policy)]
        if target["type"] == "device":
            files.append({"path": f"{SYSTEMD_UNITS}/{DEVICE_MOUNT_UNIT}",
                          "content": MANAGED_HEADER + self.mount_unit(target), "mode": "0644"})
        if target["type"] == "ssh":
            lines = "".join(known_hosts_line(target, key) + "\n" for key in self.host_keys)
            files.append({"path": KNOWN_HOSTS, "content": lines, "mode": "0644"})
        return files

    def mounts(self, policy):
        return [DEVICE_MOUNT_UNIT] if policy["target"]["type"] == "device" else []

    def obsolete_files(self, policy, files):
        """Files of other targets (a switch from device leaves no mount unit behind)."""
        planned = {f["path"] for f in files}
        return [p for p in (f"{SYSTEMD_UNITS}/{DEVICE_MOUNT_UNIT}", KNOWN_HOSTS) if p not in planned]

    def directories(self, policy):
        return [{"path": self.coredir(policy), "mode": "0700"}]

