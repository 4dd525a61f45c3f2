#!/bin/bash
# t/97-auth.t - the submission service (RFC 6409, RFC 8314, RFC 4954):
# --submission with STARTTLS and --smtps with implicit TLS, AUTH PLAIN
# and LOGIN against a --users file made with mta-passwd, driven by real
# clients (swaks, python3 smtplib, msmtp, s-nail, nodemailer); AUTH refused in the
# clear, MAIL before AUTH, a wrong password, cancellation, an over-long
# answer, the per-connection failure limit and the per-address block
# across connections (its log lines), the sender bound to the login,
# relaying by an authenticated client to a remote domain (an aiosmtpd
# sink) and none for an unauthenticated one on the --listen port,
# Received: with ESMTPSA and --hide-client, login= in the log, and the
# users file reloaded on SIGHUP (a broken one keeps the old); --any-sender
# and --auth-on-smtp on a second daemon; 12 logins at once (crypt_rn per
# call, no lock: clean under ThreadSanitizer with build/tsan).
. "$(dirname "$0")/lib/common.sh"
. "$TLIB/tlscerts.sh"
. "$TLIB/sink.sh"

plan 65

C=$T/certs
mkdir -p "$C"
# localhost too: s-nail checks a name, not an IP address
if ! make_ca "$C" ||
   ! CERT_SAN="DNS:mx.test.example,DNS:localhost,IP:127.0.0.1" make_cert "$C" ec mx.test.example ec; then
	echo "Bail out! openssl could not make the test certificates"
	exit 1
fi

# ---- mta-passwd: the users file ------------------------------------------
ahash=$(printf 'alice-pw\n' | "$MTA_BIN/mta-passwd")
like "$ahash" '^\$y\$[^:]+$' "mta-passwd: a yescrypt hash from one line of stdin"
chash=$(printf 'carol-pw\n' | "$MTA_BIN/mta-passwd")
isnt_same=$([ "$ahash" != "$(printf 'alice-pw\n' | "$MTA_BIN/mta-passwd")" ] && echo 0 || echo 1)
ok "$isnt_same" "mta-passwd: a fresh salt each time"
printf '' | "$MTA_BIN/mta-passwd" >/dev/null 2>&1
is $? 1 "mta-passwd: no password, exit 1"
USERS=$T/users
cat >"$USERS" <<EOF
# login:hash[:senders]
alice@test.example:$ahash:@alias.example,bob@other.example
carol:$chash:carol@test.example
EOF

start_sink remote || { echo "Bail out! the sink did not start"; exit 1; }
SUB=$(free_port)
SMTPS=$(free_port)
# loopback is not a relay client here: only AUTH lets one relay
start_mta --submission "127.0.0.1:$SUB" --smtps "127.0.0.1:$SMTPS" \
	--users "$USERS" --tls-cert "$C/ec-chain.crt" --tls-key "$C/ec.key" \
	--relay-from 192.0.2.0/24 --route "remote.example=127.0.0.1:$SINK_PORT" \
	--hide-client --error-delay 10 --retry 1 ||
	{ echo "Bail out! mta-smtpd did not start"; cat "$T/mta.stderr"; exit 1; }
wait_port 127.0.0.1 "$SUB" || { echo "Bail out! no --submission listener"; exit 1; }
like "$(grep ' listen ' "$MTA_LOG")" "address=127.0.0.1:$SUB starttls=yes service=submission" \
	"the log names the submission listener"

# ---- swaks: PLAIN with STARTTLS, LOGIN with implicit TLS -----------------
out=$(swaks --server "127.0.0.1:$SUB" --tls --auth PLAIN \
	--auth-user alice@test.example --auth-password alice-pw \
	--from alice@test.example --to friend@remote.example --timeout 10 2>&1)
like "$out" '<~  235 2\.7\.0 ' "swaks --tls --auth PLAIN: 235"
like "$out" '<~  250 2\.0\.0 Ok: queued as' "swaks --auth PLAIN: relayed to a remote domain"
out=$(swaks --server "127.0.0.1:$SMTPS" --tlsc --auth LOGIN \
	--auth-user carol --auth-password carol-pw \
	--from carol@test.example --to alice@test.example --timeout 10 2>&1)
like "$out" '<~  334 VXNlcm5hbWU6' "swaks --tlsc --auth LOGIN: asks for the user name"
like "$out" '<~  235 2\.7\.0 ' "swaks --tlsc --auth LOGIN: 235"
like "$out" '<~  250 2\.0\.0 Ok: queued as' "swaks --tlsc: queued"

wait_until 20 [ "$(sink_count)" -ge 1 ]
is "$(sink_get 1 rcpt_tos)" "friend@remote.example" "the relayed message reached the remote domain"
data=$(sink_get 1 data)
like "$data" 'with ESMTPSA id' "Received: with ESMTPSA"
lacks '127\.0\.0\.1' <<<"$(printf '%s\n' "$data" | sed -n '1,/^$/p' | grep -A3 '^Received: from')"
ok $? "--hide-client: the client's address is not in Received:"
lacks 'alice' <<<"$(printf '%s\n' "$data" | grep -A3 '^Received: from')"
ok $? "the login is not written into Received:"
like "$(grep ' queued ' "$MTA_LOG")" 'login=alice@test\.example' "the log names the login (login=)"
like "$(grep ' auth ' "$MTA_LOG")" 'login=carol mechanism=LOGIN' "the log names a successful AUTH"

# ---- python3 smtplib: starttls() + login(), SMTP_SSL + login() -----------
res=$($PY - "$SUB" "$SMTPS" "$C/ca.crt" <<'EOF'
import smtplib, ssl, sys
from smtpraw import check, check_eq
sub, smtps, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
msg = "From: alice@test.example\r\nSubject: py\r\n\r\nhello\r\n"
s = smtplib.SMTP("127.0.0.1", sub, timeout=10)
s.ehlo("py.example")
check("smtplib: no AUTH offered in the clear", str(s.has_extn("auth")), "^False$")
s.starttls(context=ctx)
s.ehlo("py.example")
check("smtplib: AUTH PLAIN LOGIN offered under TLS", s.esmtp_features.get("auth", ""), "PLAIN LOGIN")
code, _ = s.mail("alice@test.example")
check_eq("smtplib: MAIL before AUTH on submission is 530", code, 530)
s.login("alice@test.example", "alice-pw")
check("smtplib: login() over STARTTLS", "ok", "ok")
r = s.sendmail("alice@test.example", ["py@test.example"], msg)
check_eq("smtplib: sent after login()", r, {})
r = s.sendmail("x@alias.example", ["py@test.example"], msg)
check_eq("smtplib: a sender of the login's @domain entry", r, {})
try:
    s.sendmail("mallory@test.example", ["py@test.example"], msg)
    check("smtplib: someone else's sender refused", "accepted", "553")
except smtplib.SMTPSenderRefused as e:
    check("smtplib: someone else's sender refused 553 5.7.1", "%d %s" % (e.smtp_code, e.smtp_error.decode()), "^553 5\\.7\\.1 ")
try:
    s.sendmail("alice@test.example", ["py@test.example"],
               "From: Mallory <mallory@test.example>\r\nSubject: x\r\n\r\nhi\r\n")
    check("smtplib: a From: field of someone else refused", "accepted", "550")
except smtplib.SMTPDataError as e:
    check("smtplib: a From: field of someone else refused 550 5.7.1",
          "%d %s" % (e.smtp_code, e.smtp_error.decode()), "^550 5\\.7\\.1 From: ")
code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlQHRlc3QuZXhhbXBsZQBhbGljZS1wdw==")
check_eq("smtplib: AUTH after a successful AUTH is 503", code, 503)
s.quit()
s = smtplib.SMTP_SSL("127.0.0.1", smtps, timeout=10, context=ctx)
s.login("carol", "carol-pw")
r = s.sendmail("carol@test.example", ["friend2@remote.example"],
               msg.replace("From: alice@test.example", "From: Carol <carol@test.example>"))
check_eq("smtplib SMTP_SSL: login() and relay", r, {})
s.quit()
EOF
)
tap_from "$res"

# ---- logins in parallel: crypt_rn per call, no lock around it -------------
res=$($PY - "$SUB" "$C/ca.crt" <<'EOF'
import smtplib, ssl, sys, threading, time
from smtpraw import check, check_eq
sub, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
codes, lock = [], threading.Lock()

def one(user, pw):
    s = smtplib.SMTP("127.0.0.1", sub, timeout=30)
    s.starttls(context=ctx)
    for i in range(3):
        s.ehlo("par.example")
        code, _ = s.docmd("AUTH", "PLAIN " + __import__("base64").b64encode(
            b"\0" + user.encode() + b"\0" + pw.encode()).decode())
        with lock:
            codes.append(code)
        if code == 235:
            break
    s.quit()

t0 = time.time()
ts = [threading.Thread(target=one, args=(("alice@test.example", "alice-pw") if i % 2 else ("carol", "carol-pw"))) for i in range(12)]
for t in ts: t.start()
for t in ts: t.join()
check_eq("12 logins at once, all accepted", sorted(codes), [235] * 12)
print("# 12 parallel yescrypt logins took %.2f s" % (time.time() - t0))
EOF
)
tap_from "$res"

# ---- msmtp and s-nail ----------------------------------------------------
cat >"$T/msmtprc" <<EOF
account default
host 127.0.0.1
port $SUB
from alice@test.example
auth on
user alice@test.example
password alice-pw
tls on
tls_starttls on
tls_trust_file $C/ca.crt
EOF
chmod 600 "$T/msmtprc"
printf 'From: alice@test.example\nSubject: msmtp\n\nhi\n' |
	timeout 30 msmtp -C "$T/msmtprc" msmtp@test.example >"$T/msmtp.out" 2>&1
is $? 0 "msmtp with auth on over STARTTLS"
printf 'hi from s-nail\n' | timeout 30 s-nail -:/ -S v15-compat -S sendwait -S nosave \
	-S "mta=smtp://carol:carol-pw@localhost:$SUB" -S smtp-use-starttls \
	-S smtp-auth=plain -S "tls-ca-file=$C/ca.crt" -S tls-ca-no-defaults \
	-S from=carol@test.example -s 't97 s-nail' snail@test.example >"$T/snail.out" 2>&1
is $? 0 "s-nail SMTP mode with a login (PLAIN, STARTTLS)"
wait_until 10 [ "$(maildir_count "$MTA_MAIL/msmtp")" -ge 1 ]
is "$(maildir_count "$MTA_MAIL/msmtp")" 1 "msmtp's message delivered"
wait_until 10 [ "$(maildir_count "$MTA_MAIL/snail")" -ge 1 ]
is "$(maildir_count "$MTA_MAIL/snail")" 1 "s-nail's message delivered"

# ---- nodemailer (t/package.json pins it; make test-deps installs it) ------
if [ -f "$here/node_modules/nodemailer/package.json" ] && command -v node >/dev/null; then
	cat >"$T/nm.js" <<'EOF'
// node nm.js MODULES PORT SECURE USER PASS CA TO FROM: one message, with auth
const nodemailer = require(process.argv[2] + "/nodemailer");
const fs = require("fs");
const [port, secure, user, pass, ca, to, from] = process.argv.slice(3);
const t = nodemailer.createTransport({
  host: "127.0.0.1", port: Number(port), secure: secure === "1",
  requireTLS: true, auth: { user, pass },
  tls: { ca: [fs.readFileSync(ca)], servername: "mx.test.example" },
});
t.sendMail({ from, to, subject: "nodemailer", text: "hi from node\n" })
  .then((i) => { console.log("sent " + i.response); process.exit(0); })
  .catch((e) => { console.log("error " + e.code + " " + (e.response || e.message)); process.exit(1); });
EOF
	out=$(timeout 30 node "$T/nm.js" "$here/node_modules" "$SUB" 0 \
		alice@test.example alice-pw "$C/ca.crt" node@test.example alice@test.example 2>&1)
	like "$out" '^sent 250 2\.0\.0 Ok: queued' "nodemailer with auth over STARTTLS"
	out=$(timeout 30 node "$T/nm.js" "$here/node_modules" "$SMTPS" 1 \
		carol carol-pw "$C/ca.crt" node@test.example carol@test.example 2>&1)
	like "$out" '^sent 250 2\.0\.0 Ok: queued' "nodemailer with auth over implicit TLS (secure: true)"
	wait_until 10 [ "$(maildir_count "$MTA_MAIL/node")" -ge 2 ]
	is "$(grep -l 'with ESMTPSA' "$MTA_MAIL"/node/new/* 2>/dev/null | wc -l | tr -d ' ')" 2 \
		"nodemailer authenticated both times (with ESMTPSA)"
	out=$(timeout 30 node "$T/nm.js" "$here/node_modules" "$SUB" 0 \
		alice@test.example wrong "$C/ca.crt" node@test.example alice@test.example 2>&1)
	like "$out" '^error EAUTH 535 5\.7\.8' "nodemailer with a wrong password: EAUTH 535 5.7.8"
else
	skip "nodemailer not installed (make test-deps: npm ci in t/)" 4
fi

# ---- refusals -------------------------------------------------------------
out=$(printf 'EHLO c.example\r\nAUTH PLAIN AGFsaWNlQHRlc3QuZXhhbXBsZQBhbGljZS1wdw==\r\nMAIL FROM:<alice@test.example>\r\nQUIT\r\n' |
	smtp_chat "$SUB")
lacks 'AUTH' <<<"$(printf '%s\n' "$out" | grep '^250')"
ok $? "EHLO in the clear does not offer AUTH"
like "$out" '538 5\.7\.11 Encryption required' "AUTH in the clear: 538 5.7.11"
like "$out" '530 5\.7\.0 Authentication required' "MAIL before AUTH on submission: 530 5.7.0"
out=$(swaks --server "127.0.0.1:$SUB" --tls --auth PLAIN \
	--auth-user alice@test.example --auth-password wrong \
	--from alice@test.example --to x@test.example --timeout 10 2>&1)
like "$out" '<~\* 535 5\.7\.8 ' "wrong password: 535 5.7.8"
like "$(grep ' auth-failed ' "$MTA_LOG")" 'client=127\.0\.0\.1 login=alice@test\.example mechanism=PLAIN failures=1' \
	"the failure is logged (auth-failed client=...)"
out=$(swaks --server "127.0.0.1:$MTA_PORT" --from x@example.org \
	--to friend@remote.example --timeout 10 2>&1)
like "$out" '<\*\* 554 5\.7\.1 ' "no relaying for an unauthenticated client on --listen"
out=$(swaks --server "127.0.0.1:$MTA_PORT" --tls --from x@example.org \
	--to friend@remote.example --quit-after EHLO --timeout 10 2>&1)
lacks '250-AUTH' <<<"$out"
ok $? "--listen does not offer AUTH (no --auth-on-smtp), even under TLS"

res=$($PY - "$SUB" "$C/ca.crt" <<'EOF'
import smtplib, ssl, sys, time
from smtpraw import check, check_eq
sub, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)

def session(src="127.0.0.1"):
    s = smtplib.SMTP("127.0.0.1", sub, timeout=10, source_address=(src, 0))
    s.ehlo("py.example")
    s.starttls(context=ctx)
    s.ehlo("py.example")
    return s

s = session()
code, _ = s.docmd("AUTH", "PLAIN")
check_eq("AUTH PLAIN without initial response: 334", code, 334)
code, text = s.docmd("*")
check("'*' cancels: 501", "%d %s" % (code, text.decode()), "^501 5\\.0\\.0 ")
code, _ = s.docmd("AUTH", "LOGIN")
check_eq("AUTH LOGIN: 334", code, 334)
code, text = s.docmd("A" * 3000)
check("an over-long answer: 500 5.5.6", "%d %s" % (code, text.decode()), "^500 5\\.5\\.6 ")
code, _ = s.docmd("NOOP")
check_eq("the session goes on after it", code, 250)
code, _ = s.docmd("AUTH", "CRAM-MD5")
check_eq("an unknown mechanism: 504", code, 504)
s.quit()

# the per-connection limit: the third failure ends the connection, with
# a pause before each 535 that grows
s = session("127.0.0.23")
codes, pauses = [], []
for i in range(3):
    t = time.time()
    code, text = s.docmd("AUTH", "PLAIN AGNhcm9sAHdyb25n")      # carol/wrong
    pauses.append(time.time() - t)
    codes.append(code)
check_eq("three wrong passwords: 535 535 535", codes, [535, 535, 535])
check("the pause grows with each failure", "%s" % (pauses[2] > pauses[0]), "True")
try:
    code, text = s.docmd("NOOP")
    check("then 421 4.7.0 and the close", "%d %s" % (code, text.decode()), "^421 4\\.7\\.0 ")
except smtplib.SMTPServerDisconnected:
    check("then 421 4.7.0 and the close", "closed without 421", "421")
# across connections: ten failures from one address block it
for n in range(3):
    s = session("127.0.0.23")
    for i in range(3):
        try:
            s.docmd("AUTH", "PLAIN AGNhcm9sAHdyb25n")
        except smtplib.SMTPServerDisconnected:
            break
s = session("127.0.0.23")
code, text = s.docmd("AUTH", "PLAIN AGNhcm9sAGNhcm9sLXB3")           # carol/carol-pw
check("a blocked address: 454 4.7.0 even with the right password",
      "%d %s" % (code, text.decode()), "^454 4\\.7\\.0 ")
s.close()
s = session("127.0.0.1")
code, _ = s.docmd("AUTH", "PLAIN AGNhcm9sAGNhcm9sLXB3")
check_eq("another address is not blocked", code, 235)
s.quit()
EOF
)
tap_from "$res"
like "$(grep ' auth-block ' "$MTA_LOG")" 'client=127\.0\.0\.23 failures=10 seconds=900' \
	"the block is logged (auth-block client=...)"
like "$(grep ' auth-refused ' "$MTA_LOG")" 'client=127\.0\.0\.23 .*reason=blocked' \
	"AUTH refused to the blocked address is logged"

# ---- the users file on SIGHUP ----------------------------------------------
dhash=$(printf 'dave-pw\n' | "$MTA_BIN/mta-passwd")
cp "$USERS" "$USERS.good"
printf 'dave@test.example:%s\n' "$dhash" >>"$USERS"
kill -HUP "$MTA_PID"
wait_log 10 'reload status=ok'
auth_try() {   # PORT USER PASS -> swaks's output
	swaks --server "127.0.0.1:$1" --tls --auth PLAIN --auth-user "$2" \
		--auth-password "$3" --from "$2" --to x@test.example --timeout 10 2>&1
}
like "$(auth_try "$SUB" dave@test.example dave-pw)" '<~  235 ' "SIGHUP: a login added to --users works"
printf 'broken line without a hash\n' >>"$USERS"
kill -HUP "$MTA_PID"
wait_log 10 'reload status=error'
like "$(grep 'reload status=error' "$MTA_LOG")" "users:5: want login:hash" \
	"SIGHUP: a broken --users file is refused, with its line number"
like "$(auth_try "$SUB" dave@test.example dave-pw)" '<~  235 ' "SIGHUP: the old logins stay"
cp "$USERS.good" "$USERS"
kill -HUP "$MTA_PID"
wait_until 10 [ "$(log_count 'reload status=ok')" -ge 2 ]
like "$(auth_try "$SUB" dave@test.example dave-pw)" '<~\* 535 ' "SIGHUP: a login removed from --users is refused"

# ---- start-up errors -------------------------------------------------------
out=$("$MTA_BIN/mta-smtpd" -q "$T/q2" -m "$T/m2" -L "$T/l2" \
	--submission "127.0.0.1:$(free_port)" --tls-cert "$C/ec-chain.crt" \
	--tls-key "$C/ec.key" 2>&1)
like "$out" "needs a credential source" "--submission without --users: refused at start"
printf 'x:nohash\n' >"$T/users-bad"
out=$("$MTA_BIN/mta-smtpd" -q "$T/q3" -m "$T/m3" -L "$T/l3" --users "$T/users-bad" 2>&1)
like "$out" "users-bad:1: bad password hash" "a bad hash: refused at start, with its line"

is "$(stop_mta)" 0 "mta-smtpd exits 0"

# ---- --any-sender, --auth-on-smtp ------------------------------------------
MTA_DIR=$T/second
mkdir -p "$MTA_DIR"
start_mta --users "$USERS" --tls-cert "$C/ec-chain.crt" --tls-key "$C/ec.key" \
	--relay-from 192.0.2.0/24 --any-sender --auth-on-smtp ||
	{ echo "Bail out! the second mta-smtpd did not start"; exit 1; }
out=$(swaks --server "127.0.0.1:$MTA_PORT" --tls --auth PLAIN \
	--auth-user carol --auth-password carol-pw \
	--from mallory@elsewhere.example --to x@test.example --timeout 10 2>&1)
like "$out" '<~  250 2\.0\.0 Ok: queued as' "--auth-on-smtp and --any-sender: AUTH on --listen, any sender"
out=$(printf 'EHLO c.example\r\nQUIT\r\n' | smtp_chat "$MTA_PORT")
lacks 'AUTH' <<<"$out"
ok $? "--auth-on-smtp: still no AUTH in the clear"
out=$(swaks --server "127.0.0.1:$MTA_PORT" --from x@example.org \
	--to x@test.example --timeout 10 2>&1)
like "$out" '<-  250 2\.0\.0 Ok: queued as' "--listen with --auth-on-smtp: MAIL without AUTH still accepted"
is "$(stop_mta)" 0 "the second mta-smtpd exits 0"
done_testing
