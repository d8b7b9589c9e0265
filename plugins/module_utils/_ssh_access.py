# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to crashdump.kdump (managed host side, standard library only): can this ssh client
dump to its server now? kdump_config asks the dump server's receiver (roles/dump_server/files/receive)
its harmless ``check`` with this host's dump key and only the pinned host keys, as the capture
kernel will connect, so that a converged client proves its access without a task on the server.

Not a public API; it may change without notice.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible_collections.crashdump.kdump.plugins.module_utils._backend_base import known_hosts_line

CONNECT_TIMEOUT = 10  # seconds: an unreachable server fails the run soon, not after TCP's minutes
ALIVE_INTERVAL, ALIVE_COUNT = 5, 3  # a server that stops answering after connecting: about 15 s

# The states of access; each but OK is work the kdump role can do (create the key, enroll it on
# the dump server, pin the server's host key read from the server) before it runs kdump_config again.
OK = "ok"
NO_KEY = "no_key"  # the dump key does not exist yet
NO_HOST_KEY = "no_host_key"  # no host key of the server is pinned on this host, none was given
NOT_ENROLLED = "not_enrolled"  # the server refuses the dump key
HOST_KEY_MISMATCH = "host_key_mismatch"  # the server's host key is not the pinned one
NO_CLIENT = "no_client"  # ssh is not installed yet (its package is in the plan's missing_packages)


class AccessError(Exception):
    """The dump server cannot be asked (unreachable, or not the crashdump.kdump receiver)."""


def probe_argv(ssh, target, known_hosts):
    """ssh as the capture kernel runs it: the dump key only, no prompt, only the pinned host keys."""
    return [ssh, "-i", target["key"], "-p", str(target["port"]),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT}", "-o", f"ServerAliveInterval={ALIVE_INTERVAL}",
            "-o", f"ServerAliveCountMax={ALIVE_COUNT}",
            f"{target['user']}@{target['host']}", "check"]


def outcome(target, rc, out, err):
    """(state, detail) from the probe's result, detail "" when OK; AccessError when the server
    cannot be asked."""
    server = f"{target['user']}@{target['host']} port {target['port']}"
    detail = (err or out or "").strip()[-500:]
    if rc == 0 and out.startswith("ok free="):
        return OK, ""
    if rc == 255 and ("Host key verification failed" in err or "REMOTE HOST IDENTIFICATION HAS CHANGED" in err):
        return HOST_KEY_MISMATCH, detail
    if rc == 255 and "Permission denied" in err:
        return NOT_ENROLLED, detail
    if rc == 255:
        raise AccessError(f"the dump server {server} is unreachable from this host (ssh rc=255): {detail}")
    raise AccessError(f"the dump server {server} did not answer `check` as the crashdump.kdump receiver does "
                      f"(rc={rc}; is the key enrolled with the dump_server role?): {detail}")


def precondition(target, public_key, host_keys):
    """(state, detail) when the probe cannot run yet, else (None, "")."""
    if not public_key:
        return NO_KEY, f"{target['key']}.pub does not exist"
    if not host_keys:
        return NO_HOST_KEY, f"no host key of {target['host']} is pinned on this host"
    return None, ""


def check_access(run, which, target, host_keys, tmpdir=None):
    """(state, detail) of this client's access to its dump server, asked with the dump key.

    run(argv) -> (rc, stdout, stderr); which(name) -> path or None. It writes nothing but a private
    temporary known_hosts of host_keys (in tmpdir), so a key given but not yet pinned is checked too."""
    ssh = which("ssh")
    if ssh is None:
        return NO_CLIENT, "ssh is not installed"
    directory = tempfile.mkdtemp(prefix="crashdump-kdump-", dir=tmpdir)  # 0700
    try:
        known_hosts = os.path.join(directory, "known_hosts")
        with open(known_hosts, "w") as handle:
            handle.write("".join(known_hosts_line(target, key) + "\n" for key in host_keys))
        rc, out, err = run(probe_argv(ssh, target, known_hosts))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return outcome(target, rc, out, err)
