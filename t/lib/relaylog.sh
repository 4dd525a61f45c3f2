# t/lib/relaylog.sh - a message to a remote recipient through the running
# mta-smtpd, and what its log says of the delivery (relayed,
# relay-attempt, deferred).  Source it after common.sh and forward.sh.
#
#   msg WORD                  a message whose subject and body name WORD
#   send WORD RCPT            inject it for RCPT; prints the server's reply
#   relayed RCPT_RE           the last "relayed" line for the recipient
#   attempt RCPT_RE           the last "relay-attempt" line
#   deferred_by_tls WORD RCPT LABEL ATTEMPT_RE ERROR_RE
#                             send message WORD to RCPT: an attempt logged
#                             matching ATTEMPT_RE, a deferral whose error
#                             matches ERROR_RE (3 tests)
#   relayed_by WORD RCPT LABEL LOG_RE
#                             send message WORD to RCPT: relayed, the log
#                             line matching LOG_RE (2 tests)

msg() {
	printf 'From: <user@test.example>\nSubject: %s\nMessage-ID: <%s@client.test>\n\nbody of %s\n' \
		"$1" "$1" "$1"
}
send() { msg "$1" | inject "$MTA_PORT" user@test.example "$2"; }
relayed() { grep -E "relayed rcpt=<$1>" "$MTA_LOG" | tail -1; }
attempt() { grep -E "relay-attempt rcpt=<$1>" "$MTA_LOG" | tail -1; }
_attempted() { [ -n "$(attempt "$1")" ]; }
_relayed() { [ -n "$(relayed "$1")" ]; }
deferred_by_tls() {
	local r id re
	re=$(printf '%s' "$2" | sed 's/\./\\./g')
	r=$(send "$1" "$2")
	id=$(queued_id "$r")
	wait_until 20 _attempted "$re"; ok $? "$3: an attempt"
	like "$(attempt "$re")" "$4" "$3: the reason logged"
	like "$(grep "deferred id=$id" "$MTA_LOG" | head -1)" "error=\".*$5" "$3: deferred"
}
relayed_by() {
	local re
	re=$(printf '%s' "$2" | sed 's/\./\\./g')
	send "$1" "$2" >/dev/null
	wait_until 20 _relayed "$re"; ok $? "$3: delivered"
	like "$(relayed "$re")" "$4" "$3: logged so"
}
