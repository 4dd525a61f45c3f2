#!/bin/bash
# t/82-long-lines.t - no line over 998 octets leaves (RFC 5321
# 4.5.3.1.6, smtp_client.h): a stored line that long is split by
# inserting CRLF SP, as Postfix does (in the header that folds the field;
# in the body the piece after it starts with a space, so it can never be
# a lone dot), counting a stuffed dot; a line of exactly 998 is left
# whole.  To a server without 8BITMIME an 8-bit long line is encoded
# quoted-printable instead (soft line breaks, nothing to split).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 10

P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start wire 127.0.0.2 --wire || { echo "Bail out! aiosmtpd did not start"; exit 1; }
SINK=$PEER_DIR
P7=$(free_port_on 127.0.0.3)
bad_start seven "seven=127.0.0.3:$P7" || { echo "Bail out! badsmtp.py did not start"; exit 1; }
SEVEN=$BAD_DIR
start_mta --route "long.example=127.0.0.2:$P" --route "seven.example=127.0.0.3:$P7" \
	--retry 300 || { echo "Bail out! mta-smtpd did not start"; exit 1; }

$PY - "$T/long.eml" <<'PYEOF'
import sys
open(sys.argv[1], "wb").write(
    b"From: <user@test.example>\nSubject: long\nMessage-ID: <long@client.test>\n"
    b"X-Long: " + b"h" * 1500 + b"\n\n"
    b"." + b"a" * 2500 + b"\n" + b"b" * 998 + b"\n" + b"c" * 999 + b"\nend\n")
PYEOF
r=$(inject "$MTA_PORT" user@test.example 'x@long.example' <"$T/long.eml")
like "$(queued_id "$r")" '^[A-Za-z0-9]+$' "queued"
peer_wait "$SINK" 1 15; ok $? "relayed"
wire=$(grep -al 'long@client\.test' "$SINK"/wire.* | head -1)
$PY - "$wire" <<'PYEOF'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\r\n")
print("# longest line on the wire: %d octets" % max(len(l) for l in lines))
sys.exit(0 if max(len(l) for l in lines) <= 998 else 1)
PYEOF
ok $? "no line on the wire over 998 octets (CRLF not counted)"
grep -aq '^\.\.a' "$wire"; ok $? "the long dot line still stuffed"
grep -aqx "$(printf 'b%.0s' $(seq 998))"$'\r' "$wire"; ok $? "a line of exactly 998 sent whole"
$PY - "$(peer_eml "$SINK" 1)" "$T/long.eml" <<'PYEOF'
import sys
got = open(sys.argv[1], "rb").read().replace(b"\r\n ", b"").replace(b"\r\n", b"\n")
sent = open(sys.argv[2], "rb").read()
ok = got.endswith(sent.partition(b"\n\n")[2])
ok = ok and (b"X-Long: " + b"h" * 1500 + b"\n") in got
sys.exit(0 if ok else 1)
PYEOF
ok $? "without the inserted CRLF SP, header and body arrive as sent"
$PY - "$(peer_eml "$SINK" 1)" <<'PYEOF'
import email, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read())
v = m["X-Long"].replace("\r\n", "").replace("\n", "")
sys.exit(0 if v.replace(" ", "") == "h" * 1500 else 1)
PYEOF
ok $? "the header field is folded, still one field"

# ---- 8-bit and long, to a server without 8BITMIME --------------------------
$PY - "$T/long8.eml" <<'PYEOF'
import sys
open(sys.argv[1], "wb").write(
    b"From: <user@test.example>\nSubject: long8\nMessage-ID: <long8@client.test>\n\n"
    + b"\xe9" * 1200 + b"\n")
PYEOF
r=$(inject "$MTA_PORT" user@test.example 'y@seven.example' <"$T/long8.eml")
_seven() { grep -alq 'long8@client\.test' "$SEVEN"/seven.*.msg 2>/dev/null; }
wait_until 15 _seven; ok $? "8-bit long line: relayed"
m7=$(grep -al 'long8@client\.test' "$SEVEN"/seven.*.msg | head -1)
$PY - "$m7" <<'PYEOF'
import email, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw.replace(b"\r\n", b"\n"))
body = raw.partition(b"\r\n\r\n")[2]
ok = max(len(l) for l in body.split(b"\r\n")) <= 76
ok = ok and m.get_payload(decode=True).rstrip(b"\n") == b"\xe9" * 1200
sys.exit(0 if ok else 1)
PYEOF
ok $? "8-bit long line: quoted-printable lines of 76 at most, decoding to the line"
is "$(stop_mta)" 0 "SIGTERM, exit 0"
done_testing
