# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (planning, standard library only: kdump_config runs it on the
managed host): what every distribution backend shares
(capability checks, crashkernel sizing, the plan's shape). Not a public API.
"""

from __future__ import annotations

import re

from ansible_collections.crashdump.kdump.plugins.module_utils._families import FAMILIES, guessed_compressions
from ansible_collections.crashdump.kdump.plugins.module_utils._panic_triggers import (
    PANIC_TRIGGERS,
    SYSCTL_FILE,
    missing_reason,
)
from ansible_collections.crashdump.kdump.plugins.module_utils import _crashkernel
from ansible_collections.crashdump.kdump.plugins.module_utils._value_kinds import is_kind, show

COMPRESSION_PREFERENCE = ("zstd", "lzo", "snappy", "zlib")
MAKEDUMPFILE_FLAG = {"zlib": "-c", "lzo": "-l", "snappy": "-p", "zstd": "-z", "none": ""}
MANAGED_HEADER = "# Managed by crashdump.kdump from kdump_policy: local changes are overwritten.\n"

# Families whose bootloader path keeps both words of crashkernel=X crashkernel=Y,cma (the
# Debian GRUB drop-in writes every planned word; grubby --args replaces every crashkernel=
# word with the given ones). SUSE's KDUMP_CRASHKERNEL handling is not checked.
CMA_FAMILIES = ("debian", "redhat")

_SHELL_NAME_RE = re.compile("[A-Z_][A-Z0-9_]*")


def shell_quote(value):
    """value single-quoted for a file sourced by sh or bash: nothing inside is expanded or run,
    whatever it holds (a ' becomes '\\''). Every shell-sourced file this collection renders
    quotes its values through this function."""
    return "'" + str(value).replace("'", "'\\''") + "'"


def shell_assignments(settings):
    """KEY='value' lines for [(key, value), ...] (or a dict) of a shell-sourced file."""
    items = settings.items() if isinstance(settings, dict) else settings
    lines = []
    for key, value in items:
        if not _SHELL_NAME_RE.fullmatch(key):
            raise ValueError(f"not a shell variable name: {key!r}")
        lines.append(f"{key}={shell_quote(value)}\n")
    return "".join(lines)


def known_hosts_name(target):
    """The target's host and port as OpenSSH looks them up in known_hosts."""
    host = target["host"].lower()  # ssh looks host names up lower-cased
    return host if target["port"] == 22 else f"[{host}]:{target['port']}"


def known_hosts_line(target, host_key):
    """The pinned host key as an OpenSSH known_hosts line for the target's host and port."""
    return f"{known_hosts_name(target)} {host_key}"


def known_hosts_keys(text, target):
    """The host keys ("type base64") a known_hosts text pins for the target's host and port."""
    name, keys = known_hosts_name(target), []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == name and is_kind("host_key", " ".join(words[1:3])):
            keys.append(" ".join(words[1:3]))
    return keys


def version_tuple(text):
    """(12, 4) for '12.4', '12.4-1.el9' or '15-SP4'; None when there is no leading number."""
    match = re.match(r"([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?", str(text or ""))
    return tuple(int(part or 0) for part in match.groups()) if match else None


def host_ram_bytes(facts):
    """The host's RAM as crashkernel= sizing sees it: MemTotal does not count memory that
    is already reserved for the capture kernel, so add it back (or a host would look
    smaller once its reservation is active, and the plan would change)."""
    crashkernel = facts.get("crashkernel") or {}
    return int(facts.get("mem_total_bytes") or 0) + int(crashkernel.get("reserved_bytes") or 0)


def panic_sysctls(policy):
    """(panic_on key, sysctl) of each trigger the policy sets (true or false), in the table's order."""
    return [(key, sysctl) for key, (sysctl, dummy) in PANIC_TRIGGERS.items() if policy["panic_on"][key] is not None]


def sysctl_files(policy):
    """The sysctl.d file of the panic triggers the policy sets; none when it sets none. Names come
    from the table and values are 0 or 1, so nothing from the policy is written as text."""
    lines = [f"{sysctl} = {int(policy['panic_on'][key])}\n" for key, sysctl in panic_sysctls(policy)]
    if not lines:
        return []
    note = "# kdump_policy.panic_on: the kernel events that panic this host, and so produce a dump.\n"
    return [{"path": SYSCTL_FILE, "content": MANAGED_HEADER + note + "".join(lines), "mode": "0644"}]


class PlanError(Exception):
    """The policy cannot be honoured on this host; .errors lists why."""

    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = list(errors)


class Backend:
    """One distribution family's native tooling. Subclasses set the class attributes and
    implement files(); the checks, sizing and plan shape are shared. What the host side knows
    of the family too (paths, service, release tables) is its _families table."""

    family = ""
    packages = ()
    # ansible.builtin.package's `use`: naming the module spares the host a fact-gathering
    # module run to find it (auto: let it find out; the dnf/dnf5 and zypper choices vary).
    package_manager = "auto"
    targets = ()  # target types this family can honour
    on_failure = ()  # on_failure values it can honour
    on_success = ()  # on_success values it can honour
    supported = {}  # os-release ID -> oldest supported VERSION_ID, e.g. "22.04"
    release_floor_reason = ""  # why older releases are refused
    known_hosts = None  # the file that pins the SSH dump server's host keys (ssh targets)

    def __init__(self, host, facts, host_keys=(), capture_script=None):
        self.host = host
        self.facts = facts
        self.host_keys = tuple(host_keys)  # the SSH dump server's public host keys, for ssh targets
        self.capture_script = capture_script  # the text of files the plan installs from the collection
        dist = facts.get("distribution") or {}
        self.distribution = f"{dist.get('id', 'unknown')} {dist.get('version_id', '')}".strip()
        self.os_id = dist.get("id")
        self.release = version_tuple(dist.get("version_id"))

    @property
    def table(self):
        return FAMILIES[self.family]

    @property
    def service(self):
        return self.table.service

    @property
    def config_path(self):
        return self.table.config_path

    def error(self, field, reason):
        return f"host {self.host} ({self.distribution}): kdump_policy.{field}: {reason}"

    def compressions(self):
        """The installed makedumpfile's compressions, else what the release's is built with."""
        tooling = self.facts.get("tooling") or {}
        if tooling.get("compressions"):
            return tuple(tooling["compressions"])
        return guessed_compressions(self.table, self.os_id, self.release)

    def release_errors(self):
        lowest = self.supported.get(self.os_id)
        if lowest is not None and self.release is not None and self.release >= version_tuple(lowest):
            return []
        floors = ", ".join(f"{os_id} {version}+" for os_id, version in self.supported.items())
        return [f"host {self.host} ({self.distribution}): crashdump.kdump supports {floors} in the "
                f"{self.family} family, not this release{': ' + self.release_floor_reason if self.release_floor_reason else ''}"]

    def check(self, policy):
        """Every reason this host cannot honour the policy (empty when it can)."""
        errors = self.release_errors()
        target = policy["target"]["type"]
        if target not in self.targets:
            errors.append(self.error("target.type", f"{target!r} is not supported on {self.family} hosts yet "
                                                    f"(supported: {', '.join(self.targets)})"
                                                    f"{self.support_note('target.type', target)}"))
        compression = policy["filter"]["compression"]
        if compression not in ("auto", "none") and compression not in self.compressions():
            errors.append(self.error("filter.compression", f"{compression!r} is not supported by this host's "
                                                           f"makedumpfile (supports: {', '.join(self.compressions())})"))
        for field, supported in (("on_failure", self.on_failure), ("on_success", self.on_success)):
            if policy[field] not in supported:
                errors.append(self.error(field, f"{policy[field]!r} is not supported with {self.packages[0]} yet "
                                                f"(supported: {', '.join(supported)}){self.support_note(field, policy[field])}"))
        if policy["target"]["type"] == "ssh":
            errors += self.ssh_errors(policy["target"])
        return errors + self.panic_errors(policy)

    def panic_errors(self, policy):
        """A panic trigger the policy sets must exist on this kernel (facts read None when it does not;
        facts without the readings leave it to kdump_config, which refuses it too)."""
        live = self.facts.get("panic_sysctls")
        if not isinstance(live, dict):
            return []
        return [self.error(f"panic_on.{key}", f"{missing_reason(sysctl)}; set it to null for this host")
                for key, sysctl in panic_sysctls(policy) if sysctl in live and live[sysctl] is None]

    def ssh_errors(self, target):
        """The dump key must exist (kdumpctl would fall back to another key without a word), the
        server's host key must be pinned, and each pinned host key must be one known_hosts entry."""
        errors = []
        if not self.host_keys:
            errors.append(self.error("target.host", f"no SSH host key known for {target['host']}: "
                                                    "set kdump_dump_server (an inventory host) or "
                                                    "kdump_ssh_host_keys; host keys are never skipped"))
        if not self.facts.get("ssh_public_key"):
            errors.append(self.error("target.key", f"no dump key on this host: {target['key']}.pub does not exist "
                                                   "(the kdump role creates it; without it the capture kernel "
                                                   "would try another key or none)"))
        for key in self.host_keys:
            if not is_kind("host_key", key):
                errors.append(f"host {self.host} ({self.distribution}): host_keys: expected a public host key "
                              f"'TYPE BASE64' on one line, got {show(key)}")
        return errors

    def pinned_host_keys(self, target, read):
        """The server's host keys an earlier run pinned on this host; read(path) -> text or None."""
        return known_hosts_keys(read(self.known_hosts), target) if self.known_hosts else []

    def missing_packages(self, policy):
        installed = (self.facts.get("tooling") or {}).get("packages") or {}
        return [p for p in self.packages_for(policy) if not installed.get(p)]

    def support_note(self, field, value):
        """Why ``value`` of ``field`` is refused on this host, appended to the refusal ('' if nothing to add)."""
        return ""

    def resolve_compression(self, requested):
        if requested != "auto":
            return requested
        supported = self.compressions()
        return next(c for c in COMPRESSION_PREFERENCE if c in supported or c == "zlib")

    def files(self, policy, compression):
        """[{"path", "content", "mode"}] of the native configuration."""
        raise NotImplementedError

    def packages_for(self, policy):
        return self.packages

    def directories(self, policy):
        """[{"path", "mode"}] created on the host: dumps are private to root."""
        target = policy["target"]
        return [{"path": target["path"], "mode": "0700"}] if target["type"] == "local" else []

    def mounts(self, policy):
        """systemd mount units started before the directories are made."""
        return []

    def obsolete_files(self, policy, files):
        """Files this backend manages for other policies, removed when present."""
        return []

    def plan(self, policy):
        errors = self.check(policy)
        if errors:
            raise PlanError(errors)
        compression = self.resolve_compression(policy["filter"]["compression"])
        files = self.files(policy, compression) + sysctl_files(policy)
        crashkernel = self.crashkernel(policy) if policy["enabled"] else None
        packages = self.packages_for(policy)
        return {
            "family": self.family,
            "distribution": self.distribution,
            "enabled": policy["enabled"],
            "packages": list(packages),
            "missing_packages": self.missing_packages(policy),
            "package_manager": self.package_manager,
            "service": self.service,
            "crashkernel": crashkernel["value"] if crashkernel else None,
            "crashkernel_bytes": crashkernel["bytes"] if crashkernel else 0,
            "crashkernel_cma_bytes": crashkernel["cma_bytes"] if crashkernel else 0,
            "compression": compression,
            "dump_path": policy["target"]["path"],
            "target": policy["target"]["type"],
            "files": files,
            "obsolete_files": self.obsolete_files(policy, files) + ([] if sysctl_files(policy) else [SYSCTL_FILE]),
            "sysctls": {sysctl: int(policy["panic_on"][key]) for key, sysctl in panic_sysctls(policy)},
            "mounts": self.mounts(policy),
            "directories": self.directories(policy),
            "reboot_allowed": policy["reboot"] == "allowed",
        }

    def crashkernel(self, policy):
        reservation = policy["reservation"]
        ram = host_ram_bytes(self.facts)
        arch = self.facts.get("architecture") or "x86_64"
        target = policy["target"]["type"]
        cma = reservation.get("cma")
        if cma:
            self.check_cma(arch, cma)
        dist = self.facts.get("distribution") or {}
        release = (dist.get("id"), str(dist.get("version_id") or "").split(".")[0])  # the calibration's key
        try:
            value = _crashkernel.crashkernel_value(reservation["size"], reservation["offset"], ram, arch, target, cma,
                                                   release)
            planned = _crashkernel.planned_bytes(reservation["size"], ram, arch, target, release)
        except _crashkernel.CrashkernelError as exc:
            raise PlanError([self.error("reservation.size", str(exc))]) from None
        if planned == 0:
            raise PlanError([self.error("reservation.size", f"the range list {value} reserves nothing for "
                                                            f"{ram // _crashkernel.MIB} MiB of RAM")])
        if ram and planned > ram // 2:
            raise PlanError([self.error("reservation.size", f"crashkernel={value} reserves "
                                                            f"{planned // _crashkernel.MIB} MiB, more than half of "
                                                            f"this host's {ram // _crashkernel.MIB} MiB of RAM: the "
                                                            "running system would be left too little (at most "
                                                            f"{ram // 2 // _crashkernel.MIB} MiB here)")])
        if cma and ram and planned + cma > ram // 2:
            raise PlanError([self.error("reservation.cma", f"crashkernel={value} reserves "
                                                           f"{planned // _crashkernel.MIB} MiB plus "
                                                           f"{cma // _crashkernel.MIB} MiB of CMA, more than half of "
                                                           f"this host's {ram // _crashkernel.MIB} MiB of RAM: CMA "
                                                           "memory only takes movable allocations, the kernel's own "
                                                           "would be left too little")])
        return {"value": value, "bytes": planned, "cma_bytes": cma or 0}

    def check_cma(self, arch, cma):
        """Refuse reservation.cma where the next boot would not reserve it: a family whose
        bootloader path is not known to keep two crashkernel= words, or a running kernel
        without crashkernel=,cma (too old, or built without CONFIG_CMA)."""
        if self.family not in CMA_FAMILIES:
            raise PlanError([self.error("reservation.cma", f"{_crashkernel.format_size(cma)} is not supported for "
                                                           f"the {self.family} family (supported: "
                                                           f"{', '.join(CMA_FAMILIES)}); set it to null")])
        reason = _crashkernel.cma_refusal(arch, self.facts.get("kernel_release"), self.facts.get("kernel_config"))
        if reason:
            raise PlanError([self.error("reservation.cma", f"{_crashkernel.format_size(cma)} refused: {reason}")])
