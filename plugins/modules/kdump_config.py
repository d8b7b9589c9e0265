#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kdump_config
short_description: Apply a kdump plan on a host through its native tooling
version_added: 0.1.0
description:
  - Applies the plan made by M(crashdump.kdump.kdump_plan) in one module execution, so that a run
    against a compliant host is cheap.
  - Writes the native configuration files atomically, only when their content or mode differs.
  - Sets C(crashkernel=) persistently through the bootloader tooling (Debian and Ubuntu a managed
    GRUB drop-in that replaces every other C(crashkernel=), then C(update-grub)) and reports
    RV(reboot_required) when the running kernel's reservation differs from the plan.
  - Enables the kdump service and loads the capture kernel when memory is reserved; disables and
    unloads it when the plan says kdump is off.
  - If loading the capture kernel with the new configuration fails, the previous files are put back
    and reloaded, so a host whose kdump worked before still works, and the task fails.
author:
  - crashdump.kdump developers (!UNKNOWN)
options:
  plan:
    description: The plan returned by M(crashdump.kdump.kdump_plan).
    type: dict
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
    description: When run twice in a row with the same arguments, the second invocation indicates no change.
  safe_file_operations:
    support: full
    description: Each file is written to a temporary file in its directory, synced, then renamed over the old one.
  platform:
    support: full
    platforms: posix
notes:
  - Runs with the managed host's Python standard library only.
"""

EXAMPLES = r"""
---
- name: Apply the plan
  crashdump.kdump.kdump_config:
    plan: "{{ kdump_plan_result.plan }}"
  register: kdump_config_result
"""

RETURN = r"""
changed_files:
  description: Files that were (or in check mode would be) written.
  returned: always
  type: list
  elements: str
  sample: [/etc/default/kdump-tools]
reboot_required:
  description: The running kernel's crashkernel= differs from the plan; a reboot activates it.
  returned: always
  type: bool
loaded:
  description: Whether the capture kernel is loaded after the run.
  returned: always
  type: bool
crashkernel_running:
  description: The crashkernel= value of the running kernel.
  returned: always
  type: str
  sample: 192M
reserved_bytes:
  description: Memory reserved for the capture kernel by the running kernel.
  returned: always
  type: int
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import (
    HOST_BACKENDS,
    BackendError,
    cmdline_crashkernel,
    crash_kernel_loaded,
    read_text,
    reserved_bytes,
)


def write_atomically(module, path, content, mode):
    """Temp file in the destination directory, then rename: readers never see half a file.
    Synced before and after the rename: the next crash may come any second, and a new file
    renamed before its data reached the disk comes back empty (seen in the lab)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".crashdump-kdump-")
    module.add_cleanup_file(tmp)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)
    os.chmod(path, mode)  # atomic_move gives a new file the umask's mode, not the temp file's
    sync_directory(directory)


def touches_units(paths):
    """Whether systemd must re-read its unit files after these paths changed."""
    return any(p.startswith("/etc/systemd/") for p in paths)


def sync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


class Applier:
    """Computes what differs from the plan, and changes only that."""

    def __init__(self, module, plan):
        self.module = module
        self.plan = plan
        self.host = HOST_BACKENDS[plan["family"]](module)
        self.changed_files = []
        self.previous = {}
        self.diffs = []
        self.bootloader_updated = False

    def desired_files(self):
        files = [dict(f, mode=int(f["mode"], 8)) for f in self.plan["files"]]
        return files + self.host.bootloader_files(self.plan["crashkernel"])

    def sync_files(self):
        for wanted in self.desired_files():
            path, current = wanted["path"], read_text(wanted["path"], None)
            if current == wanted["content"] and file_mode(path) == wanted["mode"]:
                continue
            self.changed_files.append(path)
            self.previous[path] = current
            self.diffs.append({"before_header": path, "after_header": path,
                               "before": current or "", "after": wanted["content"]})
            if not self.module.check_mode:
                write_atomically(self.module, path, wanted["content"], wanted["mode"])

    def remove_obsolete_files(self):
        """Managed files the plan no longer has; a mount unit is unmounted first."""
        for path in self.plan.get("obsolete_files", []):
            current = read_text(path, None)
            if current is None:
                continue
            self.changed_files.append(path)
            self.previous[path] = current
            self.diffs.append({"before_header": path, "after_header": "(removed)", "before": current, "after": ""})
            if not self.module.check_mode:
                if path.endswith(".mount"):
                    self.host.stop_unit(os.path.basename(path))
                os.unlink(path)
                sync_directory(os.path.dirname(path))

    def sync_units(self):
        """Let systemd see changed unit files, then start the mounts the dump directory is on."""
        changed = False
        if not self.module.check_mode and touches_units(self.changed_files):
            self.host.daemon_reload()
        for unit in self.plan.get("mounts", []):
            if self.host.unit_active(unit):
                continue
            changed = True
            if not self.module.check_mode:
                self.host.start_unit(unit)
        return changed

    def check_target(self):
        """A target that cannot take a dump now fails the run, with the previous files back."""
        if self.module.check_mode or not self.plan["enabled"]:
            return
        try:
            self.host.check_target()
        except BackendError:
            self.restore_previous_files()
            raise

    def sync_directories(self):
        for wanted in self.plan["directories"]:
            path, mode = wanted["path"], int(wanted["mode"], 8)
            if os.path.isdir(path) and file_mode(path) == mode:
                continue
            self.changed_files.append(path)
            if not self.module.check_mode:
                os.makedirs(path, mode=mode, exist_ok=True)
                os.chmod(path, mode)

    def sync_bootloader(self):
        """Regenerate the boot menu when it does not carry the planned crashkernel=."""
        if self.host.bootloader_has(self.plan["crashkernel"]):
            return False
        if not self.module.check_mode:
            self.host.update_bootloader()
            self.bootloader_updated = True
        return True

    def sync_service(self):
        enabled = self.plan["enabled"]
        if self.host.service_state(self.plan["service"]) == enabled:
            return False
        if not self.module.check_mode:
            self.host.enable_service(self.plan["service"], enabled)
        return True

    def sync_capture_kernel(self, config_changed):
        """Load (or reload after a config change) when memory is reserved; unload when off."""
        if self.module.check_mode:
            return self.plan["enabled"] and (config_changed or not crash_kernel_loaded())
        if not self.plan["enabled"]:
            was_loaded = crash_kernel_loaded()
            self.host.unload()
            return was_loaded
        prepared = self.host.prepare()
        if reserved_bytes() == 0 or (crash_kernel_loaded() and not config_changed):
            return prepared
        try:
            self.host.load()
        except BackendError:
            self.restore_previous_files()
            raise
        return True

    def restore_previous_files(self):
        """Put the files of the last working configuration back and load it again."""
        for path, content in self.previous.items():
            if content is None:
                os.unlink(path)
                sync_directory(os.path.dirname(path))
            else:
                write_atomically(self.module, path, content, file_mode(path) or 0o644)
        bootloader = {f["path"] for f in self.host.bootloader_files(self.plan["crashkernel"])}
        try:
            if touches_units(self.previous):
                self.host.daemon_reload()
            if self.bootloader_updated and bootloader & set(self.previous):
                self.host.update_bootloader()
            self.host.load()
        except BackendError:
            pass  # the original error is the one to report

    def apply(self):
        self.sync_files()
        self.remove_obsolete_files()
        units_changed = self.sync_units()
        self.sync_directories()
        self.check_target()
        bootloader_changed = self.sync_bootloader()
        service_changed = self.sync_service()
        loaded_changed = self.sync_capture_kernel(config_changed=bool(self.previous))
        running = cmdline_crashkernel()
        return {
            "changed": (bool(self.changed_files) or units_changed or bootloader_changed or service_changed
                        or loaded_changed),
            "changed_files": self.changed_files,
            "reboot_required": running != self.plan["crashkernel"] or (
                self.plan["enabled"] and reserved_bytes() == 0),
            "loaded": crash_kernel_loaded(),
            "crashkernel_running": running,
            "reserved_bytes": reserved_bytes(),
            "diff": self.diffs,
        }


def main():
    module = AnsibleModule(argument_spec={"plan": {"type": "dict", "required": True}}, supports_check_mode=True)
    plan = module.params["plan"]
    if plan.get("family") not in HOST_BACKENDS:
        module.fail_json(msg=f"plan.family: no host backend for {plan.get('family')!r}")
    try:
        result = Applier(module, plan).apply()
    except BackendError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
