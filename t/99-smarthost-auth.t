#!/bin/bash
# t/99-smarthost-auth.t - AUTH to a smarthost (a --route's auth=FILE,
# mta-smtpd(8) ROUTES; smtp_dialog AUTH, route_auth.h), against aiosmtpd
# sinks that require a login (t/lib/sink.py --auth), with the test CA and
# a certificate made here:
#   the right login over verified TLS: delivered, the sink saw the login
#     and TLS; AUTH PLAIN when offered, AUTH LOGIN when only it is;
#   a wrong password (another route, same smarthost and login: the
#     connection the right one left open is not reused): 535, a temporary
#     failure: the message stays queued,
#     the log says 535 and the reason, the password never in the log;
#   a server without STARTTLS (AUTH offered in plaintext): deferred and
#     nothing of the credentials sent; the same route with tls=none
#     auth-insecure: delivered in plaintext, as asked;
#   a server offering no AUTH: deferred, logged;
#   start-up: a credentials file others may read, one owned by another
#     user, one without a password line, auth= with tls=encrypt and no
#     auth-insecure: mta-smtpd refuses to start, exit 1, saying why;
#   SIGHUP: a file made readable by others keeps the running
#     configuration (reload status=error); a new password is taken.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/tlscerts.sh"
. "$here/lib/relaylog.sh"

plan 38

GOOD_PW='Pw-good-7f3a x'
BAD_PW='Pw-bad-19c2'
make_ca "$T" &&
	make_cert_names "$T" smart ec smart.auth.example login.auth.example ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }

# 127.0.0.11: TLS, AUTH required (after STARTTLS); 127.0.0.12: no TLS,
# AUTH offered in plaintext; 127.0.0.13: TLS, AUTH LOGIN only;
# 127.0.0.14: no AUTH at all
peer_start smart 127.0.0.11 --tls-cert "$T/smart-chain.crt" --tls-key "$T/smart.key" \
	--auth "alice:$GOOD_PW" || { echo "Bail out! aiosmtpd did not start"; exit 1; }
SMART=$PEER_DIR SMART_PORT=$PEER_PORT
peer_start plain 127.0.0.12 --auth "alice:$GOOD_PW" --auth-plaintext ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
PLAIN=$PEER_DIR PLAIN_PORT=$PEER_PORT
peer_start login 127.0.0.13 --tls-cert "$T/smart-chain.crt" --tls-key "$T/smart.key" \
	--auth "alice:$GOOD_PW" --auth-no-plain || { echo "Bail out! aiosmtpd did not start"; exit 1; }
LOGIN=$PEER_DIR LOGIN_PORT=$PEER_PORT
# (aiosmtpd always offers AUTH: Postfix's smtp-sink, which never does;
# it has no TLS, so that route says tls=none auth-insecure)
NOAUTH_PORT=$(free_port_on 127.0.0.14)
smtpsink_start 127.0.0.14 "$NOAUTH_PORT" -a -d "$T/noauth.%M." ||
	{ echo "Bail out! smtp-sink did not start"; exit 1; }
dns_start --local=/example/ --host-record=smart.auth.example,127.0.0.11 \
	--host-record=plain.auth.example,127.0.0.12 \
	--host-record=login.auth.example,127.0.0.13 \
	--host-record=noauth.auth.example,127.0.0.14 ||
	{ echo "Bail out! dnsmasq did not start"; exit 1; }

creds() { printf 'user %s\npassword %s\n' "$2" "$3" >"$1"; chmod 600 "$1"; }
creds "$T/good" alice "$GOOD_PW"
creds "$T/bad" alice "$BAD_PW"

# ---- start-up checks ------------------------------------------------------
refused_start() {   # LABEL WANT_RE ROUTE
	local st
	"$MTA_BIN/mta-smtpd" -q "$T/q0" -m "$T/m0" -L "$T/m0.log" -l "127.0.0.1:$(free_port)" \
		-d test.example --route "$3" 2>"$T/start.err" &
	local pid=$!
	track "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid"; ok 1 "$1: refused to start"; return; fi
	wait "$pid"; st=$?
	is "$st" 1 "$1: refused to start (exit 1)"
	like "$(cat "$T/start.err")" "$2" "$1: says why"
}
mkdir -p "$T/q0" "$T/m0"
cp "$T/good" "$T/open"; chmod 644 "$T/open"
refused_start "a file others may read" "route credentials $T/open: mode 0644.*chmod 600" \
	"*=smart.auth.example auth=$T/open"
cp "$T/good" "$T/theirs"; chown nobody "$T/theirs"
refused_start "a file of another user" "route credentials $T/theirs: owned by uid [0-9]+, not by the daemon's user" \
	"*=smart.auth.example auth=$T/theirs"
printf 'user alice\n' >"$T/nopw"; chmod 600 "$T/nopw"
refused_start "no password line" "route credentials $T/nopw: no password line" \
	"*=smart.auth.example auth=$T/nopw"
refused_start "auth= with tls=encrypt" "bad value .* for --route .*auth= wants tls=verify or auth-insecure" \
	"*=smart.auth.example auth=$T/good tls=encrypt"
lacks -F "$GOOD_PW" "$T/start.err" ; ok $? "no password in the messages"

start_mta --dns "127.0.0.1:$DNS_PORT" --retry 300 --tls-ca "$T/ca.crt" \
	--route "good.example=smart.auth.example:$SMART_PORT auth=$T/good" \
	--route "bad.example=smart.auth.example:$SMART_PORT auth=$T/bad" \
	--route "plain.example=plain.auth.example:$PLAIN_PORT auth=$T/good" \
	--route "insecure.example=plain.auth.example:$PLAIN_PORT tls=none auth=$T/good auth-insecure" \
	--route "login.example=login.auth.example:$LOGIN_PORT auth=$T/good" \
	--route "noauth.example=noauth.auth.example:$NOAUTH_PORT tls=none auth=$T/good auth-insecure" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- the right login -------------------------------------------------------
r=$(send good1 'a@good.example')
like "$r" '^250 ' "good: queued"
peer_wait "$SMART" 1 20; ok $? "good: delivered through the smarthost"
is "$(peer_json "$SMART" 1 login)" alice "good: the smarthost saw the login"
like "$(peer_json "$SMART" 1 tls | tr '\n' ' ')" '^TLS_' "good: over TLS"
like "$(peer_events "$SMART" '^auth')" '^auth PLAIN alice ok$' "good: AUTH PLAIN"
like "$(relayed 'a@good\.example')" 'verify=ok policy=verify( resumed=[a-z]+)? result=ok' \
	"good: verified certificate (the default with auth=)"

# ---- a wrong password: 535, temporary ---------------------------------------
r=$(send bad1 'b@bad.example')
id=$(queued_id "$r")
wait_until 20 _attempted 'b@bad\.example'; ok $? "wrong password: an attempt"
like "$(attempt 'b@bad\.example')" 'result=".*said: 535 5\.7\.8 .*in reply to AUTH' \
	"wrong password: the log line says 535, to AUTH"
like "$(grep "deferred id=$id" "$MTA_LOG" | head -1)" 'error=".*535' "wrong password: deferred (temporary), 535 said"
lacks -E "bounce|failed id=$id" "$MTA_LOG"; ok $? "wrong password: no bounce"
ok $([ -n "$id" ] && [ -n "$(find "$MTA_QUEUE" -name "$id*" -type f | head -1)" ] && echo 0 || echo 1) \
	"wrong password: the message stays queued"
like "$(peer_events "$SMART" '^auth' | tail -1)" '^auth PLAIN alice fail$' \
	"wrong password: the smarthost was asked"
is "$(peer_count "$SMART")" 1 "wrong password: nothing delivered"

# ---- no STARTTLS: nothing sent ------------------------------------------------
r=$(send plain1 'c@plain.example')
id=$(queued_id "$r")
wait_until 20 _attempted 'c@plain\.example'; ok $? "no STARTTLS: an attempt"
like "$(attempt 'c@plain\.example')" 'result=".*(TLS|STARTTLS)' "no STARTTLS: deferred for want of TLS"
is "$(peer_events "$PLAIN" '^auth' | wc -l)" 0 "no STARTTLS: no credentials sent"
is "$(peer_count "$PLAIN")" 0 "no STARTTLS: nothing delivered"

# ---- tls=none auth-insecure: in plaintext, as asked -------------------------
send ins1 'd@insecure.example' >/dev/null
peer_wait "$PLAIN" 1 20; ok $? "auth-insecure: delivered"
is "$(peer_json "$PLAIN" 1 login)" alice "auth-insecure: logged in"
is "$(peer_json "$PLAIN" 1 tls)" None "auth-insecure: in plaintext"

# ---- LOGIN when PLAIN is not offered -----------------------------------------
send login1 'e@login.example' >/dev/null
peer_wait "$LOGIN" 1 20; ok $? "LOGIN only: delivered"
like "$(peer_events "$LOGIN" '^auth')" '^auth LOGIN alice ok$' "LOGIN only: AUTH LOGIN"

# ---- no AUTH offered --------------------------------------------------------------
send noauth1 'f@noauth.example' >/dev/null
wait_until 20 _attempted 'f@noauth\.example'; ok $? "no AUTH offered: an attempt"
like "$(attempt 'f@noauth\.example')" 'result=".*neither AUTH PLAIN nor AUTH LOGIN' \
	"no AUTH offered: deferred, logged"
is "$(ls "$T" | grep -c '^noauth\.')" 0 "no AUTH offered: nothing sent without the login"

# ---- SIGHUP ---------------------------------------------------------------------
chmod 644 "$T/bad"
kill -HUP "$MTA_PID"
wait_log 10 'reload status=error.*mode 0644'; ok $? "SIGHUP, a file others may read: the reload refused, saying why"
creds "$T/bad" alice "$GOOD_PW"
kill -HUP "$MTA_PID"
wait_log 10 'reload status=ok'; ok $? "SIGHUP, the password mended: reloaded"
"$MTA_BIN/mta-queue" -q "$MTA_QUEUE" --flush >/dev/null
peer_wait "$SMART" 2 30; ok $? "the queued message goes with the new password"

lacks -F -e "$GOOD_PW" -e "$BAD_PW" "$MTA_LOG"; ok $? "no password in the log"

done_testing
