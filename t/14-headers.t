#!/bin/bash
# t/14-headers.t - header completion on receipt, checked byte for byte in
# the queue file: Received: first (HELO name, client IP, ID, "for <rcpt>"
# only for one recipient, SMTP/ESMTP, the date folded when long); Date:,
# From: and Message-ID: added at the end of the header when missing and
# only then; headers without body, bodies without header; the local time
# zone in dates; and the Received: hop count (--max-received: 554 5.4.6).
. "$(dirname "$0")/lib/common.sh"

plan 36

start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# send.py: one message over a raw connection, then its queue file checked
# against the Received: field and message we expect (the date and ID come
# from the queue file's envelope; nothing else may differ)
cat >"$T/send.py" <<'EOF'
import sys, time
from smtpraw import (Client, check, check_eq, read_queued, queued_bytes,
                     received_field, rfc5322_date, diff_bytes)
port, queue = sys.argv[1], sys.argv[2]

def send(data, rcpts=("bob@test.example",), sender="alice@example.org",
         helo="hdr.example", ehlo=True):
    """one transaction; (final reply, queue id or None)"""
    c = Client(port)
    c.reply()
    c.cmd(("EHLO " if ehlo else "HELO ") + helo)
    c.cmd("MAIL FROM:<%s>" % sender)
    for r in rcpts:
        c.cmd("RCPT TO:<%s>" % r)
    c.cmd("DATA")
    c.send(data)
    r = c.cmd(".")
    c.cmd("QUIT")
    c.close()
    qid = r.split()[-1] if r and r.startswith("250 ") else None
    return r, qid

def expect(name, data, want, rcpts=("bob@test.example",), sender="alice@example.org",
           helo="hdr.example", ehlo=True):
    """send data; the queue file must be our Received: + want, where want
    may use {DATE} and {ID}"""
    r, qid = send(data, rcpts, sender, helo, ehlo)
    env, msg = read_queued(queue, qid)
    if not check(name + ": accepted", r, r"^250 2\.0\.0 "):
        check_eq(name + ": queue file", None, "a queue file")
        return None
    arrival = int(dict(env).get("arrival", 0))
    w = want.replace(b"{DATE}", rfc5322_date(arrival).encode()).replace(b"{ID}", qid.encode())
    w = received_field(helo, "127.0.0.1", "mx.test.example", ehlo, qid, list(rcpts), arrival) + w
    check_eq(name + ": message byte-exact", diff_bytes(msg, w), "")
    return msg
EOF

res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$T/send.py" <<'EOF'
import sys
exec(open(sys.argv[3]).read())

expect("nothing to add", b"Date: Mon, 02 Jan 2023 10:00:00 +0000\r\nFROM: Al <alice@example.org>\r\n"
       b"message-id: <x@example.org>\r\nSubject: full\r\n\r\nbody\r\n",
       b"Date: Mon, 02 Jan 2023 10:00:00 +0000\nFROM: Al <alice@example.org>\n"
       b"message-id: <x@example.org>\nSubject: full\n\nbody\n")
expect("all three missing: Date, From, Message-ID appended in that order",
       b"Subject: bare\r\nTo: bob@test.example\r\n\r\nbody\r\n",
       b"Subject: bare\nTo: bob@test.example\nDate: {DATE}\nFrom: alice@example.org\n"
       b"Message-ID: <{ID}@mx.test.example>\n\nbody\n")
expect("only Date missing", b"From: a@example.org\r\nMessage-ID: <y@example.org>\r\n\r\nb\r\n",
       b"From: a@example.org\nMessage-ID: <y@example.org>\nDate: {DATE}\n\nb\n")
expect("From missing, a folded field before the end of the header",
       b"Date: Mon, 02 Jan 2023 10:00:00 +0000\r\nMessage-ID: <z@example.org>\r\n"
       b"X-Long: one\r\n two\r\n\r\nb\r\n",
       b"Date: Mon, 02 Jan 2023 10:00:00 +0000\nMessage-ID: <z@example.org>\n"
       b"X-Long: one\n two\nFrom: alice@example.org\n\nb\n")
expect("two recipients: no 'for' in Received", b"Subject: two\r\n\r\nb\r\n",
       b"Subject: two\nDate: {DATE}\nFrom: alice@example.org\nMessage-ID: <{ID}@mx.test.example>\n\nb\n",
       rcpts=("bob@test.example", "carol@test.example"))
expect("HELO instead of EHLO: 'with SMTP'", b"Subject: helo\r\n\r\nb\r\n",
       b"Subject: helo\nDate: {DATE}\nFrom: alice@example.org\nMessage-ID: <{ID}@mx.test.example>\n\nb\n",
       helo="old-client.example", ehlo=False)
long_rcpt = "a-rather-long-local-part-for-the-fold-test-" + "x" * 20 + "@test.example"
expect("a long recipient: the date folded onto its own line", b"Subject: fold\r\n\r\nb\r\n",
       b"Subject: fold\nDate: {DATE}\nFrom: alice@example.org\nMessage-ID: <{ID}@mx.test.example>\n\nb\n",
       rcpts=(long_rcpt,))
expect("a body without header: fields, an empty line, then the body",
       b"Hello there, no header here\r\nsecond line\r\n",
       b"Date: {DATE}\nFrom: alice@example.org\nMessage-ID: <{ID}@mx.test.example>\n\n"
       b"Hello there, no header here\nsecond line\n")
expect("an mbox 'From ' line is not a field: it starts the body",
       b"From alice Mon Jan  2 10:00:00 2023\r\nSubject: not a header now\r\n",
       b"Date: {DATE}\nFrom: alice@example.org\nMessage-ID: <{ID}@mx.test.example>\n\n"
       b"From alice Mon Jan  2 10:00:00 2023\nSubject: not a header now\n")
expect("a header without body: fields appended, no empty line",
       b"Subject: only a header\r\n",
       b"Subject: only a header\nDate: {DATE}\nFrom: alice@example.org\n"
       b"Message-ID: <{ID}@mx.test.example>\n")
expect("an empty message", b"",
       b"Date: {DATE}\nFrom: alice@example.org\nMessage-ID: <{ID}@mx.test.example>\n")
m = expect("Received: present from an earlier hop: ours still first",
           b"Received: from far.example by near.example; Mon, 02 Jan 2023 09:00:00 +0000\r\n"
           b"From: a@example.org\r\n\r\nb\r\n",
           b"Received: from far.example by near.example; Mon, 02 Jan 2023 09:00:00 +0000\n"
           b"From: a@example.org\nDate: {DATE}\nMessage-ID: <{ID}@mx.test.example>\n\nb\n")
EOF
)
tap_from "$res"

# ---- the local time zone: numeric, with sign and minutes ----------------
port1=$MTA_PORT queue1=$MTA_QUEUE
export TZ='<-0330>3:30'
MTA_DIR=$T/tz start_mta_hold || echo "# daemon with TZ did not start"
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$T/send.py" <<'EOF'
import sys
exec(open(sys.argv[3]).read())
m = expect("TZ=-03:30: dates in local time with zone -0330", b"Subject: tz\r\n\r\nb\r\n",
           b"Subject: tz\nDate: {DATE}\nFrom: alice@example.org\nMessage-ID: <{ID}@mx.test.example>\n\nb\n")
check("TZ=-03:30: the zone as written", (m or b"").decode(), r"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d -0330\n")
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "TZ daemon: SIGTERM exit 0"
unset TZ
MTA_PORT=$port1 MTA_QUEUE=$queue1

# ---- hop count: --max-received ------------------------------------------
hops() { # N - a message with N Received: fields (one folded, one lower case)
	local i
	printf 'received: from h0.example\r\n\tby h1.example; Mon, 02 Jan 2023 09:00:00 +0000\r\n'
	for i in $(seq 2 "$1"); do
		printf 'Received: from h%d.example by h%d.example; Mon, 02 Jan 2023 09:00:00 +0000\r\n' "$i" "$i"
	done
	printf 'From: a@example.org\r\nSubject: hops\r\n\r\nbody\r\n'
}
hop_reply() { # PORT N - the final reply for a message with N Received: fields
	hops "$2" >"$T/hops.$2"
	$PY - "$1" "$T/hops.$2" <<'EOF'
import sys
from smtpraw import Client
c = Client(sys.argv[1])
c.reply()
c.cmd("EHLO loop.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
c.send(open(sys.argv[2], "rb").read())
print((c.cmd(".") or "none").strip())
print((c.cmd("NOOP") or "none").strip())
EOF
}
out=$(hop_reply "$MTA_PORT" 100)
like "$out" '^250 2\.0\.0 ' "default limit (100): 100 Received: fields accepted"
out=$(hop_reply "$MTA_PORT" 101)
like "$out" '^554 5\.4\.6 ' "default limit (100): 101 Received: fields refused 554 5.4.6"
like "$out" $'\n250 ' "after the 554 the session goes on (NOOP 250)"
MTA_DIR=$T/hops start_mta_hold --max-received 5 || echo "# daemon with --max-received did not start"
out=$(hop_reply "$MTA_PORT" 5)
like "$out" '^250 2\.0\.0 ' "--max-received 5: 5 Received: fields accepted"
out=$(hop_reply "$MTA_PORT" 6)
like "$out" '^554 5\.4\.6 ' "--max-received 5: 6 Received: fields refused 554 5.4.6 (mail loop)"
is "$(count_queued)" 1 "--max-received 5: only the accepted message is queued"
is "$(count_tmp_messages)" 0 "--max-received 5: nothing left in tmp/"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
