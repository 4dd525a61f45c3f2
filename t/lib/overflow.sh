# t/lib/overflow.sh - more job renames than inotify's queue holds
# (fs.inotify.max_queued_events), for the tests of the scheduler's rescan
# after IN_Q_OVERFLOW.  Source it after common.sh.
#   overflow_skip_unless_sized  skip_all unless max_queued_events is
#                               100..200000; sets OVF_N, the number of jobs
#                               whose renames overflow it (two events each)
#   overflow_queue Q DUE        OVF_N messages OVF0000000 ... in Q/mess,
#                               each with one job, due at DUE
#   overflow_events PID Q DUE   while the daemon PID is stopped (SIGSTOP, as
#                               a busy scheduler would be): the first job
#                               removed, then every job renamed from DUE
#                               to DUE + 3600
#   overflow_check Q DUE        (after overflow_events) waits, bounded,
#                               until the daemon has settled the events,
#                               then 6 tests: it runs, every job but the
#                               removed one and its message are kept,
#                               nothing is quarantined, one job is taken
#                               for removed
# With an even queue limit, one event before the renames (a job removed)
# puts the limit between the two halves of a rename: its IN_MOVED_FROM is
# read, its IN_MOVED_TO is lost, and that job looks removed.
OVF_N=

overflow_skip_unless_sized() {
	local max
	max=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 0)
	if [ "$max" -lt 100 ] || [ "$max" -gt 200000 ]; then
		skip_all "fs.inotify.max_queued_events is $max (this test needs 100..200000)"
	fi
	OVF_N=$((max / 2 + 100))
}

overflow_queue() {
	mkdir -p "$1/tmp" "$1/new" "$1/mess" "$1/rcpt" "$1/bad"
	$PY - "$1" "$OVF_N" "$2" <<'PYEOF'
import os, sys, time
from mailcheck import queue_file
q, n, due = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    qid = "OVF%07d" % i
    with open(os.path.join(q, "mess", qid), "wb") as f:
        f.write(queue_file(qid, int(time.time()), ["u@test.example"], b"Subject: x\n\nbody\n"))
    open(os.path.join(q, "rcpt", "%d.%s.0" % (due, qid)), "wb").close()
PYEOF
}

overflow_events() {
	kill -STOP "$1"
	rm "$2/rcpt/$3.OVF0000000.0"
	$PY - "$2/rcpt" "$(($3 + 3600))" <<'PYEOF'
import os, sys
d, due = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(d)):
    os.rename(os.path.join(d, name), os.path.join(d, due + name[name.index("."):]))
PYEOF
	kill -CONT "$1"
}

# A sentinel: once its rename is seen, every rename before it was seen.
# Not the removal: after the overflow, a job is taken for removed only
# once a rescan has looked for it under every name, and the sentinel's
# rename (in the same batch of events, or found by that rescan) is logged
# before; so wait for the removal's own lines, then for a second rename
# of the sentinel: it is read after that batch was handled to its end.
overflow_check() {
	local q=$1 later=$2 sentinel
	sentinel=OVF$(printf %07d $((OVF_N - 1)))
	mv "$q/rcpt/$((later + 3600)).$sentinel.0" "$q/rcpt/$((later + 7200)).$sentinel.0"
	wait_log 30 " rescheduled job=$((later + 7200))\.$sentinel\.0"
	wait_log 30 " job-removed job=$later\.OVF0000000\.0 " && wait_log 10 " message-done id=OVF0000000\$"
	mv "$q/rcpt/$((later + 7200)).$sentinel.0" "$q/rcpt/$((later + 10800)).$sentinel.0"
	wait_log 30 " rescheduled job=$((later + 10800))\.$sentinel\.0"
	ok "$(mta_running; echo $?)" "the daemon runs"
	is "$(log_count " rescheduled job=$((later + 7200))\.$sentinel\.0")" 1 "the sentinel was seen"
	is "$(count_files "$q/mess")" $((OVF_N - 1)) "every message but the one whose job was removed is still there"
	is "$(count_files "$q/rcpt")" $((OVF_N - 1)) "every job is still there"
	is "$(count_files "$q/bad")" 0 "nothing quarantined"
	is "$(log_count ' job-removed ')" 1 "one job taken for removed: the one that was"
}
