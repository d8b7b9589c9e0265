#!/bin/sh
# Managed by crashdump.kdump: local changes are overwritten.
#
# Debian/Ubuntu capture script, installed as /usr/lib/crashdump-kdump/capture.
#   capture           kdump-tools-dump.service's ExecStart in the capture kernel: save
#                     /proc/vmcore to the policy's target, then on_success / on_failure.
#   capture recover   kdump-tools.service's ExecStartPre at every boot: turn a dump left
#                     on a raw device into a normal dump file.
#   capture check     run by kdump_config after a change: can the target take a dump now?
# kdump-tools saves to a local directory only and always reboots; local and device targets
# still use its savecore, the others are written here. Settings: /etc/crashdump-kdump/capture.conf
# (CRASHDUMP_REMOTE_TIMEOUT, optional: seconds for a whole ssh or nfs save, see remote_time_limit).
set -u
# The CRASHDUMP_* paths below are for the unit tests; systemd starts this with none of them set.
PATH=${CRASHDUMP_PATH:-/usr/sbin:/usr/bin:/sbin:/bin}
STATE_DIR=${CRASHDUMP_STATE_DIR:-/var/lib/crashdump-kdump}
VMCORE=${CRASHDUMP_VMCORE:-/proc/vmcore}
MEMINFO=${CRASHDUMP_MEMINFO:-/proc/meminfo}
SYSCTLS=${CRASHDUMP_SYSCTL_DIR:-/proc/sys/kernel}
# shellcheck source=/dev/null
. "${CRASHDUMP_KDUMP_DEFAULTS:-/etc/default/kdump-tools}"
# shellcheck source=/dev/null
. "${CRASHDUMP_CONF:-/etc/crashdump-kdump/capture.conf}"
STATUS=$STATE_DIR/last-capture
NFS_MOUNT=$STATE_DIR/nfs
WORK=$STATE_DIR/work # this capture's scratch files (root only, like the dump)
CHECK_TIME_LIMIT=300 # seconds for `check`: kdump_config waits for it
# A remote save runs in a child process (see bounded), which gets the parent's stamp.
STAMP=${CRASHDUMP_STAMP:-$(date +%Y%m%d%H%M)}

say() {
	echo "crashdump-kdump: $*"
}

is_count() { # value: a non-negative integer that shell arithmetic (64-bit) holds
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	[ ${#1} -le 18 ]
}

# The outcome of this capture, read by kdump_facts after the next boot.
record() { # result location detail
	stop_sampler
	mkdir -p "$STATE_DIR"
	{
		printf 'result=%s\nlocation=%s\ndetail=%s\ntarget=%s\nstamp=%s\ntime=%s\n' \
			"$1" "$2" "$3" "$CRASHDUMP_TARGET" "$STAMP" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		memory_record
	} >"$STATUS.tmp" && mv "$STATUS.tmp" "$STATUS"
	rm -rf "$WORK"
	sync
	say "$1: $2 $3"
}

# Capture headroom: the capture kernel's MemTotal and the lowest MemAvailable sampled while
# the dump was written (makedumpfile's peak lasts seconds: every 0.3 s catches it).
meminfo_kib() { # field
	[ -r "$MEMINFO" ] || return 1
	while read -r field value _; do
		[ "$field" = "$1:" ] && { echo "$value"; return 0; }
	done <"$MEMINFO"
	return 1
}

sample_memory() { # lowest: until TERM, a lower MemAvailable replaces it in $WORK/mem-available-min
	lowest=$1
	# TERM ends the loop, not a write under way: record reads the file once the sampler is gone.
	stop=
	trap 'stop=1' TERM
	while [ -z "$stop" ] && sleep 0.3; do
		now=$(meminfo_kib MemAvailable)
		if is_count "$now" && [ "$now" -lt "$lowest" ]; then
			lowest=$now
			echo "$lowest" >"$WORK/mem-available-min.tmp" && mv "$WORK/mem-available-min.tmp" "$WORK/mem-available-min"
		fi
	done
}

start_sampler() { # the first sample now, the others in the background
	SAMPLER=
	rm -rf "$WORK" && mkdir -p "$WORK" || return 0
	now=$(meminfo_kib MemAvailable)
	is_count "$now" && echo "$now" >"$WORK/mem-available-min" || return 0
	sample_memory "$now" >/dev/null 2>&1 &
	SAMPLER=$!
}

stop_sampler() {
	[ -n "${SAMPLER:-}" ] || return 0
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
	SAMPLER=
}

memory_record() { # the memory lines of the record, when this boot sampled them
	[ -s "$WORK/mem-available-min" ] || return 0
	printf 'mem_total_kib=%s\nmem_available_min_kib=%s\n' "$(meminfo_kib MemTotal)" "$(cat "$WORK/mem-available-min")"
}

free_kib() { # directory
	df -P -k "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'
}

# Compared in KiB, integers only: awk prints a byte count this large as a float (mawk:
# 8.2763e+10), which test's -lt refuses, and a refused test let every dump through.
enough_space() { # directory
	free=$(free_kib "$1")
	if ! is_count "$free" || ! is_count "$CRASHDUMP_MIN_FREE" ||
		[ "$free" -lt $(((CRASHDUMP_MIN_FREE + 1023) / 1024)) ]; then
		say "not enough space in $1: ${free:-unknown} KiB free, min_free is $CRASHDUMP_MIN_FREE bytes"
		return 1
	fi
}

# Oldest dump directories first; keep the newest CRASHDUMP_KEEP (0 keeps all).
prune() { # directory
	[ "$CRASHDUMP_KEEP" -gt 0 ] || return 0
	find "$1" -mindepth 1 -maxdepth 1 -type d -name '2*' | sort | head -n "-$CRASHDUMP_KEEP" |
		while read -r old; do say "retention: removing $old"; rm -rf -- "$old"; done
}

# A dump and its dmesg in DIR/STAMP, as kdump-tools names them.
save_to_dir() { # directory
	mkdir -p "$1" && chmod 0700 "$1" && enough_space "$1" || return 1
	dir=$1/$STAMP
	mkdir -p "$dir" || return 1
	if [ "$KDUMP_DUMP_DMESG" = 1 ]; then
		makedumpfile --dump-dmesg "$VMCORE" "$dir/dmesg.$STAMP" >/dev/null || say "dmesg not saved"
	fi
	# shellcheck disable=SC2086
	makedumpfile $MAKEDUMP_ARGS "$VMCORE" >"$dir/dump-incomplete" &&
		mv "$dir/dump-incomplete" "$dir/dump.$STAMP" && sync && prune "$1" && LOCATION=$dir/dump.$STAMP
}

save_local() {
	enough_space "$KDUMP_COREDIR" && kdump-config savecore || return 1
	LOCATION=$(find "$KDUMP_COREDIR" -mindepth 2 -maxdepth 2 -name 'dump.*' | sort | tail -n 1)
	prune "$KDUMP_COREDIR" # whatever this kdump-tools version does with KDUMP_NUM_DUMPS
}

save_device() {
	mountpoint -q "$CRASHDUMP_MOUNT" || { say "$CRASHDUMP_MOUNT is not mounted"; return 1; }
	save_local
}

# makedumpfile's flattened stream straight onto the device; recovered at the next boot.
save_raw() {
	[ -b "$CRASHDUMP_RAW_DEVICE" ] || { say "no block device $CRASHDUMP_RAW_DEVICE"; return 1; }
	# shellcheck disable=SC2086
	makedumpfile $MAKEDUMP_ARGS "$VMCORE" >"$CRASHDUMP_RAW_DEVICE" && sync &&
		LOCATION=$CRASHDUMP_RAW_DEVICE
}

# Seconds a whole remote save may take before on_failure: a receiver that stalls while its
# sshd still answers keepalives, or an NFS server that stops answering, must not keep a
# crashed host down for good. Default: 600 s for connecting, retries and the dmesg, plus
# 1 s per 8 MiB of the crashed kernel's memory (the size of /proc/vmcore): a floor of
# 64 Mbit/s even for a dump that filtering and compression did not shrink, so a slow but
# moving link finishes; a 4 GiB host gets 19 minutes, a 64 GiB host 2.4 hours.
remote_time_limit() {
	if is_count "${CRASHDUMP_REMOTE_TIMEOUT:-}"; then
		echo "$CRASHDUMP_REMOTE_TIMEOUT"
		return
	fi
	size=$(stat -L -c %s "$VMCORE" 2>/dev/null)
	is_count "$size" || size=0
	echo $((600 + size / 8388608))
}

# Runs one of this script's internal sub-commands under a time limit. timeout(1) (coreutils,
# which Debian's capture boot has: it boots the normal root filesystem) signals the child's
# whole process group, so makedumpfile, ssh and mount stop with it.
bounded() { # seconds sub-command
	if ! command -v timeout >/dev/null; then
		say "no timeout command: $2 runs without a time limit"
		CRASHDUMP_STAMP=$STAMP /bin/sh "$0" "$2"
		return
	fi
	CRASHDUMP_STAMP=$STAMP timeout -k 10 "$1" /bin/sh "$0" "$2"
	rc=$?
	case $rc in 124 | 137) say "$2 stopped: not done after $1 s" ;; esac
	return $rc
}

server() { # receiver command...: the server's forced command allows check, put, commit and prune
	ssh -i "$CRASHDUMP_SSH_KEY" -p "$CRASHDUMP_SSH_PORT" -o BatchMode=yes -o IdentitiesOnly=yes \
		-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$CRASHDUMP_SSH_KNOWN_HOSTS" \
		-o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=10 -o ServerAliveInterval=15 \
		-o ServerAliveCountMax=4 "$CRASHDUMP_SSH_DEST" "$@"
}

retry() { # tries command...: a target still coming up (network, server) gets a few chances
	tries=$1
	shift
	until "$@"; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || return 1
		sleep 5
	done
}

save_ssh() {
	bounded "$(remote_time_limit)" send-ssh || return 1
	LOCATION="$CRASHDUMP_SSH_DEST:$CRASHDUMP_HOST/$STAMP"
}

send_ssh() {
	retry 5 server check "$CRASHDUMP_MIN_FREE" || { say "dump server $CRASHDUMP_SSH_DEST unreachable"; return 1; }
	if [ "$KDUMP_DUMP_DMESG" = 1 ]; then
		if makedumpfile --dump-dmesg "$VMCORE" "$WORK/dmesg" >/dev/null && server put "$STAMP" dmesg <"$WORK/dmesg"; then
			server commit "$STAMP" dmesg
		fi || say "dmesg not saved"
	fi
	# The end of the stream does not tell the server that the dump is whole: commit says so,
	# only after makedumpfile succeeded (a marker that cannot be written means no commit).
	rm -f "$WORK/dump-complete"
	# shellcheck disable=SC2086
	{ makedumpfile $MAKEDUMP_ARGS "$VMCORE" && : >"$WORK/dump-complete"; } | server put "$STAMP" dump &&
		[ -e "$WORK/dump-complete" ] && server commit "$STAMP" dump || return 1
	[ "$CRASHDUMP_KEEP" -eq 0 ] || server prune "$CRASHDUMP_KEEP" >/dev/null || say "retention on the server failed"
}

mount_nfs() {
	mkdir -p "$NFS_MOUNT"
	retry 4 mount -t nfs -o tcp,soft,timeo=100,retrans=3,nolock "$CRASHDUMP_NFS_EXPORT" "$NFS_MOUNT" ||
		{ say "cannot mount $CRASHDUMP_NFS_EXPORT"; return 1; }
}

release_nfs() { # after a save or check stopped half-way (not mounted: nothing to do)
	umount -l "$NFS_MOUNT" 2>/dev/null || :
}

save_nfs() {
	if bounded "$(remote_time_limit)" send-nfs; then
		LOCATION="$CRASHDUMP_NFS_EXPORT${CRASHDUMP_NFS_DIR%/}/$CRASHDUMP_HOST/$STAMP"
		return 0
	fi
	release_nfs
	return 1
}

send_nfs() {
	mount_nfs || return 1
	save_to_dir "$NFS_MOUNT${CRASHDUMP_NFS_DIR%/}/$CRASHDUMP_HOST"
	rc=$?
	umount "$NFS_MOUNT" || say "could not unmount $NFS_MOUNT"
	return $rc
}

finish() { # reboot | halt | poweroff | shell
	case $1 in
	halt) halt -f ;;
	poweroff) poweroff -f ;;
	shell) systemctl --no-block emergency ;;
	*) reboot -f ;;
	esac
	exit 0
}

# The capture boot runs this host's root filesystem, so kdump_policy.panic_on's sysctl file
# applies here too: a slow save must not panic the capture kernel (losing the dump) as a
# hung task or a soft lockup.
no_panic_on_slowness() {
	for trigger in hung_task_panic softlockup_panic; do
		if [ -w "$SYSCTLS/$trigger" ]; then echo 0 >"$SYSCTLS/$trigger"; fi
	done
}

capture() {
	LOCATION=
	no_panic_on_slowness
	start_sampler
	if "save_$CRASHDUMP_TARGET"; then
		record saved "$LOCATION" ""
		finish "$CRASHDUMP_ON_SUCCESS"
	fi
	if [ "$CRASHDUMP_ON_FAILURE" = dump_to_rootfs ] && save_to_dir "$CRASHDUMP_ROOTFS_DIR"; then
		record saved_to_rootfs "$LOCATION" "the $CRASHDUMP_TARGET target failed"
		finish "$CRASHDUMP_ON_SUCCESS"
	fi
	record failed "" "the $CRASHDUMP_TARGET target failed"
	finish "$CRASHDUMP_ON_FAILURE"
}

recover() {
	[ "$CRASHDUMP_TARGET" = raw ] && [ -b "$CRASHDUMP_RAW_DEVICE" ] || return 0
	[ "$(head -c 12 "$CRASHDUMP_RAW_DEVICE")" = makedumpfile ] || return 0
	STAMP=$(sed -n 's/^stamp=//p' "$STATUS" 2>/dev/null)
	[ -n "$STAMP" ] || STAMP=$(date +%Y%m%d%H%M)
	dir=$KDUMP_COREDIR/$STAMP
	(umask 077 && mkdir -p "$dir") || return 1
	if ! (umask 077 && makedumpfile -R "$dir/dump-incomplete" <"$CRASHDUMP_RAW_DEVICE"); then
		say "could not recover the dump from $CRASHDUMP_RAW_DEVICE"
		return 1
	fi
	mv "$dir/dump-incomplete" "$dir/dump.$STAMP"
	(umask 077 && makedumpfile --dump-dmesg "$dir/dump.$STAMP" "$dir/dmesg.$STAMP" >/dev/null) ||
		say "dmesg not extracted"
	(umask 077 && echo "recovered from raw device $CRASHDUMP_RAW_DEVICE at $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		>"$dir/origin")
	# Recovered once: wipe the stream's header so the next boot does not recover it again.
	dd if=/dev/zero of="$CRASHDUMP_RAW_DEVICE" bs=1M count=1 conv=fsync 2>/dev/null
	prune "$KDUMP_COREDIR"
	record recovered "$dir/dump.$STAMP" "from raw device $CRASHDUMP_RAW_DEVICE"
}

check() {
	bounded "$CHECK_TIME_LIMIT" check-target && return 0
	rc=$?
	[ "$CRASHDUMP_TARGET" != nfs ] || release_nfs
	return $rc
}

check_target() {
	case $CRASHDUMP_TARGET in
	local) ;;
	device) mountpoint -q "$CRASHDUMP_MOUNT" || { echo "$CRASHDUMP_MOUNT is not mounted" >&2; return 1; } ;;
	raw) [ -b "$CRASHDUMP_RAW_DEVICE" ] || { echo "no block device $CRASHDUMP_RAW_DEVICE" >&2; return 1; } ;;
	ssh) server check >/dev/null ;;
	nfs)
		mount_nfs || return 1
		dir=$NFS_MOUNT${CRASHDUMP_NFS_DIR%/}/$CRASHDUMP_HOST
		mkdir -p "$dir" && chmod 0700 "$dir" && touch "$dir/.write-test" && rm -f "$dir/.write-test"
		rc=$?
		umount "$NFS_MOUNT"
		return $rc
		;;
	esac
}

case ${1:-capture} in
recover) recover ;;
check) check ;;
capture)
	# Not a capture boot (the service started by hand): do what kdump-tools would.
	[ -s "$VMCORE" ] || exec /etc/init.d/kdump-tools start
	capture
	;;
# Internal: the parts that bounded runs in a child process.
send-ssh) send_ssh ;;
send-nfs) send_nfs ;;
check-target) check_target ;;
*)
	echo "usage: $0 [capture|recover|check]" >&2
	exit 2
	;;
esac
