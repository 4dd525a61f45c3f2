#!/bin/bash
# t/20-deliver-maildir.t - local delivery into Maildirs through the whole
# daemon: a message from swaks arrives in MAILROOT/alice/new byte for byte
# with Return-Path: and Delivered-To: prepended, and the queue empties
# (new/, mess/, rcpt/, tmp/); several recipients of one message each get
# it once (a repeated RCPT too); an upper-case local part goes to the
# lower-case mailbox; the null sender and a bare <postmaster>, delivered
# to root's mailbox.
. "$(dirname "$0")/lib/common.sh"

plan 36

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- swaks: one message, one recipient, the mailbox file byte for byte --
# Date, From and Message-ID are there, so nothing is appended: the file
# must be Return-Path, Delivered-To, our Received: and the message as sent.
# No newline at the end: swaks then sends "last line" CRLF "." CRLF.
printf '%s\n' \
	'Date: Mon, 02 Jan 2023 10:00:00 +0000' \
	'From: Sender <sender@example.org>' \
	'To: alice@test.example' \
	'Subject: t20 byte-exact' \
	'Message-ID: <t20-swaks@example.org>' \
	'' \
	'first line' \
	'From the middle of nowhere (no quoting in a Maildir)' \
	'  indented, trailing spaces   ' \
	"tab	inside" \
	'.leading dot' \
	'.' \
	'' \
	"8bit: caf$(printf '\303\251')" \
	'last line' | head -c -1 >"$T/m1.eml"
# less one second: the daemon's time(2) is the kernel's coarse clock, up
# to a tick behind the fine one date(1) reads
t0=$(($(date +%s) - 1))
out=$(swaks --server "127.0.0.1:$MTA_PORT" --helo client.example \
	--from sender@example.org --to alice@test.example --data "@$T/m1.eml" \
	--timeout 10 2>&1)
t1=$(date +%s)
like "$out" '<-  250 2\.0\.0 .*queued as [A-Za-z0-9]+' "swaks: 250 queued as ID"
id=$(printf '%s\n' "$out" | sed -n 's/^<-  250 .*queued as \([A-Za-z0-9]*\).*/\1/p')
box=$MTA_MAIL/alice
wait_for 15 eval '[ "$(maildir_count "$box")" = 1 ] && queue_empty'
is "$(maildir_count "$box")" 1 "alice: one message in the Maildir"
is "$(count_files "$box/new")" 1 "alice: it is in new/ (not cur/)"
is "$(count_files "$box/tmp")" 0 "alice: nothing left in tmp/"
ok "$([ -d "$box/cur" ]; echo $?)" "alice: cur/ exists (a complete Maildir)"
like "$(ls "$box/new")" '^[0-9]+\.M[0-9]{6}P[0-9]+Q[0-9]+\.mx\.test\.example$' \
	"alice: file name SECONDS.M<usec>P<pid>Q<seq>.HOST"
res=$($PY - "$box" "$id" "$t0" "$t1" "$T/m1.eml" <<'EOF'
import sys
from smtpraw import received_field, diff_bytes
from mailcheck import maildir_messages
box, qid, t0, t1, eml = sys.argv[1:]
msgs = maildir_messages(box)
got = msgs[0][1] if msgs else b""
sent = open(eml, "rb").read() + b"\n"
best = None
for arrival in range(int(t0), int(t1) + 1):
    want = (b"Return-Path: <sender@example.org>\n"
            b"Delivered-To: alice@test.example\n" +
            received_field("client.example", "127.0.0.1", "mx.test.example",
                           True, qid, ["alice@test.example"], arrival) + sent)
    d = diff_bytes(got, want)
    if d == "":
        best = ""
        break
    best = best or d
print(best)
EOF
)
is "$res" "" "alice: Return-Path, Delivered-To, Received, then the message byte-exact"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue empty after the delivery"
is "$(log_count " d[0-9]+ delivered id=$id rcpt=<alice@test\.example> via=local ")" 1 \
	"log: delivered once, via=local"
wait_log 10 " sched message-done id=$id\$"   # written just after the unlink
is "$(log_count " sched message-done id=$id\$")" 1 "log: message-done for the message"

# ---- several recipients of one message (one of them twice) -------------
res=$($PY - "$MTA_PORT" "$MTA_MAIL" "$MTA_QUEUE" <<'EOF'
import smtplib, sys
from smtpraw import check, check_eq
from mailcheck import make_message, crlf, maildir_messages, split_trace
import time, os
port, root, queue = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rcpts = ["bob@test.example", "carol@test.example", "dave@test.example",
         "bob@test.example"]
msg = make_message("t20multi", 6000, to="bob@test.example")
s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
refused = s.sendmail("multi@example.org", rcpts, crlf(msg))
s.quit()
check_eq("multi: all recipients accepted", refused, {})
names = ["bob", "carol", "dave"]
end = time.time() + 15
while time.time() < end and not all(
        len(maildir_messages(os.path.join(root, n))) >= 1 for n in names):
    time.sleep(0.05)
# a duplicate would come from a job still in the queue: wait for none left
while time.time() < end and any(os.listdir(os.path.join(queue, d))
                                for d in ("new", "mess", "rcpt")):
    time.sleep(0.05)
for n in names:
    got = maildir_messages(os.path.join(root, n))
    check_eq("multi: %s got it exactly once" % n, len(got), 1)
    parts = split_trace(got[0][1]) if got else None
    check_eq("multi: %s: Return-Path, Delivered-To" % n,
             parts[:2] if parts else None,
             ("<multi@example.org>", "%s@test.example" % n))
    check("multi: %s: Received without a for clause (3 recipients)" % n,
          parts[2] if parts else "", r"^Received: from py\.example \(\[127\.0\.0\.1\]\)\n"
          r"\tby mx\.test\.example \(mta\) with ESMTP id [A-Za-z0-9]+;(?: |\n\t)[^\n]+\n$")
    check_eq("multi: %s: the message byte-exact" % n,
             parts[3] == msg if parts else False, True)
EOF
)
tap_from "$res"
wait_for 10 queue_empty
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "multi: queue empty afterwards"

# ---- an upper-case local part: the lower-case mailbox -------------------
out=$(swaks --server "127.0.0.1:$MTA_PORT" --helo client.example \
	--from sender@example.org --to ALICE@Test.Example \
	--header 'Subject: t20 upper' --timeout 10 2>&1)
like "$out" '<-  250 2\.0\.0 ' "upper: 250"
wait_for 15 eval '[ "$(maildir_count "$box")" = 2 ] && queue_empty'
is "$(maildir_count "$box")" 2 "upper: ALICE@ went into alice/ (now 2 messages)"
ok "$([ ! -e "$MTA_MAIL/ALICE" ] && [ ! -e "$MTA_MAIL/Alice" ]; echo $?)" \
	"upper: no upper-case mailbox made"
res=$($PY - "$box" <<'EOF'
import sys
from mailcheck import maildir_messages, split_trace
for _, m in maildir_messages(sys.argv[1]):
    p = split_trace(m)
    if p and b"Subject: t20 upper" in p[3]:
        print(p[1])
EOF
)
like "$res" '^ALICE@[Tt]est\.[Ee]xample$' "upper: Delivered-To keeps the address as given"

# ---- the null sender, to a bare <postmaster> -----------------------------
# postmaster is a built-in alias of root (mta-aliases(5))
res=$($PY - "$MTA_PORT" "$MTA_MAIL/root" <<'EOF'
import smtplib, sys, time
from smtpraw import check, check_eq
from mailcheck import make_message, crlf, maildir_messages, split_trace
port, box = int(sys.argv[1]), sys.argv[2]
msg = make_message("t20bounce", 500, sender="MAILER-DAEMON@example.org",
                   to="postmaster")
s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
refused = s.sendmail("", ["postmaster"], crlf(msg))
s.quit()
check_eq("null sender: accepted", refused, {})
end = time.time() + 15
while time.time() < end and not maildir_messages(box):
    time.sleep(0.05)
got = maildir_messages(box)
check_eq("null sender: one message in root/ (postmaster is root's)", len(got), 1)
p = split_trace(got[0][1]) if got else None
check_eq("null sender: Return-Path: <>, Delivered-To: postmaster",
         p[:2] if p else None, ("<>", "postmaster"))
check_eq("null sender: the message byte-exact", p[3] == msg if p else False, True)
EOF
)
tap_from "$res"

wait_for 10 queue_empty
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue empty at the end"
# (each line is written just after its unlink: waited for, not raced)
wait_until 10 eval '[ "$(log_count " sched message-done ")" -ge 4 ]'
is "$(log_count ' sched message-done ')" 4 "log: 4 messages done"
is "$(log_count ' (deferred|failed|bounce|quarantine|queue-error|sched-error) ')" 0 \
	"log: nothing deferred, failed or quarantined"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
