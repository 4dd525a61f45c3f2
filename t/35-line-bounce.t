#!/bin/bash
# t/35-line-bounce.t - failed recipients whose siblings wait in a line
# (--max-per-dest, src/scheduler_dispatch.c) or are removed by hand while
# they wait or run (src/scheduler_files.c settle_missing) are reported to
# the sender in exactly one bounce, a valid RFC 3464 DSN naming each of
# them once (src/scheduler_outcome.c).
#   line     one message to four recipients at one destination that
#            refuses them all (550 at RCPT), --max-per-dest 1: one
#            delivery at a time, the others parked (four domains routed
#            to one host: one next hop, but no grouping, which keeps to
#            one domain); a failure waits for
#            the siblings still in the line, and for the last one let go
#            from it (sched_unwait), then one bounce names all four
#   removed  a message to a recipient refused at once and one parked
#            behind another message's delivery, which never ends until
#            its server goes; the parked job's file is removed meanwhile
#            (settle_missing: it is gone once it leaves the line): one
#            bounce names the refused recipient only, and the removed
#            one is never delivered
#   running  the same with the sibling's delivery under way (stalled by
#            its server) when its file is removed: the bounce comes when
#            that delivery ends, naming the refused recipient only
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 132

P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start rej 127.0.0.2 \
	--refuse '^dead=550 5.1.1 <dead>: Recipient address rejected: no such user' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
REJ=$PEER_DIR
bad_start stall2 "stalldot=127.0.0.4:$P" || { echo "Bail out! badsmtp did not start"; exit 1; }
STALL2_PID=$BAD_PID
bad_start stall "stalldot=127.0.0.3:$P" || { echo "Bail out! badsmtp did not start"; exit 1; }
start_mta --smtp-port "$P" --max-per-dest 1 --retry 300 \
	--route "stall.example=127.0.0.3:$P" --route "stall2.example=127.0.0.4:$P" \
	--route "l1.example=127.0.0.2:$P" --route "l2.example=127.0.0.2:$P" \
	--route "l3.example=127.0.0.2:$P" --route "l4.example=127.0.0.2:$P" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
BOX=$MTA_MAIL/user

bounces_of() { log_count " bounce id=$1 "; }
# bounce_file ID - the bounce in $BOX that reports on message ID
bounce_file() { grep -l "^X-Queue-ID: $1\$" $(maildir_files "$BOX") | head -1; }

# ---- line: four recipients, one slot ---------------------------------------
r=$(user_msg line | inject "$MTA_PORT" user@test.example dead1@l1.example \
	dead2@l2.example dead3@l3.example dead4@l4.example)
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "line: queued"
wait_until 20 queue_empty; ok $? "line: the queue is empty"
maildir_wait "$BOX" 1 10
ok "$([ "$(log_count "delivery-busy id=$id ")" -gt 0 ]; echo $?)" \
	"line: recipients waited in the line for the destination's slot"
is "$(log_count "failed-rcpt id=$id ")" 4 "line: four recipients failed"
is "$(bounces_of "$id")/$(maildir_count "$BOX")" 1/1 "line: exactly one bounce"
like "$(grep " bounce id=$id " "$MTA_LOG")" 'to=<user@test.example> rcpts=4$' \
	"line: the bounce reports four recipients"
f=$(bounce_file "$id")
tap_from "$(dsn_check "$f" --name line-dsn --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: line' \
	--rcpt 'dead1@l1.example' --status '^5\.1\.1$' --diag '550 5\.1\.1' \
	--rcpt 'dead2@l2.example' --status '^5\.1\.1$' --diag '550 5\.1\.1' \
	--rcpt 'dead3@l3.example' --status '^5\.1\.1$' --diag '550 5\.1\.1' \
	--rcpt 'dead4@l4.example' --status '^5\.1\.1$' --diag '550 5\.1\.1')"

# sibling_removed CASE SIBLING EVENT STATE SERVER_PID - a message CASE to
# deadCASE@[127.0.0.2] (refused) and SIBLING; once the first has failed
# and the log says EVENT for SIBLING (it STATE), SIBLING's job file is
# removed; the server SERVER_PID that holds things up is stopped; then
# one bounce must come, naming deadCASE only; sets id.  21 tests.
sibling_removed() {
	local what=$1 sib=$2 ev=$3 state=$4 server=$5 before f
	before=$(maildir_count "$BOX")
	id=$(queued_id "$(user_msg "$what" | inject "$MTA_PORT" user@test.example "dead$what@[127.0.0.2]" "$sib")")
	wait_log 10 "failed-rcpt id=$id rcpt=<dead$what@"
	wait_log 10 "$ev id=$id rcpt=<$sib>"
	ok $? "$what: one recipient failed, the other $state"
	is "$(bounces_of "$id")" 0 "$what: no bounce while the other $state"
	wait_job "$id" 1     # a first attempt's files come after a second
	rm "$MTA_QUEUE/rcpt/"*".$id.1"
	wait_log 10 " job-removed job=[0-9]+\.$id\.1 "; ok $? "$what: the removal of its job seen"
	is "$(bounces_of "$id")" 0 "$what: no bounce while the removed job still $state"
	kill "$server"
	maildir_wait "$BOX" $((before + 1)) 20; ok $? "$what: a bounce once the server goes"
	wait_until 10 eval '[ -z "$(ls "$MTA_QUEUE/rcpt" "$MTA_QUEUE/mess" | grep -F "$id")" ]'
	is "$(ls "$MTA_QUEUE/rcpt" "$MTA_QUEUE/mess" | grep -cF "$id")" 0 "$what: the message and its jobs are gone"
	is "$(bounces_of "$id")/$(maildir_count "$BOX")" "1/$((before + 1))" "$what: exactly one bounce"
	like "$(grep " bounce id=$id " "$MTA_LOG")" 'to=<user@test.example> rcpts=1$' \
		"$what: the bounce reports one recipient"
	f=$(bounce_file "$id")
	tap_from "$(dsn_check "$f" --name "$what-dsn" --sender user@test.example --orig-id "$id" \
		--orig-header "Subject: $what" \
		--rcpt "dead$what@[127.0.0.2]" --status '^5\.1\.1$' --diag '550 5\.1\.1')"
	lacks -F "$sib" "$f"; ok $? "$what-dsn: the removed recipient is not in it"
}

# ---- removed: a sibling parked, its job file removed -----------------------
r=$(user_msg holder | inject "$MTA_PORT" user@test.example 'holder@stall.example')
id0=$(queued_id "$r")
wait_log 10 "delivery-start id=$id0 "; ok $? "removed: a delivery holds the slot of stall.example"
# (the holder's server goes: its delivery ends, deferred, and the line moves)
sibling_removed removed parked@stall.example delivery-busy "waits in the line" "$BAD_PID"
is "$(log_count "delivery-start id=$id rcpt=<parked")" 0 "removed: the removed recipient never tried"

# ---- running: a sibling under way, its job file removed --------------------
sibling_removed running busy@stall2.example delivery-start "is being delivered" "$STALL2_PID"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
