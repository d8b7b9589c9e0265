"""Check mode predicts exactly what the run does: for each family's host backend, every
combination of (kdump enabled in the plan × capture kernel loaded × memory reserved as planned ×
native configuration changed × bootloader already set as planned, i.e. a reboot pending when the
reservation is not × service enabled as planned) is applied twice, on two identical fake hosts:
in check mode on one, for real on the other. The prediction must equal the real result, and
check mode must leave its host byte for byte as it was and run no command that changes anything.

The fake hosts keep all their state in files below their root, in the formats the real tools
use: the kernel's /sys/kernel/kexec_crash_* files, systemd's enablement symlinks, GRUB's menu,
grubby's Boot Loader Spec entries. Their commands change that state as the real tools do:
kdump-config load and systemctl restart kdump set kexec_crash_loaded (and fail without a
reservation), update-grub and grub2-mkconfig regenerate the menu from /etc/default/grub (and
Debian's grub.d drop-ins), sourced by sh, grubby rewrites the entries' options, systemctl
disable --now stops the service, which unloads the capture kernel.

The Applier is kdump_config's; it is imported from there (re-point APPLIER if it moves).
"""

from __future__ import annotations

import glob
import itertools
import os
import re
import shlex
import stat
import subprocess

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import HOST_BACKENDS
from ansible_collections.crashdump.kdump.plugins.modules.kdump_config import Applier as APPLIER

HERE = os.path.dirname(__file__)
MIB = 1 << 20
PLANNED, PLANNED_BYTES = "192M", 192 * MIB
RELEASE = {"debian": "6.1.0-28-amd64", "redhat": "5.14.0-427.13.1.el9_4.x86_64", "suse": "6.4.0-150600.23.7-default"}
SERVICE = {"debian": "kdump-tools", "redhat": "kdump", "suse": "kdump"}
CONFIG = {"debian": "/etc/default/kdump-tools", "redhat": "/etc/kdump.conf", "suse": "/etc/sysconfig/kdump"}
WANTS = "/etc/systemd/system/multi-user.target.wants/{}.service"
DUMP_DIR = "/var/crash"
# What each family's host has for crashkernel= before the role ever ran.
DISTRIBUTION_DEFAULT = {"debian": "384M-:128M", "redhat": "1G-4G:192M,4G-64G:256M,64G-:512M",
                        "suse": "219M,high 72M,low"}
DEBIAN_DROPIN = "/etc/default/grub.d/zz-crashdump-kdump.cfg"
RPM_CRASHKERNEL_FILE = "/etc/crashdump-kdump/crashkernel"
BLS_ENTRY = "/boot/loader/entries/0f1b6e4c8e1d4b7e9c2f5a3b1d6e8f90-{}.conf"
# Commands that only read: the only ones check mode may run.
READ_ONLY = (("systemctl", "is-active"), ("grubby", "--info=ALL"),
             ("grubby", "--info=DEFAULT"), ("findmnt",), ("journalctl",))


def fixture(*parts):
    with open(os.path.join(HERE, "fixtures", *parts), encoding="utf-8") as handle:
        return handle.read()


def words(values):
    return " ".join(f"crashkernel={value}" for value in (values or "").split())


def config_text(family, enabled, old):
    """The native configuration as planned, or as the host had it before (old)."""
    level = 1 if old else 31
    return {"debian": f'USE_KDUMP={int(enabled)}\nKDUMP_COREDIR="{DUMP_DIR}"\nMAKEDUMP_ARGS="-c -d {level}"\n',
            "redhat": f"path {DUMP_DIR}\ncore_collector makedumpfile -l --message-level 7 -d {level}\n",
            "suse": f'KDUMP_SAVEDIR="file://{DUMP_DIR}"\nKDUMP_DUMPLEVEL="{level}"\n'}[family]


def make_plan(family, enabled):
    return {"family": family, "enabled": enabled, "service": SERVICE[family],
            "crashkernel": PLANNED if enabled else None,
            "files": [{"path": CONFIG[family], "content": config_text(family, enabled, old=False), "mode": "0644"}],
            "directories": [{"path": DUMP_DIR, "mode": "0700"}],
            "mounts": [], "obsolete_files": [], "sysctls": {}}


class FakeHost:
    """One family's host below ``root``, in the state a case describes."""

    def __init__(self, family, root, case):
        self.family, self.root = family, str(root)
        planned = PLANNED if case["enabled"] else None
        running = planned if case["reserved"] else (None if case["enabled"] else PLANNED)
        self.write("/proc/cmdline", f"BOOT_IMAGE=/boot/vmlinuz-{RELEASE[family]} root=UUID=1 ro quiet"
                   + (f" {words(running)}" if running else "") + "\n")
        self.write("/proc/sys/kernel/osrelease", RELEASE[family] + "\n")
        self.write("/sys/kernel/kexec_crash_size", f"{PLANNED_BYTES if running else 0}\n")
        self.write("/sys/kernel/kexec_crash_loaded", "1\n" if case["loaded"] else "0\n")
        self.write(CONFIG[family], config_text(family, case["enabled"], old=case["config_changed"]))
        os.makedirs(self.path(DUMP_DIR), mode=0o700)
        os.chmod(self.path(DUMP_DIR), 0o700)
        if family == "debian" and case["loaded"]:  # a loaded capture kernel had its initrd built
            self.write(f"/var/lib/kdump/initrd.img-{RELEASE[family]}", "initrd")
        if case["enabled"] == case["service_as_planned"]:
            self.set_enabled(True)
        next_boot = planned if case["bootloader_as_planned"] else DISTRIBUTION_DEFAULT[family]
        getattr(self, f"boot_{family}")(next_boot, ours=case["bootloader_as_planned"])

    # --- files ------------------------------------------------------------------------------

    def path(self, host_path):
        return os.path.join(self.root, host_path.lstrip("/"))

    def write(self, host_path, content, mode=0o644):
        path = self.path(host_path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(path, mode)

    def read(self, host_path):
        with open(self.path(host_path), encoding="utf-8") as handle:
            return handle.read()

    def state(self):
        """Every directory and file below the root: mode, and content or link target."""
        found = {}
        for directory, dirs, names in os.walk(self.root):
            for name in dirs + names:
                path = os.path.join(directory, name)
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    found[path] = ("link", os.readlink(path))
                elif stat.S_ISDIR(info.st_mode):
                    found[path] = ("dir", stat.S_IMODE(info.st_mode))
                else:
                    with open(path, "rb") as handle:
                        found[path] = (handle.read(), stat.S_IMODE(info.st_mode))
        return found

    def loaded(self):
        return self.read("/sys/kernel/kexec_crash_loaded").strip() == "1"

    def set_loaded(self, loaded):
        self.write("/sys/kernel/kexec_crash_loaded", "1\n" if loaded else "0\n")

    # --- bootloaders, as each family's tools keep them ------------------------------------------

    def boot_debian(self, crashkernel, ours):
        self.write("/etc/default/grub", 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
                                        'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"\n')
        # kdump-tools' own drop-in (kdump-tools 1:1.8.1)
        self.write("/etc/default/grub.d/kdump-tools.cfg",
                   f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {words(DISTRIBUTION_DEFAULT["debian"])}"\n')
        if ours:
            self.write(DEBIAN_DROPIN, HOST_BACKENDS["debian"].grub_dropin_content(crashkernel))
        self.update_grub(["update-grub"])

    def update_grub(self, args):
        """grub-mkconfig: /etc/default/grub, then /etc/default/grub.d/*.cfg, sourced in order;
        10_linux gives the first entry GRUB_CMDLINE_LINUX then GRUB_CMDLINE_LINUX_DEFAULT."""
        sources = [self.path("/etc/default/grub")] + sorted(glob.glob(self.path("/etc/default/grub.d/*.cfg")))
        cmdline = self.sourced(sources)
        text = re.sub(r"^(\tlinux\t\S+ root=UUID=\S+ ro ).*$", lambda m: m.group(1) + cmdline,
                      fixture("facts", "grub.cfg.debian12"), count=1, flags=re.M)
        self.write("/boot/grub/grub.cfg", text)
        return 0, "", ""

    def boot_suse(self, crashkernel, ours):
        default = fixture("host", "default-grub.sles15").replace(
            f' {words(DISTRIBUTION_DEFAULT["suse"])}"', f' {words(crashkernel)}"' if crashkernel else '"')
        self.write("/etc/default/grub", default)
        self.grub2_mkconfig(["grub2-mkconfig", "-o", self.path("/boot/grub2/grub.cfg")])

    def grub2_mkconfig(self, args):
        assert args[1:] == ["-o", self.path("/boot/grub2/grub.cfg")], args
        cmdline = self.sourced([self.path("/etc/default/grub")])
        text = re.sub(r"^(\tlinuxefi\t\S+ root=UUID=\S+ \$\{extra_cmdline\}  ).*$", lambda m: m.group(1) + cmdline,
                      fixture("host", "grub.cfg.sles15"), count=1, flags=re.M)
        self.write("/boot/grub2/grub.cfg", text)
        return 0, "", ""

    @staticmethod
    def sourced(paths):
        script = "".join(f". {shlex.quote(path)}; " for path in paths)
        out = subprocess.run(["sh", "-c", script + 'printf "%s %s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"'],
                             check=True, capture_output=True, text=True).stdout
        return " ".join(out.split())

    def boot_redhat(self, crashkernel, ours):
        if ours:
            self.write(RPM_CRASHKERNEL_FILE, '# Managed by crashdump.kdump from kdump_policy: local changes are '
                                             f'overwritten.\nCRASHKERNEL="{crashkernel or ""}"\n')
        for release in (RELEASE["redhat"], "0-rescue"):
            self.write(BLS_ENTRY.format(release),
                       f"title Red Hat Enterprise Linux ({release}) 9.4 (Plow)\nversion {release}\n"
                       f"linux /vmlinuz-{release}\ninitrd /initramfs-{release}.img\n"
                       f"options root=/dev/mapper/rhel-root ro {words(crashkernel)} rd.lvm.lv=rhel/root\n"
                       "grub_users $grub_users\ngrub_arg --unrestricted\ngrub_class rhel\n")

    def grubby(self, args):
        """grubby-bls: --info prints each entry (every value quoted); --update-kernel=ALL edits
        every entry's options line."""
        entries = sorted(glob.glob(self.path(BLS_ENTRY.format("*"))), reverse=True)
        if args[1] in ("--info=ALL", "--info=DEFAULT"):
            out = []
            for index, path in enumerate(entries[:1] if args[1] == "--info=DEFAULT" else entries):
                fields = dict(line.split(" ", 1) for line in open(path, encoding="utf-8").read().splitlines())
                options = fields["options"].split()
                out += [f"index={index}", f'kernel="/boot{fields["linux"]}"',
                        f'args="{" ".join(o for o in options if not o.startswith("root="))}"',
                        f'root="{options[0].split("=", 1)[1]}"', f'initrd="/boot{fields["initrd"]}"',
                        f'title="{fields["title"]}"', f'id="{os.path.basename(path)[:-5]}"']
            return 0, "\n".join(out) + "\n", ""
        assert args[1:3] == ["--update-kernel=ALL", "--remove-args=crashkernel"], args
        add = args[3].split("=", 1)[1].split() if len(args) > 3 else []
        for path in entries:
            text = open(path, encoding="utf-8").read()
            options = re.search(r"^options (.*)$", text, re.M).group(1).split()
            kept = [o for o in options if not o.startswith("crashkernel=")] + add
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(re.sub(r"^options .*$", "options " + " ".join(kept), text, flags=re.M))
        return 0, "", ""

    # --- services and the capture kernel ----------------------------------------------------------

    def service_enabled(self):
        """What gather reads of the service before the run."""
        return os.path.lexists(self.path(WANTS.format(SERVICE[self.family])))

    def set_enabled(self, enabled):
        link = self.path(WANTS.format(SERVICE[self.family]))
        if enabled:
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(f"/usr/lib/systemd/system/{SERVICE[self.family]}.service", link)
        elif os.path.lexists(link):
            os.unlink(link)

    def reserved(self):
        return int(self.read("/sys/kernel/kexec_crash_size"))

    def load(self):
        if not self.reserved():
            return 1, "", "No memory reserved for crash kernel"
        self.set_loaded(True)
        return 0, "", ""

    def systemctl(self, args):
        verb, unit = args[1], args[-1].removesuffix(".service")
        assert unit == SERVICE[self.family], args
        enabled = os.path.lexists(self.path(WANTS.format(unit)))
        if verb == "enable":
            if not enabled:
                self.set_enabled(True)
            return 0, "", ""
        if verb == "disable":
            assert args[2] == "--now", args
            self.set_enabled(False)
            self.set_loaded(False)  # the unit's ExecStop unloads (kdump-config unload, kdumpctl stop)
            return 0, "", ""
        if verb == "restart":
            return self.load()
        if verb == "stop":
            self.set_loaded(False)
            return 0, "", ""
        raise AssertionError(f"unexpected {args}")

    def kdump_config(self, args):
        if args[1] == "symlinks":  # kdump_create_symlinks: builds the capture initrd when it is missing
            self.write(f"/var/lib/kdump/initrd.img-{args[2]}", "initrd")
            return 0, "", ""
        if args[1] in ("load", "reload"):
            return self.load()
        if args[1] == "unload":
            self.set_loaded(False)
            return 0, "", ""
        raise AssertionError(f"unexpected {args}")

    def handlers(self):
        return {"systemctl": self.systemctl, "kdump-config": self.kdump_config, "update-grub": self.update_grub,
                "grub2-mkconfig": self.grub2_mkconfig, "grubby": self.grubby,
                "journalctl": lambda args: (0, "", "")}


class StatefulModule:
    """The part of AnsibleModule the Applier and the host backends use; every argv recorded."""

    def __init__(self, host, check_mode):
        self.host, self.check_mode, self.calls = host, check_mode, []

    def run_command(self, args, environ_update=None):
        assert environ_update == {"LC_ALL": "C", "LANG": "C"}, args
        self.calls.append(list(args))
        return self.host.handlers()[args[0]](list(args))

    def get_bin_path(self, name, opt_dirs=None):
        return name  # every tool installed, run by the name the argv assertions use

    def add_cleanup_file(self, path):
        pass

    def atomic_move(self, src, dest):
        if os.path.exists(dest):
            os.chmod(src, stat.S_IMODE(os.stat(dest).st_mode))
        os.replace(src, dest)


AXES = ("enabled", "loaded", "reserved", "config_changed", "bootloader_as_planned", "service_as_planned")


def possible(case):
    """A capture kernel cannot be loaded without a reservation."""
    reserved_bytes = case["reserved"] if case["enabled"] else not case["reserved"]
    return reserved_bytes or not case["loaded"]


CASES = [case for case in (dict(zip(AXES, values)) for values in itertools.product((True, False), repeat=len(AXES)))
         if possible(case)]


def case_id(case):
    return "-".join(("" if value else "not_") + axis for axis, value in case.items())


def run(host, plan, check_mode):
    module = StatefulModule(host, check_mode)
    result = APPLIER(module, plan, HOST_BACKENDS[host.family](module, root=host.root), host.service_enabled()).apply()
    return result, module.calls


def mutating(calls):
    return [argv for argv in calls if not any(tuple(argv[:len(ro)]) == ro for ro in READ_ONLY)]


def check_and_run(tmp_path, family, case):
    """(prediction, check mode's commands, the check mode host before and after, real result)."""
    plan = make_plan(family, case["enabled"])
    checked, real = FakeHost(family, tmp_path / "checked", case), FakeHost(family, tmp_path / "real", case)
    before = checked.state()
    assert before.keys() == {p.replace("/real/", "/checked/", 1) for p in real.state()}
    prediction, check_calls = run(checked, plan, check_mode=True)
    result, dummy = run(real, plan, check_mode=False)
    return prediction, check_calls, (before, checked.state()), result


def loads_or_unloads(case):
    """Whether the real run changes kexec_crash_loaded: it loads when kdump is on, memory is
    reserved and nothing is loaded; it unloads when kdump is off and something is loaded."""
    return (case["enabled"] and case["reserved"] and not case["loaded"]) or (not case["enabled"] and case["loaded"])


@pytest.mark.parametrize("family", sorted(HOST_BACKENDS))
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_check_mode_predicts_the_run(tmp_path, family, case):
    """Everything kdump_config returns but ``loaded`` (next test): changed, changed_files, diff,
    reboot_required, crashkernel_running, reserved_bytes."""
    prediction, check_calls, (before, after), result = check_and_run(tmp_path, family, case)
    prediction.pop("loaded")  # the next test
    result.pop("loaded")
    assert prediction == result
    assert after == before, "check mode changed the host"
    assert mutating(check_calls) == [], "check mode ran a command that changes the host"


@pytest.mark.parametrize("family", sorted(HOST_BACKENDS))
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_check_mode_predicts_loaded(tmp_path, family, case):
    prediction, dummy, dummy, result = check_and_run(tmp_path, family, case)
    assert result["loaded"] is (case["loaded"] != loads_or_unloads(case))  # the fake host did what was asked
    assert prediction["loaded"] is result["loaded"]


@pytest.mark.parametrize("family", sorted(HOST_BACKENDS))
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_run_leaves_nothing_to_do(tmp_path, family, case):
    """After one real run a second one changes nothing, and its check mode says so."""
    plan = make_plan(family, case["enabled"])
    host = FakeHost(family, tmp_path / "root", case)
    first, dummy = run(host, plan, check_mode=False)
    again, calls = run(host, plan, check_mode=False)
    assert again["changed"] is False and again["changed_files"] == [] and mutating(calls) == []
    assert {key: again[key] for key in ("reboot_required", "loaded")} == \
        {key: first[key] for key in ("reboot_required", "loaded")}
