#!/bin/bash
# t/92-tls-gun.t - the mail gun speaks TLS: mta-send --gun --starttls to a
# STARTTLS port and --tls to an --smtps port of mta-smtpd; every message
# arrives, every connection was a handshake on both sides (the gun's
# summary and the daemon's log), the Received: fields say ESMTPS.
# --per-connection 1 makes every message a connection and a handshake of
# its own, --per-connection 7 gives no connection more than 7;
# --connect-only makes connections with their handshake and sends nothing.
# --starttls to a server without STARTTLS goes on in the clear; --tls to a
# port in the clear fails with the handshake's reason; --starttls to a
# server whose handshake fails after its 220 ends after 3 attempts (a
# failed handshake is a failed attempt, though EHLO came before it);
# --tls with --starttls is a usage error.
. "$(dirname "$0")/lib/common.sh"
. "$TLIB/tlscerts.sh"
. "$TLIB/forward.sh"

plan 35

C=$T/certs
mkdir -p "$C"
if ! make_ca "$C" || ! make_cert "$C" ec mx.test.example ec; then
	echo "Bail out! openssl could not make the test certificates"
	cat "$C"/*.err >&2
	exit 1
fi
printf 'From: alice@example.org\nTo: gun@test.example\nSubject: gun\n\nbody\n.dot\n' >"$T/msg.eml"

SMTPS=$(free_port)
start_mta --smtps "127.0.0.1:$SMTPS" --tls-cert "$C/ec-chain.crt" --tls-key "$C/ec.key" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_port 127.0.0.1 "$SMTPS" || { echo "Bail out! no --smtps listener"; exit 1; }
# the probes of start_mta and wait_port connected and left without a word;
# their tls-error lines are counted once every connection so far has
# ended (the server may log a probe's after wait_port has returned)
settled() { [ "$(log_count ' connect client=')" = "$(log_count ' disconnect client=')" ]; }
wait_until 10 settled
probe_errors=$(log_count 'tls-error')

# gun NAME OPTIONS... - run the gun with 4 sessions and 40 messages to
# gun@test.example; its output in $T/NAME.out, its status in $T/NAME.rc
gun() {
	local name=$1
	shift
	timeout 60 "$MTA_BIN/mta-send" --gun -c 4 -n 40 --rcpt gun@test.example \
		--quiet -T 20 "$@" "$T/msg.eml" >"$T/$name.out" 2>&1
	echo $? >"$T/$name.rc"
}

gun starttls -s "127.0.0.1:$MTA_PORT" --starttls
is "$(cat "$T/starttls.rc")" 0 "--starttls: exit 0"
like "$(cat "$T/starttls.out")" '^sent 40 refused 0 failed 0 ' "--starttls: 40 sent"
like "$(cat "$T/starttls.out")" 'TLS handshakes 4 of 4 connections' "--starttls: every connection a handshake"
gun implicit -s "127.0.0.1:$SMTPS" --tls
is "$(cat "$T/implicit.rc")" 0 "--tls: exit 0"
like "$(cat "$T/implicit.out")" '^sent 40 refused 0 failed 0 ' "--tls: 40 sent"
like "$(cat "$T/implicit.out")" 'TLS handshakes 4 of 4 connections' "--tls: every connection a handshake"
is "$(log_count ' tls version=TLSv1\.3 ')" 8 "the daemon logged 8 TLS sessions"
is "$(log_count 'tls-error')" "$probe_errors" "and no failed handshake (but the port probe's)"

delivered() { [ "$(maildir_count "$MTA_MAIL/gun")" -ge 80 ]; }
wait_until 30 delivered
is "$(maildir_count "$MTA_MAIL/gun")" 80 "all 80 messages delivered"
is "$(grep -l 'with ESMTPS id' "$MTA_MAIL"/gun/new/* "$MTA_MAIL"/gun/cur/* 2>/dev/null | wc -l | tr -d ' ')" 80 \
	"every one with ESMTPS in its Received: field"

# since_log N - the daemon's log from line N+1 on
since_log() { tail -n +"$(($1 + 1))" "$MTA_LOG"; }
# disconnects_by_messages N - "MESSAGES COUNT" for each messages= value of
# the disconnect lines from line N+1 on
disconnects_by_messages() {
	since_log "$1" | sed -n 's/.* disconnect .* messages=\([0-9]*\) .*/\1/p' |
		sort -n | uniq -c | awk '{ print $2, $1 }' | tr '\n' ' '
}

# --per-connection 1: a connection, and so a full handshake, per message,
# and not one more (a session takes its message before it connects)
mark=$(wc -l <"$MTA_LOG")
gun per1 -s "127.0.0.1:$MTA_PORT" --starttls --per-connection 1
is "$(cat "$T/per1.rc")" 0 "--per-connection 1: exit 0"
like "$(cat "$T/per1.out")" '^sent 40 refused 0 failed 0 ' "--per-connection 1: 40 sent"
like "$(cat "$T/per1.out")" 'TLS handshakes 40 of 40 connections' \
	"--per-connection 1: a handshake for every message"
is "$(disconnects_by_messages "$mark")" '1 40 ' \
	"--per-connection 1: the daemon saw 40 connections of one message each"

# --per-connection 7: no connection carries more
mark=$(wc -l <"$MTA_LOG")
gun per7 -s "127.0.0.1:$MTA_PORT" --starttls --per-connection 7
like "$(cat "$T/per7.out")" '^sent 40 refused 0 failed 0 ' "--per-connection 7: 40 sent"
is "$(since_log "$mark" | sed -n 's/.* disconnect .* messages=\([0-9]*\) .*/\1/p' |
	awk '$1 > 7 { big++ } { n += $1 } END { print n + 0, big + 0 }')" "40 0" \
	"--per-connection 7: 40 messages, no connection with more than 7"

# --connect-only: connect, STARTTLS, handshake, EHLO, QUIT; nothing sent
mark=$(wc -l <"$MTA_LOG")
gun conn -s "127.0.0.1:$MTA_PORT" --starttls --connect-only
is "$(cat "$T/conn.rc")" 0 "--connect-only: exit 0"
like "$(cat "$T/conn.out")" '^connected 40 failed 0 in [0-9.]+ s: [0-9.]+ connections/s, hello p50 ' \
	"--connect-only: 40 connections counted"
like "$(cat "$T/conn.out")" 'TLS handshakes 40 of 40 connections' \
	"--connect-only: a handshake for every one"
is "$(disconnects_by_messages "$mark")" '0 40 ' \
	"--connect-only: the daemon saw 40 connections and no message"
is "$(since_log "$mark" | grep -c ' disconnect .* reason=done ')" \
	"$(since_log "$mark" | grep -c ' disconnect ')" "--connect-only: each one ended with QUIT"
is "$(since_log "$mark" | grep -c ' queued ')" 0 "--connect-only: nothing queued"
# as many sessions as connections: each connects once, none for nothing
gun conn40 -s "127.0.0.1:$MTA_PORT" --starttls --connect-only -c 40
like "$(tr '\n' ' ' <"$T/conn40.out")" '^connected 40 failed 0 .* TLS handshakes 40 of 40 connections' \
	"--connect-only with 40 sessions: 40 connections, not one more"
"$MTA_BIN/mta-send" --gun --connect-only --per-connection 2 "$T/msg.eml" >/dev/null 2>&1
is "$?" 64 "--connect-only with --per-connection: usage error"
"$MTA_BIN/mta-send" --gun --per-connection 0 "$T/msg.eml" >/dev/null 2>&1
is "$?" 64 "--per-connection 0: usage error"

# --tls to the STARTTLS port, which speaks in the clear: the handshake fails
gun wrong -s "127.0.0.1:$MTA_PORT" --tls
is "$(cat "$T/wrong.rc")" 69 "--tls to a port in the clear: exit 69 (nothing got through)"
like "$(cat "$T/wrong.out")" 'first failure: 127\.0\.0\.1:[0-9]+: TLS handshake: ' \
	"--tls to a port in the clear: the handshake's reason"
ok "$(mta_running; echo $?)" "the daemon still runs"
is "$(stop_mta)" 0 "the daemon stops with status 0"

# --starttls to a server that does not offer it: on in the clear
MTA_DIR=$T/plain start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
gun plain -s "127.0.0.1:$MTA_PORT" --starttls
like "$(cat "$T/plain.out")" '^sent 40 refused 0 failed 0 ' "--starttls without STARTTLS offered: sent in the clear"
like "$(cat "$T/plain.out")" 'TLS handshakes 0 of 4 connections' "--starttls without STARTTLS offered: no handshake"

# --starttls to a server that answers STARTTLS 220 and then sends garbage:
# every handshake fails after an accepted EHLO; 3 attempts, then the end
JP=$(free_port)
bad_start junk "tlsjunk=127.0.0.1:$JP" || { echo "Bail out! badsmtp.py did not start"; exit 1; }
timeout 30 "$MTA_BIN/mta-send" --gun -c 1 -n 2 --rcpt gun@test.example -T 5 \
	-s "127.0.0.1:$JP" --starttls "$T/msg.eml" >"$T/junk.out" 2>&1
is "$?" 69 "--starttls, every handshake failing: the run ends, exit 69"
like "$(cat "$T/junk.out")" 'first failure: 127\.0\.0\.1:[0-9]+: TLS handshake: ' \
	"--starttls, every handshake failing: the handshake's reason"
is "$(ls "$BAD_DIR" | grep -c '^tlsjunk\..*\.in$')" 3 \
	"--starttls, every handshake failing: 3 connections, no more"

"$MTA_BIN/mta-send" --gun --tls --starttls "$T/msg.eml" >/dev/null 2>&1
is "$?" 64 "--tls and --starttls together: usage error"

done_testing
