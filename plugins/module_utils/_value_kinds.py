# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (controller and managed host, standard library only): the kinds
of value that may reach a native file, and how values are shown in messages.

The policy model (plugins/plugin_utils/_policy.py) checks the policy's values against these kinds;
the planner (_backend_*.py, on the controller or the host) checks what it writes with them too.
Not a public API; it may change without notice.
"""

from __future__ import annotations

import re
import reprlib
import typing as t

# Value kinds: every string that reaches a shell-sourced file, a systemd unit, kdump.conf,
# sysconfig or known_hosts is one of these, and is checked here only, against a conservative
# character set matched whole (re.fullmatch: `$` would let a trailing newline through). The
# JSON Schema's patterns are built from the same expressions (_policy.schema_pattern).
_NOT_DOTS = r"(?!\.{1,2}(?![^/]))"  # a path component is never . or ..
_PATH_CHARS = "A-Za-z0-9._+@"  # and -, last in each class
_UUID = r"(?=[0-9A-Fa-f-]{1,36}(?![\s\S]))[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*"  # at the end of a value
_DEVICE_PATH = rf"/dev(?:/{_NOT_DOTS}[{_PATH_CHARS}:-]+)+"  # by-path names hold colons
_DEVICE_LABEL = "[A-Za-z0-9._+@:-]{1,64}"
_HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
VALUE_KINDS = {
    "path": rf"(?:/{_NOT_DOTS}[{_PATH_CHARS}-]*)+",
    "device": rf"{_DEVICE_PATH}|(?:UUID|PARTUUID)={_UUID}|(?:LABEL|PARTLABEL)={_DEVICE_LABEL}",
    "raw_device": rf"{_DEVICE_PATH}|PARTUUID={_UUID}|PARTLABEL={_DEVICE_LABEL}",
    "user": "[A-Za-z_][A-Za-z0-9_.-]{0,31}",
    "host_name": rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?",
    "ip_address": "[0-9A-Fa-f:.]{2,45}",  # then ipaddress decides; no % zone id, no brackets
    "inventory_name": "[A-Za-z0-9][A-Za-z0-9._-]{0,252}",  # one path component: no /, never . or ..
    "host_key": r"(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com"
                r"|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]{16,16384}={0,2}",
}
_VALUE_RES = {kind: re.compile(pattern) for kind, pattern in VALUE_KINDS.items()}



def is_kind(kind: str, value: t.Any) -> bool:
    """Whether ``value`` is a string made entirely of ``kind``'s character set and form."""
    return isinstance(value, str) and _VALUE_RES[kind].fullmatch(value) is not None


class UnsafeValue(ValueError):
    """A value that is not of the kind it must be; the message names it."""


# ---------------------------------------------------------------------------------------------
# Showing values in messages: short, safe for any object (huge ints, cycles, odd types)

class _ShortRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxstring = 60
        self.maxother = 60
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 6
        self.maxlevel = 3

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 200:  # repr() of very large ints is slow or refused
            return f"<integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)

    def repr_instance(self, x: t.Any, level: int) -> str:
        try:
            return super().repr_instance(x, level)
        except Exception:  # a broken __repr__ in some foreign object
            return f"<{type(x).__name__} object>"


_short_repr = _ShortRepr()


def show(value: t.Any) -> str:
    """``value`` as it appears in error messages: repr-like, cut when long."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    try:
        text = _short_repr.repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 120 else text[:117] + "..."


def check_inventory_name(name: t.Any) -> str:
    """``name`` if it is safe as an inventory host name, else UnsafeValue naming it.

    The inventory name becomes the host's own directory on a dump server or NFS export and is
    written into its capture settings, so it is one path component of a conservative character set.
    """
    if not is_kind("inventory_name", name):
        raise UnsafeValue(f"host {show(name)}: inventory_hostname: expected a host name of letters, digits and "
                          ". _ - (starting with a letter or digit, at most 253 characters): it names the "
                          f"host's dump directory and is written into its capture settings, got {show(name)}")
    return name
