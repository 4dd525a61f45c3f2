#!/bin/bash
# t/80-wire.t - the bytes mta-smtpd puts on the wire when it relays
# (smtp_client.h, RFC 5321 2.3.8, 4.1.1.4, 4.5.2).  An aiosmtpd sink with a
# recording proxy in front (t/lib/sink.py --wire) keeps both the raw
# client-to-server stream and the message as received (dots un-stuffed):
#   every line on the wire ends in CRLF: no bare CR, no bare LF, also
#     when the client sent them (bare LF lines, a CR inside a line);
#   lines starting with "." go out stuffed (".", "..", ".x" -> "..",
#     "...", "..x") and arrive unstuffed, identical to what was sent;
#   CRLF.CRLF appears once, at the end: a lone "." after a bare LF (an
#     SMTP smuggling attempt) goes out as a stuffed line;
#   a 400 KB message full of dot lines (across every buffer boundary)
#     arrives byte for byte.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 25

P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start wire 127.0.0.2 --wire || { echo "Bail out! aiosmtpd did not start"; exit 1; }
SINK=$PEER_DIR
start_mta --smtp-port "$P" --retry 300 || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- a message with every awkward line, sent raw --------------------------
out=$($PY - "$MTA_PORT" <<'PYEOF'
import sys
from smtpraw import Client
c = Client(sys.argv[1])
c.reply()
for cmd in ("EHLO client.test", "MAIL FROM:<user@test.example>",
            "RCPT TO:<dots@[127.0.0.2]>", "DATA"):
    r = c.cmd(cmd)
    if r is None or r[0] not in "23":
        print("failed at", cmd, r); sys.exit(1)
c.send(b"From: <user@test.example>\r\nSubject: dots\r\n"
       b"Message-ID: <dots@client.test>\r\n\r\n"
       b"..\r\n"               # "."
       b"...\r\n"              # ".."
       b"..x\r\n"              # ".x"
       b"x.\r\n"
       b"bare lf line\n"       # a bare LF ends a line
       b".\n"                  # a lone dot after a bare LF: not the end
       b"after smuggle\r\n"
       b"cr\rinside\r\n"       # a bare CR inside a line
       b"8bit \xe9\xe8\r\n"
       b"..last\r\n"
       b".\r\n")
r = c.reply()
print(r.strip() if r else "no reply")
c.cmd("QUIT")
PYEOF
)
id=$(queued_id "$out")
like "$id" '^[A-Za-z0-9]+$' "raw message queued"
peer_wait "$SINK" 1 10; ok $? "relayed to the sink"
f=$(peer_eml "$SINK" 1)
# The connection is kept for the next delivery (conncache.h) and let go
# with a QUIT after REMOTE_IDLE_SECONDS (5) of nothing to send.
quit_sent() { grep -alq 'dots@\[127\.0\.0\.2\]' "$SINK"/wire.* &&
	grep -aq '^QUIT' $(grep -al 'dots@\[127\.0\.0\.2\]' "$SINK"/wire.*); }
wait_until 20 quit_sent

tap_from "$($PY - "$f" "$SINK" <<'PYEOF'
import glob, re, sys
eml = open(sys.argv[1], "rb").read()
wires = [open(w, "rb").read() for w in sorted(glob.glob(sys.argv[2] + "/wire.*"))]
wire = [w for w in wires if b"dots@[127.0.0.2]" in w]

def ok(cond, name, got=None):
    print("%s - %s" % ("ok" if cond else "not ok", name))
    if not cond and got is not None:
        print("#   got: %r" % (got,))

ok(len(wire) == 1, "one connection carried it", len(wire))
w = wire[0] if wire else b""
i = w.find(b"\r\nDATA\r\n")
ok(i > 0, "DATA on the wire")
data = w[i + 8:]
end = data.find(b"\r\n.\r\n")
ok(end >= 0, "the message ends with CRLF.CRLF")
body_wire = data[:end + 2]
after = data[end + 5:]
ok(data.count(b"\r\n.\r\n") == 1, "CRLF.CRLF only once: at the very end",
   data.count(b"\r\n.\r\n"))
ok(re.search(rb"(?<!\r)\n", w) is None, "no bare LF anywhere on the wire",
   re.findall(rb".{0,20}(?<!\r)\n", w)[:3])
ok(re.search(rb"\r(?!\n)", w) is None, "no bare CR anywhere on the wire",
   re.findall(rb".{0,20}\r(?!\n).{0,5}", w)[:3])
lines = w[:i].split(b"\r\n")
ok(lines[0] == b"EHLO mx.test.example", "EHLO with our name", lines[0])
ok(re.match(rb"^MAIL FROM:<user@test\.example>( SIZE=\d+)?( BODY=8BITMIME)?$",
            lines[1]) is not None, "MAIL FROM as expected", lines[1])
ok(lines[2] == b"RCPT TO:<dots@[127.0.0.2]>", "RCPT TO as expected", lines[2])
ok(after.startswith(b"QUIT\r\n"), "QUIT after the message, once idle", after[:20])
wl = body_wire.split(b"\r\n")
for stuffed in (b"..", b"...", b"..x", b"..last"):
    ok(stuffed in wl, "on the wire stuffed: %r" % stuffed)
ok(b"x." in wl, "a dot elsewhere is left alone")
unstuffed = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in wl)
ok(unstuffed == eml, "un-stuffing the wire gives what the sink stored")
head, _, body = eml.partition(b"\r\n\r\n")
want = (b".\r\n..\r\n.x\r\nx.\r\nbare lf line\r\n.\r\nafter smuggle\r\n"
        b"cr\r\ninside\r\n8bit \xe9\xe8\r\n.last\r\n")
ok(body == want, "the body arrives unstuffed, lines as sent, CRLF", body)
ok(head.startswith(b"Received: from client.test"), "our Received: first")
ok(b"\r\nSubject: dots\r\n" in head, "the header came through")
PYEOF
)"

# ---- 400 KB of dot lines ----------------------------------------------------
$PY - "$T/big.eml" <<'PYEOF'
import random, sys
rnd = random.Random(7)
out = [b"From: <user@test.example>", b"Subject: big", b"Message-ID: <big@client.test>", b""]
size = 0
while size < 400000:
    k = rnd.choice([0, 1, 2, 3, 5, 40, 77, 200, 997])
    s = bytes(rnd.choice(b".abc xyz.") for _ in range(k))
    if rnd.random() < 0.3:
        s = b"." * rnd.randint(1, 3) + s[:990]
    out.append(s)
    size += len(s) + 2
open(sys.argv[1], "wb").write(b"\n".join(out) + b"\n")
PYEOF
r=$(inject "$MTA_PORT" user@test.example 'big@[127.0.0.2]' <"$T/big.eml")
like "$r" '^250 ' "400 KB message queued"
peer_wait "$SINK" 2 20; ok $? "and relayed"
$PY - "$T/big.eml" "$(peer_eml "$SINK" 2)" <<'PYEOF'
import sys
sent = open(sys.argv[1], "rb").read().replace(b"\n", b"\r\n")
got = open(sys.argv[2], "rb").read()
body = got.partition(b"\r\n\r\n")[2]
sys.exit(0 if body == sent.partition(b"\r\n\r\n")[2] else 1)
PYEOF
ok $? "400 KB of dot lines: the body arrives byte for byte"

is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
