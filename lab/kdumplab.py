#!/usr/bin/env python3
"""The crashdump.kdump lab: Debian virtual machines under QEMU on this machine.

One implementation used by Molecule (create/destroy playbooks), by the README's
demo command and by the benchmarks.

- ``image``   builds a Debian root filesystem with debootstrap (mirror read from
  this machine's apt sources), bakes in a local package repository holding
  kdump-tools and friends (the VMs have no network beyond loopback forwards),
  packs it into a raw ext4 image without mounts or loop devices, and caches it
  under a key derived from everything that goes into it.
- ``up``      boots a VM from a copy-on-write overlay through the guest's own GRUB
  (so the kernel command line the role writes takes effect after a reboot),
  with SSH on a loopback port, a per-VM SSH host key passed in through fw_cfg
  (so clients can pin it), and the serial console kept in a log file.
- ``down``    stops VMs and removes their state; ``status`` lists them.

Standard library only; run as root (debootstrap needs it).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB_DIR = Path(os.environ.get("CRASHDUMP_LAB_DIR", REPO_ROOT / ".cache" / "lab"))
IMAGES_DIR = LAB_DIR / "images"
VMS_DIR = LAB_DIR / "vms"
LAB_KEY = LAB_DIR / "id_ed25519"
IMAGE_VERSION = "8"  # bump to force a rebuild when the recipe below changes

GUEST_PACKAGES = [
    "linux-image-amd64", "initramfs-tools", "systemd-sysv", "udev", "dbus", "kmod",
    "openssh-server", "python3", "python3-apt", "grub2-common", "grub-pc-bin",
    "iproute2", "procps", "e2fsprogs", "less",
]
# Not installed in the image: the role installs them from the baked-in repository.
REPO_PACKAGES = ["kdump-tools", "makedumpfile", "kexec-tools", "nfs-common", "nfs-kernel-server"]
REPO_DIR_IN_GUEST = "/opt/crashdump-lab-repo"
GRUB_MODULES = [
    "biosdisk", "part_msdos", "part_gpt", "ext2", "search", "search_fs_file", "search_fs_uuid",
    "search_label", "configfile", "normal", "linux", "gzio", "echo", "test", "serial", "terminal",
    "loadenv", "regexp", "sleep", "ls", "cat", "minicmd",
]  # no video modules: probing video under TCG costs GRUB minutes per boot
IMAGE_SIZE = "3G"
# What the main initrd needs to mount the root disk. debootstrap's MODULES=most initrd is 36 MB,
# and GRUB reads it through the emulated BIOS at every boot (minutes under TCG).
# virtio_net too: eth0 then exists when udev's coldplug starts, which handles network devices
# first, instead of when udev reaches the PCI device (late, under TCG).
MAIN_INITRD_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "ext4", "crc32c_generic"]
# Two vCPUs: a booting VM then uses both cores of this machine (boot to SSH 52.6 -> 32.6 s and
# 68.4 -> 51.2 s, Debian 13, scripts/bench-lab.py --boot-only, pairs alternating). The capture
# kernel runs on one either way (kdump-tools' nr_cpus=1).
VCPUS = 2
FW_CFG_HOSTKEY = "opt/crashdump/ssh_host_ed25519_key"
FW_CFG_HOSTNAME = "opt/crashdump/hostname"


class LabError(Exception):
    """A lab operation failed; the message says what and where to look."""


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(cmd, check=True, env=env, **kwargs)


# --------------------------------------------------------------------------- image

def debian_mirror() -> str:
    """The Debian archive URI this machine's apt is configured with."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(
                    (m.group(1).lower(), m.group(2).strip())
                    for m in re.finditer(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M)
                )
                if "debian-archive-keyring" in fields.get("signed-by", "") or "/debian" in fields.get("uris", ""):
                    uri = fields.get("uris", "").split()[0]
                    if "security" not in uri:
                        return uri
        elif path.suffix == ".list" or path.name == "sources.list":
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m and "security" not in m.group(1) and "/debian" in m.group(1):
                    return m.group(1)
    raise LabError("no Debian archive found in /etc/apt/sources.list{,.d}: cannot build lab images")


def image_key(suite: str) -> str:
    recipe = json.dumps([IMAGE_VERSION, suite, GUEST_PACKAGES, REPO_PACKAGES, GRUB_MODULES,
                         GUEST_FILES, IMAGE_SIZE, MAIN_INITRD_MODULES], sort_keys=True)
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def image_paths(suite: str) -> dict[str, Path]:
    base = IMAGES_DIR / f"{suite}-{image_key(suite)}"
    return {"dir": base, "disk": base / "rootfs.raw", "grub": base / "grub.lnx"}


def ensure_lab_key() -> Path:
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    if not LAB_KEY.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "crashdump-lab", "-f", str(LAB_KEY)])
    return LAB_KEY


def build_image(suite: str) -> dict[str, Path]:
    paths = image_paths(suite)
    if paths["disk"].exists() and paths["grub"].exists():
        return paths
    if os.geteuid() != 0:
        raise LabError("building a lab image needs root (debootstrap)")
    ensure_lab_key()
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"build-{suite}-", dir=IMAGES_DIR))
    root = work / "root"
    try:
        mirror, release = debian_mirror(), base_suite(suite)
        log(f"debootstrap {release} from {mirror} (a few minutes)")
        run(["debootstrap", "--variant=minbase", "--include=" + ",".join(GUEST_PACKAGES),
             release, str(root), mirror], stdout=subprocess.DEVNULL)
        if suite != release:
            install_backports_kernel(root, suite, mirror)
        bake_package_repository(root, release, mirror)
        configure_guest(root, suite)
        build_main_initrd(root)
        log("packing the root filesystem into a raw ext4 image")
        staging = work / "out"
        staging.mkdir()
        run(["mkfs.ext4", "-q", "-F", "-L", "crashroot", "-d", str(root),
             str(staging / "rootfs.raw"), IMAGE_SIZE])
        build_grub_loader(staging / "grub.lnx")
        staging.rename(paths["dir"])  # atomic: a half-built image is never used
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"image ready: {paths['dir']}")
    return paths


def chroot(root: Path, *cmd: str) -> None:
    run(["chroot", str(root), *cmd], stdout=subprocess.DEVNULL)


def base_suite(suite: str) -> str:
    """The Debian release of a lab suite: "trixie-backports" is trixie with the backports kernel."""
    return suite.removesuffix("-backports")


def install_backports_kernel(root: Path, suite: str, mirror: str) -> None:
    """The newest kernel of SUITE (a backports suite) beside the release's own; GRUB boots the
    newest by default. The lab's way to a kernel with crashkernel=SIZE,cma (Linux 6.17+)."""
    (root / "etc/apt/sources.list").write_text(f"deb {mirror} {base_suite(suite)} main\ndeb {mirror} {suite} main\n")
    log(f"installing the {suite} kernel")
    chroot(root, "apt-get", "update", "-q")
    chroot(root, "apt-get", "install", "-y", "-q", "--no-install-recommends", "-t", suite, "linux-image-amd64")


def bake_package_repository(root: Path, suite: str, mirror: str) -> None:
    """Download REPO_PACKAGES and their missing dependencies into a flat repository
    inside the image, then point the guest's apt at it and nothing else."""
    repo = root / REPO_DIR_IN_GUEST.lstrip("/")
    repo.mkdir(parents=True)
    (root / "etc/apt/sources.list").write_text(f"deb {mirror} {suite} main\n")
    log("downloading kdump-tools and friends into the image's local repository")
    chroot(root, "apt-get", "update", "-q")
    chroot(root, "apt-get", "install", "-y", "-q", "--download-only", "--no-install-recommends",
           "-o", f"Dir::Cache::archives={REPO_DIR_IN_GUEST}", *REPO_PACKAGES)
    shutil.rmtree(repo / "partial", ignore_errors=True)
    (repo / "lock").unlink(missing_ok=True)
    packages = run(["dpkg-scanpackages", "--multiversion", "."], cwd=repo,
                   capture_output=True, text=True).stdout
    (repo / "Packages").write_text(packages)
    (root / "etc/apt/sources.list").write_text(f"deb [trusted=yes] file:{REPO_DIR_IN_GUEST} ./\n")
    chroot(root, "apt-get", "update", "-q")


GUEST_FILES = {
    # fsck pass 0: each VM's disk is a fresh overlay of a clean image (fsck costs 6 s of each boot).
    "etc/fstab": "LABEL=crashroot / ext4 defaults,errors=remount-ro 0 0\n",
    "etc/hostname": "lab\n",
    "etc/hosts": "127.0.0.1 localhost\n",
    "etc/systemd/network/80-lab.network": "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n",
    "etc/default/grub": (
        'GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR="Debian"\n'
        'GRUB_CMDLINE_LINUX_DEFAULT=""\n'
        # mitigations=off: the lab is emulated (TCG), where they only cost time.
        'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 net.ifnames=0 mitigations=off"\n'
        'GRUB_TERMINAL=serial\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n'
        # text: update-grub then writes no load_video into the entries (video probing under
        # TCG costs minutes per boot); the lab has no screen anyway.
        "GRUB_GFXPAYLOAD_LINUX=text\nGRUB_DISABLE_OS_PROBER=true\n"
    ),
    # Under TCG every fork costs ~50 ms and mkinitramfs forks thousands of times: a
    # MODULES=most initrd takes over 10 minutes. Host-specific initrds, and no rebuild of
    # the main initrd on package triggers (kdump-tools builds its own capture initrd
    # with mkinitramfs directly, so that path is still exercised).
    "etc/initramfs-tools/conf.d/lab.conf": "MODULES=dep\n",
    # Drivers udev or systemd would load for what a TCG guest has but never uses: each module
    # load costs seconds of the one emulated CPU at every boot (tried on one Debian 13 VM: boot to
    # SSH 90 s with the IDE, crypto, PS/2, SMBus and vga16fb drivers and drm, 72 s without).
    # QEMU's pc machine has a floppy controller, whose probe soft-locks a TCG CPU for minutes,
    # and an IDE controller with no disk; `-cpu max` offers SVM (kvm) and the CPU features of the crypto drivers, which nothing
    # in the lab uses (the kernel has generic code for them); systemd-networkd's nl80211 query
    # loads cfg80211.
    "etc/modprobe.d/lab.conf": "".join(f"blacklist {module}\n" for module in (
        "floppy", "ata_piix", "ata_generic", "libata", "kvm", "kvm_amd", "kvm_intel",
        "aesni_intel", "ghash_clmulni_intel", "sha1_ssse3", "sha256_ssse3", "sha512_ssse3",
        "crc32_pclmul", "crct10dif_pclmul", "cfg80211", "pcspkr", "i2c_piix4", "psmouse", "serio_raw",
        "vga16fb")),
    "etc/initramfs-tools/update-initramfs.conf": "update_initramfs=no\nbackup_initramfs=no\n",
    # Before the first update-grub (which the role runs in the guest) GRUB needs a menu.
    "boot/grub/grub.cfg": (
        "serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n"
        "set timeout=0\nmenuentry Debian {\n"
        "  search --no-floppy --label --set=root crashroot\n"
        "  linux /vmlinuz root=LABEL=crashroot ro console=ttyS0,115200n8 net.ifnames=0 mitigations=off\n"
        "  initrd /initrd.img\n}\n"
    ),
    # Each VM gets its own SSH host key from the lab through fw_cfg, so clients can pin it.
    "usr/local/sbin/lab-identity": (
        "#!/bin/sh\nset -e\nfw=/sys/firmware/qemu_fw_cfg/by_name/opt/crashdump\n"
        "modprobe qemu_fw_cfg 2>/dev/null || true\n"
        "if [ -r $fw/ssh_host_ed25519_key/raw ]; then\n"
        "  umask 077\n  cat $fw/ssh_host_ed25519_key/raw > /etc/ssh/ssh_host_ed25519_key\n"
        "  ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key > /etc/ssh/ssh_host_ed25519_key.pub\n"
        "fi\n"
        "[ -r $fw/hostname/raw ] && hostname \"$(cat $fw/hostname/raw)\" && cat $fw/hostname/raw > /etc/hostname\n"
        "[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A\n"
    ),
    "etc/systemd/system/lab-identity.service": (
        "[Unit]\nDescription=Lab VM identity (SSH host key, hostname) from QEMU fw_cfg\n"
        "DefaultDependencies=no\nAfter=local-fs.target systemd-modules-load.service\n"
        "Before=ssh.service\n\n"  # not before the network: QEMU's DHCP needs no hostname
        "[Service]\nType=oneshot\nExecStart=/usr/local/sbin/lab-identity\nRemainAfterExit=yes\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    ),
    "etc/ssh/sshd_config.d/lab.conf": (
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\nUseDNS no\n"
    ),
}


def configure_guest(root: Path, suite: str) -> None:
    for rel, text in GUEST_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.chmod(root / "usr/local/sbin/lab-identity", 0o755)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # every VM gets its own key at boot
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(LAB_KEY.with_suffix(".pub").read_text())
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    (root / "etc/machine-id").write_text("")  # regenerated per VM at first boot
    # networkd with its wait-online service, as `systemctl enable` sets it up on a real host:
    # a capture boot, which starts only the dump service's dependencies, then has a network.
    chroot(root, "systemctl", "enable", "lab-identity.service", "systemd-networkd.service")
    # e2scrub_reap only cleans up after e2scrub snapshots, which the lab never takes (17 s per boot).
    chroot(root, "systemctl", "mask", "e2scrub_reap.service")
    # systemd loads drm for a screen the lab does not have; systemd-ssh-generator (Debian 13)
    # probes AF_VSOCK, which loads the vsock and VMCI modules.
    chroot(root, "systemctl", "mask", "modprobe@drm.service")
    (root / "etc/systemd/system-generators").mkdir(parents=True, exist_ok=True)
    (root / "etc/systemd/system-generators/systemd-ssh-generator").symlink_to("/dev/null")
    # /etc and /var up to date with /usr, as on a host after its first boot: otherwise a trixie VM's
    # first boot runs ldconfig, sysusers and the journal catalog update (ConditionNeedsUpdate).
    # Debian 12's systemd has no systemd-update-done (nor those units, but for sysusers).
    if (root / "usr/lib/systemd/systemd-update-done").exists():
        chroot(root, "/usr/lib/systemd/systemd-update-done")
    chroot(root, "apt-get", "clean")


def build_main_initrd(root: Path) -> None:
    """Replace the image's initrd by one holding MAIN_INITRD_MODULES only (MODULES=list, from a
    copy of the guest's initramfs-tools configuration; the guest's own stays as it is)."""
    conf = root / "tmp/lab-initramfs-tools"
    shutil.copytree(root / "etc/initramfs-tools", conf)
    (conf / "conf.d/lab.conf").write_text("MODULES=list\n")
    (conf / "modules").write_text("\n".join(MAIN_INITRD_MODULES) + "\n")
    for initrd in (root / "boot").glob("initrd.img-*"):
        version = initrd.name.removeprefix("initrd.img-")
        chroot(root, "mkinitramfs", "-d", "/tmp/lab-initramfs-tools", "-o", f"/boot/{initrd.name}", version)
        log(f"main initrd {initrd.name}: {initrd.stat().st_size / 2**20:.1f} MiB")
    shutil.rmtree(conf)


def build_grub_loader(out: Path) -> None:
    """A GRUB i386-pc core that QEMU can boot as -kernel; it finds the guest's
    /boot/grub/grub.cfg on the unpartitioned ext4 disk and hands over to it."""
    with tempfile.TemporaryDirectory() as tmp:
        early = Path(tmp) / "early.cfg"
        early.write_text("search --no-floppy --file --set=root /boot/grub/grub.cfg\n"
                         "set prefix=($root)/boot/grub\nconfigfile /boot/grub/grub.cfg\n")
        core = Path(tmp) / "core.img"
        run(["grub-mkimage", "-O", "i386-pc", "-c", str(early), "-p", "/boot/grub",
             "-o", str(core), *GRUB_MODULES])
        out.write_bytes(Path("/usr/lib/grub/i386-pc/lnxboot.img").read_bytes() + core.read_bytes())



# --------------------------------------------------------------------------- VMs

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vm_dir(name: str) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name):
        raise LabError(f"VM name {name!r}: use lower-case letters, digits and dashes")
    return VMS_DIR / name


def read_state(name: str) -> dict | None:
    state = vm_dir(name) / "vm.json"
    return json.loads(state.read_text()) if state.exists() else None


def live_pid(pidfile: Path, marker: str) -> int | None:
    """The PID in pidfile if that process is alive and its command line holds marker."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if marker.encode() in cmdline else None


def qemu_pid(name: str) -> int | None:
    """The PID of the VM's QEMU if it is running, else None."""
    return live_pid(vm_dir(name) / "qemu.pid", f"crashdump-lab-{name}")


def supervisor_pid(name: str) -> int | None:
    return live_pid(vm_dir(name) / "supervisor.pid", f"supervise\0{name}\0")


def running(name: str) -> bool:
    """QEMU runs, or its supervisor is between a guest reboot and the next QEMU."""
    return bool(qemu_pid(name) or supervisor_pid(name))


def accelerator() -> str:
    # /dev/kvm exists on these machines but KVM guests hang there: TCG unless asked.
    return os.environ.get("CRASHDUMP_LAB_ACCEL", "tcg")


def qemu_command(name: str, state: dict, image: dict[str, Path]) -> list[str]:
    d = vm_dir(name)
    nic = f"user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:{state['port']}-:22"
    for guest_port, host_port in state.get("hostfwd", {}).items():
        nic += f",hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}"
    for fwd in state.get("guestfwd", []):
        nic += f",guestfwd=tcp:{fwd['guest']}-cmd:socat - TCP:127.0.0.1:{host_port_of(fwd)}"
    cmd = [
        "qemu-system-x86_64", "-name", f"crashdump-lab-{name}", "-accel", accelerator(), "-cpu", "max",
        "-m", str(state["memory"]), "-smp", str(VCPUS), "-display", "none", "-no-user-config",
        # No VGA, CD-ROM or parallel port: the guest would load drm, sr_mod and parport for them.
        "-nodefaults", "-kernel", str(image["grub"]),
        "-drive", f"file={d / 'disk.qcow2'},if=virtio,format=qcow2,cache=unsafe",
        "-nic", nic,
        "-chardev", f"file,id=console,path={d / 'console.log'},append=on", "-serial", "chardev:console",
        "-fw_cfg", f"name={FW_CFG_HOSTKEY},file={d / 'ssh_host_ed25519_key'}",
        "-fw_cfg", f"name={FW_CFG_HOSTNAME},string={name}",
        "-pidfile", str(d / "qemu.pid"),
    ]
    for disk in state.get("disks", []):
        # serial= names the disk in the guest: /dev/disk/by-id/virtio-NAME
        cmd += ["-drive", f"file={d / (disk['name'] + '.qcow2')},if=none,id={disk['name']},format=qcow2,"
                          "cache=unsafe",
                "-device", f"virtio-blk-pci,drive={disk['name']},serial={disk['name']}"]
    return cmd


def host_port_of(fwd: dict) -> int:
    """The loopback port a guestfwd leads to: a fixed one, or another VM's forwarded guest port."""
    if "vm" not in fwd:
        return fwd["host_port"]
    other = read_state(fwd["vm"])
    if other is None:
        raise LabError(f"--guestfwd to VM {fwd['vm']}: no such VM (create it first)")
    if fwd["vm_port"] == 22:
        return other["port"]
    if str(fwd["vm_port"]) not in other.get("hostfwd", {}):
        raise LabError(f"--guestfwd to {fwd['vm']}:{fwd['vm_port']}: that VM has no --hostfwd {fwd['vm_port']}")
    return other["hostfwd"][str(fwd["vm_port"])]


def create_vm(name: str, suite: str, memory: int, disks: list[dict], guestfwd: list[dict],
              hostfwd: list[int]) -> dict:
    image = build_image(suite)
    d = vm_dir(name)
    if running(name):
        raise LabError(f"VM {name} is already running")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image["disk"]),
         str(d / "disk.qcow2")])
    for disk in disks:
        run(["qemu-img", "create", "-q", "-f", "qcow2", str(d / f"{disk['name']}.qcow2"), disk["size"]])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}-host", "-f",
         str(d / "ssh_host_ed25519_key")])
    state = {"name": name, "suite": suite, "memory": memory, "port": free_port(),
             "hostfwd": {str(port): free_port() for port in hostfwd},
             "disks": disks, "guestfwd": guestfwd, "image": str(image["dir"])}
    (d / "vm.json").write_text(json.dumps(state, indent=2))
    return state


def start_vm(name: str) -> dict:
    state = read_state(name)
    if state is None:
        raise LabError(f"VM {name} does not exist")
    if not running(name):
        d = vm_dir(name)
        (d / "stopping").unlink(missing_ok=True)
        with open(d / "supervisor.log", "ab") as errors:
            subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "supervise", name],
                             stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, start_new_session=True)
        started = time.monotonic()
        while not qemu_pid(name):  # QEMU writes its pidfile once it runs
            waited = time.monotonic() - started
            if waited > 30 or (waited > 3 and not supervisor_pid(name)):
                raise LabError(f"VM {name}: QEMU did not start\n{(d / 'supervisor.log').read_text()[-2000:]}")
            time.sleep(0.1)
    write_known_hosts()
    return state


def supervise(name: str) -> None:
    """Run the VM's QEMU until the VM is stopped or powers off. A guest reboot ends QEMU
    (-no-reboot) and starts a new one: a cold start. QEMU's warm reset after a long busy run
    (package installs, the capture) left GRUB and the kernel several times slower under TCG
    (minutes in GRUB's "Loading initial ramdisk"); a new QEMU boots as fast as the first time."""
    d = vm_dir(name)
    (d / "supervisor.pid").write_text(str(os.getpid()))
    state = read_state(name)
    while not (d / "stopping").exists():
        console_size = (d / "console.log").stat().st_size if (d / "console.log").exists() else 0
        qemu = subprocess.run(qemu_command(name, state, image_paths(state["suite"])) + ["-no-reboot"])
        if (d / "stopping").exists() or qemu.returncode != 0 or powered_off(d / "console.log", console_size):
            break
    (d / "supervisor.pid").unlink(missing_ok=True)


def powered_off(console: Path, since: int) -> bool:
    """Whether the guest's last words since offset were a power-off, not a restart."""
    with console.open("rb") as handle:
        handle.seek(since)
        words = re.findall(rb"reboot: (Restarting system|Power down)", handle.read())
    return bool(words) and words[-1] == b"Power down"


def ssh_base(state: dict, connect_timeout: int = 5) -> list[str]:
    # -n: ssh sets its stdin non-blocking and a killed ssh leaves it so, for every later
    # ansible that shares the descriptor ("Ansible requires blocking IO on stdin").
    return ["ssh", "-n", "-i", str(LAB_KEY), "-p", str(state["port"]), "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={LAB_DIR / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes",
            "-o", f"ConnectTimeout={connect_timeout}", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
            "root@127.0.0.1"]


def wait_ssh(name: str, timeout: float, interval: float = 2) -> float:
    """Wait until the VM answers on SSH; the time.monotonic() at which it did."""
    state = read_state(name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(name):
            raise LabError(f"VM {name}: QEMU exited\n{console_tail(name)}")
        # A booting guest takes more than 5 s to start a session's sshd: a short ConnectTimeout
        # abandons every probe that got through and makes the guest start another.
        probe = subprocess.run(ssh_base(state, connect_timeout=30) + ["true"], capture_output=True, timeout=45)
        if probe.returncode == 0:
            return time.monotonic()
        time.sleep(interval)
    raise LabError(f"VM {name}: no SSH within {timeout:.0f}s\n{console_tail(name)}")


def ssh(name: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(ssh_base(read_state(name)) + [command], capture_output=True, text=True,
                          timeout=timeout)


def boot_id(name: str) -> str | None:
    try:
        probe = ssh(name, "cat /proc/sys/kernel/random/boot_id", timeout=30)
    except subprocess.TimeoutExpired:
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def crash(name: str, timeout: float) -> dict:
    """Force a kernel crash (sysrq c), detached from the SSH session, and wait until the
    VM is back with a new boot. Returns host-clock times; the caller looks for the dump."""
    before = boot_id(name)
    if before is None:
        raise LabError(f"VM {name}: not reachable before the crash")
    crashed_at = time.time()
    # Detached: the session must not hang on a kernel that never returns. The guest's own
    # clock is recorded too: it stamps the dump, and under TCG it drifts from the host's.
    trigger = ssh(name, "date +%s; nohup sh -c 'sleep 2; echo c > /proc/sysrq-trigger' >/dev/null 2>&1 &",
                  timeout=30)
    guest_crashed_at = int(trigger.stdout.split()[0]) + 2
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(name):
            raise LabError(f"VM {name}: QEMU exited after the crash\n{console_tail(name)}")
        current = boot_id(name)
        if current and current != before:
            return {"vm": name, "crashed_at": crashed_at, "guest_crashed_at": guest_crashed_at,
                    "seconds_to_back": round(time.time() - crashed_at, 1)}
        time.sleep(5)
    raise LabError(f"VM {name}: not back {timeout:.0f}s after the crash\n{console_tail(name, 60)}")


def console_tail(name: str, lines: int = 40) -> str:
    log_file = vm_dir(name) / "console.log"
    if not log_file.exists():
        return "(no console log)"
    tail = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last {len(tail)} lines of {log_file} ---\n" + "\n".join(tail)


def stop_vm(name: str, remove: bool) -> None:
    if vm_dir(name).exists():
        (vm_dir(name) / "stopping").touch()  # the supervisor must not start QEMU again
    for pid in (qemu_pid(name), supervisor_pid(name)):
        if pid:
            os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not running(name):
            break
        time.sleep(0.1)
    else:
        for pid in (qemu_pid(name), supervisor_pid(name)):
            if pid:
                os.kill(pid, signal.SIGKILL)
    if remove:
        shutil.rmtree(vm_dir(name), ignore_errors=True)
    write_known_hosts()


def all_vms() -> list[str]:
    return sorted(p.name for p in VMS_DIR.glob("*") if (p / "vm.json").exists()) if VMS_DIR.exists() else []


def write_known_hosts() -> None:
    """One known_hosts for the whole lab, so every client pins every VM's own key."""
    lines = []
    for name in all_vms():
        state, d = read_state(name), vm_dir(name)
        key = (d / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        lines.append(f"[127.0.0.1]:{state['port']} {' '.join(key)}")
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    (LAB_DIR / "known_hosts").write_text("\n".join(lines) + ("\n" if lines else ""))


def host_vars(name: str) -> dict:
    state = read_state(name)
    return {
        "ansible_host": "127.0.0.1", "ansible_port": state["port"], "ansible_user": "root",
        "ansible_ssh_private_key_file": str(LAB_KEY),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={LAB_DIR / 'known_hosts'} "
                                   "-o StrictHostKeyChecking=yes -o ServerAliveInterval=5",
    }


def molecule_instance(name: str) -> dict:
    """The instance entry Molecule's default driver expects from a create playbook."""
    return {"instance": name, "address": "127.0.0.1", "user": "root",
            "port": read_state(name)["port"], "identity_file": str(LAB_KEY)}


def inventory() -> dict:
    return {"all": {"hosts": {name: host_vars(name) for name in all_vms() if running(name)}}}


# --------------------------------------------------------------------------- CLI

def parse_disk(text: str) -> dict:
    name, _, size = text.partition(":")
    if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", name) or not re.fullmatch(r"\d+[MG]", size):
        raise argparse.ArgumentTypeError(f"--disk {text!r}: expected NAME:SIZE such as dumps:2G")
    return {"name": name, "size": size}


def parse_guestfwd(text: str) -> dict:
    """GUESTIP:PORT=HOSTPORT, or GUESTIP:PORT=VM:PORT to reach another lab VM's forwarded port
    (22, or one it forwards with --hostfwd): VMs talk only through this machine's loopback."""
    m = re.fullmatch(r"(\d+\.\d+\.\d+\.\d+:\d+)=(?:([a-z][a-z0-9-]{0,30}):)?(\d+)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"--guestfwd {text!r}: expected GUESTIP:PORT=HOSTPORT or GUESTIP:PORT=VM:PORT")
    if m.group(2):
        return {"guest": m.group(1), "vm": m.group(2), "vm_port": int(m.group(3))}
    return {"guest": m.group(1), "host_port": int(m.group(3))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kdumplab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("image", help="build (or reuse) the cached image")
    p.add_argument("--suite", default="bookworm")
    p = sub.add_parser("up", help="create and boot VMs, wait for SSH")
    p.add_argument("names", nargs="+")
    p.add_argument("--suite", default="bookworm")
    p.add_argument("--memory", type=int, default=1024, help="MiB")
    p.add_argument("--disk", type=parse_disk, action="append", default=[])
    p.add_argument("--guestfwd", type=parse_guestfwd, action="append", default=[])
    p.add_argument("--hostfwd", type=int, action="append", default=[], metavar="GUESTPORT",
                   help="also forward this guest TCP port to a loopback port (for other VMs' --guestfwd)")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--no-wait", action="store_true", help="boot them and return (then: wait NAMES)")
    p = sub.add_parser("start", help="boot existing, stopped VMs")
    p.add_argument("names", nargs="+")
    p.add_argument("--timeout", type=float, default=300)
    p = sub.add_parser("stop", help="power VMs off, keep their disks")
    p.add_argument("names", nargs="+")
    p = sub.add_parser("down", help="stop VMs and delete them")
    p.add_argument("names", nargs="*")
    p.add_argument("--all", action="store_true")
    p = sub.add_parser("wait", help="wait until VMs answer on SSH")
    p.add_argument("names", nargs="+")
    p.add_argument("--timeout", type=float, default=300)
    sub.add_parser("status", help="list VMs as JSON")
    sub.add_parser("inventory", help="Ansible inventory (JSON) of running VMs")
    p = sub.add_parser("hostvars", help="Ansible connection variables of one VM (JSON)")
    p.add_argument("name")
    p = sub.add_parser("crash", help="force a kernel crash (sysrq c) and wait until the VM is back")
    p.add_argument("name")
    p.add_argument("--timeout", type=float, default=900)
    p = sub.add_parser("instance", help="Molecule instance config entry of one VM (JSON)")
    p.add_argument("name")
    p = sub.add_parser("supervise", help=argparse.SUPPRESS)  # start_vm's own: runs QEMU, restarts on reboot
    p.add_argument("name")
    p = sub.add_parser("console", help="tail of a VM's serial console")
    p.add_argument("names", nargs="*")
    p.add_argument("--all", action="store_true")
    p.add_argument("--lines", type=int, default=40)
    args = parser.parse_args(argv)

    try:
        if args.command == "image":
            print(build_image(args.suite)["dir"])
        elif args.command == "up":
            for name in args.names:
                create_vm(name, args.suite, args.memory, args.disk, args.guestfwd, args.hostfwd)
                start_vm(name)
            for name in [] if args.no_wait else args.names:
                wait_ssh(name, args.timeout)
                log(f"{name} is up on 127.0.0.1:{read_state(name)['port']}")
        elif args.command in ("start", "wait"):
            for name in args.names:
                if args.command == "start":
                    start_vm(name)
            for name in args.names:
                wait_ssh(name, args.timeout)
        elif args.command == "stop":
            for name in args.names:
                stop_vm(name, remove=False)
        elif args.command == "down":
            for name in (all_vms() if args.all else args.names):
                stop_vm(name, remove=True)
        elif args.command == "status":
            print(json.dumps([dict(read_state(n), running=running(n)) for n in all_vms()], indent=2))
        elif args.command == "inventory":
            print(json.dumps(inventory(), indent=2))
        elif args.command == "hostvars":
            print(json.dumps(host_vars(args.name)))
        elif args.command == "instance":
            print(json.dumps(molecule_instance(args.name)))
        elif args.command == "crash":
            print(json.dumps(crash(args.name, args.timeout)))
        elif args.command == "supervise":
            supervise(args.name)
        elif args.command == "console":
            for name in (all_vms() if args.all else args.names):
                print(console_tail(name, args.lines))
    except (LabError, subprocess.CalledProcessError) as exc:
        print(f"kdumplab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
