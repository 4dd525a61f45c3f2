#!/bin/bash
# t/77-powercut-ext4.t - mta-smtpd's durability under power loss where it
# counts on ext4's journal.  With the queue on ext4 with a journal of its
# own, a queue file's name in new/ and a Maildir file's name in new/ are
# left to the journal, not fsynced (mta-queue(5), "On ext4 with a
# journal"); crashfs (t/71) models only what POSIX promises and cannot
# judge that.  Here the file system is the kernel's ext4, on a loop device
# on t/tools/blockcut: a disk whose write cache the power cut loses (all
# that no flush made durable; with a seed, a random half of the 4 KiB
# blocks written since the last flush survive: a cache writes back in
# any order).  Messages are sent (four connections, two more never
# finished) and delivered into a Maildir on the same file system; the cut
# comes at a random flush while they are; the journal is replayed, a full
# e2fsck must find nothing wrong, the image is mounted again, and a new
# daemon starts on it, as after a reboot.  Every message answered 250 must then be delivered,
# whole; none cut short may be (t/lib/powercut.sh's check, as in t/71).
# Rounds: MTA_POWERCUT_ROUNDS (default 4) with deliveries under way, one
# with --hold (only the receiving side).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/crashfs.sh"
. "$here/lib/powercut.sh"
crashfs_skip_unless_fuse

[ "$(id -u)" = 0 ] || skip_all "loop devices need root"
command -v mkfs.ext4 >/dev/null || skip_all "mkfs.ext4 is not installed"
command -v losetup >/dev/null || skip_all "losetup is not installed"
BLOCKCUT=${CRASHFS%/*}/blockcut
[ -x "$BLOCKCUT" ] || skip_all "t/tools/blockcut is not built ($BLOCKCUT)"

ROUNDS=${MTA_POWERCUT_ROUNDS:-4}
# the daemon's own choice, not the tests' usual --sync-dirs (common.sh)
MTA_SYNC_DIRS=
plan $(( (ROUNDS + 1) * 3 ))

# At exit: the daemons first (they hold the mounts), then the mounts, the
# loop devices and the blockcut mounts, before cleanup removes $T.
# blockcut last: a loop device whose disk went away cannot be let go.
# Each list holds only what is still the test's (power_fails and round
# take out what they let go).
MOUNTS= LOOPS= BC_MOUNTS= BC_PIDS=
teardown() {
	local p m
	for p in $_started_pids; do kill -9 "$p" 2>/dev/null; done
	for p in $_started_pids; do wait_until 10 sh -c "! kill -0 $p 2>/dev/null"; done
	for m in $MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	for m in $LOOPS; do
		case $(losetup -n -O BACK-FILE "$m" 2>/dev/null) in
		"$T"/*) losetup -d "$m" 2>/dev/null ;;
		esac
	done
	for m in $BC_MOUNTS; do fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null; done
	for p in $BC_PIDS; do
		wait_until 5 sh -c "! kill -0 $p 2>/dev/null" || kill -9 "$p" 2>/dev/null
	done
}
trap 'teardown; cleanup' EXIT

# drop LIST ITEM - ITEM out of the list variable LIST
drop() { local v=" ${!1} "; printf -v "$1" '%s' "${v/ $2 / }"; }

# new_image TAG - an ext4 image $T/TAG.img (4 KiB blocks: blockcut's unit)
# holding r/, a queue made by a daemon started and stopped once, and
# r/mail, as installed
new_image() {
	local img=$T/$1.img mnt=$T/$1.seed
	truncate -s 64M "$img" && mkfs.ext4 -q -F -b 4096 -N 16384 "$img" >"$T/mkfs.err" 2>&1 &&
		mkdir -p "$mnt" && mount -o loop "$img" "$mnt" 2>"$T/mount.err" || return 1
	MOUNTS="$MOUNTS $mnt"
	if ! seed "$mnt/r" >"$T/seed.err" 2>&1; then
		cat "$T/seed.err" >"$T/mount.err"
		return 1
	fi
	umount "$mnt" && drop MOUNTS "$mnt"
}

# on_blockcut TAG - the image under blockcut at $T/TAG.bc, ext4 on a loop
# device on it mounted at $T/TAG.live; sets M (r/ there) and CTL
on_blockcut() {
	local bc=$T/$1.bc live=$T/$1.live dev
	mkdir -p "$bc" "$live"
	"$BLOCKCUT" -f "$T/$1.img" "$bc" 2>>"$T/blockcut.stderr" &
	BC_PID=$!
	BC_PIDS="$BC_PIDS $BC_PID"
	BC_MOUNTS="$BC_MOUNTS $bc"
	CTL=$bc/ctl BC=$bc LIVE=$live M=$live/r
	wait_until 10 test -f "$bc/ctl" || return 1
	dev=$(losetup -f --show "$bc/disk") || return 1
	LOOPS="$LOOPS $dev" DEV=$dev
	mount "$dev" "$live" || return 1
	MOUNTS="$MOUNTS $live"
}

ctl() { sed -n "s/^$1 //p" "$CTL"; }

# power_fails - the cut (unless cut-at made it), the daemon killed, the
# file system, the loop device and blockcut gone; the image on $T/TAG.img
# holds what the disk kept
power_fails() {
	echo cut >"$CTL"
	kill -9 "$MTA_PID" 2>/dev/null
	wait_until 10 test -f "$MTA_STATUS_FILE"
	diag "$(tr '\n' ' ' <"$CTL")"
	umount "$LIVE" 2>/dev/null || umount -l "$LIVE"
	drop MOUNTS "$LIVE"
	losetup -d "$DEV" && drop LOOPS "$DEV"
	fusermount3 -u "$BC" && drop BC_MOUNTS "$BC"
	wait_until 10 sh -c "! kill -0 $BC_PID 2>/dev/null" && drop BC_PIDS "$BC_PID"
}

# after_reboot TAG - the journal replayed (e2fsck -E journal_only, as a
# mount would), then a full e2fsck that changes nothing: its status on
# $T/TAG.fsck (0: nothing wrong; the superblock's free counts, which
# ext4 does not keep exact, are no error); the image mounted at
# $T/TAG.back; sets B (r/ there)
after_reboot() {
	local back=$T/$1.back
	e2fsck -E journal_only -y "$T/$1.img" >"$T/$1.fsck.out" 2>&1
	e2fsck -fn "$T/$1.img" >>"$T/$1.fsck.out" 2>&1
	echo $? >"$T/$1.fsck"
	mkdir -p "$back" && mount -o loop "$T/$1.img" "$back" || return 1
	MOUNTS="$MOUNTS $back"
	B=$back/r
}

# not_reached N TAG WHY - the round's last N checks fail, for WHY
not_reached() {
	local i
	for i in $(seq "$1"); do ok 1 "$2: $3 (check $i of the round's last $1 not reached)"; done
}

# round TAG K KEEP [MTA_OPTS...] - a workload of K messages, the cut at a
# random flush from the 15th to the 50th after the daemon started (the
# workloads here take more than 70); KEEP: blockcut's seed (0: only what
# was flushed survives)
round() {
	local tag=$1 k=$2 keep=$3 r out acked fsck during
	shift 3
	if ! new_image "$tag" || ! on_blockcut "$tag"; then
		not_reached 3 "$tag" "no ext4 on blockcut: $(cat "$T/mkfs.err" "$T/mount.err" 2>/dev/null | head -2)"
		return
	fi
	echo "keep $keep" >"$CTL"
	r=$(( (RANDOM % 36) + 15 ))
	echo "cut-at $(( $(ctl flushes) + r ))" >"$CTL"
	UNFINISHED=2 workload "$tag" "$k" "$@"
	during=$(ctl cut)
	power_fails
	like "$(grep -o 'new-sync=[^ ]*' "$T/d.$tag/mta.log" | head -1)" '^new-sync=journal:' \
		"$tag: the daemon left names to ext4's journal"
	if ! after_reboot "$tag"; then
		not_reached 2 "$tag" "the image does not mount after the cut"
		return
	fi
	fsck=$(cat "$T/$tag.fsck")
	is "$fsck" 0 "$tag: after the journal's replay, e2fsck -fn finds nothing wrong"
	[ "$fsck" = 0 ] || sed 's/^/#   /' "$T/$tag.fsck.out"
	out=$(reboot "$tag")
	acked=$(grep -c . "$T/acked.$tag")
	is "$(echo "$out" | head -1), some acked $([ "$acked" -gt 0 ] && echo yes), cut during the workload $during" \
		"$CLEAN, some acked yes, cut during the workload 1" \
		"$tag: cut at flush $r of the workload (keep $keep): every acked message ($acked) delivered whole"
	echo "$out" | sed -n 2,3p
	umount "$T/$tag.back" && drop MOUNTS "$T/$tag.back"
}

round hold 48 "$RANDOM" --hold
for i in $(seq 1 "$ROUNDS"); do
	keep=$RANDOM
	[ "$i" = 1 ] && keep=0     # one round keeps only what was flushed
	round "deliver$i" 24 "$keep"
done
done_testing
