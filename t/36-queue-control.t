#!/bin/bash
# t/36-queue-control.t - mta-queue's control of queued messages beside a
# running daemon (mta-queue(1), mta-queue(5) JOB FILES), every change a
# rename or unlink in rcpt/ that the daemon sees:
#   * the listing and --json parse (python3 json: one object a line, the
#     recipients with attempts, next attempt, last error, TLS and the
#     delay-warning mark, null before any warning)
#   * --hold: the job is renamed to DUE 9999999999 (seen with ls); it
#     stays held across --flush and a restart; --release delivers it
#   * --requeue: due now with its attempts kept (checked while the daemon
#     is stopped), delivered when the daemon is back
#   * --bounce (daemon running, or stopped: done when it starts): the
#     daemon fails the job untried and the sender gets an
#     RFC 3464 report (read with python3 mailbox from the local Maildir)
#   * --delete ALL --from: every message of one sender goes, no other
#   * held or returned while its delivery runs (a peer that answers the
#     end of DATA with 451 only after 10 s): the deferral keeps the job
#     held; a returned one fails with the bounce instead of waiting
#   * --hold ALL races a daemon renaming 20 jobs every second (--retry 1):
#     every job ends held; --release ALL delivers them all
#   * --config: the queue named by the configuration file; mta-send -bp
#     with it lists the queue (parsed: the held recipient shown held)
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 71

P=$(free_port_on 127.0.0.2)   # nobody listens yet: every delivery defers
OPTS=(--smtp-port "$P" --retry 3600 --attempts 20)
start_mta "${OPTS[@]}" || { echo "Bail out! mta-smtpd did not start"; exit 1; }

mq() {
	out=$("$MTA_BIN/mta-queue" "$@" 2>"$T/mq.err"); rc=$?
	err=$(cat "$T/mq.err")
}
send() {   # send FROM RCPT SUBJECT: prints the queue ID
	queued_id "$(user_msg "$3" | inject "$MTA_PORT" "$1" "$2")"
}
attempts_of() { sed -n 's/^attempts //p' "$MTA_QUEUE"/rcpt/*."$1".0 2>/dev/null; }
# deferred: tried (or, its next hop known dead, deferred untried: attempts
# 0), the error recorded
deferred() { grep -qs '^error ' "$MTA_QUEUE"/rcpt/*."$1".0; }
gone() { ! ls "$MTA_QUEUE/rcpt" "$MTA_QUEUE/mess" "$MTA_QUEUE/new" | grep -qF "$1"; }

held=$(send alice@test.example 'r1@[127.0.0.2]' held)
requeued=$(send bob@test.example 'r2@[127.0.0.2]' requeued)
returned=$(send carol@test.example 'r3@[127.0.0.2]' returned)
spam1=$(send spam@test.example 'r4@[127.0.0.2]' spam1)
spam2=$(send SPAM@test.example 'r5@[127.0.0.2]' spam2)
kept=$(send keep@test.example 'r6@[127.0.0.2]' kept)
offline=$(send frank@test.example 'r9@[127.0.0.2]' offline)
wait_until 20 deferred "$offline" || diag "$offline was not deferred"
for id in "$held" "$requeued" "$returned" "$spam1" "$spam2" "$kept"; do
	wait_until 20 deferred "$id" || diag "$id was not deferred"
done
is "$(for id in "$held" "$requeued" "$returned" "$spam1" "$spam2" "$kept"; do
	deferred "$id" && echo d; done | tr -d '\n')" dddddd "six messages queued and deferred"

# ---- the listing and --json, parsed ----------------------------------------
mq -q "$MTA_QUEUE"
is "$($PY -c '
import re, sys
msgs = {}
for line in sys.stdin.read().splitlines():
    m = re.match(r"^([A-Za-z0-9]+)  age \S+  (\d+) bytes  from <(.*)>$", line)
    if m:
        cur = msgs.setdefault(m.group(1), [m.group(3)])
        continue
    m = re.match(r"^  to <(.*)>  attempts (\d+), due in \S+, last error: (.+)$", line)
    if m:
        cur.append(m.group(1) + ":" + m.group(2))
print(msgs[sys.argv[1]][0], msgs[sys.argv[1]][1], len(msgs))' "$held" <<<"$out")" \
	"alice@test.example r1@[127.0.0.2]:$(attempts_of "$held") 7" \
	"listing: parsed, the held-to-be message with its recipient and attempts"
mq -q "$MTA_QUEUE" --json
now=$(date +%s)
is "$($PY -c '
import json, sys
now, want = int(sys.argv[1]), sys.argv[2]
objs = [json.loads(l) for l in sys.stdin.read().splitlines()]
o = [x for x in objs if x["id"] == want][0]
r = o["recipients"][0]
print(len(objs), o["sender"], o["scheduled"], r["n"], r["address"], r["state"], r["attempts"],
      r["next_attempt"] > now, r["first_failure"] <= now, bool(r["last_error"]), r["tls"].startswith("tls=none "),
      "warned" in r and r["warned"] is None)' \
	"$now" "$held" <<<"$out")" \
	"7 alice@test.example True 0 r1@[127.0.0.2] queued $(attempts_of "$held") True True True True True" \
	"--json: one object a line, recipient with attempts, next attempt, last error, TLS, warned null (not yet)"
mq -q "$MTA_QUEUE" --json --from spam@test.example
is "$($PY -c 'import json, sys; print(sorted(json.loads(l)["id"] for l in sys.stdin.read().splitlines()))' <<<"$out")" \
	"$($PY -c 'import sys; print(sorted(sys.argv[1:]))' "$spam1" "$spam2")" \
	"--json --from: the sender's messages only (case does not matter)"

# ---- hold: survives --flush and a restart ----------------------------------
held_attempts=$(attempts_of "$held")
mq -q "$MTA_QUEUE" --hold "$held"
is "$rc:$out" "0:held 1 job of 1 message" "hold: exit 0, says what it did"
ok "$([ -f "$MTA_QUEUE/rcpt/9999999999.$held.0" ]; echo $?)" "hold: ls shows rcpt/9999999999.ID.0"
is "$(attempts_of "$held")" "$held_attempts" "hold: the job keeps its content"
mq -q "$MTA_QUEUE" --json
like "$(grep "\"$held\"" <<<"$out")" '"state":"held","attempts":[0-9]+,"next_attempt":null' "hold: --json says held"
mq -q "$MTA_QUEUE"
like "$out" "to <r1@\\[127.0.0.2\\]>  attempts [0-9]+, held" "hold: the listing says held"
mq -q "$MTA_QUEUE" --flush
is "$rc:$out" "0:flushed 6 jobs (0 already due, 1 held)" "flush: every job but the held one"
retried() { [ "$(log_count "retry id=($requeued|$kept) ")" -ge 4 ]; }
wait_until 20 retried; ok $? "flush: the daemon tried the flushed jobs again"
is "$(log_count "retry id=$held ")" 1 "flush: the held job was not tried again"
ok "$([ -f "$MTA_QUEUE/rcpt/9999999999.$held.0" ]; echo $?)" "flush: still held"
is "$(stop_mta)" 0 "restart: the daemon stops"

# ---- while it is stopped: requeue keeps the attempts -----------------------
requeued_attempts=$(attempts_of "$requeued")
mq -q "$MTA_QUEUE" --requeue "$requeued"
is "$rc:$out" "0:requeued 1 job of 1 message" "requeue: exit 0"
j=$(ls "$MTA_QUEUE/rcpt" | grep "\\.$requeued\\.0\$")
ok "$([ "${j%%.*}" -le "$(date +%s)" ]; echo $?)" "requeue: its DUE is now ($j)"
is "$(attempts_of "$requeued")" "$requeued_attempts" "requeue: the attempt count is kept"
mq -q "$MTA_QUEUE" --bounce "$offline"
ok "$([ -f "$MTA_QUEUE/rcpt/0.$offline.0" ]; echo $?)" "bounce while stopped: ls shows rcpt/0.ID.0"
mq -q "$MTA_QUEUE" --requeue NOSUCH0ID
is "$rc" 1 "requeue: an unknown ID is exit 1"
like "$err" "no such message: NOSUCH0ID" "requeue: says so"

PEER_WANT=$P peer_start peer 127.0.0.2 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
PEER=$PEER_DIR
start_mta "${OPTS[@]}" || { echo "Bail out! mta-smtpd did not restart"; exit 1; }
peer_wait "$PEER" 1 20; ok $? "restart: the requeued message is delivered"
is "$(peer_json "$PEER" 1 rcpt_tos)" "r2@[127.0.0.2]" "restart: the first delivery is the requeued one"
wait_until 10 gone "$requeued"; ok $? "restart: the requeued message left the queue"
ok "$([ -f "$MTA_QUEUE/rcpt/9999999999.$held.0" ]; echo $?)" "restart: the held job is still held"
is "$(log_count "retry id=$held ")" 1 "restart: the held job was not tried"
maildir_wait "$MTA_MAIL/frank" 1 20; ok $? "restart: the job returned while the daemon was stopped is bounced"
wait_until 10 gone "$offline"; ok $? "restart: and it left the queue"

# ---- release delivers --------------------------------------------------------
mq -q "$MTA_QUEUE" --release "$held"
is "$rc:$out" "0:released 1 job of 1 message" "release: exit 0"
peer_wait "$PEER" 2 20; ok $? "release: delivered"
is "$(peer_json "$PEER" 2 rcpt_tos)" "r1@[127.0.0.2]" "release: the held message"
wait_until 10 gone "$held"; ok $? "release: the message left the queue"

# ---- bounce: the daemon returns it with a DSN ---------------------------------
mq -q "$MTA_QUEUE" --bounce "$returned"
is "$rc:$out" "0:returned to the sender 1 job of 1 message" "bounce: exit 0"
maildir_wait "$MTA_MAIL/carol" 1 20; ok $? "bounce: a report in the sender's Maildir"
is "$($PY -c '
import mailbox, sys
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
msgs = [box[k] for k in box.keys()]
m = msgs[0]
parts = m.get_payload()
status = parts[1].get_payload()
fields = {}
for block in status:
    for k, v in block.items():
        fields[k.lower()] = v
print(len(msgs), m.get_content_type(), m["To"].strip(), fields.get("action"),
      fields.get("status"), fields.get("final-recipient"), "untried" in parts[0].get_payload(decode=True).decode())' \
	"$MTA_MAIL/carol")" \
	"1 multipart/report <carol@test.example> failed 5.0.0 rfc822; r3@[127.0.0.2] True" \
	"bounce: RFC 3464 report, Action failed, 5.0.0, the recipient, the reason"
wait_until 10 gone "$returned"; ok $? "bounce: the message left the queue"
is "$(peer_count "$PEER")" 2 "bounce: nothing was sent to the peer"
like "$(grep "bounce id=$returned " "$MTA_LOG")" "to=<carol@test.example>" "bounce: logged"

# ---- delete by sender ---------------------------------------------------------
mq -q "$MTA_QUEUE" --delete ALL --from '<spam@test.example>'
is "$rc:$out" "0:deleted 2 jobs of 2 messages (2 with the message file)" "delete --from: exit 0, two messages"
ok "$(gone "$spam1" && gone "$spam2"; echo $?)" "delete --from: both of the sender's messages are gone"
ok "$([ -f "$MTA_QUEUE/mess/$kept" ] && [ -n "$(ls "$MTA_QUEUE/rcpt" | grep "\\.$kept\\.0\$")" ]; echo $?)" \
	"delete --from: the other sender's message is kept"
mq -q "$MTA_QUEUE" --delete ALL --from nobody@test.example
is "$rc:$out" "0:deleted 0 jobs of 0 messages" "delete --from nobody: nothing"
mq -q "$MTA_QUEUE" --from x@y
is "$rc" 64 "a selection without an operation: usage"
mq -q "$MTA_QUEUE" --hold ALL --bounce ALL
is "$rc" 64 "two operations: usage"

# ---- hold by domain, release ALL ----------------------------------------------
mq -q "$MTA_QUEUE" --hold ALL --domain '[127.0.0.2]'
is "$rc:$out" "0:held 1 job of 1 message" "hold --domain: the kept message's job"
ok "$([ -f "$MTA_QUEUE/rcpt/9999999999.$kept.0" ]; echo $?)" "hold --domain: renamed"

# ---- held or returned while the delivery runs ---------------------------------
PEER_WANT=$P peer_start slow 127.0.0.3 --hold 10 --data-reply '451 4.3.0 later' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
SLOW=$PEER_DIR
in_flight() { [ "$(cat "$SLOW/events" 2>/dev/null | grep -c '^mail ')" -ge "$1" ]; }
late=$(send dave@test.example 'r7@[127.0.0.3]' late)
wait_until 20 in_flight 1; ok $? "running: the delivery is under way"
wait_job "$late"        # a first attempt's files come after a second
mq -q "$MTA_QUEUE" --hold "$late"
wait_log 30 "retry id=$late "; ok $? "running: the delivery was deferred"
like "$(grep "retry id=$late " "$MTA_LOG")" "next=9999999999\$" "running: the deferral kept the hold"
ok "$([ -f "$MTA_QUEUE/rcpt/9999999999.$late.0" ] && [ "$(attempts_of "$late")" = 1 ]; echo $?)" \
	"running: still held, the attempt counted"
mq -q "$MTA_QUEUE" --json --from dave@test.example
like "$($PY -c 'import json, sys; print(json.loads(sys.stdin.read())["recipients"][0]["tls"])' <<<"$out")" \
	"^tls=none verify=none policy=" "--json: the TLS of the last attempt (the peer offers no STARTTLS)"
ret=$(send erin@test.example 'r8@[127.0.0.3]' ret)
wait_until 20 in_flight 2; ok $? "running: the second delivery is under way"
wait_job "$ret"
mq -q "$MTA_QUEUE" --bounce "$ret"
maildir_wait "$MTA_MAIL/erin" 1 30; ok $? "running: returned while it ran, the deferral bounces it"
like "$(grep "bounce id=$ret " "$MTA_LOG")" "to=<erin@test.example>" "running: the bounce is logged"
wait_until 10 gone "$ret"; ok $? "running: the returned message left the queue"
mq -q "$MTA_QUEUE" --delete "$late"

# ---- --config: the queue from the configuration file --------------------------
printf '# mta-queue reads the daemon'"'"'s file\nqueue %s\nretry 60\n' "$MTA_QUEUE" >"$T/mta.conf"
(cd "$T" && "$MTA_BIN/mta-queue" --config "$T/mta.conf" --json >"$T/conf.out" 2>"$T/conf.err"); rc=$?
is "$rc:$(grep -c "\"$kept\"" "$T/conf.out")" "0:1" "--config: the file's queue is listed"
# mta-send -bp (mailq) lists the same queue through mta-queue: parsed
out=$(timeout 10 "$MTA_BIN/mta-send" -C "$T/mta.conf" -bp 2>"$T/bp.err"); rc=$?
is "$rc" 0 "-bp: exit 0"
is "$($PY -c '
import re, sys
lines, want = sys.stdin.read().splitlines(), sys.argv[1]
i = [k for k, l in enumerate(lines) if re.match(r"^%s  age \S+  \d+ bytes  from <keep@test.example>$" % want, l)][0]
m = re.match(r"^  to <(.*)>  attempts (\d+), ([^,]*)(, last error: .*)?$", lines[i + 1])
print(m.group(1), m.group(3), lines[-1])' "$kept" <<<"$out")" \
	"r6@[127.0.0.2] held 1 message, 1 recipient pending" "-bp: parsed, the held recipient shown as held"
printf 'no-such-option 1\n' >"$T/bad.conf"
mq --config "$T/bad.conf"
is "$rc" 1 "--config: a bad file is exit 1"
like "$err" "bad.conf:1: unknown option" "--config: says where"

mq -q "$MTA_QUEUE" --release ALL
is "$rc:$out" "0:released 1 job of 1 message" "release ALL"
peer_wait "$PEER" 3 20; ok $? "release ALL: delivered"
wait_until 10 queue_empty; ok $? "the queue is empty"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- hold ALL against a daemon renaming the same jobs every second -----------
# --retry 1, no dead-hop memory: each of 20 jobs is tried and renamed to
# a new DUE every second; the hold must win every race (the daemon's
# deferral keeps a held job held, or finds it renamed away; mta-queue
# passes again when it finds a job renamed away), then release delivers.
start_mta --smtp-port "$P" --retry 1 --dead-hop-time 0 --attempts 1000 ||
	{ echo "Bail out! mta-smtpd did not restart"; exit 1; }
for i in $(seq 20); do send churn@test.example "c$i@[127.0.0.4]" "churn$i" >/dev/null; done
# every one of the 20 deferred at least twice (retry lines counted by
# recipient: one job can log two before another has its first), so that
# each has its job file in rcpt/
churning() {
	[ "$(grep -Eo 'retry id=.* rcpt=<c[0-9]+@\[127.0.0.4\]> attempt=[2-9]' "$MTA_LOG" |
	     grep -Eo 'rcpt=<c[0-9]+@' | sort -u | wc -l)" -ge 20 ]
}
wait_until 30 churning; ok $? "churn: 20 jobs deferred and renamed over and over"
mq -q "$MTA_QUEUE" --hold ALL --domain '[127.0.0.4]'
is "$rc" 0 "churn: hold ALL exit 0"
is "$(ls "$MTA_QUEUE/rcpt" | grep -c '^9999999999\.')/$(ls "$MTA_QUEUE/rcpt" | wc -l)" "20/20" \
	"churn: every job held, none left under a time"
PEER_WANT=$P peer_start churn 127.0.0.4 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
mq -q "$MTA_QUEUE" --release ALL --from churn@test.example
is "$rc:$out" "0:released 20 jobs of 20 messages" "churn: release ALL --from"
peer_wait "$T/churn" 20 30; ok $? "churn: all 20 delivered"
wait_until 10 queue_empty; ok $? "churn: the queue is empty"
ok "$(mta_running; echo $?)" "the daemon is still running"
is "$(stop_mta)" 0 "SIGTERM exit 0"

done_testing
