#!/bin/bash
# t/44-tarpit.t - one slow destination never delays the others (DESIGN.md
# 6: one job per recipient, one thread per recipient or per group of a
# message's recipients at one next hop), and --smtp-timeout bounds
# every wait.  One message to: two recipients at a working aiosmtpd sink,
# a local one, one behind a tarpit (Postfix's smtp-sink -W CONNECT:60:
# accepts, greets only after a minute), one at a server that never
# answers the final dot, one at a server that drips its greeting a byte
# at a time (the deadline is for the whole reply, not per byte).  The
# prompt ones arrive while the slow ones are still pending; the slow ones
# end as deferred after about --smtp-timeout seconds.  A SIGTERM while a
# delivery sits in a tarpit stops the daemon within its grace time, and
# the recipient is delivered after a restart.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 40

TIMEOUT=4
P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start fast 127.0.0.2 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
FAST=$PEER_DIR
TP=$(free_port_on 127.0.0.4)
smtpsink_start 127.0.0.4 "$TP" -W CONNECT:60 || { echo "Bail out! smtp-sink did not start"; exit 1; }
SP=$(free_port_on 127.0.0.5) DP=$(free_port_on 127.0.0.6)
bad_start bad "stalldot=127.0.0.5:$SP" "drip=127.0.0.6:$DP" ||
	{ echo "Bail out! badsmtp.py did not start"; exit 1; }
start_mta --smtp-port "$P" --smtp-timeout "$TIMEOUT" --retry 300 \
	--route "tarpit.example=127.0.0.4:$TP" \
	--route "stall.example=127.0.0.5:$SP" \
	--route "drip.example=127.0.0.6:$DP" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

now() { date +%s.%N; }
since() { $PY -c "import sys; print('%.2f' % ($(now) - $1))"; }
lt() { $PY -c "import sys; sys.exit(0 if $1 < $2 else 1)"; }

printf 'From: <user@test.example>\nSubject: tarpit\nMessage-ID: <tarpit@client.test>\n\nbody\n' >"$T/m"
r=$(inject "$MTA_PORT" user@test.example 't@tarpit.example' 'a@[127.0.0.2]' \
	's@stall.example' 'b@[127.0.0.2]' 'd@drip.example' 'user@test.example' <"$T/m")
t0=$(now)
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "queued for 6 recipients"

# both in one transaction: one message's recipients at one next hop go
# together (grouping), and none of the slow ones shares their hop
peer_wait "$FAST" 1 "$TIMEOUT"
is "$(peer_json "$FAST" 1 rcpt_tos | sort | tr '\n' ' ')" 'a@[127.0.0.2] b@[127.0.0.2] ' \
	"both fast recipients delivered"
took=$(since "$t0")
diag "fast recipients delivered ${took}s after the 250"
lt "$took" 3; ok $? "... within 3 s (${took}s), not held up by the slow ones"
maildir_wait "$MTA_MAIL/user" 1 2; ok $? "the local one delivered too"
# (their job files come once their first attempt has run for a second)
wait_until 5 eval '[ "$(job_files | grep -c "\.$id\.")" = 3 ]'
pending=$(job_files | grep -c "\.$id\.")
is "$pending" 3 "meanwhile the 3 slow jobs are still in queue/rcpt"
is "$(log_count "(deferred|failed) id=$id ")" 0 "meanwhile none of them has an outcome yet"
lt "$(since "$t0")" "$TIMEOUT"; ok $? "... checked before --smtp-timeout ran out"
is "$(peer_events "$FAST" '^rcpt' | sort | tr '\n' '|')" \
	'rcpt a@[127.0.0.2] 250|rcpt b@[127.0.0.2] 250|' "the sink saw each fast one once"

# a new message during the stall goes through at once too
r=$(printf 'Subject: second\n\nx\n' | inject "$MTA_PORT" user@test.example 'c@[127.0.0.2]')
t1=$(now)
peer_wait "$FAST" 2 "$TIMEOUT"; ok $? "a later message to the fast host: delivered"
lt "$(since "$t1")" 3; ok $? "... promptly, while the slow deliveries still wait"

# the slow ones time out
for who in t@tarpit.example s@stall.example d@drip.example; do
	wait_log $((TIMEOUT * 3)) "deferred id=$id rcpt=<$who>"
	ok $? "$who: deferred after the time limit"
done
for who in t@tarpit.example s@stall.example d@drip.example; do
	line=$(grep "deferred id=$id rcpt=<$who>" "$MTA_LOG")
	ms=$(printf '%s' "$line" | sed -n 's/.* time=\([0-9]*\)ms.*/\1/p')
	[ -n "$ms" ] && [ "$ms" -ge $((TIMEOUT * 1000 - 100)) ] && [ "$ms" -lt $((TIMEOUT * 1000 * 2 + 1000)) ]
	ok $? "$who: the attempt took about --smtp-timeout (${ms}ms)"
	like "$line" 'error=".*(no answer within|[Tt]ime)' "$who: the error says it timed out"
done
like "$(grep "deferred id=$id rcpt=<s@stall.example>" "$MTA_LOG")" '(end of data|dot|DATA)' \
	"stall at the dot: the error names the stage"
[ -s "$BAD_DIR/stalldot.1.msg" ]; ok $? "stall at the dot: the server did get the message"
like "$(grep "deferred id=$id rcpt=<d@drip.example>" "$MTA_LOG")" '(greeting|connect|banner)' \
	"drip: the error names the greeting"

_tried() { job=$(job_files | grep "\.$id\.$1\$") && grep -q '^attempts 1' "$MTA_QUEUE/rcpt/$job"; }
for n in 0 2 4; do
	wait_until 5 _tried $n
	like "$(cat "$MTA_QUEUE/rcpt/$job" 2>/dev/null)" '^attempts 1' "job $n: attempts 1 recorded"
	due=${job%%.*}
	[ -n "$due" ] && [ "$due" -gt "$(date +%s)" ]; ok $? "job $n: due later (--retry 300)"
done
is "$(maildir_count "$MTA_MAIL/user")" 1 "no bounce"
mta_alive; ok $? "the daemon is fine"
t2=$(now)
is "$(stop_mta)" 0 "SIGTERM: exit 0"
lt "$(since "$t2")" 5; ok $? "... promptly"

# ---- SIGTERM while a delivery is stuck in the tarpit ------------------------
# default --smtp-timeout (minutes): the stop must not wait for it, and the
# recipient must not be lost; restarted with the domain routed to the good
# sink, it is delivered
MTA_DIR=$T/b start_mta --retry 300 --route "tarpit.example=127.0.0.4:$TP" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
r=$(inject "$MTA_PORT" user@test.example 'u@tarpit.example' <"$T/m")
id=$(queued_id "$r")
wait_log 10 "delivery-start id=$id "; ok $? "stuck: the delivery started"
sleep 1
t3=$(now)
is "$(stop_mta)" 0 "stuck: SIGTERM, exit 0"
took=$(since "$t3")
diag "stuck: stopped in ${took}s"
lt "$took" 15; ok $? "stuck: stopped within the 10 s grace, not the SMTP time limit"
is "$(job_files | grep -c "\.$id\.0\$")" 1 "stuck: the job is still in queue/rcpt"
[ -f "$MTA_QUEUE/mess/$id" ]; ok $? "stuck: and its message"
MTA_DIR=$T/b start_mta --retry 300 --route "tarpit.example=127.0.0.2:$P" ||
	{ echo "Bail out! mta-smtpd did not restart"; exit 1; }
_arrived() { peer_events "$FAST" '^rcpt u@tarpit.example 250' >/dev/null; }
wait_until 10 _arrived; ok $? "stuck: after a restart, delivered"
wait_until 10 queue_empty; ok $? "stuck: queue empty"
is "$(stop_mta)" 0 "restarted daemon: SIGTERM, exit 0"
done_testing
