"""kdump_config on a fake Debian host: a directory standing in for / (kernel state in /proc and
/sys included) and a fake command runner that records every argv. What is checked: the GRUB
drop-in as grub-mkconfig sources it; what a run writes, runs and reports; check mode's
predictions against the real run; OS errors as one message; rollback of content and mode, and
a failed rollback said as such."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import tempfile

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _hostcommon
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import DebianHost
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import effective_crashkernel
from ansible_collections.crashdump.kdump.plugins.modules import kdump_config

PACKAGE_DROPIN = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n'
RELEASE = "6.1.0-28-amd64"
CONFIG = "/etc/default/kdump-tools"
CAPTURE_CONF = "/etc/crashdump-kdump/capture.conf"
DROPIN = "/etc/default/grub.d/zz-crashdump-kdump.cfg"
KNOWN_HOSTS = "/etc/crashdump-kdump/known_hosts"
MOUNT_UNIT = "/etc/systemd/system/var-lib-crashdump\\x2dkdump-target.mount"
DUMP_UNIT_DROPIN = "/etc/systemd/system/kdump-tools-dump.service.d/crashdump-kdump.conf"
MIB = 1 << 20

CHECK = ["/usr/lib/crashdump-kdump/capture", "check"]
LOAD, RELOAD, UNLOAD = ["kdump-config", "load"], ["kdump-config", "reload"], ["kdump-config", "unload"]


def sourced_cmdline(tmp_path, crashkernel, linux="console=ttyS0 crashkernel=64M", default="quiet"):
    """Source /etc/default/grub, the package's drop-in, then ours, in grub-mkconfig's order."""
    (tmp_path / "kdump-tools.cfg").write_text(PACKAGE_DROPIN)
    (tmp_path / "zz-crashdump-kdump.cfg").write_text(DebianHost.grub_dropin_content(crashkernel))
    script = (f'GRUB_CMDLINE_LINUX="{linux}"; GRUB_CMDLINE_LINUX_DEFAULT="{default}"; '
              f'for x in {tmp_path}/*.cfg; do . "$x"; done; '
              'printf "%s|%s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"')
    out = subprocess.run(["sh", "-c", script], check=True, capture_output=True, text=True).stdout
    return out.split("|")


def test_dropin_leaves_exactly_our_crashkernel(tmp_path):
    linux, default = sourced_cmdline(tmp_path, "192M")
    assert linux == "console=ttyS0"
    assert default == "quiet crashkernel=192M"


def test_dropin_without_crashkernel_removes_every_reservation(tmp_path):
    linux, default = sourced_cmdline(tmp_path, None)
    assert "crashkernel" not in linux + default
    assert default == "quiet"


@pytest.mark.parametrize("cmdline, expected", [
    ("BOOT_IMAGE=/vmlinuz ro crashkernel=192M quiet", "192M"),
    ("ro crashkernel=384M-:128M crashkernel=256M", "256M"),  # the kernel takes the last one
    ("ro quiet", None),
    ("", None),
])
def test_effective_crashkernel(cmdline, expected):
    assert effective_crashkernel(cmdline) == expected


class FakeModule:
    """Just enough of AnsibleModule: run_command answers from ``responses`` (argv joined by
    spaces: (rc, out, err), or a callable for side effects) and records every argv."""

    def __init__(self, check_mode=False, responses=None):
        self.check_mode = check_mode
        self.responses = responses or {}
        self.calls = []
        self.cleanup_files = []

    def run_command(self, args, environ_update=None):
        assert environ_update == {"LC_ALL": "C", "LANG": "C"}
        self.calls.append(list(args))
        response = self.responses.get(" ".join(args), (0, "", ""))
        return response() if callable(response) else response

    def get_bin_path(self, name, opt_dirs=None):
        return name  # every tool installed, run by the name the argv assertions use

    def add_cleanup_file(self, path):
        self.cleanup_files.append(path)

    def atomic_move(self, src, dest):
        """As AnsibleModule's: an existing file's mode is kept, a new file gets the umask's."""
        if os.path.exists(dest):
            os.chmod(src, stat.S_IMODE(os.stat(dest).st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(src, 0o666 & ~umask)
        os.replace(src, dest)


class FakeHost:
    """A Debian host below tmp_path/root; compliant with plan() unless told otherwise."""

    def __init__(self, tmp_path, *, enabled=True, loaded=True, reserved=192 * MIB, cmdline_crashkernel="192M",
                 initrd=True, service_enabled=True, files=None):
        self.root = tmp_path / "root"
        crashkernel = "192M" if enabled else None
        self.write("/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz ro quiet"
                   + (f" crashkernel={cmdline_crashkernel}" if cmdline_crashkernel else "") + "\n")
        self.write("/proc/sys/kernel/osrelease", RELEASE + "\n")
        self.set_loaded(loaded)
        self.write("/sys/kernel/kexec_crash_size", f"{reserved}\n")
        self.write("/boot/grub/grub.cfg", "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-6.1 root=UUID=x ro quiet"
                   + (f" crashkernel={crashkernel}" if crashkernel else "") + "\n}\n")
        self.write("/usr/lib/crashdump-kdump/capture", "#!/bin/sh\n", 0o755)
        if initrd:
            self.write(f"/var/lib/kdump/initrd.img-{RELEASE}", "initrd")
        self.write(DROPIN, DebianHost.grub_dropin_content(crashkernel))
        for path, (content, mode) in (files if files is not None else plan_files(enabled)).items():
            self.write(path, content, mode)
        (self.root / "var" / "crash").mkdir(parents=True, exist_ok=True)
        (self.root / "var" / "crash").chmod(0o700)
        self.service_enabled = service_enabled
        self.responses = {"kdump-config load": self.loads, "kdump-config reload": self.loads,
                          "kdump-config unload": lambda: self.set_loaded(False) or (0, "", "")}

    def path(self, host_path):
        return self.root / host_path.lstrip("/")

    def write(self, host_path, content, mode=0o644):
        path = self.path(host_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(mode)

    def read(self, host_path):
        return self.path(host_path).read_text()

    def mode(self, host_path):
        return stat.S_IMODE(os.stat(self.path(host_path)).st_mode)

    def set_loaded(self, loaded):
        self.write("/sys/kernel/kexec_crash_loaded", "1\n" if loaded else "0\n")

    def loads(self):
        self.set_loaded(True)
        return 0, "", ""

    def fails_to_load(self):
        self.set_loaded(False)  # reload unloads first
        return 1, "", "kexec_file_load failed: Cannot allocate memory"

    def state(self):
        """Every file below the root: path, content, mode."""
        found = {}
        for directory, dummy, names in os.walk(self.root):
            for name in names:
                path = os.path.join(directory, name)
                with open(path, "rb") as handle:
                    found[path] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
        return found

    def applier(self, plan_, check_mode=False, **responses):
        module = FakeModule(check_mode, dict(self.responses, **responses))
        return kdump_config.Applier(module, plan_, DebianHost(module, root=str(self.root)), self.service_enabled), module


def plan_files(enabled=True):
    return {CONFIG: (f"USE_KDUMP={int(enabled)}\nKDUMP_COREDIR=\"/var/crash\"\n", 0o644),
            CAPTURE_CONF: ('CRASHDUMP_TARGET="local"\n', 0o644)}


def plan(enabled=True, files=None, **more):
    planned = {"family": "debian", "enabled": enabled, "service": "kdump-tools",
               "crashkernel": "192M" if enabled else None,
               "files": [{"path": path, "content": content, "mode": f"{mode:04o}"}
                         for path, (content, mode) in (files or plan_files(enabled)).items()],
               "obsolete_files": [KNOWN_HOSTS, MOUNT_UNIT],
               "directories": [{"path": "/var/crash", "mode": "0700"}], "mounts": []}
    planned.update(more)
    return planned


@pytest.mark.parametrize("target, files_changed, checked", [
    ("local", False, False), ("local", True, False),  # nothing to reach
    ("ssh", False, False),  # the Enforcer's probe, in the same run, was this check
    ("ssh", True, True),  # the written files are proven
    ("nfs", False, True), ("device", False, True), ("raw", False, True),
])
def test_the_capture_scripts_check_runs_where_it_proves_something(tmp_path, target, files_changed, checked):
    host = FakeHost(tmp_path)
    files = dict(plan_files(), **{CONFIG: ("USE_KDUMP=1\nNEW=1\n", 0o644)}) if files_changed else None
    applier, module = host.applier(plan(files=files, target=target))
    applier.apply()
    assert (CHECK in module.calls) is checked


def test_compliant_host_changes_nothing(tmp_path):
    host = FakeHost(tmp_path)
    before = host.state()
    applier, module = host.applier(plan())
    result = applier.apply()
    assert module.calls == [CHECK]
    assert result == {"changed": False, "changed_files": [], "reboot_required": False, "loaded": True,
                      "crashkernel_running": "192M", "reserved_bytes": 192 * MIB, "diff": []}
    assert host.state() == before


def test_a_config_change_is_written_then_reloaded(tmp_path):
    host = FakeHost(tmp_path)
    applier, module = host.applier(plan(files=dict(plan_files(), **{CONFIG: ("USE_KDUMP=1\nNEW=1\n", 0o644)})))
    result = applier.apply()
    assert module.calls == [CHECK, RELOAD]
    assert host.read(CONFIG) == "USE_KDUMP=1\nNEW=1\n" and host.mode(CONFIG) == 0o644
    assert result["changed"] and result["changed_files"] == [CONFIG] and result["loaded"]
    assert result["diff"] == [{"before_header": CONFIG, "after_header": CONFIG,
                               "before": 'USE_KDUMP=1\nKDUMP_COREDIR="/var/crash"\n', "after": "USE_KDUMP=1\nNEW=1\n"}]
    assert [os.path.dirname(p) for p in module.cleanup_files] == [str(host.path("/etc/default"))]
    assert sorted(os.listdir(host.path("/etc/default"))) == ["grub.d", "kdump-tools"]  # no temp file left


def test_a_mode_only_change_is_written(tmp_path):
    host = FakeHost(tmp_path)
    host.path(CONFIG).chmod(0o600)
    applier, module = host.applier(plan())
    result = applier.apply()
    assert host.mode(CONFIG) == 0o644
    assert result["changed_files"] == [CONFIG]
    assert module.calls == [CHECK, RELOAD]


def test_a_new_file_gets_the_planned_mode_not_the_umask(tmp_path):
    host = FakeHost(tmp_path)
    script = "/usr/lib/crashdump-kdump/capture"
    applier, dummy = host.applier(plan(files=dict(plan_files(), **{script: ("#!/bin/sh\nexit 0\n", 0o755)})))
    host.path(script).unlink()
    applier.apply()
    assert host.mode(script) == 0o755


def test_obsolete_files_are_removed_and_a_mount_unmounted_first(tmp_path):
    host = FakeHost(tmp_path)
    host.write(KNOWN_HOSTS, "dumps.example.org ssh-ed25519 AAAA\n")
    host.write(MOUNT_UNIT, "[Mount]\nWhat=/dev/vdb\n")
    applier, module = host.applier(plan())
    result = applier.apply()
    assert module.calls == [["systemctl", "stop", "var-lib-crashdump\\x2dkdump-target.mount"],
                            ["systemctl", "daemon-reload"], CHECK, RELOAD]
    assert not host.path(KNOWN_HOSTS).exists() and not host.path(MOUNT_UNIT).exists()
    assert result["changed_files"] == [KNOWN_HOSTS, MOUNT_UNIT]
    assert [(d["before_header"], d["after_header"], d["after"]) for d in result["diff"]] == [
        (KNOWN_HOSTS, "(removed)", ""), (MOUNT_UNIT, "(removed)", "")]


def test_changed_units_are_reloaded_and_mounts_started(tmp_path):
    host = FakeHost(tmp_path)
    unit = "var-lib-crashdump\\x2dkdump-target.mount"
    files = dict(plan_files(), **{DUMP_UNIT_DROPIN: ("[Service]\nUMask=0077\n", 0o644)})
    applier, module = host.applier(plan(files=files, mounts=[unit]),
                                   **{f"systemctl is-active --quiet {unit}": (3, "", "")})
    applier.apply()
    assert module.calls == [["systemctl", "daemon-reload"], ["systemctl", "is-active", "--quiet", unit],
                            ["systemctl", "start", unit], CHECK, RELOAD]


def test_directories_get_their_mode(tmp_path):
    host = FakeHost(tmp_path)
    host.path("/var/crash").chmod(0o755)
    applier, dummy = host.applier(plan(directories=[{"path": "/var/crash", "mode": "0700"},
                                                    {"path": "/srv/new/crash", "mode": "0700"}]))
    result = applier.apply()
    assert host.mode("/var/crash") == 0o700 and host.mode("/srv/new/crash") == 0o700
    assert result["changed_files"] == ["/var/crash", "/srv/new/crash"]


def test_prepare_builds_the_capture_initrd_and_records_the_sysctls(tmp_path):
    host = FakeHost(tmp_path, initrd=False, loaded=False, reserved=0, cmdline_crashkernel=None)
    host.write("/etc/kdump/sysctl.conf", "kernel.panic = 1\n")
    applier, module = host.applier(plan())
    result = applier.apply()
    assert module.calls == [CHECK, ["kdump-config", "symlinks", RELEASE]]
    assert host.read(f"/var/lib/kdump/latest_sysctls-{RELEASE}") == "kernel.panic = 1\n"
    assert result["changed"] and result["reboot_required"] and not result["loaded"]


# (case, host state, argv of the real run, changed, reboot_required): check mode must predict
# the real run's changed and reboot_required, and run none of its commands.
PREDICTIONS = [
    ("loaded, nothing changed", {}, plan(), [CHECK], False, False),
    ("not loaded", {"loaded": False}, plan(), [CHECK, LOAD], True, False),
    ("awaiting the reboot: no reservation yet", {"loaded": False, "reserved": 0, "cmdline_crashkernel": None},
     plan(), [CHECK], False, True),
    ("awaiting the reboot, initrd to build",
     {"loaded": False, "reserved": 0, "cmdline_crashkernel": None, "initrd": False},
     plan(), [CHECK, ["kdump-config", "symlinks", RELEASE]], True, True),
    ("config changed while loaded", {"files": dict(plan_files(), **{CONFIG: ("OLD=1\n", 0o644)})},
     plan(), [CHECK, RELOAD], True, False),
    ("disabled but still loaded", {"enabled": False, "service_enabled": False, "cmdline_crashkernel": None},
     plan(enabled=False), [UNLOAD], True, False),
    ("disabled and unloaded", {"enabled": False, "service_enabled": False, "loaded": False,
                               "cmdline_crashkernel": None}, plan(enabled=False), [], False, False),
    ("disabled, service still enabled", {"enabled": False, "loaded": False, "cmdline_crashkernel": None},
     plan(enabled=False), [["systemctl", "disable", "--now", "kdump-tools"]], True, False),
]


@pytest.mark.parametrize("case, state, plan_, real_calls, changed, reboot", PREDICTIONS,
                         ids=[p[0] for p in PREDICTIONS])
def test_check_mode_predicts_the_real_run(tmp_path, case, state, plan_, real_calls, changed, reboot):
    checked = FakeHost(tmp_path / "checked", **state)
    before = checked.state()
    applier, module = checked.applier(plan_, check_mode=True)
    predicted = applier.apply()
    assert checked.state() == before
    assert module.calls == []  # the service state comes from gather: check mode runs no command here

    real = FakeHost(tmp_path / "real", **state)
    applier, module = real.applier(plan_)
    result = applier.apply()
    assert module.calls == real_calls
    assert (result["changed"], result["reboot_required"]) == (changed, reboot)
    assert {k: predicted[k] for k in ("changed", "changed_files", "reboot_required", "diff")} == \
        {k: result[k] for k in ("changed", "changed_files", "reboot_required", "diff")}


def test_a_load_failure_puts_content_and_mode_back_and_reloads_them(tmp_path):
    host = FakeHost(tmp_path)
    host.path(CONFIG).chmod(0o640)
    old = host.read(CONFIG)
    applier, module = host.applier(plan(files=dict(plan_files(), **{CONFIG: ("USE_KDUMP=1\nBAD=1\n", 0o644)})),
                                   **{"kdump-config reload": host.fails_to_load})
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == ("kdump-config reload failed (rc=1): kexec_file_load failed: Cannot allocate memory\n"
                                 f"The previous files were put back: {CONFIG}.")
    assert module.calls == [CHECK, RELOAD, LOAD]
    assert host.read(CONFIG) == old and host.mode(CONFIG) == 0o640
    assert host.read("/sys/kernel/kexec_crash_loaded") == "1\n"


def test_a_mode_only_change_is_rolled_back(tmp_path):
    host = FakeHost(tmp_path)
    host.path(CONFIG).chmod(0o600)
    applier, module = host.applier(plan(), **{"kdump-config reload": host.fails_to_load})
    with pytest.raises(_hostcommon.BackendError, match="The previous files were put back: /etc/default/kdump-tools"):
        applier.apply()
    assert host.mode(CONFIG) == 0o600


def test_a_new_file_is_removed_by_the_rollback(tmp_path):
    host = FakeHost(tmp_path, loaded=False)
    files = dict(plan_files(), **{KNOWN_HOSTS: ("dumps ssh-ed25519 AAAA\n", 0o644)})
    applier, module = host.applier(plan(files=files, obsolete_files=[]),
                                   **{"kdump-config load": host.fails_to_load})
    with pytest.raises(_hostcommon.BackendError, match=f"put back: {KNOWN_HOSTS}"):
        applier.apply()
    assert not host.path(KNOWN_HOSTS).exists()
    assert module.calls == [CHECK, LOAD]  # nothing was loaded before: nothing to reload


def test_an_unreachable_target_puts_the_previous_files_back_without_reloading(tmp_path):
    host = FakeHost(tmp_path)
    old = host.read(CONFIG)
    applier, module = host.applier(plan(files=dict(plan_files(), **{CONFIG: ("SSH=kdump@gone\n", 0o644)})),
                                   **{"/usr/lib/crashdump-kdump/capture check": (1, "", "dump server unreachable")})
    with pytest.raises(_hostcommon.BackendError, match="capture check failed .rc=1.: dump server unreachable"):
        applier.apply()
    assert host.read(CONFIG) == old
    assert module.calls == [CHECK]  # the loaded capture kernel was never touched


def test_a_failed_reload_during_the_rollback_is_reported(tmp_path):
    host = FakeHost(tmp_path)
    applier, module = host.applier(plan(files=dict(plan_files(), **{CONFIG: ("BAD=1\n", 0o644)})),
                                   **{"kdump-config reload": host.fails_to_load,
                                      "kdump-config load": (1, "", "no memory reserved")})
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == (
        "kdump-config reload failed (rc=1): kexec_file_load failed: Cannot allocate memory\n"
        "The rollback failed too (every file was put back); the previous kdump configuration may not be loaded:\n"
        "reloading the previous configuration failed: kdump-config load failed (rc=1): no memory reserved")
    assert module.calls == [CHECK, RELOAD, LOAD]


def test_a_new_reservation_updates_grub_and_the_rollback_updates_it_again(tmp_path):
    host = FakeHost(tmp_path)
    old_dropin = host.read(DROPIN)
    applier, module = host.applier(dict(plan(), crashkernel="256M"), **{"kdump-config reload": host.fails_to_load})
    with pytest.raises(_hostcommon.BackendError, match=f"put back: {DROPIN}"):
        applier.apply()
    assert module.calls == [CHECK, ["update-grub"], RELOAD, ["update-grub"], LOAD]
    assert host.read(DROPIN) == old_dropin


def test_a_new_reservation_is_reported_until_the_reboot(tmp_path):
    host = FakeHost(tmp_path)
    applier, module = host.applier(dict(plan(), crashkernel="256M"))
    result = applier.apply()
    assert module.calls == [CHECK, ["update-grub"], RELOAD]
    assert 'crashkernel=256M"' in host.read(DROPIN)
    assert result["reboot_required"] and result["crashkernel_running"] == "192M"
    assert result["changed_files"] == [DROPIN]


class Faults:
    """OS errors for paths below one directory, injected into the os and tempfile functions
    the host side calls (root can write anywhere, so permissions cannot make them)."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def add(self, module, name, prefix, code, path_of=lambda args: args[0]):
        real = getattr(module, name)

        def failing(*args, **kwargs):
            if str(path_of(args) if args else kwargs.get("dir")).startswith(str(prefix)):
                raise OSError(code, os.strerror(code), str(path_of(args) if args else kwargs.get("dir")))
            return real(*args, **kwargs)
        self.monkeypatch.setattr(module, name, failing)


@pytest.fixture
def faults(monkeypatch):
    return Faults(monkeypatch)


def fd_path(args):
    return os.readlink(f"/proc/self/fd/{args[0]}")


def test_read_only_etc_fails_with_the_file_and_changes_nothing(tmp_path, faults):
    host = FakeHost(tmp_path)
    before = host.state()
    faults.add(tempfile, "mkstemp", host.path("/etc"), errno.EROFS)
    applier, module = host.applier(plan(files=dict(plan_files(), **{CONFIG: ("NEW=1\n", 0o644)})))
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == (f"cannot create a temporary file for {host.path(CONFIG)}: Read-only file system")
    assert module.calls == [] and host.state() == before


def test_no_space_on_the_second_file_puts_the_first_back(tmp_path, faults):
    host = FakeHost(tmp_path)
    old = host.read(CONFIG)
    faults.add(os, "fsync", host.path("/etc/crashdump-kdump/.crashdump-kdump-"), errno.ENOSPC, path_of=fd_path)
    applier, module = host.applier(plan(files={CONFIG: ("NEW=1\n", 0o644), CAPTURE_CONF: ("NEW=2\n", 0o644)}))
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == (f"cannot write {host.path(CAPTURE_CONF)}: No space left on device\n"
                                 f"The previous files were put back: {CONFIG}.")
    assert host.read(CONFIG) == old and host.read(CAPTURE_CONF) == 'CRASHDUMP_TARGET="local"\n'
    assert module.calls == []


def test_a_file_that_cannot_be_removed_is_named(tmp_path, faults):
    host = FakeHost(tmp_path)
    host.write(KNOWN_HOSTS, "dumps.example.org ssh-ed25519 AAAA\n")
    faults.add(os, "unlink", host.path(KNOWN_HOSTS), errno.EACCES)
    applier, module = host.applier(plan(files=dict(plan_files(), **{CONFIG: ("NEW=1\n", 0o644)})))
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == (f"cannot remove {host.path(KNOWN_HOSTS)}: Permission denied\n"
                                 f"The previous files were put back: {CONFIG}.")
    assert host.path(KNOWN_HOSTS).exists()


@pytest.mark.parametrize("function, message", [
    ("makedirs", "cannot create the directory {path}: Permission denied"),
    ("chmod", "cannot set the mode of the directory {path}: Permission denied"),
])
def test_a_directory_that_cannot_be_made_is_named(tmp_path, faults, function, message):
    host = FakeHost(tmp_path)
    faults.add(os, function, host.path("/srv/crash"), errno.EACCES)
    applier, module = host.applier(plan(directories=[{"path": "/srv/crash", "mode": "0700"}]))
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == message.format(path=host.path("/srv/crash"))


def test_a_chmod_refused_after_the_rename_is_named_and_rolled_back(tmp_path, faults):
    host = FakeHost(tmp_path)
    old = host.read(CONFIG)
    faults.add(os, "chmod", host.path(CONFIG), errno.EPERM)
    applier, dummy = host.applier(plan(files=dict(plan_files(), **{CONFIG: ("NEW=1\n", 0o600)})))
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    # the rollback writes the old content back; the old mode is the one atomic_move keeps
    assert str(raised.value).startswith(f"cannot set the mode of {host.path(CONFIG)}: Operation not permitted\n")
    assert "The rollback failed too (left as this run wrote them: /etc/default/kdump-tools)" in str(raised.value)
    assert host.read(CONFIG) == old


def test_a_failed_rollback_names_the_files_left(tmp_path, faults):
    host = FakeHost(tmp_path)

    def read_only_after_the_failure():
        faults.add(tempfile, "mkstemp", host.path("/etc"), errno.EROFS)
        return host.fails_to_load()
    files = {CONFIG: ("NEW=1\n", 0o644), CAPTURE_CONF: ("NEW=2\n", 0o644)}
    applier, module = host.applier(plan(files=files), **{"kdump-config reload": read_only_after_the_failure})
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == (
        "kdump-config reload failed (rc=1): kexec_file_load failed: Cannot allocate memory\n"
        f"The rollback failed too (left as this run wrote them: {CONFIG}, {CAPTURE_CONF}); "
        "the previous kdump configuration may not be loaded:\n"
        f"cannot create a temporary file for {host.path(CONFIG)}: Read-only file system\n"
        f"cannot create a temporary file for {host.path(CAPTURE_CONF)}: Read-only file system")
    assert host.read(CONFIG) == "NEW=1\n"
    assert module.calls == [CHECK, RELOAD, LOAD]  # the reload is still tried


class ExitJson(Exception):
    pass


def test_main_turns_an_os_error_into_one_failure_message(tmp_path, faults, monkeypatch):
    host = FakeHost(tmp_path)
    faults.add(tempfile, "mkstemp", host.path("/etc"), errno.EROFS)
    outcome = {}

    class Module(FakeModule):
        _diff = False
        params = {}

        def __init__(self, argument_spec, supports_check_mode, **kwargs):
            super().__init__(responses=host.responses)

        def fail_json(self, **kwargs):
            outcome["failed"] = kwargs
            raise ExitJson

        def exit_json(self, **kwargs):
            outcome["exit"] = kwargs
            raise ExitJson

    class Enforcer:
        """The host read and planned: the plan below, applied through main()'s host backend."""

        def __init__(self, module, reader, host_backend):
            self.module, self.host_backend = module, host_backend

        def run(self):
            planned = plan(files={CONFIG: ("NEW=1\n", 0o644)})
            return kdump_config.Applier(self.module, planned, self.host_backend("debian"), True).apply()
    monkeypatch.setattr(kdump_config, "AnsibleModule", Module)
    monkeypatch.setattr(kdump_config, "Enforcer", Enforcer)
    monkeypatch.setattr(kdump_config, "ROOT", str(host.root))
    with pytest.raises(ExitJson):
        kdump_config.main()
    assert outcome == {"failed": {"msg": f"cannot create a temporary file for {host.path(CONFIG)}: "
                                         "Read-only file system"}}


# --- panic triggers: the sysctl.d file and the running kernel ------------------------------------

SYSCTL_FILE = "/etc/sysctl.d/zz-crashdump-kdump.conf"
SYSCTL_TEXT = "# Managed by crashdump.kdump\nkernel.panic_on_oops = 1\nkernel.softlockup_panic = 0\n"
OOPS, SOFT, HARD = ("/proc/sys/kernel/panic_on_oops", "/proc/sys/kernel/softlockup_panic",
                    "/proc/sys/kernel/hardlockup_panic")


def panic_plan(**more):
    """plan() plus the sysctl file and the live values the planner makes of oops: true, soft_lockup: false."""
    files = dict(plan_files(), **{SYSCTL_FILE: (SYSCTL_TEXT, 0o644)}, **more.pop("files", {}))
    return plan(files=files, **dict({"sysctls": {"kernel.panic_on_oops": 1, "kernel.softlockup_panic": 0}}, **more))


def panic_host(tmp_path, oops="0\n", soft="1\n", file_written=False, **state):
    host = FakeHost(tmp_path, **state)
    host.write(OOPS, oops)
    host.write(SOFT, soft)
    host.write(HARD, "0\n")
    if file_written:
        host.write(SYSCTL_FILE, SYSCTL_TEXT)
    return host


def test_panic_triggers_are_written_and_set_on_the_running_kernel_without_a_reload(tmp_path):
    host = panic_host(tmp_path)
    applier, module = host.applier(panic_plan())
    result = applier.apply()
    assert module.calls == [CHECK]  # the capture kernel does not read sysctl.d: no reload
    assert host.read(SYSCTL_FILE) == SYSCTL_TEXT and host.mode(SYSCTL_FILE) == 0o644
    assert (host.read(OOPS), host.read(SOFT), host.read(HARD)) == ("1\n", "0\n", "0\n")
    assert result["changed"] and result["changed_files"] == [SYSCTL_FILE, OOPS, SOFT]
    assert result["diff"][1:] == [
        {"before_header": OOPS, "after_header": OOPS, "before": "0\n", "after": "1\n"},
        {"before_header": SOFT, "after_header": SOFT, "before": "1\n", "after": "0\n"}]


def test_a_running_value_changed_by_hand_is_set_again(tmp_path):
    host = panic_host(tmp_path, oops="1\n", soft="1\n", file_written=True)  # sysctl -w kernel.softlockup_panic=1
    applier, module = host.applier(panic_plan())
    result = applier.apply()
    assert host.read(SOFT) == "0\n"
    assert result["changed"] and result["changed_files"] == [SOFT] and module.calls == [CHECK]


def test_panic_triggers_as_planned_change_nothing(tmp_path):
    host = panic_host(tmp_path, oops="1\n", soft="0\n", file_written=True)
    before = host.state()
    applier, module = host.applier(panic_plan())
    result = applier.apply()
    assert not result["changed"] and result["changed_files"] == [] and host.state() == before


def test_check_mode_predicts_the_panic_triggers(tmp_path):
    checked = panic_host(tmp_path / "checked")
    before = checked.state()
    predicted = checked.applier(panic_plan(), check_mode=True)[0].apply()
    assert checked.state() == before
    real = panic_host(tmp_path / "real")
    result = real.applier(panic_plan())[0].apply()
    assert {k: predicted[k] for k in ("changed", "changed_files", "diff")} == \
        {k: result[k] for k in ("changed", "changed_files", "diff")}


def test_our_sysctl_file_is_removed_when_the_policy_sets_no_trigger(tmp_path):
    host = panic_host(tmp_path, oops="1\n", file_written=True)
    applier, module = host.applier(plan(obsolete_files=[KNOWN_HOSTS, MOUNT_UNIT, SYSCTL_FILE], sysctls={}))
    result = applier.apply()
    assert not host.path(SYSCTL_FILE).exists() and host.read(OOPS) == "1\n"  # null leaves the kernel alone
    assert result["changed_files"] == [SYSCTL_FILE] and module.calls == [CHECK]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_trigger_the_kernel_lacks_fails_clearly_before_anything_changes(tmp_path, check_mode):
    host = panic_host(tmp_path)
    host.path(HARD).unlink()
    before = host.state()
    applier, module = host.applier(panic_plan(sysctls={"kernel.panic_on_oops": 1, "kernel.hardlockup_panic": 1}),
                                   check_mode=check_mode)
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    message = ("cannot set kernel.hardlockup_panic: this kernel has no kernel.hardlockup_panic "
               "(/proc/sys/kernel/hardlockup_panic does not exist: it needs CONFIG_HARDLOCKUP_DETECTOR, the NMI "
               "watchdog)")
    assert str(raised.value) == message  # found before anything is written: nothing to put back
    assert host.state() == before
    assert module.calls == []


def test_a_load_failure_puts_the_running_kernel_values_back_too(tmp_path):
    host = panic_host(tmp_path)
    files = {CONFIG: ("USE_KDUMP=1\nNEW=1\n", 0o644)}
    applier, module = host.applier(panic_plan(files=files), **{"kdump-config reload": host.fails_to_load})
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value).endswith(
        f"\nThe previous files were put back: {CONFIG}, {SYSCTL_FILE}.\n"
        "The running kernel's previous values were put back: kernel.panic_on_oops = 0, kernel.softlockup_panic = 1.")
    assert (host.read(OOPS), host.read(SOFT)) == ("0\n", "1\n")
    assert not host.path(SYSCTL_FILE).exists()
    assert module.calls == [CHECK, RELOAD, LOAD]


def test_a_running_value_that_cannot_be_set_names_it(tmp_path, faults):
    host = panic_host(tmp_path, file_written=True)
    faults.add(os, "open", host.path(SOFT), errno.EACCES)
    applier, module = host.applier(panic_plan())
    with pytest.raises(_hostcommon.BackendError) as raised:
        applier.apply()
    assert str(raised.value) == (
        f"cannot set kernel.softlockup_panic: cannot write {host.path(SOFT)}: Permission denied\n"
        "The running kernel's previous values were put back: kernel.panic_on_oops = 0.")
    assert (host.read(OOPS), host.read(SOFT)) == ("0\n", "1\n")
