#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crashdump.kdump contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kdump_facts
short_description: Report the kdump state of a Linux host
version_added: 0.1.0
description:
  - Reads, without changing anything, what a host needs for a working kdump and what it has got
    so far - distribution, memory, the native kdump tooling and the compressions its makedumpfile
    supports, the C(crashkernel=) reservation (running kernel, bootloader, reserved bytes), whether
    the capture kernel is loaded, the kdump service, the parsed native configuration and its dump
    target, the dumps already saved (with the kernel log of each crash, for the report's triage),
    a checksum of the capture configuration, what defeats kdump whatever is configured, and which
    kernel events panic the host.
  - Returns everything as the fact C(kdump) and also as the top-level key C(kdump) for C(register).
  - Never fails because a file or a tool is missing - it reports V(null), V(false), V(0) or an empty
    list instead. Run it with C(become=true) to read root-only files such as C(/boot/grub/grub.cfg)
    and dumps.
  - "Native tooling per family - Debian and Ubuntu C(kdump-tools) (C(/etc/default/kdump-tools)),
    Red Hat family C(kexec-tools) or C(kdump-utils) (C(/etc/kdump.conf)), SUSE C(kdump)
    (C(/etc/sysconfig/kdump))."
author:
  - crashdump.kdump developers (!UNKNOWN)
requirements:
  - Python standard library only on the managed host.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
    details: The module never changes anything, so check mode runs it unchanged.
  diff_mode:
    support: none
  facts:
    support: full
  idempotent:
    support: full
    description: When run twice in a row with the same arguments, the second invocation indicates no change.
  platform:
    support: full
    platforms: posix
    details: Linux only.
options:
  dump_path:
    description:
      - The directory to look for saved dumps in, on this host.
      - Defaults to the dump path of the native configuration (C(KDUMP_COREDIR), C(path) or
        C(KDUMP_SAVEDIR)), else C(/var/crash).
    type: path
  ssh_key:
    description: A private key whose public half (C(<ssh_key>.pub)) to return as RV(kdump.ssh_public_key).
    type: path
notes:
  - Dumps are looked for in O(dump_path) and one and two directory levels below it, at most 50,
    newest first. Only the first 64 KiB of a dump, the first MiB of its dmesg file and the last
    64 KiB of it (for RV(kdump.dumps[].panic_log)) are read.
seealso:
  - module: ansible.builtin.setup
"""

EXAMPLES = r"""
---
- name: Gather kdump facts
  crashdump.kdump.kdump_facts:
  become: true

- name: Fail when the capture kernel is not loaded
  ansible.builtin.assert:
    that: ansible_facts.kdump.loaded
    fail_msg: "kdump is not armed: {{ ansible_facts.kdump.crashkernel.reserved_bytes }} bytes reserved"

- name: Look for dumps in a directory of your own choice
  crashdump.kdump.kdump_facts:
    dump_path: /srv/crash
  become: true
  register: kdump_state

- name: Show the newest dump
  ansible.builtin.debug:
    msg: "{{ kdump_state.kdump.dumps | first | default('no dump') }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    kdump:
      description: The kdump state of the host; the same dict as the top-level RV(kdump).
      returned: always
      type: dict
kdump:
  description: The kdump state of the host.
  returned: always
  type: complex
  contains:
    distribution:
      description:
        - From C(/etc/os-release). C(family) is one of C(debian), C(redhat), C(suse), C(unknown), from
          C(ID) and C(ID_LIKE); C(major) is the leading integer of C(version_id) or null.
      type: dict
      sample: {id: debian, version_id: "12", major: 12, family: debian}
    architecture:
      description: The machine hardware name (C(uname -m)).
      type: str
      sample: x86_64
    mem_total_bytes:
      description: MemTotal of C(/proc/meminfo) in bytes; null when unreadable.
      type: int
      sample: 1007353856
    kernel_release:
      description: The running kernel release.
      type: str
      sample: 6.1.0-50-amd64
    kernel_config:
      description:
        - The running kernel's build options the planner needs (C(CONFIG_CMA) for C(reservation.cma)).
        - C(path) is where they were read (C(/boot/config-RELEASE), else C(/proc/config.gz)), null when neither
          is readable.
        - Each option is C(y), C(m), a value, C(n) (C(is not set)) or null (absent).
      type: dict
      sample: {path: /boot/config-6.1.0-50-amd64, options: {CONFIG_CMA: "y"}}
    boot_id:
      description: C(/proc/sys/kernel/random/boot_id), new at every boot; null when unreadable.
      type: str
      sample: 0f3c2d1e-8a7b-4c5d-9e0f-123456789abc
    tooling:
      description:
        - C(name) is the package that carries the kdump service on this family (C(kdump-tools),
          C(kdump-utils), C(kexec-tools) or C(kdump)), installed or not; null on an unknown family.
          C(installed) says whether it is installed.
        - C(packages) maps C(kdump-tools), C(kdump-utils), C(kexec-tools), C(makedumpfile) and C(kdump)
          to the installed version, or null.
        - C(makedumpfile_version) is from C(makedumpfile -v), null without makedumpfile.
          C(compressions) lists what it can write among C(zlib), C(lzo), C(snappy), C(zstd)
          (empty without makedumpfile).
      type: dict
      sample:
        name: kdump-tools
        installed: true
        packages: {kdump-tools: "1:1.8.1", kdump-utils: null, kexec-tools: "1:2.0.25-3+deb12u3",
                   makedumpfile: "1:1.7.2-1", kdump: null}
        makedumpfile_version: 1.7.2
        compressions: [zlib, lzo]
    crashkernel:
      description:
        - C(cmdline) is the C(crashkernel=) value of the running kernel (C(/proc/cmdline)), or null.
        - C(bootloader) is the C(crashkernel=) value for the next boot, or null - Debian family from the
          first kernel line (C(linux), C(linux16), C(linuxefi)) of C(/boot/grub/grub.cfg) (GRUB's default
          entry 0), SUSE the same in C(/boot/grub2/grub.cfg) (without it, GRUB_CMDLINE_LINUX and
          GRUB_CMDLINE_LINUX_DEFAULT of C(/etc/default/grub)), Red Hat family from
          C(grubby --info=DEFAULT) (else C(/etc/kernel/cmdline)). C(bootloader_source) names where it was read,
          or null.
        - Both are what the kernel reserves from that command line, as its parse_crashkernel picks the words -
          the last plain one (without one, the last C(…,high) and the last C(…,low)), then the last C(…,cma),
          joined by a space; null when that leaves no regular reservation.
        - C(reserved_bytes) is C(/sys/kernel/kexec_crash_size), 0 when nothing is reserved; it does not count a
          C(,cma) reservation.
        - C(cma_total_bytes) is C(CmaTotal) of C(/proc/meminfo) (every CMA area, a C(,cma) reservation among them),
          null when the kernel has no CMA.
      type: dict
      sample: {cmdline: "384M-:128M", bootloader: "384M-:128M", bootloader_source: /boot/grub/grub.cfg,
               reserved_bytes: 134217728, cma_total_bytes: 0}
    loaded:
      description: Whether a capture kernel is loaded (C(/sys/kernel/kexec_crash_loaded) is 1).
      type: bool
    service:
      description:
        - The kdump service (C(kdump-tools) or C(kdump)); C(enabled) and C(active) are null when
          systemd or the unit is unknown.
      type: dict
      sample: {name: kdump-tools, enabled: true, active: true}
    config:
      description:
        - The native configuration file, whether it exists, and its settings, unevaluated - shell
          C(KEY=value) assignments with quotes removed (Debian, SUSE) or C(directive value) lines
          (Red Hat, a repeated directive keeps its last value).
      type: dict
      sample: {path: /etc/default/kdump-tools, exists: true, settings: {USE_KDUMP: "1", KDUMP_COREDIR: /var/crash}}
    target:
      description: Where the native configuration sends dumps.
      type: dict
      sample: {path: /var/crash, ssh: null, nfs: null}
      contains:
        path:
          description: The dump directory (on the remote side for ssh and nfs).
          type: str
          sample: /var/crash
        ssh:
          description: C(user@host) of an ssh target, else null.
          type: str
          sample: kdump@dumps.example.org
        nfs:
          description: C(host:/export) of an nfs target, else null.
          type: str
          sample: dumps.example.org:/srv/crash
    dump_path:
      description: The directory searched for dumps (O(dump_path), else RV(kdump.target.path)).
      type: str
      sample: /var/crash
    dump_path_free_bytes:
      description: Bytes available in the file system of the dump path (or its nearest existing parent).
      type: int
      sample: 5368709120
    dumps:
      description: Saved dumps, newest first, at most 50.
      type: list
      elements: dict
      contains:
        path:
          description: The dump file.
          type: str
          sample: /var/crash/202611280305/dump.202611280305
        directory:
          description: The directory holding it.
          type: str
          sample: /var/crash/202611280305
        size:
          description: Size in bytes.
          type: int
        mtime:
          description: Modification time, seconds since the epoch.
          type: int
        time:
          description: Modification time, ISO 8601 in UTC.
          type: str
          sample: "2026-11-28T03:05:41Z"
        format:
          description:
            - From the file header - C(kdump-compressed) (C(KDUMP   )), C(flattened) (C(makedumpfile),
              what kdump-tools writes), C(elf), or C(unknown) (for example a dump compressed again by
              KDUMP_COMPRESSION).
          type: str
          sample: flattened
        compression:
          description:
            - From the dump header - C(zlib), C(lzo), C(snappy), C(zstd) or C(none); null when the
              header cannot be read (not a makedumpfile dump, or a flattened stream whose header
              records are not in its first 64 KiB).
          type: str
          sample: lzo
        dump_level:
          description: makedumpfile's C(-d) level from the dump header, or null when it cannot be read.
          type: int
          sample: 31
        dmesg:
          description: The kernel log saved with the dump, or null.
          type: str
          sample: /var/crash/202611280305/dmesg.202611280305
        dmesg_has_sysrq_crash:
          description: Whether that log shows a crash forced through sysrq.
          type: bool
        mode:
          description: Permission bits, octal.
          type: str
          sample: "0600"
        panic_log:
          description:
            - "The dmesg from its first crash report on (a line such as C(Kernel panic - not syncing),
              C(BUG:), C(Oops:), C(kernel BUG at), C(INFO: task ... blocked), a lockup watchdog's or
              C(sysrq: Trigger a crash)), looked for in the last 64 KiB of the file; of a longer one, its
              first and last 8 KiB with a C([...]) line between. Null without a dmesg or a crash report."
            - The report's crash triage reads it on the controller.
          type: str
    last_crash_test:
      description: The JSON of C(/etc/ansible/facts.d/crashdump_kdump.fact), or null when absent or not JSON.
      type: dict
    last_capture:
      description:
        - What the capture script recorded in the last capture boot (Debian and Ubuntu), or null.
        - C(result) is C(saved), C(saved_to_rootfs) (the target failed, on_failure dump_to_rootfs
          saved it locally), C(failed) (no dump), or C(recovered) (a raw dump turned into a file at
          boot); C(location), C(detail), C(target), C(stamp) and C(time) (UTC) say more.
        - C(mem_total_kib) and C(mem_available_min_kib) (integers, or null when not a number) are
          MemTotal and the lowest MemAvailable of the capture kernel while makedumpfile ran, when the
          capture script measured them.
      type: dict
      sample: {result: saved_to_rootfs, location: /var/crash/202611280305/dump.202611280305,
               detail: the ssh target failed, target: ssh, stamp: "202611280305", time: "2026-11-28T03:05:41Z"}
    capture_config:
      description:
        - C(checksum) is a SHA-256 over what the capture boot uses - the native configuration files,
          the collection's capture script and its configuration (Debian), by content; the capture kernel
          and initrd, by real path, size and modification time (Debian C(KDUMP_KERNEL) and C(KDUMP_INITRD),
          by default kdump-config's links C(/var/lib/kdump/vmlinuz) and C(initrd.img); Red Hat
          C(/boot/vmlinuz-<release>) and C(initramfs-<release>kdump.img) in C(/boot) or C(/var/lib/kdump);
          SUSE C(/boot/vmlinuz-<release>) and C(/boot/initrd-<release>-kdump)). C(files) lists those that
          exist. Null on an unknown family.
        - The crash test records it; the report calls a crash test stale when it has changed since.
      type: dict
      sample: {checksum: 3f1d0c..., files: [/etc/default/kdump-tools, /var/lib/kdump/initrd.img-6.1.0-50-amd64]}
    vmcore_creation_status:
      description:
        - C(/var/lib/kdump/vmcore-creation.status), which C(kdumpctl test) (kdump-utils) writes, as
          C(status) (C(pending), C(success), C(fail) or C(manual)), C(epoch) and C(time) of the test;
          null when absent or not in that format. The report counts it as a crash test record.
      type: dict
      sample: {status: success, epoch: 1795835229, time: "2026-11-28T03:07:09Z"}
    conflicts:
      description:
        - What defeats kdump whatever the policy says, one sentence each - C(kernel.kexec_load_disabled=1);
          kernel lockdown while no capture kernel is loaded and the kernel has no signed kexec_file_load
          (C(CONFIG_KEXEC_FILE) and C(CONFIG_KEXEC_SIG) in C(/boot/config-<release>)); no
          C(/proc/sysrq-trigger); a C(crashkernel=) on the next boot's command line other than the one
          the kdump role wrote; the kdump service masked. Empty when none.
        - C(kernel.sysrq=0) is not one - it masks the keyboard only, C(/proc/sysrq-trigger) always acts.
      type: list
      elements: str
    ssh_public_key:
      description: The public key next to O(ssh_key) (C(type base64 comment)), or null.
      type: str
    panic_sysctls:
      description:
        - The running value of each sysctl that decides whether a kernel event panics the host (and so
          produces a dump) - C(kernel.panic_on_oops), C(kernel.hung_task_panic), C(kernel.softlockup_panic),
          C(kernel.hardlockup_panic), C(kernel.panic_on_unrecovered_nmi), from C(/proc/sys/kernel); null
          for one this kernel lacks (no hung task or lockup detector built in, no NMI watchdog, not x86).
      type: dict
      sample: {kernel.panic_on_oops: 0, kernel.hung_task_panic: 0, kernel.softlockup_panic: 0,
               kernel.hardlockup_panic: null, kernel.panic_on_unrecovered_nmi: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crashdump.kdump.plugins.module_utils._facts import gather
from ansible_collections.crashdump.kdump.plugins.module_utils._hostcommon import module_host

ROOT = "/"  # the file system the facts are read from; unit tests point it at a directory tree


def main():
    module = AnsibleModule(
        argument_spec={"dump_path": {"type": "path"}, "ssh_key": {"type": "path"}},
        supports_check_mode=True,
    )
    facts = gather(module_host(module, ROOT), module.params["dump_path"], module.params["ssh_key"])
    module.exit_json(changed=False, ansible_facts={"kdump": facts}, kdump=facts)


if __name__ == "__main__":
    main()
