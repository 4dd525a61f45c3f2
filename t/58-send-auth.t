#!/bin/bash
# t/58-send-auth.t - mta-send with a login (--auth-user LOGIN, the
# password from --auth-password-file FILE or $MTA_AUTH_PASSWORD, never the
# command line), against aiosmtpd requiring AUTH after STARTTLS (t/lib/
# sink.py --auth), with the test CA and a certificate made here:
#   one message (-s): STARTTLS, the certificate verified (--tls-ca),
#     AUTH PLAIN, delivered as the login; the password from a file or the
#     environment; a wrong one: exit 77 (EX_NOPERM), the 535 said, nothing
#     sent; a certificate not trusted (no --tls-ca): exit 75, no AUTH
#     sent; no password given: exit 64; no --auth-password option;
#   the gun (--gun --starttls): every message sent as the login over
#     its connections; a wrong password: none sent, counted as failed;
#   the password never on stderr or stdout;
# and against mta-smtpd's own --submission port (--users, a yescrypt hash
# from mta-passwd): -s with STARTTLS, the certificate verified, queued
# with login= and delivered; a wrong password 535 (exit 77); no login:
# MAIL refused 530; the gun with --starttls --auth-user: every message
# queued, login= on each, an auth line per connection; -s --tls to its
# --smtps port (implicit TLS, RFC 8314): logged in and queued, the
# certificate checked (not trusted: exit 75, nothing sent); --tls to the
# STARTTLS port: the handshake fails, exit 75; --tls without -s: usage.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/sink.sh"
. "$here/lib/tlscerts.sh"

EX_USAGE=64 EX_TEMPFAIL=75 EX_NOPERM=77
SEND=$MTA_BIN/mta-send
PW='s3nd-Pw 9d1e'

plan 49

make_ca "$T" && make_cert "$T" sub submit.test ec ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }
start_sink sub --tls-cert "$T/sub-chain.crt" --tls-key "$T/sub.key" --auth "alice:$PW" ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
msg() { printf 'From: <alice@example.org>\nSubject: %s\n\nbody %s\n' "$1" "$1"; }
auth_events() { grep -c "^auth" "$SINK_DIR/events" 2>/dev/null || true; }

# ---- one message -----------------------------------------------------------
out=$(msg one | MTA_AUTH_PASSWORD=$PW "$SEND" -s "127.0.0.1:$SINK_PORT" \
	--auth-user alice --tls-ca "$T/ca.crt" -f alice@example.org bob@example.net 2>&1)
is "$?" 0 "-s, password from the environment: sent (exit 0)"
is "$(sink_count)" 1 "-s: the server stored it"
is "$(sink_get 1 login)" alice "-s: as the login"
like "$(sink_get 1 tls)" 'TLS' "-s: over TLS (STARTTLS)"
like "$(grep '^auth' "$SINK_DIR/events")" '^auth PLAIN alice ok$' "-s: AUTH PLAIN"

printf '%s\n' "$PW" >"$T/pwfile"
chmod 600 "$T/pwfile"
out=$(msg two | MTA_AUTH_PASSWORD=wrong "$SEND" -s "127.0.0.1:$SINK_PORT" --auth-user alice \
	--auth-password-file "$T/pwfile" --tls-ca "$T/ca.crt" -f alice@example.org bob@example.net 2>&1)
is "$?" 0 "-s, --auth-password-file (it wins over the environment): sent"
is "$(sink_count)" 2 "-s, password file: stored"

out=$(msg three | MTA_AUTH_PASSWORD=not-it "$SEND" -s "127.0.0.1:$SINK_PORT" \
	--auth-user alice --tls-ca "$T/ca.crt" -f alice@example.org bob@example.net 2>&1)
is "$?" $EX_NOPERM "-s, a wrong password: exit 77 (EX_NOPERM)"
like "$out" '535 5\.7\.8' "-s, a wrong password: the 535 said"
is "$(sink_count)" 2 "-s, a wrong password: nothing sent"

n=$(auth_events)
out=$(msg four | MTA_AUTH_PASSWORD=$PW "$SEND" -s "127.0.0.1:$SINK_PORT" \
	--auth-user alice -f alice@example.org bob@example.net 2>&1)
is "$?" $EX_TEMPFAIL "-s, the certificate not trusted (no --tls-ca): exit 75"
like "$out" 'certificate' "-s, not trusted: says why"
is "$(auth_events)" "$n" "-s, not trusted: no AUTH sent"

out=$(msg five | env -u MTA_AUTH_PASSWORD "$SEND" -s "127.0.0.1:$SINK_PORT" \
	--auth-user alice --tls-ca "$T/ca.crt" bob@example.net 2>&1)
is "$?" $EX_USAGE "no password given: exit 64"
like "$out" 'needs a password.*--auth-password-file FILE or MTA_AUTH_PASSWORD' "no password: says where it comes from"
out=$(msg six | "$SEND" -s "127.0.0.1:$SINK_PORT" --auth-user alice \
	--auth-password "$PW" bob@example.net 2>&1)
is "$?" $EX_USAGE "no --auth-password option (ps would show it)"
like "$out" 'no password on the command line' \
	"--auth-password is refused as such, not taken for --auth-password-file"

# ---- the gun ------------------------------------------------------------------
for i in 1 2 3 4 5 6; do msg "gun$i" >"$T/m$i.eml"; done
out=$(MTA_AUTH_PASSWORD=$PW "$SEND" --gun --starttls -s "127.0.0.1:$SINK_PORT" \
	--auth-user alice -c 2 --rcpt bob@example.net --quiet "$T"/m?.eml 2>&1)
is "$?" 0 "gun, --starttls, --auth-user: exit 0"
like "$out" '^sent 6 refused 0 failed 0' "gun: all 6 sent"
is "$(sink_count)" 8 "gun: the server stored them"
is "$($PY -c 'import glob,json,sys; print(sorted(set(json.load(open(f))["login"] for f in glob.glob(sys.argv[1]+"/*.json"))))' "$SINK_DIR")" \
	"['alice']" "gun: every message as the login"
is "$(grep -c '^auth PLAIN alice ok$' "$SINK_DIR/events")" 4 \
	"gun: a login per connection (2 sessions, 2 before)"

out=$(MTA_AUTH_PASSWORD=bad "$SEND" --gun --starttls -s "127.0.0.1:$SINK_PORT" \
	--auth-user alice -c 1 --rcpt bob@example.net --quiet "$T"/m1.eml 2>&1)
ok $([ "$?" != 0 ] && echo 0 || echo 1) "gun, a wrong password: a failing exit"
like "$out" '^sent 0 refused 0 failed 1' "gun, a wrong password: counted as failed"
is "$(sink_count)" 8 "gun, a wrong password: nothing sent"
lacks -F "$PW" <<<"$out"; ok $? "gun: no password in the output"

# ---- mta-smtpd's own submission port -------------------------------------------
UHASH=$(printf '%s\n' "$PW" | "$MTA_BIN/mta-passwd")
printf 'alice@test.example:%s\n' "$UHASH" >"$T/users"
SUB=$(free_port)
SMTPS=$(free_port)
start_mta --submission "127.0.0.1:$SUB" --smtps "127.0.0.1:$SMTPS" --users "$T/users" \
	--tls-cert "$T/sub-chain.crt" --tls-key "$T/sub.key" ||
	{ echo "Bail out! mta-smtpd did not start"; cat "$T/mta.stderr"; exit 1; }
wait_port 127.0.0.1 "$SUB" || { echo "Bail out! no --submission listener"; exit 1; }
sub() {   # PASSWORD SUBJECT [mta-send options...]
	msg "$2" | sed 's/alice@example\.org/alice@test.example/' |
		MTA_AUTH_PASSWORD=$1 "$SEND" -s "127.0.0.1:$SUB" "${@:3}" \
		-f alice@test.example bob@test.example 2>&1
}
queued_logins() { grep -c " queued .* login=alice@test\.example" "$MTA_LOG" || true; }

out=$(sub "$PW" sub1 --auth-user alice@test.example --tls-ca "$T/ca.crt")
is "$?" 0 "submission, -s STARTTLS --auth-user: sent (exit 0)"
like "$(grep ' auth ' "$MTA_LOG")" 'login=alice@test\.example mechanism=PLAIN' \
	"submission: mta-smtpd logged the login (PLAIN)"
is "$(queued_logins)" 1 "submission: queued with login="
like "$(grep ' tls ' "$MTA_LOG" | head -1)" 'version=TLSv1\.[23]' "submission: over TLS"
wait_until 20 [ "$(maildir_count "$MTA_MAIL/bob")" -ge 1 ]
like "$(cat "$MTA_MAIL"/bob/new/* 2>/dev/null)" 'with ESMTPSA' "submission: delivered, Received: with ESMTPSA"

out=$(sub wrong-pw sub2 --auth-user alice@test.example --tls-ca "$T/ca.crt")
is "$?" $EX_NOPERM "submission, a wrong password: exit 77"
like "$out" '535 5\.7\.8' "submission, a wrong password: mta-smtpd's 535 said"
out=$(sub "$PW" sub3)
ok $([ "$?" != 0 ] && echo 0 || echo 1) "submission without a login: a failing exit"
like "$out" '530 5\.7\.0' "submission without a login: MAIL refused (530)"
is "$(queued_logins)" 1 "nothing more queued"

for i in 1 2 3 4 5; do msg "sgun$i" | sed 's/alice@example\.org/alice@test.example/' >"$T/s$i.eml"; done
out=$(MTA_AUTH_PASSWORD=$PW "$SEND" --gun --starttls -s "127.0.0.1:$SUB" \
	--auth-user alice@test.example -f alice@test.example -c 2 \
	--rcpt bob@test.example --quiet "$T"/s?.eml 2>&1)
is "$?" 0 "gun --starttls --auth-user to the submission port: exit 0"
like "$out" '^sent 5 refused 0 failed 0' "gun: all 5 sent"
is "$(queued_logins)" 6 "gun: all 5 queued, each with login="
is "$(grep -c ' auth .*login=alice@test\.example' "$MTA_LOG")" 3 \
	"gun: one AUTH per connection (2 sessions, 1 before)"

# -s --tls: implicit TLS to the --smtps port
sps() {   # PASSWORD SUBJECT PORT [mta-send options...]
	msg "$2" | sed 's/alice@example\.org/alice@test.example/' |
		MTA_AUTH_PASSWORD=$1 "$SEND" -s "127.0.0.1:$3" "${@:4}" \
		-f alice@test.example bob@test.example 2>&1
}
out=$(sps "$PW" tls1 "$SMTPS" --tls --auth-user alice@test.example --tls-ca "$T/ca.crt")
is "$?" 0 "-s --tls --auth-user to the --smtps port: sent (exit 0)"
is "$(queued_logins)" 7 "--smtps: queued with login="
like "$(grep ' connect ' "$MTA_LOG" | tail -1)" 'tls=implicit' "--smtps: the connection was implicit TLS"
n=$(grep -c ' auth ' "$MTA_LOG")
out=$(sps "$PW" tls2 "$SMTPS" --tls --auth-user alice@test.example)
is "$?" $EX_TEMPFAIL "--tls, the certificate not trusted: exit 75"
like "$out" 'certificate' "--tls, not trusted: says why"
is "$(grep -c ' auth ' "$MTA_LOG")" "$n" "--tls, not trusted: no AUTH sent"
out=$(sps "$PW" tls3 "$SUB" --tls --auth-user alice@test.example --tls-ca "$T/ca.crt")
is "$?" $EX_TEMPFAIL "--tls to a STARTTLS port: the handshake fails, exit 75"
is "$(queued_logins)" 7 "--tls failures: nothing more queued"
out=$(msg tls4 | "$SEND" --tls bob@test.example 2>&1)
is "$?" $EX_USAGE "--tls without a server: usage (exit 64)"

done_testing
