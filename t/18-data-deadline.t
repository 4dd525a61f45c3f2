#!/bin/bash
# t/18-data-deadline.t - every message gets its own --data-timeout, counted
# from its own DATA (mta-smtpd(8)): message 1 trickled for most of its
# time, then its final dot, MAIL, RCPT and DATA of message 2 in one
# write; message 2 is still in time after message 1's deadline has
# passed, and is queued.  A message that is too slow is still cut off.
. "$(dirname "$0")/lib/common.sh"

plan 10

slow=${MTA_TEST_SLOW:-1}
data_timeout=$((4 * slow))
start_mta_hold --data-timeout "$data_timeout" --timeout 30 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$data_timeout" <<'EOF'
import sys, time
from smtpraw import Client, check, check_eq, queue_files
port, queue, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])

c = Client(port, timeout=30)
c.reply()
c.cmd("EHLO pipe.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
check("message 1: DATA 354", c.cmd("DATA"), r"^354 ")
t1 = time.time()
# trickle message 1 for 3/4 of its time, a line at a time
text = ["From: alice@example.org\r\n", "Subject: one\r\n", "\r\n"]
i = 0
while time.time() - t1 < limit * 0.75:
    c.send(text[i] if i < len(text) else "line %d\r\n" % i)
    i += 1
    time.sleep(limit / 16)
check_eq("message 1: no reply while it trickles", c.reply(0), None)
# its end, and message 2 up to DATA, in one write (PIPELINING)
c.send(".\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n")
replies = [c.reply(10) or "none" for _ in range(4)]
check("message 1: 250 queued", replies[0], r"^250 2\.0\.0 ")
check_eq("message 2: MAIL, RCPT 250, DATA 354", [r[:3] for r in replies[1:]],
         ["250", "250", "354"])
# wait until message 1's deadline is a quarter of the limit behind us:
# message 2's own deadline is still half of it ahead
while time.time() - t1 < limit * 1.25:
    r = c.reply(0.1)
    if r is not None or c.eof:
        break
else:
    r = None
check_eq("message 2: no 421 at message 1's deadline", r, None)
check("message 2: then sent in time, 250 queued",
      c.cmd("From: alice@example.org\r\nSubject: two\r\n\r\ntwo\r\n."), r"^250 2\.0\.0 ")
check_eq("both messages are in the queue", len(queue_files(queue)), 2)

# a message that is too slow is still cut off at its own deadline
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
t3, r = time.time(), None
while time.time() - t3 < limit * 3:
    c.send("x")
    r = c.reply(limit / 16)
    if r is not None or c.eof:
        break
check("message 3, trickled past --data-timeout: 421 4.4.2", r or "none", r"^421 4\.4\.2 ")
check_eq("and not queued", len(queue_files(queue)), 2)
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

done_testing
