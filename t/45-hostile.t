#!/bin/bash
# t/45-hostile.t - broken and hostile SMTP servers (t/lib/badsmtp.py): the
# client survives every one, never crashes, never hangs past
# --smtp-timeout, and takes each outcome for what it is:
#   still a valid dialogue (a reply sent a byte at a time, 5000-byte reply
#     lines, bare-LF line ends): delivered;
#   a real 5xx, however odd (NUL in its text, three lines, an enhanced
#     code of the wrong class): failed, in one bounce, NUL made harmless;
#   anything unparseable or cut short (over-long or endless replies,
#     floods, garbage, a bad code, NUL inside the code, codes changing
#     mid-reply, a missing continuation, a close, 250 instead of 354, 421,
#     a 5xx greeting): temporary, the job stays for a retry.
# Then the daemon still answers and delivers, and stops cleanly.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

GOOD="bytewise longlines lf"
PERM="nul multi550 mismatch"
TEMP="drip endless flood garbage badcode nulcode mixed nocont closeearly closedot data250 rcpt421 greet554"
ngood=3 nperm=3 ntemp=13

plan $((ngood * 2 + nperm + ntemp * 2 + 60))

specs='' routes='' rcpts='' i=10
for m in $GOOD $PERM $TEMP; do
	port=$(free_port_on "127.0.0.$i")
	specs="$specs $m=127.0.0.$i:$port"
	routes="$routes --route $m.example=127.0.0.$i:$port"
	rcpts="$rcpts r@$m.example"
	i=$((i + 1))
done
# shellcheck disable=SC2086
bad_start bad $specs || { echo "Bail out! badsmtp.py did not start"; exit 1; }
P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start after 127.0.0.2 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
AFTER=$PEER_DIR
# shellcheck disable=SC2086
start_mta --smtp-port "$P" --smtp-timeout 3 --retry 300 $routes ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

printf 'From: <user@test.example>\nSubject: hostile\nMessage-ID: <hostile@client.test>\n\n.leading dot\nbody line\n' >"$T/m"
# shellcheck disable=SC2086
r=$(inject "$MTA_PORT" user@test.example $rcpts <"$T/m")
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "queued for $((ngood + nperm + ntemp)) recipients"
start=$(date +%s)

_all_done() { [ "$(log_count "(delivered|deferred|failed) id=$id ")" -ge $((ngood + nperm + ntemp)) ]; }
wait_until 20 _all_done; ok $? "every attempt ended"
took=$(( $(date +%s) - start ))
[ "$took" -le 10 ]; ok $? "... within 10 s (${took}s; --smtp-timeout 3)"

for m in $GOOD; do
	like "$(grep "rcpt=<r@$m.example>" "$MTA_LOG" | grep -E ' (delivered|deferred|failed) ')" \
		" delivered id=$id " "$m: delivered"
	f=$(ls "$BAD_DIR/$m".*.msg 2>/dev/null | head -1)
	[ -n "$f" ] && grep -q '^Subject: hostile' "$f" && grep -q '^\.\.leading dot' "$f"
	ok $? "$m: the server got the message"
done
for m in $PERM; do
	like "$(grep "rcpt=<r@$m.example>" "$MTA_LOG" | grep -E ' (delivered|deferred|failed) ')" \
		" failed id=$id " "$m: failed for good"
done
for m in $TEMP; do
	like "$(grep "rcpt=<r@$m.example>" "$MTA_LOG" | grep -E ' (delivered|deferred|failed) ')" \
		" deferred id=$id " "$m: deferred"
done
_jobs_written() { [ "$(cat "$MTA_QUEUE"/rcpt/*."$id".* 2>/dev/null | grep -c '^attempts 1')" -ge "$ntemp" ]; }
wait_until 5 _jobs_written
n=$ngood
for m in $TEMP; do
	n=$((n + 1))
	job=$(job_files | grep "\.$id\.$((n + nperm - 1))\$")
	like "$(cat "$MTA_QUEUE/rcpt/$job" 2>/dev/null)" '^attempts 1' "$m: its job waits for a retry"
done

# what the broken servers were sent
lacks 'Subject: hostile' "$BAD_DIR"/data250.*.in; ok $? \
	"data250: no message data sent after a 250 to DATA"
[ -s "$(ls "$BAD_DIR"/closedot.*.msg 2>/dev/null | head -1)" ]; ok $? \
	"closedot: the message had gone out before the close (deferred: at-least-once)"
like "$(grep "deferred id=$id rcpt=<r@drip.example>" "$MTA_LOG")" 'time=[34][0-9]{3}ms' \
	"drip: given up after --smtp-timeout, though bytes kept coming"
like "$(grep "deferred id=$id rcpt=<r@nocont.example>" "$MTA_LOG")" 'time=[34][0-9]{3}ms' \
	"nocont: given up after --smtp-timeout"
like "$(grep "deferred id=$id rcpt=<r@endless.example>" "$MTA_LOG")" 'error=".+"' \
	"endless: a reason logged"
like "$(grep "deferred id=$id rcpt=<r@greet554.example>" "$MTA_LOG")" '554 5\.7\.1 no service' \
	"greet554: the greeting quoted"
like "$(grep "deferred id=$id rcpt=<r@data250.example>" "$MTA_LOG")" 'error="[^"]*unexpected reply to DATA: 250 ' \
	"data250: logged as an unexpected reply, not as if the server refused"
like "$(grep "deferred id=$id rcpt=<r@mixed.example>" "$MTA_LOG")" 'error="[^"]*different codes' \
	"mixed: the log says what was wrong with the reply"

# one bounce for the three permanent failures
BOX=$MTA_MAIL/user
maildir_wait "$BOX" 1 10; ok $? "one bounce"
f=$(maildir_files "$BOX" | head -1)
tap_from "$(dsn_check "$f" --name dsn --sender user@test.example --orig-id "$id" \
	--rcpt 'r@nul.example' --status '^5\.1\.1$' --diag '^smtp; 550 5\.1\.1 no.such user$' \
	--rcpt 'r@multi550.example' --status '^5\.7\.1$' --diag '^smtp; 550 5\.7\.1 first line of three' \
	--rcpt 'r@mismatch.example' --status '^5\.' --diag '^smtp; 550 ')"
lacks "$(printf 'no\001such')" "$f"; ok $? "dsn: no control characters from the reply"
is "$(maildir_count "$BOX")" 1 "dsn: only one"

# the daemon is fine
mta_alive; ok $? "the daemon still answers"
r=$(printf 'Subject: after\n\nafter\n' | inject "$MTA_PORT" user@test.example 'after@[127.0.0.2]')
peer_wait "$AFTER" 1 10; ok $? "and still delivers"
is "$(log_count ' quarantine ')" 0 "nothing quarantined"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
is "$(grep -Ev '^$' "$T/mta.stderr" 2>/dev/null | head -3)" "" "nothing on stderr"
done_testing
