"""The Debian capture script (roles/kdump/files/debian-capture.sh), run by dash with stub
commands: every stub records its argv, and the script sees only the stubs and a few real
file tools (a command it was not expected to run fails with "not found")."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = str(Path(__file__).resolve().parents[2] / "roles" / "kdump" / "files" / "debian-capture.sh")
STAMP = "202612011200"  # what the date stub prints for +%Y%m%d%H%M
NOW = "2026-12-01T12:00:07Z"
GIB = 1 << 30
DASH = shutil.which("dash") or "/bin/dash"
KEY, KNOWN = "/etc/crashdump-kdump/id_ed25519", "/etc/crashdump-kdump/known_hosts"
SSH_OPTIONS = ["-i", KEY, "-p", "2222", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
               "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={KNOWN}",
               "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
               "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "kdump@dumps.example.org"]
REAL_TOOLS = ("mkdir", "mv", "rm", "find", "sort", "head", "tail", "stat", "cat", "chmod", "touch", "sed")
AWKS = {"mawk": ["mawk"], "gawk": ["gawk"], "busybox": ["busybox", "awk"]}


def log_argv(name='${0##*/}'):
    """A stub's first line: its name and argv as one line of the shared log, in ONE write, so
    that stubs running at once (the ends of a pipeline) cannot interleave their lines."""
    return f'line={name}; for a in "$@"; do line="$line\x1f$a"; done; printf \'%s\\n\' "$line" >>"$STUB_LOG"\n'


RECORD = log_argv()
STUBS = {
    "makedumpfile": """
case $1 in
--dump-dmesg) printf 'dmesg of %s\\n' "$2" >"$3" ;;
-R) cat >"$2" ;;
*)
    if [ -n "${STUB_MEM_LOW:-}" ]; then  # the capture kernel's memory while the dump is written
        sed "s/^MemAvailable:.*/MemAvailable: $STUB_MEM_LOW kB/" "$STUB_MEMINFO" >"$STUB_MEMINFO.new"
        mv "$STUB_MEMINFO.new" "$STUB_MEMINFO"; /usr/bin/sleep 2
        sed "s/^MemAvailable:.*/MemAvailable: 150000 kB/" "$STUB_MEMINFO" >"$STUB_MEMINFO.new"
        mv "$STUB_MEMINFO.new" "$STUB_MEMINFO"
    fi
    printf 'makedumpfile-stream\\n'
    exit "${STUB_MAKEDUMPFILE_RC:-0}" ;;
esac
""",
    "ssh": """
shift 21  # the options and the destination (asserted through the log)
case " ${STUB_SSH_HANG:-} " in *" $1 "*) echo $$ >>"$STUB_DIR/hung.pids"; exec /usr/bin/sleep 300 ;; esac
case " ${STUB_SSH_FAIL:-} " in *" $1 "*) exit 1 ;; esac
[ "$1" = put ] && cat >"$STUB_DIR/server/$2.$3"
exit 0
""",
    "mount": """
[ -z "${STUB_MOUNT_HANG:-}" ] || { echo $$ >>"$STUB_DIR/hung.pids"; exec /usr/bin/sleep 300; }
exit "${STUB_MOUNT_RC:-0}"
""",
    "umount": "exit 0\n",
    "mountpoint": 'exit "${STUB_MOUNTPOINT_RC:-0}"\n',
    "df": 'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\n'
          'echo "/dev/vda1 200000000 1000 $STUB_DF_AVAIL_KIB 1% /"\n',
    "kdump-config": """
[ "${STUB_SAVECORE_RC:-0}" = 0 ] || exit "$STUB_SAVECORE_RC"
mkdir -p "$STUB_COREDIR/202612011200" && echo dump >"$STUB_COREDIR/202612011200/dump.202612011200"
""",
    "date": 'case $1 in -u) echo 2026-12-01T12:00:07Z ;; *) echo 202612011200 ;; esac\n',
    "sleep": "",  # retries wait 5 s: recorded and skipped
    "sync": "", "reboot": "", "halt": "", "poweroff": "", "systemctl": "",
}


def sandbox_tools(bin_dir):
    """The real commands the script may use, and stubs (argv recorded) for the rest."""
    for tool in REAL_TOOLS:
        os.symlink(shutil.which(tool), bin_dir / tool)
    for name, body in STUBS.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + RECORD + body)
    # The sampler's 0.3 s waits are real and not recorded; retries' whole seconds are skipped.
    (bin_dir / "sleep").write_text('#!/bin/sh\ncase $1 in *.*) exec /usr/bin/sleep "$1" ;; esac\n' + RECORD)
    (bin_dir / "timeout").write_text("#!/bin/sh\n" + RECORD + f'exec {shutil.which("timeout")} "$@"\n')
    for path in bin_dir.iterdir():
        path.chmod(0o755)


class Capture:
    """One host's capture environment in tmp_path: configuration, state, stubs, fake server."""

    def __init__(self, tmp_path, target="local", awk="gawk", **conf):
        self.root = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        sandbox_tools(self.bin)
        self.use_awk(awk)
        self.state = tmp_path / "state"
        self.coredir = tmp_path / "crash"
        self.rootfs_dir = tmp_path / "rootfs-crash"
        (tmp_path / "server").mkdir()
        self.vmcore = tmp_path / "vmcore"
        self.vmcore.write_text("ELF core of the crashed kernel\n")
        self.sysctls = tmp_path / "sysctl"
        self.sysctls.mkdir()
        self.meminfo = tmp_path / "meminfo"
        self.meminfo.write_text("MemTotal:         181024 kB\nMemFree:          160000 kB\n"
                                "MemAvailable:     150000 kB\nBuffers:            1000 kB\n")
        (tmp_path / "kdump-tools").write_text(
            f'USE_KDUMP=1\nKDUMP_COREDIR="{self.coredir}"\nKDUMP_DUMP_DMESG=1\nMAKEDUMP_ARGS="-F -c -d 31"\n')
        settings = {"CRASHDUMP_TARGET": target, "CRASHDUMP_HOST": "web01", "CRASHDUMP_ON_SUCCESS": "reboot",
                    "CRASHDUMP_ON_FAILURE": "reboot", "CRASHDUMP_ROOTFS_DIR": str(self.rootfs_dir),
                    "CRASHDUMP_MIN_FREE": str(GIB), "CRASHDUMP_KEEP": "3",
                    "CRASHDUMP_SSH_DEST": "kdump@dumps.example.org", "CRASHDUMP_SSH_PORT": "2222",
                    "CRASHDUMP_SSH_KEY": KEY, "CRASHDUMP_SSH_KNOWN_HOSTS": KNOWN,
                    "CRASHDUMP_NFS_EXPORT": "nfs.example.org:/srv/crash", "CRASHDUMP_NFS_DIR": "/dumps/",
                    "CRASHDUMP_MOUNT": str(tmp_path / "target"), "CRASHDUMP_RAW_DEVICE": str(tmp_path / "notablock")}
        settings.update(conf)
        (tmp_path / "capture.conf").write_text("".join(f'{k}="{v}"\n' for k, v in settings.items()))
        self.env = {"PATH": str(self.bin), "CRASHDUMP_PATH": str(self.bin), "STUB_LOG": str(tmp_path / "calls"),
                    "STUB_DIR": str(tmp_path), "STUB_COREDIR": str(self.coredir), "STUB_MEMINFO": str(self.meminfo),
                    "STUB_DF_AVAIL_KIB": str(80 * GIB // 1024),
                    "CRASHDUMP_STATE_DIR": str(self.state), "CRASHDUMP_VMCORE": str(self.vmcore),
                    "CRASHDUMP_MEMINFO": str(self.meminfo), "CRASHDUMP_CONF": str(tmp_path / "capture.conf"),
                    "CRASHDUMP_SYSCTL_DIR": str(self.sysctls),
                    "CRASHDUMP_KDUMP_DEFAULTS": str(tmp_path / "kdump-tools")}

    def use_awk(self, name):
        real = [shutil.which(AWKS[name][0])] + AWKS[name][1:]
        (self.bin / "awk").write_text("#!/bin/sh\n" + log_argv(f"{name}-awk")
                                      + f'exec {" ".join(real)} "$@"\n')
        (self.bin / "awk").chmod(0o755)

    def run(self, *args, **stubs):
        env = dict(self.env, **stubs)
        return subprocess.run([DASH, SCRIPT, *args], env=env, capture_output=True, text=True, timeout=120)

    def calls(self, *names):
        log = self.root / "calls"
        lines = log.read_text().splitlines() if log.exists() else []
        calls = [line.split("\x1f") for line in lines]
        return [c for c in calls if not names or c[0] in names]

    def record(self):
        text = (self.state / "last-capture").read_text()
        return dict(line.split("=", 1) for line in text.splitlines())


def saved(location, target="local", result="saved", detail=""):
    """A last-capture record, with the memory figures of the default fake /proc/meminfo."""
    return {"result": result, "location": location, "detail": detail, "target": target, "stamp": STAMP,
            "time": NOW, "mem_total_kib": "181024", "mem_available_min_kib": "150000"}


def ssh(*command):
    return ["ssh", *SSH_OPTIONS, *command]


def test_local_save_uses_savecore_then_reboots(tmp_path):
    cap = Capture(tmp_path)
    result = cap.run()
    assert result.returncode == 0, result.stderr
    dump = f"{cap.coredir}/{STAMP}/dump.{STAMP}"
    assert cap.calls("df", "kdump-config", "reboot", "halt", "poweroff", "systemctl") == [
        ["df", "-P", "-k", str(cap.coredir)], ["kdump-config", "savecore"], ["reboot", "-f"]]
    assert cap.record() == saved(dump)
    assert sorted(os.listdir(cap.state)) == ["last-capture"]  # the scratch directory is gone


def test_local_retention_removes_the_oldest_dumps(tmp_path):
    cap = Capture(tmp_path, CRASHDUMP_KEEP="2")
    for old in ("202601010000", "202602010000"):
        (cap.coredir / old).mkdir(parents=True)
    (cap.coredir / "lost+found").mkdir()
    assert cap.run().returncode == 0
    assert sorted(os.listdir(cap.coredir)) == ["202602010000", STAMP, "lost+found"]


def test_ssh_save_puts_commits_and_prunes(tmp_path):
    cap = Capture(tmp_path, target="ssh")
    result = cap.run()
    assert result.returncode == 0, result.stderr
    calls = cap.calls("ssh", "makedumpfile", "reboot")
    assert calls[:4] == [
        ssh("check", str(GIB)),
        ["makedumpfile", "--dump-dmesg", str(cap.vmcore), f"{cap.state}/work/dmesg"],
        ssh("put", STAMP, "dmesg"), ssh("commit", STAMP, "dmesg")]
    # the two ends of one pipeline start in either order
    assert sorted(calls[4:6]) == sorted([["makedumpfile", "-F", "-c", "-d", "31", str(cap.vmcore)],
                                         ssh("put", STAMP, "dump")])
    assert calls[6:] == [ssh("commit", STAMP, "dump"), ssh("prune", "3"), ["reboot", "-f"]]
    assert (tmp_path / "server" / f"{STAMP}.dump").read_text() == "makedumpfile-stream\n"
    assert (tmp_path / "server" / f"{STAMP}.dmesg").read_text() == f"dmesg of {cap.vmcore}\n"
    assert cap.record() == saved(f"kdump@dumps.example.org:web01/{STAMP}", target="ssh")


def test_ssh_keep_0_does_not_prune_and_no_dmesg_when_off(tmp_path):
    cap = Capture(tmp_path, target="ssh", CRASHDUMP_KEEP="0")
    defaults = tmp_path / "kdump-tools"
    defaults.write_text(defaults.read_text().replace("KDUMP_DUMP_DMESG=1", "KDUMP_DUMP_DMESG=0"))
    assert cap.run().returncode == 0
    assert [c[len(SSH_OPTIONS) + 1:] for c in cap.calls("ssh")] == [
        ["check", str(GIB)], ["put", STAMP, "dump"], ["commit", STAMP, "dump"]]


def test_ssh_retries_an_unreachable_server_then_takes_on_failure(tmp_path):
    cap = Capture(tmp_path, target="ssh", CRASHDUMP_ON_FAILURE="poweroff")
    cap.run(STUB_SSH_FAIL="check")
    assert cap.calls("ssh", "sleep", "poweroff") == [
        ssh("check", str(GIB)), ["sleep", "5"], ssh("check", str(GIB)), ["sleep", "5"], ssh("check", str(GIB)),
        ["sleep", "5"], ssh("check", str(GIB)), ["sleep", "5"], ssh("check", str(GIB)), ["poweroff", "-f"]]
    assert cap.record() == saved("", target="ssh", result="failed", detail="the ssh target failed")


def test_ssh_failed_makedumpfile_is_never_committed(tmp_path):
    cap = Capture(tmp_path, target="ssh", CRASHDUMP_ON_FAILURE="dump_to_rootfs")
    cap.run(STUB_MAKEDUMPFILE_RC="1")
    commands = [c[len(SSH_OPTIONS) + 1:] for c in cap.calls("ssh")]
    assert ["put", STAMP, "dump"] in commands
    assert ["commit", STAMP, "dump"] not in commands and ["prune", "3"] not in commands
    # makedumpfile "fails" in the fallback too (same stub): the host reboots with a failed record
    assert cap.record()["result"] == "failed"
    assert cap.calls("reboot") == [["reboot", "-f"]]


def test_nfs_save_mounts_writes_and_unmounts(tmp_path):
    cap = Capture(tmp_path, target="nfs", CRASHDUMP_KEEP="1")
    old = cap.state / "nfs" / "dumps" / "web01" / "202601010000"
    old.mkdir(parents=True)
    result = cap.run()
    assert result.returncode == 0, result.stderr
    mount = str(cap.state / "nfs")
    host_dir = f"{mount}/dumps/web01"
    assert cap.calls("mount", "umount", "df", "makedumpfile", "reboot") == [
        ["mount", "-t", "nfs", "-o", "tcp,soft,timeo=100,retrans=3,nolock", "nfs.example.org:/srv/crash", mount],
        ["df", "-P", "-k", host_dir],
        ["makedumpfile", "--dump-dmesg", str(cap.vmcore), f"{host_dir}/{STAMP}/dmesg.{STAMP}"],
        ["makedumpfile", "-F", "-c", "-d", "31", str(cap.vmcore)],
        ["umount", mount],
        ["reboot", "-f"]]
    assert (Path(host_dir) / STAMP / f"dump.{STAMP}").read_text() == "makedumpfile-stream\n"
    assert os.stat(host_dir).st_mode & 0o777 == 0o700
    assert not old.exists()  # keep 1
    assert cap.record() == saved(f"nfs.example.org:/srv/crash/dumps/web01/{STAMP}", target="nfs")


def available_awks():
    return [pytest.param(name, marks=pytest.mark.skipif(not shutil.which(AWKS[name][0]),
                                                        reason=f"{AWKS[name][0]} is not installed"))
            for name in AWKS]


@pytest.mark.parametrize("awk", available_awks())
@pytest.mark.parametrize("free_kib, min_free, refused", [
    (80 * GIB // 1024, 100 * GIB, True),   # 77 GiB free: mawk printed 8.58993e+10 bytes here
    (80 * GIB // 1024, 1 * GIB, False),
    (GIB // 1024, GIB, False),             # exactly min_free
    (GIB // 1024 - 1, GIB, True),
    (GIB // 1024, GIB + 1, True),          # min_free is rounded up to whole KiB
    (4 * 1024 ** 3, 4 * 1024 ** 4, False),  # 4 TiB free (KiB above 2^31), min_free 4 TiB
])
def test_min_free_is_compared_exactly_with_every_awk(tmp_path, awk, free_kib, min_free, refused):
    cap = Capture(tmp_path, awk=awk, CRASHDUMP_MIN_FREE=str(min_free))
    result = cap.run(STUB_DF_AVAIL_KIB=str(free_kib))
    assert cap.calls(f"{awk}-awk") == [[f"{awk}-awk", "NR == 2 { print $4 }"]]
    assert "Illegal number" not in result.stderr
    assert (["kdump-config", "savecore"] in cap.calls()) is not refused
    assert cap.record()["result"] == ("failed" if refused else "saved")
    if refused:
        assert f"not enough space in {cap.coredir}: {free_kib} KiB free, min_free is {min_free} bytes" in result.stdout


def test_min_free_refuses_when_df_gives_no_number(tmp_path):
    cap = Capture(tmp_path)
    cap.run(STUB_DF_AVAIL_KIB="-")
    assert ["kdump-config", "savecore"] not in cap.calls()
    assert cap.record()["result"] == "failed"


def dead(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.mark.parametrize("target, stall", [("ssh", {"STUB_SSH_HANG": "put"}), ("nfs", {"STUB_MOUNT_HANG": "1"})])
def test_a_stalled_remote_target_is_stopped_within_the_limit(tmp_path, target, stall):
    cap = Capture(tmp_path, target=target, CRASHDUMP_ON_FAILURE="dump_to_rootfs", CRASHDUMP_REMOTE_TIMEOUT="2")
    start = time.monotonic()
    result = cap.run(**stall)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert 2 <= elapsed < 30
    assert cap.calls("timeout")[0] == ["timeout", "-k", "10", "2", "/bin/sh", SCRIPT, f"send-{target}"]
    assert f"send-{target} stopped: not done after 2 s" in result.stdout
    pids = (tmp_path / "hung.pids").read_text().split()
    assert pids and all(dead(pid) for pid in pids)  # the whole process group was stopped
    dump = f"{cap.rootfs_dir}/{STAMP}/dump.{STAMP}"
    assert Path(dump).read_text() == "makedumpfile-stream\n"
    assert cap.record() == saved(dump, target=target, result="saved_to_rootfs",
                                 detail=f"the {target} target failed")
    assert cap.calls("reboot") == [["reboot", "-f"]]
    if target == "nfs":
        assert ["umount", "-l", str(cap.state / "nfs")] in cap.calls("umount")


@pytest.mark.parametrize("vmcore_size, limit", [(0, 600), (8 * GIB, 600 + 1024), (64 * GIB + 1, 600 + 8192)])
def test_default_remote_limit_grows_with_the_crashed_kernels_memory(tmp_path, vmcore_size, limit):
    cap = Capture(tmp_path, target="ssh")
    with open(cap.vmcore, "r+b") as handle:
        handle.truncate(vmcore_size or 1)  # sparse
    cap.run()
    assert cap.calls("timeout") == [["timeout", "-k", "10", str(limit), "/bin/sh", SCRIPT, "send-ssh"]]


@pytest.mark.parametrize("on_failure, action", [
    ("reboot", ["reboot", "-f"]), ("halt", ["halt", "-f"]), ("poweroff", ["poweroff", "-f"]),
    ("shell", ["systemctl", "--no-block", "emergency"]),
])
def test_on_failure_action(tmp_path, on_failure, action):
    cap = Capture(tmp_path, CRASHDUMP_ON_FAILURE=on_failure, CRASHDUMP_ON_SUCCESS="halt")
    result = cap.run(STUB_SAVECORE_RC="1")
    assert result.returncode == 0
    assert cap.calls("reboot", "halt", "poweroff", "systemctl") == [action]
    assert cap.calls("makedumpfile") == []  # no fallback dump
    assert cap.record() == saved("", result="failed", detail="the local target failed")


def test_on_failure_dump_to_rootfs_saves_there_then_takes_on_success(tmp_path):
    cap = Capture(tmp_path, CRASHDUMP_ON_FAILURE="dump_to_rootfs", CRASHDUMP_ON_SUCCESS="poweroff")
    cap.run(STUB_SAVECORE_RC="1")
    dump = f"{cap.rootfs_dir}/{STAMP}/dump.{STAMP}"
    assert cap.calls("df", "makedumpfile", "reboot", "halt", "poweroff") == [
        ["df", "-P", "-k", str(cap.coredir)],
        ["df", "-P", "-k", str(cap.rootfs_dir)],
        ["makedumpfile", "--dump-dmesg", str(cap.vmcore), f"{cap.rootfs_dir}/{STAMP}/dmesg.{STAMP}"],
        ["makedumpfile", "-F", "-c", "-d", "31", str(cap.vmcore)],
        ["poweroff", "-f"]]
    assert Path(dump).read_text() == "makedumpfile-stream\n"
    assert cap.record() == saved(dump, result="saved_to_rootfs", detail="the local target failed")


@pytest.mark.parametrize("on_success, action", [
    ("reboot", ["reboot", "-f"]), ("halt", ["halt", "-f"]), ("poweroff", ["poweroff", "-f"])])
def test_on_success_action(tmp_path, on_success, action):
    cap = Capture(tmp_path, CRASHDUMP_ON_SUCCESS=on_success, CRASHDUMP_ON_FAILURE="shell")
    assert cap.run().returncode == 0
    assert cap.calls("reboot", "halt", "poweroff", "systemctl") == [action]


def test_the_record_keeps_the_lowest_memavailable_seen_during_the_dump(tmp_path):
    cap = Capture(tmp_path, target="ssh")
    cap.run(STUB_MEM_LOW="41000")  # makedumpfile holds MemAvailable at 41000 kB for 2 s
    assert cap.record() == dict(saved(f"kdump@dumps.example.org:web01/{STAMP}", target="ssh"),
                                mem_available_min_kib="41000")


def test_the_record_waits_for_a_sample_being_written(tmp_path):
    cap = Capture(tmp_path, target="ssh")
    # The sampler's move of its new lowest still runs 3 s after the dump is done.
    (cap.bin / "mv").unlink()
    (cap.bin / "mv").write_text(f'#!/bin/sh\ncase $1 in "{cap.state}"/work/*) /usr/bin/sleep 3 ;; esac\n'
                                f'exec {shutil.which("mv")} "$@"\n')
    (cap.bin / "mv").chmod(0o755)
    cap.run(STUB_MEM_LOW="41000")
    assert cap.record()["mem_available_min_kib"] == "41000"
    assert sorted(os.listdir(cap.state)) == ["last-capture"]


def test_no_memory_figures_without_meminfo(tmp_path):
    cap = Capture(tmp_path)
    cap.meminfo.unlink()
    assert cap.run().returncode == 0
    record = cap.record()
    assert "mem_total_kib" not in record and "mem_available_min_kib" not in record
    assert record["result"] == "saved"


@pytest.mark.parametrize("target, stubs, rc, calls", [
    ("local", {}, 0, []),
    ("device", {}, 0, [["mountpoint", "-q", "{root}/target"]]),
    ("device", {"STUB_MOUNTPOINT_RC": "1"}, 1, [["mountpoint", "-q", "{root}/target"]]),
    ("raw", {}, 1, []),  # a regular file is no block device
    ("ssh", {}, 0, [ssh("check")]),
    ("ssh", {"STUB_SSH_FAIL": "check"}, 1, [ssh("check")]),
])
def test_check(tmp_path, target, stubs, rc, calls):
    cap = Capture(tmp_path, target=target)
    result = cap.run("check", **stubs)
    assert result.returncode == rc
    expected = [[arg.format(root=tmp_path) for arg in call] for call in calls]
    assert cap.calls("mountpoint", "ssh", "mount", "umount") == expected
    assert cap.calls("timeout") == [["timeout", "-k", "10", "300", "/bin/sh", SCRIPT, "check-target"]]
    assert not (cap.state / "last-capture").exists()  # a check is no capture
    if target == "raw":
        assert f"no block device {tmp_path}/notablock" in result.stderr


def test_check_nfs_mounts_writes_and_unmounts(tmp_path):
    cap = Capture(tmp_path, target="nfs")
    result = cap.run("check")
    assert result.returncode == 0, result.stdout + result.stderr
    mount = str(cap.state / "nfs")
    assert cap.calls("mount", "umount") == [
        ["mount", "-t", "nfs", "-o", "tcp,soft,timeo=100,retrans=3,nolock", "nfs.example.org:/srv/crash", mount],
        ["umount", mount]]
    host_dir = cap.state / "nfs" / "dumps" / "web01"
    assert os.stat(host_dir).st_mode & 0o777 == 0o700 and os.listdir(host_dir) == []


def test_check_nfs_unmountable_fails_after_retries(tmp_path):
    cap = Capture(tmp_path, target="nfs")
    result = cap.run("check", STUB_MOUNT_RC="32")
    assert result.returncode == 1
    assert [c[0] for c in cap.calls("mount", "sleep", "umount")] == [
        "mount", "sleep", "mount", "sleep", "mount", "sleep", "mount", "umount"]
    assert cap.calls("umount") == [["umount", "-l", str(cap.state / "nfs")]]
    assert "cannot mount nfs.example.org:/srv/crash" in result.stdout


def test_unknown_subcommand(tmp_path):
    result = Capture(tmp_path).run("frobnicate")
    assert result.returncode == 2 and "usage:" in result.stderr


def test_the_capture_turns_off_the_panics_a_slow_save_would_trigger(tmp_path):
    """kdump_policy.panic_on's sysctl file applies in the capture boot too (the same root
    filesystem): a save slower than the hung-task or soft-lockup limit must not panic it."""
    cap = Capture(tmp_path)
    for trigger in ("hung_task_panic", "softlockup_panic", "panic_on_oops"):
        (cap.sysctls / trigger).write_text("1\n")
    cap.run("capture")
    assert cap.record()["result"] == "saved"
    assert {p.name: p.read_text() for p in cap.sysctls.iterdir()} == {
        "hung_task_panic": "0\n", "softlockup_panic": "0\n", "panic_on_oops": "1\n"}
