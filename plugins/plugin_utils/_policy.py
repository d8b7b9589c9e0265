# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller side): the ``kdump_policy`` model.

Not a public API outside this collection; it may change without notice.
Runs on the Ansible controller only (action plugins, filters), never on managed
hosts: it needs Pydantic v2.

Entry points used by the rest of the collection:

- ``normalise_policy(data, host=None) -> dict``: validate ``kdump_policy`` and
  return it as plain JSON-able data with every default filled in and every
  size in bytes. Bad input of any shape raises ``PolicyError``, whose
  ``errors`` list holds one complete message per problem, for example
  ``host web01: kdump_policy.target.port: expected an integer from 1 to 65535, got 70000``.
- ``policy_json_schema() -> dict``: the JSON Schema of a vars file holding
  ``kdump_policy`` (scripts/export-schema.py writes it to schemas/).

Types are strict: YAML already gives integers and booleans their own types, so a
quoted ``port: "22"`` or ``dmesg: "yes"`` is reported, not coerced, and
booleans are never accepted where a number is expected. Sizes are the one
place where strings and integers are both accepted (``256M`` or ``268435456``).
Normalising an already normalised policy returns it unchanged.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import typing as t
from collections.abc import Mapping

from ansible_collections.crashdump.kdump.plugins.module_utils._panic_triggers import PANIC_TRIGGERS
from ansible_collections.crashdump.kdump.plugins.module_utils._value_kinds import (
    VALUE_KINDS,
    UnsafeValue,
    check_inventory_name,
    is_kind,
    show,
)

try:
    from pydantic import (
        BaseModel,
        ConfigDict,
        Discriminator,
        Field,
        PlainValidator,
        Tag,
        ValidationError,
        ValidationInfo,
        WithJsonSchema,
        field_validator,
    )
    from pydantic_core import PydanticCustomError
except ImportError as _exc:  # ansible-doc and sanity import tests run without pydantic
    PYDANTIC_IMPORT_ERROR: ImportError | None = _exc

    class BaseModel:  # type: ignore[no-redef]
        """Placeholder so this module imports without pydantic."""

    class ValidationError(Exception):  # type: ignore[no-redef]
        """Placeholder so this module imports without pydantic."""

    class PydanticCustomError(Exception):  # type: ignore[no-redef]
        """Placeholder so this module imports without pydantic."""

    ValidationInfo = t.Any  # type: ignore[misc,assignment]
    ConfigDict = dict  # type: ignore[misc,assignment]

    def _placeholder(*args: t.Any, **kwargs: t.Any) -> None:
        return None

    Discriminator = Field = PlainValidator = Tag = WithJsonSchema = _placeholder  # type: ignore[misc,assignment]

    def field_validator(*args: t.Any, **kwargs: t.Any) -> t.Callable[[t.Any], t.Any]:  # type: ignore[no-redef]
        return lambda func: func
else:
    PYDANTIC_IMPORT_ERROR = None


__all__ = ["PolicyError", "PydanticMissingError", "normalise_policy", "policy_json_schema"]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB
UNITS = {"": 1, "K": KIB, "M": MIB, "G": GIB, "T": TIB}

MAX_BYTES = 1024 * 1024 * TIB  # 1 EiB: anything above is a typo, not a size
RESERVATION_MIN = 64 * MIB  # no capture kernel and initramfs boot in less
RESERVATION_MAX = 64 * GIB  # far above what any distribution documents; catches G-for-M typos
RESERVATION_ALIGN = 16 * MIB  # x86_64 CRASH_ALIGN (arm64 needs 2M): a fixed offset must be aligned
MAX_RANGES = 16
MAX_PATH = 1024
MAX_DEPTH = 32  # deeper input is junk; stops recursion on cyclic or hostile data

TARGET_TYPES = ("local", "device", "raw", "ssh", "nfs")
PAGE_CLASSES = {"zero": 1, "cache": 2, "cache_private": 4, "user": 8, "free": 16}
COMPRESSIONS = ("auto", "none", "zlib", "lzo", "snappy", "zstd")
FAILURE_ACTIONS = ("reboot", "halt", "poweroff", "shell", "dump_to_rootfs")
SUCCESS_ACTIONS = ("reboot", "halt", "poweroff")
REBOOT_MODES = ("never", "allowed")
FILESYSTEMS = ("ext4", "ext3", "ext2", "xfs", "btrfs")
DEFAULT_SSH_KEY = "/root/.ssh/kdump_id_ed25519"

_SIZE_RE = re.compile(r"([0-9]{1,20})([KMGTkmgt]?)")
_SIZE_PATTERN = r"[0-9]+[KMGTkmgt]?"
_RANGE_ITEM = r"[0-9]+[KMGTkmgt]?-(?:[0-9]+[KMGTkmgt]?)?:[0-9]+[KMGTkmgt]?"
_RANGES_PATTERN = rf"{_RANGE_ITEM}(?:,{_RANGE_ITEM})*"
_RANGE_RE = re.compile(r"([0-9]+[KMGTkmgt]?)-([0-9]+[KMGTkmgt]?)?:([0-9]+[KMGTkmgt]?)")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

def schema_pattern(pattern: str) -> str:
    """A JSON Schema pattern that matches what re.fullmatch(pattern) does: anchored at both
    ends in ECMA-262 and Python alike (no `$`, which Python lets match before a final newline)."""
    return rf"^(?:{pattern})(?![\s\S])"


class PolicyError(Exception):
    """``kdump_policy`` is invalid. ``errors`` holds one full message per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class PydanticMissingError(RuntimeError):
    """The controller's Python has no pydantic: a setup problem, not a policy problem."""


def _require_pydantic() -> None:
    if PYDANTIC_IMPORT_ERROR is not None:
        raise PydanticMissingError(
            "pydantic (version 2) is required on the controller to validate kdump_policy: "
            f"install it in the Python that runs Ansible ({PYDANTIC_IMPORT_ERROR})"
        )


def format_bytes(value: int) -> str:
    """Bytes in the largest exact unit, as written in policies: 201326592 -> '192M'."""
    for unit in ("T", "G", "M", "K"):
        if value and value % UNITS[unit] == 0:
            return f"{value // UNITS[unit]}{unit}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Input clean-up: Ansible hands over subclasses of dict/str/int (tagged values, lazy
# containers); turn them into plain Python so strict checks see what the user wrote.

class _TooDeep:
    def __repr__(self) -> str:
        return "<nested too deeply>"


class _Unreadable:
    def __init__(self, value: t.Any, exc: Exception) -> None:
        self.text = f"<{type(value).__name__} that could not be read: {type(exc).__name__}>"

    def __repr__(self) -> str:
        return self.text


def _plain(value: t.Any, depth: int = 0) -> t.Any:
    if depth > MAX_DEPTH:
        return _TooDeep()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    try:
        if isinstance(value, Mapping):
            return {_plain_key(k): _plain(v, depth + 1) for k, v in list(value.items())}
        if isinstance(value, (list, tuple)):
            return [_plain(v, depth + 1) for v in list(value)]
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:  # a foreign container whose methods fail: refused like any odd type
        return _Unreadable(value, exc)
    return value  # anything else is refused by the type checks below


def _plain_key(key: t.Any) -> str:
    return str.__str__(key) if isinstance(key, str) else f"<key {show(key)}>"


# ---------------------------------------------------------------------------------------------
# Field checks. Each raises _invalid("expected ..."); the message gets ", got <value>" appended.

def _invalid(expected: str) -> PydanticCustomError:
    return PydanticCustomError("kdump_value", "{expected}", {"expected": expected})


def _is_int(value: t.Any) -> bool:
    return type(value) is int  # bool is a subclass of int and is refused on purpose


def _parse_size(value: t.Any) -> int | None:
    """Bytes for 268435456 or '256M' (K/M/G/T are powers of 1024), None if not a size."""
    if _is_int(value):
        return value if 0 <= value <= MAX_BYTES else None
    if isinstance(value, str):
        match = _SIZE_RE.fullmatch(value)
        if match:
            number = int(match.group(1)) * UNITS[match.group(2).upper()]
            return number if number <= MAX_BYTES else None
    return None


def _check_bool(value: t.Any) -> bool:
    if type(value) is not bool:
        raise _invalid("expected true or false")
    return value


def _check_optional_bool(value: t.Any) -> bool | None:
    if value is not None and type(value) is not bool:
        raise _invalid("expected true, false or null")
    return value


def _int_check(low: int, high: int) -> t.Callable[[t.Any], int]:
    def check(value: t.Any) -> int:
        if not _is_int(value) or not low <= value <= high:
            raise _invalid(f"expected an integer from {low} to {high}")
        return value
    return check


def _choice_check(choices: t.Sequence[str]) -> t.Callable[[t.Any], str]:
    def check(value: t.Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _invalid(f"expected one of {', '.join(choices)}")
        return value
    return check


def _size_check(value: t.Any) -> int:
    size = _parse_size(value)
    if size is None:
        raise _invalid("expected a size: bytes, or a number with a K, M, G or T suffix (e.g. 1G)")
    return size


def _path_check(allow_root: bool) -> t.Callable[[t.Any], str]:
    def check(value: t.Any) -> str:
        if not isinstance(value, str) or not value.startswith("/"):
            raise _invalid("expected an absolute path (starting with /)")
        if len(value) > MAX_PATH or not is_kind("path", value):
            raise _invalid("expected an absolute path of letters, digits and . _ + @ - / only, without . or .. "
                           "components (it is written into the native kdump configuration)")
        path = posixpath.normpath(value)
        if path.startswith("//"):
            path = path[1:]
        if path == "/" and not allow_root:
            raise _invalid("expected a directory below /, not / itself")
        return path
    return check


def _host_check(value: t.Any) -> str:
    expected = "expected a host name (e.g. dumps.example.org) or an IP address"
    if not isinstance(value, str) or not value or len(value) > 253:
        raise _invalid(expected)
    if "%" in value:
        raise _invalid(f"{expected} without an IPv6 zone id (%...): zone ids are refused, as the capture "
                       "environment cannot resolve the interface name")
    if is_kind("ip_address", value):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
    if not is_kind("host_name", value) or value.rstrip(".").rsplit(".", 1)[-1].isdigit():
        raise _invalid(expected)  # an all-numeric last label is a mistyped IPv4 address
    return value


def _user_check(value: t.Any) -> str:
    if not is_kind("user", value):
        raise _invalid("expected a user name (letters, digits, _ . -; not starting with a digit or -; "
                       "at most 32 characters)")
    return value


def _key_check(value: t.Any) -> str:
    path = _path_check(allow_root=False)(value)
    if path.endswith(".pub"):
        raise _invalid("expected the path of the private key, not of the .pub public key")
    return path


def _device_check(kind: str) -> t.Callable[[t.Any], str]:
    if kind == "raw_device":
        expected = "expected a block device: /dev/..., PARTUUID=... or PARTLABEL=..."
    else:
        expected = "expected a block device: /dev/..., UUID=..., LABEL=..., PARTUUID=... or PARTLABEL=..."
    expected += (" (letters, digits and . _ + @ : - only; a UUID is hexadecimal digits and dashes, "
                 "at most 36 characters)")

    def check(value: t.Any) -> str:
        tag = value.partition("=")[0] if isinstance(value, str) else None
        if kind == "raw_device" and tag in ("UUID", "LABEL"):
            raise _invalid(f"{expected}; a raw device holds no filesystem, so no filesystem {tag}")
        if not is_kind(kind, value) or len(value) > MAX_PATH:
            raise _invalid(expected)
        return value
    return check


def _dump_level_check(value: t.Any) -> int:
    expected = ("expected an integer from 0 to 31, or a list of page classes to exclude from the dump "
                f"({', '.join(PAGE_CLASSES)})")
    if _is_int(value) and 0 <= value <= 31:
        return value
    if not isinstance(value, list) or not all(isinstance(item, str) and item in PAGE_CLASSES for item in value):
        raise _invalid(expected)
    if len(set(value)) != len(value):
        raise _invalid(expected + " without repeats")
    level = 0
    for item in value:
        level |= PAGE_CLASSES[item]
    return level


def _reservation_size_check(value: t.Any) -> str | int | list[dict[str, int | None]]:
    if value == "auto" and isinstance(value, str):
        return "auto"
    if isinstance(value, str) and "@" in value:
        raise _invalid("expected the size alone: put the offset in reservation.offset")
    if isinstance(value, str) and ":" in value:
        return _check_ranges(_parse_range_text(value))
    if isinstance(value, list):
        return _check_ranges(_parse_range_list(value))
    size = _parse_size(value)
    if size is None:
        raise _invalid("expected auto, a size (e.g. 256M) or a range list "
                       "(e.g. 1G-4G:192M,4G-64G:256M,64G-:512M)")
    _check_reservation_bytes(size, "expected a reservation")
    return size


def _check_reservation_bytes(size: int, what: str) -> None:
    if not RESERVATION_MIN <= size <= RESERVATION_MAX:
        raise _invalid(f"{what} from {format_bytes(RESERVATION_MIN)} to {format_bytes(RESERVATION_MAX)}: "
                       "a capture kernel does not boot in less, and more is a unit mistake")


def _parse_range_text(text: str) -> list[tuple[int, int | None, int]]:
    ranges = []
    for number, item in enumerate(text.split(","), start=1):
        match = _RANGE_RE.fullmatch(item)
        sizes = [_parse_size(part) if part else None for part in match.groups()] if match else []
        if not match or sizes[0] is None or sizes[2] is None or (match.group(2) and sizes[1] is None):
            raise _invalid(f"expected a range list like 1G-4G:192M,4G-64G:256M,64G-:512M "
                           f"(range {number}, {item!r}, is not START-[END]:SIZE)")
        ranges.append((sizes[0], sizes[1], sizes[2]))
    return ranges


def _parse_range_list(items: list[t.Any]) -> list[tuple[int, int | None, int]]:
    ranges = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != {"from", "to", "size"}:
            raise _invalid(f"expected a range list whose items are mappings with from, to and size "
                           f"(range {number} is not)")
        start, size = _parse_size(item["from"]), _parse_size(item["size"])
        end = None if item["to"] is None else _parse_size(item["to"])
        if start is None or size is None or (item["to"] is not None and end is None):
            raise _invalid(f"expected sizes in range {number} (to may be null for the last range)")
        ranges.append((start, end, size))
    return ranges


def _check_ranges(ranges: list[tuple[int, int | None, int]]) -> list[dict[str, int | None]]:
    if not ranges or len(ranges) > MAX_RANGES:
        raise _invalid(f"expected 1 to {MAX_RANGES} ranges")
    previous_end: int | None = None
    for number, (start, end, size) in enumerate(ranges, start=1):
        label = f"range {number} ({format_bytes(start) or '0'}-{format_bytes(end) if end else ''})"
        if end is None and number != len(ranges):
            raise _invalid(f"expected only the last range to be open-ended, but {label} is")
        if end is not None and end <= start:
            raise _invalid(f"expected each range to end above its start, but {label} does not")
        if previous_end is not None and start < previous_end:
            raise _invalid(f"expected ranges in increasing order without overlaps, but {label} "
                           f"starts below {format_bytes(previous_end)} where range {number - 1} ends")
        if previous_end is not None and start > previous_end:
            raise _invalid(f"expected ranges without gaps, but {label} starts above "
                           f"{format_bytes(previous_end)} where range {number - 1} ends: "
                           "hosts with RAM in between would get no reservation")
        _check_reservation_bytes(size, f"expected the size of {label} to be")
        if start and size > start // 2:
            raise _invalid(f"expected at most half of the smallest RAM in each range, but {label} "
                           f"reserves {format_bytes(size)}")
        previous_end = end
    return [{"from": start, "to": end, "size": size} for start, end, size in ranges]


def _offset_check(value: t.Any) -> int | None:
    if value is None:
        return None
    offset = _parse_size(value)
    if offset is None or offset == 0 or offset % RESERVATION_ALIGN:
        raise _invalid(f"expected null or a non-zero multiple of {format_bytes(RESERVATION_ALIGN)} "
                       "(the kernel's crashkernel alignment), e.g. 16M")
    return offset


def _cma_check(value: t.Any) -> int | None:
    if value is None:
        return None
    size = _parse_size(value)
    if size is None:
        raise _invalid("expected null or a size such as 512M: the kernel takes crashkernel=SIZE,cma as a "
                       "plain size (no auto, range list or offset)")
    if size % MIB or not RESERVATION_MIN <= size <= RESERVATION_MAX:
        raise _invalid(f"expected null or a whole number of MiB from {format_bytes(RESERVATION_MIN)} to "
                       f"{format_bytes(RESERVATION_MAX)} (e.g. 512M)")
    return size


def _checked(check: t.Callable[[t.Any], t.Any], schema: dict[str, t.Any]) -> t.Any:
    """A field type checked by ``check`` and shown as ``schema`` in the JSON Schema."""
    return t.Annotated[t.Any, PlainValidator(check), WithJsonSchema(schema)]


_SIZE_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 0},
                          {"type": "string", "pattern": schema_pattern(_SIZE_PATTERN)}]}
_RANGE_LIST_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["from", "to", "size"],
        "properties": {"from": _SIZE_SCHEMA, "to": {"anyOf": [_SIZE_SCHEMA, {"type": "null"}]}, "size": _SIZE_SCHEMA},
    },
}
_PATH_SCHEMA = {"type": "string", "pattern": schema_pattern(VALUE_KINDS["path"]), "maxLength": MAX_PATH}

Flag = _checked(_check_bool, {"type": "boolean"})
OptionalFlag = _checked(_check_optional_bool, {"type": ["boolean", "null"]})
Size = _checked(_size_check, _SIZE_SCHEMA)
Path = _checked(_path_check(allow_root=False), _PATH_SCHEMA)
PathOrRoot = _checked(_path_check(allow_root=True), _PATH_SCHEMA)
HostName = _checked(_host_check, {"type": "string", "maxLength": 253, "pattern": schema_pattern(
    f"{VALUE_KINDS['host_name']}|{VALUE_KINDS['ip_address']}")})
UserName = _checked(_user_check, {"type": "string", "pattern": schema_pattern(VALUE_KINDS["user"])})
KeyPath = _checked(_key_check, _PATH_SCHEMA)
Port = _checked(_int_check(1, 65535), {"type": "integer", "minimum": 1, "maximum": 65535})
Device = _checked(_device_check("device"), {"type": "string", "maxLength": MAX_PATH,
                                             "pattern": schema_pattern(VALUE_KINDS["device"])})
RawDevice = _checked(_device_check("raw_device"), {"type": "string", "maxLength": MAX_PATH,
                                                  "pattern": schema_pattern(VALUE_KINDS["raw_device"])})
DumpLevel = _checked(_dump_level_check, {"anyOf": [
    {"type": "integer", "minimum": 0, "maximum": 31},
    {"type": "array", "uniqueItems": True, "items": {"enum": list(PAGE_CLASSES)}},
]})
ReservationSize = _checked(_reservation_size_check, {"anyOf": [
    {"const": "auto"},
    {"type": "integer", "minimum": RESERVATION_MIN, "maximum": RESERVATION_MAX},
    {"type": "string", "pattern": schema_pattern(_SIZE_PATTERN)},
    {"type": "string", "pattern": schema_pattern(_RANGES_PATTERN)},
    _RANGE_LIST_SCHEMA,
]})
Offset = _checked(_offset_check, {"anyOf": [_SIZE_SCHEMA, {"type": "null"}]})
CmaSize = _checked(_cma_check, {"anyOf": [_SIZE_SCHEMA, {"type": "null"}]})
Keep = _checked(_int_check(0, 1000), {"type": "integer", "minimum": 0, "maximum": 1000})


def _enum(choices: t.Sequence[str]) -> t.Any:
    return _checked(_choice_check(choices), {"type": "string", "enum": list(choices)})


FsType = _enum(FILESYSTEMS)
Compression = _enum(COMPRESSIONS)
FailureAction = _enum(FAILURE_ACTIONS)
SuccessAction = _enum(SUCCESS_ACTIONS)
RebootMode = _enum(REBOOT_MODES)


# ---------------------------------------------------------------------------------------------
# The model

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Reservation(_Strict):
    """Memory reserved for the capture kernel (the crashkernel= kernel argument)."""

    size: ReservationSize = Field(
        default="auto",
        description=(
            "How much memory to reserve. 'auto': computed per host from its RAM, architecture and target. "
            "A fixed size such as 256M (64M to 64G). Or a kernel range list such as "
            "'1G-4G:192M,4G-64G:256M,64G-:512M': ranges of total RAM in increasing order without gaps or "
            "overlaps, only the last one open-ended, each reserving at most half of its smallest RAM."
        ),
    )
    offset: Offset = Field(
        default=None,
        description="Physical address of the reservation (e.g. 16M, a multiple of 16M); null lets the "
                    "kernel choose. Needs an explicit size.",
    )

    @field_validator("offset")
    @classmethod
    def _offset_needs_size(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("size") == "auto":
            raise _invalid("expected null when size is auto: a fixed offset needs an explicit reservation.size")
        return value

    cma: CmaSize = Field(
        default=None,
        description=(
            "Opt-in: additional memory for the capture kernel from CMA (crashkernel=SIZE,cma, e.g. 512M), "
            "usable by the running system's movable allocations until a crash. Needs Linux 6.17 or later on "
            "x86_64 with CONFIG_CMA=y, and an explicit size: the regular part that holds the capture kernel and "
            "its initrd. Pages in the CMA area (user memory, some movable kernel pages) are not in the dump, "
            "and the kernel waits 10 s before booting the capture kernel. Null: no CMA reservation."
        ),
    )

    @field_validator("cma")
    @classmethod
    def _cma_needs_size(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("size") == "auto":
            raise _invalid("expected null when size is auto: with a CMA reservation, set reservation.size to the "
                           "regular part, which holds the capture kernel and its initrd (e.g. 128M)")
        return value


_TYPE_DESCRIPTION = "Where the capture kernel writes the dump: local, device, raw, ssh or nfs."


class LocalTarget(_Strict):
    """Dump to a directory of the host's own root filesystem."""

    type: t.Literal["local"] = Field(default="local", description=_TYPE_DESCRIPTION)
    path: Path = Field(default="/var/crash", description="Directory the dumps are saved in.")


class DeviceTarget(_Strict):
    """Dump to a directory on a dedicated filesystem, mounted by the capture kernel."""

    type: t.Literal["device"] = Field(description=_TYPE_DESCRIPTION)
    device: Device = Field(description="The filesystem: UUID=..., LABEL=..., PARTUUID=..., PARTLABEL=... "
                                       "or a /dev/... path (prefer stable names such as /dev/disk/by-id/...).")
    fstype: FsType = Field(default="ext4", description="Filesystem type of the device.")
    path: PathOrRoot = Field(default="/var/crash",
                             description="Dump directory, relative to the root of that filesystem.")


class RawTarget(_Strict):
    """Dump raw onto a partition; it is copied to a directory at the next boot."""

    type: t.Literal["raw"] = Field(description=_TYPE_DESCRIPTION)
    device: RawDevice = Field(description="The partition, overwritten at each crash: /dev/..., PARTUUID=... "
                                          "or PARTLABEL=... (a raw device has no filesystem UUID or LABEL).")
    path: Path = Field(default="/var/crash",
                       description="Local directory the dump is recovered into at the next boot.")


class SshTarget(_Strict):
    """Send the dump over SSH (scp/sftp) to a dump server."""

    type: t.Literal["ssh"] = Field(description=_TYPE_DESCRIPTION)
    host: HostName = Field(description="The dump server: host name or IP address.")
    user: UserName = Field(description="User on the dump server.")
    port: Port = Field(default=22, description="SSH port of the dump server (1-65535).")
    path: Path = Field(default="/var/crash", description="Directory on the dump server.")
    key: KeyPath = Field(default=DEFAULT_SSH_KEY,
                         description="Private key on the crashing host used to log in to the server.")


class NfsTarget(_Strict):
    """Write the dump to an NFS export, mounted by the capture kernel."""

    type: t.Literal["nfs"] = Field(description=_TYPE_DESCRIPTION)
    host: HostName = Field(description="The NFS server: host name or IP address.")
    export: PathOrRoot = Field(description="The exported directory on the server (e.g. /srv/crash).")
    path: PathOrRoot = Field(default="/var/crash", description="Dump directory, relative to the export.")


def _target_type(value: t.Any) -> t.Any:
    if isinstance(value, BaseModel):
        return value.type
    if isinstance(value, dict):
        return value.get("type", "local")
    return None


Target = t.Annotated[
    t.Union[
        t.Annotated[LocalTarget, Tag("local")],
        t.Annotated[DeviceTarget, Tag("device")],
        t.Annotated[RawTarget, Tag("raw")],
        t.Annotated[SshTarget, Tag("ssh")],
        t.Annotated[NfsTarget, Tag("nfs")],
    ],
    Discriminator(_target_type),
]

TARGET_MODELS = {"local": LocalTarget, "device": DeviceTarget, "raw": RawTarget, "ssh": SshTarget, "nfs": NfsTarget}


class Filter(_Strict):
    """What makedumpfile keeps and how it compresses."""

    dump_level: DumpLevel = Field(
        default=31,
        description="Pages left out of the dump, as makedumpfile's -d bitmask (0-31; 31 keeps only kernel "
                    "pages) or as a list of page classes: zero (1), cache (2), cache_private (4), user (8), "
                    "free (16).",
    )
    compression: Compression = Field(
        default="auto",
        description="auto picks the best the host's makedumpfile supports (zstd, lzo, zlib); none writes "
                    "uncompressed pages; zlib, lzo, snappy and zstd insist on that algorithm.",
    )
    dmesg: Flag = Field(default=True, description="Also save the crashed kernel's log (dmesg) next to the dump.")


class Retention(_Strict):
    """Old dumps kept on the target."""

    keep: Keep = Field(default=3, description="Number of dumps kept; older ones are removed. 0 keeps all.")
    min_free: Size = Field(default="1G",
                           description="Space left free on the target: no dump is written if less remains.")


def _trigger(key: str, event: str, cost: str) -> t.Any:
    sysctl, needs = PANIC_TRIGGERS[key]
    needed = f"; needs {needs}" if needs else ""
    return Field(default=None, description=f"{event} ({sysctl}{needed}). {cost}")


class PanicOn(_Strict):
    """Which kernel events panic the host, and so produce a dump. Each is a kernel sysctl, written to
    /etc/sysctl.d/zz-crashdump-kdump.conf and set on the running kernel: true panics, false does not,
    null (the default) leaves the distribution's setting alone (a value set earlier stays until the next
    boot). Applied whether kdump is enabled or not: without a capture kernel a panic only stops or
    reboots the host (kernel.panic)."""

    oops: OptionalFlag = _trigger(
        "oops", "An oops or BUG()",
        "Otherwise the kernel kills the task that hit it and runs on, possibly corrupted, with no dump "
        "(unless it hit an interrupt handler or init). Costs a reboot for bugs the host would have survived.")
    hung_task: OptionalFlag = _trigger(
        "hung_task", "A task blocked uninterruptibly (D state) for kernel.hung_task_timeout_secs, 120 s by default",
        "Costs: a stuck NFS server or a failing disk turns every blocked client into a crash dump.")
    soft_lockup: OptionalFlag = _trigger(
        "soft_lockup", "A CPU looping in the kernel without scheduling for 2 x kernel.watchdog_thresh, 20 s by default",
        "Costs: false positives on overcommitted VMs whose vCPUs the hypervisor did not run (steal time).")
    hard_lockup: OptionalFlag = _trigger(
        "hard_lockup", "A CPU stuck with interrupts off for kernel.watchdog_thresh, 10 s by default",
        "Detects nothing without a working NMI watchdog (kernel.nmi_watchdog=1 and a hardware performance "
        "counter, which most VMs lack).")
    unrecovered_nmi: OptionalFlag = _trigger(
        "unrecovered_nmi", "An NMI of unknown origin or an uncorrected memory or bus error the platform reports",
        "Costs: a crash for each spurious NMI that some platforms send (e.g. from power management).")


class KdumpPolicy(_Strict):
    """The crash-dump policy of a host: crashdump.kdump's kdump_policy variable."""

    enabled: Flag = Field(default=True, description="Whether kdump is configured and running at all.")
    reservation: Reservation = Field(default_factory=Reservation,
                                     json_schema_extra={"default": {"size": "auto", "offset": None}},
                                     description=Reservation.__doc__)
    target: Target = Field(default_factory=LocalTarget,
                           json_schema_extra={"default": {"type": "local", "path": "/var/crash"}},
                           description="Where dumps go. The fields allowed depend on type.")
    filter: Filter = Field(default_factory=Filter,
                           json_schema_extra={"default": {"dump_level": 31, "compression": "auto", "dmesg": True}},
                           description=Filter.__doc__)
    on_failure: FailureAction = Field(
        default="reboot",
        description="What the capture kernel does when saving the dump fails. dump_to_rootfs first tries to "
                    "save it to the host's root filesystem (not with a local target).",
    )
    on_success: SuccessAction = Field(default="reboot",
                                               description="What the capture kernel does after saving the dump.")
    retention: Retention = Field(default_factory=Retention,
                                 json_schema_extra={"default": {"keep": 3, "min_free": "1G"}},
                                 description=Retention.__doc__)
    reboot: RebootMode = Field(
        default="never",
        description="allowed: the role may reboot a host to activate a new memory reservation; never: it "
                    "reports that a reboot is pending instead.",
    )
    panic_on: PanicOn = Field(default_factory=PanicOn, json_schema_extra={"default": dict.fromkeys(PANIC_TRIGGERS)},
                              description=" ".join(PanicOn.__doc__.split()))

    @field_validator("on_failure")
    @classmethod
    def _rootfs_fallback_needs_remote_target(cls, value: str, info: ValidationInfo) -> str:
        if value == "dump_to_rootfs" and _target_type_of(info) == "local":
            raise _invalid("expected reboot, halt, poweroff or shell: a local target already writes to the "
                           "root filesystem, so dump_to_rootfs has nothing to fall back to")
        return value


def _target_type_of(info: ValidationInfo) -> t.Any:
    """The target type, also when the target itself is invalid (then read from the raw input)."""
    target = info.data.get("target")
    if target is not None:
        return target.type
    raw = (info.context or {}).get("raw", {}).get("target", {})
    return _target_type(raw)


# ---------------------------------------------------------------------------------------------
# Public entry points

def _location(loc: tuple[t.Any, ...]) -> str:
    path = "kdump_policy"
    if len(loc) > 1 and loc[0] == "target" and loc[1] in TARGET_MODELS:
        loc = loc[:1] + loc[2:]  # drop the union tag pydantic inserts
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and _NAME_RE.fullmatch(part):
            path += f".{part}"
        else:  # an odd or very long key: quote and shorten it like a value
            path += f"[{show(part)}]"
    return path


def _message(error: t.Mapping[str, t.Any], data: t.Any) -> str:
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    where = _location(loc)
    if kind == "kdump_value":
        return f"{where}: {error['ctx']['expected']}, got {show(value)}"
    if kind == "missing":
        if len(loc) > 1 and loc[0] == "target" and loc[1] in TARGET_MODELS:
            return f"{where}: required for target type {loc[1]}, but missing"
        return f"{where}: required field is missing"
    if kind == "extra_forbidden":
        if len(loc) > 1 and loc[0] == "target" and loc[1] in TARGET_MODELS:
            allowed = ", ".join(TARGET_MODELS[loc[1]].model_fields)
            return (f"{where}: not used by target type {loc[1]} (its fields: {allowed}), got {show(value)}; "
                    "remove it or change target.type")
        parent = _model_at(loc[:-1])
        allowed = f" (known fields: {', '.join(parent.model_fields)})" if parent else ""
        return f"{where}: unknown field{allowed}, got {show(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type", "union_tag_not_found") and not isinstance(value, dict):
        return f"{where}: expected a mapping (omit it to use the defaults), got {show(value)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return f"{where}.type: expected one of {', '.join(TARGET_TYPES)}, got {show(value.get('type'))}"
    return f"{where}: {error.get('msg', 'invalid value')}, got {show(value)}"


def _model_at(loc: tuple[t.Any, ...]) -> t.Any:
    models = {(): KdumpPolicy, ("reservation",): Reservation, ("filter",): Filter, ("retention",): Retention,
              ("panic_on",): PanicOn}
    return models.get(loc)


def normalise_policy(data: t.Any, host: str | None = None) -> dict[str, t.Any]:
    """Validate ``kdump_policy`` and return it normalised (see the module docstring).

    Raises PolicyError listing every problem found; PydanticMissingError if the
    controller lacks pydantic.
    """
    _require_pydantic()
    if host is not None:
        try:
            check_inventory_name(host)
        except UnsafeValue as exc:
            raise PolicyError([str(exc)]) from None
    prefix = f"host {host}: " if host else ""
    try:
        if data is None:
            raise PolicyError(["kdump_policy is not defined"])
        data = _plain(data)
        if not isinstance(data, dict):
            raise PolicyError([f"kdump_policy: expected a mapping, got {show(data)}"])
        try:
            policy = KdumpPolicy.model_validate(data, context={"raw": data})
        except ValidationError as exc:
            raise PolicyError([_message(error, data) for error in exc.errors(include_url=False)]) from None
        return policy.model_dump(mode="python")
    except PolicyError as exc:
        raise PolicyError([prefix + message for message in exc.errors]) from None
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
        # Only reachable through input too odd for the checks above (e.g. a Mapping whose
        # items() fails); still a policy problem, never a traceback for the user.
        raise PolicyError([f"{prefix}kdump_policy: could not be read ({type(exc).__name__}: {show(str(exc))})"]) from None


def policy_json_schema() -> dict[str, t.Any]:
    """JSON Schema of a YAML vars file that sets kdump_policy (group_vars, host_vars, examples).

    The schema checks shapes, names and simple ranges for editors; cross-field rules
    (ranges in order, no dump_to_rootfs with a local target, ...) live in the model only.
    """
    _require_pydantic()
    policy = KdumpPolicy.model_json_schema()
    definitions = policy.pop("$defs", {})
    definitions["KdumpPolicy"] = policy
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.invalid/crashdump/kdump/schemas/kdump-policy.schema.json",
        "title": "crashdump.kdump policy",
        "description": "A vars file (group_vars, host_vars) setting kdump_policy for the crashdump.kdump "
                       "collection. Generated from plugins/plugin_utils/_policy.py by scripts/export-schema.py; "
                       "do not edit.",
        "type": "object",
        "properties": {"kdump_policy": {"$ref": "#/$defs/KdumpPolicy"}},
        "$defs": dict(sorted(definitions.items())),
    }
