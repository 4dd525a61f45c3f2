#!/bin/bash
# t/24-recovery.t - start-up recovery (mta-queue(5), scheduler.h), from
# queue states written by hand while no daemon runs:
#   tmp/ID                         stale: removed
#   new/ID, no jobs                exploded and delivered
#   new/ID, some jobs already      (a crash mid-explode) exploded again,
#                                  each recipient delivered once
#   mess/ID, no jobs               removed, not delivered
#   rcpt/DUE.ID.N, no message      to bad/
#   new/: a truncated envelope, an empty file, an envelope whose id is
#         not its name, a name that is no queue ID      to bad/
#   rcpt/junk, mess/bad.name       to bad/
#   mess/ID damaged, with a job    both to bad/ when the job runs
#   rcpt/DUE.ID.N with N past the envelope's recipients: that job to bad/;
#         the message and its other recipient are not harmed
#   rcpt/FUTURE.ID.N               untouched until FUTURE, then delivered
# and nothing crashes.
. "$(dirname "$0")/lib/common.sh"

plan 40

Q=$T/queue
mkdir -p "$Q/tmp" "$Q/new" "$Q/mess" "$Q/rcpt" "$Q/bad" "$T/mail"
now=$(date +%s)
arrival=$((now - 100))
past=$((now - 10))
# the future job's DUE: after the checks that it waits; further off in a
# slow (sanitizer) build, where those checks take longer
future=$((now + 6 * ${MTA_TEST_SLOW:-1}))

$PY - "$Q" "$arrival" "$past" "$future" <<'EOF'
import os, sys
from mailcheck import make_message, queue_file
q, arrival, past, future = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# a Received: field first, as the daemon writes one: split_trace() needs it
trace = b"Received: from hand.example ([127.0.0.1])\n\tby mx.test.example; Mon, 02 Jan 2023 10:00:00 +0000\n"
def put(sub, name, data):
    with open(os.path.join(q, sub, name), "wb") as f:
        f.write(data)
def msg(qid, rcpts, sub):
    put(sub, qid, queue_file(qid, arrival, ["%s@test.example" % r for r in rcpts],
                             trace + make_message(qid, 2000)))
def job(due, qid, n, content=b""):
    put("rcpt", "%d.%s.%d" % (due, qid, n), content)
put("tmp", "R24STALE1", b"mta-envelope 1\nid R24STALE1\n")
msg("R24NEW1", ["newuser"], "new")
msg("R24PART1", ["p0", "p1", "p2"], "new")
job(arrival, "R24PART1", 0)
job(past, "R24PART1", 1, b"attempts 1\nfirst %d\nerror 451 earlier\n" % past)
msg("R24ORPH1", ["orphan"], "mess")
job(arrival, "R24GHOST1", 0)
put("new", "R24TRUNC1", b"mta-envelope 1\nid R24TRUNC1\narrival 12")
put("new", "R24ZERO1", b"")
put("new", "R24MISM1", queue_file("R24OTHER1", arrival, ["mism@test.example"],
                                  trace + make_message("R24MISM1", 500)))
put("new", "bad-name.x", queue_file("R24BADNAME", arrival, ["badname@test.example"],
                                    trace + make_message("R24BADNAME", 500)))
put("rcpt", "junk", b"")
put("mess", "bad.name", b"")
put("mess", "R24DMG1", b"mta-envelope 1\nid R24DMG1\narrival 1")
job(arrival, "R24DMG1", 0)
msg("R24RANGE1", ["range"], "mess")
job(arrival, "R24RANGE1", 0)
job(arrival, "R24RANGE1", 5)
msg("R24FUT1", ["future"], "mess")
job(future, "R24FUT1", 0, b"attempts 1\nfirst %d\nerror 451 try later\n" % past)
EOF
futjob=$future.R24FUT1.0
futcontent=$(cat "$Q/rcpt/$futjob")
# the files bound for bad/ (named there DIR.NAME), as they are now
to_bad="rcpt.$arrival.R24GHOST1.0 new.R24TRUNC1 new.R24ZERO1 new.R24MISM1
	new.bad-name.x rcpt.junk mess.bad.name mess.R24DMG1 rcpt.$arrival.R24DMG1.0
	rcpt.$arrival.R24RANGE1.5"
mkdir "$T/orig"
for f in $to_bad; do cp "$Q/${f%%.*}/${f#*.}" "$T/orig/$f"; done

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# Everything but the future job settles at once.
settled() {
	[ "$(count_files "$Q/new")" = 0 ] && [ "$(count_files "$Q/tmp")" = 0 ] &&
	[ "$(ls "$Q/rcpt")" = "$futjob" ] && [ "$(ls "$Q/mess")" = R24FUT1 ] &&
	[ "$(maildir_count "$MTA_MAIL/range")" = 1 ] &&
	[ "$(log_count ' quarantine ')" -ge 10 ]
}
wait_for 15 eval 'settled || ! mta_running'
ok "$(mta_running; echo $?)" "the daemon is running (nothing crashed it)"
like "$(grep ' main recovered ' "$MTA_LOG")" 'messages=[0-9]+ jobs=[0-9]+' "recovery logged"

# ---- tmp/ ----------------------------------------------------------------
ok "$([ ! -e "$Q/tmp/R24STALE1" ]; echo $?)" "stale tmp/ file removed"
is "$(log_count ' stale-tmp file=tmp/R24STALE1 ')" 1 "stale tmp/ file: logged"

# ---- new/ without jobs, and with some jobs -------------------------------
res=$($PY - "$MTA_MAIL" <<'EOF'
import os, sys
from smtpraw import check_eq
from mailcheck import maildir_messages, split_trace, make_message
root = sys.argv[1]
for user, qid in (("newuser", "R24NEW1"), ("p0", "R24PART1"), ("p1", "R24PART1"),
                  ("p2", "R24PART1"), ("range", "R24RANGE1")):
    got = maildir_messages(os.path.join(root, user))
    p = split_trace(got[0][1]) if len(got) == 1 else None
    check_eq("%s: %s delivered once, byte-exact" % (qid, user),
             (len(got), p[1] if p else None, p[3] == make_message(qid, 2000) if p else None),
             (1, "%s@test.example" % user, True))
EOF
)
tap_from "$res"
is "$(log_count ' explode id=R24NEW1 rcpts=1 ')" 1 "new/ without jobs: exploded"
is "$(log_count ' explode id=R24PART1 rcpts=3 ')" 1 "new/ with some jobs: exploded"
is "$(log_count ' delivery-start id=R24PART1 ')" 3 "new/ with some jobs: 3 deliveries, none twice"
is "$(ls "$Q/rcpt" | grep -c 'R24PART1\|R24NEW1')" 0 "their jobs are gone"
is "$(log_count ' message-done id=R24NEW1$')$(log_count ' message-done id=R24PART1$')" 11 \
	"both messages done"

# ---- mess/ without jobs ---------------------------------------------------
ok "$([ ! -e "$Q/mess/R24ORPH1" ]; echo $?)" "mess/ without jobs: removed"
ok "$([ ! -e "$MTA_MAIL/orphan" ]; echo $?)" "mess/ without jobs: not delivered"
is "$(log_count ' delivery-start id=R24ORPH1 ')" 0 "mess/ without jobs: no delivery started"

# ---- what goes to bad/ -----------------------------------------------------
bad=$(ls "$Q/bad" | tr '\n' ' ')
diag "bad/: $bad"
for f in $to_bad; do
	ok "$([ -f "$Q/bad/$f" ]; echo $?)" "to bad/: $f"
done
is "$(count_files "$Q/bad")" 10 "nothing else in bad/ (the message R24RANGE1 and its good job are not)"
changed=
for f in $to_bad; do cmp -s "$T/orig/$f" "$Q/bad/$f" || changed="$changed $f"; done
is "$changed" "" "bad/ keeps files as they were, byte for byte"
ok "$([ ! -e "$MTA_MAIL/mism" ] && [ ! -e "$MTA_MAIL/badname" ]; echo $?)" \
	"nothing in bad/ was delivered"

# ---- the future job --------------------------------------------------------
ok "$([ "$(date +%s)" -lt "$future" ]; echo $?)" "(the checks above ran before the future job's DUE)"
is "$(ls "$Q/rcpt"):$(cat "$Q/rcpt/$futjob" 2>/dev/null)" "$futjob:$futcontent" \
	"future job: untouched (same name, same content)"
ok "$([ ! -e "$MTA_MAIL/future" ]; echo $?)" "future job: not delivered early"
wait_for $((future - now + 15)) \
	eval '{ queue_empty && [ "$(maildir_count "$MTA_MAIL/future")" = 1 ]; } || ! mta_running'
is "$(maildir_count "$MTA_MAIL/future")" 1 "future job: delivered once due"
t=$(grep ' delivery-start id=R24FUT1 ' "$MTA_LOG" | head -1 | cut -d' ' -f1)
ok "$([ -n "$t" ] && [ "$(date -d "$t" +%s)" -ge "$future" ]; echo $?)" \
	"future job: started at its DUE, not before ($t)"

# ---- the same bad files arriving while it runs (inotify, not the scan) ---
$PY - "$T" "$arrival" <<'EOF'
import sys
from mailcheck import make_message, queue_file
t, arrival = sys.argv[1], int(sys.argv[2])
open(t + "/R24MISM2", "wb").write(queue_file("R24OTHER2", arrival, ["mism@test.example"],
                                              make_message("R24MISM2", 500)))
open(t + "/R24TRUNC2", "wb").write(b"mta-envelope 1\nid R24TRUNC2\narrival 12")
EOF
mv "$T/R24MISM2" "$Q/new/R24MISM2"
mv "$T/R24TRUNC2" "$Q/new/R24TRUNC2"
wait_for 15 eval '{ [ -f "$Q/bad/new.R24MISM2" ] && [ -f "$Q/bad/new.R24TRUNC2" ]; } || ! mta_running'
ok "$([ -f "$Q/bad/new.R24TRUNC2" ]; echo $?)" "running: a truncated envelope renamed into new/ goes to bad/"
ok "$([ -f "$Q/bad/new.R24MISM2" ]; echo $?)" "running: an envelope whose id is not its name goes to bad/"
ok "$([ ! -e "$MTA_MAIL/mism" ]; echo $?)" "running: neither was delivered"

is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=12" "the queue is empty but for bad/"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
