#!/bin/bash
# t/68-rescan-fault.t - the rescan after an inotify overflow cannot read
# rcpt/ (mta-queue(5), CRASH SAFETY; src/scheduler_files.c sched_rescan).
# As in t/26: the operator removes one job and renames every other one
# while the scheduler is stopped, more renames than inotify's queue holds;
# the daemon runs under strace, which makes the getdents64 calls of that
# rescan (and of the retry after it) on rcpt/ fail with EIO.  A job not
# seen by a failed scan is no job gone: none may be forgotten and no
# message dropped; the rescan is tried again (SCAN_RETRY) until it reads
# rcpt/ to its end, and only then is the removed job taken for removed.
# strace counts calls per thread: the first two getdents64 calls of each
# thread on rcpt/ fail.  Start-up (in the main thread) then reads rcpt/ a
# third time and starts; the scheduler thread's first calls are those of
# the rescan after the overflow.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/strace.sh"
. "$here/lib/overflow.sh"
strace_skip_unless_inject
overflow_skip_unless_sized

plan 10

MTA_DIR=$T/ovf
Q=$MTA_DIR/queue
later=$(($(date +%s) + 3600))
overflow_queue "$Q" "$later"

start_traced -P "$Q/rcpt" -e trace=getdents64 -e inject=getdents64:error=EIO:when=1..2 ||
	{ echo "Bail out! mta-smtpd did not start under strace"; exit 1; }
wait_log 120 ' main recovered '
like "$(grep ' main recovered ' "$MTA_LOG")" "messages=$OVF_N jobs=$OVF_N " \
	"started with $OVF_N messages, one job each"
# the events of the log that matter, in order
events() {
	grep -Eo 'queue-error op=scan dir=rcpt error="[^"]*" action=retry|main recovered|job-removed' \
		"$MTA_LOG" | tr '\n' ,
}
rescan_failed='queue-error op=scan dir=rcpt error="Input/output error" action=retry'
is "$(events)" "$rescan_failed,$rescan_failed,main recovered," \
	"start-up read rcpt/ a third time after two failed reads"
overflow_events "$(traced_pid)" "$Q" "$later"
overflow_check "$Q" "$later"
# the removed job taken for removed only after a rescan read all of rcpt/
is "$(events)" "$rescan_failed,$rescan_failed,main recovered,$rescan_failed,$rescan_failed,job-removed," \
	"the rescan after the overflow failed, its retry failed, the next read rcpt/ whole: only then a job taken for removed"
is "$(stop_traced)" 0 "SIGTERM: exit 0"

done_testing
