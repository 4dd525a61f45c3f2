#!/bin/bash
# t/46-loop.t - a mail loop between two mta-smtpd (DESIGN.md 5): A routes
# loop.example to B and B routes it back to A.  Every hop adds a
# Received: field; with --max-received 10 a message that arrives with
# more than 10 is refused (554 5.4.6): receptions 1 (client -> A) to 11
# are accepted, so 10 relays succeed and the 11th (A -> B, carrying 11
# fields) is refused.  A, which got the 554, bounces the message to its
# original sender (local to both) - once; nothing keeps circulating.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 45

PA=$(free_port) PB=$(free_port)
while [ "$PB" = "$PA" ]; do PB=$(free_port); done
# start_mta picks its own port: start both with a listener on the
# pre-chosen port as well (-l adds one), so each can route to the other
MTA_DIR=$T/a start_mta -l "127.0.0.1:$PA" --route "loop.example=127.0.0.1:$PB" \
	--max-received 10 --retry 300 || { echo "Bail out! mta A did not start"; exit 1; }
A_PID=$MTA_PID A_PORT=$MTA_PORT A_LOG=$MTA_LOG A_QUEUE=$MTA_QUEUE A_MAIL=$MTA_MAIL A_STATUS=$MTA_STATUS_FILE
MTA_DIR=$T/b start_mta -l "127.0.0.1:$PB" --route "loop.example=127.0.0.1:$PA" \
	--max-received 10 --retry 300 || { echo "Bail out! mta B did not start"; exit 1; }
B_PID=$MTA_PID B_LOG=$MTA_LOG B_QUEUE=$MTA_QUEUE B_MAIL=$MTA_MAIL B_STATUS=$MTA_STATUS_FILE
wait_port 127.0.0.1 "$PA" 5; ok $? "A listens on its second port"

start=$(date +%s)
r=$(printf 'From: <user@test.example>\nSubject: round and round\nMessage-ID: <loop@client.test>\n\nbody\n' |
	inject "$A_PORT" user@test.example 'someone@loop.example')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "queued at A"

_bounced() { [ $(( $(maildir_count "$A_MAIL/user") + $(maildir_count "$B_MAIL/user") )) -ge 1 ]; }
wait_until 30 _bounced; ok $? "the loop ends with a bounce to the sender"
diag "loop ended after $(( $(date +%s) - start ))s"
relA=$(grep -c 'relayed rcpt=<someone@loop.example>' "$A_LOG")
relB=$(grep -c 'relayed rcpt=<someone@loop.example>' "$B_LOG")
is "$((relA + relB))" 10 "10 relays succeeded (A: $relA, B: $relB)"
is "$relA/$relB" "5/5" "A relayed 5 times, B 5 times"
refused=$(cat "$A_LOG" "$B_LOG" | grep -c 'reply text="554 5.4.6')
is "$refused" 1 "exactly one 554 5.4.6 given (the 12th reception)"
like "$(grep 'reply text="554 5.4.6' "$B_LOG")" 'text="554 5\.4\.6' "... by B"
is "$(grep -c 'failed-rcpt .*rcpt=<someone@loop.example>' "$A_LOG")" 1 "A failed the recipient"
like "$(grep 'failed-rcpt .*rcpt=<someone@loop.example>' "$A_LOG")" '554 5\.4\.6' \
	"... quoting the 554 5.4.6"

wait_until 10 _bounced
# anything still circulating is in a queue (a relay removes its job only
# after the other side has queued the message): wait until both are empty,
# A looked at again after B
queues_empty() {
	MTA_QUEUE=$A_QUEUE queue_empty && MTA_QUEUE=$B_QUEUE queue_empty &&
		MTA_QUEUE=$A_QUEUE queue_empty
}
wait_until 10 queues_empty
is "$(maildir_count "$A_MAIL/user")/$(maildir_count "$B_MAIL/user")" "1/0" \
	"exactly one bounce, delivered at A"
relA2=$(grep -c 'relayed rcpt=<someone@loop.example>' "$A_LOG")
relB2=$(grep -c 'relayed rcpt=<someone@loop.example>' "$B_LOG")
is "$((relA2 + relB2))" 10 "no more relays after the bounce"
f=$(maildir_files "$A_MAIL/user" | head -1)
bid=$(grep 'failed-rcpt .*rcpt=<someone@loop.example>' "$A_LOG" | sed 's/.* id=\([A-Za-z0-9]*\) .*/\1/')
tap_from "$(dsn_check "$f" --name dsn --sender user@test.example --orig-id "$bid" \
	--orig-header 'Subject: round and round' --not-in-headers 'body' \
	--rcpt 'someone@loop.example' --status '^5\.4\.6$' --diag '^smtp; 554 5\.4\.6' \
	--remote '^dns; .*127\.0\.0\.1')"
hops=$($PY - "$f" <<'PYEOF'
import email, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read())
h = m.get_payload()[2].get_payload(decode=True)
print(sum(1 for l in h.split(b"\n") if l.startswith(b"Received:")))
PYEOF
)
is "$hops" 11 "the returned header shows the 11 hops (10 relays)"

queues_empty; ok $? "both queues empty"
MTA_PID=$A_PID MTA_STATUS_FILE=$A_STATUS; is "$(stop_mta)" 0 "A: SIGTERM, exit 0"
MTA_PID=$B_PID MTA_STATUS_FILE=$B_STATUS; is "$(stop_mta)" 0 "B: SIGTERM, exit 0"
done_testing
