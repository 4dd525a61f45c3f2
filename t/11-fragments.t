#!/bin/bash
# t/11-fragments.t - TCP fragmentation must not matter: the same session
# sent in one piece per command, one byte at a time, pipelined (RFC 2920)
# in one segment, and with the end-of-data marker split at every possible
# point, must give the same replies and the same queue file.
. "$(dirname "$0")/lib/common.sh"

plan 30

start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }

res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import re, sys, time
from smtpraw import Client, check, check_eq, read_queued, queued_bytes, diff_bytes, seal_checked
port, queue = sys.argv[1], sys.argv[2]

CMDS = [b"EHLO frag.example", b"MAIL FROM:<alice@example.org>",
        b"RCPT TO:<bob@test.example>", b"RCPT TO:<carol@test.example>", b"DATA"]
# What the client means (LF), and the same stuffed, with CRLF, on the wire.
# No Date:/Message-ID:: the daemon adds them, fragmentation must not matter
# to that either.
MESSAGE = (b"From: Alice <alice@example.org>\n"
           b"To: bob@test.example, carol@test.example\n"
           b"Subject: fragments\n"
           b"X-Folded: one\n two\n"
           b"\n"
           b"body line 1\n"
           b".leading dot\n"
           b"..two leading dots\n"
           b".\n"
           b"\n"
           b"last line\n")
WIRE = re.sub(rb"(?m)^\.", b"..", MESSAGE).replace(b"\n", b"\r\n") + b".\r\n"
WANT_CODES = [220, 250, 250, 250, 250, 354, 250, 221]
DATE = rb"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"

def codes(text):
    """the codes of the last line of every reply in text"""
    return [int(l[:3]) for l in text.split("\r\n") if len(l) >= 4 and l[3] == " "]

def qid_of(text):
    m = re.search(r"250 2\.0\.0 .*queued as ([A-Za-z0-9]+)", text)
    return m.group(1) if m else None

def normal(qid):
    """the queue file with its ID, arrival time and dates made neutral,
    its seal line "seal OK" when it matches the file (seal_checked)"""
    data = queued_bytes(queue, qid)
    if not data or not qid:
        return b"(no queue file)"
    data = seal_checked(data)
    data = data.replace(qid.encode(), b"ID")
    data = re.sub(rb"(?m)^arrival \d+$", b"arrival T", data)
    return re.sub(DATE, b"DATE", data)

def lockstep(send_piece):
    """the session, command by command, each sent through send_piece"""
    c = Client(port, timeout=10)
    out = c.reply() or ""
    for cmd in CMDS:
        send_piece(c, cmd + b"\r\n")
        out += c.reply() or ""
    send_piece(c, WIRE)
    out += c.reply() or ""
    send_piece(c, b"QUIT\r\n")
    out += c.rest(5)
    c.close()
    return out

# 1. reference: one send() per command, the data in one piece
ref_out = lockstep(lambda c, b: c.send(b))
check_eq("unfragmented: replies in order", codes(ref_out), WANT_CODES)
ref_id = qid_of(ref_out)
ref = normal(ref_id)
check_eq("unfragmented: the queue file's seal matches it (size, CRC-32C)",
         ref.split(b"\n")[1], b"seal OK")
env, msg = read_queued(queue, ref_id)
hdr, _, body = MESSAGE.partition(b"\n\n")
want_msg = re.sub(DATE, b"DATE", msg)
check_eq("unfragmented: the message as sent, Date/Message-ID added at the end of the header",
         diff_bytes(re.sub(rb"^Received: .*?\n(?=[^\t])", b"", want_msg, flags=re.S),
                    hdr + b"\nDate: DATE\nMessage-ID: <" + (ref_id or "").encode() +
                    b"@mx.test.example>\n\n" + body), "")

# 2. one byte per segment (TCP_NODELAY, a pause between bytes)
def bytewise(c, data):
    for i in range(len(data)):
        if not c.send(data[i:i + 1]):
            return
        time.sleep(0.0005)
t0 = time.time()
out = lockstep(bytewise)
check_eq("one byte at a time: replies in order", codes(out), WANT_CODES)
check_eq("one byte at a time: same queue file", diff_bytes(normal(qid_of(out)), ref), "")
check("one byte at a time: bounded (under 20 s)", str(time.time() - t0 < 20), "True")

# 3. RFC 2920: EHLO, see PIPELINING, then MAIL RCPT RCPT DATA in one segment
c = Client(port)
out = c.reply() or ""
ehlo = c.cmd("EHLO frag.example") or ""
check("EHLO advertises PIPELINING", ehlo, r"(?m)^250[- ]PIPELINING\r$")
out += ehlo
c.send(b"".join(x + b"\r\n" for x in CMDS[1:]))
for _ in CMDS[1:]:
    out += c.reply() or ""
c.send(WIRE + b"QUIT\r\n")
out += c.rest(5)
check_eq("pipelined group: replies in order", codes(out), WANT_CODES)
check_eq("pipelined group: same queue file", diff_bytes(normal(qid_of(out)), ref), "")

# 4. the whole session, QUIT included, in one segment
c = Client(port)
c.send(b"".join(x + b"\r\n" for x in CMDS) + WIRE + b"QUIT\r\n")
out = c.rest(5)
check_eq("whole session in one segment: replies in order", codes(out), WANT_CODES)
check_eq("whole session in one segment: same queue file", diff_bytes(normal(qid_of(out)), ref), "")
check("whole session in one segment: server closed after QUIT", str(c.eof), "True")

# 5. the end marker CRLF "." CRLF cut at each of its 4 inner points, and
#    the data cut right after DATA's CRLF
end = WIRE.rindex(b"\r\n.\r\n")
for cut in range(1, 5):
    c = Client(port)
    c.send(b"".join(x + b"\r\n" for x in CMDS))
    out = c.reply() or ""
    for _ in CMDS:
        out += c.reply() or ""
    c.send(WIRE[:end + cut])
    early = c.reply(0.3)
    check_eq("end marker cut after %d octet(s): no reply before the rest" % cut, early, None)
    c.send(WIRE[end + cut:] + b"QUIT\r\n")
    out += c.rest(5)
    check_eq("end marker cut after %d: replies in order" % cut, codes(out), WANT_CODES)
    check_eq("end marker cut after %d: same queue file" % cut,
             diff_bytes(normal(qid_of(out)), ref), "")

# 6. every command line cut in the middle of its CRLF, in one go
c = Client(port)
out = c.reply() or ""
for cmd in CMDS:
    c.send(cmd + b"\r")
    time.sleep(0.02)
    c.send(b"\n")
    out += c.reply() or ""
c.send(WIRE)
out += c.reply() or ""
c.send(b"QUIT\r\n")
out += c.rest(5)
check_eq("CR and LF of every command in separate segments: replies in order",
         codes(out), WANT_CODES)
check_eq("CR and LF in separate segments: same queue file", diff_bytes(normal(qid_of(out)), ref), "")
EOF
)
tap_from "$res"

is "$(count_queued)" 9 "nine messages queued (new/ and mess/), one per session"
is "$(count_tmp_messages)" 0 "nothing left in queue/tmp"
is "$(grep -c ' disconnect .*reason=done' "$MTA_LOG")" 9 "every session ended by QUIT (log)"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
