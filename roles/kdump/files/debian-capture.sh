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
# still use its savecore, the others are written here. Settings: /etc/crashdump-kdump/capture.conf.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
. /etc/default/kdump-tools
. /etc/crashdump-kdump/capture.conf
VMCORE=/proc/vmcore
STATE_DIR=/var/lib/crashdump-kdump
STATUS=$STATE_DIR/last-capture
NFS_MOUNT=$STATE_DIR/nfs
STAMP=$(date +%Y%m%d%H%M)

say() {
	echo "crashdump-kdump: $*"
}

# The outcome of this capture, read by kdump_facts after the next boot.
record() { # result location detail
	mkdir -p "$STATE_DIR"
	printf 'result=%s\nlocation=%s\ndetail=%s\ntarget=%s\nstamp=%s\ntime=%s\n' \
		"$1" "$2" "$3" "$CRASHDUMP_TARGET" "$STAMP" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$STATUS.tmp" &&
		mv "$STATUS.tmp" "$STATUS"
	sync
	say "$1: $2 $3"
}

free_bytes() { # directory
	df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 * 1024 }'
}

enough_space() { # directory
	free=$(free_bytes "$1")
	if [ -z "$free" ] || [ "$free" -lt "$CRASHDUMP_MIN_FREE" ]; then
		say "not enough space in $1: ${free:-unknown} bytes free, min_free is $CRASHDUMP_MIN_FREE"
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

server() { # receiver command...: the server's forced command allows check, put, commit and prune
	ssh -i "$CRASHDUMP_SSH_KEY" -p "$CRASHDUMP_SSH_PORT" -o BatchMode=yes -o IdentitiesOnly=yes \
		-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$CRASHDUMP_SSH_KNOWN_HOSTS" \
		-o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=10 -o ServerAliveInterval=15 \
		-o ServerAliveCountMax=4 "$CRASHDUMP_SSH_DEST" "$@"
}

save_ssh() {
	tries=5
	until server check "$CRASHDUMP_MIN_FREE"; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || { say "dump server $CRASHDUMP_SSH_DEST unreachable"; return 1; }
		sleep 5
	done
	if [ "$KDUMP_DUMP_DMESG" = 1 ]; then
		makedumpfile --dump-dmesg "$VMCORE" /tmp/dmesg >/dev/null && server put "$STAMP" dmesg </tmp/dmesg &&
			server commit "$STAMP" dmesg || say "dmesg not saved"
	fi
	# The end of the stream does not tell the server that the dump is whole: commit says so.
	# shellcheck disable=SC2086
	{ makedumpfile $MAKEDUMP_ARGS "$VMCORE" || echo failed >/tmp/makedumpfile-failed; } | server put "$STAMP" dump &&
		[ ! -e /tmp/makedumpfile-failed ] && server commit "$STAMP" dump || return 1
	[ "$CRASHDUMP_KEEP" -eq 0 ] || server prune "$CRASHDUMP_KEEP" >/dev/null || say "retention on the server failed"
	LOCATION="$CRASHDUMP_SSH_DEST:$CRASHDUMP_HOST/$STAMP"
}

mount_nfs() {
	mkdir -p "$NFS_MOUNT"
	tries=4
	until mount -t nfs -o tcp,soft,timeo=100,retrans=3,nolock "$CRASHDUMP_NFS_EXPORT" "$NFS_MOUNT"; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || { say "cannot mount $CRASHDUMP_NFS_EXPORT"; return 1; }
		sleep 5
	done
}

save_nfs() {
	mount_nfs || return 1
	save_to_dir "$NFS_MOUNT${CRASHDUMP_NFS_DIR%/}/$CRASHDUMP_HOST"
	rc=$?
	umount "$NFS_MOUNT" || say "could not unmount $NFS_MOUNT"
	[ $rc -eq 0 ] && LOCATION="$CRASHDUMP_NFS_EXPORT${CRASHDUMP_NFS_DIR%/}/$CRASHDUMP_HOST/$STAMP"
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

capture() {
	LOCATION=
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
*)
	echo "usage: $0 [capture|recover|check]" >&2
	exit 2
	;;
esac
