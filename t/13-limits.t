#!/bin/bash
# t/13-limits.t - every limit with its reply code, and the server staying
# useful afterwards: --max-size (552 after the data, nothing queued),
# --max-rcpt (452), command line length (500), --timeout (421 when idle,
# and a client that stops reading is dropped), -c (421 for the extra
# connection), --max-errors (421), random garbage, over-long lines and
# megabytes without a newline.
. "$(dirname "$0")/lib/common.sh"

plan 59

# ---- --max-size and --max-rcpt -------------------------------------------
MTA_DIR=$T/size start_mta_hold --max-size 2000 --max-rcpt 3 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import sys
from smtpraw import Client, check, check_eq, read_queued, queue_files, tmp_messages
port, queue = sys.argv[1], sys.argv[2]
c = Client(port)
c.reply()
check("EHLO advertises SIZE 2000", c.cmd("EHLO limits.example"), r"(?m)^250[- ]SIZE 2000\r$")
check("MAIL SIZE=5000 over --max-size: 552 5.3.4 at once",
      c.cmd("MAIL FROM:<alice@example.org> SIZE=5000"), r"^552 5\.3\.4 ")
check("MAIL SIZE=1000: 250", c.cmd("MAIL FROM:<alice@example.org> SIZE=1000"), r"^250 ")
c.cmd("RCPT TO:<bob@test.example>")
check("DATA: 354", c.cmd("DATA"), r"^354 ")
big = b"From: alice@example.org\r\nSubject: big\r\n\r\n" + (b"x" * 98 + b"\r\n") * 40
c.send(big)
check_eq("3 KB message: no reply before the end of DATA", c.reply(0.3), None)
check("3 KB message over --max-size 2000: 552 5.3.4 after the end of DATA",
      c.cmd("."), r"^552 5\.3\.4 ")
check_eq("nothing queued (new/, mess/)", queue_files(queue), [])
check_eq("nothing left in tmp/", tmp_messages(queue), [])
check("the connection is still usable: NOOP 250", c.cmd("NOOP"), r"^250 ")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
check("a small message afterwards: 250",
      c.cmd("From: alice@example.org\r\n\r\n" + "y" * 1000 + "\r\n."), r"^250 2\.0\.0 ")
# --max-rcpt 3
c.cmd("MAIL FROM:<alice@example.org>")
replies = [c.cmd("RCPT TO:<r%d@test.example>" % i) or "none" for i in range(1, 6)]
check_eq("--max-rcpt 3: RCPT 4 and 5 refused 452", [r[:3] for r in replies],
         ["250", "250", "250", "452", "452"])
check("--max-rcpt: 452 4.5.3", replies[3], r"^452 4\.5\.3 ")
c.cmd("DATA")
r = c.cmd("From: alice@example.org\r\n\r\nthree\r\n.")
check("--max-rcpt 3: the message goes to the first three: 250", r, r"^250 ")
env, _ = read_queued(queue, r.split()[-1] if r and r.startswith("250") else None)
check_eq("--max-rcpt 3: envelope holds r1..r3",
         [v for k, v in env if k == "rcpt"], ["r1@test.example", "r2@test.example", "r3@test.example"])
c.cmd("QUIT")
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "size/rcpt daemon: SIGTERM exit 0"

# ---- --timeout 1 -----------------------------------------------------------
MTA_DIR=$T/timeout start_mta_hold --timeout 1 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$MTA_LOG" <<'EOF'
import socket, sys, time
from smtpraw import Client, check, check_eq, queue_files, tmp_messages
port, queue, log = sys.argv[1], sys.argv[2], sys.argv[3]

# idle after the greeting
c = Client(port)
c.reply()
t0 = time.time()
r = c.reply(5)
dt = time.time() - t0
check("idle client: 421 4.4.2", r, r"^421 4\.4\.2 ")
check("idle client: after about 1 s (0.8..3 s): %.2f s" % dt, str(0.8 <= dt <= 3), "True")
check_eq("idle client: then closed", c.closed(2), True)

# busy is not idle: a NOOP every 0.6 s for 1.8 s keeps the session
c = Client(port)
c.reply()
codes = []
for _ in range(3):
    time.sleep(0.6)
    codes.append((c.cmd("NOOP") or "none")[:3])
check_eq("a NOOP every 0.6 s with --timeout 1: never timed out", codes, ["250"] * 3)
c.cmd("QUIT")

# idle in the middle of DATA: 421, the partial message dropped
c = Client(port)
c.reply()
c.cmd("EHLO slow.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
c.send("Subject: half\r\n\r\nhalf a mess")
check("idle in DATA: 421", c.reply(5), r"^421 4\.4\.2 ")
check_eq("idle in DATA: closed", c.closed(2), True)
time.sleep(0.2)
check_eq("idle in DATA: nothing queued", queue_files(queue), [])
check_eq("idle in DATA: nothing left in tmp/", tmp_messages(queue), [])

# a client that sends and never reads: once its replies cannot be written
# for --timeout, it must be dropped (not hold a thread forever)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(port)))
s.setblocking(False)
chunk = b"EHLO a-client-that-never-reads-its-replies.example\r\n" * 200
last, start, gone = time.time(), time.time(), False
while time.time() - last < 0.5 and time.time() - start < 8:
    try:
        if s.send(chunk) > 0:
            last = time.time()
    except BlockingIOError:
        time.sleep(0.02)
    except OSError:
        gone = True
        break
found = False
deadline = time.time() + 5
while time.time() < deadline and not found:
    found = "reason=write-timeout" in open(log).read()
    time.sleep(0.1)
check("client that never reads: dropped after --timeout (log reason=write-timeout)",
      str(found), "True")
# the drop itself: the socket is seen closed (a reset, or the end of the
# stream once the replies the server did write are read), within 10 s
if not gone:
    s.setblocking(True)
    s.settimeout(1)
    deadline = time.time() + 10
    while time.time() < deadline and not gone:
        try:
            gone = s.recv(65536) == b""
        except socket.timeout:
            pass
        except OSError:
            gone = True
check_eq("client that never reads: its connection is closed", gone, True)
s.close()
c = Client(port)
check("and the server still greets a new client", c.reply(), r"^220 ")
c.cmd("QUIT")
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "timeout daemon: SIGTERM exit 0"

# ---- -c 2: connection limit ------------------------------------------------
MTA_DIR=$T/clients start_mta_hold -c 2 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" <<'EOF'
import sys, time
from smtpraw import Client, check, check_eq
port = sys.argv[1]

def greeted():
    """a connection that got its 220: start_mta's probe, or one that just
    quit, holds its slot until its thread has ended, so retry (bounded)"""
    greet, deadline = None, time.time() + 3
    while time.time() < deadline:
        c = Client(port)
        greet = c.reply(2)
        if greet and greet.startswith("220"):
            return c, greet
        c.close()
        time.sleep(0.05)
    return None, greet

c1, g = greeted()
check("-c 2: first connection greeted 220", g, r"^220 ")
c2, g = greeted()
check("-c 2: second connection greeted 220", g, r"^220 ")
c3 = Client(port)
check("-c 2: third connection gets 421", c3.reply(3), r"^421 4\.7\.0 ")
check_eq("-c 2: third connection closed", c3.closed(2), True)
c1.cmd("EHLO one.example")
c1.cmd("MAIL FROM:<alice@example.org>")
c1.cmd("RCPT TO:<bob@test.example>")
c1.cmd("DATA")
check("-c 2: the first connection still works (message 250)",
      c1.cmd("From: alice@example.org\r\n\r\nx\r\n."), r"^250 ")
check("-c 2: the second still works (NOOP 250)", c2.cmd("NOOP"), r"^250 ")
c1.cmd("QUIT")
c1.close()
c4, g = greeted()
check("-c 2: after one quits, a new connection is greeted 220", g, r"^220 ")
EOF
)
tap_from "$res"
like "$(cat "$MTA_LOG")" 'refuse-connection client=127\.0\.0\.1:[0-9]+ reason=limit' "-c 2: the refusal is logged"
is "$(stop_mta)" 0 "-c daemon: SIGTERM exit 0"

# ---- --max-errors 3 ---------------------------------------------------------
MTA_DIR=$T/errors start_mta_hold --max-errors 3 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" <<'EOF'
import sys
from smtpraw import Client, check, check_eq
c = Client(sys.argv[1])
c.reply()
c.cmd("EHLO errors.example")
check("bad command 1: 500", c.cmd("FOO"), r"^500 ")
check("good commands do not count: NOOP 250", c.cmd("NOOP"), r"^250 ")
check("bad command 2 (RCPT before MAIL): 503", c.cmd("RCPT TO:<bob@test.example>"), r"^503 ")
check("bad command 3 (syntax): 501", c.cmd("MAIL FROM:nobrackets"), r"^501 ")
check("--max-errors 3: then 421", c.reply(2), r"^421 4\.7\.0 ")
check_eq("--max-errors 3: and closed", c.closed(2), True)
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "max-errors daemon: SIGTERM exit 0"

# ---- line length, garbage, megabytes without a newline -----------------------
MTA_DIR=$T/lines start_mta_hold --max-errors 0 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" "$MTA_PID" <<'EOF'
import random, re, sys
from smtpraw import Client, check, check_eq
port, pid = sys.argv[1], sys.argv[2]

def rss_kb():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1

def transaction(tag):
    """a whole message from a second client; its last reply"""
    o = Client(port)
    o.reply()
    o.cmd("EHLO other.example")
    o.cmd("MAIL FROM:<alice@example.org>")
    o.cmd("RCPT TO:<bob@test.example>")
    o.cmd("DATA")
    r = o.cmd("From: alice@example.org\r\nSubject: %s\r\n\r\nx\r\n." % tag)
    o.cmd("QUIT")
    return r

c = Client(port)
c.reply()
check("a 1000-octet command line (CRLF included): 250",
      c.cmd("NOOP " + "x" * 993), r"^250 ")
check("a 1001-octet command line: 500 5.5.2", c.cmd("NOOP " + "x" * 994), r"^500 5\.5\.2 ")
check("the session goes on: NOOP 250", c.cmd("NOOP"), r"^250 ")
check("a 100 KB line: one 500", c.cmd("HELO " + "h" * 100000), r"^500 5\.5\.2 ")
check("the session goes on after it: EHLO 250", c.cmd("EHLO lines.example"), r"^250")

# 64 KB of random bytes: one error reply per line, then business as usual
garbage = random.Random(1234).randbytes(65536) + b"\r\n"
lines = garbage.count(b"\n")
c.send(garbage[:32768])
check("while one client sends garbage, another gets its message queued",
      transaction("during garbage"), r"^250 2\.0\.0 ")
c.send(garbage[32768:])
c.send(b"NOOP\r\n")
replies = []
while True:
    r = c.reply(5)
    if r is None or r.startswith("250 "):
        break
    replies.append(r)
check_eq("garbage: one reply per line (%d lines)" % lines, len(replies), lines)
check_eq("garbage: every reply an error (4xx/5xx)",
         [r for r in replies if not re.match(r"^[45]\d\d ", r)], [])
check("garbage: then NOOP answered 250", r, r"^250 ")

# megabytes without a newline: discarded as they come, one 500 at the end
before = rss_kb()
for _ in range(8):
    c.send(b"A" * (1 << 20))
check_eq("8 MB without a newline: no reply yet", c.reply(0.5), None)
grew = rss_kb() - before
check("8 MB without a newline: the daemon did not keep it (RSS +%d kB < 2048)" % grew,
      str(grew < 2048), "True")
check("meanwhile another client is served", transaction("during 8MB"), r"^250 2\.0\.0 ")
c.send(b"\r\n")
check("8 MB line ended: one 500 5.5.2", c.reply(3), r"^500 5\.5\.2 ")
check("and the session goes on: NOOP 250", c.cmd("NOOP"), r"^250 ")
check("QUIT 221", c.cmd("QUIT"), r"^221 ")
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "lines daemon: SIGTERM exit 0"

done_testing
