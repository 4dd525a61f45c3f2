#!/bin/bash
# t/26-reschedule-overflow.t - a mass reschedule that overflows inotify
# loses nothing.  The operator renames more jobs than the inotify queue
# holds (fs.inotify.max_queued_events) while the scheduler cannot read
# (SIGSTOP, as a busy scheduler would be): events are dropped, perhaps the
# IN_MOVED_TO half of a rename.  A job must then not be taken for removed
# (which would unlink its message); the rescan after IN_Q_OVERFLOW finds
# every job under its new name.
. "$(dirname "$0")/lib/common.sh"

max=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 0)
if [ "$max" -lt 100 ] || [ "$max" -gt 200000 ]; then
	skip_all "fs.inotify.max_queued_events is $max (this test needs 100..200000)"
fi
N=$((max / 2 + 100))

plan 8

Q=$T/queue
mkdir -p "$Q/tmp" "$Q/new" "$Q/mess" "$Q/rcpt" "$Q/bad" "$T/mail"
later=$(($(date +%s) + 3600))
$PY - "$Q" "$N" "$later" <<'EOF'
import os, sys, time
from mailcheck import queue_file
q, n, later = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    qid = "OVF%07d" % i
    with open(os.path.join(q, "mess", qid), "wb") as f:
        f.write(queue_file(qid, int(time.time()), ["u@test.example"], b"Subject: x\n\nbody\n"))
    open(os.path.join(q, "rcpt", "%d.%s.0" % (later, qid)), "wb").close()
EOF

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
# recovery runs in the scheduler thread, after the port is open
wait_log 60 ' main recovered '
like "$(grep ' main recovered ' "$MTA_LOG")" "messages=$N jobs=$N " "started with $N messages, one job each"

# The events: with an even queue limit, one removal first puts the limit
# between the two halves of a rename.
kill -STOP "$MTA_PID"
rm "$Q/rcpt/$later.OVF0000000.0"
$PY - "$Q/rcpt" "$((later + 3600))" <<'EOF'
import os, sys
d, due = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(d)):
    os.rename(os.path.join(d, name), os.path.join(d, due + name[name.index("."):]))
EOF
kill -CONT "$MTA_PID"
# A sentinel: once its rename is seen, every rename before it was seen.
# Not the removal: after the overflow, a job is taken for removed only
# once the rescan has looked for it under every name, and the sentinel's
# rename (in the same batch of events, or found by that rescan) is logged
# before; so wait for the removal's own lines, then for a second rename
# of the sentinel: it is read after that batch was handled to its end.
sentinel=OVF$(printf %07d $((N - 1)))
mv "$Q/rcpt/$((later + 3600)).$sentinel.0" "$Q/rcpt/$((later + 7200)).$sentinel.0"
wait_log 30 " rescheduled job=$((later + 7200))\.$sentinel\.0"
wait_log 30 " job-removed job=$later\.OVF0000000\.0 " && wait_log 10 " message-done id=OVF0000000\$"
mv "$Q/rcpt/$((later + 7200)).$sentinel.0" "$Q/rcpt/$((later + 10800)).$sentinel.0"
wait_log 30 " rescheduled job=$((later + 10800))\.$sentinel\.0"
ok "$(mta_running; echo $?)" "the daemon runs"
is "$(log_count " rescheduled job=$((later + 7200))\.$sentinel\.0")" 1 "the sentinel was seen"
is "$(count_files "$Q/mess")" $((N - 1)) "every message but the one whose job was removed is still there"
is "$(count_files "$Q/rcpt")" $((N - 1)) "every job is still there"
is "$(count_files "$Q/bad")" 0 "nothing quarantined"
is "$(log_count ' job-removed ')" 1 "one job taken for removed: the one that was"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
