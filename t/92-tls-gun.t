#!/bin/bash
# t/92-tls-gun.t - the mail gun speaks TLS: mta-send --gun --starttls to a
# STARTTLS port and --tls to an --smtps port of mta-smtpd; every message
# arrives, every connection was a handshake on both sides (the gun's
# summary and the daemon's log), the Received: fields say ESMTPS.
# --starttls to a server without STARTTLS goes on in the clear; --tls to a
# port in the clear fails with the handshake's reason; --tls with
# --starttls is a usage error.
. "$(dirname "$0")/lib/common.sh"
. "$TLIB/tlscerts.sh"

plan 17

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
# the probes of start_mta and wait_port connected and left without a word
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

"$MTA_BIN/mta-send" --gun --tls --starttls "$T/msg.eml" >/dev/null 2>&1
is "$?" 64 "--tls and --starttls together: usage error"

done_testing
