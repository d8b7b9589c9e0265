"""Every other dump target on real VMs (test_1_local did the local one), on the Debian 12 and
Debian 13 clients at once: crash both clients once per target and find each dump where the
policy says, in the format, dump level and compression it says; prove one client's dump key
cannot touch another client's dumps; crash with the dump server down (dump_to_rootfs).

Fleet operations first, on a fleet of the two VMs plus unreachable hosts: the crash_test
rollout stops at a canary that cannot dump; crash_test proves the ssh dump on the server;
site and report run under ansible-runner with strategy free and many forks; the no-op
benchmark.

The tests run in file order: each one applies its case's policy to both clients and crashes
them together (two VMs capture at once: the cases cost one crash of time, not two).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import ansible_runner
import pytest
import yaml
from xml.etree import ElementTree

import kdumplab
import lab_ansible
from ansible_collections.crashdump.kdump.plugins.module_utils import _facts
from ansible_collections.crashdump.kdump.plugins.plugin_utils._policy import normalise_policy
from scenario import CLIENTS, PROJECT, SCENARIO, SERVER, boot_id, every_client, in_browser, record, vm

CLIENT = CLIENTS[-1]  # the one client of the single-client checks (isolation)
CRASH_TIMEOUT = 900  # seconds: capture boot, network, dump and a normal boot, all under TCG
SSH_OPTIONS = "-o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes " \
              "-o UserKnownHostsFile=/etc/crashdump-kdump/known_hosts"
AS_CLIENT = f"-i /root/.ssh/kdump_id_ed25519 {SSH_OPTIONS} kdump@10.0.2.100"  # the capture environment's login

with open(os.path.join(SCENARIO, "vars", "policies.yml"), encoding="utf-8") as handle:
    POLICIES_RAW = yaml.safe_load(handle)["target_policies"]
POLICIES = {case: normalise_policy(policy) for case, policy in POLICIES_RAW.items()}


def server_dir(name):
    return f"/srv/crash/{name}"


@pytest.fixture(scope="module")
def clients():
    return every_client()


@pytest.fixture(scope="module")
def client(clients):
    return clients[CLIENT]


@pytest.fixture(scope="module")
def server():
    return vm(SERVER)


def apply(case):
    """Run the scenario's converge playbook with another case's policy."""
    run = lab_ansible.run_playbook("converge.yml", "-e", f"kdump_case={case}", cwd=SCENARIO, timeout=1800)
    assert run.returncode == 0, f"applying the {case} policy failed:\n{lab_ansible.tail(run)}"


def dumps(host, top):
    out = host.run("find %s -mindepth 2 -maxdepth 2 -name 'dump.*' 2>/dev/null | sort", top).stdout
    return set(out.split())


# What each case reserves on the 1 GiB clients, in MiB, written by hand. auto, from the calibration
# (README "Reservation sizing"): ssh 1.25 x 128M on Debian 12, 1.25 x 112M rounded down to 16 MiB on
# Debian 13; nfs 1.25 x 128M on both. The later cases fix nfs's 160M (vars/policies.yml).
AUTO_SSH_MIB = {"kdump-cli12": 160, "kdump-cli13": 128}
FIXED_MIB = {"kdump-cli12": 160, "kdump-cli13": 160}
RESERVATION_MIB = {"ssh": AUTO_SSH_MIB, "nfs": FIXED_MIB, "device": FIXED_MIB, "raw": FIXED_MIB, "ssh-fixed": FIXED_MIB}


def assert_reserved(clients, case):
    for name, client in clients.items():
        words = [w for w in client.file("/proc/cmdline").content_string.split() if w.startswith("crashkernel=")]
        mib = RESERVATION_MIB[case][name]
        assert words == [f"crashkernel={mib}M"], (name, case, words)
        assert int(client.file("/sys/kernel/kexec_crash_size").content_string) == mib * 2**20, (name, case)


def crash_all(case, where):
    """Crash every client at once with the case's policy applied; where(name) gives (host, directory)
    that client's dump must land under. {name: (the one new dump, the crash timings)}."""
    assert_reserved(every_client(), case)
    places = {name: where(name) for name in CLIENTS}
    before = {name: dumps(host, top) for name, (host, top) in places.items()}
    with ThreadPoolExecutor(len(CLIENTS)) as pool:
        timings = dict(zip(CLIENTS, pool.map(lambda name: kdumplab.crash(name, CRASH_TIMEOUT), CLIENTS)))
    found = {}
    for name, (host, top) in places.items():
        new = sorted(dumps(host, top) - before[name])
        assert len(new) == 1, f"{name}: expected one new dump under {top}, found {new}\n" \
                              f"{kdumplab.console_tail(name, 60)}"
        found[name] = (new[0], timings[name])
    return found


def details(host, path):
    """Format, compression and dump level from the dump's own header."""
    head = base64.b64decode(host.check_output("head -c %s %s | base64 -w0", str(_facts.HEAD_BYTES), path))
    return dict(_facts.dump_details(head), format=_facts.dump_format(head))


def last_capture(client):
    text = client.file("/var/lib/crashdump-kdump/last-capture").content_string
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def check_dump(host, path, case, fmt="flattened"):
    policy = POLICIES[case]
    assert details(host, path) == {"format": fmt, "compression": policy["filter"]["compression"],
                                   "dump_level": policy["filter"]["dump_level"]}
    dump = host.file(path)
    assert dump.size > 1024 * 1024
    assert dump.mode == 0o600, "a vmcore holds the host's memory"
    assert host.file(os.path.dirname(path)).mode == 0o700
    stamp = path.rsplit(".", 1)[1]
    assert "sysrq: Trigger a crash" in host.file(f"{os.path.dirname(path)}/dmesg.{stamp}").content_string
    return dump.size


GHOSTS = [f"ghost-{n:02d}" for n in range(1, 21)]  # a closed loopback port: unreachable at once


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """An inventory added to Molecule's: the clients with the ssh policy; the dump server with a
    local policy it was never given (kdump not set up: the broken canary); 20 unreachable hosts."""
    # A fixed reservation: auto refuses the server's 512 MiB of RAM, and the canary must be refused
    # for not being loaded, not for its policy.
    local = {"target": {"type": "local"}, "reservation": {"size": "128M"}, "reboot": "never"}
    inventory = {"all": {"children": {
        "dump_servers": {"hosts": {SERVER: {"kdump_policy": local}}},
        "clients": {"hosts": {name: {"kdump_policy": POLICIES_RAW["ssh"], "kdump_dump_server": SERVER}
                              for name in CLIENTS}},
        "unreachable": {"hosts": {ghost: {"ansible_host": "127.0.0.1", "ansible_port": 9, "kdump_policy": local}
                                  for ghost in GHOSTS}},
    }}}
    path = tmp_path_factory.mktemp("fleet") / "fleet.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return str(path)


def crash_test(fleet, results, *args):
    return lab_ansible.run_playbook("crashdump.kdump.crash_test", "-e", "crash_test_confirm=true",
                                    "-e", f"crash_test_results_dir={results}", *args,
                                    extra_inventories=[fleet], timeout=CRASH_TIMEOUT + 900)


def crash_test_fact(host):
    fact = host.file("/etc/ansible/facts.d/crashdump_kdump.fact")
    return json.loads(fact.content_string) if fact.exists else None


def test_crash_test_rollout_stops_at_a_canary_that_cannot_dump(clients, server, fleet, tmp_path):
    before = {name: (boot_id(host), crash_test_fact(host)) for name, host in clients.items()}
    run = crash_test(fleet, tmp_path, "-e", f"kdump_hosts={SERVER}:clients", "-e", '{"crash_test_serial": [1, 1]}')
    assert run.returncode != 0, lab_ansible.tail(run)
    assert "refused, not crashed: the capture kernel is not loaded" in run.stdout + run.stderr, lab_ansible.tail(run)
    recap = run.stdout[run.stdout.rindex("PLAY RECAP"):]
    assert SERVER in recap and not any(name in recap for name in CLIENTS), "the rollout went past the failed canary"
    assert {name: (boot_id(host), crash_test_fact(host)) for name, host in clients.items()} == before
    assert crash_test_fact(server)["passed"] is False, "the refusal is recorded for the report"


def test_crash_test_proves_the_ssh_dump_on_the_server(clients, server, fleet, tmp_path):
    # From converge's local case: auto reserves the same size for ssh on these clients (no reboot).
    apply("ssh")
    assert_reserved(clients, "ssh")  # the crash below is at auto's size
    before = {name: dumps(server, server_dir(name)) for name in CLIENTS}
    # Both clients in one batch: they crash at once.
    run = crash_test(fleet, tmp_path, "-e", "kdump_hosts=clients", "-e", '{"crash_test_serial": [2]}')
    assert run.returncode == 0, lab_ansible.tail(run)
    for name, client in clients.items():
        fact = crash_test_fact(client)
        assert fact["passed"] is True and fact["on_server"] is True, (name, fact)
        assert sorted(dumps(server, server_dir(name)) - before[name]) == [fact["location"]]
        size = check_dump(server, fact["location"], "ssh")  # checked again here, not taken from the fact
        assert fact["size"] == size and fact["compression"] == "zlib"
        assert server.file(fact["location"]).user == "kdump"
        assert server.file(server_dir(name)).mode == 0o700
        assert last_capture(client)["result"] == "saved"
        stamp = fact["location"].rsplit(".", 1)[1]
        assert "sysrq: Trigger a crash" in (tmp_path / name / f"dmesg.{stamp}").read_text(), "dmesg fetched"
        record(f"ssh-{name}", {"seconds_crash_to_back": fact["seconds_crash_to_back"],
                               "dump": fact["location"], "dump_bytes": size})


def runner(fleet, playbook, tmp_path, **extravars):
    """The playbook under ansible-runner, as AWX runs it: strategy free, 30 forks."""
    settings = lab_ansible.ansible_env(ANSIBLE_STRATEGY="free", ANSIBLE_FORKS="30")
    env = {key: value for key, value in settings.items() if key.startswith("ANSIBLE_")}
    (tmp_path / "runner").mkdir(exist_ok=True)
    result = ansible_runner.run(private_data_dir=str(tmp_path / "runner"), playbook=playbook,
                                cmdline=" ".join(lab_ansible.inventories(fleet)), envvars=env,
                                extravars=extravars, quiet=True, timeout=1800)
    return result, result.stats or {}


def test_site_under_runner_converges_reachable_hosts_and_lists_the_unreachable(fleet, tmp_path):
    result, stats = runner(fleet, "crashdump.kdump.site", tmp_path, kdump_hosts="clients:unreachable")
    assert result.rc != 0 and sorted(stats["dark"]) == GHOSTS, stats  # listed, not hidden
    for name in CLIENTS:
        assert name in stats["ok"] and name not in stats["failures"] and name not in stats["changed"], stats


def test_report_under_runner_shows_every_host(fleet, tmp_path):
    report_dir = tmp_path / "report"
    result, stats = runner(fleet, "crashdump.kdump.report", tmp_path, kdump_report_dir=str(report_dir))
    assert result.rc == 0, stats
    with open(report_dir / "kdump-report.json", encoding="utf-8") as handle:
        rows = {row["host"]: row for row in json.load(handle)["hosts"]}
    expected = dict({name: "compliant" for name in CLIENTS}, **{SERVER: "noncompliant"},
                    **{ghost: "unreachable" for ghost in GHOSTS})
    assert {host: row["status"] for host, row in rows.items()} == expected, rows
    assert any(reason.startswith("last crash test failed") and "refused, not crashed" in reason
               for reason in rows[SERVER]["reasons"]), rows[SERVER]
    cases = {case.get("name"): case for case in ElementTree.parse(report_dir / "kdump-report.xml").iter("testcase")}
    assert sorted(cases) == sorted(expected)
    assert all(cases[name].find("failure") is None for name in CLIENTS) and cases[SERVER].find("failure") is not None
    in_browser(report_dir, expected)


def test_noop_benchmark_runs_and_changes_nothing(fleet, clients, tmp_path):
    figures = tmp_path / "bench-noop.json"
    run = subprocess.run([sys.executable, os.path.join(PROJECT, "scripts", "bench-noop.py"),
                          *lab_ansible.inventories(fleet), "--hosts", "clients", "--repeat", "2",
                          "--json", str(figures)],
                         env=lab_ansible.ansible_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    result = json.loads(figures.read_text())
    assert all(result["per_host"][name]["changed"] == 0 for name in CLIENTS)
    assert sorted(result["ratio_noop_to_ping"]) == ["off", "on"]
    print("\n" + run.stdout)
    record("bench-noop", dict(result, probe_seconds=probe_seconds(clients)))


def probe_seconds(clients, rounds=3):
    """Per client, the median cost of the module's probe of its dump server (`check` with the dump
    key), measured apart: an ssh command's round trip minus that of `true`, alternating."""
    def elapsed(host, command):
        start = time.monotonic()
        host.check_output(command)
        return time.monotonic() - start
    medians = {}
    for name, host in clients.items():
        costs = sorted(elapsed(host, f"ssh {AS_CLIENT} check") - elapsed(host, "true") for _ in range(rounds))
        medians[name] = round(costs[rounds // 2], 2)
    print(f"probe of the dump server, seconds: {medians}")
    return medians


def exit_status(host, command, *args):
    """(exit status, stdout) of a command that may exit 255, which testinfra's ssh takes for its own failure."""
    out = host.run(f"{command}; echo \"exit=$?\"", *args).stdout
    body, _, status = out.rstrip().rpartition("exit=")
    return int(status), body


def test_a_clients_key_cannot_read_list_or_delete_another_clients_dumps(client, server):
    # A second client, enrolled like any other, leaves a dump of its own.
    client.check_output("rm -f /root/other_key* && ssh-keygen -q -t ed25519 -N '' -f /root/other_key")
    server.check_output("echo %s | crashdump-kdump-enroll other-host",
                        client.file("/root/other_key.pub").content_string.strip())
    other = f"-i /root/other_key {SSH_OPTIONS} kdump@10.0.2.100"
    stamp = time.strftime("%Y%m%d%H%M%S")  # a fresh dump of the other client on every run
    # The receiver keeps only whole flattened makedumpfile streams: header, one buffer, end marker.
    flat = ("import struct, sys; sys.stdout.buffer.write((b'makedumpfile' + bytes(4) + struct.pack('>qq', 1, 1))"
            ".ljust(4096, bytes(1)) + struct.pack('>qq', 0, 17) + b'other-host-secret' + struct.pack('>qq', -1, -1))")
    client.check_output(f'python3 -c "{flat}" | ssh {other} put {stamp} dump && ssh {other} commit {stamp} dump')
    victim = f"/srv/crash/other-host/{stamp}/dump.{stamp}"
    before = server.check_output("sha256sum %s", victim)
    attempts = [
        "ls /srv/crash/other-host", "ls", "cat " + victim, "rm -rf /srv/crash/other-host",
        "scp -f " + victim, f"put ../other-host/{stamp} dump", f"put {stamp} ../../other-host",
        "prune 1 /srv/crash/other-host", f"commit ../other-host/{stamp} dump", "/usr/lib/openssh/sftp-server",
        "internal-sftp", "sh -c id",
    ]
    for attempt in attempts:
        rc, out = exit_status(client, f"ssh {AS_CLIENT} %s", attempt)
        assert rc != 0, f"{attempt!r} was allowed: {out}"
        assert "other-host-secret" not in out
    rc, dummy = exit_status(client, f"echo 'get {victim} /tmp/stolen' | sftp -b - {AS_CLIENT}")
    assert rc != 0 and not client.file("/tmp/stolen").exists
    assert server.check_output("sha256sum %s", victim) == before
    assert server.file(victim).mode == 0o600


def test_nfs_dump_lands_in_the_clients_directory_on_the_export(clients, server):
    apply("nfs")
    for name, (path, timing) in crash_all("nfs", lambda name: (server, server_dir(name))).items():
        size = check_dump(server, path, "nfs")
        assert server.file(path).user == "kdump", "all_squash: NFS writes belong to the dump account"
        assert last_capture(clients[name])["result"] == "saved"
        record(f"nfs-{name}", dict(timing, dump=path, dump_bytes=size))


MOUNT = "/var/lib/crashdump-kdump/target"


def test_device_dump_lands_on_the_dedicated_filesystem(clients):
    apply("device")
    for client in clients.values():
        assert client.mount_point(MOUNT).exists and client.mount_point(MOUNT).device.startswith("/dev/vd")
    for name, (path, timing) in crash_all("device", lambda name: (clients[name], f"{MOUNT}/dumps")).items():
        client = clients[name]
        assert client.mount_point(MOUNT).exists, "the dump filesystem is mounted again after the reboot"
        size = check_dump(client, path, "device")
        record(f"device-{name}", dict(timing, dump=path, dump_bytes=size))


def test_raw_dump_is_recovered_into_a_dump_file_at_boot(clients):
    apply("raw")
    for name, (path, timing) in crash_all("raw", lambda name: (clients[name], "/var/crash")).items():
        client = clients[name]
        # makedumpfile -R turns the flattened stream back into a kdump-compressed file.
        size = check_dump(client, path, "raw", fmt="kdump-compressed")
        origin = client.file(f"{os.path.dirname(path)}/origin").content_string
        assert "recovered from raw device /dev/disk/by-id/virtio-rawdump" in origin
        assert last_capture(client)["result"] == "recovered"
        assert client.check_output("head -c 12 /dev/disk/by-id/virtio-rawdump | tr -d '\\0'") == "", \
            "the raw device is wiped once recovered"
        record(f"raw-{name}", dict(timing, dump=path, dump_bytes=size))


def test_server_down_dump_goes_to_the_root_filesystem(clients):
    apply("ssh-fixed")
    kdumplab.stop_vm(SERVER, remove=False)
    for name, (path, timing) in crash_all("ssh-fixed", lambda name: (clients[name], "/var/crash")).items():
        client = clients[name]
        size = check_dump(client, path, "ssh")
        capture = last_capture(client)
        assert capture["result"] == "saved_to_rootfs" and capture["location"] == path
        assert capture["detail"] == "the ssh target failed"
        record(f"ssh-server-down-{name}", dict(timing, dump=path, dump_bytes=size))
