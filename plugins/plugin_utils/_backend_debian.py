# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller side): the Debian and Ubuntu backend. Not a public API."""

from __future__ import annotations

from ansible_collections.crashdump.kdump.plugins.plugin_utils._backend_base import (
    MAKEDUMPFILE_FLAG,
    MANAGED_HEADER,
    Backend,
)


class DebianBackend(Backend):
    """Debian and Ubuntu: kdump-tools, /etc/default/kdump-tools, GRUB drop-in + update-grub."""

    family = "debian"
    packages = ("kdump-tools", "makedumpfile", "kexec-tools")
    service = "kdump-tools"
    targets = ("local",)
    on_failure = ("reboot", "halt", "poweroff", "shell")
    on_success = ("reboot",)  # kdump-tools' dump service always reboots after a saved dump
    config_path = "/etc/default/kdump-tools"
    dump_service_dropin = "/etc/systemd/system/kdump-tools-dump.service.d/crashdump-kdump.conf"
    fail_commands = {"reboot": "reboot -f", "halt": "halt -f", "poweroff": "poweroff -f",
                     "shell": "systemctl --no-block emergency"}

    def render_config(self, policy, compression):
        flag = MAKEDUMPFILE_FLAG[compression]
        makedump_args = " ".join(part for part in ("-F", flag, f"-d {policy['filter']['dump_level']}") if part)
        lines = [
            f"USE_KDUMP={1 if policy['enabled'] else 0}",
            "KDUMP_KERNEL=/var/lib/kdump/vmlinuz",
            "KDUMP_INITRD=/var/lib/kdump/initrd.img",
            f'KDUMP_COREDIR="{policy["target"]["path"]}"',
            f'KDUMP_FAIL_CMD="{self.fail_commands[policy["on_failure"]]}"',
            f"KDUMP_DUMP_DMESG={1 if policy['filter']['dmesg'] else 0}",
            f"KDUMP_NUM_DUMPS={policy['retention']['keep']}",
            f'MAKEDUMP_ARGS="{makedump_args}"',
        ]
        return MANAGED_HEADER + "\n".join(lines) + "\n"

    def files(self, policy, compression):
        return [
            {"path": self.config_path, "content": self.render_config(policy, compression), "mode": "0644"},
            # A vmcore is a copy of memory, secrets included: nobody but root reads it.
            {"path": self.dump_service_dropin, "content": MANAGED_HEADER + "[Service]\nUMask=0077\n",
             "mode": "0644"},
        ]


# The other families' backends subclass Backend, so they are imported once it exists.
