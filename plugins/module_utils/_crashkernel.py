# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (planning, standard library only: kdump_config runs it on the
managed host): crashkernel= arithmetic.

Not a public API; it may change without notice.

``auto`` sizing (README "Reservation sizing"). Where the lab has measured the release and target
(MEASURED_MINIMA, from docs/reservation-calibration.json), on x86_64:

    minimum = the largest measured minimum of the measured guests up to the smallest one with
              at least this host's RAM (or, above the largest, that + RAM / 512 beyond its RAM)
    size    = 1.25 x minimum, rounded down to a multiple of 16 MiB, and never below the minimum

Elsewhere, the formula from the distributions' documented defaults:

    size = base(arch) + network(target) + RAM / 512 (above the first 4 GiB)
    rounded up to a multiple of 16 MiB.

Either way never more than half of RAM.

- base: x86_64 and s390x 192 MiB, aarch64 256 MiB, ppc64le 384 MiB (the
  smallest sizes the distributions document as working for a capture kernel,
  its initramfs and makedumpfile on small hosts);
- network: +64 MiB for ssh and nfs targets (network drivers, ssh or the NFS
  client in the capture environment; on Debian 12 and 13 the lab measured at most
  16 MiB more than local, and the table is used there);
- RAM / 512 above 4 GiB: makedumpfile's page bitmaps and the capture kernel's
  memory map grow with RAM (2 MiB per GiB).

Hosts with less than 1 GiB of RAM are refused for ``auto``: a capture kernel
that does not fit hangs the host at crash time instead of dumping.

``reservation.cma`` adds a ``crashkernel=SIZE,cma`` word after the regular one
(Linux 6.17, x86_64, CONFIG_CMA; Documentation/admin-guide/kdump/kdump.rst,
"crashkernel=size,cma"). The regular word stays: the kernel needs it to hold the
capture kernel and initrd, and reserves no CMA without it. It comes first
because a kernel without ``,cma`` takes the last crashkernel= word it does not
know as a suffix: with ``,cma`` last, such a kernel fails to parse it and
reserves nothing (visible: kexec_crash_size is 0) instead of booting with a
regular part too small for a whole capture environment.
"""

from __future__ import annotations

MIB = 1024 * 1024
GIB = 1024 * MIB

BASE_BY_ARCH = {"x86_64": 192 * MIB, "s390x": 192 * MIB, "aarch64": 256 * MIB, "ppc64le": 384 * MIB}
NETWORK_TARGETS = ("ssh", "nfs")
NETWORK_EXTRA = 64 * MIB
MIN_RAM_FOR_AUTO = 1 * GIB - 128 * MIB  # a "1 GiB" VM reports a little less in MemTotal

# The lab's calibration (scripts/calibrate-reservation.py; every trial, with versions, dates and the
# capture kernel's memory, in docs/reservation-calibration.json, which a unit test holds this to):
# per (os id, major version, target), (guest RAM MiB, smallest reservation MiB that dumped), RAM
# ascending. x86_64 only.
MEASURED_MINIMA = {
    ("debian", "12", "local"): ((2048, 128), (4096, 128)),  # 2026-12-02, kernel 6.1, kdump-tools 1.8.1
    ("debian", "12", "nfs"): ((2048, 128), (4096, 144)),  # 128M hit the OOM killer at 4 GiB
    ("debian", "12", "ssh"): ((2048, 128), (4096, 128)),
    ("debian", "13", "local"): ((2048, 112), (4096, 112)),  # 2026-12-02, kernel 6.12, kdump-tools 1.10.7
    ("debian", "13", "nfs"): ((2048, 128), (4096, 112)),  # 112M failed at 2 GiB: auto keeps 128M
    ("debian", "13", "ssh"): ((2048, 112), (4096, 112)),
}
MEASURED_ARCH = "x86_64"
MEASURED_MARGIN = 1.25  # the capture kernel's lowest MemAvailable at the minimum: README "Reservation sizing"

# The first kernel release that reserves crashkernel=SIZE,cma, per architecture: only
# where it has been checked (x86_64: the series merged for 6.17). Other architectures
# gained it later in separate series; they are refused until someone checks the release.
CMA_SINCE = {"x86_64": (6, 17)}
CMA_CONFIG = "CONFIG_CMA"  # crashkernel=,cma is compiled out without it


class CrashkernelError(ValueError):
    """The reservation cannot be computed for this host."""


def auto_size(ram_bytes: int, arch: str, target_type: str, release=None) -> int:
    """The ``auto`` reservation for a host, in bytes (see module docstring). ``release``:
    (os id, major version), such as ("debian", "12"), or None."""
    if arch not in BASE_BY_ARCH:
        raise CrashkernelError(f"no auto sizing for architecture {arch!r}; set reservation.size explicitly")
    if ram_bytes < MIN_RAM_FOR_AUTO:
        raise CrashkernelError(
            f"{ram_bytes // MIB} MiB of RAM is too little for a capture kernel; set reservation.size explicitly")
    measured = MEASURED_MINIMA.get((*release, target_type)) if release and arch == MEASURED_ARCH else None
    size = measured_auto(measured, ram_bytes) if measured else documented_auto(ram_bytes, arch, target_type)
    return min(size, ram_bytes // 2 // MIB * MIB)


def measured_auto(measured, ram_bytes: int) -> int:
    """1.25 x the measured minimum for this much RAM, in whole 16 MiB, never below the minimum.
    A bigger host needs no less than a smaller one: a size that failed on a smaller guest is not
    trusted on a bigger one because a single trial there happened to save."""
    needed = 0
    for guest_mib, minimal_mib in measured:
        needed = max(needed, minimal_mib)
        if ram_bytes <= guest_mib * MIB:
            minimum = needed * MIB
            break
    else:
        minimum = needed * MIB + (ram_bytes - measured[-1][0] * MIB) // 512
    return max(minimum, int(minimum * MEASURED_MARGIN) // (16 * MIB) * 16 * MIB)


def documented_auto(ram_bytes: int, arch: str, target_type: str) -> int:
    size = BASE_BY_ARCH[arch]
    if target_type in NETWORK_TARGETS:
        size += NETWORK_EXTRA
    size += max(0, ram_bytes - 4 * GIB) // 512
    return -(-size // (16 * MIB)) * 16 * MIB


def format_size(value: int) -> str:
    """Bytes as the largest exact crashkernel unit: 201326592 -> '192M'."""
    for unit, factor in (("T", 1024 * GIB), ("G", GIB), ("M", MIB), ("K", 1024)):
        if value and value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


def reserved_for(size, ram_bytes: int):
    """Bytes the kernel will reserve for a normalised size on a host with ``ram_bytes``:
    an int, or a range list [{"from", "to", "size"}] matched like the kernel does."""
    if isinstance(size, int):
        return size
    for entry in size:
        if entry["from"] <= ram_bytes and (entry["to"] is None or ram_bytes < entry["to"]):
            return entry["size"]
    return 0


def kernel_version(release):
    """(6, 17) for '6.17.8+deb14-amd64'; None when the release does not start with MAJOR.MINOR."""
    parts = str(release or "").split(".", 2)
    if len(parts) < 2 or not parts[0].isdigit():
        return None
    minor = parts[1][:len(parts[1]) - len(parts[1].lstrip("0123456789"))]
    return (int(parts[0]), int(minor)) if minor else None


def cma_refusal(arch: str, release, kernel_config) -> str | None:
    """Why this host's running kernel cannot reserve crashkernel=SIZE,cma; None when it can.
    ``kernel_config`` is the kernel_config fact ({"path", "options"}) or None."""
    if arch not in CMA_SINCE:
        return (f"crashkernel=SIZE,cma is not supported here: it is verified only on "
                f"{', '.join(sorted(CMA_SINCE))}, this host is {arch}")
    since = ".".join(map(str, CMA_SINCE[arch]))
    version = kernel_version(release)
    if version is None:
        return f"crashkernel=SIZE,cma needs Linux {since} or later; the kernel release {release!r} is not readable"
    if version < CMA_SINCE[arch]:
        return f"crashkernel=SIZE,cma needs Linux {since} or later on {arch}; the running kernel is {release}"
    config = kernel_config or {}
    value = (config.get("options") or {}).get(CMA_CONFIG)
    if not config.get("path"):
        return (f"crashkernel=SIZE,cma needs {CMA_CONFIG}=y; the configuration of kernel {release} is not "
                f"readable (neither /boot/config-{release} nor /proc/config.gz)")
    if value != "y":
        return (f"crashkernel=SIZE,cma needs {CMA_CONFIG}=y; kernel {release} has "
                f"{CMA_CONFIG}={value or 'unset'} ({config['path']})")
    return None


def crashkernel_value(size, offset, ram_bytes: int, arch: str, target_type: str, cma=None, release=None) -> str:
    """The crashkernel= value(s) for a normalised reservation on one host: the regular
    one, then ``SIZE,cma`` when ``cma`` is set, space-separated (one word each)."""
    regular = _regular_value(size, offset, ram_bytes, arch, target_type, release)
    return f"{regular} {format_size(cma)},cma" if cma else regular


def _regular_value(size, offset, ram_bytes, arch, target_type, release):
    if size == "auto":
        text = format_size(auto_size(ram_bytes, arch, target_type, release))
    elif isinstance(size, int):
        text = format_size(size)
    else:
        text = ",".join(
            f"{format_size(e['from']) if e['from'] else '0M'}-{format_size(e['to']) if e['to'] else ''}:"
            f"{format_size(e['size'])}"
            for e in size
        )
    return f"{text}@{format_size(offset)}" if offset else text


def planned_bytes(size, ram_bytes: int, arch: str, target_type: str, release=None) -> int:
    """What the reservation should amount to on this host, in bytes."""
    if size == "auto":
        return auto_size(ram_bytes, arch, target_type, release)
    return reserved_for(size, ram_bytes)
