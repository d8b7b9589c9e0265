"""Stand-ins for what the host backends touch: AnsibleModule's run_command (every argv
recorded, each tool answered by a handler) and a file system that appears below a mount
point only while it is mounted."""

from __future__ import annotations

import os
import shutil


class FakeModule:
    """The part of AnsibleModule that kdump_config and the host backends use."""

    def __init__(self, handlers=None, check_mode=False):
        self.handlers = dict(handlers or {})
        self.check_mode = check_mode
        self.calls = []

    def run_command(self, args, environ_update=None):
        assert environ_update == {"LC_ALL": "C", "LANG": "C"}, f"{args}: tool output is parsed in the C locale"
        self.calls.append(list(args))
        handler = self.handlers.get(args[0])
        assert handler is not None, f"unexpected command {args}"
        return handler(args) if callable(handler) else handler

    def get_bin_path(self, name, opt_dirs=None):
        return name  # every tool installed, run by the name the argv assertions use

    def add_cleanup_file(self, path):
        pass

    def atomic_move(self, src, dest):
        os.replace(src, dest)


class FakeFilesystem:
    """A dump target: its files live in ``store`` and show below the mount point (a host path,
    below ``root``) between `mount ... MOUNTPOINT` and `umount MOUNTPOINT`: no root needed."""

    def __init__(self, root, store, mount_rc=(0, "", ""), umount_rc=(0, "", "")):
        self.root, self.store = str(root), str(store)
        os.makedirs(self.store, exist_ok=True)
        self.mount_rc, self.umount_rc = mount_rc, umount_rc

    def mountpoint(self, args):
        return os.path.join(self.root, args[-1].lstrip("/"))

    def mount(self, args):
        if self.mount_rc[0] == 0:
            shutil.copytree(self.store, self.mountpoint(args), dirs_exist_ok=True)
            shutil.rmtree(self.store)
        return self.mount_rc

    def umount(self, args):
        if self.umount_rc[0] == 0:
            shutil.copytree(self.mountpoint(args), self.store, dirs_exist_ok=True)
            for name in os.listdir(self.mountpoint(args)):
                path = os.path.join(self.mountpoint(args), name)
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        return self.umount_rc


def write(root, path, content, mode=None):
    full = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(content)
    if mode is not None:
        os.chmod(full, mode)
    return full


def read(root, path):
    with open(os.path.join(str(root), path.lstrip("/")), encoding="utf-8") as handle:
        return handle.read()
