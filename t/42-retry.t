#!/bin/bash
# t/42-retry.t - temporary failures (DESIGN.md 6): a 4xx is retried after
# --retry seconds and delivered once, with no bounce; a dead destination
# (nothing listens) leaves a deferred job in queue/rcpt under a future
# DUE that records the attempt, is retried, and after --attempts rounds
# the sender gets a DSN; the same for a server answering 4xx for ever
# (Postfix's smtp-sink -r RCPT), whose reply the DSN quotes.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 91

P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start flaky 127.0.0.2 --defer-first 2 --defer-match '^later@' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
FLAKY=$PEER_DIR
DEAD_PORT=$(free_port_on 127.0.0.2)      # nothing listens there
SOFT_PORT=$(free_port_on 127.0.0.4)
smtpsink_start 127.0.0.4 "$SOFT_PORT" -r RCPT ||
	{ echo "Bail out! smtp-sink did not start"; exit 1; }

msg() {
	printf 'From: <user@test.example>\nSubject: %s\nMessage-ID: <%s@client.test>\n\nbody %s\n' "$1" "$1" "$1"
}

# ---- 4xx twice, then accepted ------------------------------------------
MTA_DIR=$T/a start_mta --smtp-port "$P" --retry 1 --attempts 5 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
BOX=$MTA_MAIL/user
r=$(msg later | inject "$MTA_PORT" user@test.example 'later@[127.0.0.2]')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "4xx then ok: queued"
peer_wait "$FLAKY" 1 15; ok $? "4xx then ok: delivered in the end"
wait_until 10 queue_empty; ok $? "4xx then ok: queue empty"
is "$(peer_events "$FLAKY" '^rcpt later@' | tr '\n' '|')" \
	'rcpt later@[127.0.0.2] 451|rcpt later@[127.0.0.2] 451|rcpt later@[127.0.0.2] 250|' \
	"4xx then ok: refused twice, then accepted"
# its last job is done: no duplicate can follow, a bounce would be queued
wait_log 10 " message-done id=$id\$"; ok $? "4xx then ok: the message is done"
is "$(peer_count "$FLAKY")" 1 "4xx then ok: delivered exactly once"
is "$(log_count "retry id=$id ")" 2 "4xx then ok: two retries logged"
like "$(grep "retry id=$id " "$MTA_LOG" | tail -1)" 'attempt=2 ' "4xx then ok: attempts counted"
is "$(log_count "delivered id=$id ")" 1 "4xx then ok: one delivered line"
like "$(grep "deferred id=$id " "$MTA_LOG" | head -1)" '451 4\.3\.0 not yet' \
	"4xx then ok: the 4xx reply logged"
is "$(maildir_count "$BOX")" 0 "4xx then ok: no bounce"
is "$(log_count ' (bounce|failed-rcpt) ')" 0 "4xx then ok: nothing failed"
# each of the two waits: the retry set the DUE --retry 1 (one second)
# after the round's "deferred" line (logged before the scheduler reads the
# clock), and the next round started at that DUE, not before
waits=$($PY - "$MTA_LOG" "$id" <<'EOF'
import datetime, re, sys
log, qid = sys.argv[1], sys.argv[2]
def stamp(line):
    t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()
starts, deferred, retries = [], [], []
for line in open(log):
    if " delivery-start id=%s " % qid in line:
        starts.append(stamp(line))
    if " deferred id=%s " % qid in line:
        deferred.append(stamp(line))
    m = re.search(r" retry id=%s .*next=(\d+)" % qid, line)
    if m:
        retries.append((stamp(line), int(m.group(1))))
good = 0
for k, (t, due) in enumerate(retries[:2]):
    if (k + 1 < len(starts) and k < len(deferred) and
            int(deferred[k]) + 1 <= due <= int(t) + 1 and
            starts[k] < deferred[k] <= t < starts[k + 1] and starts[k + 1] >= due):
        good += 1
print("%d starts=%s deferred=%s retries=%s" % (good, starts, deferred, retries))
EOF
)
is "${waits%% *}" 2 "4xx then ok: two --retry 1 waits, each until its DUE (${waits#* })"
is "$(stop_mta)" 0 "first daemon: SIGTERM, exit 0"

# ---- dead destination, and a server that always says 4xx ------------------
# --retry 2 (not 1): a DUE only one second ahead may already be due by
# the time the test looks, DUE being whole seconds.
MTA_DIR=$T/b start_mta --attempts 2 --retry 2 \
	--route "dead.example=127.0.0.2:$DEAD_PORT" \
	--route "soft.example=127.0.0.4:$SOFT_PORT" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
BOX=$MTA_MAIL/user
start=$(date +%s)
r=$(msg dead | inject "$MTA_PORT" user@test.example 'x@dead.example')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "dead: queued"
_deferred() {
	job=$(job_files | grep "\.$id\.0\$")
	[ -n "$job" ] && grep -q '^attempts 1' "$MTA_QUEUE/rcpt/$job" 2>/dev/null
}
wait_until 10 _deferred; ok $? "dead: a deferred job in queue/rcpt after the first round"
now=$(date +%s)
due=${job%%.*}
like "$job" "^[0-9]+\.$id\.0\$" "dead: named DUE.ID.N"
[ "$due" -gt "$now" ]; ok $? "dead: DUE ($due) is in the future (now $now)"
[ "$due" -le $((now + 2)) ]; ok $? "dead: DUE is at most --retry seconds ahead"
content=$(cat "$MTA_QUEUE/rcpt/$job" 2>/dev/null)
printf '%s\n' "$content" | grep -Eq '^first [0-9]+$'
ok $? "dead: the job records the first failure"
like "$content" "error .*127\.0\.0\.2.*$DEAD_PORT.*(refused|onnect)" \
	"dead: the job records the error"
like "$("$MTA_BIN/mta-queue" -q "$MTA_QUEUE" 2>&1)" 'x@dead\.example' \
	"dead: mta-queue lists the recipient"

maildir_wait "$BOX" 1 15; ok $? "dead: a bounce after --attempts 2 rounds"
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -ge 1 ]; ok $? "dead: not before the retry (${elapsed}s)"
is "$(log_count "delivery-start id=$id ")" 2 "dead: exactly 2 rounds"
is "$(log_count "retry id=$id .*attempt=1 ")" 1 "dead: retried once"
is "$(log_count "failed-rcpt id=$id ")" 1 "dead: then failed"
gap=$(log_gap "delivery-start id=$id ")
is "$($PY -c "print(int($gap >= 1.0))")" 1 "dead: the second round came after the retry interval (${gap}s)"
wait_until 10 queue_empty; ok $? "dead: queue empty after the bounce"
f=$(maildir_files "$BOX" | head -1)
tap_from "$(dsn_check "$f" --name dead-dsn --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: dead' --not-in-headers 'body dead' \
	--rcpt 'x@dead.example' --status '^4\.4\.1$' --diag - --remote -)"
grep -q 'Connection refused' "$f"; ok $? "dead-dsn: the text part gives the reason"

# always 4xx
r=$(msg soft | inject "$MTA_PORT" user@test.example 'y@soft.example')
id=$(queued_id "$r")
maildir_wait "$BOX" 2 15; ok $? "soft: a bounce after 2 rounds of 4xx"
is "$(log_count "delivery-start id=$id ")" 2 "soft: exactly 2 rounds"
f=$(maildir_files "$BOX" | tail -1)
tap_from "$(dsn_check "$f" --name soft-dsn --sender user@test.example --orig-id "$id" \
	--rcpt 'y@soft.example' --status '^4\.3\.0$' --diag '^smtp; 450 4\.3\.0 Error: command failed' \
	--remote '^dns; ')"
is "$(stop_mta)" 0 "second daemon: SIGTERM, exit 0"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue empty at the end"
done_testing
