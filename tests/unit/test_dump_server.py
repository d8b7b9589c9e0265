"""The dump server's receiver (a write-only drop box per client) and enrollment script, run as
sshd would run them: as processes, with SSH_ORIGINAL_COMMAND. test_dump_server_sshd.py sends
the same through a real sshd."""

from __future__ import annotations

import base64
import importlib.machinery
import importlib.util
import json
import os
import pwd
import socket
import struct
import subprocess
import sys

import pytest

FILES = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "dump_server", "files")
RECEIVE = os.path.join(FILES, "receive")
ENROLL = os.path.join(FILES, "enroll")
STAMP = "202611280305"
QUOTA = 10 * 1024 * 1024


def flat(*buffers, end=True):
    """A flattened makedumpfile stream, laid out by hand from makedumpfile's IMPLEMENTATION
    ("The flattened format"): a 4096-byte header ("makedumpfile" padded to 16 bytes, type 1 and
    version 1 as big-endian int64), then {int64 offset, int64 buf_size} + buf_size bytes per
    buffer, then the end marker {-1, -1}."""
    stream = (b"makedumpfile\0\0\0\0" + struct.pack(">qq", 1, 1)).ljust(4096, b"\0")
    offset = 0
    for buffer in buffers:
        stream += struct.pack(">qq", offset, len(buffer)) + buffer
        offset += len(buffer)
    return stream + (struct.pack(">qq", -1, -1) if end else b"")


DUMP = flat(b"KDUMP   " + b"web01 memory" * 10, b"\xff" * 64)


def receive(client_dir, command, data=b"", quota=QUOTA):
    env = dict(os.environ, SSH_ORIGINAL_COMMAND=command)
    return subprocess.run([sys.executable, RECEIVE, "--quota", str(quota), str(client_dir)],
                          input=data, env=env, capture_output=True)


def deliver(client_dir, stamp, kind, data, quota=QUOTA):
    """put, then commit: what the capture script does when makedumpfile succeeded."""
    put = receive(client_dir, f"put {stamp} {kind}", data, quota)
    return put if put.returncode else receive(client_dir, f"commit {stamp} {kind}", quota=quota)


@pytest.fixture
def base(tmp_path):
    for client in ("web01", "db01"):
        (tmp_path / client).mkdir(mode=0o700)
    return tmp_path


def test_put_saves_private_files_in_the_clients_own_directory(base):
    saved = deliver(base / "web01", STAMP, "dump", DUMP)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.decode() == f"saved {base}/web01/{STAMP}/dump.{STAMP} {4096 + 16 + 128 + 16 + 64 + 16}\n"
    assert deliver(base / "web01", STAMP, "dmesg", b"sysrq: Trigger a crash").returncode == 0
    stamp_dir = base / "web01" / STAMP
    assert (stamp_dir / f"dump.{STAMP}").read_bytes() == DUMP
    assert oct(stamp_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((stamp_dir / f"dump.{STAMP}").stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in stamp_dir.iterdir()) == [f"dmesg.{STAMP}", f"dump.{STAMP}"]


def test_put_never_overwrites_and_refuses_empty_input(base):
    assert deliver(base / "web01", STAMP, "dump", DUMP).returncode == 0
    again = receive(base / "web01", f"put {STAMP} dump", flat(b"second"))
    assert again.returncode == 1 and b"no overwrite" in again.stderr
    assert (base / "web01" / STAMP / f"dump.{STAMP}").read_bytes() == DUMP
    assert receive(base / "web01", f"put {STAMP} dmesg", b"").returncode == 1
    assert sorted(p.name for p in (base / "web01" / STAMP).iterdir()) == [f"dump.{STAMP}"]


def test_an_uncommitted_part_is_no_dump_and_the_next_put_replaces_it(base):
    received = receive(base / "web01", f"put {STAMP} dump", flat(b"first try"))
    assert received.returncode == 0 and received.stdout.decode().startswith("received ")
    assert sorted(p.name for p in (base / "web01" / STAMP).iterdir()) == [f".dump.{STAMP}.part"]
    assert deliver(base / "web01", STAMP, "dump", DUMP).returncode == 0
    assert sorted(p.name for p in (base / "web01" / STAMP).iterdir()) == [f"dump.{STAMP}"]
    assert (base / "web01" / STAMP / f"dump.{STAMP}").read_bytes() == DUMP
    nothing = receive(base / "web01", f"commit {STAMP} dmesg")
    assert nothing.returncode == 1 and b"nothing received" in nothing.stderr


INCOMPLETE = {
    "no end marker": flat(b"KDUMP   ", b"\xff" * 64, end=False),
    "cut inside a buffer": DUMP[:4096 + 16 + 50],
    # the last 16 bytes are all 0xff, as a bitmap buffer's are: only walking the headers tells
    "cut after a buffer of 0xff": flat(b"KDUMP   ", b"\xff" * 64, end=False),
    "cut inside the end marker": DUMP[:-3],
    "bytes after the end marker": DUMP + b"x",
    "a broken data header": DUMP[:4096] + struct.pack(">qq", 0, -5) + DUMP[4096 + 16:],
    "not flattened (ELF)": b"\x7fELF" + b"\0" * 5000,
    "only the header": DUMP[:4096],
    "empty": b"",
}


@pytest.mark.parametrize("stream", INCOMPLETE.values(), ids=INCOMPLETE.keys())
def test_a_dump_stream_that_is_not_whole_is_refused_and_removed(base, stream):
    """makedumpfile failed, or the pipe broke: the server sees it, whatever the client says."""
    put = receive(base / "web01", f"put {STAMP} dump", stream)
    assert put.returncode == 1 and b"refused" in put.stderr
    assert [p.name for p in (base / "web01" / STAMP).iterdir()] == []


def test_commit_checks_the_part_again(base):
    """A part left by an earlier receiver, that did not look: commit refuses it and removes it."""
    (base / "web01" / STAMP).mkdir()
    (base / "web01" / STAMP / f".dump.{STAMP}.part").write_bytes(DUMP[:-16])
    result = receive(base / "web01", f"commit {STAMP} dump")
    assert result.returncode == 1 and b"no end marker" in result.stderr
    assert [p.name for p in (base / "web01" / STAMP).iterdir()] == []


def test_trailing_newlines_are_refused(base):
    assert receive(base / "web01", f"put '{STAMP}\n' dump", DUMP).returncode == 2
    assert receive(base / "web01", "prune '1\n'").returncode == 2
    assert list((base / "web01").iterdir()) == []


def test_the_quota_stops_a_put_and_removes_its_part(base):
    assert deliver(base / "web01", "202601010000", "dump", DUMP).returncode == 0
    quota = len(DUMP) + 8192
    over = receive(base / "web01", f"put {STAMP} dump", flat(b"y" * 9000), quota=quota)
    assert over.returncode == 1 and b"over the quota of %d bytes" % quota in over.stderr
    assert list((base / "web01" / STAMP).iterdir()) == []
    check = receive(base / "web01", "check", quota=quota)
    assert check.stdout == b"ok free=8192\n", "check reports the quota's headroom"
    assert receive(base / "web01", "check 8193", quota=quota).returncode == 1
    fits = flat(b"y" * (8192 - 4096 - 32))
    assert len(fits) == 8192 and deliver(base / "web01", STAMP, "dump", fits, quota=quota).returncode == 0
    assert receive(base / "web01", "check", quota=quota).stdout == b"ok free=0\n"


def test_a_put_that_hits_enospc_removes_its_part(base, tmp_path_factory):
    """A 1 MiB tmpfs as the client's directory, when we may mount one (root)."""
    mount = tmp_path_factory.mktemp("small")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        full = receive(mount, f"put {STAMP} dump", flat(b"z" * 2 * 1024 * 1024), quota=1 << 40)
        assert full.returncode == 1 and b"no space left" in full.stderr
        assert list((mount / STAMP).iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("command", [
    "ls", "ls /srv/crash/db01", "cat ../db01/x", "rm -rf ..", "sh -c id", "scp -f /srv/crash/db01/x",
    "scp -t /srv/crash/web01", "/usr/lib/openssh/sftp-server", "internal-sftp", "",
    f"put ../db01/{STAMP} dump", f"put {STAMP} ../../db01/x", f"put {STAMP} vmcore", f"put {STAMP} dump extra",
    "put ../../etc dump", "prune 0", "prune 1 /srv/crash/db01", "check ../db01", "get 1 dump",
    "check \u00b2", "prune \u00b2", 'put "unbalanced', f"put {STAMP}/x dump", "put 1234567 dump",
    f"commit ../db01/{STAMP} dump", f"commit {STAMP} ../../db01/x", f"commit {STAMP}",
])
def test_everything_else_is_refused_and_nothing_changes(base, command):
    (base / "db01" / STAMP).mkdir()
    victim = base / "db01" / STAMP / f"dump.{STAMP}"
    victim.write_bytes(b"db01 memory")
    before = sorted(str(p) for p in base.rglob("*"))
    result = receive(base / "web01", command, b"payload")
    assert result.returncode == 2 and b"refused" in result.stderr
    assert b"db01 memory" not in result.stdout
    assert sorted(str(p) for p in base.rglob("*")) == before and victim.read_bytes() == b"db01 memory"


def test_a_symlinked_stamp_directory_does_not_lead_out(base):
    (base / "web01" / STAMP).symlink_to(base / "db01")
    result = receive(base / "web01", f"put {STAMP} dump", DUMP)
    assert result.returncode == 2 and list((base / "db01").iterdir()) == []


def test_a_symlinked_client_directory_is_refused(base):
    (base / "evil").symlink_to(base / "db01")
    assert receive(base / "evil", "check").returncode == 2


@pytest.mark.parametrize("argv", [[], ["relative/web01"], ["/nonexistent/web01"], ["/srv", "/tmp"],
                                  ["--quota", "x", "/tmp"], ["--quota", "1\n", "/tmp"], ["/tmp"]])
def test_a_misconfigured_key_is_refused(base, argv):
    env = dict(os.environ, SSH_ORIGINAL_COMMAND="check")
    result = subprocess.run([sys.executable, RECEIVE, *argv], env=env, capture_output=True)
    assert result.returncode == 2 and b"refused for " in result.stderr and b": 'check': " in result.stderr


def test_prune_does_not_follow_a_symlink_to_another_client(base):
    (base / "db01" / STAMP).mkdir()
    (base / "db01" / STAMP / f"dump.{STAMP}").write_bytes(b"db01 memory")
    for stamp in ("202601010000", "202602010000"):
        assert deliver(base / "web01", stamp, "dump", DUMP).returncode == 0
    (base / "web01" / "202501010000").symlink_to(base / "db01" / STAMP)
    assert receive(base / "web01", "prune 1").stdout == b"removed 202601010000\n"
    assert (base / "db01" / STAMP / f"dump.{STAMP}").read_bytes() == b"db01 memory"


def test_prune_keeps_the_newest_stamps_of_its_own_directory(base):
    for stamp in ("202601010000", "202602010000", "202603010000", "202604010000"):
        assert deliver(base / "web01", stamp, "dump", DUMP).returncode == 0
    (base / "db01" / "202501010000").mkdir()
    result = receive(base / "web01", "prune 2")
    assert result.returncode == 0
    assert sorted(p.name for p in (base / "web01").iterdir()) == ["202603010000", "202604010000"]
    assert (base / "db01" / "202501010000").exists()


def test_check_reports_free_space_and_min_free(base):
    ok = receive(base / "web01", "check", quota=1 << 60)
    assert ok.returncode == 0 and ok.stdout.startswith(b"ok free=")
    free = int(ok.stdout.split(b"=")[1])
    assert 0 < free <= os.statvfs(base).f_bavail * os.statvfs(base).f_frsize
    assert receive(base / "web01", f"check {free * 1000 + 1}", quota=1 << 60).returncode == 1


# --- logging ----------------------------------------------------------------------------------

def load_receiver():
    loader = importlib.machinery.SourceFileLoader("crashdump_receive", RECEIVE)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("command, data, reason", [
    ("ls /srv/crash/db01", b"", b"not a receiver command"),
    (f"put {STAMP} dmesg", b"", b"empty"),
    ("x" * 70000, b"", b"command too long (70000 characters"),
    ("check 999999999999999999", b"", b"not enough space"),
])
def test_without_syslog_each_refusal_is_one_bounded_line_on_stderr(base, command, data, reason):
    """The sandbox has no /dev/log; the line is the log record, once, whatever the command's size."""
    assert not os.path.exists("/dev/log"), "this test needs a machine without a syslog socket"
    result = receive(base / "web01", command, data, quota=1 << 30)
    lines = result.stderr.splitlines()
    assert result.returncode in (1, 2) and len(lines) == 1 and reason in lines[0], result.stderr
    assert lines[0].startswith(b"crashdump-kdump-receive: refused for ") and len(lines[0]) < 600


def test_with_syslog_a_refusal_is_one_auth_warning(base, tmp_path, monkeypatch, capsys):
    receiver = load_receiver()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "log"))
    monkeypatch.setattr(receiver, "LOG_SOCKET", str(tmp_path / "log"))
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "cat /srv/crash/db01/" + "x" * 1000 + "\n")
    assert receiver.main(["receive", "--quota", "1", str(base / "web01")]) == 2
    record = sock.recv(65536).decode()
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(65536)  # exactly one record
    assert record.startswith("<36>crashdump-kdump-receive[")  # LOG_AUTH (4 << 3) | LOG_WARNING (4)
    assert "refused for " in record and "'cat /srv/crash/db01/xxx" in record and "...(+" in record
    assert len(record) < 600 and "\n" not in record
    assert capsys.readouterr().err.startswith("refused: not a receiver command")


# --- enrollment -------------------------------------------------------------------------------

def public_key(seed, key_type="ssh-ed25519"):
    blob = len(key_type).to_bytes(4, "big") + key_type.encode() + b"\0\0\0\x20" + bytes([seed]) * 32
    return f"{key_type} {base64.b64encode(blob).decode()} root@client{seed}"


@pytest.fixture
def server(tmp_path):
    conf = tmp_path / "etc" / "server.json"
    conf.parent.mkdir()
    (tmp_path / "srv").mkdir()
    (tmp_path / "ssh").mkdir()
    conf.write_text(json.dumps({"user": pwd.getpwuid(os.getuid()).pw_name, "base": str(tmp_path / "srv"),
                                "authorized_keys": str(tmp_path / "ssh" / "authorized_keys"),
                                "receiver": "/usr/local/libexec/crashdump-kdump/receive", "quota": 68719476736}))
    return tmp_path


def enroll(server, *args, key=""):
    env = dict(os.environ, CRASHDUMP_KDUMP_SERVER_CONF=str(server / "etc" / "server.json"))
    result = subprocess.run([sys.executable, ENROLL, *args], input=key, env=env, capture_output=True, text=True)
    return result.returncode, json.loads(result.stdout)


def test_enrollment_restricts_each_key_to_its_clients_directory(server):
    assert enroll(server, "web01", key=public_key(1))[1]["changed"] is True
    assert enroll(server, "web01", key=public_key(1))[1]["changed"] is False
    lines = (server / "ssh" / "authorized_keys").read_text().splitlines()
    assert lines == [f'restrict,pty,agent-forwarding,X11-forwarding,command="/usr/local/libexec/crashdump-kdump/receive'
                     f' --quota 68719476736 {server}/srv/web01" {" ".join(public_key(1).split()[:2])} crashdump-kdump:web01']
    assert oct((server / "srv" / "web01").stat().st_mode & 0o777) == "0o700"


def test_clients_enrolling_at_once_keep_each_others_keys(server):
    env = dict(os.environ, CRASHDUMP_KDUMP_SERVER_CONF=str(server / "etc" / "server.json"))
    processes = [subprocess.Popen([sys.executable, ENROLL, f"host{n:02d}"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, env=env, text=True) for n in range(20)]
    for n, process in enumerate(processes):  # all started and waiting on stdin: released together
        process.stdin.write(public_key(n))
        process.stdin.close()
    assert [process.wait() for process in processes] == [0] * 20
    lines = (server / "ssh" / "authorized_keys").read_text().splitlines()
    assert len(lines) == 20 and all(line.startswith('restrict,pty,agent-forwarding,X11-forwarding,command="') for line in lines)
    assert all(f"/srv/host{n:02d}\" " in lines[n] and lines[n].endswith(f"crashdump-kdump:host{n:02d}")
               for n in range(20))


def test_re_keying_and_removal(server):
    enroll(server, "web01", key=public_key(1))
    enroll(server, "db01", key=public_key(2))
    enroll(server, "web01", key=public_key(3))
    keys = (server / "ssh" / "authorized_keys").read_text()
    assert public_key(3).split()[1] in keys and public_key(1).split()[1] not in keys
    assert enroll(server, "--remove", "web01")[1]["changed"] is True
    assert "web01" not in (server / "ssh" / "authorized_keys").read_text()
    assert (server / "srv" / "web01").is_dir(), "removing a key keeps the client's dumps"


@pytest.mark.parametrize("key_type", ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"])
def test_other_key_types_are_accepted(server, key_type):
    assert enroll(server, "web01", key=public_key(1, key_type)) == (0, {
        "changed": True, "client": "web01", "directory": str(server / "srv" / "web01")})
    assert f" {key_type} " in (server / "ssh" / "authorized_keys").read_text()


def test_check_mode_reports_and_changes_nothing(server):
    assert enroll(server, "--check", "web01", key=public_key(1))[1]["changed"] is True
    assert not (server / "ssh" / "authorized_keys").exists() and list((server / "srv").iterdir()) == []
    assert not (server / "etc" / "clients").exists() and not (server / "etc" / "enroll.lock").exists()
    enroll(server, "web01", key=public_key(1))
    assert enroll(server, "--check", "web01", key=public_key(1))[1]["changed"] is False
    assert enroll(server, "--check", "--remove", "web01")[1]["changed"] is True
    assert "web01" in (server / "ssh" / "authorized_keys").read_text()


def test_rebuild_follows_a_new_base_path(server):
    enroll(server, "web01", key=public_key(1))
    conf = json.loads((server / "etc" / "server.json").read_text())
    (server / "etc" / "server.json").write_text(json.dumps(dict(conf, base="/srv/dumps")))
    assert enroll(server, "--rebuild")[1]["changed"] is True
    assert ' /srv/dumps/web01" ' in (server / "ssh" / "authorized_keys").read_text()
    assert enroll(server, "--rebuild")[1]["changed"] is False


def test_without_ssh_no_key_gets_in_and_enrolled_keys_are_kept(server):
    enroll(server, "web01", key=public_key(1))
    conf = json.loads((server / "etc" / "server.json").read_text())
    (server / "etc" / "server.json").write_text(json.dumps(dict(conf, ssh=False)))
    assert enroll(server, "--rebuild")[1]["changed"] is True
    assert enroll(server, "db01", key=public_key(2))[0] == 0
    assert not (server / "ssh" / "authorized_keys").exists()
    (server / "etc" / "server.json").write_text(json.dumps(conf))
    assert enroll(server, "--rebuild")[1]["changed"] is True
    assert len((server / "ssh" / "authorized_keys").read_text().splitlines()) == 2


@pytest.mark.parametrize("field, value", [("base", '/srv/x" ssh-ed25519'), ("receiver", '/x" ssh-ed25519'),
                                          ("quota", "64G"), ("quota", 0), ("quota", True)])
def test_settings_that_could_break_out_of_the_forced_command_are_refused(server, field, value):
    conf = json.loads((server / "etc" / "server.json").read_text())
    (server / "etc" / "server.json").write_text(json.dumps(dict(conf, **{field: value})))
    assert enroll(server, "web01", key=public_key(1))[0] == 1
    assert not (server / "ssh" / "authorized_keys").exists()


def test_one_key_one_client(server):
    """A host that reports another host's public key as its own gets nothing: sshd would use the
    first line with that key, so both names would be the first client's."""
    enroll(server, "web01", key=public_key(1))
    before = (server / "ssh" / "authorized_keys").read_text()
    rc, result = enroll(server, "evil", key=public_key(1).replace("root@client1", "evil@evil"))
    assert rc == 1 and "already enrolled as web01" in result["msg"]
    assert (server / "ssh" / "authorized_keys").read_text() == before
    assert not (server / "etc" / "clients" / "evil.pub").exists() and not (server / "srv" / "evil").exists()
    assert enroll(server, "web01", key=public_key(1))[0] == 0, "re-enrolling a client with its own key"


def test_a_rebuild_never_writes_a_key_twice(server):
    enroll(server, "web01", key=public_key(1))
    before = (server / "ssh" / "authorized_keys").read_text()
    (server / "etc" / "clients" / "copy.pub").write_text(" ".join(public_key(1).split()[:2]) + "\n")  # root's edit
    rc, result = enroll(server, "--rebuild")
    assert rc == 1 and "copy and web01 have the same key" in result["msg"]
    assert (server / "ssh" / "authorized_keys").read_text() == before


def test_client_directories_never_follow_a_planted_symlink(server, tmp_path):
    """An NFS client (all_squash, so the dump account) plants base/db01 -> a root directory."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    (server / "srv" / "db01").symlink_to(victim)
    (server / "srv" / "web01").mkdir(mode=0o755)
    rc, result = enroll(server, "--directories", "web01", "db01", "new01")
    assert rc == 1 and "db01 is not a directory" in result["msg"] and "left alone" in result["msg"]
    assert oct(victim.stat().st_mode & 0o777) == "0o755"
    rc, result = enroll(server, "db01", key=public_key(2))
    assert rc == 1 and oct(victim.stat().st_mode & 0o777) == "0o755"
    (server / "srv" / "db01").unlink()
    (server / "srv" / "web01").chmod(0o755)
    assert enroll(server, "--check", "--directories", "web01", "db01")[1]["changed"] is True
    assert oct((server / "srv" / "web01").stat().st_mode & 0o777) == "0o755", "--check changes nothing"
    assert enroll(server, "--directories", "web01", "db01")[1]["changed"] is True
    assert [oct((server / "srv" / name).stat().st_mode & 0o777) for name in ("web01", "db01")] == ["0o700"] * 2
    assert enroll(server, "--directories", "web01", "db01")[1]["changed"] is False


def test_a_tampered_key_file_stops_the_rebuild(server):
    (server / "etc" / "clients").mkdir()
    (server / "etc" / "clients" / "evil.pub").write_text('command="sh" ' + public_key(9))
    rc, result = enroll(server, "web01", key=public_key(1))
    assert rc == 1 and "evil.pub" in result["msg"] and not (server / "ssh" / "authorized_keys").exists()


@pytest.mark.parametrize("args, key", [
    (["../etc"], public_key(1)), (["web01"], "ssh-dss AAAAB3NzaC1kc3M="), (["web01"], "not a key"),
    (["web01"], 'command="sh" ' + public_key(1)), (["web01"], public_key(1) + "\n" + public_key(2)),
    (["web01"], "ssh-ed25519 c3NoLXJzYQ=="), ([], ""), (["web01"], ""), (["-x"], public_key(1)),
    (["web01"], "restrict " + public_key(1)), (["web01"], public_key(1).replace("AAAA", "AA!A", 1)),
    (["web01"], "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x07ssh-ed25519").decode()),
    (["a" * 64], public_key(1)), (["web01", "db01"], public_key(1)), (["--remove", "../x"], ""),
    (["web01\n"], public_key(1)), (["--remove", "web01\n"], ""), (["--directories", "web01\n"], ""),
    (["--directories"], ""), (["--directories", "../etc"], ""),
])
def test_bad_input_is_refused_and_changes_nothing(server, args, key):
    rc, result = enroll(server, *args, key=key)
    assert rc == 1 and result["failed"]
    assert not (server / "ssh" / "authorized_keys").exists() and list((server / "srv").iterdir()) == []
