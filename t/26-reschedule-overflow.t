#!/bin/bash
# t/26-reschedule-overflow.t - a mass reschedule that overflows inotify
# loses nothing.  The operator renames more jobs than the inotify queue
# holds (fs.inotify.max_queued_events) while the scheduler cannot read
# (SIGSTOP, as a busy scheduler would be): events are dropped, perhaps the
# IN_MOVED_TO half of a rename.  A job must then not be taken for removed
# (which would unlink its message); the rescan after IN_Q_OVERFLOW finds
# every job under its new name.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/overflow.sh"
overflow_skip_unless_sized

plan 8

Q=$T/queue
later=$(($(date +%s) + 3600))
overflow_queue "$Q" "$later"
mkdir -p "$T/mail"

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
# recovery runs in the scheduler thread, after the port is open
wait_log 60 ' main recovered '
like "$(grep ' main recovered ' "$MTA_LOG")" "messages=$OVF_N jobs=$OVF_N " "started with $OVF_N messages, one job each"

overflow_events "$MTA_PID" "$Q" "$later"
overflow_check "$Q" "$later"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
