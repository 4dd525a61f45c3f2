#!/bin/bash
# t/16-session-limits.t - no session lasts for ever and no host takes every
# slot (mta-smtpd(8), LIMITS): junk commands (NOOP RSET VRFY HELP) past
# --max-junk count as errors, so a NOOP loop ends in 421, while a client
# that sends mail between them is never stopped; --session-timeout cuts a
# busy session (EHLO after EHLO, or one byte of a command at a time) with 421
# 4.4.2, but lets a message already in DATA finish first; by default a
# client outside --relay-from gets 50 connections at once and 421 for
# more, while relay clients are not limited.
. "$(dirname "$0")/lib/common.sh"

plan 20

slow=${MTA_TEST_SLOW:-1}
cap=$((2 * slow))
start_mta_hold --max-junk 5 --max-errors 3 --session-timeout "$cap" --timeout 30 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$cap" "$MTA_LOG" <<'EOF'
import re, sys, threading, time
from smtpraw import Client, check, check_eq, queue_files
port, queue, cap, log = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]

# ---- --max-junk 5 (--max-errors 3): ten pipelined NOOPs
c = Client(port)
c.reply()
c.send(b"NOOP\r\n" * 10)
text = c.rest(5)
codes = [l[:3] for l in text.split("\r\n") if l]
check_eq("ten NOOPs, --max-junk 5 --max-errors 3: eight 250s, then 421",
         codes, ["250"] * 8 + ["421"])
check("the 421 is 421 4.7.0", text.rstrip("\r\n").split("\r\n")[-1], r"^421 4\.7\.0 ")
check_eq("and the close", c.eof, True)

# junk between messages is fine: the count starts again at each message
c = Client(port)
c.reply()
c.cmd("EHLO busy.example")
codes = []
for n in range(3):
    for junk in ("NOOP", "RSET", "VRFY bob", "HELP", "NOOP"):
        codes.append((c.cmd(junk) or "none")[:1])
    c.cmd("MAIL FROM:<alice@example.org>")
    c.cmd("RCPT TO:<bob@test.example>")
    c.cmd("DATA")
    codes.append((c.cmd("From: alice@example.org\r\n\r\nm%d\r\n." % n) or "none")[:3])
check_eq("five junk commands before each of three messages: all answered, all queued",
         codes, (["2"] * 5 + ["250"]) * 3)
c.cmd("QUIT")
c.close()

# ---- --session-timeout: an EHLO every 0.2 s (neither junk nor an error)
# is not idle, but is cut
c = Client(port, timeout=30)
t0, r = time.time(), None
c.reply()
while time.time() - t0 < cap * 4:
    r = c.cmd("EHLO forever.example", 5)
    if r is None or not r.startswith("250"):
        break
    time.sleep(0.2)
took = time.time() - t0
check("a busy session past --session-timeout %d s: 421 4.4.2 (after %.1f s)" % (cap, took),
      r or "none", r"^421 4\.4\.2 ")
check_eq("not before --session-timeout", took >= cap - 0.5, True)
check_eq("and the close", c.closed(3), True)

# a command one byte at a time
c = Client(port, timeout=30)
t0, r = time.time(), None
c.reply()
line = b"EHLO " + b"x" * 200
i = 0
while time.time() - t0 < cap * 4 and i < len(line):
    c.send(line[i:i + 1])
    i += 1
    r = c.reply(0.2)
    if r is not None or c.eof:
        break
check("one byte of a command at a time: 421 4.4.2 at --session-timeout", r or "none",
      r"^421 4\.4\.2 ")

# a message in DATA when the time is up may finish: 250, then 421
n0 = len(queue_files(queue))
c = Client(port, timeout=30)
t0 = time.time()
c.reply()
c.cmd("EHLO late.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
c.send("From: alice@example.org\r\nSubject: late\r\n\r\n")
r = None
while time.time() - t0 < cap + 1.5:
    c.send("line\r\n")
    r = c.reply(0.2)
    if r is not None or c.eof:
        break
check_eq("a message in DATA at --session-timeout: no reply yet", r, None)
c.send(".\r\n")
check("the message is still queued: 250", c.reply(5), r"^250 2\.0\.0 ")
check("then 421 4.4.2", c.reply(5), r"^421 4\.4\.2 ")
check_eq("and the close", c.closed(3), True)
check_eq("the message is in the queue", len(queue_files(queue)), n0 + 1)
check("the log says why (reason=session-timeout)", open(log).read(),
      r" disconnect client=\S+ reason=session-timeout ")
# each of the three sessions above ended by --session-timeout, whether the
# deadline came between two reads or as the end of a wait for the client
def timeouts():
    return len(re.findall(r" disconnect client=\S+ reason=session-timeout ",
                          open(log).read()))
deadline = time.time() + 5
while time.time() < deadline and timeouts() < 3:
    time.sleep(0.1)
check_eq("the log names session-timeout as the reason for all three",
         timeouts(), 3)
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- --max-per-ip: 50 by default for clients that may not relay -------------
MTA_DIR=$T/perip start_mta_hold --relay-from 127.0.0.3/32 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" <<'EOF'
import socket, sys, time
from smtpraw import Client, check, check_eq
port = sys.argv[1]

class From(Client):
    """a Client whose connection comes from a chosen loopback address"""
    def __init__(self, src, timeout=10.0):
        self.timeout, self.buf, self.eof = timeout, b"", False
        self.s = socket.socket()
        self.s.bind((src, 0))
        self.s.settimeout(timeout)
        self.s.connect(("127.0.0.1", int(port)))

hog = [From("127.0.0.2") for _ in range(55)]
codes = [(h.reply(5) or "none")[:3] for h in hog]
check_eq("55 connections from 127.0.0.2 (no relay): 50 greeted by default",
         codes.count("220"), 50)
check_eq("the other 5 get 421", codes.count("421"), 5)
friends = [From("127.0.0.3") for _ in range(60)]
codes = [(f.reply(5) or "none")[:3] for f in friends]
check_eq("60 connections from 127.0.0.3 (--relay-from): all greeted", codes.count("220"), 60)
for h in hog + friends:
    h.close()
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

done_testing
