"""kdump_config's one run: the ssh client's own access check (every argv, each outcome, and against a
real sshd with the real receiver), and the decisions of Enforcer on a fake Debian root with fake
runners: packages missing -> nothing else changes; converged -> nothing to do; the plan after the
install is the plan of the converged host."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _ssh_access
from ansible_collections.crashdump.kdump.plugins.module_utils._facts import Host, gather
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import DebianHost
from ansible_collections.crashdump.kdump.plugins.module_utils._plan import make_plan
from ansible_collections.crashdump.kdump.plugins.modules import kdump_config
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy

from test_dump_server_sshd import free_port, running_server  # noqa: F401 (running_server: the sshd fixture)
from test_kdump_config import FakeModule
from test_kdump_facts import FakeTools, fixture, write

TARGET = {"type": "ssh", "host": "Dumps.Example.org", "user": "kdump", "port": 2222, "path": "/srv/crash",
          "key": "/root/.ssh/kdump_id_ed25519"}
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq7 crashdump-kdump:web01"


class Runner:
    """A fake command runner: records each argv (with the known_hosts it was given) and answers once."""

    def __init__(self, answer):
        self.answer, self.calls, self.known_hosts = answer, [], []

    def __call__(self, argv):
        self.calls.append(argv)
        option = next(a for a in argv if a.startswith("UserKnownHostsFile="))
        with open(option.split("=", 1)[1]) as handle:
            self.known_hosts.append(handle.read())
        return self.answer


def expected_argv(known_hosts):
    return ["/usr/bin/ssh", "-i", "/root/.ssh/kdump_id_ed25519", "-p", "2222",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
            "kdump@Dumps.Example.org", "check"]


def probe(tmp_path, answer, target=TARGET):
    runner = Runner(answer)
    result = _ssh_access.check_access(runner, lambda name: f"/usr/bin/{name}", target, [HOST_KEY], str(tmp_path))
    return result, runner


@pytest.mark.parametrize("answer, state", [
    ((0, "ok free=1073741824\n", ""), "ok"),
    ((255, "", "kdump@dumps.example.org: Permission denied (publickey).\r\n"), "not_enrolled"),
    ((255, "", "No ED25519 host key is known for [dumps.example.org]:2222 and you have requested strict "
               "checking.\r\nHost key verification failed.\r\n"), "host_key_mismatch"),
    ((255, "", "@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n"), "host_key_mismatch"),
])
def test_the_probe_runs_ssh_as_the_capture_kernel_does(tmp_path, answer, state):
    (result_state, detail), runner = probe(tmp_path, answer)
    assert result_state == state
    assert detail == ("" if state == "ok" else answer[2].strip())
    known_hosts, = [a.split("=", 1)[1] for a in runner.calls[0] if a.startswith("UserKnownHostsFile=")]
    assert runner.calls == [expected_argv(known_hosts)]
    assert os.path.dirname(os.path.dirname(known_hosts)) == str(tmp_path)
    assert runner.known_hosts == [f"[dumps.example.org]:2222 {HOST_KEY}\n"]  # only the pinned key, lower-cased
    assert os.listdir(tmp_path) == []  # the temporary known_hosts is gone


@pytest.mark.parametrize("answer, message", [
    ((255, "", "ssh: connect to host dumps.example.org port 2222: Connection refused\r\n"),
     "the dump server kdump@Dumps.Example.org port 2222 is unreachable from this host (ssh rc=255): "
     "ssh: connect to host dumps.example.org port 2222: Connection refused"),
    ((255, "", "ssh: connect to host dumps.example.org port 2222: Connection timed out\r\n"),
     "the dump server kdump@Dumps.Example.org port 2222 is unreachable from this host (ssh rc=255): "
     "ssh: connect to host dumps.example.org port 2222: Connection timed out"),
    ((2, "", "crashdump-kdump-receive: misconfigured\n"),
     "the dump server kdump@Dumps.Example.org port 2222 did not answer `check` as the crashdump.kdump receiver "
     "does (rc=2; is the key enrolled with the dump_server role?): crashdump-kdump-receive: misconfigured"),
    ((0, "check: command not found\n", ""),  # a key with a shell instead of the receiver
     "the dump server kdump@Dumps.Example.org port 2222 did not answer `check` as the crashdump.kdump receiver "
     "does (rc=0; is the key enrolled with the dump_server role?): check: command not found"),
])
def test_an_unreachable_or_foreign_server_is_an_error_not_a_pass(tmp_path, answer, message):
    with pytest.raises(_ssh_access.AccessError) as info:
        probe(tmp_path, answer)
    assert str(info.value) == message


def test_no_probe_without_a_key_a_host_key_or_ssh(tmp_path):
    assert _ssh_access.precondition(TARGET, None, [HOST_KEY]) == ("no_key", "/root/.ssh/kdump_id_ed25519.pub does not exist")
    assert _ssh_access.precondition(TARGET, PUBLIC_KEY, []) == (
        "no_host_key", "no host key of Dumps.Example.org is pinned on this host")
    assert _ssh_access.precondition(TARGET, PUBLIC_KEY, [HOST_KEY]) == (None, "")
    runner = Runner((0, "ok free=1\n", ""))
    assert _ssh_access.check_access(runner, lambda name: None, TARGET, [HOST_KEY], str(tmp_path)) == (
        "no_client", "ssh is not installed")
    assert runner.calls == []


# --- the probe against a real sshd and the real receiver ------------------------------------------

def test_the_probe_against_the_real_receiver(running_server, tmp_path):
    server = running_server
    target = dict(TARGET, host="127.0.0.1", user="root", port=server.port, key=str(server.root / "keys" / "web01"))
    host_key = " ".join((server.root / "host_key.pub").read_text().split()[:2])

    def run(argv):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return done.returncode, done.stdout, done.stderr

    def which(name):
        return name
    assert _ssh_access.check_access(run, which, target, [host_key], str(tmp_path))[0] == "ok"
    other_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    assert _ssh_access.check_access(run, which, target, [other_key], str(tmp_path))[0] == "host_key_mismatch"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True)
    stranger = dict(target, key=str(tmp_path / "stranger"))
    assert _ssh_access.check_access(run, which, stranger, [host_key], str(tmp_path))[0] == "not_enrolled"
    free = dict(target, port=free_port())
    with pytest.raises(_ssh_access.AccessError) as info:
        _ssh_access.check_access(run, which, free, [host_key], str(tmp_path))
    assert "is unreachable from this host (ssh rc=255): ssh: connect to host 127.0.0.1 port" in str(info.value)
    assert "Connection refused" in str(info.value)


# --- Enforcer on a fake Debian root ---------------------------------------------------------------

def debian_root(root, installed=True, reserved=192 << 20):
    write(root, "/etc/os-release", fixture("os-release.debian12"))
    total = (2 << 30) - reserved  # MemTotal leaves out the reservation
    write(root, "/proc/meminfo", f"MemTotal: {total // 1024} kB\n")
    write(root, "/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=x ro"
                                 + (" crashkernel=192M\n" if reserved else "\n"))
    write(root, "/proc/sys/kernel/osrelease", "6.1.0-50-amd64\n")
    write(root, "/sys/kernel/kexec_crash_size", f"{reserved}\n")
    write(root, "/sys/kernel/kexec_crash_loaded", "1\n" if reserved else "0\n")
    write(root, "/boot/grub/grub.cfg", "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-6.1.0-50-amd64 root=UUID=x ro"
                                       + (" crashkernel=192M" if reserved else "") + "\n}\n")
    if installed:
        write(root, "/var/lib/kdump/initrd.img-6.1.0-50-amd64", "initrd")


def tools(installed=True):
    if not installed:
        return {"dpkg-query": (1, "", "dpkg-query: no packages found matching kdump-tools"),
                "systemctl": (0, fixture("systemctl-show.not-found.debian12"), "")}
    return {"dpkg-query": (0, fixture("dpkg-query.debian12"), ""),
            "makedumpfile": (0, fixture("makedumpfile-v.debian12"), ""),
            "systemctl": (0, fixture("systemctl-show.enabled.debian12"), "")}


POLICY = normalise_policy({"reservation": {"size": "192M"}, "panic_on": {}}, host="web01")


class Module(FakeModule):
    def __init__(self, check_mode=False, responses=None, policy=POLICY, host_keys=()):
        super().__init__(check_mode, dict(responses or {}))
        self.params = {"policy": policy, "host_keys": list(host_keys), "inventory_hostname": "web01",
                       "capture_script": "#!/bin/sh\n# capture\n"}
        self.tmpdir = None


def enforce(root, fake_tools, **module_args):
    module = Module(**module_args)
    reader = Host(fake_tools.run, fake_tools.which, root=str(root))
    return kdump_config.Enforcer(module, reader, lambda family: DebianHost(module, root=str(root))).run(), module


def tree(root):
    found = {}
    for directory, dummy, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                found[path] = handle.read()
    return found


def test_missing_packages_change_nothing_else(tmp_path):
    debian_root(tmp_path, installed=False, reserved=0)
    before, fake = tree(tmp_path), FakeTools(tools(installed=False))
    result, module = enforce(tmp_path, fake)
    assert result["pending"] == ["packages"] and result["changed"] is False
    assert result["missing_packages"] == ["kdump-tools", "makedumpfile", "kexec-tools"]
    assert result["package_manager"] == "apt"
    assert module.calls == []  # no host backend command: nothing written, enabled or loaded
    assert tree(tmp_path) == before
    assert "changed_files" not in result
    assert [call[0] for call in fake.calls] == ["/usr/sbin/dpkg-query", "/usr/sbin/systemctl"]


def test_check_mode_predicts_even_with_packages_missing(tmp_path):
    debian_root(tmp_path, installed=False, reserved=0)
    before = tree(tmp_path)
    result, module = enforce(tmp_path, FakeTools(tools(installed=False)), check_mode=True)
    assert result["pending"] == ["packages"] and result["changed"] is True
    assert "/etc/default/kdump-tools" in result["changed_files"]
    assert tree(tmp_path) == before


def converge(root, outputs=None, **module_args):
    """Apply once on an installed host (the load loads)."""
    result, module = enforce(root, FakeTools(outputs or tools()), **module_args, responses={
        "kdump-config load": lambda: (write(root, "/sys/kernel/kexec_crash_loaded", "1\n"), (0, "", ""))[1]})
    assert result["pending"] == [] and result["changed"] is True
    return result


def test_a_converged_host_has_nothing_to_do(tmp_path):
    debian_root(tmp_path)
    converge(tmp_path)
    before = tree(tmp_path)
    result, module = enforce(tmp_path, FakeTools(tools()))
    assert result["pending"] == [] and result["changed"] is False and result["changed_files"] == []
    assert result["reboot_required"] is False and result["loaded"] is True
    assert module.calls == []  # a local target has nothing to check
    assert tree(tmp_path) == before


def test_the_plan_after_the_install_is_the_plan_of_the_converged_host(tmp_path):
    """Run 1 plans from the release table (Debian 12: zlib, lzo); after the install the plan reads the
    installed makedumpfile -v, here one built with zstd (a backport): run 2 and every later run agree."""
    fresh, converged = tmp_path / "fresh", tmp_path / "converged"
    debian_root(fresh, installed=False, reserved=0)
    debian_root(converged)
    with_zstd = dict(tools(), makedumpfile=(0, fixture("makedumpfile-v.zstd"), ""))
    converge(converged, with_zstd)
    policy = normalise_policy({"reservation": {"size": "192M"}, "filter": {"compression": "auto"}}, host="web01")
    before_install = make_plan(policy, gather(Host(*fns(tools(installed=False)), root=str(fresh))), "web01")
    write(fresh, "/var/lib/kdump/initrd.img-6.1.0-50-amd64", "initrd")  # the package is in
    after_install = make_plan(policy, gather(Host(*fns(with_zstd), root=str(fresh))), "web01")
    steady = make_plan(policy, gather(Host(*fns(with_zstd), root=str(converged))), "web01")
    assert before_install["compression"] == "lzo"  # the guess for Debian 12
    assert after_install["compression"] == steady["compression"] == "zstd"
    assert after_install == steady


def fns(outputs):
    fake = FakeTools(outputs)
    return fake.run, fake.which


# --- ssh clients -----------------------------------------------------------------------------

SSH_POLICY = normalise_policy({"reservation": {"size": "192M"}, "target": {
    "type": "ssh", "host": "dumps.example.org", "user": "kdump", "path": "/srv/crash"}}, host="web01")


def ssh_client(root, answer):
    debian_root(root)
    write(root, "/root/.ssh/kdump_id_ed25519.pub", PUBLIC_KEY + "\n")
    outputs = dict(tools(), ssh=answer)
    outputs["dpkg-query"] = (0, fixture("dpkg-query.debian12") + "openssh-client install ok installed 1:9.2p1-2\n", "")
    return outputs


def ssh_calls(fake):
    return [call for call in fake.calls if call[0] == "/usr/sbin/ssh"]


def test_a_converged_ssh_client_proves_its_pinned_access_in_the_same_run(tmp_path):
    outputs = ssh_client(tmp_path, (0, "ok free=5368709120\n", ""))
    converge(tmp_path, outputs, policy=SSH_POLICY, host_keys=[HOST_KEY])  # the run that pinned the key
    assert (tmp_path / "etc/crashdump-kdump/known_hosts").read_text() == f"dumps.example.org {HOST_KEY}\n"
    before, fake = tree(tmp_path), FakeTools(outputs)
    module = Module(policy=SSH_POLICY)  # no host_keys given: the pinned one is used
    reader = Host(fake.run, fake.which, root=str(tmp_path))
    result = kdump_config.Enforcer(module, reader, lambda family: DebianHost(module, root=str(tmp_path))).run()
    assert result["pending"] == [] and result["changed"] is False
    assert result["ssh_access"] == {"state": "ok", "detail": "", "public_key": PUBLIC_KEY}
    probe_call, = ssh_calls(fake)
    known_hosts, = [a.split("=", 1)[1] for a in probe_call if a.startswith("UserKnownHostsFile=")]
    assert probe_call == ["/usr/sbin/ssh", "-i", "/root/.ssh/kdump_id_ed25519", "-p", "22",
                          "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
                          "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                          "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                          "kdump@dumps.example.org", "check"]
    assert module.calls == []  # the probe was the check: the capture script's own would be a second login
    assert tree(tmp_path) == before


def test_the_probe_runs_while_the_host_is_read(tmp_path):
    """The dump server's answer takes as long as an SSH login; the host's own commands run meanwhile.
    Here the fake ssh and the fake dpkg-query (of the host's reading) each wait for the other to have
    started: run one after the other, either would wait in vain and break the barrier."""
    outputs = ssh_client(tmp_path, (0, "ok free=5368709120\n", ""))
    converge(tmp_path, outputs, policy=SSH_POLICY, host_keys=[HOST_KEY])
    both_running = threading.Barrier(2, timeout=10)

    def meeting(answer):
        def command(argv):
            both_running.wait()
            return answer
        return command

    overlapping = dict(outputs, ssh=meeting(outputs["ssh"]), **{"dpkg-query": meeting(outputs["dpkg-query"])})
    result, dummy = enforce(tmp_path, FakeTools(overlapping), policy=SSH_POLICY)
    assert result["ssh_access"]["state"] == "ok" and result["pending"] == [] and result["changed"] is False


def test_an_ssh_client_whose_files_change_runs_the_capture_scripts_check_too(tmp_path):
    outputs = ssh_client(tmp_path, (0, "ok free=5368709120\n", ""))
    converge(tmp_path, outputs, policy=SSH_POLICY, host_keys=[HOST_KEY])
    write(tmp_path, "/etc/default/kdump-tools", "USE_KDUMP=0\n")  # changed by hand since
    result, module = enforce(tmp_path, FakeTools(outputs), policy=SSH_POLICY, host_keys=[HOST_KEY])
    assert result["changed_files"] == ["/etc/default/kdump-tools"]
    assert module.calls[0] == ["/usr/lib/crashdump-kdump/capture", "check"]  # the written files are proven


@pytest.mark.parametrize("answer, state", [
    ((255, "", "kdump@dumps.example.org: Permission denied (publickey).\r\n"), "not_enrolled"),
    ((255, "", "Host key verification failed.\r\n"), "host_key_mismatch"),
])
def test_an_ssh_client_whose_check_fails_changes_nothing(tmp_path, answer, state):
    outputs = ssh_client(tmp_path, answer)
    before, fake = tree(tmp_path), FakeTools(outputs)
    result, module = enforce(tmp_path, fake, policy=SSH_POLICY, host_keys=[HOST_KEY])
    assert result["pending"] == ["ssh"] and result["changed"] is False
    assert result["ssh_access"]["state"] == state and result["ssh_access"]["public_key"] == PUBLIC_KEY
    assert len(ssh_calls(fake)) == 1 and module.calls == []
    assert tree(tmp_path) == before


def test_a_new_ssh_client_without_key_or_host_key_is_pending_without_a_probe(tmp_path):
    outputs = ssh_client(tmp_path, (0, "ok free=1\n", ""))
    os.unlink(tmp_path / "root/.ssh/kdump_id_ed25519.pub")
    before, fake = tree(tmp_path), FakeTools(outputs)
    result, module = enforce(tmp_path, fake, policy=SSH_POLICY)
    assert result["pending"] == ["ssh"] and result["plan"] is None
    assert result["ssh_access"] == {"state": "no_key", "public_key": None,
                                    "detail": "/root/.ssh/kdump_id_ed25519.pub does not exist"}
    assert ssh_calls(fake) == [] and module.calls == [] and tree(tmp_path) == before
    result, module = enforce(tmp_path, FakeTools(outputs), policy=SSH_POLICY, host_keys=[HOST_KEY])
    assert result["ssh_access"]["state"] == "no_key" and result["plan"]["family"] == "debian"
    assert module.calls == [] and tree(tmp_path) == before


def test_an_unreachable_dump_server_fails_the_run_before_any_change(tmp_path):
    outputs = ssh_client(tmp_path, (255, "", "ssh: connect to host dumps.example.org port 22: Connection timed out\r\n"))
    before = tree(tmp_path)
    with pytest.raises(kdump_config.BackendError) as info:
        enforce(tmp_path, FakeTools(outputs), policy=SSH_POLICY, host_keys=[HOST_KEY])
    assert str(info.value) == ("host web01: kdump_policy.target: the dump server kdump@dumps.example.org port 22 is "
                               "unreachable from this host (ssh rc=255): ssh: connect to host dumps.example.org "
                               "port 22: Connection timed out")
    assert tree(tmp_path) == before
