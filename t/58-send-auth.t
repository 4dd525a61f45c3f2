#!/bin/bash
# t/56-send-auth.t - mta-send with a login (--auth-user LOGIN, the
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
#   the password never on stderr or stdout.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/sink.sh"
. "$here/lib/tlscerts.sh"

EX_USAGE=64 EX_TEMPFAIL=75 EX_NOPERM=77
SEND=$MTA_BIN/mta-send
PW='s3nd-Pw 9d1e'

plan 25

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

done_testing
