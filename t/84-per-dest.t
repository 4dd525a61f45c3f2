#!/bin/bash
# t/84-per-dest.t - --max-per-dest: deliveries to one destination beyond
# the limit wait (parked, "delivery-busy" in the log) until a slot is
# free, then go; every message is relayed once and the queue is left
# empty: a parked job keeps its file name, so finishing it removes its
# file (a job that was parked used to be left behind in rcpt/).  The
# peer holds each message for a second and counts the transactions under
# way at once: exactly the limit, never more.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 10

peer_start slow 127.0.0.2 --hold 1 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
start_mta --max-per-dest 2 --retry 300 --route "slow.example=127.0.0.2:$PEER_PORT" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

queued=0
for k in $(seq 10); do
	r=$(printf 'Subject: p%s\n\nx\n' "$k" | inject "$MTA_PORT" user@test.example "r$k@slow.example")
	case $r in 250*) queued=$((queued + 1)) ;; esac
done
is "$queued" 10 "ten messages queued for one slow destination"
all_relayed() { [ "$(log_count '^[^ ]+ [^ ]+ relayed rcpt=<r[0-9]+@slow\.example>')" -ge 10 ]; }
wait_until 60 all_relayed; ok $? "all ten relayed"
is "$(log_count '^[^ ]+ [^ ]+ relayed rcpt=<r[0-9]+@slow\.example>')" 10 "each once"
ok $(( $(log_count "delivery-busy .*dest=127\.0\.0\.2:$PEER_PORT$") > 0 ? 0 : 1 )) "some waited for a slot (parked)"
is "$(peer_count "$PEER_DIR")" 10 "the peer stored ten"
is "$(cat "$PEER_DIR/inflight-max")" 2 "the peer saw at most two transactions at once, and two"
wait_until 10 queue_empty; ok $? "the queue is empty"
is "$(count_files "$MTA_QUEUE/rcpt")" 0 "no job file left behind in rcpt/"
is "$(log_count 'queue-error')" 0 "no queue errors"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
