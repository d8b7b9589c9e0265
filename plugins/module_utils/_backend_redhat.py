# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (planning, standard library only: kdump_config runs it on the
managed host): the Red Hat family backend.

Not a public API; it may change without notice.

RHEL, CentOS Stream, AlmaLinux, Rocky Linux 8-10 and Fedora: ``/etc/kdump.conf``
read by ``kdumpctl`` (kexec-tools on EL 8/9, kdump-utils on EL 10 and Fedora 41+).
Facts are from kdump.conf(5), kdumpctl and mkdumprd of rhkdump/kdump-utils:

- exactly one target directive: ``raw``, ``nfs``, ``ssh`` or ``<fstype> <device>``
  (kdumpctl refuses a second one), none for a directory of the root filesystem;
- ``path`` is absolute without a target and relative to it with one; for ``raw``
  the capture kernel ignores it, but kdumpctl's save_raw recovers the dump into
  it at the next boot, so it is written there too;
- ``core_collector`` needs makedumpfile ``-F`` for ssh and raw (mkdumprd refuses
  it otherwise); unknown and deprecated directives make kdumpctl fail;
- ``failure_action`` and ``final_action`` entered kdumpctl on 2019-01-17 (Fedora
  kexec-tools 2.0.18-3), replacing ``default``, which every later kdumpctl still
  reads as ``failure_action`` (with a warning). Which RHEL 8 minor first shipped
  them is not established here, so EL 8 gets ``default`` and no ``final_action``:
  its on_success is reboot only (what a kdumpctl without final_action does);
- ``sshkey`` is always written: without it, or when the file is missing,
  kdumpctl silently uses /root/.ssh/kdump_id_rsa; the plan refuses a missing key;
- every value is one word of printable ASCII without ``#`` (``directive``), so
  no value can end a line or start a comment or another directive;
- ``auto_reset_crashkernel no`` (EL 9+, Fedora): this collection owns
  crashkernel=, and kdump-utils would otherwise reset it to the distribution
  default on every kdump-utils update or kernel installation.

ssh: kdumpctl (``mkdir -p PATH``) and mkdumprd (``df``, ``mkdir``, ``mktemp -d``,
``rmdir``) at ``kdumpctl start``, and dracut's kdump.sh in the capture kernel, run ssh
with StrictHostKeyChecking=yes and ssh's default known_hosts files. The server's pinned
host key goes into a file of this collection's own, ``/etc/ssh/ssh_known_hosts2``: one of
OpenSSH's two default GlobalKnownHostsFile entries, so the admin's own
``/etc/ssh/ssh_known_hosts`` and ``ssh_config`` stay untouched (editing a block in them, or
adding a GlobalKnownHostsFile setting, which dracut copies only from ssh_config itself,
would mean rewriting files the admin owns). dracut's ssh-client module copies only
ssh_known_hosts and root's known_hosts into the capture initrd, so kdump.conf names the
file in ``extra_bins`` (installed as is by the kdump dracut module); kdumpctl also rebuilds
the initrd when an ``extra_bins`` file is newer than it, so a new pin takes effect at the
next start. ``path`` must be the dump server's base directory (its receiver maps it into
the client's own directory).

What kdump.conf cannot express is refused at plan time: an SSH port other than 22
(kdump.conf has no port; the capture kernel runs plain ``ssh user@host``, and a port would
need a Host block in root's own ~/.ssh/config, which this collection does not take over)
and ``filter.dmesg: false`` (the capture kernel always saves vmcore-dmesg.txt).
kdump.conf has no retention either: ``retention`` is not enforced natively on
these hosts (mkdumprd only warns about free space), which the file says in a
comment; enforcing it is left to the collection's dump handling.
"""

from __future__ import annotations

import re

from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import (
    MAKEDUMPFILE_FLAG,
    MANAGED_HEADER,
    Backend,
    PlanError,
    known_hosts_line,
)
from ansible_collections.crashdump.kdump.plugins.module_utils._families import FAMILIES, KDUMP_UTILS, release_tooling
from ansible_collections.crashdump.kdump.plugins.module_utils._value_kinds import show

_WORD_RE = re.compile("[!-\"$-~]+")  # printable ASCII, no space, no #
DIRECTIVES = (  # kdump.conf(5), less the deprecated ones kdumpctl rejects
    "raw", "nfs", "ssh", "sshkey", "ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs", "path",
    "core_collector", "kdump_pre", "kdump_post", "kdump_emergency", "extra_bins", "extra_modules",
    "failure_action", "final_action", "force_rebuild", "force_no_rebuild", "dracut_args",
    "fence_kdump_args", "fence_kdump_nodes", "auto_reset_crashkernel",
)
KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts2"  # read by ssh by default; whole file of this collection's
TARGET_DIRECTIVES = ("raw", "nfs", "ssh", "ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs")


def _host_for_url(host):
    """An IPv6 address in brackets, as mount and URLs need it before a colon."""
    return f"[{host}]" if ":" in host else host


class RedHatBackend(Backend):
    """RHEL / CentOS Stream / AlmaLinux / Rocky / Fedora: kdump.conf + kdumpctl, crashkernel by grubby."""

    family = "redhat"
    packages = ("kexec-tools",)  # replaced per release in __init__
    known_hosts = KNOWN_HOSTS
    targets = ("local", "device", "raw", "ssh", "nfs")
    on_failure = ("reboot", "halt", "poweroff", "shell", "dump_to_rootfs")
    on_success = ("reboot", "halt", "poweroff")
    supported = {"rhel": "8", "centos": "8", "almalinux": "8", "rocky": "8", "fedora": "39"}

    def __init__(self, host, facts, host_keys=(), capture_script=None):
        super().__init__(host, facts, host_keys, capture_script)
        self.major = (facts.get("distribution") or {}).get("major")
        if self.el8():
            self.on_success = ("reboot",)
        tooling = release_tooling(FAMILIES[self.family], self.os_id, self.major)
        self.packages = (tooling, "makedumpfile") if tooling == KDUMP_UTILS else (tooling,)

    def el8(self):
        return self.os_id != "fedora" and self.major == 8

    def support_note(self, field, value):
        if field == "on_success" and self.el8():
            return ("; EL 8 always reboots after a dump here: final_action entered kdumpctl in 2019 and "
                    "the first RHEL 8 minor that ships it is not established")
        return ""

    def check(self, policy):
        errors = super().check(policy)
        target = policy["target"]
        if target["type"] == "ssh" and target["port"] != 22:
            errors.append(self.error("target.port", f"{target['port']} is not supported: kdump.conf has no SSH "
                                                    "port setting (kdumpctl, mkdumprd and the capture kernel "
                                                    "run ssh user@host on port 22); serve the dump server's "
                                                    "sshd on port 22"))
        if not policy["filter"]["dmesg"]:
            errors.append(self.error("filter.dmesg", "false is not supported: kdump always saves "
                                                     "vmcore-dmesg.txt next to the vmcore and has no setting "
                                                     "to skip it"))
        return errors

    def target_lines(self, target):
        kind = target["type"]
        if kind == "local":
            return []
        if kind == "device":
            return [(target["fstype"], target["device"])]
        if kind == "raw":
            return [("raw", self.raw_device(target["device"]))]
        if kind == "ssh":
            # kdumpctl compares the host with `ssh -G`'s hostname, which OpenSSH lowercases.
            return [("ssh", f"{target['user']}@{target['host'].lower()}"), ("sshkey", target["key"])]
        return [("nfs", f"{_host_for_url(target['host'])}:{target['export']}")]

    @staticmethod
    def raw_device(device):
        """kdumpctl's save_raw needs a block device node ([[ -b ]]): tags become udev's links."""
        kind, _, value = device.partition("=")
        if kind == "PARTUUID":
            return f"/dev/disk/by-partuuid/{value.lower()}"
        if kind == "PARTLABEL":
            return f"/dev/disk/by-partlabel/{value}"
        return device

    def core_collector(self, policy, compression):
        flags = ["-F"] if policy["target"]["type"] in ("ssh", "raw") else []
        flags += [MAKEDUMPFILE_FLAG[compression]] if MAKEDUMPFILE_FLAG[compression] else []
        return " ".join(["makedumpfile"] + flags + ["--message-level 7", f"-d {policy['filter']['dump_level']}"])

    def knows_auto_reset_crashkernel(self):
        return self.os_id == "fedora" or (self.major or 0) >= 9

    def directive(self, name, value):
        """One kdump.conf line; every word is checked so that no value can end the line, start a
        comment or add a directive (validation already keeps them to safe sets)."""
        words = str(value).split(" ")
        if not all(_WORD_RE.fullmatch(word) for word in words):
            raise PlanError([f"host {self.host} ({self.distribution}): refusing to write kdump.conf directive {name} "
                             f"with value {show(value)}: only printable words without # are safe there"])
        return f"{name} {value}"

    def render_config(self, policy, compression):
        retention = policy["retention"]
        directives = self.target_lines(policy["target"]) + [
            ("path", policy["target"]["path"]),
            ("core_collector", self.core_collector(policy, compression)),
        ]
        if policy["target"]["type"] == "ssh":
            directives.append(("extra_bins", KNOWN_HOSTS))  # into the capture initrd; rebuilt when newer
        if self.el8():
            directives.append(("default", policy["on_failure"]))
        else:
            directives += [("failure_action", policy["on_failure"]), ("final_action", policy["on_success"])]
        if self.knows_auto_reset_crashkernel():
            directives.append(("auto_reset_crashkernel", "no"))
        lines = [self.directive(name, value) for name, value in directives]
        note = (f"# retention (keep {retention['keep']}, min_free {retention['min_free']} bytes): kdump.conf has "
                "no such setting, kdump does not enforce it.\n")
        return MANAGED_HEADER + note + "\n".join(lines) + "\n"

    def render_known_hosts(self, target):
        lines = "".join(known_hosts_line(target, key) + "\n" for key in self.host_keys)
        note = "# The dump server's pinned host key, for kdumpctl, mkdumprd and the capture kernel.\n"
        return MANAGED_HEADER + note + lines

    def files(self, policy, compression):
        files = [{"path": self.config_path, "content": self.render_config(policy, compression), "mode": "0644"}]
        if policy["target"]["type"] == "ssh":
            files.append({"path": KNOWN_HOSTS, "content": self.render_known_hosts(policy["target"]), "mode": "0644"})
        return files

    def obsolete_files(self, policy, files):
        """The pinned host key of an earlier ssh target."""
        return [] if policy["target"]["type"] == "ssh" else [KNOWN_HOSTS]
