"""Red Hat and SUSE ssh clients of the collection's dump server: what the plan pins and refuses,
and a contract test that the commands those families' tools build from the rendered files are
what the receiver (roles/dump_server/files/receive, run as a process as sshd runs it) accepts.

The commands are built here the way the tools build them (rhkdump/kdump-utils: kdumpctl's
check_and_wait_network_ready, mkdumprd's mkdir_save_path_ssh and get_ssh_size, dracut's
kdump.sh dump_ssh and save_vmcore_dmesg_ssh; openSUSE/kdump: dracut/kdump-save and
dracut/module-setup.sh kdump_init_ssh), from the values read back out of the rendered files
(kdump.conf split into directive and value as kdumpctl reads it; /etc/sysconfig/kdump sourced
by bash), never from the policy.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _plan
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy
from test_dump_server import flat, receive
from test_golden import HOST_KEYS, HOSTS

SERVER_KEY = HOST_KEYS[0]
OTHER_KEY = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBE9uZS1tb3JlLWtleQ=="
DUMP = flat(b"KDUMP   " + b"memory of web01 " * 16, b"\xff" * 256)
DMESG = b"[   42.000000] sysrq: Trigger a crash\n"
HOST_IP = "192.168.122.10"  # kdump.sh's $HOST_IP: the address its route to the server leaves from


def ssh_policy(path="/srv/crash", **target):
    spec = {"type": "ssh", "host": "dumps.example.org", "user": "kdump", "path": path,
            "key": "/root/.ssh/kdump_id_ed25519", **target}
    return normalise_policy({"target": spec, "on_failure": "reboot"})


def plan(host, policy=None, host_keys=HOST_KEYS, **facts):
    return _plan.make_plan(policy or ssh_policy(), dict(HOSTS[host], **facts), "web01", host_keys)


def plan_errors(host, policy=None, host_keys=HOST_KEYS, **facts):
    with pytest.raises(_plan.PlanError) as info:
        plan(host, policy, host_keys, **facts)
    return info.value.errors


def files(planned):
    return {f["path"]: f for f in planned["files"]}


def kdump_conf(text):
    """{directive: value} as kdumpctl's parse_config reads it: comments and blank lines skipped,
    the first word the directive, the rest its value."""
    conf = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            conf[name] = value.strip()
    return conf


def suse_kdump_pkg(version):
    return {"tooling": {"compressions": [], "packages": {"kdump": version}}}


# --- Red Hat: the pinned host key ------------------------------------------------------------

def test_red_hat_pins_the_server_key_in_its_own_known_hosts_file_and_the_initrd():
    planned = plan("rhel9", host_keys=(SERVER_KEY, OTHER_KEY))
    known = files(planned)["/etc/ssh/ssh_known_hosts2"]
    assert known["mode"] == "0644"
    assert known["content"].splitlines()[2:] == [f"dumps.example.org {SERVER_KEY}", f"dumps.example.org {OTHER_KEY}"]
    assert all(line.startswith("# ") for line in known["content"].splitlines()[:2])  # comments to ssh
    conf = kdump_conf(files(planned)["/etc/kdump.conf"]["content"])
    # dracut's ssh-client module copies only ssh_known_hosts and root's known_hosts: extra_bins
    # puts this one into the capture initrd, and its mtime makes kdumpctl rebuild the initrd.
    assert conf["extra_bins"] == "/etc/ssh/ssh_known_hosts2"
    assert "/etc/ssh/ssh_known_hosts2" not in planned["obsolete_files"]
    # the admin's own files are never planned
    assert not {"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_config", "/root/.ssh/config",
                "/root/.ssh/known_hosts"} & set(files(planned))


def test_red_hat_known_hosts_names_the_host_as_ssh_looks_it_up():
    planned = plan("rhel9", ssh_policy(host="Dumps.Example.ORG"))
    assert files(planned)["/etc/ssh/ssh_known_hosts2"]["content"].endswith(f"\ndumps.example.org {SERVER_KEY}\n")
    assert kdump_conf(files(planned)["/etc/kdump.conf"]["content"])["ssh"] == "kdump@dumps.example.org"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_openssh_finds_the_rendered_pin(tmp_path):
    known = tmp_path / "ssh_known_hosts2"
    known.write_text(files(plan("rhel10"))["/etc/ssh/ssh_known_hosts2"]["content"])
    found = subprocess.run(["ssh-keygen", "-F", "dumps.example.org", "-f", str(known)], capture_output=True, text=True)
    assert found.returncode == 0 and f"dumps.example.org {SERVER_KEY}" in found.stdout
    assert subprocess.run(["ssh-keygen", "-F", "other.example.org", "-f", str(known)]).returncode == 1


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs OpenSSH's ssh")
def test_ssh_reads_ssh_known_hosts2_by_default():
    # kdumpctl, mkdumprd and kdump.sh pass no known-hosts option: OpenSSH's defaults decide.
    shown = subprocess.run(["ssh", "-G", "-F", "/dev/null", "dumps.example.org"], capture_output=True, text=True,
                           check=True).stdout
    line = next(line for line in shown.splitlines() if line.startswith("globalknownhostsfile "))
    assert line.split()[1:] == ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]


def test_red_hat_other_targets_remove_an_earlier_pin():
    local = normalise_policy({"target": {"type": "local", "path": "/var/crash"}})
    planned = plan("rhel9", local, host_keys=())
    assert "/etc/ssh/ssh_known_hosts2" in planned["obsolete_files"]
    assert "extra_bins" not in kdump_conf(planned["files"][0]["content"])


def test_red_hat_ssh_writes_a_flattened_core_collector_and_the_server_path():
    conf = kdump_conf(files(plan("rhel9"))["/etc/kdump.conf"]["content"])
    assert conf["path"] == "/srv/crash"
    assert conf["core_collector"].split()[:2] == ["makedumpfile", "-F"]


# --- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["rhel9", "rhel10", "sles15", "debian12"])
def test_ssh_without_a_pinned_host_key_is_refused(host):
    errors = plan_errors(host, host_keys=())
    dist = HOSTS[host]["distribution"]
    assert f"host web01 ({dist['id']} {dist['version_id']}): kdump_policy.target.host: no SSH host key known for " \
           "dumps.example.org" in "\n".join(errors)


@pytest.mark.parametrize("host, reason", [
    ("rhel9", "2222 is not supported: kdump.conf has no SSH port setting"),
    ("sles15", "2222 is not supported: kdump's initrd setup records the server's host key as host:port"),
])
def test_a_port_other_than_22_is_refused(host, reason):
    errors = plan_errors(host, ssh_policy(port=2222))
    assert any("kdump_policy.target.port: " + reason in e for e in errors), errors


@pytest.mark.parametrize("host", ["rhel9", "sles15"])
@pytest.mark.parametrize("key", ["*", "dumps.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
                                 f"{SERVER_KEY}\n* {SERVER_KEY}"])
def test_a_host_key_that_is_not_one_key_is_refused(host, key):
    # "*" in KDUMP_HOST_KEY turns SUSE's host key checking off; a newline would add a known_hosts line
    errors = plan_errors(host, host_keys=(key,))
    assert any("host_keys: expected a public host key 'TYPE BASE64' on one line" in e for e in errors), errors


@pytest.mark.parametrize("version", [None, "1.0.2-150500.1.1", "1.9.8-1.1", "2.0.16-150600.3.1"])
def test_suse_ssh_needs_a_kdump_save_that_sets_umask_077(version):
    errors = plan_errors("sles15", **suse_kdump_pkg(version))
    assert any("kdump_policy.target.type: 'ssh' needs kdump 2.0.17 or later" in e for e in errors), errors


@pytest.mark.parametrize("version", ["2.0.17-150600.3.1", "2.1.9-1.1"])
def test_suse_ssh_with_kdump_2_0_17_and_later_is_planned(version):
    assert plan("sles15", **suse_kdump_pkg(version))["target"] == "ssh"


# --- SUSE: KDUMP_HOST_KEY and the formats ------------------------------------------------------

def sourced(text, tmp_path, script):
    """stdout of a bash script run after sourcing the rendered sysconfig file, as kdump does."""
    config = tmp_path / "kdump"
    config.write_text(text)
    return subprocess.run(["bash", "-c", f'. "$1"; {script}', "bash", str(config)], check=True,
                          capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_suse_initrd_known_hosts_is_the_pinned_key_for_the_host(tmp_path):
    text = files(plan("sles15", host_keys=(SERVER_KEY, OTHER_KEY)))["/etc/sysconfig/kdump"]["content"]
    # module-setup.sh kdump_init_ssh, word for word: the capture kernel's known_hosts
    initrd = sourced(text, tmp_path, 'URL=${KDUMP_SAVEDIR#*://}; HOST="${URL%%/*}"; HOST="${HOST#*@}"; '
                                     'echo "${HOST} ${KDUMP_HOST_KEY}"')
    assert initrd == f"dumps.example.org {SERVER_KEY}\n"


@pytest.mark.parametrize("compression", ["auto", "none", "zlib", "lzo", "snappy", "zstd"])
def test_suse_ssh_never_writes_a_raw_dump(compression):
    policy = normalise_policy({"target": ssh_policy()["target"], "on_failure": "reboot",
                               "filter": {"compression": compression}})
    facts = {"tooling": {"compressions": ["zlib", "lzo", "snappy", "zstd"], "packages": {"kdump": "2.1.1-1.1"}}}
    text = files(plan("sles15", policy, **facts))["/etc/sysconfig/kdump"]["content"]
    formats = [line for line in text.splitlines() if line.startswith("KDUMP_DUMPFORMAT=")]
    # kdump-save: raw is `cat /proc/vmcore`, none saves no vmcore; the others run makedumpfile -F
    assert formats and all(line not in ("KDUMP_DUMPFORMAT='raw'", "KDUMP_DUMPFORMAT='none'") for line in formats)


# --- contract: the tools' commands, from the rendered files, through the receiver -------------

@pytest.fixture
def server(tmp_path):
    base = tmp_path / "srv"
    (base / "web01").mkdir(parents=True, mode=0o700)
    (base / "db01").mkdir(mode=0o700)
    return base


def accepted(client_dir, command, data=b""):
    done = receive(client_dir, command, data)
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


def scp_sink_input(name, data):
    """What scp -t reads from a legacy-protocol scp client sending one file."""
    return f"C0644 {len(data)} {name}\n".encode() + data + b"\0"


def test_red_hat_service_start_and_crash_commands_are_accepted(server):
    conf = kdump_conf(files(plan("rhel9", ssh_policy(path=str(server))))["/etc/kdump.conf"]["content"])
    path, client = conf["path"], server / "web01"
    assert "-F" in conf["core_collector"].split()  # so the stream is makedumpfile's flattened format
    # kdumpctl start: check_and_wait_network_ready
    accepted(client, f"mkdir -p {path}")
    # mkdumprd: mkdir_save_path_ssh (mkdir, mktemp -d as the write probe, rmdir), check_size
    accepted(client, f"mkdir -p {path}")
    probe = accepted(client, f"mktemp -dqp {path}").decode().strip()
    accepted(client, f"rmdir {probe}")
    assert int(accepted(client, f"df --output=avail {path}").decode().splitlines()[-1]) > 0
    # kdump.sh in the capture kernel: dump_ssh, with _ssh_dir = $KDUMP_PATH/$HOST_IP-$DATEDIR
    ssh_dir = f"{path}/{HOST_IP}-{time.strftime('%Y-%m-%d-%T')}"
    accepted(client, f"mkdir -p {ssh_dir}")
    accepted(client, f"umask 0077 && dd of='{ssh_dir}/vmcore-dmesg-incomplete.txt'", DMESG)
    accepted(client, f"mv {ssh_dir}/vmcore-dmesg-incomplete.txt {ssh_dir}/vmcore-dmesg.txt")
    accepted(client, f"umask 0077 && dd bs=512 of='{ssh_dir}/vmcore-incomplete'", DUMP)
    accepted(client, f"mv '{ssh_dir}/vmcore-incomplete' '{ssh_dir}/vmcore.flat'")
    accepted(client, f"scp -t {ssh_dir}/", scp_sink_input("kexec-dmesg.log", b"kdump: saving vmcore complete\n"))
    saved = client / ssh_dir.rsplit("/", 1)[1]
    assert sorted(p.name for p in saved.iterdir()) == ["kexec-dmesg.log", "vmcore-dmesg.txt", "vmcore.flat"]
    assert (saved / "vmcore.flat").read_bytes() == DUMP and (saved / "vmcore-dmesg.txt").read_bytes() == DMESG
    assert oct((saved / "vmcore.flat").stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in client.iterdir()) == [saved.name]  # the probe is gone
    assert list((server / "db01").iterdir()) == []


def test_red_hat_with_another_path_fails_at_service_start(server):
    # The receiver maps only its base path: a client configured elsewhere fails at kdumpctl start.
    conf = kdump_conf(files(plan("rhel9", ssh_policy(path=str(server / "web01"))))["/etc/kdump.conf"]["content"])
    assert receive(server / "web01", f"mkdir -p {conf['path']}").returncode == 2


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_suse_kdump_save_commands_are_accepted(server, tmp_path):
    text = files(plan("sles15", ssh_policy(path=str(server))))["/etc/sysconfig/kdump"]["content"]
    # kdump-save: URL_DIR from KDUMP_SAVEDIR, DIR = URL_DIR/HOSTNAME-DUMPTIME, word for word
    url_dir = sourced(text, tmp_path, 'URL=${KDUMP_SAVEDIR#*://}; printf %s "/${URL#*/}"')
    assert sourced(text, tmp_path, 'printf %s "$KDUMP_DUMPFORMAT"') not in ("raw", "none")
    directory = f"{url_dir}/web01.example.org-{time.strftime('%Y-%m-%d-%H-%M')}"
    client = server / "web01"

    def save(name, data):
        return accepted(client, f"umask 077; mkdir -p {directory} && cat > {directory}/{name}", data)

    save("README.txt", b"This file will be overwritten when the dump is finished.\nIf you see this text ...\n")
    save("dmesg", DMESG)
    save("vmcore", DUMP)
    save("README.txt", b"Kernel crashdump\n----------------\ndmesg status: saved successfully\n")
    saved = client / directory.rsplit("/", 1)[1]
    assert sorted(p.name for p in saved.iterdir()) == ["README.txt", "dmesg", "vmcore"]
    assert (saved / "vmcore").read_bytes() == DUMP
    assert (saved / "README.txt").read_text().startswith("Kernel crashdump")
    assert list((server / "db01").iterdir()) == []


def test_suse_kdump_save_before_2_0_17_would_be_refused(server):
    # Why the plan refuses older kdump for ssh: their kdump-save sends this, without umask 077.
    directory = f"{server}/web01.example.org-2026-11-28-03-05"
    refused = receive(server / "web01", f"mkdir -p {directory} && cat > {directory}/vmcore", DUMP)
    assert refused.returncode == 2 and list((server / "web01").iterdir()) == []
