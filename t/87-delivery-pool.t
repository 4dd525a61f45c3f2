#!/bin/bash
# t/87-delivery-pool.t - delivery threads stay alive between deliveries:
# after a delivery its thread (named mta-delivery) waits for the next one
# instead of exiting, the deliveries that follow one at a time run on that
# same thread (no new thread each), and an idle thread ends by itself
# after 10 s; every message is delivered.
. "$(dirname "$0")/lib/common.sh"

plan 8

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }

delivery_tids() { thread_ids mta-delivery; }

# send N - message N to alice, wait until it is in her Maildir
send() {
	swaks --server "127.0.0.1:$MTA_PORT" --helo client.example \
		--from sender@example.org --to alice@test.example \
		--header "Subject: t87 $1" --timeout 10 > "$T/swaks.$1" 2>&1
	WANT=$1
	wait_for 15 eval '[ "$(maildir_count "$MTA_MAIL/alice")" = "$WANT" ] && queue_empty'
}

is "$(delivery_tids)" "" "no delivery thread before the first delivery"
send 1
first=$(delivery_tids)
is "$(printf '%s' "$first" | wc -w)" 1 "after one delivery its thread waits for the next"
for n in 2 3 4; do
	send "$n"
	is "$(delivery_tids)" "$first" "delivery $n ran on the same thread, no new one"
done
is "$(maildir_count "$MTA_MAIL/alice")" 4 "all four delivered"
wait_for 20 eval '[ -z "$(delivery_tids)" ]'
is "$(delivery_tids)" "" "the idle thread ended by itself"
send 5
is "$(maildir_count "$MTA_MAIL/alice")" 5 "a delivery after that starts a thread again"
done_testing
