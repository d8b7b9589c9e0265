"""Hostile strings in every policy string field and in the inventory name, planned for every family.

For each generated input, either validation refuses it (PolicyError / PlanError, never another
exception), or every file the plan renders is safe for what reads it:
- every shell-sourced file is sourced by dash and by bash in a throwaway directory whose PATH holds
  only canary commands: no canary fires, nothing is written to stderr (no command was even looked
  up), and the only variables that change are the file's own, with exactly the values it spells;
- every kdump.conf is read by a re-implementation of kdumpctl's kdump_read_conf + parse_config
  (kdump-lib-initramfs.sh, kdumpctl of rhkdump/kdump-utils): it is accepted and holds exactly the
  directives the target calls for, with the policy's values;
- systemd units hold only their expected keys, without specifiers; known_hosts one line per key.

The quoting helper is also driven directly with arbitrary text, since validation keeps hostile
values from ever reaching it: a value that slipped past validation still cannot execute.

Runtime: MAX_EXAMPLES and MAX_QUOTING_EXAMPLES examples (about 15 s in all under nice on 2 cores).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import types
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils import _plan
from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import shell_assignments
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import PolicyError, normalise_policy

from test_golden import HOST_KEYS, HOSTS, facts

MAX_EXAMPLES = 600
MAX_QUOTING_EXAMPLES = 150
SHELLS = {name: shutil.which(name) for name in ("dash", "bash")}  # run with a PATH of canaries only
FAMILY_HOSTS = dict(HOSTS, debian13=facts("debian", "13", "debian", ("zlib", "lzo", "zstd")))
SHELL_FILES = ("/etc/default/kdump-tools", "/etc/crashdump-kdump/capture.conf", "/etc/sysconfig/kdump")
CANARY_COMMANDS = ("touch", "id", "rm", "sh", "bash", "reboot", "curl", "wget", "nc", "cat", "ls", "mkdir",
                   "chmod", "cp", "mv", "dd", "tee", "sleep", "pwned", "x", "b", "a")

BASE_TARGETS = {
    "local": {"type": "local", "path": "/var/crash"},
    "device": {"type": "device", "device": "/dev/disk/by-label/crash", "fstype": "ext4", "path": "/crash"},
    "raw": {"type": "raw", "device": "/dev/vdb1", "path": "/var/crash"},
    "ssh": {"type": "ssh", "host": "dumps.example.org", "user": "kdump", "path": "/srv/crash",
            "key": "/root/.ssh/kdump_id_ed25519"},
    "nfs": {"type": "nfs", "host": "192.0.2.10", "export": "/srv/crash", "path": "/hosts"},
}
OTHER_FIELDS = (("reservation", "size"), ("retention", "min_free"), ("filter", "compression"), ("on_failure",),
                ("on_success",))
FRAGMENTS = [
    "$(touch pwned)", "`touch pwned`", "';touch pwned;'", '";touch pwned;"', "\ntouch pwned\n", "\n", "\r", "\r\n",
    "\x00", "%eth0", "%$(id)", '%";id;"', "%a\nb", "..", "../../../../../srv/victim", "/..", "-oProxyCommand=id",
    "-", "é", "☃", "\u202e", " ", "\t", "#", "\\", "'", '"', "${PATH}", "$PATH", ";", "|", "&", ">", "<", "*", "?",
    "\ndracut_args --hostonly no", "\nextra_modules evil", " #", "=", ":", "@", "+", "_", ".", "...", "x", "",
]
PREFIXES = {"path": "/var/crash", "device": "/dev/disk/by-path/pci-0000:00:1f.2", "host": "fe80::1",
            "user": "kdump", "key": "/root/.ssh/kdump", "export": "/srv/crash", "inventory": "web01",
            "size": "256M", "min_free": "1G", "compression": "zstd", "on_failure": "reboot", "on_success": "halt"}


NEAR_VALID = "abcXYZ019._+@:-/"  # what the safe sets allow, and then some


def hostile(kind):
    prefix = PREFIXES.get(kind, "x")
    near_valid = st.builds(lambda a, b: a + b, st.just(prefix), st.text(alphabet=NEAR_VALID, max_size=8))
    return st.one_of(
        near_valid, near_valid,
        st.sampled_from(FRAGMENTS),
        st.builds(lambda a, b, c: a + b + c, st.sampled_from([prefix, prefix + "/", "", "/"]),
                  st.sampled_from(FRAGMENTS), st.sampled_from(["", "x", "/x", "\n"])),
        st.builds(lambda a, b: a + b, st.just(prefix), st.text(alphabet=NEAR_VALID, max_size=8)),
        st.text(max_size=24),
    )


class ReadOnlyMapping(Mapping):
    """A Mapping that is not a dict (as a foreign YAML loader or a proxy might hand over)."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


class BrokenMapping(ReadOnlyMapping):
    def items(self):
        raise RuntimeError("items() fails")

    def __iter__(self):
        raise OSError("iteration fails")


class TaggedDict(dict):
    """A dict subclass, as Ansible hands over tagged values."""


WRAPPERS = [dict, dict, dict, TaggedDict, ReadOnlyMapping, types.MappingProxyType, BrokenMapping]


@st.composite
def hostile_inputs(draw):
    target_type = draw(st.sampled_from(sorted(BASE_TARGETS)))
    target = dict(BASE_TARGETS[target_type])
    policy = {"target": target, "on_failure": "dump_to_rootfs" if target_type != "local" else "reboot"}
    fields = [("target", name) for name in target if name not in ("type", "fstype")] + list(OTHER_FIELDS)
    field = draw(st.sampled_from(fields))
    inventory = draw(hostile("inventory")) if draw(st.integers(0, 3)) == 0 else "web01"
    if field[0] == "target":
        target[field[1]] = draw(hostile(field[1]))
    elif len(field) == 1:
        policy[field[0]] = draw(hostile(field[0]))
    else:
        policy[field[0]] = {field[1]: draw(hostile(field[1]))}
    outer, inner = draw(st.sampled_from(WRAPPERS)), draw(st.sampled_from(WRAPPERS))
    policy["target"] = inner(target)
    return outer(policy), inventory


# --- what reads the rendered files -----------------------------------------------------------

SHELL_INTERNALS = re.compile(r"(_|PIPESTATUS|BASH_\w+|LINENO|RANDOM|SECONDS|OPTIND|PPID|FUNCNAME|SRANDOM|"
                             r"EPOCH\w+|BASHPID|HISTCMD|COLUMNS|LINES)=")


def spelled_values(text):
    """KEY -> value of KEY='value' lines, decoding the one quoting the collection writes ('\\'' for ')."""
    values = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)='((?:[^']|'\\'')*)'", line)
        if match:
            values[match.group(1)] = match.group(2).replace("'\\''", "'")
        else:
            assert line.startswith("#") or not line, f"not a comment, blank or KEY='value' line: {line!r}"
    return values


def source_in(shell, files, workdir):
    """Per file: (stderr, `set` before sourcing, `set` after it with the file's own variables unset,
    the file's variables as sourced)."""
    canaries = os.path.join(workdir, "bin")
    os.makedirs(canaries, exist_ok=True)
    for name in CANARY_COMMANDS:
        path = os.path.join(canaries, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f'#!/bin/sh\necho "{name} $*" >>"{workdir}/canary.log"\n')
        os.chmod(path, 0o755)
    results = {}
    for number, (path, text) in enumerate(files):
        config = os.path.join(workdir, f"config{number}")
        with open(config, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        names = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", text, re.M)
        dump = "".join(f'printf "%s\\0" "${name}"; ' for name in names)
        script = (f'set >"{workdir}/before"; . "{config}"; {dump}'
                  f'unset {" ".join(names)}; set >"{workdir}/after"')
        run = subprocess.run([SHELLS[shell], "-c", script], cwd=workdir, capture_output=True,
                             env={"PATH": canaries, "HOME": workdir, "LC_ALL": "C"}, check=False)
        with open(f"{workdir}/before", encoding="utf-8", errors="replace") as before, \
                open(f"{workdir}/after", encoding="utf-8", errors="replace") as after:
            results[path] = (run.stderr.decode(errors="replace"), before.read(), after.read(),
                             dict(zip(names, run.stdout.decode(errors="replace").split("\0")[:-1])))
    return results


def changed_lines(before, after):
    """Lines of `set` output that differ, the shells' own bookkeeping variables aside."""
    def kept(text):
        return {line for line in text.split("\n") if not SHELL_INTERNALS.match(line)}
    return kept(before) ^ kept(after)


class KdumpConfError(Exception):
    pass


KNOWN_OPTIONS = {"path", "core_collector", "kdump_post", "kdump_pre", "kdump_emergency", "extra_bins",
                 "extra_modules", "failure_action", "final_action", "force_rebuild", "force_no_rebuild",
                 "fence_kdump_args", "fence_kdump_nodes", "auto_reset_crashkernel", "dracut_args", "sshkey"}
TARGET_OPTIONS = {"raw", "ext2", "ext3", "ext4", "minix", "btrfs", "xfs", "nfs", "ssh", "virtiofs"}
DEPRECATED = {"net", "options", "link_delay", "disk_timeout", "debug_mem_level", "blacklist"}


def read_words(line):
    """`read -r opt val` with the default IFS: the first word, and the rest without outer blanks."""
    opt, val = re.fullmatch(r"([^ \t]*)[ \t]*(.*)", line.strip(" \t"), re.S).groups()
    return opt, val.rstrip(" \t")


SPACE = r"[ \t\n\r\f\v]"  # grep's \s: [[:space:]] in the C locale


def kdumpctl_options(text):
    """kdump.conf as kdumpctl sees it: kdump_read_conf's clean-up, then parse_config's rules."""
    options = {}
    for line in text.split("\n"):
        if re.match(f"{SPACE}*#", line) or re.fullmatch(f"{SPACE}*", line):
            continue  # grep -Ev -e '^\s*#' -e '^\s*$'
        opt, val = read_words(line)
        if "#" in val:
            val = val.split("#", 1)[0].rstrip(" \t\n\r\f\v")
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        opt, val = read_words(f"{opt} {val}")  # echo "$_opt $_val" | while read -r config_opt config_val
        if opt in DEPRECATED:
            raise KdumpConfError(f"deprecated option {opt}")
        if opt == "default":
            opt = "failure_action"
        elif opt in TARGET_OPTIONS:
            if "_target" in options:
                raise KdumpConfError("more than one dump target")
            options["_fstype"] = opt
            opt = "_target"
        elif opt not in KNOWN_OPTIONS:
            raise KdumpConfError(f"invalid option {opt!r}")
        if not val:
            raise KdumpConfError(f"empty value for {opt}")
        if opt in options:
            raise KdumpConfError(f"duplicated option {opt}")
        options[opt] = val
    return options


def expected_kdump_conf(policy, el8):
    target = policy["target"]
    expected = {"path": target["path"], "failure_action": policy["on_failure"]}
    if target["type"] == "ssh":
        expected.update(_fstype="ssh", _target=f"{target['user']}@{target['host'].lower()}", sshkey=target["key"],
                        extra_bins="/etc/ssh/ssh_known_hosts2")  # the pinned host key, into the capture initrd
    elif target["type"] == "nfs":
        host = f"[{target['host']}]" if ":" in target["host"] else target["host"]
        expected.update(_fstype="nfs", _target=f"{host}:{target['export']}")
    elif target["type"] == "device":
        expected.update(_fstype=target["fstype"], _target=target["device"])
    elif target["type"] == "raw":  # a block device node: tags become udev's links
        kind, _, value = target["device"].partition("=")
        links = {"PARTUUID": f"/dev/disk/by-partuuid/{value.lower()}", "PARTLABEL": f"/dev/disk/by-partlabel/{value}"}
        expected.update(_fstype="raw", _target=links.get(kind, target["device"]))
    if not el8:
        expected["final_action"] = policy["on_success"]
    return expected


UNIT_KEYS = {"Description", "What", "Where", "Type", "Options", "RequiresMountsFor", "UMask", "ExecStart",
             "ExecStartPre"}


def check_unit(text):
    for line in text.splitlines():
        if not line or line.startswith("#") or re.fullmatch(r"\[(Unit|Service|Mount)\]", line):
            continue
        key, sep, value = line.partition("=")
        assert sep and key in UNIT_KEYS, f"unexpected unit line {line!r}"
        assert "%" not in value and "\r" not in value, f"specifier or CR in unit line {line!r}"


def check_known_hosts(text, target):
    lines = [line for line in text.split("\n") if not line.startswith("# ")]
    assert lines[-1] == "" and len(lines) - 1 == len(HOST_KEYS), repr(text)
    host = target["host"].lower()
    name = host if target["port"] == 22 else f"[{host}]:{target['port']}"
    assert lines[:-1] == [f"{name} {key}" for key in HOST_KEYS]


# --- the properties ---------------------------------------------------------------------------

def plans_for(data, inventory):
    """[(family host, normalised policy, plan)] of the plans validation accepts."""
    try:
        policy = normalise_policy(data, host=inventory)
    except PolicyError as exc:
        assert exc.errors and all(e.startswith("host ") for e in exc.errors), exc.errors
        assert all("kdump_policy" in e or "inventory_hostname" in e for e in exc.errors), exc.errors
        return []
    plans = []
    for name, host_facts in FAMILY_HOSTS.items():
        try:
            plans.append((name, policy, _plan.make_plan(policy, host_facts, inventory, HOST_KEYS)))
        except _plan.PlanError as exc:
            assert exc.errors and all(e.startswith("host ") for e in exc.errors), exc.errors
    return plans


@pytest.mark.skipif(not all(SHELLS.values()), reason="needs dash and bash")
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile_inputs())
def test_hostile_strings_never_execute_nor_inject(tmp_path_factory, case):
    data, inventory = case
    plans = plans_for(data, inventory)
    event(f"{len(plans)} of {len(FAMILY_HOSTS)} families planned")
    for name, policy, plan in plans:
        files = {f["path"]: f["content"] for f in plan["files"]}
        shell_files = [(path, files[path]) for path in SHELL_FILES if path in files]
        for shell in ("dash", "bash"):
            workdir = str(tmp_path_factory.mktemp(f"{name}-{shell}"))
            for path, (stderr, before, after, sourced) in source_in(shell, shell_files, workdir).items():
                assert not os.path.exists(os.path.join(workdir, "canary.log")), (name, shell, path)
                assert stderr == "", (name, shell, path, stderr)
                spelled = spelled_values(files[path])
                assert sourced == spelled, (name, shell, path)
                assert not changed_lines(before, after), (name, shell, path)
        if "/etc/kdump.conf" in files:
            el8 = FAMILY_HOSTS[name]["distribution"]["major"] == 8
            options = kdumpctl_options(files["/etc/kdump.conf"])
            options.pop("core_collector")
            options.pop("auto_reset_crashkernel", None)
            assert options == expected_kdump_conf(policy, el8), name
        for path, text in files.items():
            if path.endswith((".mount", ".service.d/crashdump-kdump.conf")):
                check_unit(text)
            if path.endswith(("known_hosts", "known_hosts2")):
                check_known_hosts(text, policy["target"])


@pytest.mark.skipif(not all(SHELLS.values()), reason="needs dash and bash")
def test_the_checks_catch_what_they_are_for(tmp_path):
    """The oracles above fail on the files the issue describes (so a pass means something)."""
    injected = "CRASHDUMP_HOST='web'$(touch pwned)''\nCRASHDUMP_NFS_DIR=\"/x\"\n"
    results = source_in("dash", [("/etc/crashdump-kdump/capture.conf", injected)], str(tmp_path))
    assert os.path.exists(tmp_path / "canary.log")
    with pytest.raises(AssertionError):
        spelled_values(injected)
    stderr = results["/etc/crashdump-kdump/capture.conf"][0]
    assert stderr == ""  # the canary ran silently: the log, not stderr, is what catches it
    extra = source_in("bash", [("/x", "A='1'; B=2\n")], str(tmp_path / "b"))["/x"]
    assert changed_lines(extra[1], extra[2]) == {"B=2"}  # B is set on A's line, so it is not unset
    with pytest.raises(KdumpConfError, match="more than one"):
        kdumpctl_options("nfs h:/srv\nnfs h2:/srv\n")
    assert kdumpctl_options('path /var/crash # note\nssh "u@h"\n') == {"path": "/var/crash", "_fstype": "ssh",
                                                                       "_target": "u@h"}
    with pytest.raises(KdumpConfError, match="deprecated"):
        kdumpctl_options("path /x\nnet h:/srv\n")
    with pytest.raises(AssertionError):
        check_unit("[Mount]\nWhat=/dev/x\nExecStartPost=/bin/evil\n")
    with pytest.raises(AssertionError):
        check_unit("[Mount]\nWhat=/dev/%n\n")


@pytest.mark.skipif(not all(SHELLS.values()), reason="needs dash and bash")
@settings(max_examples=MAX_QUOTING_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=40)).map(lambda v: v.replace("\x00", "")),
                min_size=1, max_size=4))
def test_a_value_that_slips_past_validation_still_cannot_execute(tmp_path_factory, values):
    # shell_quote is the last line of defence: any text (shells cannot hold NUL) comes back as itself.
    settings_ = [(f"CRASHDUMP_V{number}", value) for number, value in enumerate(values)]
    text = shell_assignments(settings_)
    for shell in ("dash", "bash"):
        workdir = str(tmp_path_factory.mktemp(f"quote-{shell}"))
        stderr, before, after, sourced = source_in(shell, [("/x", text)], workdir)["/x"]
        assert not os.path.exists(os.path.join(workdir, "canary.log")), shell
        assert stderr == "", (shell, stderr)
        assert sourced == dict(settings_), shell
        assert not changed_lines(before, after), shell
