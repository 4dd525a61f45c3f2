#!/bin/bash
# t/81-8bitmime.t - the body type travels (RFC 6152, smtp_client.h,
# mime8.h): a message sent with BODY=8BITMIME is relayed
#   to a server offering 8BITMIME (aiosmtpd): with BODY=8BITMIME, its
#     bytes unchanged;
#   to one that does not (t/lib/badsmtp.py seven): without the parameter
#     and downgraded to 7 bits, as RFC 6152 3 asks: the 8-bit text part
#     becomes quoted-printable, the base64 and 7-bit parts stay as they
#     are, the multipart's "8bit" label becomes "7bit"; decoded, every
#     part is what was sent;
#   an undeclared non-MIME 8-bit message to that server gets MIME-Version,
#     "text/plain; charset=unknown-8bit" and quoted-printable; an 8-bit
#     header goes as it is (mime8.h says why).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 17

P8=$(free_port_on 127.0.0.2)
PEER_WANT=$P8 peer_start eight 127.0.0.2 --wire || { echo "Bail out! aiosmtpd did not start"; exit 1; }
EIGHT=$PEER_DIR
P7=$(free_port_on 127.0.0.3)
bad_start seven "seven=127.0.0.3:$P7" || { echo "Bail out! badsmtp.py did not start"; exit 1; }
SEVEN=$BAD_DIR
start_mta --route "eight.example=127.0.0.2:$P8" --route "seven.example=127.0.0.3:$P7" \
	--retry 300 || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# send FILE BODY RCPT... - the message in FILE, MAIL with BODY (or none)
send() {
	$PY - "$MTA_PORT" "$@" <<'PYEOF'
import smtplib, sys
port, path, body, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
msg = open(path, "rb").read().replace(b"\n", b"\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("client.test")
s.sendmail("user@test.example", rcpts, msg, mail_options=[body] if body else [])
s.quit()
print("sent")
PYEOF
}

printf '%s\n' 'From: <user@test.example>' 'Subject: multipart' \
	'Message-ID: <mp@client.test>' 'MIME-Version: 1.0' \
	'Content-Type: multipart/mixed; boundary="=_b"' 'Content-Transfer-Encoding: 8bit' '' \
	'preamble' '--=_b' 'Content-Type: text/plain; charset=utf-8' \
	'Content-Transfer-Encoding: 8bit' '' "caf$(printf '\303\251') = cr\$me " \
	"br$(printf '\303\273')l$(printf '\303\251')e" '--=_b' \
	'Content-Type: application/octet-stream' 'Content-Transfer-Encoding: base64' '' \
	'AAECAwQF' '--=_b' 'Content-Type: text/plain' '' 'plain ascii' '--=_b--' >"$T/mp.eml"
like "$(send "$T/mp.eml" BODY=8BITMIME x@eight.example y@seven.example)" '^sent$' \
	"multipart: sent with BODY=8BITMIME"
peer_wait "$EIGHT" 1 15; ok $? "multipart: relayed to the 8BITMIME server"
like "$(peer_json "$EIGHT" 1 mail_options)" 'BODY=8BITMIME' "... with BODY=8BITMIME"
$PY - "$(peer_eml "$EIGHT" 1)" "$T/mp.eml" <<'PYEOF'
import sys
got = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
sent = open(sys.argv[2], "rb").read()
sys.exit(0 if got.endswith(sent.partition(b"\n\n")[2]) and b"caf\xc3\xa9" in got else 1)
PYEOF
ok $? "... its body byte for byte"

_seven_has() { ls "$SEVEN"/seven.*.msg >/dev/null 2>&1; }
wait_until 15 _seven_has; ok $? "multipart: relayed to the server without 8BITMIME"
m7=$(ls "$SEVEN"/seven.*.msg | head -1)
in7=${m7%.msg}.in
grep -a '^MAIL FROM' "$in7" | grep -qv 'BODY='; ok $? "... MAIL without BODY="
LC_ALL=C grep -qaP '[\x80-\xff]' "$in7"; ok $(( ! $? )) "... not one 8-bit octet on the wire"
$PY - "$m7" "$T/mp.eml" <<'PYEOF'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n..", b"\n.")
got = email.message_from_bytes(raw, policy=email.policy.compat32)
want = email.message_from_bytes(open(sys.argv[2], "rb").read(), policy=email.policy.compat32)
fails = []
if got["Content-Transfer-Encoding"] != "7bit":
    fails.append("multipart label %r" % got["Content-Transfer-Encoding"])
g, w = got.get_payload(), want.get_payload()
if len(g) != 3:
    fails.append("%d parts" % len(g))
else:
    if g[0]["Content-Transfer-Encoding"] != "quoted-printable":
        fails.append("text part %r" % g[0]["Content-Transfer-Encoding"])
    if g[0].get_payload(decode=True) != w[0].get_payload(decode=True):
        fails.append("text part decodes to %r" % g[0].get_payload(decode=True))
    if g[1].get_payload() != w[1].get_payload() or g[1]["Content-Transfer-Encoding"] != "base64":
        fails.append("base64 part changed")
    if g[2].as_string() != w[2].as_string():
        fails.append("7-bit part changed")
print("# " + "; ".join(fails) if fails else "# parts as sent")
sys.exit(1 if fails else 0)
PYEOF
ok $? "... quoted-printable text part, base64 and 7-bit parts unchanged, each decoding to what was sent"
grep -aq '^caf=C3=A9 =3D cr\$me=20' "$m7"; ok $? "... '=' and the trailing space encoded"

# ---- undeclared, not MIME, an 8-bit header ---------------------------------
printf '%s\n' 'From: <user@test.example>' "Subject: na$(printf '\357')ve" \
	'Message-ID: <plain@client.test>' '' "d$(printf '\351')j$(printf '\340') vu" 'ascii line' >"$T/plain.eml"
like "$(send "$T/plain.eml" "" z@seven.example)" '^sent$' "plain: sent without BODY="
# a kept connection carries it: each connection's .msg holds its last message
_seven_plain() { grep -alq 'plain@client\.test' "$SEVEN"/seven.*.msg; }
wait_until 15 _seven_plain; ok $? "plain: relayed"
m7=$(grep -al 'plain@client\.test' "$SEVEN"/seven.*.msg | head -1)
grep -aq '^MIME-Version: 1.0' "$m7"; ok $? "plain: MIME-Version added"
grep -aq '^Content-Type: text/plain; charset=unknown-8bit' "$m7"; ok $? "plain: charset unknown-8bit"
grep -aq '^Content-Transfer-Encoding: quoted-printable' "$m7"; ok $? "plain: quoted-printable"
grep -aq '^d=E9j=E0 vu' "$m7"; ok $? "plain: the body encoded"
grep -aq "^Subject: na$(printf '\357')ve" "$m7"; ok $? "plain: the 8-bit header as it was"
is "$(stop_mta)" 0 "SIGTERM, exit 0"
done_testing
