"""kdump_facts' readers: the exact argv of every command they run, and the small files they read
(the capture script's record, the dump key's public half), against a directory tree standing
in for / and a fake runner."""

from __future__ import annotations

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils import _facts, _hostcommon
from ansible_collections.crashdump.kdump.plugins.module_utils._hostbackends import HOST_BACKENDS
from ansible_collections.crashdump.kdump.plugins.modules import kdump_facts

from hostfakes import write

PACKAGES = ["kdump-tools", "kdump-utils", "kexec-tools", "makedumpfile", "kdump", "openssh-client", "nfs-common"]
RPM = ["/usr/bin/rpm", "-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\n"] + PACKAGES
DPKG = ["/usr/bin/dpkg-query", "-W", "-f", "${Package} ${Status} ${Version}\n"] + PACKAGES


class Tools:
    def __init__(self, outputs):
        self.outputs, self.calls = outputs, []

    def which(self, name):
        return f"/usr/bin/{name}" if name in self.outputs else None

    def run(self, args):
        self.calls.append(args)
        return self.outputs[args[0].rsplit("/", 1)[1]]


def host_at(root, outputs):
    tools = Tools(outputs)
    return _facts.Host(tools.run, tools.which, root=str(root)), tools


@pytest.mark.parametrize("family, first", [("redhat", RPM), ("suse", RPM), ("debian", DPKG), ("unknown", DPKG)])
def test_package_query_argv_per_family(tmp_path, family, first):
    host, tools = host_at(tmp_path, {"rpm": (0, "", ""), "dpkg-query": (0, "", "")})
    _facts.query_packages(host, family)
    assert tools.calls == [first]


def test_package_query_falls_back_to_the_other_tool(tmp_path):
    host, tools = host_at(tmp_path, {"dpkg-query": (0, "makedumpfile install ok installed 1:1.7.2-1\n", "")})
    assert _facts.query_packages(host, "redhat")["makedumpfile"] == "1:1.7.2-1"
    assert tools.calls == [DPKG]


def test_makedumpfile_version_argv(tmp_path):
    host, tools = host_at(tmp_path, {"makedumpfile": (0, "makedumpfile: version 1.7.4 (released on 5 Nov 2023)\n", "")})
    tooling = _facts.read_tooling(host, {"family": "redhat", "major": 9, "id": "rhel"})
    assert tools.calls == [["/usr/bin/makedumpfile", "-v"]]
    assert tooling["makedumpfile_version"] == "1.7.4" and tooling["name"] == "kexec-tools"
    assert tooling["installed"] is False


@pytest.mark.parametrize("family, unit", [("redhat", "kdump.service"), ("suse", "kdump.service"),
                                          ("debian", "kdump-tools.service")])
def test_service_argv(tmp_path, family, unit):
    host, tools = host_at(tmp_path, {"systemctl": (0, "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n", "")})
    assert _facts.read_service(host, family) == {"name": unit[:-len(".service")], "enabled": True, "active": True}
    assert tools.calls == [["/usr/bin/systemctl", "show", "--property=LoadState,ActiveState,UnitFileState", unit]]


def test_unknown_family_has_no_service(tmp_path):
    host, tools = host_at(tmp_path, {"systemctl": (0, "enabled\n", "")})
    assert _facts.read_service(host, "unknown") == {"name": None, "enabled": None, "active": None}
    assert tools.calls == []


def test_bootloader_of_red_hat_from_grubby_default(tmp_path):
    output = 'index=0\nkernel="/boot/vmlinuz-6.12.0"\nargs="ro crashkernel=256M"\nroot="/dev/vda3"\n'
    host, tools = host_at(tmp_path, {"grubby": (0, output, "")})
    assert _facts.read_crashkernel(host, "redhat")["bootloader"] == "256M"
    assert tools.calls == [["/usr/bin/grubby", "--info=DEFAULT"]]


def test_failing_grubby_falls_back_to_kernel_cmdline(tmp_path):
    write(tmp_path, "/etc/kernel/cmdline", "root=UUID=1 ro crashkernel=512M\n")
    host, dummy = host_at(tmp_path, {"grubby": (1, "", "grubby: error")})
    assert _hostcommon.next_boot_cmdline(host, "redhat") == ("/etc/kernel/cmdline", "root=UUID=1 ro crashkernel=512M\n")


# --- small files ---------------------------------------------------------------------------------

def test_last_capture_record(tmp_path):
    write(tmp_path, _facts.LAST_CAPTURE_FILE,
          "result=saved_to_rootfs\nlocation=/var/crash/202611280305/dump.202611280305\n"
          "detail=ssh: kdump@10.0.2.100: a=b in the message\nnot a field\n")
    assert _facts.read_last_capture(host_at(tmp_path, {})[0]) == {
        "result": "saved_to_rootfs", "location": "/var/crash/202611280305/dump.202611280305",
        "detail": "ssh: kdump@10.0.2.100: a=b in the message"}


def test_no_last_capture(tmp_path):
    assert _facts.read_last_capture(host_at(tmp_path, {})[0]) is None
    write(tmp_path, _facts.LAST_CAPTURE_FILE, "")
    assert _facts.read_last_capture(host_at(tmp_path, {})[0]) is None


@pytest.mark.parametrize("content, expected", [
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI root@web01\n", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI root@web01"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI root@web01 trailing words\n",
     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI root@web01"),
    ("garbage\n", None),
])
def test_public_key_next_to_the_dump_key(tmp_path, content, expected):
    write(tmp_path, "/root/.ssh/kdump_id_ed25519.pub", content)
    assert _facts.read_public_key(host_at(tmp_path, {})[0], "/root/.ssh/kdump_id_ed25519") == expected


def test_no_public_key(tmp_path):
    host = host_at(tmp_path, {})[0]
    assert _facts.read_public_key(host, "/root/.ssh/missing") is None
    assert _facts.read_public_key(host, None) is None


# --- the module's host -------------------------------------------------------------------------

class Module:
    """AnsibleModule's run_command and get_bin_path: every call recorded; tools in /usr/sbin
    unless ``missing``."""

    def __init__(self, missing=()):
        self.calls, self.missing = [], missing

    def run_command(self, args, environ_update=None):
        self.calls.append((args, environ_update))
        return 0, "out", ""

    def get_bin_path(self, name, opt_dirs=None):
        self.calls.append((name, opt_dirs))
        return None if name in self.missing else "/usr/sbin/" + name


def test_module_host_runs_tools_in_the_c_locale_and_finds_sbin_tools():
    module = Module()
    host = _hostcommon.module_host(module)
    assert host.root == "/"
    assert host.query("kdumpctl", "status") == (0, "out", "")
    assert module.calls == [("kdumpctl", ["/usr/sbin", "/sbin"]),
                            (["/usr/sbin/kdumpctl", "status"], {"LC_ALL": "C", "LANG": "C"})]


def test_both_modules_build_the_host_one_way(tmp_path):
    """kdump_config's host backends look tools up and run them as kdump_facts' readers do."""
    module = Module()
    host = HOST_BACKENDS["redhat"](module, root=str(tmp_path))
    assert host.root == str(tmp_path)
    assert host.run("grubby", "--info=ALL") == "out"
    assert host.succeeds("systemctl", "is-active", "--quiet", "kdump.service")
    assert module.calls == [("grubby", ["/usr/sbin", "/sbin"]),
                            (["/usr/sbin/grubby", "--info=ALL"], {"LC_ALL": "C", "LANG": "C"}),
                            ("systemctl", ["/usr/sbin", "/sbin"]),
                            (["/usr/sbin/systemctl", "is-active", "--quiet", "kdump.service"],
                             {"LC_ALL": "C", "LANG": "C"})]


def test_a_host_backend_names_a_missing_tool_and_runs_nothing(tmp_path):
    module = Module(missing=("grubby",))
    host = HOST_BACKENDS["redhat"](module, root=str(tmp_path))
    with pytest.raises(_hostcommon.BackendError) as info:
        host.update_bootloader()
    assert str(info.value) == "grubby is not installed here (looked for in PATH and /usr/sbin, /sbin)"
    assert module.calls == [("grubby", ["/usr/sbin", "/sbin"])]
    assert host.bootloader_has("192M") is False  # the readers' rule: a missing grubby reads as nothing
