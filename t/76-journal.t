#!/bin/bash
# t/76-journal.t - where the queue is on ext4 with a journal of its own,
# the journal makes a message's name in queue/new durable: mta-smtpd
# fsyncs the file after its rename into new/ and not the directory; and a
# Maildir's new/ on that same file system is not fsynced either (the
# queue's unlink that forgets the message commits after the rename).
# Anywhere else (no journal, another journal, fast commits, a device it
# cannot read the superblock from), or with
# --sync-dirs, the directories are fsynced.  A failed fsync of the file
# answers 451 and keeps nothing.  Real file systems: ext4 images made
# here, loop-mounted; strace -y names the file or directory of every
# fsync, and injects the failure.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/strace.sh"

[ "$(id -u)" = 0 ] || skip_all "mounting file systems needs root"
command -v mkfs.ext4 >/dev/null || skip_all "mkfs.ext4 is not installed"
[ -n "$STRACE" ] || skip_all "strace is not installed"

# At exit the daemons stop first (they hold the mounts); when a test
# failed, the logs and traces are copied out of the images, which are
# unmounted before cleanup keeps or removes $T.
MOUNTS=
unmount_all() {
	local m p f
	for p in $_started_pids; do kill "$p" 2>/dev/null; done
	for p in $_started_pids; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	if [ "$TAP_FAILED" != 0 ]; then
		for f in $(find $MOUNTS -maxdepth 2 \( -name mta.log -o -name strace.out \) 2>/dev/null); do
			mkdir -p "$T/kept${f%/*}" && cp "$f" "$T/kept$f"
		done
	fi
	for m in $MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
}
trap 'unmount_all; cleanup' EXIT

# image NAME MKFS_OPTS... - an ext4 image, loop-mounted on $T/NAME
image() {
	try_image "$@" ||
		skip_all "cannot make and mount an ext4 image here: $(head -1 "$T/mount.err" "$T/mkfs.err" | tr '\n' ' ')"
}
# try_image NAME MKFS_OPTS... - the same; false when it cannot be made
try_image() {
	local name=$1
	shift
	: >"$T/mount.err"
	truncate -s 64M "$T/$name.img" &&
		mkfs.ext4 -q -F "$@" "$T/$name.img" >"$T/mkfs.err" 2>&1 &&
		mkdir -p "$T/$name" &&
		mount -o loop "$T/$name.img" "$T/$name" 2>"$T/mount.err" || return 1
	MOUNTS="$MOUNTS $T/$name"
}
# device_of DIR - the kernel's name of the block device DIR is on
device_of() { basename "$(readlink "/sys/dev/block/$(mountpoint -d "$1")")"; }
image journal
image journal2
image nojournal -O ^has_journal
ls "/proc/fs/jbd2/$(device_of "$T/journal")"-* >/dev/null 2>&1 ||
	skip_all "/proc/fs/jbd2 lists no journal for $(device_of "$T/journal")"
# (an image with fast commits, where mkfs.ext4 and the kernel have them)
fast=0
try_image fast -O fast_commit && fast=1

plan 38

# run TAG DIR MAILROOT [OPTS...] - mta-smtpd under strace with its queue
# in DIR and its mail root MAILROOT; three messages to bob, each one's
# 250 awaited; every one delivered; the daemon stopped.  The fsyncs of
# the queue's files (FILE), of queue/new (QDIR), fdatasyncs of the
# queue's files (FDATA), of the Maildir's new/ (MDIR) and of its files
# (MFILE), and whether each 250 came after its file's sync ended (ORDER),
# in $T/TAG.counts.
run() {
	local tag=$1 dir=$2 mail=$3
	shift 3
	mkdir -p "$dir" "$mail"
	MTA_DIR=$dir
	MTA_SYNC_DIRS= start_traced -e trace=fsync,fdatasync,renameat2,write,sendto -s 256 \
		-- -m "$mail" "$@" || { echo "Bail out! mta-smtpd did not start ($tag)"; exit 1; }
	$PY - "$MTA_PORT" >"$T/$tag.sent" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="j.example", timeout=20)
for i in range(3):
    s.sendmail("alice@example.org", ["bob@test.example"],
        b"From: alice@example.org\r\nSubject: journal %d\r\n\r\nbody %d\r\n" % (i, i))
s.quit()
print("sent")
EOF
	wait_until 20 delivered 3 "$mail/bob"
	stop_traced >/dev/null
	$PY - "$MTA_DIR/strace.out" "$MTA_QUEUE" "$mail/bob" >"$T/$tag.counts" <<'EOF'
import re, sys
lines = open(sys.argv[1], errors="replace").read().split("\n")
q, box = sys.argv[2], sys.argv[3]
def count(pat):
    return sum(1 for l in lines if re.search(pat, l))
# "fsync(FD<PATH>) = 0", or "fsync(FD<PATH> <unfinished ...>"
print("FILE=%d" % count(r"\bfsync\(\d+<%s/new/[A-Za-z0-9]+>[) ]" % re.escape(q)))
print("QDIR=%d" % count(r"\bfsync\(\d+<%s/new>[) ]" % re.escape(q)))
print("FDATA=%d" % count(r"\bfdatasync\(\d+<%s/(new|tmp)/" % re.escape(q)))
print("MDIR=%d" % count(r"\bfsync\(\d+<%s/new>[) ]" % re.escape(box)))
print("MFILE=%d" % count(r"\bfsync\(\d+<%s/(tmp|new)/" % re.escape(box)))
# each 250 "queued as ID" after the end of a sync of that ID's file
ended = {}
for i, l in enumerate(lines):
    m = re.search(r"^(\d+) .*\b(?:fsync|fdatasync)\(\d+<%s/(?:new|tmp)/([A-Za-z0-9]+)>" % re.escape(q), l)
    if not m:
        continue
    pid, qid = m.group(1), m.group(2)
    if "unfinished" in l:
        for j in range(i + 1, len(lines)):
            if lines[j].startswith(pid + " ") and "resumed" in lines[j]:
                if lines[j].rstrip().endswith("= 0"):
                    ended.setdefault(qid, j)
                break
    elif l.rstrip().endswith("= 0"):
        ended.setdefault(qid, i)
replies = [(i, m.group(1)) for i, l in enumerate(lines)
           for m in [re.search(r'(?:write|sendto)\(\d+<[^>]*>, "250 2\.0\.0 [^"]*queued as ([A-Za-z0-9]+)', l)] if m]
bad = [qid for i, qid in replies if qid not in ended or ended[qid] > i]
print("REPLIES=%d" % len(replies))
print("ORDER=%s" % ("ok" if replies and not bad else "late:" + ",".join(bad)))
EOF
	grep -o 'new-sync=[^ ]*' "$MTA_LOG" | head -1 >>"$T/$tag.counts"
	diag "$tag: $(tr '\n' ' ' <"$T/$tag.counts")"
}

# delivered N BOX - N messages or more in the Maildir BOX?
delivered() { [ "$(maildir_count "$2")" -ge "$1" ]; }
c() { sed -n "s/^$2=//p" "$T/$1.counts"; }

# ---- queue and Maildir on ext4 with a journal ------------------------------
run j "$T/journal/a" "$T/journal/a/mail"
like "$(c j new-sync)" '^journal:[a-z0-9-]+-[0-9]+$' "journal: the start line names the journal (new-sync=journal:DEVICE-INODE)"
is "$(maildir_count "$T/journal/a/mail/bob")" 3 "journal: all three messages delivered"
is "$(c j QDIR)" 0 "journal: queue/new is never fsynced"
is "$(c j FDATA)" 0 "journal: no fdatasync of a queue file (it would not wait for the rename's commit)"
like "$(c j FILE)" '^[3-9]$' "journal: each queue file is fsynced under its name in new/ (after the rename)"
is "$(c j ORDER)" ok "journal: each 250 comes after its file's fsync ended"
is "$(c j REPLIES)" 3 "journal: three 250s seen"
is "$(c j MDIR)" 0 "journal: the Maildir's new/, on the queue's file system, is not fsynced"
is "$(c j MFILE)" 3 "journal: each Maildir file is fsynced"

# ---- the same with --sync-dirs ----------------------------------------------
run s "$T/journal/b" "$T/journal/b/mail" --sync-dirs
is "$(c s new-sync)" dir "--sync-dirs: the start line says new-sync=dir"
is "$(maildir_count "$T/journal/b/mail/bob")" 3 "--sync-dirs: all three delivered"
like "$(c s QDIR)" '^[1-9]' "--sync-dirs: queue/new is fsynced"
is "$(c s FDATA)" 3 "--sync-dirs: each queue file is fdatasynced"
is "$(c s ORDER)" ok "--sync-dirs: each 250 after its file's sync"
like "$(c s MDIR)" '^[1-9]' "--sync-dirs: the Maildir's new/ is fsynced"

# ---- queue on the journal, mail root on another file system ------------------
run x "$T/journal/c" "$T/nojournal/c-mail"
like "$(c x new-sync)" '^journal:' "mail root elsewhere: the queue still takes the journal's way"
is "$(maildir_count "$T/nojournal/c-mail/bob")" 3 "mail root elsewhere: all three delivered"
is "$(c x QDIR)" 0 "mail root elsewhere: queue/new is not fsynced"
like "$(c x MDIR)" '^[1-9]' "mail root elsewhere: the Maildir's new/ is fsynced (another journal, or none)"
is "$(c x ORDER)" ok "mail root elsewhere: each 250 after its file's fsync"

# ---- queue on one journal, mail root on another ------------------------------
run y "$T/journal/e" "$T/journal2/e-mail"
like "$(c y new-sync)" '^journal:' "mail root on another journal: the queue takes the journal's way"
is "$(maildir_count "$T/journal2/e-mail/bob")" 3 "mail root on another journal: all three delivered"
like "$(c y MDIR)" '^[1-9]' "mail root on another journal: the Maildir's new/ is fsynced (two journals do not order each other)"

# ---- a failed fsync of the file, the journal's way: 4xx, nothing kept -------
MTA_DIR=$T/journal/f
MTA_SYNC_DIRS= start_mta_hold || { echo "Bail out! mta-smtpd did not start (f)"; exit 1; }
strace_attach "$T/f.strace" -e trace=fsync -e inject=fsync:error=EIO ||
	{ echo "Bail out! strace cannot attach: $(head -1 "$T/strace.err")"; exit 1; }
out=$($PY - "$MTA_PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="j.example", timeout=20)
s.ehlo(); s.mail("alice@example.org"); s.rcpt("bob@test.example")
code, text = s.data(b"Subject: eio\r\n\r\nbody\r\n")
print(code, text.decode())
EOF
)
strace_detach
like "$out" '^451 4\.3\.0 ' "fsync fails: the client hears 451 4.3.0"
like "$(cat "$MTA_LOG")" 'queue-error op=fsync id=[A-Za-z0-9]+ error="Input/output error"' \
	"fsync fails: logged as queue-error op=fsync"
is "$(ls "$MTA_QUEUE/new" "$MTA_QUEUE/tmp" | grep -c '^[A-Za-z0-9]')" 0 "fsync fails: nothing left in new/ or tmp/"
like "$(smtp_chat "$MTA_PORT" <<<$'EHLO j.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: again\r\n\r\nx\r\n.\r\nQUIT\r\n')" \
	'250 2\.0\.0 Ok: queued as' "fsync works again: the next message is queued"
stop_mta >/dev/null

# ---- ext4 with fast commits: not counted on -----------------------------------
if [ "$fast" = 1 ]; then
	run fc "$T/fast/g" "$T/fast/g/mail"
	is "$(c fc new-sync)" dir "fast commits: the start line says new-sync=dir"
	like "$(c fc QDIR)" '^[1-9]' "fast commits: queue/new is fsynced"
	like "$(c fc MDIR)" '^[1-9]' "fast commits: the Maildir's new/ is fsynced"
else
	skip "no ext4 with fast commits here: $(head -1 "$T/mount.err" "$T/mkfs.err" | tr '\n' ' ')" 3
fi

# ---- a device that cannot be read as one: not sure, so no --------------------
# (in a mount namespace of its own, /dev/null over the device's node: not
# the block device it names)
dev=$(device_of "$T/journal")
if unshare -m --propagation private sh -c 'mount --bind /dev/null "/dev/$1"' sh "$dev" 2>"$T/h.probe"; then
	mkdir -p "$T/journal/h/queue"
	port=$(free_port)
	unshare -m --propagation private sh -c 'mount --bind /dev/null "/dev/$1" && shift && exec "$@"' \
		sh "$dev" "$MTA_BIN/mta-smtpd" -q "$T/journal/h/queue" -m "$T/journal/h/mail" \
		-L "$T/journal/h/mta.log" -l "127.0.0.1:$port" -d test.example \
		2>"$T/h.stderr" &
	hpid=$!
	track "$hpid"
	wait_until 10 grep -q 'new-sync=' "$T/journal/h/mta.log"
	kill "$hpid" 2>/dev/null
	wait_for 20 eval '! kill -0 "$hpid" 2>/dev/null' || kill -9 "$hpid" 2>/dev/null
	like "$(grep -o 'new-sync=[^ ]*' "$T/journal/h/mta.log")" '^new-sync=dir$' \
		"device node not the device (in a namespace of its own): the start line says new-sync=dir"
else
	skip "no bind mount in a mount namespace here: $(head -1 "$T/h.probe")" 1
fi

# ---- ext4 without a journal ---------------------------------------------------
run n "$T/nojournal/d" "$T/nojournal/d/mail"
is "$(c n new-sync)" dir "no journal: the start line says new-sync=dir"
is "$(maildir_count "$T/nojournal/d/mail/bob")" 3 "no journal: all three delivered"
like "$(c n QDIR)" '^[1-9]' "no journal: queue/new is fsynced"
is "$(c n FDATA)" 3 "no journal: each queue file is fdatasynced"
is "$(c n ORDER)" ok "no journal: each 250 after its file's sync"
like "$(c n MDIR)" '^[1-9]' "no journal: the Maildir's new/ is fsynced"
is "$(c n FILE)" 0 "no journal: no queue file is fsynced in new/ (fdatasync instead)"

done_testing
