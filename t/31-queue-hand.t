#!/bin/bash
# t/31-queue-hand.t - jobs moved or removed by hand (mta-queue(5),
# WORKING ON THE QUEUE BY HAND):
#   * a job renamed to a name the daemon cannot use (a suffix, a DUE of 19
#     digits or with a leading zero, a mistyped ID), at start-up or while
#     it runs, goes to bad/, and its message's body is never removed: it
#     follows the job to bad/ with its last job, also when the message's
#     other job is removed; moved back (message into mess/, then the job
#     under its proper name) it is delivered
#   * nothing replaces a file: a message in new/ under the ID of one in
#     mess/ goes to bad/ (the one in mess/ keeps its body); a second file
#     quarantined under a name taken in bad/ gets the name .1
#   * a message with a failed recipient and another still being
#     delivered: removing the second job while it runs still sends the
#     failure report for the first, as soon as that delivery ends
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 24

Q=$T/queue
mkdir -p "$Q/tmp" "$Q/new" "$Q/mess" "$Q/rcpt" "$Q/bad" "$T/mail"
arrival=$(($(date +%s) - 60))
$PY - "$Q" "$arrival" <<'EOF'
import os, sys
from mailcheck import make_message, queue_file
q, arrival = sys.argv[1], int(sys.argv[2])
trace = b"Received: from hand.example ([127.0.0.1])\n\tby mx.test.example; Mon, 02 Jan 2023 10:00:00 +0000\n"
def put(path, data):
    with open(os.path.join(q, path), "wb") as f:
        f.write(data)
for qid, rcpts in (("R31A", ["a1"]), ("R31B", ["b1"]), ("R31C", ["c1"]),
                   ("R31D", ["d1"]), ("R31E", ["e1", "e2"]), ("R31F", ["f1"])):
    put("mess/" + qid, queue_file(qid, arrival, ["%s@test.example" % r for r in rcpts],
                                  trace + make_message(qid, 2000)))
    for n in range(len(rcpts)):
        # held: due far in the future
        put("rcpt/9999999999.%s.%d" % (qid, n), b"")
EOF
# renamed while the daemon was stopped: found by the start-up scan
mv "$Q/rcpt/9999999999.R31F.0" "$Q/rcpt/9999999999.R31F.0.hold"
# another message under the ID of one in mess/ (an ID made again)
$PY - "$Q" "$arrival" <<'EOF'
import os, sys
from mailcheck import queue_file
q, arrival = sys.argv[1], int(sys.argv[2])
with open(os.path.join(q, "new", "R31E"), "wb") as f:
    f.write(queue_file("R31E", arrival, ["x1@test.example"], b"Subject: twin\n\ntwin\n"))
EOF
printf 'first\n' >"$Q/bad/rcpt.junk"

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
# kept ID - the message ID is still somewhere in the queue, body intact
kept() {
	local f
	for f in "$Q/mess/$1" "$Q/bad/mess.$1"; do
		[ -f "$f" ] && grep -q "^id $1\$" "$f" && [ "$(msg_part "$f" | wc -c)" -gt 2000 ] && return 0
	done
	return 1
}
wait_for 10 kept R31F; ok $? "start-up: a job renamed to DUE.ID.N.hold: its message's body is kept"
ok "$([ -f "$Q/bad/rcpt.9999999999.R31F.0.hold" ]; echo $?)" "start-up: the job is in bad/"
is "$(msg_part "$Q/bad/new.R31E" 2>/dev/null | tail -1)" twin \
	"start-up: a message in new/ under an ID in mess/ goes to bad/"
printf 'second\n' >"$T/junk"
mv "$T/junk" "$Q/rcpt/junk"
wait_for 10 test -f "$Q/bad/rcpt.junk.1"
is "$(cat "$Q/bad/rcpt.junk" "$Q/bad/rcpt.junk.1" 2>/dev/null | tr '\n' ' ')" "first second " \
	"a quarantine never replaces a file in bad/ (rcpt.junk, rcpt.junk.1)"

cd "$Q/rcpt" || exit 1
mv 9999999999.R31A.0 9999999999.R31A.0.hold
mv 9999999999.R31B.0 9999999999999999999.R31B.0
mv 9999999999.R31C.0 09999999999.R31C.0
mv 9999999999.R31D.0 9999999999.R31X.0
mv 9999999999.R31E.0 9999999999.R31E.0.hold
wait_log 10 'quarantine file=rcpt/9999999999\.R31E\.0\.hold'
rm 9999999999.R31E.1
cd "$T" || exit 1
wait_for 10 kept R31A; ok $? "running: a job renamed to DUE.ID.N.hold: its message's body is kept"
wait_for 10 kept R31B; ok $? "running: a job renamed to a DUE of 19 digits: its message's body is kept"
wait_for 10 kept R31C; ok $? "running: a job renamed to a DUE with a leading zero: its message's body is kept"
wait_for 10 kept R31D; ok $? "running: a job renamed to a mistyped ID: its message's body is kept"
wait_for 10 kept R31E; ok $? "running: one job renamed to .hold, the other removed: the body is kept"
for f in rcpt.9999999999.R31A.0.hold rcpt.9999999999999999999.R31B.0 rcpt.09999999999.R31C.0 \
	rcpt.9999999999.R31X.0 rcpt.9999999999.R31E.0.hold mess.R31A mess.R31E; do
	[ -f "$Q/bad/$f" ] || diag "missing: bad/$f"
done
ok "$([ -f "$Q/bad/rcpt.9999999999.R31X.0" ] && [ -f "$Q/bad/mess.R31D" ]; echo $?)" \
	"running: the mistyped job and its message are in bad/"
is "$(ls "$Q/mess" "$Q/rcpt" | grep -c R31)" 0 "running: nothing of them is left in mess/ or rcpt/"

# the repair mta-queue(5) gives: the message back into mess/ first, then
# the job under its proper name (here: due now)
now=$(date +%s)
mv "$Q/bad/mess.R31A" "$Q/mess/R31A"
mv "$Q/bad/rcpt.9999999999.R31A.0.hold" "$Q/rcpt/$now.R31A.0"
mv "$Q/bad/mess.R31D" "$Q/mess/R31D"
mv "$Q/bad/rcpt.9999999999.R31X.0" "$Q/rcpt/$now.R31D.0"
maildir_wait "$MTA_MAIL/a1" 1 20; ok $? "repaired: the .hold job is delivered"
maildir_wait "$MTA_MAIL/d1" 1 20; ok $? "repaired: the mistyped job is delivered"
wait_for 10 eval '[ ! -e "$Q/mess/R31A" ] && [ ! -e "$Q/mess/R31D" ]'
ok $? "repaired: their messages leave the queue after delivery"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
start_mta || { echo "Bail out! mta-smtpd did not restart"; exit 1; }
for id in R31B R31C R31E R31F; do
	kept "$id" || diag "not kept after the restart: $id"
done
ok "$(kept R31B && kept R31C && kept R31E && kept R31F; echo $?)" \
	"a restart keeps the bodies whose jobs are in bad/"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- a failed recipient and a removed running sibling (8) ----------------
P=$(free_port_on_all 127.0.0.2 127.0.0.3)
PEER_WANT=$P peer_start rej 127.0.0.2 --refuse '^rej=550 5.1.1 no such user' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
bad_start slow "stalldot=127.0.0.3:$P" || { echo "Bail out! badsmtp.py did not start"; exit 1; }
slow=$((10 * ${MTA_TEST_SLOW:-1}))
MTA_DIR=$T/b start_mta --smtp-port "$P" --retry 3600 --smtp-timeout "$slow" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
r=$(printf 'Subject: two\n\nbody two\n' |
	inject "$MTA_PORT" user@test.example 'rej@[127.0.0.2]' 'slow@[127.0.0.3]')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "report: queued"
wait_log 20 "failed-rcpt id=$id rcpt=<rej@\[127.0.0.2\]>"; ok $? "report: rej@ fails (550)"
wait_log 20 "delivery-start id=$id .*slow@"
wait_job "$id" 1        # a first attempt's files come after a second
job=$(ls "$MTA_QUEUE/rcpt" | grep "\.$id\.1\$")
rm -f "$MTA_QUEUE/rcpt/$job"
wait_log 10 "job-removed job=$job"; ok $? "report: the running job of slow@ is removed"
maildir_wait "$MTA_MAIL/user" 1 $((slow + 20)); ok $? "report: the failure of rej@ is reported once slow@'s delivery ends"
like "$(grep "bounce id=$id " "$MTA_LOG")" 'to=<user@test.example> rcpts=1' "report: logged: bounce"
wait_for 20 queue_empty; ok $? "report: the queue is empty ($(queue_state))"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
