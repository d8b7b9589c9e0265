"""The kdump_policy model: valid policies, normalisation, and one test per way to get it wrong."""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils._value_kinds import UnsafeValue, check_inventory_name
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import (
    PolicyError,
    normalise_policy,
    policy_json_schema,
)

M = 1024 ** 2
G = 1024 ** 3

DEFAULTS = {
    "enabled": True,
    "reservation": {"size": "auto", "offset": None, "cma": None},
    "target": {"type": "local", "path": "/var/crash"},
    "filter": {"dump_level": 31, "compression": "auto", "dmesg": True},
    "on_failure": "reboot",
    "on_success": "reboot",
    "retention": {"keep": 3, "min_free": G},
    "reboot": "never",
    "panic_on": {"oops": None, "hung_task": None, "soft_lockup": None, "hard_lockup": None, "unrecovered_nmi": None},
}

SSH = {"type": "ssh", "host": "dumps.example.org", "user": "kdump"}


def errors_of(data, host=None):
    with pytest.raises(PolicyError) as info:
        normalise_policy(data, host=host)
    assert info.value.errors, "PolicyError without messages"
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


def single_error(data, host=None):
    errors = errors_of(data, host)
    assert len(errors) == 1, errors
    return errors[0]


# --- valid policies and normalisation -------------------------------------------------------

def test_empty_policy_gets_production_defaults():
    assert normalise_policy({}) == DEFAULTS


def test_result_is_plain_json():
    policy = normalise_policy({"target": SSH, "reservation": {"size": "1G-4G:192M,4G-:256M", "offset": "16M"}})
    assert json.loads(json.dumps(policy)) == policy


@pytest.mark.parametrize("target, expected", [
    ({"type": "local"}, {"type": "local", "path": "/var/crash"}),
    (SSH, {**SSH, "port": 22, "path": "/var/crash", "key": "/root/.ssh/kdump_id_ed25519"}),
    ({"type": "nfs", "host": "192.0.2.1", "export": "/srv/crash"},
     {"type": "nfs", "host": "192.0.2.1", "export": "/srv/crash", "path": "/var/crash"}),
    ({"type": "device", "device": "UUID=0a1b2c3d-1111-2222-3333-444455556666"},
     {"type": "device", "device": "UUID=0a1b2c3d-1111-2222-3333-444455556666", "fstype": "ext4",
      "path": "/var/crash"}),
    ({"type": "raw", "device": "/dev/disk/by-partlabel/kdump"},
     {"type": "raw", "device": "/dev/disk/by-partlabel/kdump", "path": "/var/crash"}),
])
def test_target_defaults_only_for_its_type(target, expected):
    assert normalise_policy({"target": target})["target"] == expected


def test_target_type_defaults_to_local():
    assert normalise_policy({"target": {"path": "/srv/crash/"}})["target"] == {"type": "local", "path": "/srv/crash"}


@pytest.mark.parametrize("given, expected", [
    ("256M", 256 * M), ("256m", 256 * M), (268435456, 256 * M), ("1G", G), ("524288K", 512 * M), ("auto", "auto"),
])
def test_reservation_sizes(given, expected):
    assert normalise_policy({"reservation": {"size": given}})["reservation"]["size"] == expected


def test_range_list_normalised_to_bytes():
    size = normalise_policy({"reservation": {"size": "1G-4G:192M,4G-64G:256M,64G-:512M"}})["reservation"]["size"]
    assert size == [
        {"from": G, "to": 4 * G, "size": 192 * M},
        {"from": 4 * G, "to": 64 * G, "size": 256 * M},
        {"from": 64 * G, "to": None, "size": 512 * M},
    ]


def test_range_list_from_zero():
    size = normalise_policy({"reservation": {"size": "0M-2G:128M,2G-:256M"}})["reservation"]["size"]
    assert size[0] == {"from": 0, "to": 2 * G, "size": 128 * M}


@pytest.mark.parametrize("given, expected", [
    (31, 31), (0, 0), ([], 0), (["zero", "free"], 17),
    (["zero", "cache", "cache_private", "user", "free"], 31), (["user"], 8),
])
def test_dump_level(given, expected):
    assert normalise_policy({"filter": {"dump_level": given}})["filter"]["dump_level"] == expected


def test_sizes_elsewhere():
    policy = normalise_policy({"retention": {"min_free": "10G", "keep": 0},
                               "reservation": {"size": "256M", "offset": "48M"}})
    assert policy["retention"] == {"keep": 0, "min_free": 10 * G}
    assert policy["reservation"]["offset"] == 48 * M


def test_normalising_twice_changes_nothing():
    policy = normalise_policy({
        "reservation": {"size": "1G-4G:192M,4G-:256M", "offset": "16M"},
        "target": {**SSH, "port": 2222, "path": "/srv/crash//"},
        "filter": {"dump_level": ["zero", "free"], "compression": "zstd", "dmesg": False},
        "on_failure": "dump_to_rootfs", "retention": {"min_free": "512M"}, "reboot": "allowed",
    })
    assert normalise_policy(policy) == policy


@pytest.mark.parametrize("host", ["dumps.example.org", "dumps", "192.0.2.10", "2001:db8::1", "fe80::1",
                                  "ghost.invalid.", "a-b.c-d.example"])
def test_valid_hosts(host):
    assert normalise_policy({"target": {**SSH, "host": host}})["target"]["host"] == host


def test_input_mapping_subclasses_are_accepted():
    class Tagged(str):
        pass

    class TaggedDict(dict):
        pass

    policy = normalise_policy(TaggedDict({Tagged("target"): TaggedDict(type=Tagged("ssh"), host=Tagged("h"),
                                                                        user=Tagged("u"))}))
    assert type(policy["target"]["host"]) is str


# --- invalid input: each message names the path, what was expected and the value ------------

@pytest.mark.parametrize("data, path, value", [
    ({"enabled": "yes"}, "kdump_policy.enabled", "'yes'"),
    ({"enabled": 1}, "kdump_policy.enabled", "1"),
    ({"target": {**SSH, "port": 70000}}, "kdump_policy.target.port", "70000"),
    ({"target": {**SSH, "port": 0}}, "kdump_policy.target.port", "0"),
    ({"target": {**SSH, "port": "22"}}, "kdump_policy.target.port", "'22'"),
    ({"target": {**SSH, "port": True}}, "kdump_policy.target.port", "true"),
    ({"target": {**SSH, "port": 22.0}}, "kdump_policy.target.port", "22.0"),
    ({"target": {**SSH, "host": "300.1.1.1"}}, "kdump_policy.target.host", "'300.1.1.1'"),
    ({"target": {**SSH, "host": "dumps_server"}}, "kdump_policy.target.host", "'dumps_server'"),
    ({"target": {**SSH, "host": "-bad.example"}}, "kdump_policy.target.host", "'-bad.example'"),
    ({"target": {**SSH, "host": ""}}, "kdump_policy.target.host", "''"),
    ({"target": {**SSH, "user": "kdump user"}}, "kdump_policy.target.user", "'kdump user'"),
    ({"target": {**SSH, "user": "1kdump"}}, "kdump_policy.target.user", "'1kdump'"),
    ({"target": {**SSH, "key": "id_ed25519"}}, "kdump_policy.target.key", "'id_ed25519'"),
    ({"target": {**SSH, "key": "/root/.ssh/id.pub"}}, "kdump_policy.target.key", "'/root/.ssh/id.pub'"),
    ({"target": {**SSH, "path": "var/crash"}}, "kdump_policy.target.path", "'var/crash'"),
    ({"target": {**SSH, "path": "/"}}, "kdump_policy.target.path", "'/'"),
    ({"target": {"path": "/var/../etc"}}, "kdump_policy.target.path", "'/var/../etc'"),
    ({"target": {"path": "/var/crash dir"}}, "kdump_policy.target.path", "'/var/crash dir'"),
    ({"target": {"path": "/var/$(reboot)"}}, "kdump_policy.target.path", "'/var/$(reboot)'"),
    ({"target": {"type": "nfs", "host": "h", "export": "srv"}}, "kdump_policy.target.export", "'srv'"),
    ({"target": {"type": "device", "device": "sdb1"}}, "kdump_policy.target.device", "'sdb1'"),
    ({"target": {"type": "device", "device": "UUID=not-a-uuid"}}, "kdump_policy.target.device",
     "'UUID=not-a-uuid'"),
    ({"target": {"type": "device", "device": "/dev/sdb1", "fstype": "ntfs"}}, "kdump_policy.target.fstype",
     "'ntfs'"),
    ({"target": {"type": "raw", "device": "UUID=0a1b2c3d"}}, "kdump_policy.target.device", "'UUID=0a1b2c3d'"),
    ({"target": {"type": "raw", "device": "LABEL=crash"}}, "kdump_policy.target.device", "'LABEL=crash'"),
    ({"target": {"type": "ftp"}}, "kdump_policy.target.type", "'ftp'"),
    ({"target": {"type": None}}, "kdump_policy.target.type", "null"),
    ({"filter": {"dump_level": 32}}, "kdump_policy.filter.dump_level", "32"),
    ({"filter": {"dump_level": -1}}, "kdump_policy.filter.dump_level", "-1"),
    ({"filter": {"dump_level": "31"}}, "kdump_policy.filter.dump_level", "'31'"),
    ({"filter": {"dump_level": ["zero", "zeros"]}}, "kdump_policy.filter.dump_level", "['zero', 'zeros']"),
    ({"filter": {"dump_level": ["zero", "zero"]}}, "kdump_policy.filter.dump_level", "['zero', 'zero']"),
    ({"filter": {"compression": "gzip"}}, "kdump_policy.filter.compression", "'gzip'"),
    ({"filter": {"compression": "ZSTD"}}, "kdump_policy.filter.compression", "'ZSTD'"),
    ({"filter": {"dmesg": "true"}}, "kdump_policy.filter.dmesg", "'true'"),
    ({"on_failure": "panic"}, "kdump_policy.on_failure", "'panic'"),
    ({"on_failure": "dump_to_rootfs"}, "kdump_policy.on_failure", "'dump_to_rootfs'"),
    ({"target": {"type": "local"}, "on_failure": "dump_to_rootfs"}, "kdump_policy.on_failure", "'dump_to_rootfs'"),
    ({"on_success": "shell"}, "kdump_policy.on_success", "'shell'"),
    ({"on_success": "dump_to_rootfs"}, "kdump_policy.on_success", "'dump_to_rootfs'"),
    ({"reboot": True}, "kdump_policy.reboot", "true"),
    ({"reboot": "always"}, "kdump_policy.reboot", "'always'"),
    ({"retention": {"keep": -1}}, "kdump_policy.retention.keep", "-1"),
    ({"retention": {"keep": "3"}}, "kdump_policy.retention.keep", "'3'"),
    ({"retention": {"min_free": "1GB"}}, "kdump_policy.retention.min_free", "'1GB'"),
    ({"retention": {"min_free": "1.5G"}}, "kdump_policy.retention.min_free", "'1.5G'"),
    ({"retention": {"min_free": -1}}, "kdump_policy.retention.min_free", "-1"),
    ({"reservation": {"size": "32M"}}, "kdump_policy.reservation.size", "'32M'"),
    ({"reservation": {"size": "256G"}}, "kdump_policy.reservation.size", "'256G'"),
    ({"reservation": {"size": "AUTO"}}, "kdump_policy.reservation.size", "'AUTO'"),
    ({"reservation": {"size": "256M@16M"}}, "kdump_policy.reservation.size", "'256M@16M'"),
    ({"reservation": {"size": 256.0}}, "kdump_policy.reservation.size", "256.0"),
    ({"reservation": {"size": "256M", "offset": "1M"}}, "kdump_policy.reservation.offset", "'1M'"),
    ({"reservation": {"size": "256M", "offset": 0}}, "kdump_policy.reservation.offset", "0"),
    ({"reservation": {"offset": "16M"}}, "kdump_policy.reservation.offset", "'16M'"),
])
def test_invalid_field(data, path, value):
    message = single_error(data)
    assert message.startswith(path + ": expected"), message
    assert message.endswith(", got " + value), message


@pytest.mark.parametrize("size, reason", [
    ("1G-4G:192M,8G-:256M", "without gaps"),
    ("1G-4G:192M,2G-:256M", "without overlaps"),
    ("4G-1G:192M", "end above its start"),
    ("1G-:192M,4G-:256M", "only the last range to be open-ended"),
    ("1G-4G:192M,4G-64G", "START-[END]:SIZE"),
    ("1G-4G:1M", "from 64M to 64G"),
    ("1G-4G:600M", "at most half"),
    ("1G-4G:192M,,4G-:256M", "START-[END]:SIZE"),
    ("1X-4G:192M", "START-[END]:SIZE"),
    (",".join(f"{i}G-{i + 1}G:64M" for i in range(1, 20)), "1 to 16 ranges"),
])
def test_range_list_rules(size, reason):
    message = single_error({"reservation": {"size": size}})
    assert message.startswith("kdump_policy.reservation.size: expected"), message
    assert reason in message, message
    assert message.endswith(f"got {size!r}") or "got '1G-2G:64M,2G-3G:64M," in message, message


@pytest.mark.parametrize("size", [
    [{"from": "1G", "to": "4G"}],
    [{"from": "1G", "to": "4G", "size": "192M", "extra": 1}],
    [{"from": "1G", "to": "x", "size": "192M"}],
    [{"from": "1G", "to": None, "size": "192M"}, {"from": "4G", "to": None, "size": "256M"}],
    [],
    ["1G-4G:192M"],
])
def test_range_list_as_data_is_checked_too(size):
    assert single_error({"reservation": {"size": size}}).startswith("kdump_policy.reservation.size: expected")


def test_field_of_another_target_type_is_rejected():
    message = single_error({"target": {"type": "local", "host": "dumps.example.org"}})
    assert message == ("kdump_policy.target.host: not used by target type local (its fields: type, path), "
                       "got 'dumps.example.org'; remove it or change target.type")


@pytest.mark.parametrize("target, field", [
    ({"type": "nfs", "host": "h", "export": "/srv", "user": "kdump"}, "user"),
    ({"type": "nfs", "host": "h", "export": "/srv", "port": 2049}, "port"),
    ({**SSH, "export": "/srv"}, "export"),
    ({"type": "raw", "device": "/dev/sdb1", "fstype": "ext4"}, "fstype"),
    ({"type": "device", "device": "/dev/sdb1", "key": "/k"}, "key"),
])
def test_irrelevant_target_fields(target, field):
    assert single_error({"target": target}).startswith(f"kdump_policy.target.{field}: not used by target type")


@pytest.mark.parametrize("target, missing", [
    ({"type": "ssh"}, ["host", "user"]),
    ({"type": "nfs"}, ["host", "export"]),
    ({"type": "device"}, ["device"]),
    ({"type": "raw"}, ["device"]),
])
def test_required_target_fields(target, missing):
    assert errors_of({"target": target}) == [
        f"kdump_policy.target.{field}: required for target type {target['type']}, but missing" for field in missing]


def test_unknown_fields_everywhere():
    errors = errors_of({"enable": True, "filter": {"level": 31}, "reservation": {"sise": "auto"},
                        "retention": {"keep_last": 3}})
    assert sorted(e.split(":")[0] for e in errors) == [
        "kdump_policy.enable", "kdump_policy.filter.level", "kdump_policy.reservation.sise",
        "kdump_policy.retention.keep_last"]
    assert all("unknown field (known fields: " in e for e in errors)


def test_all_errors_are_collected():
    errors = errors_of({"enabled": "no", "target": {**SSH, "port": 0, "user": "-x"},
                        "filter": {"compression": "gz"}, "retention": {"keep": -1}, "reboot": "maybe"})
    assert [e.split(":")[0] for e in errors] == [
        "kdump_policy.enabled", "kdump_policy.target.user", "kdump_policy.target.port",
        "kdump_policy.filter.compression", "kdump_policy.retention.keep", "kdump_policy.reboot"]


def test_rootfs_fallback_reported_even_when_target_is_also_wrong():
    errors = errors_of({"target": {"type": "local", "host": "x"}, "on_failure": "dump_to_rootfs"})
    assert [e.split(":")[0] for e in errors] == ["kdump_policy.target.host", "kdump_policy.on_failure"]


def test_host_prefix():
    assert single_error({"target": {**SSH, "port": 70000}}, host="web01") == (
        "host web01: kdump_policy.target.port: expected an integer from 1 to 65535, got 70000")


def test_undefined_policy():
    assert errors_of(None) == ["kdump_policy is not defined"]
    assert errors_of(None, host="web01") == ["host web01: kdump_policy is not defined"]


# --- hostile shapes: only ever PolicyError, with a short readable message --------------------

def _deep(levels):
    data = leaf = {}
    for _ in range(levels):
        leaf["target"] = {}
        leaf = leaf["target"]
    return data


def _cyclic():
    data = {"target": {}}
    data["target"]["path"] = data
    return data


class Weird:
    def __repr__(self):
        raise RuntimeError("no repr for you")


HOSTILE = [
    [], [1, 2], 0, 1, -1, 10 ** 100, 10 ** 5000, 1.5, float("nan"), float("inf"), True, False, "", "kdump",
    "☃" * 10000, b"bytes", {1, 2}, (), object(), Weird(), {None: 1}, {1: 2}, {("t",): 1},
    {"enabled": 10 ** 5000}, {"target": {"port": 10 ** 5000}}, {"target": {**SSH, "port": 2 ** 64}},
    {"reservation": {"size": 10 ** 40}}, {"reservation": {"size": "9" * 5000}},
    {"reservation": {"size": "9" * 30 + "T"}}, {"reservation": {"size": "1G-4G:192M," * 3000}},
    {"reservation": {"size": [{"from": [], "to": {}, "size": None}]}},
    {"target": {"type": ["ssh"]}}, {"target": {"type": {"a": 1}}}, {"target": {"type": "☃"}},
    {"target": {**SSH, "host": "dümps.example.org"}}, {"target": {**SSH, "host": "a" * 300}},
    {"target": {"path": "/var/crash\x00"}}, {"target": {"path": "/var/\ud800"}}, {"target": {"path": "/" + "a" * 5000}},
    {"filter": {"dump_level": [[["zero"]]]}}, {"filter": {"dump_level": [None]}}, {"filter": [{"dump_level": 1}]},
    {"retention": {"min_free": None}}, {"reservation": None}, {"target": None}, {"filter": None},
    {"target": {**SSH, "user": "ü"}}, _deep(500), _cyclic(), {"target": Weird()}, {"a" * 10000: 1},
    {"panic_on": None}, {"panic_on": {"oops": 10 ** 5000}}, {"panic_on": {"hung_task": Weird()}},
]


@pytest.mark.parametrize("data", HOSTILE, ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("host", [None, "web01"])
def test_hostile_input_only_raises_policy_error(data, host):
    errors = errors_of(data, host=host)
    for message in errors:
        assert isinstance(message, str)
        assert "Traceback" not in message
        assert len(message) < 1000, message
        assert message.startswith(f"host {host}: kdump_policy" if host else "kdump_policy"), message


def test_long_values_are_cut():
    message = single_error({"target": {"path": "/" + "x" * 5000}})
    assert len(message) < 400
    assert re.search(r"got '/x+\.\.\.x+'$", message), message


def test_huge_integer_is_described_not_printed():
    message = single_error({"target": {**SSH, "port": 10 ** 5000}})
    assert message.endswith("got <integer of about 5001 digits>"), message


# --- strings that reach shell files, units and kdump.conf ------------------------------------

NEWLINE_CASES = [  # every regex-checked string field, with a value that is valid without the newline
    ({"target": {**SSH, "host": "dumps.example.org\n"}}, "kdump_policy.target.host"),
    ({"target": {**SSH, "host": "192.0.2.10\n"}}, "kdump_policy.target.host"),
    ({"target": {**SSH, "user": "kdump\n"}}, "kdump_policy.target.user"),
    ({"target": {**SSH, "path": "/srv/crash\n"}}, "kdump_policy.target.path"),
    ({"target": {**SSH, "key": "/root/.ssh/kdump\n"}}, "kdump_policy.target.key"),
    ({"target": {"type": "nfs", "host": "nfs.example.org", "export": "/srv/crash\n"}}, "kdump_policy.target.export"),
    ({"target": {"type": "device", "device": "/dev/sdb1\n"}}, "kdump_policy.target.device"),
    ({"target": {"type": "device", "device": "UUID=0a1b2c3d\n"}}, "kdump_policy.target.device"),
    ({"target": {"type": "device", "device": "LABEL=crash\n"}}, "kdump_policy.target.device"),
    ({"target": {"type": "raw", "device": "PARTLABEL=crash\n"}}, "kdump_policy.target.device"),
    ({"target": {"path": "/var/crash\n"}}, "kdump_policy.target.path"),
    ({"reservation": {"size": "256M\n"}}, "kdump_policy.reservation.size"),
    ({"reservation": {"size": "1G-4G:192M\n"}}, "kdump_policy.reservation.size"),
    ({"retention": {"min_free": "1G\n"}}, "kdump_policy.retention.min_free"),
]


@pytest.mark.parametrize("data, path", NEWLINE_CASES)
def test_a_trailing_newline_is_refused_everywhere(data, path):
    message = single_error(data)
    assert message.startswith(path + ": expected"), message
    assert message.endswith("\\n'"), message  # the value is shown with its newline visible


@pytest.mark.parametrize("host", ["fe80::1%eth0", "fe80::1%$(touch pwned)", 'fe80::1%";touch pwned;"',
                                  "fd00::5%a\nb", "[2001:db8::1]", "2001:db8::1\n"])
def test_ipv6_zone_ids_and_decorations_are_refused(host):
    message = single_error({"target": {"type": "nfs", "host": host, "export": "/srv"}})
    assert message.startswith("kdump_policy.target.host: expected a host name"), message
    assert message.endswith(f"got {host!r}"), message


@pytest.mark.parametrize("name", ["web01", "web-01.example.org", "db_2", "10.0.0.5", "A"])
def test_safe_inventory_names(name):
    assert check_inventory_name(name) == name
    assert normalise_policy({}, host=name)["target"]["type"] == "local"


@pytest.mark.parametrize("name", ["../../../../../srv/victim", "..", ".", ".hidden", "-rf", "web$(id)", "web`id`",
                                  "web'01", 'web"01', "web 01", "web01\n", "web/01", "wéb01", "", "fe80::1", 5])
def test_unsafe_inventory_names_are_refused_naming_the_value(name):
    with pytest.raises(PolicyError) as info:
        normalise_policy({}, host=name)
    message, = info.value.errors
    assert message.startswith(f"host {name!r}: inventory_hostname: expected a host name of letters, digits "
                              "and . _ -"), message
    assert message.endswith(f", got {name!r}"), message
    with pytest.raises(UnsafeValue) as info:
        check_inventory_name(name)
    assert str(info.value) == message


def test_inventory_name_length_and_absence():
    assert check_inventory_name("a" * 253) == "a" * 253
    for name in ("a" * 254, None):
        with pytest.raises(UnsafeValue):
            check_inventory_name(name)


class RaisingMapping(dict):
    """A dict subclass whose items() fails, as a lazy or proxied container might."""

    def items(self):
        raise RuntimeError("items() is broken")


def test_a_mapping_whose_items_raise_is_a_policy_error():
    assert single_error(RaisingMapping(a=1)).startswith("kdump_policy: expected a mapping, got <RaisingMapping")
    message = single_error({"target": RaisingMapping(type="local")})
    assert message == ("kdump_policy.target: expected a mapping (omit it to use the defaults), "
                       "got <RaisingMapping that could not be read: RuntimeError>")


def _schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(policy_json_schema())


@pytest.mark.parametrize("target", [
    {"type": "device", "device": "/dev/disk/by-path/pci-0000:00:1f.2-ata-1.0:x"},
    {"type": "device", "device": "/dev/../etc/passwd"},
    {"type": "device", "device": "/dev/sdb1\n"},
    {"type": "device", "device": "UUID=" + "a" * 37},
    {"type": "raw", "device": "/dev/disk/by-path/pci-0000:00:1f.2-ata-1/.."},
    {"type": "local", "path": "/var/crash\n"},
    {"type": "local", "path": "/var/./crash"},
    {"type": "ssh", "host": "dumps\n", "user": "kdump"},
    {"type": "ssh", "host": "fe80::1%eth0", "user": "kdump"},
    {"type": "ssh", "host": "dumps", "user": "kdump\n"},
])
def test_schema_and_model_agree_on_device_path_and_name_strings(target):
    validator = _schema_validator()
    model_accepts = True
    try:
        normalise_policy({"target": target, "on_failure": "reboot"})
    except PolicyError:
        model_accepts = False
    schema_accepts = not list(validator.iter_errors({"kdump_policy": {"target": target}}))
    assert schema_accepts == model_accepts, (target, schema_accepts, model_accepts)


def test_schema_accepts_the_by_path_names_the_model_accepts():
    target = {"type": "device", "device": "/dev/disk/by-path/pci-0000:00:1f.2-ata-1", "path": "/"}
    assert normalise_policy({"target": target})["target"]["device"] == target["device"]
    assert not list(_schema_validator().iter_errors({"kdump_policy": {"target": target}}))


# --- panic_on ---------------------------------------------------------------------------------

def test_panic_on_keys_left_out_are_null_and_leave_the_distribution_alone():
    policy = normalise_policy({"panic_on": {"oops": True, "soft_lockup": False}})
    assert policy["panic_on"] == {"oops": True, "hung_task": None, "soft_lockup": False, "hard_lockup": None,
                                  "unrecovered_nmi": None}
    assert normalise_policy(policy) == policy
    assert normalise_policy({"panic_on": {"hung_task": None}})["panic_on"] == DEFAULTS["panic_on"]


@pytest.mark.parametrize("data, where, shown", [
    ({"panic_on": {"oops": 1}}, "kdump_policy.panic_on.oops", "1"),
    ({"panic_on": {"hung_task": "yes"}}, "kdump_policy.panic_on.hung_task", "'yes'"),
    ({"panic_on": {"hard_lockup": "null"}}, "kdump_policy.panic_on.hard_lockup", "'null'"),
    ({"panic_on": True}, "kdump_policy.panic_on", "true"),
])
def test_panic_on_takes_true_false_or_null_only(data, where, shown):
    message = single_error(data, host="web01")
    assert message.startswith(f"host web01: {where}: expected "), message
    assert message.endswith(f", got {shown}"), message
    if where != "kdump_policy.panic_on":
        assert "true, false or null" in message


def test_panic_on_unknown_trigger_names_the_known_ones():
    message = single_error({"panic_on": {"oom": True}})
    assert message == ("kdump_policy.panic_on.oom: unknown field (known fields: oops, hung_task, soft_lockup, "
                       "hard_lockup, unrecovered_nmi), got true")


def test_panic_on_schema_names_each_sysctl_and_agrees_with_the_model():
    schema = policy_json_schema()["$defs"]["PanicOn"]
    sysctls = {"oops": "kernel.panic_on_oops", "hung_task": "kernel.hung_task_panic",
               "soft_lockup": "kernel.softlockup_panic", "hard_lockup": "kernel.hardlockup_panic",
               "unrecovered_nmi": "kernel.panic_on_unrecovered_nmi"}
    assert schema["additionalProperties"] is False and list(schema["properties"]) == list(sysctls)
    for key, sysctl in sysctls.items():
        assert sysctl in schema["properties"][key]["description"]
        assert schema["properties"][key]["default"] is None
    validator = _schema_validator()
    for value in (True, False, None, 1, "true"):
        model_accepts = True
        try:
            normalise_policy({"panic_on": {"oops": value}})
        except PolicyError:
            model_accepts = False
        assert (not list(validator.iter_errors({"kdump_policy": {"panic_on": {"oops": value}}}))) == model_accepts
