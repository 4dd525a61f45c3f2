#!/bin/bash
# t/25-retry.t - deferral and retries of local deliveries (scheduler.h,
# mta-queue(5)): a mailbox that cannot be written (a symlink, or a plain
# file where the Maildir should be) defers its job: renamed to
# DUE = now + --retry, with "attempts N", "first T" and the error inside,
# and nothing written through the symlink.  The operator's mv of a job to
# DUE = now makes it go at once; a mailbox fixed before the attempts run
# out gets the message; rm of a job cancels it, and the message file goes
# with its last job.  With --retry 1 --attempts 3 a job is retried by
# itself, and after the third failure its sender gets a bounce.
. "$(dirname "$0")/lib/common.sh"

plan 42

Q=$T/queue
mkdir -p "$T/mail" "$T/elsewhere"
ln -s "$T/elsewhere" "$T/mail/bob"       # a symlink where a Maildir should be
: >"$T/mail/carol"                       # a plain file where one should be
ln -s "$T/elsewhere" "$T/mail/dave"

# send RCPT... - one message from owner@test.example (a local sender, so a
# bounce comes back here); prints the queue ID
send() {
	$PY - "$MTA_PORT" "$@" <<'EOF'
import smtplib, sys
from mailcheck import make_message, crlf
port, rcpts = int(sys.argv[1]), sys.argv[2:]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
s.ehlo()
assert s.mail("owner@test.example")[0] == 250
for r in rcpts:
    assert s.rcpt(r)[0] == 250
code, text = s.data(crlf(make_message("t25" + rcpts[0].split("@")[0], 1500,
                                      sender="owner@test.example", to=rcpts[0])))
s.quit()
print(text.decode().split()[-1] if code == 250 else "refused-%d" % code)
EOF
}

# job_of ID N - the name of job N of message ID in rcpt/ ("" if none)
job_of() { ls "$Q/rcpt" | grep -E "^[0-9]+\.$1\.$2\$" | head -1; }

# ---- --retry 30: a deferred job, as the file shows it ---------------------
start_mta --retry 30 --attempts 3 || { echo "Bail out! mta-smtpd did not start"; exit 1; }
id=$(send bob@test.example)
like "$id" '^[A-Za-z0-9]+$' "bob: 250 queued"
wait_log 10 " retry id=$id rcpt=<bob@test\.example> attempt=1 "
line=$(grep " retry id=$id rcpt=<bob@test\.example> attempt=1 " "$MTA_LOG")
t_retry=$(date -d "$(printf '%s' "$line" | cut -d' ' -f1)" +%s)
next=$(printf '%s' "$line" | sed -n 's/.* next=\([0-9]*\).*/\1/p')
like "$(grep " deferred id=$id " "$MTA_LOG")" 'error="[^"]+"' "bob: deferred, with the reason in the log"
diag "$(grep " deferred id=$id " "$MTA_LOG" | sed 's/.* error=//')"
ok "$([ -n "$next" ] && [ $((next - t_retry)) -ge 29 ] && [ $((next - t_retry)) -le 31 ]; echo $?)" \
	"bob: next attempt at now + --retry (next=$next, at $t_retry)"
job=$(job_of "$id" 0)
is "$job" "$next.$id.0" "bob: the job is renamed to DUE.ID.N with that DUE"
is "$(ls "$Q/rcpt" | wc -l | tr -d ' ')" 1 "bob: one job file, not two"
content=$(cat "$Q/rcpt/$job" 2>/dev/null)
like "$content" '^attempts 1$' "bob: the job file says attempts 1"
like "$content" '^first [0-9]+$' "bob: ... the time of the first failure"
like "$content" '^error .*bob' "bob: ... and the error"
ok "$([ -f "$Q/mess/$id" ]; echo $?)" "bob: the message stays in mess/"
is "$(find "$T/elsewhere" | wc -l | tr -d ' ')" 1 "bob: nothing written through the symlink"

# ---- the operator reschedules: mv to DUE = now ----------------------------
mv "$Q/rcpt/$job" "$Q/rcpt/$(date +%s).$id.0"
wait_log 10 " retry id=$id rcpt=<bob@test\.example> attempt=2 "
is "$(log_count " delivery-start id=$id ")" 2 "mv to now: attempted again at once"
job=$(job_of "$id" 0)
like "$(cat "$Q/rcpt/$job" 2>/dev/null)" '^attempts 2$' "mv to now: attempts 2 recorded"
like "$(log_count " rescheduled job=[0-9]+\.$id\.0")" '^[1-9]' "mv to now: logged as rescheduled"

# ---- the mailbox is fixed before the attempts run out ----------------------
rm "$T/mail/bob"
mv "$Q/rcpt/$job" "$Q/rcpt/$(date +%s).$id.0"
wait_for 10 eval '{ queue_empty && [ "$(maildir_count "$T/mail/bob")" = 1 ]; } || ! mta_running'
is "$(maildir_count "$T/mail/bob")" 1 "fixed: delivered into the real Maildir"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "fixed: job and message gone"
is "$(find "$T/elsewhere" | wc -l | tr -d ' ')" 1 "fixed: the symlink's target never written"

# ---- a symlink inside a Maildir (new/ -> elsewhere) ------------------------
mkdir -p "$T/mail/henry/tmp" "$T/mail/henry/cur"
ln -s "$T/elsewhere" "$T/mail/henry/new"
id=$(send henry@test.example)
wait_log 10 " retry id=$id rcpt=<henry@test\.example> attempt=1 "
like "$(grep " deferred id=$id " "$MTA_LOG")" 'error=' "henry: Maildir with new/ a symlink: deferred"
is "$(find "$T/elsewhere" | wc -l | tr -d ' '):$(count_files "$T/mail/henry/tmp")" 1:0 \
	"henry: nothing written through it, nothing left in tmp/"
rm "$T/mail/henry/new"
job=$(job_of "$id" 0)
mv "$Q/rcpt/$job" "$Q/rcpt/$(date +%s).$id.0"
wait_for 10 eval '{ queue_empty && [ "$(maildir_count "$T/mail/henry")" = 1 ]; } || ! mta_running'
is "$(maildir_count "$T/mail/henry")" 1 "henry: fixed and rescheduled: delivered"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "henry: job and message gone"

# ---- rm of a job cancels it; the message goes with its last job ------------
id=$(send carol@test.example dave@test.example)
like "$id" '^[A-Za-z0-9]+$' "carol+dave: 250 queued"
wait_log 10 " retry id=$id rcpt=<carol@test\.example> attempt=1 "
wait_log 10 " retry id=$id rcpt=<dave@test\.example> attempt=1 "
like "$(grep " deferred id=$id rcpt=<carol@test\.example> " "$MTA_LOG")" 'error=' \
	"carol: a plain file where the Maildir should be defers"
rm "$Q/rcpt/$(job_of "$id" 0)"
wait_log 10 " job-removed job=[0-9]+\.$id\.0 "
like "$(grep " job-removed job=[0-9]*\.$id\.0 " "$MTA_LOG")" 'job-removed' "rm carol's job: logged"
ok "$([ -f "$Q/mess/$id" ]; echo $?)" "rm carol's job: the message stays for dave"
rm "$Q/rcpt/$(job_of "$id" 1)"
wait_for 10 eval '[ ! -e "$Q/mess/$id" ] || ! mta_running'
ok "$([ ! -e "$Q/mess/$id" ]; echo $?)" "rm dave's job too: the message file is gone"
# (the line is written just after the unlink: waited for, not raced)
wait_log 10 " message-done id=$id\$"
is "$(log_count " message-done id=$id\$")" 1 "rm: message-done logged"
is "$(log_count " (delivered|failed-rcpt|bounce) id=$id ")" 0 "rm: nothing delivered, failed or bounced"
# gina's deferred job outlives the daemon
ln -s "$T/elsewhere" "$T/mail/gina"
gina=$(send gina@test.example)
wait_log 10 " retry id=$gina rcpt=<gina@test\.example> attempt=1 "
is "$(stop_mta)" 0 "SIGTERM: exit 0"
like "$(ls "$Q/rcpt" | tr '\n' ' '):$(ls "$Q/mess")" "^[0-9]+\.$gina\.0 :$gina\$" \
	"left in the queue: gina's deferred job and its message"

# ---- --retry 1 --attempts 3: retried by itself ------------------------------
ln -s "$T/elsewhere" "$T/mail/erin"
: >"$T/mail/frank"
start_mta --retry 1 --attempts 3 || { echo "Bail out! mta-smtpd did not restart"; exit 1; }
# erin alone first: with nothing else waking the scheduler, its retry comes
# a whole second after a failure, time enough to fix the mailbox
erin=$(send erin@test.example)
wait_log 10 " retry id=$erin rcpt=<erin@test\.example> attempt=1 "
rm "$T/mail/erin"
wait_for 15 eval '[ "$(maildir_count "$T/mail/erin")" = 1 ] || ! mta_running'
is "$(maildir_count "$T/mail/erin")" 1 "erin: fixed after the first failure, delivered by a retry"
is "$(log_count " (failed-rcpt|bounce) id=$erin ")" 0 "erin: no bounce"

# gina, deferred by the last run with attempts 1 and due in 30 s: now
job=$(job_of "$gina" 0)
mv "$Q/rcpt/$job" "$Q/rcpt/$(date +%s).$gina.0"
frank=$(send frank@test.example)
wait_log 20 " bounce id=$frank "
is "$(log_count " delivery-start id=$frank ")" 3 "frank: 3 attempts (--attempts 3)"
like "$(grep " retry id=$frank " "$MTA_LOG" | sed 's/.*attempt=\([0-9]*\).*/\1/' | tr '\n' ' ')" '^1 2 $' \
	"frank: deferred after attempts 1 and 2, not after 3"
# each retry names its DUE (next=, whole seconds): the attempt after it
# must not start before that second
res=$($PY - "$MTA_LOG" "$frank" <<'EOF'
import sys
from mailcheck import parse_log
ev = [(t, e, kv) for t, tag, e, kv in parse_log(sys.argv[1]) if kv.get("id") == sys.argv[2]]
starts = [t for t, e, kv in ev if e == "delivery-start"]
dues = [int(kv["next"]) for t, e, kv in ev if e == "retry"]
print(all(int(s) >= d for s, d in zip(starts[1:], dues)) and len(dues) == 2,
      " ".join("%.2f" % (s - d) for s, d in zip(starts[1:], dues)))
EOF
)
like "$res" '^True' "frank: no retry started before its DUE (started DUE + ${res#* } s)"
like "$(grep " failed-rcpt id=$frank " "$MTA_LOG")" 'rcpt=<frank@test\.example>' "frank: failed after the third"
wait_log 15 " failed-rcpt id=$gina "
like "$(grep " retry id=$gina " "$MTA_LOG" | sed 's/.*attempt=\([0-9]*\).*/\1/' | tr '\n' ' ')" '^1 2 $' \
	"gina: after the restart the count went on from the job file (attempt 2)"
is "$(log_count " delivery-start id=$gina ")" 3 "gina: failed after 3 attempts in all (1 before the restart)"
wait_for 15 eval '{ queue_empty && [ "$(maildir_count "$T/mail/owner")" -ge 2 ]; } || ! mta_running'
res=$($PY - "$T/mail/owner" <<'EOF'
import re, sys
from mailcheck import maildir_messages
msgs = [m for _, m in maildir_messages(sys.argv[1])]
rps = set()
for m in msgs:
    rp = re.match(rb"Return-Path: ([^\n]*)\nDelivered-To: owner@test\.example\n", m)
    rps.add(rp.group(1).decode() if rp else None)
print("rp=%s" % " ".join(sorted(map(str, rps))))
for who in ("frank", "gina"):
    print("%s=%s" % (who, sum(b"multipart/report" in m and b"<%s@test.example>" % who.encode() in m
                             for m in msgs)))
EOF
)
is "$(printf '%s\n' "$res" | field rp)" "<>" "bounces: the sender got them from <>"
is "$(printf '%s\n' "$res" | field frank):$(printf '%s\n' "$res" | field gina)" 1:1 \
	"bounces: one multipart/report for frank, one for gina"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "the queue is empty at the end"
is "$(find "$T/elsewhere" | wc -l | tr -d ' ')" 1 "nothing was ever written through a symlink"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
