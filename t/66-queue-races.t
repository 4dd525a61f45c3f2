#!/bin/bash
# t/66-queue-races.t - the queue under faults and races made to happen at
# a chosen instant by an LD_PRELOAD library (t/lib/fsfault.c):
#   * a clock that stands still: a restarted daemon makes the IDs it made
#     before; a message acknowledged with 250 is never replaced (its file
#     and its body stay), the new one gets another ID (mta-queue(5), QUEUE
#     IDS); also where renameat2 cannot refuse to replace (link, fsync,
#     unlink) and where there are no hard links either (mta-queue(5),
#     RENAMES); where there are none, the scheduler's rename of a message
#     from new/ into mess/ is followed by an fsync of mess/
#   * the directory fsync of new/ fails while several receivers wait for
#     it: every one of them answers 451 (none 250), and the next message
#     gets a fsync of its own and 250 (queue.h, group commit)
#   * a receiver that has renamed into new/ but not yet come to wait when
#     another's fsync of new/ fails: it answers 451 too, although the next
#     fsync says 0 (the kernel reports a lost write once)
#   * a job removed by hand just before the scheduler renames it after a
#     failed round: its outcome is dropped and logged, deliveries go on
#     (no pause for --retry)
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/strace.sh"

plan 52

CC=$(command -v cc || command -v gcc) || { echo "1..0 # SKIP no C compiler"; exit 0; }
"$CC" -shared -fPIC -O1 -o "$T/fsfault.so" "$TLIB/fsfault.c" -ldl ||
	{ echo "Bail out! cannot build t/lib/fsfault.c"; exit 1; }
REAL_BIN=$MTA_BIN
mkdir -p "$T/wrap" "$T/ctl"
# wrap ENV... - bin/mta-smtpd run with the library and ENV (an ASan
# build must be told that its runtime is not first in the list)
wrap() {
	{
		echo '#!/bin/sh'
		echo "ASAN_OPTIONS=\"\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0\""
		echo "export ASAN_OPTIONS LD_PRELOAD=$T/fsfault.so $*"
		echo "exec \"$REAL_BIN/mta-smtpd\" \"\$@\""
	} >"$T/wrap/mta-smtpd"
	chmod +x "$T/wrap/mta-smtpd"
}
msg() { printf 'From: <sender@example.org>\nSubject: %s\n\nbody %s\n' "$1" "$1"; }
body_of() { [ -f "$1" ] && msg_part "$1" | sed -n 's/^body //p'; }

# ---- a reused ID (5) -------------------------------------------------------
# reused DIR WHAT ENV... - two daemons in turn on queue DIR with a clock
# that stands still (and ENV): the second message gets another ID, the
# first keeps its file and body; 10 tests
reused() {
	local dir=$1 what="reused ID, $2" ida idb
	shift 2
	wrap FSFAULT_USEC=1795422268000000 "$@"
	MTA_DIR=$dir MTA_BIN=$T/wrap start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
	MTA_BIN=$REAL_BIN
	ida=$(queued_id "$(msg first | inject "$MTA_PORT" sender@example.org user@test.example)")
	like "$ida" '^[A-Za-z0-9]+$' "$what: the first message is queued"
	wait_for 10 eval '[ -f "$MTA_QUEUE/mess/$ida" ] && [ -n "$(ls "$MTA_QUEUE/rcpt")" ]'
	is "$(stop_mta)" 0 "$what: the first daemon stops"
	MTA_DIR=$dir MTA_BIN=$T/wrap start_mta_hold || { echo "Bail out! mta-smtpd did not restart"; exit 1; }
	MTA_BIN=$REAL_BIN
	idb=$(queued_id "$(msg second | inject "$MTA_PORT" sender@example.org other@test.example)")
	like "$idb" '^[A-Za-z0-9]+$' "$what: after a restart with the clock where it was, a message is queued"
	[ "$ida" != "$idb" ]; ok $? "$what: it gets another ID ($ida, $idb)"
	wait_for 10 test -f "$MTA_QUEUE/mess/$idb"
	is "$(body_of "$MTA_QUEUE/mess/$ida")" first "$what: the acknowledged message keeps its file and body"
	is "$(body_of "$MTA_QUEUE/mess/$idb")" second "$what: the new one is queued beside it"
	is "$(ls "$MTA_QUEUE/rcpt" | sort | sed 's/^[0-9]*\.//')" "$(printf '%s.0\n%s.0' "$ida" "$idb" | sort)" \
		"$what: one job each"
	like "$(grep -c "queue-id-in-use id=$ida " "$MTA_LOG")" '^[1-9]' "$what: logged (queue-id-in-use)"
	is "$(stop_mta)" 0 "$what: SIGTERM, exit 0"
}
reused "$T/a" "renames by renameat2"
reused "$T/a1" "renames done as link, fsync, unlink" FSFAULT_NOREPLACE=1
reused "$T/a2" "renames after a check (no hard links)" FSFAULT_NOREPLACE=1 FSFAULT_NOLINK=1

# ---- no hard links: the scheduler's rename into mess/ is synced (6) --------
# (a rename has lost the new/ name at once: mess/ is fsynced right after,
# not left until a later link needs it)
# renamed_then_synced FILE ID - strace FILE shows the rename of ID from
# new/ into mess/ and, after it, an fsync of mess/ that returned 0 (a
# call split by another thread's is paired by pid: "<unfinished ...>",
# then "<... fsync resumed>")
renamed_then_synced() {
	$PY - "$1" "$2" "$MTA_QUEUE/mess" <<'EOF'
import re, sys
lines = open(sys.argv[1], errors="replace").read().split("\n")
qid, mess = sys.argv[2], sys.argv[3]
renamed, started = None, {}
for i, l in enumerate(lines):
    m = re.match(r"(\d+)\s+(.*)", l)     # strace pads a short pid
    if not m:
        continue
    pid, call = m.groups()
    if re.search(r'rename\w*\(.*/new>, "%s", \d+<%s>, "%s"' % (qid, re.escape(mess), qid), call) \
            and call.rstrip().endswith("= 0"):
        renamed = i
    if renamed is None or i <= renamed:
        continue
    if re.match(r"fsync\(\d+<%s>" % re.escape(mess), call):
        if call.rstrip().endswith("= 0"):
            sys.exit(0)
        if "unfinished" in call:
            started[pid] = True
    elif started.get(pid) and "fsync resumed" in call and call.rstrip().endswith("= 0"):
        sys.exit(0)
sys.exit(1)
EOF
}
if [ -n "$STRACE" ]; then
	wrap FSFAULT_NOREPLACE=1 FSFAULT_NOLINK=1
	MTA_DIR=$T/g MTA_BIN=$T/wrap start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
	MTA_BIN=$REAL_BIN
	if strace_attach "$T/g.strace" -e 'trace=?rename,?renameat,renameat2,fsync'; then
		idg=$(queued_id "$(msg nolink | inject "$MTA_PORT" sender@example.org user@test.example)")
		wait_for 10 test -f "$MTA_QUEUE/mess/$idg"
		wait_for 20 renamed_then_synced "$T/g.strace" "$idg"
		strace_detach
		is "$(ls "$MTA_QUEUE/new")|$(ls "$MTA_QUEUE/mess")" "|$idg" \
			"no hard links: the message was renamed from new/ into mess/"
		renamed_then_synced "$T/g.strace" "$idg"
		ok $? "no hard links: mess/ is fsynced after that rename"
	else
		strace_detach
		skip "strace cannot attach: $(head -1 "$T/strace.err")" 2
	fi
	is "$(stop_mta)" 0 "no hard links: SIGTERM, exit 0"
else
	skip "strace is not installed" 3
fi
if [ -z "$STRACE" ]; then
	skip "strace is not installed" 3
elif [ -z "${idg:-}" ]; then
	skip "no message from the case above (strace could not attach)" 3
else
	# The same message back in new/ beside its job, as a crash leaves one
	# whose jobs were made and synced but not yet its name in mess/: the
	# start-up explode finds the job and takes it into mess/, by rename
	# here, followed by an fsync of mess/ (sched_explode's own path).
	mv "$MTA_QUEUE/mess/$idg" "$MTA_QUEUE/new/$idg"
	jobs_before=$(ls "$MTA_QUEUE/rcpt")
	if STRACE_REAL_BIN=$T/wrap MTA_DIR=$T/g start_traced -e 'trace=?rename,?renameat,renameat2,fsync' -- \
		-m "$T/g/no-mailroot" --route "*=127.0.0.1:$(free_port)" --retry 3600; then
		wait_for 10 test -f "$MTA_QUEUE/mess/$idg"
		wait_for 20 renamed_then_synced "$T/g/strace.out" "$idg"
		is "$(ls "$MTA_QUEUE/new")|$(ls "$MTA_QUEUE/mess")|$(ls "$MTA_QUEUE/rcpt")" "|$idg|$jobs_before" \
			"no hard links, a message in new/ with its job: start-up renamed it into mess/, the job kept"
		renamed_then_synced "$T/g/strace.out" "$idg"
		ok $? "no hard links, start-up: mess/ is fsynced after that rename"
		is "$(stop_traced)" 0 "no hard links, start-up: SIGTERM, exit 0"
	else
		skip "mta-smtpd did not start under strace: $(head -1 "$T/g/mta.stderr")" 3
	fi
fi

# ---- a failed directory fsync covering several receivers (6) ---------------
mkdir -p "$T/b/queue/new"
wrap FSFAULT_FSYNC_DIR="$(realpath "$T/b/queue/new")" FSFAULT_FSYNC_HOLD=1 \
	FSFAULT_FSYNC_FAIL=2 FSFAULT_CTL="$T/ctl"
MTA_DIR=$T/b MTA_BIN=$T/wrap start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
MTA_BIN=$REAL_BIN
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$T/ctl" <<'EOF'
import os, sys
from smtpraw import check, check_eq
from pending import until, ready, Finisher
port, queue, ctl = sys.argv[1], sys.argv[2], sys.argv[3]

queued = lambda: len(os.listdir(os.path.join(queue, "new"))) + len(os.listdir(os.path.join(queue, "mess")))
conns = {t: ready(port, t) for t in ("A", "B", "C", "D")}
f = Finisher()
f.start("A", conns["A"])
until("the first fsync of new/ to start", lambda: os.path.exists(os.path.join(ctl, "held")))
for t in ("B", "C", "D"):
    f.start(t, conns[t])
# B, C and D have renamed their files into new/ and wait for a fsync
until("four messages renamed into new/", lambda: queued() == 4)
open(os.path.join(ctl, "release"), "w").close()
f.join()
check("the message whose fsync succeeded: 250", f.replies.get("A", ""), r"^250 ")
for t in ("B", "C", "D"):
    check("receiver %s, covered by the failed fsync: 451" % t, f.replies.get(t, ""), r"^451 4\.3\.0 ")
# A's file, accepted, may still be in new/ here: it is left alone until
# A's close follows its commit's decision (queue_msg_committing), and only
# then exploded; so the listing leaves out A's ID (from its 250)
a_id = f.replies.get("A", "").strip().rsplit(" ", 1)[-1]
check_eq("no file of a refused message is left in new/",
         [n for n in os.listdir(os.path.join(queue, "new")) if n != a_id], [])
e = ready(port, "E")
check("the next message gets a fsync of its own: 250", e.cmd(".", timeout=30), r"^250 ")
EOF
)
tap_from "$res"
is "$(log_count 'queue-error op=fsync-dir id=[A-Za-z0-9]+ error="Input/output error"')" 3 \
	"each refused message is logged (queue-error op=fsync-dir)"
is "$(stop_mta)" 0 "fsync: SIGTERM, exit 0"

# ---- renamed, not yet waiting, when the fsync fails (6) ---------------------
# A renames into new/ and is held there; B renames, its fsync (the first)
# fails; then A goes on: its own fsync would say 0, yet A was renamed
# before the failed fsync returned, so it must answer 451 as well.
mkdir -p "$T/r/queue/new" "$T/rctl"
wrap FSFAULT_FSYNC_DIR="$(realpath "$T/r/queue/new")" FSFAULT_FSYNC_FAIL=1 \
	FSFAULT_RENAME_DIR="$(realpath "$T/r/queue/new")" FSFAULT_RENAME_HOLD=1 \
	FSFAULT_CTL="$T/rctl"
MTA_DIR=$T/r MTA_BIN=$T/wrap start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
MTA_BIN=$REAL_BIN
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$T/rctl" <<'EOF'
import os, sys
from smtpraw import check, check_eq
from pending import until, ready, Finisher
port, queue, ctl = sys.argv[1], sys.argv[2], sys.argv[3]

conns = {t: ready(port, t) for t in ("A", "B")}
f = Finisher()
f.start("A", conns["A"])
until("A's rename into new/", lambda: os.path.exists(os.path.join(ctl, "rheld")))
f.finish("B", conns["B"])
open(os.path.join(ctl, "rrelease"), "w").close()
f.join()
check("B, whose fsync failed: 451", f.replies.get("B", ""), r"^451 4\.3\.0 ")
check("A, renamed before that fsync returned but waiting only after: 451",
      f.replies.get("A", ""), r"^451 4\.3\.0 ")
check_eq("no file of a refused message is left in new/", os.listdir(os.path.join(queue, "new")), [])
e = ready(port, "E")
check("the next message gets a fsync of its own: 250", e.cmd(".", timeout=30), r"^250 ")
EOF
)
tap_from "$res"
is "$(log_count 'queue-error op=fsync-dir id=[A-Za-z0-9]+ error="Input/output error"')" 2 \
	"renamed, not yet waiting: both refused messages are logged"
is "$(stop_mta)" 0 "renamed, not yet waiting: SIGTERM, exit 0"

# ---- a job removed just before its rename (14) -----------------------------
P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start later 127.0.0.2 --refuse '^later=451 4.3.0 try again later' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
rm -f "$T/ctl"/*
wrap FSFAULT_CTL="$T/ctl"
MTA_DIR=$T/c MTA_BIN=$T/wrap start_mta --smtp-port "$P" --retry 3600 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
MTA_BIN=$REAL_BIN
# the first job file renamed (names with a dot: jobs, tmp/job.*) is
# removed just before: the deferral of the one message in the queue
printf . >"$T/ctl/vanish"
idc=$(queued_id "$(msg deferred | inject "$MTA_PORT" sender@example.org 'later@[127.0.0.2]')")
wait_log 20 "job-gone job=[0-9]+\.$idc\.0 outcome=dropped"; ok $? "gone job: its outcome is dropped and logged"
is "$(log_count 'action=pause')" 0 "gone job: deliveries are not paused"
idd=$(queued_id "$(msg after | inject "$MTA_PORT" sender@example.org user@test.example)")
maildir_wait "$MTA_MAIL/user" 1 20; ok $? "gone job: the next message is delivered at once (--retry is 3600)"
wait_for 20 queue_empty; ok $? "gone job: the queue is empty ($(queue_state))"
is "$(stop_mta)" 0 "gone job: SIGTERM, exit 0"

done_testing
