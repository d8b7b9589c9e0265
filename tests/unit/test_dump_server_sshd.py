"""The dump server attacked and used through a real sshd on loopback.

The fixture lays the server out as the role does (server.json, the receiver installed 0755, the
enrollment script building the account's authorized_keys), starts /usr/sbin/sshd on a free
127.0.0.1 port with that authorized_keys, and clients connect with ssh -i, BatchMode and
StrictHostKeyChecking=yes against a known_hosts written here. The Red Hat and SUSE commands are
the strings kdumpctl, mkdumprd, dracut's kdump.sh and kdump-save send (rhkdump/kdump-utils,
openSUSE/kdump), passed to ssh the way those tools pass them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from test_dump_server import ENROLL, RECEIVE, flat

SSHD = "/usr/sbin/sshd"
QUOTA = 1024 * 1024
DUMP = flat(b"KDUMP   " + b"memory of the client " * 20, b"\xff" * 512)
DMESG = b"[   42.000000] sysrq: Trigger a crash\n"
REDHAT_DIR = "192.168.122.10-2026-11-28-03:05:12"  # kdump.sh: $HOST_IP-$(date +%Y-%m-%d-%T)
SUSE_DIR = "web01.example.org-2026-11-28-03-05"  # kdump-save: $HOSTNAME-$(date +%Y-%m-%d-%H-%M)


class DumpServer:
    def __init__(self, root):
        self.root, self.base = root, root / "srv"
        self.port = free_port()
        self.known_hosts = root / "known_hosts"
        self.log = root / "sshd.log"

    def prepare(self):
        for directory in ("etc/clients", "libexec", "srv", "home/.ssh", "keys"):
            (self.root / directory).mkdir(parents=True)
        self.base.chmod(0o700)
        shutil.copy(RECEIVE, self.root / "libexec" / "receive")  # as the role installs it
        (self.root / "libexec" / "receive").chmod(0o755)
        (self.root / "etc" / "server.json").write_text(json.dumps({
            "user": "root", "base": str(self.base), "ssh": True, "quota": QUOTA,
            "authorized_keys": str(self.root / "home" / ".ssh" / "authorized_keys"),
            "receiver": str(self.root / "libexec" / "receive")}))
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.root / "host_key")], check=True)
        host_key = " ".join((self.root / "host_key.pub").read_text().split()[:2])
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_key}\n")
        config = self.root / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.root / 'host_key'}",
            f"AuthorizedKeysFile {self.root / 'home' / '.ssh' / 'authorized_keys'}",
            "StrictModes no",  # the temporary directories are not root's 0755 chain
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "PidFile none",
            "X11Forwarding yes", "Subsystem sftp internal-sftp",  # as Debian's sshd_config has them
            "LogLevel INFO", ""]))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.log, "wb"))
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start: {self.log.read_text()}") from None
                time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def enroll(self, client, key=None):
        """The client's own key pair (made here), enrolled with the real script; (rc, JSON)."""
        if key is None:
            key = self.root / "keys" / client
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        env = dict(os.environ, CRASHDUMP_KDUMP_SERVER_CONF=str(self.root / "etc" / "server.json"))
        result = subprocess.run(["python3", ENROLL, client], input=(key.parent / f"{key.name}.pub").read_text(),
                                env=env, capture_output=True, text=True, timeout=30)
        return result.returncode, json.loads(result.stdout)

    def options(self, client):
        return ["-F", "/dev/null", "-i", str(self.root / "keys" / client), "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null"]

    def ssh(self, client, *command, data=b"", flags=(), env=None):
        """ssh joins its arguments with spaces, as it does for the tools: the receiver gets that string."""
        argv = ["ssh", *self.options(client), "-p", str(self.port), *flags, "root@127.0.0.1", *command]
        return subprocess.run(argv, input=data, capture_output=True, timeout=60, env=env)

    def scp(self, client, source, target, *flags):
        argv = ["scp", "-q", *self.options(client), "-P", str(self.port), *flags, str(source),
                f"root@127.0.0.1:{target}"]
        return subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)

    def tree(self):
        return sorted(str(path.relative_to(self.base)) for path in self.base.rglob("*"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def running_server(tmp_path_factory):
    if not os.path.exists(SSHD):
        pytest.skip(f"{SSHD} is missing (scripts/setup.sh installs openssh-server)")
    dump_server = DumpServer(tmp_path_factory.mktemp("dump-server"))
    dump_server.prepare()
    try:
        for client in ("web01", "db01"):
            assert dump_server.enroll(client)[0] == 0
        yield dump_server
    finally:
        dump_server.stop()


@pytest.fixture
def server(running_server):
    """The running server with both clients' directories empty again."""
    for client in ("web01", "db01"):
        shutil.rmtree(running_server.base / client)
        (running_server.base / client).mkdir(mode=0o700)
    return running_server


def refused(result, status=2):
    """Refused, with one line that says so (no syslog here: that line is the log record)."""
    lines = result.stderr.decode(errors="replace").splitlines()
    return result.returncode == status and len([line for line in lines if "refused" in line]) == 1


def plant_victim(server):
    """db01's dump, which web01's key must never read, change or remove."""
    victim = server.base / "db01" / REDHAT_DIR
    victim.mkdir(mode=0o700)
    (victim / "vmcore.flat").write_bytes(DUMP)
    return victim / "vmcore.flat"


# --- Red Hat -----------------------------------------------------------------------------------

def test_kdumpctl_and_mkdumprd_start_against_the_server(server):
    path = str(server.base)
    # kdumpctl check_and_wait_network_ready: ssh -i KEY -o BatchMode=yes TARGET mkdir -p PATH
    assert server.ssh("web01", "mkdir", "-p", path).returncode == 0
    # mkdumprd get_ssh_size: ssh -q -n ... df --output=avail PATH | tail -1, compared with MemTotal (kB)
    df = server.ssh("web01", "df", "--output=avail", path, flags=["-q", "-n"])
    assert df.returncode == 0 and df.stdout.decode().splitlines()[0] == "Avail"
    assert int(df.stdout.decode().splitlines()[-1]) == QUOTA // 1024, "the client's quota headroom"
    # mkdumprd mkdir_save_path_ssh: mkdir -p, then _dir=$(mktemp -dqp PATH) and rmdir "$_dir"
    probe = server.ssh("web01", "mktemp", "-dqp", path, flags=["-q", "-n"])
    directory = probe.stdout.decode().strip()
    assert probe.returncode == 0 and directory.startswith(path + "/tmp.") and len(directory) == len(path) + 15
    assert server.tree() == ["db01", "web01", f"web01/{os.path.basename(directory)}"]
    assert server.ssh("web01", "rmdir", directory, flags=["-q", "-n"]).returncode == 0
    assert server.tree() == ["db01", "web01"]


def test_kdump_sh_saves_a_dump_its_dmesg_and_its_log(server, tmp_path):
    target = f"{server.base}/{REDHAT_DIR}"
    assert server.ssh("web01", "mkdir", "-p", target, flags=["-q"]).returncode == 0
    # save_vmcore_dmesg_ssh
    assert server.ssh("web01", f"umask 0077 && dd of='{target}/vmcore-dmesg-incomplete.txt'", data=DMESG).returncode == 0
    assert server.ssh("web01", "mv", f"{target}/vmcore-dmesg-incomplete.txt", f"{target}/vmcore-dmesg.txt",
                      flags=["-q"]).returncode == 0
    # dump_ssh: $CORE_COLLECTOR /proc/vmcore | ssh ... "umask 0077 && dd bs=512 of='DIR/vmcore-incomplete'"
    assert server.ssh("web01", f"umask 0077 && dd bs=512 of='{target}/vmcore-incomplete'", data=DUMP).returncode == 0
    moved = server.ssh("web01", f"mv '{target}/vmcore-incomplete' '{target}/vmcore.flat'")
    assert moved.returncode == 0, moved.stderr
    # save_log: scp -q OPTS '/run/initramfs/kexec-dmesg.log' 'TARGET:DIR/' (the scp protocol)
    log = tmp_path / "kexec-dmesg.log"
    log.write_bytes(b"kdump: saving vmcore complete\n")
    copied = server.scp("web01", log, f"{target}/", "-O")
    assert copied.returncode == 0, copied.stderr
    saved = server.base / "web01" / REDHAT_DIR
    assert sorted(p.name for p in saved.iterdir()) == ["kexec-dmesg.log", "vmcore-dmesg.txt", "vmcore.flat"]
    assert (saved / "vmcore.flat").read_bytes() == DUMP and (saved / "vmcore-dmesg.txt").read_bytes() == DMESG
    assert (saved / "kexec-dmesg.log").read_bytes() == b"kdump: saving vmcore complete\n"
    assert {oct(p.stat().st_mode & 0o777) for p in saved.iterdir()} == {"0o600"}
    assert oct(saved.stat().st_mode & 0o777) == "0o700"


def test_scp_in_sftp_mode_is_refused(server, tmp_path):
    """OpenSSH 9 scp speaks SFTP unless -O: the sftp subsystem is never served, so the log is lost
    (kdump.sh goes on: the dump and its dmesg are already saved)."""
    (tmp_path / "kexec-dmesg.log").write_bytes(b"log")
    assert server.ssh("web01", "mkdir", "-p", f"{server.base}/{REDHAT_DIR}").returncode == 0
    assert server.scp("web01", tmp_path / "kexec-dmesg.log", f"{server.base}/{REDHAT_DIR}/").returncode != 0
    assert list((server.base / "web01" / REDHAT_DIR).iterdir()) == []


def test_a_cut_dump_is_never_moved_into_place(server):
    target = f"{server.base}/{REDHAT_DIR}"
    server.ssh("web01", "mkdir", "-p", target)
    cut = server.ssh("web01", f"umask 0077 && dd bs=512 of='{target}/vmcore-incomplete'", data=DUMP[:-40])
    assert refused(cut, 1) and b"cut short" in cut.stderr
    moved = server.ssh("web01", f"mv '{target}/vmcore-incomplete' '{target}/vmcore.flat'")
    assert refused(moved, 1) and b"nothing received" in moved.stderr
    # a cut stream left by a receiver that did not look: mv checks it too, and removes it
    (server.base / "web01" / REDHAT_DIR / "vmcore-incomplete").write_bytes(DUMP[:-16])
    moved = server.ssh("web01", f"mv '{target}/vmcore-incomplete' '{target}/vmcore.flat'")
    assert refused(moved, 1) and b"no end marker" in moved.stderr
    assert list((server.base / "web01" / REDHAT_DIR).iterdir()) == []


def test_a_saved_dump_is_never_overwritten(server):
    target = f"{server.base}/{REDHAT_DIR}"
    server.ssh("web01", "mkdir", "-p", target)
    server.ssh("web01", f"umask 0077 && dd bs=512 of='{target}/vmcore-incomplete'", data=DUMP)
    assert server.ssh("web01", f"mv '{target}/vmcore-incomplete' '{target}/vmcore.flat'").returncode == 0
    again = server.ssh("web01", f"umask 0077 && dd bs=512 of='{target}/vmcore-incomplete'", data=flat(b"other"))
    assert refused(again, 1) and b"exists (no overwrite)" in again.stderr
    assert (server.base / "web01" / REDHAT_DIR / "vmcore.flat").read_bytes() == DUMP
    assert sorted(p.name for p in (server.base / "web01" / REDHAT_DIR).iterdir()) == ["vmcore.flat"]


def redhat_attacks(base):
    target = f"{base}/{REDHAT_DIR}"
    other = f"{base}/db01/{REDHAT_DIR}"
    return [
        # traversal and other paths
        ["mkdir", "-p", f"{base}/../etc"], ["mkdir", "-p", "/etc/cron.d"], ["mkdir", "-p", f"{base}/db01/x"],
        ["mkdir", "-p", f"{target}/sub"], ["mkdir", "-p", f"{base}/./{REDHAT_DIR}"],
        [f"umask 0077 && dd bs=512 of='{target}/../db01/{REDHAT_DIR}/vmcore-incomplete'"],
        [f"umask 0077 && dd bs=512 of='{other}/vmcore-incomplete'"],
        [f"umask 0077 && dd bs=512 of='{target}/vmcore.flat'"], [f"umask 0077 && dd of='{target}/authorized_keys'"],
        ["df", "--output=avail", "/"], ["mktemp", "-dqp", "/tmp"], ["rmdir", f"{base}/web01"], ["rmdir", target],
        ["rmdir", f"{base}/db01"],
        # mv of other names, or across directories
        ["mv", f"{target}/vmcore.flat", f"{target}/vmcore-incomplete"], ["mv", f"{target}/x", f"{target}/vmcore.flat"],
        ["mv", f"{target}/vmcore-incomplete", f"{other}/vmcore.flat"],
        ["mv", f"{other}/vmcore.flat", f"{target}/vmcore.flat"],
        ["mv", f"{target}/vmcore-incomplete", f"{target}/vmcore-dmesg.txt"],
        # reading
        ["cat", f"{other}/vmcore.flat"], ["scp", "-f", f"{other}/vmcore.flat"], ["scp", "-f", f"{target}/vmcore.flat"],
        [f"dd if='{other}/vmcore.flat'"], [f"umask 0077 && dd if='{other}/vmcore.flat' of='{target}/vmcore-incomplete'"],
        ["scp", "-t", f"{other}/"], ["scp", "-r", "-t", f"{target}/"], ["ls", base], ["rm", "-rf", other],
        # shells
        [f"mkdir -p {target}; id"], [f"mkdir -p $(id){target}"], [f"umask 0077 && dd of='{target}/x' && id"],
        ["sh", "-c", "id"], ["/usr/lib/openssh/sftp-server"], ["internal-sftp"], ["x" * 5000],
    ]


@pytest.mark.parametrize("number", range(len(redhat_attacks("/b"))))
def test_what_red_hat_tools_never_send_is_refused_and_changes_nothing(server, number):
    victim = plant_victim(server)
    server.ssh("web01", "mkdir", "-p", f"{server.base}/{REDHAT_DIR}")
    before = server.tree()
    command = redhat_attacks(server.base)[number]
    result = server.ssh("web01", *command, data=flat(b"payload"))
    assert result.returncode != 0 and b"refused" in result.stderr, (command, result)
    assert refused(result, result.returncode)
    assert b"memory of the client" not in result.stdout + result.stderr
    assert server.tree() == before and victim.read_bytes() == DUMP


def test_sftp_cannot_read_a_dump(server, tmp_path):
    victim = plant_victim(server)
    argv = ["sftp", *server.options("web01"), "-P", str(server.port), "-b", "-", "root@127.0.0.1"]
    result = subprocess.run(argv, input=f"get {victim} {tmp_path}/stolen\n".encode(), capture_output=True, timeout=60)
    assert result.returncode != 0 and not (tmp_path / "stolen").exists()


# --- SUSE --------------------------------------------------------------------------------------

def suse(server, name, data, client="web01"):
    """kdump-save: ssh URL "umask 077; mkdir -p ${DIR} && cat > ${DIR}/${FILENAME}" < ${SOURCE}"""
    directory = f"{server.base}/{SUSE_DIR}"
    return server.ssh(client, f"umask 077; mkdir -p {directory} && cat > {directory}/{name}", data=data)


def test_kdump_save_saves_readme_dmesg_and_dump(server):
    placeholder = (b"This file will be overwritten when the dump is finished.\n"
                   b"If you see this text the crash dump is likely incomplete.\n")
    assert suse(server, "README.txt", placeholder).returncode == 0
    assert suse(server, "dmesg", DMESG).returncode == 0
    assert suse(server, "vmcore", DUMP).returncode == 0
    final = b"Kernel crashdump\n----------------\ndmesg status: saved successfully\n"
    assert suse(server, "README.txt", final).returncode == 0, "the final README replaces the placeholder"
    saved = server.base / "web01" / SUSE_DIR
    assert sorted(p.name for p in saved.iterdir()) == ["README.txt", "dmesg", "vmcore"]
    assert (saved / "vmcore").read_bytes() == DUMP and (saved / "README.txt").read_bytes() == final
    assert {oct(p.stat().st_mode & 0o777) for p in saved.iterdir()} == {"0o600"}
    again = suse(server, "README.txt", placeholder)
    assert refused(again, 1) and (saved / "README.txt").read_bytes() == final, "the final README stays"
    assert refused(suse(server, "vmcore", flat(b"other")), 1) and (saved / "vmcore").read_bytes() == DUMP
    assert sorted(p.name for p in saved.iterdir()) == ["README.txt", "dmesg", "vmcore"]


def test_a_cut_suse_dump_is_removed(server):
    result = suse(server, "vmcore", DUMP[:5000])
    assert refused(result, 1) and b"cut short" in result.stderr
    assert list((server.base / "web01" / SUSE_DIR).iterdir()) == []


@pytest.mark.parametrize("directory, name", [
    (SUSE_DIR, "../../db01/x"), (SUSE_DIR, "authorized_keys"), ("..", "vmcore"), ("db01", "vmcore"),
    (f"{SUSE_DIR}/../db01", "vmcore"), (REDHAT_DIR, "vmcore"), (SUSE_DIR, ".vmcore.part"),
])
def test_what_kdump_save_never_sends_is_refused(server, directory, name):
    victim = plant_victim(server)
    before = server.tree()
    path = f"{server.base}/{directory}"
    result = server.ssh("web01", f"umask 077; mkdir -p {path} && cat > {path}/{name}", data=DUMP)
    assert refused(result) and server.tree() == before and victim.read_bytes() == DUMP


# --- Debian, quota, keys and session requests ----------------------------------------------------

def test_the_debian_protocol_through_sshd(server):
    assert server.ssh("web01", "check", str(QUOTA)).stdout == b"ok free=%d\n" % QUOTA
    assert server.ssh("web01", "put", "202611280305", "dump", data=DUMP).returncode == 0
    assert server.ssh("web01", "commit", "202611280305", "dump").returncode == 0
    cut = server.ssh("web01", "put", "202611280306", "dump", data=DUMP[:-1])
    assert refused(cut, 1) and list((server.base / "web01" / "202611280306").iterdir()) == []
    assert server.ssh("web01", "prune", "1").stdout == b"removed 202611280305\n"
    assert server.tree() == ["db01", "web01", "web01/202611280306"]


def test_the_quota_holds_across_families_and_removes_the_partial(server):
    assert suse(server, "vmcore", flat(b"v" * (QUOTA // 2))).returncode == 0
    target = f"{server.base}/{REDHAT_DIR}"
    server.ssh("web01", "mkdir", "-p", target)
    over = server.ssh("web01", f"umask 0077 && dd bs=512 of='{target}/vmcore-incomplete'", data=flat(b"w" * (QUOTA // 2)))
    assert refused(over, 1) and b"over the quota" in over.stderr
    assert list((server.base / "web01" / REDHAT_DIR).iterdir()) == []
    assert server.ssh("db01", "check", str(QUOTA)).returncode == 0, "db01's quota is its own"
    assert refused(server.ssh("web01", "check", str(QUOTA)), 1)


def test_one_key_one_client_through_sshd(server):
    """A host enrolled under a second name with web01's public key gets no line of its own."""
    rc, result = server.enroll("evil", key=server.root / "keys" / "web01")
    assert rc == 1 and "already enrolled as web01" in result["msg"]
    lines = (server.root / "home" / ".ssh" / "authorized_keys").read_text().splitlines()
    assert [line.rsplit(":", 1)[1] for line in lines] == ["db01", "web01"]
    assert len({line.split()[-2] for line in lines}) == 2


@pytest.mark.parametrize("flags, env", [
    (["-tt"], {}), (["-A"], {"SSH_AUTH_SOCK": "agent"}), (["-X"], {"DISPLAY": ":0"}),
])
def test_pty_agent_and_x11_requests_are_refused_and_logged(server, tmp_path, flags, env):
    environment = dict(os.environ, **env)
    if "SSH_AUTH_SOCK" in env:  # a real agent to forward
        agent = subprocess.run(["ssh-agent", "-a", str(tmp_path / "agent")], capture_output=True, check=True)
        environment["SSH_AUTH_SOCK"] = str(tmp_path / "agent")
    try:
        result = server.ssh("web01", "put", "202611280305", "dump", data=DUMP, flags=flags, env=environment)
    finally:
        if "SSH_AUTH_SOCK" in env:
            pid = agent.stdout.decode().split("SSH_AGENT_PID=")[1].split(";")[0]
            os.kill(int(pid), 15)
    assert result.returncode == 2 and b"was requested" in result.stdout + result.stderr, result  # a pty merges them
    assert list((server.base / "web01").iterdir()) == []


def test_port_forwarding_is_refused_by_sshd_and_logged_by_it(server):
    result = server.ssh("web01", flags=["-W", "127.0.0.1:22"])
    assert result.returncode != 0
    time.sleep(0.2)
    assert "refused local port forward" in server.log.read_text()


def test_a_long_command_is_refused_in_one_bounded_line(server):
    result = server.ssh("web01", "check " + "9" * 60000)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1 and len(lines[0]) < 600 and b"command too long" in lines[0]
