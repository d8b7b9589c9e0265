"""reservation.cma: crashkernel=SIZE,cma beside the regular reservation.

Expected values are written by hand from the kernel's rules (Documentation/admin-guide/kdump/
kdump.rst "crashkernel=size,cma", kernel/crash_reserve.c): the regular word stays and comes first,
the ,cma word is a plain size, x86_64 from Linux 6.17 with CONFIG_CMA=y.
"""

from __future__ import annotations

import gzip
import os
import subprocess

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _facts
from ansible_collections.crashdump.kdump.plugins.module_utils import _hostbackends_rpm as rpm
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import DebianHost
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import effective_crashkernel
from ansible_collections.crashdump.kdump.plugins.module_utils._crashkernel import kernel_version
from ansible_collections.crashdump.kdump.plugins.module_utils._plan import PlanError, make_plan
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import PolicyError, normalise_policy

MIB = 2**20
GIB = 2**30
RELEASE = "6.17.8+deb14-amd64"
CMA_Y = {"path": f"/boot/config-{RELEASE}", "options": {"CONFIG_CMA": "y"}}


def facts(release=RELEASE, config=CMA_Y, arch="x86_64", family="debian", os_id="debian", major=13,
          mem_total=4 * GIB):
    return {
        "distribution": {"id": os_id, "version_id": str(major), "major": major, "family": family},
        "architecture": arch,
        "mem_total_bytes": mem_total,
        "kernel_release": release,
        "kernel_config": config,
        "crashkernel": {"reserved_bytes": 0},
        "tooling": {"packages": {}},
    }


def policy(**reservation):
    return normalise_policy({"reservation": {"size": "128M", "cma": "512M", **reservation}})


def refusal(facts_, policy_=None):
    with pytest.raises(PlanError) as info:
        make_plan(policy_ or policy(), facts_, "h1")
    assert len(info.value.errors) == 1
    return info.value.errors[0]


# --- policy -------------------------------------------------------------------------------------

def test_cma_is_off_by_default_and_a_size_in_bytes_when_set():
    assert normalise_policy({})["reservation"]["cma"] is None
    assert policy()["reservation"] == {"size": 128 * MIB, "offset": None, "cma": 512 * MIB}
    assert policy(cma="1G")["reservation"]["cma"] == GIB


@pytest.mark.parametrize("cma, expected", [
    ("auto", "kdump_policy.reservation.cma: expected null or a size such as 512M: the kernel takes "
             "crashkernel=SIZE,cma as a plain size (no auto, range list or offset), got 'auto'"),
    ("1G-4G:256M", "kdump_policy.reservation.cma: expected null or a size such as 512M: the kernel takes "
                   "crashkernel=SIZE,cma as a plain size (no auto, range list or offset), got '1G-4G:256M'"),
    ("512M@16M", "kdump_policy.reservation.cma: expected null or a size such as 512M: the kernel takes "
                 "crashkernel=SIZE,cma as a plain size (no auto, range list or offset), got '512M@16M'"),
    ("32M", "kdump_policy.reservation.cma: expected null or a whole number of MiB from 64M to 64G (e.g. 512M), "
            "got '32M'"),
    ("100000K", "kdump_policy.reservation.cma: expected null or a whole number of MiB from 64M to 64G "
                "(e.g. 512M), got '100000K'"),
    (True, "kdump_policy.reservation.cma: expected null or a size such as 512M: the kernel takes "
           "crashkernel=SIZE,cma as a plain size (no auto, range list or offset), got true"),
])
def test_cma_values_the_kernel_does_not_take_are_refused(cma, expected):
    with pytest.raises(PolicyError) as info:
        policy(cma=cma)
    assert info.value.errors == [expected]


def test_cma_needs_an_explicit_regular_size():
    with pytest.raises(PolicyError) as info:
        normalise_policy({"reservation": {"cma": "512M"}}, host="h1")
    assert info.value.errors == [
        "host h1: kdump_policy.reservation.cma: expected null when size is auto: with a CMA reservation, set "
        "reservation.size to the regular part, which holds the capture kernel and its initrd (e.g. 128M), "
        "got '512M'"]


# --- the words ----------------------------------------------------------------------------------

@pytest.mark.parametrize("release, expected", [
    ("6.17.8+deb14-amd64", (6, 17)), ("6.17", (6, 17)), ("7.0.1-1-amd64", (7, 0)),
    ("6.1.0-50-amd64", (6, 1)), ("6.12.48+deb13-amd64", (6, 12)), ("6.17rc3", (6, 17)),
    ("", None), (None, None), ("linux", None), ("6", None), ("6.x", None),
])
def test_kernel_version(release, expected):
    assert kernel_version(release) == expected


@pytest.mark.parametrize("reservation, words, regular, cma", [
    ({}, "128M 512M,cma", 128 * MIB, 512 * MIB),
    ({"cma": "1G"}, "128M 1G,cma", 128 * MIB, GIB),
    ({"cma": 805306368}, "128M 768M,cma", 128 * MIB, 768 * MIB),
    ({"size": "96M", "offset": "16M"}, "96M@16M 512M,cma", 96 * MIB, 512 * MIB),
    ({"size": "1G-4G:128M,4G-:192M"}, "1G-4G:128M,4G-:192M 512M,cma", 128 * MIB, 512 * MIB),
])
def test_plan_renders_the_regular_word_then_the_cma_word(reservation, words, regular, cma):
    plan = make_plan(policy(**reservation), facts(mem_total=3 * GIB), "h1")
    assert plan["crashkernel"] == words
    assert plan["crashkernel_bytes"] == regular  # what /sys/kernel/kexec_crash_size will show
    assert plan["crashkernel_cma_bytes"] == cma


def test_plan_without_cma_is_unchanged():
    plan = make_plan(normalise_policy({"reservation": {"size": "256M"}}), facts(release="6.1.0-50-amd64",
                                                                               config=None), "h1")
    assert plan["crashkernel"] == "256M" and plan["crashkernel_cma_bytes"] == 0


def test_disabled_policy_reserves_nothing_whatever_the_kernel():
    disabled = normalise_policy({"enabled": False, "reservation": {"size": "128M", "cma": "512M"}})
    plan = make_plan(disabled, facts(release="6.1.0-50-amd64"), "h1")
    assert plan["crashkernel"] is None and plan["crashkernel_cma_bytes"] == 0


def test_newer_kernels_are_accepted():
    assert make_plan(policy(), facts(release="7.0.1-1-amd64"), "h1")["crashkernel"] == "128M 512M,cma"


def test_fedora_with_a_new_kernel_gets_both_words():
    fedora = facts(release="6.17.7-300.fc43.x86_64", family="redhat", os_id="fedora", major=43,
                   config={"path": "/boot/config-6.17.7-300.fc43.x86_64", "options": {"CONFIG_CMA": "y"}})
    assert make_plan(policy(), fedora, "h1")["crashkernel"] == "128M 512M,cma"


# --- refusals -----------------------------------------------------------------------------------

def test_kernel_older_than_6_17_is_refused_with_the_release():
    assert refusal(facts(release="6.12.48+deb13-amd64")) == (
        "host h1 (debian 13): kdump_policy.reservation.cma: 512M refused: crashkernel=SIZE,cma needs Linux 6.17 "
        "or later on x86_64; the running kernel is 6.12.48+deb13-amd64")


def test_kernel_6_16_is_refused():
    assert "needs Linux 6.17 or later on x86_64; the running kernel is 6.16.12-amd64" in refusal(
        facts(release="6.16.12-amd64"))


def test_unreadable_kernel_release_is_refused():
    assert refusal(facts(release=None)).endswith(
        "crashkernel=SIZE,cma needs Linux 6.17 or later; the kernel release None is not readable")


def test_kernel_without_config_cma_is_refused():
    off = {"path": f"/boot/config-{RELEASE}", "options": {"CONFIG_CMA": "n"}}
    assert refusal(facts(config=off)).endswith(
        f"512M refused: crashkernel=SIZE,cma needs CONFIG_CMA=y; kernel {RELEASE} has CONFIG_CMA=n "
        f"(/boot/config-{RELEASE})")


def test_kernel_config_without_the_option_is_refused():
    absent = {"path": "/proc/config.gz", "options": {"CONFIG_CMA": None}}
    assert refusal(facts(config=absent)).endswith(
        f"needs CONFIG_CMA=y; kernel {RELEASE} has CONFIG_CMA=unset (/proc/config.gz)")


@pytest.mark.parametrize("config", [None, {"path": None, "options": {"CONFIG_CMA": None}}])
def test_unknown_kernel_config_is_refused(config):
    assert refusal(facts(config=config)).endswith(
        f"needs CONFIG_CMA=y; the configuration of kernel {RELEASE} is not readable "
        f"(neither /boot/config-{RELEASE} nor /proc/config.gz)")


@pytest.mark.parametrize("arch", ["aarch64", "ppc64le", "s390x", "riscv64"])
def test_architectures_not_verified_are_refused(arch):
    assert refusal(facts(arch=arch)).endswith(
        f"512M refused: crashkernel=SIZE,cma is not supported here: it is verified only on x86_64, this host is "
        f"{arch}")


def test_suse_is_refused_whatever_the_kernel():
    suse = facts(family="suse", os_id="sles", major=16)
    assert refusal(suse) == ("host h1 (sles 16): kdump_policy.reservation.cma: 512M is not supported for the "
                             "suse family (supported: debian, redhat); set it to null")


def test_regular_plus_cma_above_half_of_ram_is_refused():
    # 2 GiB host: 128M + 1G = 1152 MiB > 1024 MiB
    assert refusal(facts(mem_total=2 * GIB), policy(cma="1G")) == (
        "host h1 (debian 13): kdump_policy.reservation.cma: crashkernel=128M 1G,cma reserves 128 MiB plus 1024 MiB "
        "of CMA, more than half of this host's 2048 MiB of RAM: CMA memory only takes movable allocations, the "
        "kernel's own would be left too little")


def test_regular_plus_cma_at_exactly_half_of_ram_is_accepted():
    assert make_plan(policy(cma="896M"), facts(mem_total=2 * GIB), "h1")["crashkernel"] == "128M 896M,cma"


# --- facts: the kernel's configuration, the CMA total --------------------------------------------

def host_at(root):
    return _facts.Host(lambda args: (127, "", ""), lambda name: None, root=str(root))


def write(root, path, content):
    full = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as handle:
        handle.write(content)


# The lines around CONFIG_CMA in a Debian kernel's /boot/config-*.
DEBIAN_CONFIG = (b"CONFIG_ARCH_ENABLE_THP_MIGRATION=y\n"
                 b"CONFIG_CMA=y\n"
                 b"# CONFIG_CMA_DEBUGFS is not set\n"
                 b"CONFIG_CMA_SYSFS=y\n"
                 b"CONFIG_CMA_AREAS=7\n")


def test_kernel_config_from_boot(tmp_path):
    write(tmp_path, f"/boot/config-{RELEASE}", DEBIAN_CONFIG)
    assert _facts.read_kernel_config(host_at(tmp_path), RELEASE) == {
        "path": f"/boot/config-{RELEASE}", "options": {"CONFIG_CMA": "y"}}


def test_kernel_config_not_set(tmp_path):
    write(tmp_path, f"/boot/config-{RELEASE}", b"# CONFIG_CMA is not set\nCONFIG_CMA_AREAS=7\n")
    assert _facts.read_kernel_config(host_at(tmp_path), RELEASE)["options"] == {"CONFIG_CMA": "n"}


@pytest.mark.parametrize("text, value", [
    (b"CONFIG_CMA=y\r\nCONFIG_CMA_AREAS=7\r\n", "y"),  # CRLF line ends
    (b"CONFIG_CMA=y\n# CONFIG_CMA is not set\n", "n"),  # the last line about an option wins
    (b"# CONFIG_CMA is not set\nCONFIG_CMA=m\n", "m"),
    (b"CONFIG_CMA=\nXCONFIG_CMA=y\n  CONFIG_CMA=y\n", None),  # empty, another name, indented
])
def test_kernel_config_lines(tmp_path, text, value):
    write(tmp_path, f"/boot/config-{RELEASE}", text)
    assert _facts.read_kernel_config(host_at(tmp_path), RELEASE)["options"] == {"CONFIG_CMA": value}


def test_kernel_config_without_the_option(tmp_path):
    write(tmp_path, f"/boot/config-{RELEASE}", b"CONFIG_CMA_AREAS=7\nCONFIG_CMA_SYSFS=y\n")
    assert _facts.read_kernel_config(host_at(tmp_path), RELEASE) == {
        "path": f"/boot/config-{RELEASE}", "options": {"CONFIG_CMA": None}}


def test_kernel_config_falls_back_to_proc_config_gz(tmp_path):
    write(tmp_path, "/proc/config.gz", gzip.compress(DEBIAN_CONFIG))
    assert _facts.read_kernel_config(host_at(tmp_path), RELEASE) == {
        "path": "/proc/config.gz", "options": {"CONFIG_CMA": "y"}}


def test_kernel_config_of_another_release_is_not_read(tmp_path):
    write(tmp_path, "/boot/config-6.12.48+deb13-amd64", DEBIAN_CONFIG)
    assert _facts.read_kernel_config(host_at(tmp_path), RELEASE) == {"path": None, "options": {"CONFIG_CMA": None}}


def test_broken_proc_config_gz_is_unreadable(tmp_path):
    write(tmp_path, "/proc/config.gz", b"not gzip")
    assert _facts.read_kernel_config(host_at(tmp_path), RELEASE)["path"] is None


def test_cma_total_is_reported_beside_the_regular_reservation(tmp_path):
    write(tmp_path, "/proc/meminfo", b"MemTotal:        3915480 kB\nCmaTotal:         524288 kB\n"
                                     b"CmaFree:          520192 kB\n")
    write(tmp_path, "/sys/kernel/kexec_crash_size", b"134217728\n")
    write(tmp_path, "/proc/cmdline", b"BOOT_IMAGE=/vmlinuz ro crashkernel=128M crashkernel=512M,cma quiet\n")
    crashkernel = _facts.read_crashkernel(host_at(tmp_path), "debian")
    assert crashkernel["cmdline"] == "128M 512M,cma"
    assert crashkernel["reserved_bytes"] == 128 * MIB and crashkernel["cma_total_bytes"] == 512 * MIB


# --- what the kernel reads from a command line ---------------------------------------------------

@pytest.mark.parametrize("cmdline, expected", [
    ("ro crashkernel=128M crashkernel=512M,cma quiet", "128M 512M,cma"),
    ("ro crashkernel=512M,cma crashkernel=128M", "128M 512M,cma"),  # the kernel sorts them by suffix
    ("crashkernel=1G,cma crashkernel=256M crashkernel=2G,cma", "256M 2G,cma"),  # the last of each
    ("crashkernel=512M,high crashkernel=128M,low", "512M,high 128M,low"),
    ("ro crashkernel=384M-:128M crashkernel=256M", "256M"),
    ("ro crashkernel=512M,cma", None),  # no regular reservation: parse_crashkernel reserves nothing
    ("ro quiet", None),
])
def test_effective_crashkernel_reads_every_kind_of_word(cmdline, expected):
    assert effective_crashkernel(cmdline) == expected


# --- Debian: the GRUB drop-in -------------------------------------------------------------------

PACKAGE_DROPIN = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n'


def test_debian_dropin_keeps_both_words_and_drops_the_others(tmp_path):
    (tmp_path / "kdump-tools.cfg").write_text(PACKAGE_DROPIN)
    (tmp_path / "zz-crashdump-kdump.cfg").write_text(DebianHost.grub_dropin_content("128M 512M,cma"))
    script = ('GRUB_CMDLINE_LINUX="console=ttyS0 crashkernel=64M crashkernel=2G,cma"; '
              'GRUB_CMDLINE_LINUX_DEFAULT="quiet"; '
              f'for x in {tmp_path}/*.cfg; do . "$x"; done; '
              'printf "%s|%s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"')
    out = subprocess.run(["sh", "-c", script], check=True, capture_output=True, text=True).stdout
    assert out.split("|") == ["console=ttyS0", "quiet crashkernel=128M crashkernel=512M,cma"]


class RecordingModule:
    def __init__(self, responses=None):
        self.responses = responses or {}
        self.calls = []

    def run_command(self, args, environ_update=None):
        self.calls.append(list(args))
        return self.responses.get(" ".join(args), (0, "", ""))

    def get_bin_path(self, name, opt_dirs=None):
        return name  # every tool installed, run by the name the argv assertions use


@pytest.mark.parametrize("linux_line, planned, expected", [
    ("linux /boot/vmlinuz-6.17.8 root=UUID=1 ro crashkernel=128M crashkernel=512M,cma quiet", "128M 512M,cma",
     True),
    ("linux /boot/vmlinuz-6.17.8 root=UUID=1 ro crashkernel=128M quiet", "128M 512M,cma", False),
    ("linux /boot/vmlinuz-6.17.8 root=UUID=1 ro crashkernel=128M crashkernel=512M,cma quiet", "128M", False),
    ("linux /boot/vmlinuz-6.17.8 root=UUID=1 ro crashkernel=128M crashkernel=1G,cma quiet", "128M 512M,cma",
     False),
])
def test_debian_menu_check_compares_every_word(tmp_path, linux_line, planned, expected):
    write(tmp_path, "/boot/grub/grub.cfg", f"menuentry 'Debian' {{\n\t{linux_line}\n}}\n".encode())
    assert DebianHost(RecordingModule(), root=str(tmp_path)).bootloader_has(planned) is expected


def test_debian_facts_read_both_words_of_our_dropin_as_ours(tmp_path):
    write(tmp_path, "/etc/default/grub.d/zz-crashdump-kdump.cfg",
          DebianHost.grub_dropin_content("128M 512M,cma").encode())
    host = host_at(tmp_path)
    assert _facts.our_crashkernel(host, "debian")[1] == "128M 512M,cma"
    ours = {"bootloader": "128M 512M,cma", "bootloader_source": "/boot/grub/grub.cfg"}
    assert _facts.foreign_crashkernel_conflict(host, "debian", ours) is None


# --- Red Hat: grubby ----------------------------------------------------------------------------

@pytest.mark.parametrize("planned, args", [
    ("128M 512M,cma", "--args=crashkernel=128M crashkernel=512M,cma"),
    ("192M", "--args=crashkernel=192M"),
])
def test_redhat_grubby_gets_every_word_in_one_args(tmp_path, planned, args):
    write(tmp_path, rpm.RedHatHost.crashkernel_file, rpm.crashkernel_file_content(planned).encode())
    module = RecordingModule()
    rpm.RedHatHost(module, root=str(tmp_path)).update_bootloader()
    assert module.calls == [["grubby", "--update-kernel=ALL", "--remove-args=crashkernel", args]]


@pytest.mark.parametrize("args, expected", [
    ("ro crashkernel=128M crashkernel=512M,cma rhgb", True),
    ("ro crashkernel=128M rhgb", False),
    ("ro crashkernel=512M,cma crashkernel=128M rhgb", False),  # not what grubby --args wrote
])
def test_redhat_boot_entries_check(args, expected):
    info = f'index=0\nkernel="/boot/vmlinuz-6.17.7-300.fc43.x86_64"\nargs="{args}"\n'
    module = RecordingModule({"grubby --info=ALL": (0, info, "")})
    assert rpm.RedHatHost(module).bootloader_has("128M 512M,cma") is expected


def test_rpm_crashkernel_file_round_trip(tmp_path):
    path = str(tmp_path / "crashkernel")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(rpm.crashkernel_file_content("128M 512M,cma"))
    assert 'CRASHKERNEL="128M 512M,cma"\n' in open(path, encoding="utf-8").read()
    assert rpm.written_crashkernel(open(path, encoding="utf-8").read()) == "128M 512M,cma"
    with open(path, "w", encoding="utf-8") as handle:  # as written before values were quoted
        handle.write("CRASHKERNEL=192M\n")
    assert rpm.written_crashkernel(open(path, encoding="utf-8").read()) == "192M"


def test_redhat_facts_take_both_words_of_the_crashkernel_file_as_ours(tmp_path):
    write(tmp_path, rpm.RedHatHost.crashkernel_file, rpm.crashkernel_file_content("128M 512M,cma").encode())
    host = host_at(tmp_path)
    grubby = {"bootloader": "128M 512M,cma", "bootloader_source": "grubby --info=DEFAULT"}
    assert _facts.foreign_crashkernel_conflict(host, "redhat", grubby) is None
    grubby["bootloader"] = "128M 512M,cma 256M"
    assert _facts.foreign_crashkernel_conflict(host, "redhat", grubby) == (
        "crashkernel=256M on the next boot's command line (grubby --info=DEFAULT) comes from elsewhere: the kdump "
        "role set crashkernel=128M crashkernel=512M,cma (/etc/crashdump-kdump/crashkernel)")
