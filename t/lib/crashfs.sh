# t/lib/crashfs.sh - mounting t/tools/crashfs (t/tools/README) in a test.
# Source it after common.sh.  MTA_CRASHFS: the program (make passes it).
#   crashfs_skip_unless_fuse   prints the TAP skip and exits without /dev/fuse
#   fs_mount [OPTS...]         a new backing dir $B mounted on $M (sets both;
#                              FS_PID)
#   fs_mount_on DIR [OPTS...]  the same with DIR as $B: what it holds is durable
#   fs_cut                     the power fails now
#   fs_points                  durability points so far
#   fs_umount                  unmount $M, wait (bounded) for crashfs to end
# crashfs's stderr goes to $T/crashfs.stderr; crashfs_stderr prints it
# without libfuse 3.14's harmless "Ignoring invalid max threads" lines.

CRASHFS=${MTA_CRASHFS:-$here/../build/release/tools/crashfs}
FS_PID= B= M=

crashfs_skip_unless_fuse() {
	if [ ! -c /dev/fuse ]; then
		echo "1..0 # SKIP /dev/fuse is absent: no FUSE on this machine"
		exit 0
	fi
}

fs_mount() {
	local b=$T/b$RANDOM$RANDOM
	mkdir -p "$b" && fs_mount_on "$b" "$@"
}

fs_mount_on() {
	B=$1
	shift
	M=$T/m$RANDOM$RANDOM
	mkdir -p "$M"
	"$CRASHFS" -f "$@" "$B" "$M" 2>>"$T/crashfs.stderr" &
	FS_PID=$!
	track "$FS_PID"
	wait_until 10 test -f "$M/.crashfs-ctl" || { diag "crashfs did not mount"; return 1; }
}

fs_umount() {
	fusermount3 -u "$M" || return 1
	wait_until 10 sh -c "! kill -0 $FS_PID 2>/dev/null"
}

fs_cut() { echo cut >"$M/.crashfs-ctl"; }

fs_points() { sed -n 's/^points //p' "$M/.crashfs-ctl"; }

crashfs_stderr() { grep -v '^Ignoring invalid max threads' "$T/crashfs.stderr" 2>/dev/null; }
