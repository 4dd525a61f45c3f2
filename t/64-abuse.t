#!/bin/bash
# t/64-abuse.t - clients that try to wear the daemon down, against one
# daemon (-c 8, --max-per-ip 3, --max-errors 3, --data-timeout 3,
# --max-size 1000000; mta-smtpd(8) LIMITS):
#   one address (127.0.0.2) opening more idle sockets than -c gets its
#   --max-per-ip and 421 for the rest, while 127.0.0.3 is still served;
#   ten bad commands in one segment get three errors, then 421 and the
#   close; DATA trickled a byte a second is cut off by --data-timeout;
#   64 MiB without a newline (as a command, as a header line, as a body
#   line) get a legal error and do not grow the daemon's memory beyond a
#   bound tied to the line and buffer sizes, not to the 64 MiB;
#   a reset (SO_LINGER 0) or a half-close in the middle of DATA leaves
#   nothing in the queue, while a half-close after a complete pipelined
#   transaction still gets its 250; and 2,000 connect/QUIT cycles leave
#   the daemon's thread and descriptor counts where they started.
. "$(dirname "$0")/lib/common.sh"

plan 42

# --data-timeout: 3 s, longer in a slow (sanitizer) build, where taking
# in 64 MiB of DATA below takes longer than that
data_timeout=$((3 * ${MTA_TEST_SLOW:-1}))
start_mta_hold -c 8 --max-per-ip 3 --max-errors 3 --timeout 20 \
	--data-timeout "$data_timeout" --max-size 1000000 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- --max-per-ip, --max-errors, --data-timeout ---------------------------
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$data_timeout" <<'EOF'
import socket, sys, time
from smtpraw import Client, check, check_eq, queue_files, tmp_messages
port, queue, data_timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])

class From(Client):
    """a Client whose connection comes from a chosen loopback address"""
    def __init__(self, src, timeout=10.0):
        self.timeout, self.buf, self.eof = timeout, b"", False
        self.s = socket.socket()
        self.s.bind((src, 0))
        self.s.settimeout(timeout)
        self.s.connect(("127.0.0.1", int(port)))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def message(c, tag):
    c.cmd("EHLO %s.example" % tag)
    c.cmd("MAIL FROM:<alice@example.org>")
    c.cmd("RCPT TO:<bob@test.example>")
    c.cmd("DATA")
    return c.cmd("From: alice@example.org\r\nSubject: %s\r\n\r\nx\r\n." % tag)

# start_mta's probe may still hold a slot from 127.0.0.1 for a moment
time.sleep(0.5)
hog = [From("127.0.0.2") for _ in range(12)]
greets = [h.reply(5) or "none" for h in hog]
codes = [g[:3] for g in greets]
check_eq("12 idle sockets from 127.0.0.2: --max-per-ip 3 are greeted",
         codes.count("220"), 3)
check_eq("the other 9 get 421", codes.count("421"), 9)
check("the refusal is 421 4.7.0", [g for g in greets if g.startswith("421")][0], r"^421 4\.7\.0 ")
check_eq("and are closed", [h.closed(3) for h, c in zip(hog, codes) if c == "421"], [True] * 9)
other = From("127.0.0.3")
check("meanwhile 127.0.0.3 is greeted", other.reply(5), r"^220 ")
check("and its message is queued", message(other, "other"), r"^250 ")
other.cmd("QUIT")
held = [h for h, c in zip(hog, codes) if c == "220"]
check("a held socket from 127.0.0.2 still works (NOOP 250)", held[0].cmd("NOOP"), r"^250 ")
held[0].cmd("QUIT")
held[0].close()
deadline, g = time.time() + 5, None
while time.time() < deadline:          # its slot is free once its thread ended
    again = From("127.0.0.2")
    g = again.reply(5)
    if g and g.startswith("220"):
        break
    again.close()
    time.sleep(0.1)
check("once one of them quits, 127.0.0.2 gets a slot again", g, r"^220 ")
again.cmd("QUIT")
for h in held[1:]:
    h.close()

# ten bad commands in one segment: three answered, then 421
c = Client(port)
c.reply()
c.send(b"".join(b"BOGUS%d\r\n" % i for i in range(10)))
replies = [c.reply(5) or "none" for _ in range(4)]
check_eq("--max-errors 3: three errors for ten pipelined bad commands",
         [r[:1] for r in replies[:3]], ["5"] * 3)
check("then 421 4.7.0", replies[3], r"^421 4\.7\.0 ")
rest = c.rest(3)
check_eq("and the close, the other seven unanswered", (c.eof, rest), (True, ""))
d = Client(port)
d.reply()
check("the count is per session: a new one gets 250 for NOOP", d.cmd("NOOP"), r"^250 ")
d.cmd("QUIT")

# a byte a second in DATA: each byte resets the idle --timeout 20, but
# the message as a whole has --data-timeout (3 s)
c = Client(port)
c.reply()
c.cmd("EHLO trickle.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
start, r, sent = time.time(), None, 0
text = b"Subject: trickle\r\n\r\n" + b"z" * 100
while time.time() - start < 40 and sent < len(text):
    if not c.send(text[sent:sent + 1]):
        break
    sent += 1
    r = c.reply(1)
    if r is not None or c.eof:
        break
took = time.time() - start
check("a byte a second in DATA: cut off with 421 4.4.2 (after %d bytes, %.1f s)" % (sent, took),
      r or "none", r"^421 4\.4\.2 ")
check_eq("not before --data-timeout (%d s)" % data_timeout, took >= data_timeout - 0.5, True)
check_eq("and closed", c.closed(3), True)
check_eq("the trickled message is not queued", len(queue_files(queue)), 1)
check_eq("nothing left in tmp/", tmp_messages(queue), [])
EOF
)
tap_from "$res"

# ---- 64 MiB without a newline --------------------------------------------
res=$($PY - "$MTA_PORT" "$MTA_PID" "$MTA_QUEUE" <<'EOF'
import sys, time
from smtpraw import Client, check, check_eq, queue_files, tmp_messages
port, pid, queue = sys.argv[1], sys.argv[2], sys.argv[3]
MiB = 1 << 20
# The bound: the daemon reads into fixed buffers (a line of --max-line
# 1000 octets, 64 KB I/O buffers per connection and for the queue file)
# and discards what does not fit; growing by 64 MiB, or a good part of
# it, means it kept the line.  4 MiB leaves room for allocator noise.
BOUND_KB = 4096

def rss_kb():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1

def flood(c, n=64):
    """64 MiB without a newline; the highest RSS growth seen on the way"""
    peak, chunk = 0, b"A" * MiB
    for i in range(n):
        if not c.send(chunk):
            return peak, False
        if i % 8 == 7:
            peak = max(peak, rss_kb() - base)
    return peak, True

def start(tag):
    c = Client(port, timeout=30)
    c.reply()
    c.cmd("EHLO %s.example" % tag)
    return c

def to_data(c):
    c.cmd("MAIL FROM:<alice@example.org>")
    c.cmd("RCPT TO:<bob@test.example>")
    return c.cmd("DATA")

# warm up: one whole message, so that buffers of a normal session count
w = start("warm")
to_data(w)
w.cmd("From: alice@example.org\r\n\r\nwarm\r\n.")
w.cmd("QUIT")
n0 = len(queue_files(queue))

c = start("command")
base = rss_kb()
peak, sent = flood(c)
check_eq("64 MiB command line: all sent, no reply meanwhile", (sent, c.reply(0.5)), (True, None))
check("64 MiB command line: RSS grew %d kB (< %d)" % (peak, BOUND_KB), str(peak < BOUND_KB), "True")
check("64 MiB command line ended: one 500 5.5.2", c.cmd(""), r"^500 5\.5\.2 ")
check("and the session goes on: NOOP 250", c.cmd("NOOP"), r"^250 ")
c.cmd("QUIT")

c = start("header")
check("DATA 354", to_data(c), r"^354 ")
base = rss_kb()
c.send(b"From: alice@example.org\r\nSubject: ")
peak, sent = flood(c)
check("64 MiB header line: RSS grew %d kB (< %d)" % (peak, BOUND_KB), str(peak < BOUND_KB), "True")
check("64 MiB header line: 552 5.3.4 after the dot (over --max-size)", c.cmd("\r\n."), r"^552 5\.3\.4 ")
check("and the session goes on: NOOP 250", c.cmd("NOOP"), r"^250 ")
c.cmd("QUIT")

c = start("body")
to_data(c)
base = rss_kb()
c.send(b"From: alice@example.org\r\n\r\n")
peak, sent = flood(c)
check("64 MiB body line: RSS grew %d kB (< %d)" % (peak, BOUND_KB), str(peak < BOUND_KB), "True")
check("64 MiB body line: 552 5.3.4 after the dot", c.cmd("\r\n."), r"^552 5\.3\.4 ")
c.cmd("QUIT")
check_eq("nothing of them queued", len(queue_files(queue)), n0)
check_eq("nothing left in tmp/", tmp_messages(queue), [])
EOF
)
tap_from "$res"

# ---- RST and half-close in DATA ---------------------------------------------
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import socket, struct, sys, time
from smtpraw import Client, check, check_eq, queue_files, tmp_messages
port, queue = sys.argv[1], sys.argv[2]

def in_data(tag):
    c = Client(port)
    c.reply()
    c.cmd("EHLO %s.example" % tag)
    c.cmd("MAIL FROM:<alice@example.org>")
    c.cmd("RCPT TO:<bob@test.example>")
    c.cmd("DATA")
    c.send("From: alice@example.org\r\nSubject: %s\r\n\r\n" % tag + "half a message\r\n" * 500)
    return c

def settled(n0, limit=10):
    """tmp/ empty and the queue back at n0 messages (bounded wait)"""
    end = time.time() + limit
    while time.time() < end:
        if not tmp_messages(queue) and len(queue_files(queue)) == n0:
            return True
        time.sleep(0.1)
    return False

n0 = len(queue_files(queue))
c = in_data("reset")
time.sleep(0.3)
c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.s.close()                                  # RST
check_eq("RST in DATA: nothing queued, nothing left in tmp/", settled(n0), True)

c = in_data("halfclose")
c.s.shutdown(socket.SHUT_WR)                 # EOF without the final dot
rest = c.rest(10)
check_eq("half-close in DATA: the daemon closes too", c.eof, True)
check_eq("half-close in DATA: no 250 for the cut message", "250 " in rest, False)
check_eq("half-close in DATA: nothing queued, nothing left in tmp/", settled(n0), True)

# a whole transaction pipelined, then a half-close: that is no abort
c = Client(port)
c.reply()
c.send("EHLO pipe.example\r\nMAIL FROM:<alice@example.org>\r\n"
       "RCPT TO:<bob@test.example>\r\nDATA\r\n"
       "From: alice@example.org\r\nSubject: pipelined\r\n\r\nwhole\r\n.\r\nQUIT\r\n")
c.s.shutdown(socket.SHUT_WR)
rest = c.rest(10)
check("complete transaction, then half-close: still 250 and 221", rest,
      r"(?s)\r\n250 2\.0\.0 .*\r\n221 ")
check_eq("and that message is queued", settled(n0 + 1), True)

d = Client(port)
check("the daemon serves on: 220", d.reply(), r"^220 ")
d.cmd("QUIT")
EOF
)
tap_from "$res"

ok "$(mta_running; echo $?)" "the daemon is running"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- 2,000 connect/QUIT cycles ------------------------------------------------
# on a daemon of its own with the default -c: a closed connection holds
# its slot until its thread has ended, and -c 8 would refuse some cycles
MTA_DIR=$T/cycles start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
counts() {
	printf '%s %s\n' "$(sed -n 's/^Threads:[[:space:]]*//p' /proc/"$MTA_PID"/status)" \
		"$(ls /proc/"$MTA_PID"/fd | wc -l)"
}
# every connection above has ended: wait until their threads are gone (a
# thread whose client has gone waits 10 s for the next one, server.h;
# start_mta's own probe of the port left one)
stable() { local a; a=$(counts); sleep 0.5; [ "$a" = "$(counts)" ]; }
sleep 10.5
wait_for 10 stable
base=$(counts)
diag "before: threads fds = $base"
res=$($PY - "$MTA_PORT" <<'EOF'
import socket, sys
port = int(sys.argv[1])
good = greeted = 0
for i in range(2000):
    try:
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.settimeout(10)
        f = s.makefile("rb")
        if f.readline().startswith(b"220"):
            greeted += 1
            if i % 4 == 3:
                s.close()                 # some leave without QUIT
                continue
            s.sendall(b"QUIT\r\n")
            if f.readline().startswith(b"221"):
                good += 1
        f.close()
        s.close()
    except OSError:
        pass
print("%sok - 2000 connect/QUIT cycles: each greeted (%d), 1500 of them QUIT with 221 (%d)"
      % ("" if (greeted, good) == (2000, 1500) else "not ", greeted, good))
EOF
)
tap_from "$res"
wait_for 30 eval '[ "$(counts)" = "$base" ]'
is "$(counts)" "$base" "after 2000 cycles: threads and fds back at the baseline"
ok "$(mta_running; echo $?)" "cycles: the daemon is running"
is "$(stop_mta)" 0 "cycles: SIGTERM exit 0"

done_testing
