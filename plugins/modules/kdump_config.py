#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kdump_config
short_description: Enforce a kdump policy on a host through its native tooling, in one module run
version_added: 0.1.0
description:
  - Its action plugin validates and normalises O(policy) on the controller (pydantic), then runs the
    module once on the host, which reads the host's kdump state (what M(crashdump.kdump.kdump_facts)
    reads), plans its native configuration, compares it with the host and applies what differs (or
    predicts it, in check mode). On a compliant host that is the task's only remote module run.
  - The plan refuses, before anything changes, a policy the host's tooling cannot honour (target type,
    compression supported by its makedumpfile, failure and success actions, release), naming the
    host, its distribution, the field and the reason.
  - "Nothing changes while work is pending that the module cannot do itself, and RV(pending) says
    which: C(packages) (RV(missing_packages) are not installed: install them and run the module again,
    whose plan then uses the installed makedumpfile's compressions), C(ssh) (an C(ssh) target whose
    access RV(ssh_access) is not C(ok): create the dump key, enroll it on the dump server, pin the
    server's host key with O(host_keys), then run the module again). The role C(crashdump.kdump.kdump)
    does both."
  - For an C(ssh) target the host proves its own access to the dump server on every run - C(ssh)
    with the dump key, C(BatchMode), C(StrictHostKeyChecking) against only the pinned host keys and
    a 10 s C(ConnectTimeout), running the receiver's harmless C(check) - so a compliant client needs
    no task on the dump server. A dump server that is unreachable from the host, or that does not
    answer as the crashdump.kdump receiver, fails the task (in check mode too) - kdump could not
    dump there either.
  - Writes the native configuration files atomically, only when their content or mode differs.
  - Sets C(crashkernel=) persistently through the bootloader tooling (Debian and Ubuntu a managed
    GRUB drop-in that replaces every other C(crashkernel=), then C(update-grub)) and reports
    RV(reboot_required) when the running kernel's reservation differs from the plan.
  - Enables the kdump service and loads the capture kernel when memory is reserved; disables and
    unloads it when the plan says kdump is off. A run that leaves nothing pending and no reboot due,
    outside check mode, fails when the plan enables kdump and the capture kernel is still not loaded.
  - Sets the panic triggers of the plan (C(kdump_policy.panic_on)) on the running kernel too, through
    C(/proc/sys/kernel), whenever a running value differs from the plan; a trigger the running kernel
    lacks fails the task before anything changes.
  - If a step fails after files changed (a write, the target check, the bootloader, the service,
    loading the capture kernel), the previous files are put back with their previous modes (and the
    running kernel's previous panic triggers) and, if
    the capture kernel was touched, reloaded, so a host whose kdump worked before still works; the
    task fails with one message, which also says so when the rollback itself failed and what it left.
author:
  - crashdump.kdump developers (!UNKNOWN)
options:
  policy:
    description: The kdump policy (C(kdump_policy)), raw or as returned by M(crashdump.kdump.validate_policy).
    type: raw
    required: true
  host_keys:
    description:
      - Public host keys (C(type base64)) of the SSH dump server, pinned for the capture environment.
      - When empty, those an earlier run pinned on the host are used (and proven by the access check).
    type: list
    elements: str
    default: []
  inventory_hostname:
    description: Set by the action plugin to the host's inventory name (its dump directory's name); a value given here is replaced.
    type: str
  capture_script:
    description: Set by the action plugin to the collection's Debian capture script; a value given here is replaced.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  action:
    support: full
    description: Validates the policy on the controller, then runs the module on the host.
  async:
    support: none
    description: The action plugin runs the module synchronously.
  check_mode:
    support: full
  diff_mode:
    support: full
  facts:
    support: full
    description: Returns the host's kdump state as the fact C(kdump), as M(crashdump.kdump.kdump_facts) does.
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
  - The module runs with the managed host's Python standard library only; pydantic runs on the controller.
requirements:
  - pydantic >= 2 on the controller
"""

EXAMPLES = r"""
---
- name: Enforce the policy
  crashdump.kdump.kdump_config:
    policy: "{{ kdump_policy }}"
  register: kdump_config_result

- name: Install what it asks for (then run it again)
  ansible.builtin.package:
    name: "{{ kdump_config_result.missing_packages }}"
    use: "{{ kdump_config_result.package_manager }}"
  when: "'packages' in kdump_config_result.pending"
"""

RETURN = r"""
policy:
  description: The policy as the action plugin validated and normalised it (every default filled in, sizes in bytes).
  returned: success
  type: dict
check_mode:
  description: Whether this run only predicted (check mode, also when set on the task alone, where C(ansible_check_mode) stays false).
  returned: always
  type: bool
pending:
  description:
    - Work the module did not do, in which case it changed nothing (outside check mode) - C(packages)
      (RV(missing_packages)), C(ssh) (RV(ssh_access) is not C(ok)). Empty when the policy was applied.
  returned: always
  type: list
  elements: str
  sample: [packages]
missing_packages:
  description: Packages of the native tooling that are not installed yet.
  returned: always
  type: list
  elements: str
  sample: [kdump-tools, makedumpfile]
package_manager:
  description:
    - The package manager module that installs them (C(ansible.builtin.package)'s O(ansible.builtin.package#module:use)),
      or C(auto) to let that module find out; null when the host's family has no backend.
  returned: always
  type: str
  sample: apt
ssh_access:
  description: For an C(ssh) target, whether this host can dump to its server now; null otherwise.
  returned: always
  type: dict
  contains:
    state:
      description:
        - C(ok), C(no_key) (the dump key does not exist), C(no_host_key) (no host key of the server is
          pinned on the host or given in O(host_keys)), C(not_enrolled) (the server refuses the key),
          C(host_key_mismatch) (the server's host key is not the pinned one), C(no_client) (ssh is not
          installed yet).
      type: str
      sample: not_enrolled
    detail:
      description: Why, when the state is not C(ok) (ssh's own message when it ran).
      type: str
    public_key:
      description: The dump key's public half (C(type base64 comment)), null when it does not exist.
      type: str
plan:
  description: The native configuration planned for this host; null when the plan needs O(host_keys) first.
  returned: always
  type: dict
  contains:
    family:
      description: Distribution family backend.
      type: str
      sample: debian
    crashkernel:
      description:
        - The C(crashkernel=) value(s) for this host, space-separated (C(128M 512M,cma) with reservation.cma),
          or null when kdump is disabled.
      type: str
      sample: 192M
    crashkernel_bytes:
      description: What the regular reservation amounts to on this host (what C(/sys/kernel/kexec_crash_size) shows).
      type: int
      sample: 201326592
    compression:
      description: The compression the dump will use (C(auto) resolved).
      type: str
      sample: lzo
    files:
      description: Native files with their full content and mode.
      type: list
      elements: dict
    sysctls:
      description: The panic triggers C(kdump_policy.panic_on) sets (true 1, false 0), by sysctl name.
      type: dict
      sample: {kernel.panic_on_oops: 1}
    reboot_allowed:
      description: Whether C(kdump_policy.reboot) lets the role reboot the host to activate the reservation.
      type: bool
changed_files:
  description: Files that were (or in check mode would be) written, C(/proc/sys/kernel) ones included.
  returned: when nothing is pending, and in check mode
  type: list
  elements: str
  sample: [/etc/default/kdump-tools, /proc/sys/kernel/panic_on_oops]
reboot_required:
  description: The running kernel's crashkernel= differs from the plan; a reboot activates it.
  returned: when nothing is pending, and in check mode
  type: bool
loaded:
  description: Whether the capture kernel is loaded after the run.
  returned: when nothing is pending, and in check mode
  type: bool
crashkernel_running:
  description: The crashkernel= value of the running kernel.
  returned: when nothing is pending, and in check mode
  type: str
  sample: 192M
reserved_bytes:
  description: Memory reserved for the capture kernel by the running kernel.
  returned: when nothing is pending, and in check mode
  type: int
errors:
  description: Every reason the plan could not be made.
  returned: failure
  type: list
  elements: str
"""

import os
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crashdump.kdump.plugins.module_utils import _ssh_access
from ansible_collections.crashdump.kdump.plugins.module_utils._argspec import KDUMP_CONFIG
from ansible_collections.crashdump.kdump.plugins.module_utils._facts import gather, read_distribution, read_public_key
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import HOST_BACKENDS, BackendError
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import module_host, os_error
from ansible_collections.crashdump.kdump.plugins.module_utils._panic_triggers import (
    SYSCTL_FILE,
    missing_reason,
    proc_path,
)
from ansible_collections.crashdump.kdump.plugins.module_utils._plan import PlanError, backend_for, make_plan

ROOT = "/"  # the file system the host is read and written below; unit tests point it at a directory tree
KEY_CREATED_BY_THIS_RUN = "(created by the role)"  # stands for a dump key still to be made


def touches_units(paths):
    """Whether systemd must re-read its unit files after these paths changed."""
    return any(p.startswith("/etc/systemd/") for p in paths)


def as_text(data):
    return data.decode("utf-8", "replace") if data is not None else None


class Applier:
    """Computes what differs from the plan, and changes only that. When a step fails after
    files changed, the previous files (content and mode) are put back and, if the capture
    kernel was touched, the previous configuration is loaded again."""

    def __init__(self, module, plan, host, service_enabled):
        self.module = module
        self.plan = plan
        self.host = host
        self.service_enabled = bool(service_enabled)  # as gather read it; None (no such unit) is off
        self.changed_files = []
        self.previous = {}  # path: (content bytes, mode), (None, None) for a file that did not exist
        self.diffs = []
        self.bootloader_updated = False
        self.kernel_touched = False
        self.was_loaded = host.crash_kernel_loaded()
        self.loaded_after = self.was_loaded  # sync_capture_kernel's prediction, for check mode
        self.previous_sysctls = {}  # sysctl: the running kernel's value before this run set it

    def desired_files(self):
        files = [dict(f, mode=int(f["mode"], 8)) for f in self.plan["files"]]
        return files + self.host.bootloader_files(self.plan["crashkernel"])

    def remember(self, path, content, mode, after, after_header=None):
        self.changed_files.append(path)
        self.previous[path] = (content, mode)
        self.diffs.append({"before_header": path, "after_header": after_header or path,
                           "before": as_text(content) or "", "after": after})

    def sync_files(self):
        for wanted in self.desired_files():
            path = wanted["path"]
            content, mode = self.host.snapshot(path)
            if content == wanted["content"].encode("utf-8") and mode == wanted["mode"]:
                continue
            self.remember(path, content, mode, wanted["content"])
            if not self.module.check_mode:
                self.host.write_file(path, wanted["content"], wanted["mode"])

    def remove_obsolete_files(self):
        """Managed files the plan no longer has; a mount unit is unmounted first."""
        for path in self.plan.get("obsolete_files", []):
            content, mode = self.host.snapshot(path)
            if content is None:
                continue
            self.remember(path, content, mode, "", after_header="(removed)")
            if not self.module.check_mode:
                if path.endswith(".mount"):
                    self.host.stop_unit(os.path.basename(path))
                self.host.remove_file(path)

    def running_sysctls(self):
        """The running kernel's value of each sysctl the plan sets; one this kernel lacks is
        refused before anything changes."""
        values = {}
        for name in self.plan.get("sysctls") or {}:
            values[name] = self.host.read(proc_path(name), None)
            if values[name] is None:
                raise BackendError(f"cannot set {name}: {missing_reason(name)}")
        return values

    def sync_sysctls(self, running):
        """Set on the running kernel what the sysctl.d file sets for the next boot (also when
        only the running value was changed by hand)."""
        for name, value in (self.plan.get("sysctls") or {}).items():
            if running[name].strip() == str(value):
                continue
            path = proc_path(name)
            self.changed_files.append(path)
            self.diffs.append({"before_header": path, "after_header": path, "before": running[name],
                               "after": f"{value}\n"})
            if not self.module.check_mode:
                self.set_sysctl(name, f"{value}\n")
                self.previous_sysctls[name] = running[name]

    def set_sysctl(self, name, text):
        """One write at offset 0, as the kernel wants (sysctl_writes_strict); never creates a file."""
        path = self.host.path(proc_path(name))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, text.encode("ascii"))
            finally:
                os.close(fd)
        except OSError as exc:
            raise BackendError(f"cannot set {name}: {os_error('write', path, exc)}") from None

    def restore_previous_sysctls(self):
        """Put back the running kernel's values this run changed: (what was put back, problems, left)."""
        reset, problems, left = [], [], []
        for name, text in self.previous_sysctls.items():
            try:
                self.set_sysctl(name, text)
                reset.append(f"{name} = {text.strip()}")
            except BackendError as exc:
                problems.append(str(exc))
                left.append(proc_path(name))
        return reset, problems, left

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
        """A target that cannot take a dump now fails the run (and the previous files come back).
        Returns whether the check made (in check mode: would make) a change, such as the dump
        path on a Red Hat device or NFS target; in check mode the host backends change nothing.
        Skipped where it would prove nothing new: a local target has nothing to reach, and an ssh
        target whose files this run left alone was just proven by the Enforcer's probe (the same
        receiver check with the same key and pinned host keys)."""
        target = self.plan.get("target")
        if not self.plan["enabled"] or target == "local" or (target == "ssh" and not self.changed_files):
            return False
        return bool(self.host.check_target())

    def sync_directories(self):
        for wanted in self.plan["directories"]:
            path, mode = wanted["path"], int(wanted["mode"], 8)
            if self.host.is_dir(path) and self.host.file_mode(path) == mode:
                continue
            self.changed_files.append(path)
            if not self.module.check_mode:
                self.host.make_directory(path, mode)

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
        if self.service_enabled == enabled:
            return False
        if not self.module.check_mode:
            self.host.enable_service(self.plan["service"], enabled)
        return True

    def sync_capture_kernel(self, config_changed):
        """Load (or reload after a config change) when memory is reserved; unload when off.
        Check mode takes the same branches and predicts what the real run would report."""
        check_mode = self.module.check_mode
        loaded = self.host.crash_kernel_loaded()
        if not self.plan["enabled"]:
            self.loaded_after = False
            if loaded and not check_mode:
                self.kernel_touched = True
                self.host.unload()
            return loaded
        prepared = self.host.prepare_needed() if check_mode else self.host.prepare()
        if self.host.reserved_bytes() == 0 or (loaded and not config_changed):
            self.loaded_after = loaded
            return prepared
        if not check_mode:
            self.kernel_touched = True
            self.host.load()
        self.loaded_after = True
        return True

    def restore_previous_files(self):
        """Put back each file's previous content and mode (or remove it if it is new),
        then let systemd, the bootloader and the capture kernel see them again. Returns the
        files put back, what failed (one message each) and the files left as this run wrote them."""
        restored, problems, left = [], [], []
        for path, before in self.previous.items():
            try:
                if self.host.snapshot(path) == before:
                    continue  # never changed (its write failed before the rename)
                content, mode = before
                if content is None:
                    self.host.remove_file(path)
                else:
                    self.host.write_file(path, content, mode)
                restored.append(path)
            except BackendError as exc:
                problems.append(str(exc))
                left.append(path)
        bootloader = {f["path"] for f in self.host.bootloader_files(self.plan["crashkernel"])}
        try:
            if touches_units(restored):
                self.host.daemon_reload()
            if self.bootloader_updated and bootloader & set(restored):
                self.host.update_bootloader()
            if self.kernel_touched and self.was_loaded:
                self.host.load()
        except BackendError as exc:
            problems.append(f"reloading the previous configuration failed: {exc}")
        return restored, problems, left

    def rolled_back(self, error):
        """The run's error, after the rollback, saying what it put back or that it failed."""
        restored, problems, left = self.restore_previous_files()
        reset, sysctl_problems, sysctls_left = self.restore_previous_sysctls()
        problems, left = problems + sysctl_problems, left + sysctls_left
        if problems:
            state = f"left as this run wrote them: {', '.join(left)}" if left else "every file was put back"
            return BackendError(f"{error}\nThe rollback failed too ({state}); the previous kdump configuration "
                                "may not be loaded:\n" + "\n".join(problems))
        done = [f"The previous files were put back: {', '.join(restored)}."] if restored else []
        done += [f"The running kernel's previous values were put back: {', '.join(reset)}."] if reset else []
        return BackendError("\n".join([str(error)] + done)) if done else error

    def apply(self):
        try:
            return self.apply_steps()
        except BackendError as exc:
            if self.module.check_mode or not (self.previous or self.previous_sysctls):
                raise
            raise self.rolled_back(exc) from None

    def apply_steps(self):
        sysctls = self.running_sysctls()
        self.sync_files()
        self.remove_obsolete_files()
        self.sync_sysctls(sysctls)
        units_changed = self.sync_units()
        self.sync_directories()
        target_changed = self.check_target()
        bootloader_changed = self.sync_bootloader()
        service_changed = self.sync_service()
        # The capture kernel does not read the sysctl.d file: it alone changing needs no reload.
        loaded_changed = self.sync_capture_kernel(config_changed=any(p != SYSCTL_FILE for p in self.previous))
        running = self.host.running_crashkernel()
        reserved = self.host.reserved_bytes()
        return {
            "changed": (bool(self.changed_files) or units_changed or target_changed or bootloader_changed
                        or service_changed or loaded_changed),
            "changed_files": self.changed_files,
            "reboot_required": running != self.plan["crashkernel"] or (self.plan["enabled"] and reserved == 0),
            # Check mode reports what the run would leave, not what it found.
            "loaded": self.loaded_after if self.module.check_mode else self.host.crash_kernel_loaded(),
            "crashkernel_running": running,
            "reserved_bytes": reserved,
            "diff": self.diffs,
        }


class Enforcer:
    """One run: read the host, plan, then apply unless work is pending that the role must do first."""

    def __init__(self, module, reader, host_backend):
        self.module = module
        self.reader = reader
        self.host_backend = host_backend  # family -> the host backend applying the plan
        params = module.params
        self.policy, self.host = params["policy"], params["inventory_hostname"]
        self.target = self.policy["target"]
        self.ssh = self.target["type"] == "ssh"

    def run(self):
        host_keys, access = list(self.module.params["host_keys"]), None
        with ThreadPoolExecutor(max_workers=1) as pool:
            if self.ssh:  # the client asks its dump server while the host is read and the plan made
                host_keys, access = self.start_access_check(pool, host_keys)
            facts = gather(self.reader, None, self.target["key"] if self.ssh else None)
            backend = backend_for(facts, self.host)
            plan = None if self.ssh and not host_keys else self.plan(facts, host_keys)  # the plan pins them
            access = access and self.access(*access.result(), facts)
        missing = plan["missing_packages"] if plan else (backend.missing_packages(self.policy) if backend else [])
        pending = (["packages"] if missing else []) + (["ssh"] if access and access["state"] != _ssh_access.OK else [])
        result = {"pending": pending, "missing_packages": missing, "package_manager": backend and backend.package_manager,
                  "ssh_access": access, "plan": plan, "ansible_facts": {"kdump": facts}, "changed": False}
        if plan is None or (pending and not self.module.check_mode):
            return result
        result.update(Applier(self.module, plan, self.host_backend(plan["family"]), facts["service"]["enabled"]).apply())
        return result

    def start_access_check(self, pool, host_keys):
        """(host keys, given or else pinned; a future of the access (state, detail)): the probe, in the
        background, when it can run; the precondition's state when it cannot (no dump key yet, no host key)."""
        backend = backend_for({"distribution": read_distribution(self.reader)}, self.host)
        if not host_keys and backend:
            host_keys = backend.pinned_host_keys(self.target, self.reader.read)
        public_key = read_public_key(self.reader, self.target["key"])
        state, detail = _ssh_access.precondition(self.target, public_key, host_keys)
        if state is not None:
            return host_keys, pool.submit(lambda: (state, detail))
        return host_keys, pool.submit(self.probe, host_keys)

    def plan(self, facts, host_keys):
        if self.ssh and not facts.get("ssh_public_key"):
            # pending: the role creates the key; the plan tells what follows (check mode predicts it)
            facts = dict(facts, ssh_public_key=KEY_CREATED_BY_THIS_RUN)
        return make_plan(self.policy, facts, self.host, host_keys, self.module.params["capture_script"])

    def probe(self, host_keys):
        try:
            return _ssh_access.check_access(self.reader.runner, self.reader.which, self.target, host_keys,
                                            self.module.tmpdir)
        except _ssh_access.AccessError as exc:
            raise BackendError(f"host {self.host}: kdump_policy.target: {exc}") from None

    @staticmethod
    def access(state, detail, facts):
        return {"state": state, "detail": detail, "public_key": facts.get("ssh_public_key")}


def main():
    module = AnsibleModule(supports_check_mode=True, **KDUMP_CONFIG)
    try:
        result = Enforcer(module, module_host(module, ROOT), lambda family: HOST_BACKENDS[family](module, root=ROOT)).run()
    except PlanError as exc:
        module.fail_json(msg="\n".join(exc.errors), errors=exc.errors)
    except BackendError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
