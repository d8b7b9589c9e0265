"""auto sizing: from the lab's measured minima where measured, from the documented formula elsewhere.

Expected sizes are worked out by hand in each test's comment, from the rule in the README
("Reservation sizing"), not computed by the code under test.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _crashkernel

MIB = 2**20
GIB = 1024 * MIB
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITE_RELEASE = {"bookworm": ("debian", "12"), "trixie": ("debian", "13")}


@pytest.fixture
def measured(monkeypatch):
    """A made-up table, so the rule is tested apart from the lab's figures."""
    table = {("debian", "12", "local"): ((2048, 112), (4096, 128))}
    monkeypatch.setattr(_crashkernel, "MEASURED_MINIMA", table)
    return table


@pytest.mark.parametrize("ram, expected_mib", [
    (1 * GIB, 128),         # below the smallest guest: its minimum 112; 1.25 x 112 = 140 -> 128
    (2 * GIB, 128),         # the 2 GiB row: the same
    (3 * GIB, 160),         # between rows: the larger guest's 128; 1.25 x 128 = 160
    (4 * GIB, 160),
    (8 * GIB, 160),         # above: 128 + 4 GiB / 512 = 136; 1.25 x 136 = 170 -> 160
    (64 * GIB, 304),        # 128 + 60 GiB / 512 = 128 + 120 = 248; 1.25 x 248 = 310 -> 304
])
def test_measured_release_and_target(measured, ram, expected_mib):
    assert _crashkernel.auto_size(ram, "x86_64", "local", ("debian", "12")) == expected_mib * MIB


@pytest.mark.parametrize("ram, expected_mib", [
    (2 * GIB, 160),  # 1.25 x 128
    (4 * GIB, 160),  # the 4 GiB row says 112, but 112 failed on the smaller guest: 128 -> 160
    (8 * GIB, 160),  # 128 + 4 GiB / 512 = 136; 1.25 x 136 = 170 -> 160
])
def test_a_bigger_host_needs_no_less_than_a_smaller_one(monkeypatch, ram, expected_mib):
    monkeypatch.setattr(_crashkernel, "MEASURED_MINIMA", {("debian", "13", "nfs"): ((2048, 128), (4096, 112))})
    assert _crashkernel.auto_size(ram, "x86_64", "nfs", ("debian", "13")) == expected_mib * MIB


def test_never_below_the_measured_minimum(monkeypatch):
    # 1.25 x 48 = 60 rounds down to 48: the minimum itself, not less.
    monkeypatch.setattr(_crashkernel, "MEASURED_MINIMA", {("debian", "12", "local"): ((2048, 48),)})
    assert _crashkernel.auto_size(2 * GIB, "x86_64", "local", ("debian", "12")) == 48 * MIB


@pytest.mark.parametrize("arch, target, release, ram, expected_mib", [
    ("x86_64", "ssh", ("debian", "12"), 2 * GIB, 256),    # target not measured: 192 + 64
    ("x86_64", "local", ("debian", "11"), 2 * GIB, 192),  # release not measured: the formula's base
    ("x86_64", "local", ("rhel", "9"), 8 * GIB, 208),     # 192 + 4 GiB / 512 = 200 -> up to 208
    ("aarch64", "local", ("debian", "12"), 2 * GIB, 256),  # measured on x86_64 only
    ("x86_64", "local", None, 2 * GIB, 192),
])
def test_the_documented_formula_where_not_measured(measured, arch, target, release, ram, expected_mib):
    assert _crashkernel.auto_size(ram, arch, target, release) == expected_mib * MIB


def test_at_most_half_of_ram(monkeypatch):
    monkeypatch.setattr(_crashkernel, "MEASURED_MINIMA", {("debian", "12", "local"): ((2048, 600),)})
    assert _crashkernel.auto_size(1 * GIB, "x86_64", "local", ("debian", "12")) == 512 * MIB


def test_the_code_holds_the_committed_calibration_table():
    """MEASURED_MINIMA is the table's minimal_mib per release, target and guest RAM (cells with a
    CMA part measure something else and are left out)."""
    with open(os.path.join(REPO, "docs", "reservation-calibration.json"), encoding="utf-8") as handle:
        cells = json.load(handle)["cells"]
    from_table = {}
    for cell in cells:
        if cell.get("cma_mib") or cell.get("minimal_mib") is None:
            continue
        key = (*SUITE_RELEASE[cell["release"]], cell["target"])
        from_table.setdefault(key, []).append((cell["memory_mib"], cell["minimal_mib"]))
    assert {key: tuple(sorted(rows)) for key, rows in from_table.items()} == _crashkernel.MEASURED_MINIMA


@pytest.mark.parametrize("release, ram, expected_mib", [
    # Debian 12 local: 128M measured at 2 and 4 GiB
    (("debian", "12"), 1 * GIB, 160),   # 1.25 x 128
    (("debian", "12"), 3 * GIB, 160),
    (("debian", "12"), 4 * GIB, 160),
    (("debian", "12"), 8 * GIB, 160),   # 128 + 4 GiB / 512 = 136; 1.25 x 136 = 170 -> 160
    (("debian", "12"), 16 * GIB, 176),  # 128 + 12 GiB / 512 = 152; 1.25 x 152 = 190 -> 176
    # Debian 13 local: 112M measured at 2 and 4 GiB
    (("debian", "13"), 1 * GIB, 128),   # 1.25 x 112 = 140 -> 128
    (("debian", "13"), 4 * GIB, 128),
    (("debian", "13"), 8 * GIB, 144),   # 112 + 8 = 120; 150 -> 144
    (("debian", "13"), 16 * GIB, 160),  # 112 + 24 = 136; 170 -> 160
])
def test_the_lab_calibration_local(release, ram, expected_mib):
    assert _crashkernel.auto_size(ram, "x86_64", "local", release) == expected_mib * MIB


@pytest.mark.parametrize("release, target, ram, expected_mib", [
    # Debian 12 ssh: 128M at 2 and 4 GiB
    (("debian", "12"), "ssh", 1 * GIB, 160),   # 1.25 x 128
    (("debian", "12"), "ssh", 4 * GIB, 160),   # the 4 GiB row: 1.25 x 128
    (("debian", "12"), "ssh", 16 * GIB, 176),  # 128 + 12 GiB / 512 = 152; 1.25 x 152 = 190 -> 176
    # Debian 12 nfs: 128M at 2 GiB, 144M at 4 GiB
    (("debian", "12"), "nfs", 2 * GIB, 160),
    (("debian", "12"), "nfs", 3 * GIB, 176),   # above 2 GiB, the 4 GiB row: 1.25 x 144 = 180 -> 176
    (("debian", "12"), "nfs", 4 * GIB, 176),
    (("debian", "12"), "nfs", 16 * GIB, 208),  # 144 + 12 GiB / 512 = 168; 1.25 x 168 = 210 -> 208
    # Debian 13 ssh: 112M measured at 2 and 4 GiB
    (("debian", "13"), "ssh", 1 * GIB, 128),   # 1.25 x 112 = 140 -> 128
    (("debian", "13"), "ssh", 2 * GIB, 128),
    (("debian", "13"), "ssh", 4 * GIB, 128),
    (("debian", "13"), "ssh", 8 * GIB, 144),   # 112 + 4 GiB / 512 = 120; 150 -> 144
    # Debian 13 nfs: 128M at 2 GiB, 112M at 4 GiB (no less than 2 GiB's 128M, see above)
    (("debian", "13"), "nfs", 1 * GIB, 160),   # 1.25 x 128
    (("debian", "13"), "nfs", 4 * GIB, 160),
    (("debian", "13"), "nfs", 8 * GIB, 160),   # 128 + 6 GiB / 512 = 140; 1.25 x 140 = 175 -> 160
    # Not measured: the formula, 192 + 64 for the network
    (("debian", "11"), "ssh", 2 * GIB, 256),
    (("rhel", "9"), "nfs", 2 * GIB, 256),
])
def test_the_lab_calibration_network(release, target, ram, expected_mib):
    assert _crashkernel.auto_size(ram, "x86_64", target, release) == expected_mib * MIB
