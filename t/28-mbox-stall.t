#!/bin/bash
# t/28-mbox-stall.t - one locked mbox does not stall delivery (mbox.h,
# deliver.h).  Another program (a python "mail reader") keeps a classic
# POSIX fcntl lock on mail/bob; with --max-deliveries 4, three messages to
# bob and then one to carol:
#   - carol's is delivered while bob's lock is still held (bob's
#     deliveries take at most one thread: half of the 3 local delivery
#     may use, transport.h; the others wait for a slot, logged
#     delivery-busy);
#   - each delivery to bob gives up after the lock wait (5 s by default)
#     and is deferred, the log saying the mbox is still locked; nothing
#     is written to bob meanwhile;
#   - once the reader lets go and the jobs are due again, all three reach
#     bob, each once.
. "$(dirname "$0")/lib/common.sh"

plan 12

start_mta --mbox --max-deliveries 4 --retry 3600 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
BOB=$MTA_MAIL/bob
: >"$BOB"

# the reader: an fcntl lock on bob's mbox, held until $T/release appears
# (at most 90 s)
mbox_lock_hold "$BOB" 90
is "$(cat "$T/locked" 2>/dev/null)" locked "the reader holds an fcntl lock on mail/bob"

# send_to RCPT TOKEN - one message; prints its queue ID (or the refusal)
send_to() {
	printf 'From: <sender@test.example>\nSubject: %s\n\n%s\n' "$2" "$2" |
		$PY "$TLIB/inject.py" "$MTA_PORT" sender@test.example "$1" | sed 's/^250 .* //'
}
b1=$(send_to bob@test.example t28bob1)
b2=$(send_to bob@test.example t28bob2)
b3=$(send_to bob@test.example t28bob3)
c=$(send_to carol@test.example t28carol)
like "$b1 $b2 $b3 $c" '^[A-Za-z0-9]+ [A-Za-z0-9]+ [A-Za-z0-9]+ [A-Za-z0-9]+$' \
	"three messages to bob and one to carol queued"

# carol's goes while bob's mbox stays locked (the reader holds it for 90 s)
wait_for 30 eval 'grep -q " delivered id=$c " "$MTA_LOG" || ! mta_running'
ok "$(grep -q " delivered id=$c " "$MTA_LOG" && ! grep -q unlocked "$T/locked"; echo $?)" \
	"carol: delivered while bob's mbox is locked"
is "$(log_count " deferred id=($b1|$b2|$b3) ")" 0 "carol: ... before any of bob's gave up waiting"
is "$(grep -c '^Subject: t28carol$' "$MTA_MAIL/carol" 2>/dev/null)" 1 "carol: in her mbox"

# bob's deliveries: each gives up after the lock wait, and says why
all_deferred() { [ "$(log_count " deferred id=($b1|$b2|$b3) rcpt=<bob@test\.example> ")" -ge 3 ]; }
wait_for 60 eval 'all_deferred || ! mta_running'
is "$(log_count " deferred id=($b1|$b2|$b3) rcpt=<bob@test\.example> .*error=\"mbox bob: still locked by another program after 5 s \(fcntl lock\)\"")" 3 \
	"bob: all three deferred after the lock wait, logged as such"
ok "$(! grep -q unlocked "$T/locked"; echo $?)" "bob: ... while the lock was still held"
like "$(log_count " delivery-busy id=($b1|$b2|$b3) rcpt=<bob@test\.example> dest=local:bob$")" '^[1-9]' \
	"bob: deliveries beyond the mailbox's share waited for a slot"
is "$(stat -c %s "$BOB")" 0 "bob: nothing written while locked"

# let go; the deferred jobs are due in an hour: make them due now
touch "$T/release"
wait_for 10 eval 'grep -q unlocked "$T/locked"'
for id in "$b1" "$b2" "$b3"; do
	for f in "$MTA_QUEUE"/rcpt/*."$id".0; do
		[ -e "$f" ] && mv "$f" "$MTA_QUEUE/rcpt/$(date +%s).$id.0"
	done
done
wait_for 30 eval '{ queue_empty && [ "$(grep -c "^From " "$BOB")" = 3 ]; } || ! mta_running'
is "$(grep -c '^Subject: t28bob[123]$' "$BOB") $(grep '^Subject: t28bob' "$BOB" | sort -u | wc -l)" "3 3" \
	"unlocked and due again: all three delivered to bob, each once"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "the queue drained"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
