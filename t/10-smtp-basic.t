#!/bin/bash
# t/10-smtp-basic.t - the receiving daemon against real clients: swaks and
# python3 smtplib deliver into queue/new byte-exactly; command order (503),
# second HELO, HELO across messages, VRFY, unknown commands, white space,
# the null sender, relay control, bad addresses and unsafe mailbox names.
. "$(dirname "$0")/lib/common.sh"

plan 81

start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- swaks: one message, the queue file byte for byte -------------------
# The header has Date, From and Message-ID, so nothing is appended: the
# file must be the envelope, our Received: and the message as sent.
# No newline at the end of the file: swaks then sends "last line" CRLF "."
# CRLF (with one it would add an empty line before the dot).
printf '%s\n' \
	'Date: Mon, 02 Jan 2023 10:00:00 +0000' \
	'From: Alice <alice@example.org>' \
	'To: bob@test.example' \
	'Subject: byte-exact' \
	'Message-ID: <t10-swaks@example.org>' \
	'' \
	'first line' \
	'  indented, trailing spaces   ' \
	"tab	inside" \
	'.leading dot' \
	'..two dots' \
	'.' \
	'' \
	"8bit: caf$(printf '\303\251')" \
	'last line' | head -c -1 >"$T/swaks.eml"
# less one second: the daemon's time(2) is the kernel's coarse clock, up
# to a tick behind the fine one date(1) reads
t0=$(($(date +%s) - 1))
out=$(swaks --server "127.0.0.1:$MTA_PORT" --helo client.example \
	--from alice@example.org --to bob@test.example --data "@$T/swaks.eml" \
	--timeout 10 2>&1)
t1=$(date +%s)
like "$out" '<-  250 2\.0\.0 .*queued as [A-Za-z0-9]+' "swaks: 250 queued as ID"
id=$(printf '%s\n' "$out" | sed -n 's/^<-  250 .*queued as \([A-Za-z0-9]*\).*/\1/p')
queue_cat "$id" >"$T/swaks.queued"
ok "$([ -n "$id" ] && [ -s "$T/swaks.queued" ]; echo $?)" "swaks: the file is queue/new/ID (or mess/ID: taken by the scheduler)"
f=$T/swaks.queued
is "$(count_tmp_messages)" 0 "swaks: nothing left in queue/tmp"
res=$($PY - "$f" "$id" "$t0" "$t1" "$T/swaks.eml" <<'EOF'
import sys
from smtpraw import read_queue_file, expected_queue_file, diff_bytes
path, qid, t0, t1, eml = sys.argv[1:]
env, _ = read_queue_file(path)
arrival = int(dict(env).get("arrival", "0"))
if not int(t0) <= arrival <= int(t1):
    print("arrival %d not within %s..%s" % (arrival, t0, t1))
want = expected_queue_file(qid, arrival, "127.0.0.1", "client.example",
                           "alice@example.org", ["bob@test.example"],
                           open(eml, "rb").read() + b"\n")
print(diff_bytes(open(path, "rb").read(), want))
EOF
)
is "$res" "" "swaks: queue file byte-exact (envelope, Received first, body as sent, LF)"

# ---- python3 smtplib: several recipients, two messages on one connection
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import smtplib, sys, time, os
from smtpraw import (check, check_eq, read_queued, queued_bytes,
                     expected_queue_file, diff_bytes, queued_ids)
port, queue = int(sys.argv[1]), sys.argv[2]
rcpts = ["bob@test.example", "carol@TEST.example", "dave@elsewhere.example"]
msgs = [b"From: alice@example.org\nTo: bob@test.example\nSubject: multi %d\n"
        b"Date: Mon, 02 Jan 2023 10:00:00 +0000\n"
        b"Message-ID: <t10-py-%d@example.org>\n\nbody %d\n.dot\n..\n" % (i, i, i)
        for i in (1, 2)]
before = queued_ids(queue)
# the daemon's time(2) is the kernel's coarse clock, up to a tick behind
# the fine one Python reads: a second's boundary may fall between them
t0 = int(time.time()) - 1
s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
# smtplib sends bytes as they are: give it CRLF, as a correct client would
crlf = [m.replace(b"\n", b"\r\n") for m in msgs]
r1 = s.sendmail("alice@example.org", rcpts, crlf[0])
# smtplib does not say EHLO again: the second message rides on the first
r2 = s.sendmail("alice@example.org", rcpts[:1], crlf[1])
s.quit()
t1 = int(time.time())
check_eq("smtplib: no recipient refused (3 recipients, one remote)", r1, {})
check_eq("smtplib: second message on the same connection accepted", r2, {})
new = sorted(queued_ids(queue) - before)
check_eq("smtplib: exactly two new queue files", len(new), 2)
for qid in new:
    env, msg = read_queued(queue, qid)
    e = dict(env)
    n = 1 if b"multi 1" in msg else 2
    # a local recipient is stored as its mailbox's canonical address
    # (domain in lower case), the address as sent after it on an orcpt
    # line (mta-queue(5))
    stored = ["bob@test.example", "carol@test.example", "dave@elsewhere.example"]
    want_rcpts = stored if n == 1 else stored[:1]
    check_eq("smtplib: message %d envelope recipients in order" % n,
             [v for k, v in env if k == "rcpt"], want_rcpts)
    if n == 1:
        want_rcpts = [stored[0], stored[1] + "\norcpt " + rcpts[1], stored[2]]
    check_eq("smtplib: message %d helo is py.example" % n, e.get("helo"), "py.example")
    arrival = int(e.get("arrival", 0))
    want = expected_queue_file(qid, arrival, "127.0.0.1",
                               "py.example", "alice@example.org", want_rcpts,
                               msgs[n - 1])
    check_eq("smtplib: message %d byte-exact (no 'for' with 3 recipients)" % n,
             diff_bytes(queued_bytes(queue, qid), want), "")
    check("smtplib: message %d arrival in time" % n, str(t0 <= arrival <= t1), "True")
EOF
)
tap_from "$res"

# ---- command order: 503, and second HELO/EHLO --------------------------
res=$($PY - "$MTA_PORT" <<'EOF'
import sys
from smtpraw import Client, check, dialogue
c = Client(sys.argv[1])
check("greeting 220 with our name", c.reply(), r"^220 mx\.test\.example ")
dialogue(c, [
    ("MAIL FROM:<alice@example.org>", r"^503 5\.5\.1 ", "MAIL before HELO: 503"),
    ("RCPT TO:<bob@test.example>", r"^503 5\.5\.1 ", "RCPT before HELO: 503"),
    ("DATA", r"^503 5\.5\.1 ", "DATA before HELO: 503"),
    ("EHLO first.example", r"^250-mx\.test\.example.*\r\n250 ", "EHLO: 250 multi-line"),
    ("RCPT TO:<bob@test.example>", r"^503 5\.5\.1 ", "RCPT before MAIL: 503"),
    ("DATA", r"^503 5\.5\.1 ", "DATA before MAIL: 503"),
    ("MAIL FROM:<alice@example.org>", r"^250 2\.1\.0", "MAIL: 250"),
    ("MAIL FROM:<alice@example.org>", r"^503 5\.5\.1 ", "nested MAIL: 503"),
    ("DATA", r"^503 5\.5\.1 ", "DATA before RCPT: 503"),
    ("RCPT TO:<bob@test.example>", r"^250 2\.1\.5", "RCPT: 250"),
    ("EHLO second.example", r"^250-mx\.test\.example Hello second\.example",
     "second EHLO in a transaction: 250, session goes on"),
    ("DATA", r"^503 5\.5\.1 ", "second EHLO ended the transaction: DATA 503"),
    ("MAIL FROM:<alice@example.org>", r"^250 ", "MAIL after second EHLO: 250"),
    ("HELO third.example", r"^250 mx\.test\.example", "second HELO (plain): 250"),
    ("RCPT TO:<bob@test.example>", r"^503 ", "second HELO ended the transaction: RCPT 503"),
])
check("QUIT: 221", c.cmd("QUIT"), r"^221 2\.0\.0 ")
check("QUIT: connection closed", str(c.closed(3)), "True")
EOF
)
tap_from "$res"

# ---- HELO persists across messages; VRFY, HELP, unknown commands, spaces
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import sys
from smtpraw import Client, check, check_eq, dialogue, read_queued
port, queue = sys.argv[1], sys.argv[2]
c = Client(port)
c.reply()
ids = []
dialogue(c, [
    ("HELO   plain.example   ", r"^250 ", "HELO with extra spaces: 250"),
    ("VRFY bob", r"^252 2\.5\.0 ", "VRFY: 252"),
    ("HELP", r"^214 ", "HELP: 214"),
    ("NOOP", r"^250 ", "NOOP: 250"),
    ("XYZZY frob", r"^500 5\.5\.2 ", "unknown command: 500"),
    ("EXPN staff", r"^502 5\.5\.1 ", "EXPN: 502 not implemented"),
    ("mail from:   <alice@example.org>   ", r"^250 ", "lower case, spaces after ':' and trailing: 250"),
    ("rcpt To:  <bob@test.example>  ", r"^250 ", "RCPT with spaces after ':': 250"),
    ("RSET", r"^250 ", "RSET: 250"),
    ("MAIL FROM:<alice @example.org>", r"^501 ", "space inside the address: 501"),
    ("MAIL FROM:< alice@example.org>", r"^501 ", "space after '<': 501"),
])
# two messages, HELO only once
for n in (1, 2):
    c.cmd("MAIL FROM:<alice@example.org>")
    c.cmd("RCPT TO:<bob@test.example>")
    c.cmd("DATA")
    r = c.cmd("From: a@example.org\r\nSubject: persist %d\r\n\r\nx\r\n." % n)
    check("message %d after one HELO: 250" % n, r, r"^250 2\.0\.0 .*queued as")
    ids.append(r.split()[-1] if r else "none")
for n, qid in enumerate(ids, 1):
    env, msg = read_queued(queue, qid)
    check_eq("message %d: envelope helo plain.example" % n, dict(env).get("helo"), "plain.example")
    check("message %d: Received from plain.example, with SMTP (HELO)" % n,
          msg.decode("latin-1"), r"^Received: from plain\.example \(\[127\.0\.0\.1\]\)\n\tby mx\.test\.example \(mta\) with SMTP id ")
c.cmd("QUIT")
EOF
)
tap_from "$res"

# ---- the null sender ----------------------------------------------------
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import sys
from smtpraw import Client, check, check_eq, read_queued
port, queue = sys.argv[1], sys.argv[2]
c = Client(port)
c.reply()
c.cmd("EHLO bounce.example")
check("MAIL FROM:<> accepted", c.cmd("MAIL FROM:<>"), r"^250 ")
check("RCPT after null sender", c.cmd("RCPT TO:<bob@test.example>"), r"^250 ")
c.cmd("DATA")
r = c.cmd("From: MAILER-DAEMON@bounce.example\r\nSubject: bounce\r\n\r\nsorry\r\n.")
check("null sender with From: queued", r, r"^250 2\.0\.0 .*queued as")
qid = r.split()[-1] if r else "none"
env, msg = read_queued(queue, qid)
check_eq("null sender: envelope 'sender' is empty", dict(env).get("sender", "missing"), "")
check("null sender: From: kept, none added", msg.decode("latin-1"),
      r"\nFrom: MAILER-DAEMON@bounce\.example\n(?!(.|\n)*\nFrom:)")
c.cmd("MAIL FROM:<>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
r = c.cmd("Subject: no from\r\n\r\nsorry\r\n.")
check("null sender without From: refused 554", r, r"^554 5\.6\.0 ")
check("session goes on after the 554", c.cmd("NOOP"), r"^250 ")
c.cmd("QUIT")
EOF
)
tap_from "$res"
nullid=$(grep -rl 'Subject: no from' "$MTA_QUEUE" 2>/dev/null)
is "$nullid" "" "the refused null-sender message is nowhere in the queue"

# ---- relay control ------------------------------------------------------
relay_dialogue() {
	$PY - "$1" <<'EOF'
import sys
from smtpraw import Client
c = Client(sys.argv[1])
c.reply()
c.cmd("EHLO relay.example")
c.cmd("MAIL FROM:<alice@example.org>")
for rcpt in ("x@elsewhere.example", "bob@test.example", "postmaster", "bob@LOCALHOST"):
    print("%s=%s" % (rcpt, (c.cmd("RCPT TO:<%s>" % rcpt) or "none").strip()))
c.cmd("QUIT")
EOF
}
res=$(relay_dialogue "$MTA_PORT")
like "$(field x@elsewhere.example <<<"$res")" '^250 ' "loopback may relay by default: remote RCPT 250"
port1=$MTA_PORT
MTA_DIR=$T/norelay start_mta_hold --relay-from 10.0.0.0/8 || echo "# second daemon did not start"
res=$(relay_dialogue "$MTA_PORT")
like "$(field x@elsewhere.example <<<"$res")" '^554 5\.7\.1 ' "--relay-from 10.0.0.0/8: remote RCPT from 127.0.0.1 refused 554 5.7.1"
like "$(field bob@test.example <<<"$res")" '^250 ' "--relay-from 10.0.0.0/8: local domain still 250"
like "$(field postmaster <<<"$res")" '^250 ' "--relay-from 10.0.0.0/8: bare <postmaster> 250"
like "$(field bob@LOCALHOST <<<"$res")" '^250 ' "--relay-from 10.0.0.0/8: local domain in upper case 250"
is "$(stop_mta)" 0 "second daemon stops with 0"

# ---- bad addresses (501) and unsafe mailbox names ------------------------
res=$($PY - "$port1" <<'EOF'
import sys
from smtpraw import Client, check
c = Client(sys.argv[1])
c.reply()
c.cmd("EHLO addr.example")
check("MAIL without brackets: 501", c.cmd("MAIL FROM:alice@example.org"), r"^501 ")
check("MAIL with a bad domain: 501", c.cmd("MAIL FROM:<alice@exa mple.org>"), r"^501 ")
c.cmd("MAIL FROM:<alice@example.org>")
for rcpt, name in (("bob@test.example", "no brackets"), ("<bob>", "no domain"),
                   ("<bob@>", "empty domain"), ("<@test.example>", "empty local part"),
                   ("<bob@test..example>", "empty label"), ("<bob@-x.example>", "label starts with '-'"),
                   ("<bob@[300.1.2.3]>", "bad address literal"), ("<bob@test.example", "no '>'"),
                   ("<.bob@test.example>", "unquoted leading dot")):
    check("RCPT %s: 501" % name, c.cmd("RCPT TO:" + rcpt), r"^501 ")
for rcpt, name in (("<a/b@test.example>", "'/' in a local mailbox"),
                   ('<".hidden"@test.example>', "quoted leading '.'"),
                   ('<"../../etc/passwd"@test.example>', "quoted ../ path")):
    check("RCPT %s: refused 5xx" % name, c.cmd("RCPT TO:" + rcpt), r"^55[03] 5\.1\.")
check("RCPT with '/' to a remote domain (not a mailbox here): 250",
      c.cmd("RCPT TO:<a/b@elsewhere.example>"), r"^250 ")
check("the session is still fine: DATA after the refusals", c.cmd("DATA"), r"^354 ")
check("and the message is queued", c.cmd("From: a@example.org\r\n\r\nx\r\n."), r"^250 ")
c.cmd("QUIT")
EOF
)
tap_from "$res"

MTA_PORT=$port1
done_testing
