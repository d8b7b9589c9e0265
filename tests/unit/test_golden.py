"""Rendered native configuration of every backend, against reviewed golden files, plus format
checks that do not depend on them, and the policies each backend refuses.

Golden files: tests/unit/golden/<family>/<target>-<filter>.conf hold the native configuration
file (the plan's first file) for one host per family. After a deliberate rendering change,
regenerate them and review the diff line by line against the reference before committing:

    UPDATE_GOLDEN=1 pytest tests/unit/test_golden.py

Red Hat and SUSE hosts cannot be booted in the lab: for them these files (checked against
kdump.conf(5) and kdump(5)) are the proof, so keep every change to them reviewed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _facts, _hostbackends
from ansible_collections.crashdump.kdump.plugins.module_utils import _hostbackends_rpm as rpm
from ansible_collections.crashdump.kdump.plugins.module_utils import _plan  # before the backends it imports
from ansible_collections.crashdump.kdump.plugins.module_utils import _backend_redhat
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
GIB = 1024 ** 3
DUMP_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNsaWVudC1kdW1wLWtleS0wMDAwMDAwMDAwMDAwMDAw crashdump-kdump:web01"


def facts(os_id, version_id, family, compressions=(), packages=None):
    return {
        "distribution": {"id": os_id, "version_id": version_id, "major": int(version_id.split(".")[0]),
                         "family": family},
        "architecture": "x86_64",
        "mem_total_bytes": 4 * GIB,
        "tooling": {"compressions": list(compressions), "packages": dict(packages or {})},
        "ssh_public_key": DUMP_KEY,
    }


# Compressions from makedumpfile -v where the lab or a fixture shows them; none (release defaults) elsewhere.
HOSTS = {
    "debian12": facts("debian", "12", "debian", ("zlib", "lzo")),
    "ubuntu2404": facts("ubuntu", "24.04", "debian"),
    "rhel9": facts("rhel", "9.4", "redhat", ("zlib", "lzo", "snappy", "zstd")),
    "rhel10": facts("rocky", "10.0", "redhat"),
    "sles15": facts("sles", "15.6", "suse", packages={"kdump": "2.1.1-150600.3.3.1"}),
}
TARGETS = {
    "local": ({"type": "local", "path": "/var/crash"}, "reboot", "reboot"),
    "device": ({"type": "device", "device": "UUID=0b9c5a7e-3f9e-4c1e-9d3b-2a4c6e8f0a1b", "fstype": "xfs",
                "path": "/crash"}, "dump_to_rootfs", "poweroff"),
    "raw": ({"type": "raw", "device": "PARTUUID=1A2B3C4D-0001", "path": "/var/crash"}, "halt", "halt"),
    "ssh": ({"type": "ssh", "host": "dumps.example.org", "user": "kdump", "path": "/srv/crash",
             "key": "/root/.ssh/kdump_id_ed25519"}, "shell", "reboot"),
    "nfs": ({"type": "nfs", "host": "nfs.example.org", "export": "/srv/crash", "path": "/hosts"},
            "reboot", "reboot"),
}
FILTERS = {
    "level31-auto": {"dump_level": 31, "compression": "auto"},
    "zero-free-none": {"dump_level": ["zero", "free"], "compression": "none"},
    "zlib": {"dump_level": 31, "compression": "zlib"},
}
SUPPORTED = {"debian": tuple(TARGETS), "redhat": tuple(TARGETS), "suse": ("local", "ssh", "nfs")}
HOST_KEYS = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYi1kdW1wLXNlcnZlci1ob3N0LWtleS0wMDAwMDAw",)


def policy(target="local", filter_name="level31-auto", **overrides):
    spec, on_failure, on_success = TARGETS[target]
    data = {"target": dict(spec), "filter": dict(FILTERS[filter_name]), "on_failure": on_failure,
            "on_success": on_success, "retention": {"keep": 3, "min_free": "1G"}}
    data.update(overrides)
    return normalise_policy(data)


def plan_for(host, target="local", filter_name="level31-auto", **overrides):
    return _plan.make_plan(policy(target, filter_name, **overrides), HOSTS[host], f"{host}-01", HOST_KEYS)


CASES = [(host, target, filter_name)
         for host, host_facts in HOSTS.items()
         for target in SUPPORTED[host_facts["distribution"]["family"]]
         for filter_name in FILTERS]


def config_text(host, target, filter_name):
    """The native configuration file; on Debian also the capture script's settings, both sourced by sh."""
    files = plan_for(host, target, filter_name)["files"]
    count = 2 if HOSTS[host]["distribution"]["family"] == "debian" else 1
    return "".join(f["content"] for f in files[:count])


@pytest.mark.parametrize("host,target,filter_name", CASES)
def test_rendering_matches_golden_file(host, target, filter_name):
    path = os.path.join(GOLDEN, host, f"{target}-{filter_name}.conf")
    text = config_text(host, target, filter_name)
    if UPDATE:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    with open(path, encoding="utf-8") as handle:
        assert text == handle.read(), f"rendering differs from {path} (UPDATE_GOLDEN=1 to regenerate, then review)"


def test_no_stale_golden_files():
    expected = {os.path.join(host, f"{target}-{name}.conf") for host, target, name in CASES}
    found = {os.path.relpath(os.path.join(root, name), GOLDEN)
             for root, _, names in os.walk(GOLDEN) for name in names}
    assert found == expected


# --- format checks, independent of the golden files ------------------------------------------

@pytest.mark.parametrize("host,target,filter_name", [c for c in CASES if HOSTS[c[0]]["distribution"]["family"]
                                                     == "redhat"])
def test_kdump_conf_has_documented_directives_once_and_one_target(host, target, filter_name):
    lines = [line.split() for line in config_text(host, target, filter_name).splitlines()
             if line.strip() and not line.startswith("#")]
    directives = [words[0] for words in lines]
    assert set(directives) <= set(_backend_redhat.DIRECTIVES)
    assert "default" not in directives
    assert len(directives) == len(set(directives)), "kdumpctl rejects a repeated directive"
    targets = [d for d in directives if d in _backend_redhat.TARGET_DIRECTIVES]
    assert len(targets) == (0 if target == "local" else 1)
    collector = next(" ".join(words[1:]) for words in lines if words[0] == "core_collector")
    assert collector.startswith("makedumpfile ") and collector.endswith(" --message-level 7 -d "
                                                                         f"{policy(target, filter_name)['filter']['dump_level']}")
    assert ("-F" in collector.split()) == (target in ("ssh", "raw")), "mkdumprd needs -F for ssh and raw only"


def sourced(text, tmp_path, names):
    """The variables as sh sees them after sourcing the file: syntax-checked first."""
    path = tmp_path / "config"
    path.write_text(text, encoding="utf-8")
    subprocess.run(["sh", "-n", str(path)], check=True)
    script = ". \"$1\"; " + " ".join(f"printf '%s\\0' \"${name}\";" for name in names)
    out = subprocess.run(["sh", "-c", script, "sh", str(path)], check=True, capture_output=True, text=True).stdout
    return dict(zip(names, out.split("\0")[:-1]))


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize("host,target,filter_name", [c for c in CASES if HOSTS[c[0]]["distribution"]["family"]
                                                     in ("debian", "suse")])
def test_shell_config_is_sourced_with_the_values_meant(host, target, filter_name, tmp_path):
    text = config_text(host, target, filter_name)
    meant = _facts.parse_shell_assignments(text)
    assert meant, "no assignments found"
    assert sourced(text, tmp_path, list(meant)) == meant


def test_suse_values_as_kdump_reads_them(tmp_path):
    cases = {
        ("local", "level31-auto"): {"KDUMP_SAVEDIR": "file:///var/crash", "KDUMP_DUMPFORMAT": "zstd",
                                    "KDUMP_KEEP_OLD_DUMPS": "2", "KDUMP_FREE_DISK_SIZE": "1024",
                                    "KDUMP_CONTINUE_ON_ERROR": "true", "KDUMP_CRASHKERNEL": "crashkernel=192M"},
        ("ssh", "zero-free-none"): {"KDUMP_SAVEDIR": "ssh://kdump@dumps.example.org/srv/crash",
                                    "KDUMP_SSH_IDENTITY": "/root/.ssh/kdump_id_ed25519", "KDUMP_DUMPLEVEL": "17",
                                    "KDUMP_DUMPFORMAT": "ELF", "KDUMP_CONTINUE_ON_ERROR": "false"},
        ("nfs", "zlib"): {"KDUMP_SAVEDIR": "nfs://nfs.example.org/srv/crash/hosts", "KDUMP_DUMPFORMAT": "compressed",
                          "KDUMP_IMMEDIATE_REBOOT": "true", "KDUMP_UPDATE_BOOTLOADER": "false"},
    }
    for (target, filter_name), expected in cases.items():
        assert sourced(config_text("sles15", target, filter_name), tmp_path, list(expected)) == expected


def test_suse_retention_mapping_counts_the_new_dump():
    # kdump-save deletes before saving and keeps KDUMP_KEEP_OLD_DUMPS old dumps besides the new one.
    def keep(value, kdump="2.0.13-150600.3.1"):
        host = dict(HOSTS["sles15"], tooling={"packages": {"kdump": kdump}, "compressions": []})
        plan = _plan.make_plan(policy(retention={"keep": value, "min_free": 0}), host, "sles15-01")
        return _facts.parse_shell_assignments(plan["files"][0]["content"])["KDUMP_KEEP_OLD_DUMPS"]
    assert [keep(n) for n in (0, 1, 2, 5)] == ["0", "-1", "1", "4"]
    assert keep(1, kdump="1.0.2-150500.1.1") == "-1"  # kdumptool reads -1 as "delete all old ones"
    assert keep(2, kdump="2.0.5-1.1") == "1"


@pytest.mark.parametrize("kdump", [None, "1.9.8-1.1", "2.0.0-150600.1.1", "2.0.12-1.1"])
def test_suse_keep_one_is_refused_where_kdump_reads_minus_one_as_keep_all(kdump):
    # kdump-read-config.sh from 1.9 to 2.0.12 accepts ^[0-9]+$ only and falls back to 0 (keep all).
    host = dict(HOSTS["sles15"], tooling={"packages": {"kdump": kdump}, "compressions": []})
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy(retention={"keep": 1, "min_free": 0}), host, "sles15-01")
    assert "kdump_policy.retention.keep: 1 is not supported with this host's kdump" in info.value.errors[0]


def test_debian_values_as_kdump_tools_reads_them(tmp_path):
    expected = {"USE_KDUMP": "1", "KDUMP_COREDIR": "/var/crash", "MAKEDUMP_ARGS": "-F -d 17",
                "KDUMP_NUM_DUMPS": "3", "CRASHDUMP_ON_FAILURE": "reboot", "CRASHDUMP_MIN_FREE": str(GIB)}
    assert sourced(config_text("debian12", "local", "zero-free-none"), tmp_path, list(expected)) == expected
    device = {"KDUMP_COREDIR": "/var/lib/crashdump-kdump/target/crash", "CRASHDUMP_TARGET": "device",
              "CRASHDUMP_ON_FAILURE": "dump_to_rootfs", "CRASHDUMP_ON_SUCCESS": "poweroff"}
    assert sourced(config_text("debian12", "device", "zlib"), tmp_path, list(device)) == device
    ssh = {"CRASHDUMP_SSH_DEST": "kdump@dumps.example.org", "CRASHDUMP_SSH_PORT": "22",
           "CRASHDUMP_HOST": "debian12-01", "KDUMP_COREDIR": "/var/crash"}
    assert sourced(config_text("debian12", "ssh", "zlib"), tmp_path, list(ssh)) == ssh


def test_debian_capture_files_per_target():
    def files(target):
        return {f["path"]: f for f in plan_for("debian12", target)["files"]}
    device = files("device")
    unit = device["/etc/systemd/system/var-lib-crashdump\\x2dkdump-target.mount"]["content"]
    assert "What=/dev/disk/by-uuid/0b9c5a7e-3f9e-4c1e-9d3b-2a4c6e8f0a1b\n" in unit and "Type=xfs\n" in unit
    dump_dropin = device["/etc/systemd/system/kdump-tools-dump.service.d/crashdump-kdump.conf"]["content"]
    assert "RequiresMountsFor=/var/lib/crashdump-kdump/target\n" in dump_dropin
    assert "ExecStart=\nExecStart=/usr/lib/crashdump-kdump/capture\n" in dump_dropin and "UMask=0077" in dump_dropin
    assert files("ssh")["/etc/crashdump-kdump/known_hosts"]["content"] == f"dumps.example.org {HOST_KEYS[0]}\n"
    assert files("raw")["/usr/lib/crashdump-kdump/capture"]["mode"] == "0755"
    assert plan_for("debian12", "device")["mounts"] == ["var-lib-crashdump\\x2dkdump-target.mount"]
    assert plan_for("debian12", "nfs")["packages"][-1] == "nfs-common"


def test_debian_ssh_needs_a_pinned_host_key():
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy("ssh"), HOSTS["debian12"], "web01")
    assert "kdump_policy.target.host: no SSH host key known for dumps.example.org" in info.value.errors[0]


def test_plan_packages_services_and_modes():
    summary = {host: (p["packages"], p["service"], [(f["path"], f["mode"]) for f in p["files"]])
               for host, p in ((host, plan_for(host)) for host in HOSTS)}
    assert summary["rhel9"] == (["kexec-tools"], "kdump", [("/etc/kdump.conf", "0644")])
    assert summary["rhel10"] == (["kdump-utils", "makedumpfile"], "kdump", [("/etc/kdump.conf", "0644")])
    assert summary["sles15"] == (["kdump", "makedumpfile", "kexec-tools"], "kdump",
                                 [("/etc/sysconfig/kdump", "0600")])


def test_fedora_41_uses_kdump_utils_and_el8_has_no_auto_reset():
    fedora = _plan.make_plan(policy(), facts("fedora", "41", "redhat"), "f41")
    assert fedora["packages"] == ["kdump-utils", "makedumpfile"]
    el8 = _plan.make_plan(policy(), facts("almalinux", "8.10", "redhat"), "alma8")
    assert el8["packages"] == ["kexec-tools"]
    assert "auto_reset_crashkernel" not in el8["files"][0]["content"]


def test_raw_tags_become_device_nodes_on_red_hat():
    text = config_text("rhel9", "raw", "zlib")
    assert "raw /dev/disk/by-partuuid/1a2b3c4d-0001\n" in text
    assert "path /var/crash\n" in text  # where kdumpctl's save_raw recovers the dump at the next boot


# --- capability refusals ----------------------------------------------------------------------

def refusal(host, **overrides):
    target = overrides.pop("target", "local")
    filter_name = overrides.pop("filter_name", "level31-auto")
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy(target, filter_name, **overrides), HOSTS[host], "web01", HOST_KEYS)
    return info.value.errors


@pytest.mark.parametrize("host,overrides,field,reason", [
    ("debian12", {"filter": {"compression": "zstd"}}, "filter.compression",
     "'zstd' is not supported by this host's makedumpfile"),
    ("sles15", {"target": "raw"}, "target.type", "no raw device target"),
    ("sles15", {"target": "device"}, "target.type", "takes a directory, not a device"),
    ("sles15", {"on_success": "halt"}, "on_success", "'halt' is not supported"),
    ("sles15", {"target": "nfs", "on_failure": "dump_to_rootfs"}, "on_failure", "'dump_to_rootfs' is not supported"),
    ("sles15", {"target": {"type": "ssh", "host": "dumps.example.org", "user": "kdump", "port": 2222}},
     "target.port", "2222 is not supported"),
    ("sles15", {"target": {"type": "nfs", "host": "fd00::5", "export": "/srv/crash"}}, "target.host",
     "IPv6 address"),
    ("sles15", {"filter": {"dmesg": False}}, "filter.dmesg", "always saves the dmesg"),
    ("rhel9", {"target": {"type": "ssh", "host": "dumps.example.org", "user": "kdump", "port": 2222}},
     "target.port", "kdump.conf has no SSH port setting"),
    ("rhel9", {"filter": {"dmesg": False}}, "filter.dmesg", "always saves vmcore-dmesg.txt"),
])
def test_refusals_name_host_distribution_field_and_reason(host, overrides, field, reason):
    overrides = dict(overrides)  # the parameter is shared by every run in this process
    if isinstance(overrides.get("target"), dict):
        spec = overrides.pop("target")
        errors = _refusal_with_target(host, spec, **overrides)
    else:
        errors = refusal(host, **overrides)
    dist = HOSTS[host]["distribution"]
    prefix = f"host web01 ({dist['id']} {dist['version_id']}): kdump_policy.{field}: "
    assert any(e.startswith(prefix) and reason in e for e in errors), errors


def _refusal_with_target(host, spec, **overrides):
    data = {"target": spec, "on_failure": "reboot", **overrides}
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(normalise_policy(data), HOSTS[host], "web01", HOST_KEYS)
    return info.value.errors


def test_unsupported_release_is_refused():
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy(), facts("centos", "7.9", "redhat"), "old01")
    assert info.value.errors[0].startswith("host old01 (centos 7.9): crashdump.kdump supports rhel 8+")


# --- host side: /etc/default/grub editing (SUSE) and the crashkernel file ---------------------

def test_default_grub_edit_replaces_every_crashkernel():
    text = ('GRUB_TIMEOUT=8\nGRUB_CMDLINE_LINUX_DEFAULT="splash=silent quiet crashkernel=219M,high '
            'crashkernel=72M,low"\nGRUB_CMDLINE_LINUX="crashkernel=128M"\n')
    edited = rpm.set_default_grub_crashkernel(text, "256M")
    assert edited == ('GRUB_TIMEOUT=8\nGRUB_CMDLINE_LINUX_DEFAULT="splash=silent quiet crashkernel=256M"\n'
                      'GRUB_CMDLINE_LINUX=""\n')
    assert rpm.set_default_grub_crashkernel(edited, None) == edited.replace(" crashkernel=256M", "")
    assert rpm.set_default_grub_crashkernel("GRUB_TIMEOUT=8\n", "256M") == (
        'GRUB_TIMEOUT=8\nGRUB_CMDLINE_LINUX_DEFAULT="crashkernel=256M"\n')


def test_default_grub_edit_refuses_what_it_cannot_parse():
    with pytest.raises(_hostbackends.BackendError):
        rpm.set_default_grub_crashkernel('GRUB_CMDLINE_LINUX_DEFAULT="$EXTRA quiet"\n', "256M")


def test_crashkernel_file_round_trip(tmp_path):
    path = tmp_path / "crashkernel"
    for value in ("1G-4G:192M,4G-64G:256M,64G-:512M", "256M@16M", None):
        path.write_text(rpm.crashkernel_file_content(value))
        assert rpm.written_crashkernel(path.read_text()) == value


# --- release floors, reservations and ssh preconditions ----------------------------------------

@pytest.mark.parametrize("os_id, version, family, floor", [
    ("debian", "11", "debian", "debian 12+, ubuntu 22.04+"),
    ("ubuntu", "20.04", "debian", "debian 12+, ubuntu 22.04+"),
    ("ubuntu", "18.04", "debian", "debian 12+, ubuntu 22.04+"),
    ("centos", "7.9", "redhat", "rhel 8+"),
    ("sles", "12.5", "suse", "sles 15+"),
])
def test_releases_below_the_floor_are_refused_with_the_floor(os_id, version, family, floor):
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy(), facts(os_id, version, family), "old01")
    assert info.value.errors[0].startswith(f"host old01 ({os_id} {version}): crashdump.kdump supports {floor}")


def test_the_debian_floor_says_why():
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy(), facts("ubuntu", "18.04", "debian"), "old01")
    assert "kdump-tools-dump.service" in info.value.errors[0]


@pytest.mark.parametrize("os_id, version", [("debian", "12"), ("ubuntu", "22.04"), ("ubuntu", "24.04"),
                                            ("debian", "13")])
def test_debian_family_releases_at_the_floor_are_planned(os_id, version):
    assert _plan.make_plan(policy(), facts(os_id, version, "debian"), "h1")["family"] == "debian"


def test_el8_gets_default_and_no_final_action():
    # default: the directive every kdumpctl reads (2018's knows nothing else; later ones alias it).
    el8 = facts("rhel", "8.2", "redhat")
    text = _plan.make_plan(policy("nfs", on_failure="dump_to_rootfs"), el8, "el8-01")["files"][0]["content"]
    directives = [line.split()[0] for line in text.splitlines() if line and not line.startswith("#")]
    assert directives == ["nfs", "path", "core_collector", "default"]
    assert "default dump_to_rootfs\n" in text
    for on_success in ("halt", "poweroff"):
        with pytest.raises(_plan.PlanError) as info:
            _plan.make_plan(policy(on_success=on_success), el8, "el8-01")
        assert "kdump_policy.on_success: " in info.value.errors[0] and "final_action" in info.value.errors[0]
    el9 = _plan.make_plan(policy(on_success="halt"), HOSTS["rhel9"], "el9-01")["files"][0]["content"]
    assert "failure_action reboot\nfinal_action halt\n" in el9 and "\ndefault " not in el9


@pytest.mark.parametrize("version, auto", [("15.1", "lzo"), ("15.5", "lzo"), ("15.6", "zstd"), ("15.7", "zstd")])
def test_sles_service_packs_get_the_compressions_they_have(version, auto):
    # zstd: makedumpfile 1.7.0 (2021-11) and kdump 1.9's kdump-save; assumed from SP6 without makedumpfile -v.
    assert _plan.make_plan(policy(), facts("sles", version, "suse"), "s1")["compression"] == auto
    reported = _plan.make_plan(policy(), facts("sles", "15.2", "suse", ("zlib", "lzo", "zstd")), "s1")
    assert reported["compression"] == "zstd"  # the host's own makedumpfile -v decides when known


@pytest.mark.parametrize("host", list(HOSTS))
def test_a_missing_dump_key_is_a_plan_error(host):
    no_key = dict(HOSTS[host], ssh_public_key=None)
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy("ssh"), no_key, "web01", HOST_KEYS)
    assert any("kdump_policy.target.key: no dump key on this host: /root/.ssh/kdump_id_ed25519.pub does not exist"
               in error for error in info.value.errors), info.value.errors


@pytest.mark.parametrize("key", ["ssh-ed25519 AAAA\n* ssh-ed25519 AAAAattacker", "ssh-ed25519", "",
                                 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 comment", "ssh-dss AAAAB3NzaC1kc3MAAACBAP"])
def test_pinned_host_keys_must_be_one_known_hosts_entry(key):
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy("ssh"), HOSTS["debian12"], "web01", (key,))
    assert any("host_keys: expected a public host key 'TYPE BASE64' on one line" in e for e in info.value.errors)


@pytest.mark.parametrize("size, ram_mib", [("8G", 4096), ("4G", 4096), ("2049M", 4096), ("0-2G:1G", 512),
                                           ("0-:384M", 512)])
def test_a_reservation_above_half_the_ram_is_refused(size, ram_mib):
    small = dict(HOSTS["debian12"], mem_total_bytes=ram_mib * 1024 ** 2)
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy(reservation={"size": size}), small, "web01")
    assert f"more than half of this host's {ram_mib} MiB of RAM" in info.value.errors[0]


def test_a_reservation_of_half_the_ram_is_planned():
    small = dict(HOSTS["debian12"], mem_total_bytes=1024 ** 3)
    assert _plan.make_plan(policy(reservation={"size": "512M"}), small, "web01")["crashkernel"] == "512M"


@pytest.mark.parametrize("name", ["../../../../../srv/victim", "web$(id)", "web01\n", "-x"])
def test_the_planner_refuses_unsafe_inventory_names(name):
    with pytest.raises(_plan.PlanError) as info:
        _plan.make_plan(policy("nfs"), HOSTS["debian12"], name)
    assert f"host {name!r}: inventory_hostname: expected" in info.value.errors[0]


def test_a_kdump_conf_value_that_would_break_its_line_is_refused():
    backend = _backend_redhat.RedHatBackend("web01", HOSTS["rhel9"])
    assert backend.directive("path", "/var/crash") == "path /var/crash"
    for value in ("/var/crash\ndracut_args --hostonly", "/var/crash #x", "/var/crash\tx", "", "a  b"):
        with pytest.raises(_plan.PlanError, match="refusing to write kdump.conf directive path"):
            backend.directive("path", value)
