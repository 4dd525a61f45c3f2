# t/lib/powercut.sh - what the power-cut tests share (t/71-powercut.t on
# crashfs, t/77-powercut-ext4.t on ext4 over blockcut).  Source it after
# common.sh.  $M: the mount the daemon runs on before the cut; $B: the
# same file system as it comes back after it.

CLEAN="missing 0 bad 0 unsent 0"        # what check prints when all is well

# workload TAG K [MTA_OPTS...] - start mta-smtpd on $M (queue, mail), send
# K messages to alice (or to the recipients in $RCPTS); "TOKEN QUEUE-ID"
# in $T/acked.TAG for each 250, and how far each message got in
# $T/sent.TAG (t/lib/sendrecord.py); with UNFINISHED=N, N more messages
# whose final dot is never sent, the connection of the first open until
# the cut, that of the second closed at once
workload() {
	local tag=$1 k=$2 more=
	shift 2
	: >"$T/acked.$tag"
	: >"$T/sent.$tag"
	[ "${UNFINISHED:-0}" != 0 ] && more="--unfinished $UNFINISHED"
	MTA_DIR=$T/d.$tag start_mta -q "$M/queue" -m "$M/mail" "$@" 2>/dev/null ||
		return 0
	$PY "$TLIB/sendrecord.py" "$MTA_PORT" "$tag" "$k" "$T/acked.$tag" "$T/sent.$tag" \
		$more ${RCPTS:-alice@test.example}
}

# check TAG [--mbox] - "missing N bad N unsent N" of the messages in
# alice's mailbox on $B (or $BOX): acked ones missing, delivered ones not
# byte-exact, delivered ones whose final dot never left the client (cut
# short: never to be delivered); then "# ..." with the counts; "# delivered
# without 250: N ..." (sent completely, never answered 250: allowed, the
# cut fell between the commit and the reply) with the reason of each; then
# "known N": those of the missing messages whose delivery job start-up
# recovery quarantined in queue/bad for "no such message": lost between
# new/ and mess/ (the scheduler once moved messages by rename, whose two
# sides a cut could tear apart)
check() {
	$PY - "${BOX:-$B/mail/alice}" "$T/acked.$1" "${2:-}" "$B/queue/bad" "$T/sent.$1" <<'EOF'
import os, sys
from mailcheck import maildir_messages, mbox_messages, mbox_shown, tally_delivered
from sendrecord import plain_message, read_record, judge
box, kind, bad_dir = sys.argv[1], sys.argv[3], sys.argv[4]
ids = dict(l.split() for l in open(sys.argv[2]) if l.strip())
acked = list(ids)
msgs = mbox_messages(box) if kind == "--mbox" else maildir_messages(box)
def want(tok):
    m = plain_message(tok)
    return mbox_shown(m) if kind == "--mbox" else m
tokens, bad, dups = tally_delivered(msgs, "alice@test.example", want)
missing = [t for t in acked if tokens[t] == 0]
unsent, unheard = judge(read_record(sys.argv[5]), tokens)
quarantined = os.listdir(bad_dir) if os.path.isdir(bad_dir) else []
known = [t for t in missing if any("." + ids[t] + "." in q for q in quarantined)]
print("missing %d bad %d unsent %d" % (len(missing), len(bad), len(unsent)))
print("# acked %d delivered %d duplicates %d missing %s unsent %s" %
      (len(acked), len(msgs), dups, " ".join(missing[:10]), " ".join(unsent[:10])))
print("# delivered without 250: %d %s" % (len(unheard), "; ".join(unheard[:10])))
print("known %d" % len(known))
EOF
}

# reboot TAG [--mbox] [MTA_OPTS...] - a daemon on the backing dir until every acked
# message is delivered and mess/ and rcpt/ are empty (bounded); prints
# what check prints (known: added to $T/known, the count of those
# delivered without 250 to $T/unheard), then "lingering N":
# messages left in queue/new
# (start-up recovery explodes all of new/ before it listens)
reboot() {
	local tag=$1 opt=
	shift
	[ "${1:-}" = --mbox ] && opt=--mbox
	age_empty_lock
	MTA_DIR=$T/r.$tag start_mta -q "$B/queue" -m "$B/mail" "$@" ||
		{ echo "daemon did not start"; return; }
	wait_for 30 eval '[ "$(count_files "$B/queue/mess")$(count_files "$B/queue/rcpt")" = 00 ] &&
		[ "$(check "$tag" $opt | sed -n 1p | cut -d" " -f1-4)" = "missing 0 bad 0" ]'
	check "$tag" $opt | tee "$T/check.$tag"
	sed -n 's/^known //p' "$T/check.$tag" >>"$T/known"
	sed -n 's/^# delivered without 250: \([0-9]*\).*/\1/p' "$T/check.$tag" >>"$T/unheard"
	echo "lingering $(count_files "$B/queue/new")"
	stop_mta >/dev/null
}

# age_empty_lock - a cut amid an mbox append whose dotlock's name was made
# durable by another fsync of the mail root leaves alice.lock empty (its
# text never synced); the daemon breaks such a lock once it is
# MBOX_DOTLOCK_STALE (5 minutes) old.  A reboot takes a while; the test
# cannot wait 5 minutes, so the lock's time is set back as if they had
# passed.
age_empty_lock() {
	[ -f "$B/mail/alice.lock" ] && [ ! -s "$B/mail/alice.lock" ] || return 0
	touch -d '6 minutes ago' "$B/mail/alice.lock"
}

# seed DIR - a durable queue and mail root, as installed: a daemon started
# and stopped once on DIR (not on crashfs) made the queue; the mail root
# is made here (--hold does not make it)
seed() {
	rm -rf "$1" && mkdir -p "$1/mail" || return 1
	MTA_DIR=$T/s.${1##*/} start_mta -q "$1/queue" -m "$1/mail" --hold &&
		stop_mta >/dev/null
}
