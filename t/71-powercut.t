#!/bin/bash
# t/71-powercut.t - mta-smtpd's durability under power loss, not only
# kill -9: its queue and mail root on t/tools/crashfs, which keeps only
# what fsync made durable.  Messages are sent (python smtplib, four
# connections at once); the power fails (crashfs cuts, the daemon is
# killed); a new daemon starts on the backing directory, as after a
# reboot.  Every message that was answered 250 must then be delivered,
# byte for byte, once or more (a crash may repeat a delivery; those are
# counted); nothing delivered may be a message whose final dot never
# left the client (some are sent without it on purpose, their connections
# open until the cut or closed at once); one sent completely but never
# answered 250 may be (the cut between the commit and the reply): those
# are counted, with the reason, as "delivered without 250".  The cut
# comes after the last 250 (deliveries under way), at a random
# durability point (also with a remote recipient besides the local one,
# an aiosmtpd peer), and at each point of a short workload into a Maildir
# and into an mbox, whose messages must be whole (the first
# MTA_POWERCUT_POINTS of each, default 8; 0: all); and at the points of
# six defects found here, each kept as a regression case: a queue and a
# mail root made on the spot, a Maildir made by another delivery that
# had not synced it yet, a message left under both new/ and mess/, a
# committer's fsync of new/ while the scheduler moves a message, and an
# mbox's dotlock left empty by the cut.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/crashfs.sh"
. "$here/lib/powercut.sh"
. "$here/lib/sink.sh"
crashfs_skip_unless_fuse

EACH_MAX=${MTA_POWERCUT_POINTS:-8}      # 0: every point of the workload
plan 18

# power_fails - the cut (unless cut_at did it), the daemon killed, unmount
power_fails() {
	fs_cut
	kill -9 "$MTA_PID" 2>/dev/null
	wait_until 10 test -f "$MTA_STATUS_FILE"
	fs_umount
}

# delivered_then_cut N [--mbox] - wait (bounded) until alice's mailbox on
# $M holds N messages and the queue has forgotten them; fsync the queue's
# directories (as later traffic would do), which makes the forgetting
# durable; then the power fails
delivered_then_cut() {
	local n=$1 count=maildir_count
	[ "${2:-}" = --mbox ] && count=mbox_count
	wait_for 20 eval '[ "$($count "$M/mail/alice")" = "$n" ] &&
		[ "$(count_files "$M/queue/mess")$(count_files "$M/queue/rcpt")" = 00 ]'
	for d in new mess rcpt; do
		$PY -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$M/queue/$d"
	done
	power_fails
}

# ---- a fresh install: the daemon makes its queue, or its mail root --------
# Messages queued with --hold (nothing delivered), then the power fails:
# they must be in queue/new afterwards.
mkdir -p "$T/b.freshq"
fs_mount_on "$T/b.freshq"
workload freshq 2 --hold
power_fails
got=$(count_files "$B/queue/new")
# (queue.c once made the queue's directories without an fsync of the
# directory above: they vanished at the cut with the messages in them)
is "$got, acked $(grep -c . "$T/acked.freshq")" "2, acked 2" \
	"a queue made on the spot: the acked messages are in queue/new after the cut"
# The queue is there, the mail root is not: the first delivery makes it,
# the queue forgets the delivered messages, then the power fails.
seed "$T/b.freshm"
rm -r "$T/b.freshm/mail"
fs_mount_on "$T/b.freshm"
workload freshm 4
delivered_then_cut 4
out=$(reboot freshm)
# (local.c once made the mail root without an fsync of the directory above)
is "$(echo "$out" | head -1)" "$CLEAN" \
	"a mail root made on the spot: every acked message delivered after the cut"
echo "$out" | sed -n 2,3p

# ---- a mailbox another delivery made, its name not yet synced ------------
# alice's Maildir (with tmp/, new/ and cur/), or her mbox, is there but
# was never synced in the directory above: as another delivery thread
# leaves it between its mkdir (or O_CREAT) and its fsync of the directory
# above.  A delivery that finds it must make those names durable before
# the queue forgets the job (mta-queue(5), CRASH SAFETY, 0).
for kind in maildir mbox; do
	opt=
	[ $kind = mbox ] && opt=--mbox
	seed "$T/b.made$kind"
	fs_mount_on "$T/b.made$kind"
	if [ $kind = mbox ]; then
		: >"$M/mail/alice"
	else
		mkdir -p "$M/mail/alice/tmp" "$M/mail/alice/new" "$M/mail/alice/cur"
	fi
	workload "made$kind" 2 $opt
	delivered_then_cut 2 $opt
	out=$(reboot "made$kind" $opt)
	is "$(echo "$out" | head -1), acked $(grep -c . "$T/acked.made$kind")" "$CLEAN, acked 2" \
		"$kind: one made by another delivery, not yet synced: every acked message delivered after the cut"
	echo "$out" | sed -n 2,3p
done

# ---- the cut right after the last 250, deliveries under way ---------------
for kind in maildir mbox; do
	opt=
	[ $kind = mbox ] && opt=--mbox
	seed "$T/b.$kind"
	fs_mount_on "$T/b.$kind"
	UNFINISHED=2 workload "$kind" 8 $opt
	power_fails
	out=$(reboot "$kind" $opt)
	is "$(echo "$out" | head -1), acked $(grep -c . "$T/acked.$kind")" "$CLEAN, acked 8" \
		"$kind: cut after the last 250: every acked message delivered"
	echo "$out" | sed -n 2,3p
	diag "$(echo "$out" | grep "^lingering") (in queue/new after the restart)"
done

# ---- the check itself: a delivered message cut short is seen --------------
# A copy of the maildir case's mailbox with one message more: maildir.u0,
# whose final dot the client never sent, whole (as a daemon that took the
# connection's end for the end of the data would deliver it).  Only the
# record of the client can tell it from a message sent completely.
cp -r "$T/b.maildir/mail/alice" "$T/fake-alice"
$PY - "$T/fake-alice" <<'EOF'
import os, sys
from mailcheck import maildir_messages, split_trace
from sendrecord import plain_message
box = sys.argv[1]
rp, dt, rcv, _ = split_trace(maildir_messages(box)[0][1])
fake = ("Return-Path: %s\nDelivered-To: %s\n%s" % (rp, dt, rcv)).encode()
open(os.path.join(box, "new", "1.fake.test"), "wb").write(fake + plain_message("maildir.u0"))
EOF
is "$(B=$T/b.maildir BOX=$T/fake-alice check maildir | head -1)" "missing 0 bad 0 unsent 1" \
	"the check finds a delivered message whose final dot never left the client (a fake one added)"

# ---- a message taken by the scheduler, not yet delivered ----------------
# The scheduler linked it into mess/, synced mess/ and removed it from
# new/ without a sync of new/: after the cut both names are there, one
# inode.  Delivery defers (the mail root
# is a file) with its retry an hour away, so the state is the same each
# run; that deferral moved it into mess/ (filed), its job's retry time
# synced with it, so before the restart the job is made due as an
# operator would (mta-queue --flush).
# After the restart the message is delivered, and new/ must not keep
# it: a rename between two names of one inode does nothing (POSIX), so
# recovery's new/ -> mess/ leaves new/ID, and the next start delivers the
# message again.
seed "$T/b.taken"
: >"$T/b.taken/no-mailroot"
fs_mount_on "$T/b.taken"
workload taken 1 -m "$M/no-mailroot" --retry 3600
MTA_LOG=$T/d.taken/mta.log wait_log 10 ' deferred id='
# (the move into mess/ follows the deferral at once)
MTA_LOG=$T/d.taken/mta.log wait_log 10 ' filed id='
sleep 0.5
power_fails
"$MTA_BIN/mta-queue" -q "$B/queue" --flush >/dev/null
out=$(reboot taken)
echo "$out" | sed -n 2,3p
n=$(echo "$out" | sed -n 's/^lingering //p')
# (one file under two names is no ID collision: nothing goes to bad/)
is "$(echo "$out" | head -1), $n left in new/, $(count_files "$B/queue/bad") in bad/" \
	"$CLEAN, 0 left in new/, 0 in bad/" \
	"a message in both new/ and mess/ after the cut: delivered, gone from new/, not quarantined"

# ---- a committer's fsync of new/ while the scheduler moves a message ------
# A message queued (--hold: not taken), then start-up recovery takes it
# from new/ to mess/; the cut comes at its fsync of mess/, with new/ synced
# just before (as a committer's group fsync of new/ in another thread
# would).  A rename new/ -> mess/ lost the message there: its removal from
# new/ durable, its arrival in mess/ not.  Link, fsync of mess/, unlink
# keeps it in new/ until mess/ has it.
seed "$T/b.race"
fs_mount_on "$T/b.race"
workload race 1 --hold
stop_mta >/dev/null
echo "cut-at-fsync queue/mess" >"$M/.crashfs-ctl"
echo "sync-at-cut queue/new" >"$M/.crashfs-ctl"
MTA_DIR=$T/d.race2 start_mta -q "$M/queue" -m "$M/mail" 2>/dev/null
wait_for 10 grep -q '^cut 1' "$M/.crashfs-ctl"
diag "$(tr '\n' ' ' <"$M/.crashfs-ctl")(the cut at start-up's fsync of mess/)"
power_fails
out=$(reboot race)
echo "$out" | sed -n 2,3p
is "$(echo "$out" | head -1), acked $(grep -c . "$T/acked.race")" "$CLEAN, acked 1" \
	"the cut at the fsync of mess/ after new/ was synced: the message delivered"

# ---- an mbox append cut while its dotlock's name is durable, its text not --
# The cut at the fsync of alice's mbox, with the mail root synced just
# before (as another mailbox's first delivery would, or on ext4 any fsync
# while the lock's creation sits in the running journal transaction):
# alice.lock comes back empty.  It must not hold alice's mailbox for good:
# an empty dotlock is broken as stale (kind=empty), once old enough.
seed "$T/b.lock"
: >"$T/b.lock/mail/alice"
fs_mount_on "$T/b.lock"
echo "cut-at-fsync mail/alice" >"$M/.crashfs-ctl"
echo "sync-at-cut mail" >"$M/.crashfs-ctl"
workload lock 1 --mbox
wait_for 10 grep -q '^cut 1' "$M/.crashfs-ctl"
power_fails
is "$([ -f "$B/mail/alice.lock" ] && stat -c %s "$B/mail/alice.lock"), acked $(grep -c . "$T/acked.lock")" \
	"0, acked 1" "mbox: the cut at the append's fsync with the mail root synced leaves alice.lock, empty"
out=$(reboot lock --mbox)
echo "$out" | sed -n 2,3p
is "$(echo "$out" | head -1), stale $(grep -c ' mbox_stale_lock mailbox=alice lock=alice\.lock age=[0-9]*s kind=empty' "$T/r.lock/mta.log")" \
	"$CLEAN, stale 1" \
	"mbox: the empty dotlock left by the cut broken (logged kind=empty), the acked message delivered"

# ---- the cut at a random durability point after the daemon's start ----------
seed "$T/b.random"
fs_mount_on "$T/b.random"
r=$(( (RANDOM % 60) + 1 ))
MTA_DIR=$T/d.random0 start_mta -q "$M/queue" -m "$M/mail" && stop_mta >/dev/null
echo "cut-at $(( $(fs_points) + r ))" >"$M/.crashfs-ctl"
UNFINISHED=2 workload random 12
diag "$(tr '\n' ' ' <"$M/.crashfs-ctl")(cut at point $r after the start)"
power_fails
out=$(reboot random)
is "$(echo "$out" | head -1)" "$CLEAN" \
	"cut at the ${r}th durability point of the workload: every acked message delivered"
echo "$out" | sed -n 2,3p

# ---- local and remote recipients, the cut at a random point --------------
# Each message to alice and to bob@remote.example (routed to an aiosmtpd
# peer on 127.0.0.1); the cut at a random point while deliveries run.
# Every acked message must reach both, whole (the peer: every acked token
# with bob among its recipients, its body intact).
start_sink peer
route="remote.example=127.0.0.1:$SINK_PORT"
seed "$T/b.mixed"
fs_mount_on "$T/b.mixed"
r=$(( (RANDOM % 40) + 1 ))
MTA_DIR=$T/d.mixed0 start_mta -q "$M/queue" -m "$M/mail" && stop_mta >/dev/null
echo "cut-at $(( $(fs_points) + r ))" >"$M/.crashfs-ctl"
RCPTS="alice@test.example bob@remote.example" UNFINISHED=1 workload mixed 8 --route "$route"
diag "$(tr '\n' ' ' <"$M/.crashfs-ctl")(cut at point $r after the start)"
power_fails
out=$(reboot mixed --route "$route")
echo "$out" | sed -n 2,3p
remote=$($PY - "$SINK_DIR" "$T/acked.mixed" "$T/sent.mixed" <<'EOF'
import glob, json, sys
from mailcheck import token_of
from sendrecord import plain_message, read_record, judge
got = {}
for f in glob.glob(sys.argv[1] + "/*.json"):
    j = json.load(open(f))
    d = open(f[:-len(".json")] + ".eml", "rb").read().replace(b"\r\n", b"\n")
    tok = token_of(d)
    if "bob@remote.example" in j["rcpt_tos"] and tok:
        whole = d.endswith(plain_message(tok))
        got[tok] = got.get(tok, True) and whole
acked = [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
unsent, unheard = judge(read_record(sys.argv[3]), got)
print("missing %d bad %d unsent %d" % (sum(t not in got for t in acked),
                                       sum(not w for w in got.values()), len(unsent)))
EOF
)
is "$(echo "$out" | head -1); remote: $remote" "$CLEAN; remote: $CLEAN" \
	"local and remote recipients, cut at the ${r}th point: every acked message delivered to both"
stop_sink

# ---- the cut at each durability point of a short workload -------------------
# In a Maildir, and in an mbox: a cut amid an append (written, not yet
# synced) must leave every message in the mbox whole, as a reader shows it.
# each_point KIND [--mbox] - the workload's points counted, then a cut at
# each; sets all_points
each_point() {
	local kind=$1 opt=${2:-} n out fails= acked_total=0 points
	seed "$T/b.count$kind"
	fs_mount_on "$T/b.count$kind"
	workload "count$kind" 2 $opt
	wait_for 20 eval '[ "$(count_files "$M/queue/new")$(count_files "$M/queue/mess")$(count_files "$M/queue/rcpt")" = 000 ]'
	stop_mta >/dev/null
	all_points=$(fs_points)
	fs_umount
	diag "$kind: the short workload (start, 2 messages, their delivery) has $all_points durability points"
	points=$all_points
	[ "$EACH_MAX" != 0 ] && [ "$points" -gt "$EACH_MAX" ] && points=$EACH_MAX
	for n in $(seq 1 "$points"); do
		seed "$T/b.each"
		fs_mount_on "$T/b.each" -o "cut_at=$n"
		UNFINISHED=1 workload "each$kind$n" 2 $opt
		# the deliveries may reach the point after the client is done
		wait_for 10 grep -q '^cut 1' "$M/.crashfs-ctl"
		power_fails
		out=$(reboot "each$kind$n" $opt)
		acked_total=$((acked_total + $(grep -c . "$T/acked.each$kind$n")))
		[ "$(echo "$out" | head -1)" = "$CLEAN" ] ||
			{ fails="$fails $n"; echo "$out" | sed "s/^/# point $n: /"; }
	done
	is "${fails# }" "" "$kind: a cut at each of the $points points: every acked message delivered whole ($acked_total acked in all)"
}
each_point mbox --mbox
each_point maildir

ok "$([ "$all_points" -gt 5 ]; echo $?)" "the workload has durability points to cut at"
known=$(awk '{ n += $1 } END { print n + 0 }' "$T/known" 2>/dev/null)
is "$known" 0 "no acked message lost between new/ and mess/ in any case above"
diag "delivered without 250 in all cases: $(awk '{ n += $1 } END { print n + 0 }' "$T/unheard" 2>/dev/null) (allowed: sent completely, the cut between the commit and the reply)"
is "$(crashfs_stderr)" "" "crashfs reported nothing on stderr"
done_testing
