#!/bin/bash
# t/12-data-smuggling.t - the end of DATA is CRLF "." CRLF and nothing
# else.  Dot-stuffing is undone exactly (smtplib stuffs; a raw client
# shows each case), and no bare-LF / bare-CR look-alike of the end marker
# ends a message (SMTP smuggling): commands hidden behind one stay inside
# the message, one message is queued, the hidden transaction never runs.
. "$(dirname "$0")/lib/common.sh"

plan 68

start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- dot-stuffing -------------------------------------------------------
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import smtplib, sys, time
from smtpraw import (Client, check, check_eq, read_queued, queued_bytes,
                     expected_queue_file, diff_bytes)
port, queue = sys.argv[1], sys.argv[2]

def stored(qid):
    return read_queued(queue, qid)

# smtplib stuffs every leading dot: the queue must hold the original lines
msg = (b"From: alice@example.org\nTo: bob@test.example\nSubject: dots\n"
       b"Date: Mon, 02 Jan 2023 10:00:00 +0000\nMessage-ID: <t12-dots@example.org>\n"
       b"\n.\n..\n...\n.x\n..x\n .\nx.\n.\n\n.end\n")
s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="dots.example", timeout=10)
s.ehlo()
s.mail("alice@example.org")
s.rcpt("bob@test.example")
code, text = s.data(msg.replace(b"\n", b"\r\n"))
s.quit()
check_eq("smtplib, lines '.', '..', '...', '.x' stuffed: 250", code, 250)
qid = text.decode().split()[-1]
env, _ = stored(qid)
want = expected_queue_file(qid, int(dict(env).get("arrival", 0)), "127.0.0.1",
                           "dots.example", "alice@example.org",
                           ["bob@test.example"], msg)
check_eq("smtplib: stuffing undone, the queue file byte-exact",
         diff_bytes(queued_bytes(queue, qid), want), "")

# a raw client: stuffed lines are unstuffed, an unstuffed leading dot is
# removed too (RFC 5321 4.5.2), and "." CRLF right after a CRLF line ends it
c = Client(port)
c.reply()
c.cmd("EHLO raw.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
check("raw: DATA 354", c.cmd("DATA"), r"^354 ")
r = c.cmd("From: a@example.org\r\n\r\n..\r\n...\r\n..x\r\n.y unstuffed\r\nz.\r\n.")
check("raw: message ends at CRLF . CRLF: 250", r, r"^250 2\.0\.0 .*queued as")
env, body = stored(r.split()[-1] if r else None)
check_eq("raw: '..' -> '.', '...' -> '..', '..x' -> '.x', '.y' -> 'y'",
         body.partition(b"\n\n")[2], b".\n..\n.x\ny unstuffed\nz.\n")
check("raw: the session goes on after the end marker", c.cmd("NOOP"), r"^250 ")
# bare LF is a line end; a bare CR is data
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
r = c.cmd("From: a@example.org\r\n\r\none\ntwo\rthree\r\nfour\r\n.")
env, body = stored(r.split()[-1] if r else None)
check_eq("raw: bare LF ends a line, bare CR is kept as data",
         body.partition(b"\n\n")[2], b"one\ntwo\rthree\nfour\n")
c.cmd("QUIT")
c.close()
EOF
)
tap_from "$res"

# ---- smuggling: one message, the hidden commands inside it ---------------
# Each variant V goes between "body before" and a hidden transaction that
# ends with a real CRLF "." CRLF; so a correct server queues ONE message
# whose data holds the hidden MAIL/RCPT/DATA lines.  Variants containing
# the real marker (e.g. "\r\r\n.\r\n") are not smuggling and are left out.
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import os, sys
from smtpraw import Client, check, check_eq, read_queued, queued_ids
port, queue = sys.argv[1], sys.argv[2]
VARIANTS = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n", b"\r\n.\r",
            b"\n.\r", b"\r.\n", b"\r\n.\r\r\n", b"\n.\r\r\n", b"\r\r.\r\r",
            b"\n\n.\r\n", b"\r\n\n.\r\n", b"\r\n.\n\r\n", b"\r\n\x00.\r\n",
            b"\r\n .\r\n", b"\r\n.\t\r\n", b"\r\n.\x00\r\n"]
HIDDEN = (b"MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@test.example>\r\n"
          b"DATA\r\nSubject: smuggled\r\n\r\nevil body\r\n.\r\n")
for n, v in enumerate(VARIANTS, 1):
    name = "smuggling %r" % v
    before = queued_ids(queue)
    c = Client(port)
    c.reply()
    c.cmd("EHLO smuggler.example")
    c.cmd("MAIL FROM:<alice@example.org>")
    c.cmd("RCPT TO:<bob@test.example>")
    c.cmd("DATA")
    c.send(b"From: alice@example.org\r\nSubject: smuggle %d\r\n\r\nbody before" % n
           + v + HIDDEN + b"QUIT\r\n")
    out = c.rest(5)
    c.close()
    codes = [l[:3] for l in out.split("\r\n") if l]
    check_eq(name + ": replies are one 250 then 221 (no 354 for the hidden DATA)",
             codes, ["250", "221"])
    new = sorted(queued_ids(queue) - before)
    envs = [read_queued(queue, q) for q in new]
    check_eq(name + ": exactly one message queued, from alice to bob only",
             [(dict(e).get("sender"), [v2 for k, v2 in e if k == "rcpt"]) for e, m in envs],
             [("alice@example.org", ["bob@test.example"])])
    data = envs[0][1] if envs else b""
    check(name + ": the hidden commands are inside the message data",
          data.decode("latin-1"),
          r"body before.*MAIL FROM:<evil@attacker\.example>\nRCPT TO:<victim@test\.example>\nDATA\n.*evil body\n$")
EOF
)
tap_from "$res"

# ---- look-alikes only: the message does not end at all -------------------
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import sys, time
from smtpraw import Client, check, check_eq, queued_ids
port, queue = sys.argv[1], sys.argv[2]
for name, eol in (("bare LF", b"\n"), ("bare CR", b"\r")):
    before = queued_ids(queue)
    c = Client(port)
    c.reply()
    c.cmd("EHLO smuggler.example")
    c.cmd("MAIL FROM:<alice@example.org>")
    c.cmd("RCPT TO:<bob@test.example>")
    c.cmd("DATA")
    lines = [b"Subject: never ends", b"", b"body", b".", b"MAIL FROM:<evil@attacker.example>",
             b"RCPT TO:<victim@test.example>", b"DATA", b"evil", b".", b"QUIT", b""]
    c.send(eol.join(lines))
    check_eq("only %s line ends: no reply at all (still in DATA)" % name, c.reply(1.0), None)
    c.close()
    time.sleep(0.2)
    check_eq("only %s line ends, client gone: nothing queued" % name,
             sorted(queued_ids(queue) - before), [])
EOF
)
tap_from "$res"

tmp_clean() { [ "$(count_tmp_messages)" = 0 ]; }
wait_until 3 tmp_clean
is "$(count_tmp_messages)" 0 "unfinished messages removed from queue/tmp"
is "$(grep -rl 'evil@attacker' "$MTA_QUEUE"/new "$MTA_QUEUE"/mess | xargs -r -n1 sed -n '/^$/q; /^sender evil/p' | wc -l | tr -d ' ')" 0 \
	"no queue file has the smuggled sender in its envelope"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
