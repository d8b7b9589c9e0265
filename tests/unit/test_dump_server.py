"""The dump server's receiver (a write-only drop box per client) and enrollment script, run as
sshd would run them: as processes, with SSH_ORIGINAL_COMMAND."""

from __future__ import annotations

import base64
import json
import os
import pwd
import subprocess
import sys

import pytest

FILES = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "dump_server", "files")
RECEIVE = os.path.join(FILES, "receive")
ENROLL = os.path.join(FILES, "enroll")
STAMP = "202611280305"


def receive(client_dir, command, data=b""):
    env = dict(os.environ, SSH_ORIGINAL_COMMAND=command)
    return subprocess.run([sys.executable, RECEIVE, str(client_dir)], input=data, env=env, capture_output=True)


def deliver(client_dir, stamp, kind, data):
    """put, then commit: what the capture script does when makedumpfile succeeded."""
    put = receive(client_dir, f"put {stamp} {kind}", data)
    return put if put.returncode else receive(client_dir, f"commit {stamp} {kind}")


@pytest.fixture
def base(tmp_path):
    for client in ("web01", "db01"):
        (tmp_path / client).mkdir(mode=0o700)
    return tmp_path


def test_put_saves_private_files_in_the_clients_own_directory(base):
    saved = deliver(base / "web01", STAMP, "dump", b"makedumpfile...")
    assert saved.returncode == 0 and saved.stdout.decode() == f"saved {base}/web01/{STAMP}/dump.{STAMP} 15\n"
    assert deliver(base / "web01", STAMP, "dmesg", b"sysrq: Trigger a crash").returncode == 0
    stamp_dir = base / "web01" / STAMP
    assert (stamp_dir / f"dump.{STAMP}").read_bytes() == b"makedumpfile..."
    assert oct(stamp_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((stamp_dir / f"dump.{STAMP}").stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in stamp_dir.iterdir()) == [f"dmesg.{STAMP}", f"dump.{STAMP}"]


def test_put_never_overwrites_and_refuses_empty_input(base):
    assert deliver(base / "web01", STAMP, "dump", b"first").returncode == 0
    again = receive(base / "web01", f"put {STAMP} dump", b"second")
    assert again.returncode == 1 and b"no overwrite" in again.stderr
    assert (base / "web01" / STAMP / f"dump.{STAMP}").read_bytes() == b"first"
    assert receive(base / "web01", f"put {STAMP} dmesg", b"").returncode == 1
    assert sorted(p.name for p in (base / "web01" / STAMP).iterdir()) == [f"dump.{STAMP}"]


def test_a_stream_cut_short_is_never_a_dump(base):
    """The client commits only when makedumpfile succeeded; an uncommitted part is no dump,
    and the next put of the same stamp replaces it."""
    received = receive(base / "web01", f"put {STAMP} dump", b"half a dum")
    assert received.returncode == 0 and received.stdout.decode().startswith("received ")
    assert sorted(p.name for p in (base / "web01" / STAMP).iterdir()) == [f".dump.{STAMP}.part"]
    assert deliver(base / "web01", STAMP, "dump", b"whole dump").returncode == 0
    assert sorted(p.name for p in (base / "web01" / STAMP).iterdir()) == [f"dump.{STAMP}"]
    assert (base / "web01" / STAMP / f"dump.{STAMP}").read_bytes() == b"whole dump"
    nothing = receive(base / "web01", f"commit {STAMP} dmesg")
    assert nothing.returncode == 1 and b"nothing received" in nothing.stderr


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
    result = receive(base / "web01", f"put {STAMP} dump", b"x")
    assert result.returncode == 2 and list((base / "db01").iterdir()) == []


def test_a_symlinked_client_directory_is_refused(base):
    (base / "evil").symlink_to(base / "db01")
    assert receive(base / "evil", "check").returncode == 2


@pytest.mark.parametrize("argv", [[], ["relative/web01"], ["/nonexistent/web01"], ["/srv", "/tmp"]])
def test_a_misconfigured_key_is_refused(base, argv):
    env = dict(os.environ, SSH_ORIGINAL_COMMAND="check")
    result = subprocess.run([sys.executable, RECEIVE, *argv], env=env, capture_output=True)
    assert result.returncode == 2 and result.stderr.startswith(b"refused: check")


def test_prune_does_not_follow_a_symlink_to_another_client(base):
    (base / "db01" / STAMP).mkdir()
    (base / "db01" / STAMP / f"dump.{STAMP}").write_bytes(b"db01 memory")
    for stamp in ("202601010000", "202602010000"):
        assert deliver(base / "web01", stamp, "dump", b"x").returncode == 0
    (base / "web01" / "202501010000").symlink_to(base / "db01" / STAMP)
    assert receive(base / "web01", "prune 1").stdout == b"removed 202601010000\n"
    assert (base / "db01" / STAMP / f"dump.{STAMP}").read_bytes() == b"db01 memory"


def test_prune_keeps_the_newest_stamps_of_its_own_directory(base):
    for stamp in ("202601010000", "202602010000", "202603010000", "202604010000"):
        assert deliver(base / "web01", stamp, "dump", b"x").returncode == 0
    (base / "db01" / "202501010000").mkdir()
    result = receive(base / "web01", "prune 2")
    assert result.returncode == 0
    assert sorted(p.name for p in (base / "web01").iterdir()) == ["202603010000", "202604010000"]
    assert (base / "db01" / "202501010000").exists()


def test_check_reports_free_space_and_min_free(base):
    ok = receive(base / "web01", "check")
    assert ok.returncode == 0 and ok.stdout.startswith(b"ok free=")
    free = int(ok.stdout.split(b"=")[1])
    assert receive(base / "web01", f"check {free * 1000 + 1}").returncode == 1


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
                                "authorized_keys": str(tmp_path / "ssh" / "authorized_keys")}))
    return tmp_path


def enroll(server, *args, key=""):
    env = dict(os.environ, CRASHDUMP_KDUMP_SERVER_CONF=str(server / "etc" / "server.json"))
    result = subprocess.run([sys.executable, ENROLL, *args], input=key, env=env, capture_output=True, text=True)
    return result.returncode, json.loads(result.stdout)


def test_enrollment_restricts_each_key_to_its_clients_directory(server):
    assert enroll(server, "web01", key=public_key(1))[1]["changed"] is True
    assert enroll(server, "web01", key=public_key(1))[1]["changed"] is False
    lines = (server / "ssh" / "authorized_keys").read_text().splitlines()
    assert lines == [f'restrict,command="/usr/local/libexec/crashdump-kdump/receive {server}/srv/web01" '
                     f'{" ".join(public_key(1).split()[:2])} crashdump-kdump:web01']
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
    assert len(lines) == 20 and all(line.startswith('restrict,command="') for line in lines)
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
    assert '/receive /srv/dumps/web01" ' in (server / "ssh" / "authorized_keys").read_text()
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


def test_a_base_path_that_could_break_out_of_the_forced_command_is_refused(server):
    conf = json.loads((server / "etc" / "server.json").read_text())
    (server / "etc" / "server.json").write_text(json.dumps(dict(conf, base='/srv/x" ssh-ed25519')))
    assert enroll(server, "web01", key=public_key(1))[0] == 1


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
])
def test_bad_input_is_refused_and_changes_nothing(server, args, key):
    rc, result = enroll(server, *args, key=key)
    assert rc == 1 and result["failed"]
    assert not (server / "ssh" / "authorized_keys").exists() and list((server / "srv").iterdir()) == []
