#!/bin/bash
# t/23-crash.t - kill -9 at random moments under load.  Five rounds: start
# the daemon on the same queue (with few delivery threads, so that a
# backlog builds up), let four senders send messages to two local users in
# a loop, noting every token that got 250, and kill -9 the daemon after a
# random 0.2-1.5 s.  The next start finds a loaded queue (new/, mess/ and
# rcpt/ from the killed run).  Finally a last start drains everything:
# every message that got 250 is delivered to both users at least once,
# nothing delivered is truncated or foreign (each byte-exact), duplicates
# are counted and reported (at-least-once allows them), and the queue ends
# empty.
. "$(dirname "$0")/lib/common.sh"

ROUNDS=5
RCPTS="alice23@test.example bob23@test.example"

plan $((ROUNDS * 2 + 16))

# sender ROUND - four threads send in a loop until the daemon goes away
# (or 8 s pass); each message's token is logged to $T/tokens as "try" before
# it is sent and "ok" once it got 250
sender() {
	# shellcheck disable=SC2086
	$PY - "$MTA_PORT" "$1" "$T/tokens" $RCPTS <<'EOF'
import random, smtplib, sys, threading, time
from mailcheck import make_message, crlf
port, rnd, out, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
lock = threading.Lock()
log = open(out, "a", buffering=1)
deadline = time.time() + 8

def note(what, token):
    with lock:
        log.write("%s %s\n" % (what, token))

def worker(w):
    n = 0
    while time.time() < deadline:
        try:
            s = smtplib.SMTP("127.0.0.1", port, local_hostname="crash.example",
                             timeout=5)
        except OSError:
            return                       # the daemon is gone: round over
        try:
            while time.time() < deadline:
                token = "t23r%sw%dn%d" % (rnd, w, n)
                n += 1
                size = random.Random(token).randint(500, 60000)
                msg = crlf(make_message(token, size, to="crash@test.example"))
                note("try", token)
                if s.sendmail("sender@example.org", rcpts, msg) == {}:
                    note("ok", token)
            s.quit()
        except (OSError, smtplib.SMTPException):
            pass                         # killed mid-message: reconnect

threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
for t in threads: t.start()
for t in threads: t.join(15)
EOF
}

# backlog - messages in the queue: in new/ or mess/ (a message caught
# between the two has both names: counted once)
backlog() { ls "$MTA_QUEUE/new" "$MTA_QUEUE/mess" 2>/dev/null | grep -E '^[A-Za-z0-9]+$' | sort -u | wc -l; }

: >"$T/tokens"
loaded=0
for r in $(seq "$ROUNDS"); do
	# start_mta's watcher would report each kill on stderr ("Killed")
	start_mta --max-deliveries 2 2>>"$T/start.err"
	st=$?
	ok $st "round $r: started on the queue left by the last round"
	[ $st = 0 ] || sed 's/^/# /' "$T/start.err"
	sender "$r" &
	spid=$!
	track "$spid"
	# under load: the kill comes only once this round's mail flows
	wait_for 10 grep -q "^ok t23r${r}w" "$T/tokens"
	delay=$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.3 }')
	sleep "$delay"
	# the last kill must leave work behind for the final start: wait for
	# a backlog of messages (few delivery threads let it grow); in their
	# first attempt they are in new/, with their jobs in memory only
	[ "$r" = "$ROUNDS" ] && wait_for 10 eval '[ "$(backlog)" -ge 10 ]'
	kill -9 "$MTA_PID"
	wait_for 10 test -f "$MTA_STATUS_FILE"
	is "$(cat "$MTA_STATUS_FILE" 2>/dev/null)" 137 "round $r: killed with SIGKILL after ${delay}s"
	wait_for 20 eval '! kill -0 $spid 2>/dev/null'
	state=$(queue_state)
	last_jobs=$(count_files "$MTA_QUEUE/rcpt")
	last_msgs=$(backlog)
	diag "round $r: after the kill: $state; accepted so far $(grep -c '^ok ' "$T/tokens")"
	case $state in
	*"new=0 mess=0 rcpt=0 "*) ;;
	*) loaded=$((loaded + 1)) ;;
	esac
done
ok "$([ "$loaded" -gt 0 ]; echo $?)" "a killed run left a loaded queue $loaded time(s) of $ROUNDS"
is "$(grep -c ' main recovered ' "$MTA_LOG")" "$ROUNDS" "every restart logged its recovery"
diag "recoveries: $(grep ' main recovered ' "$MTA_LOG" | sed 's/.*recovered //' | tr '\n' ';')"

# ---- the last start drains everything ------------------------------------
start_mta
ok $? "final start on the loaded queue"
# the port takes connections (the listen backlog) before recovery is
# done: wait for this start's own line
wait_for 10 eval '[ "$(grep -c " main recovered " "$MTA_LOG")" -gt "$ROUNDS" ]'
jobs=$(grep ' main recovered ' "$MTA_LOG" | tail -1 | sed -n 's/.* jobs=\([0-9]*\).*/\1/p')
msgs=$(grep ' main recovered ' "$MTA_LOG" | tail -1 | sed -n 's/.* messages=\([0-9]*\).*/\1/p')
ok "$([ "$last_msgs" -gt 0 ] && [ "${msgs:-0}" -ge "$last_msgs" ] &&
     [ "${jobs:-0}" -ge "$last_jobs" ]; echo $?)" \
	"final start: recovery took up the $last_msgs messages and $last_jobs job files the kill left (recovered messages=$msgs jobs=$jobs)"
wait_for 60 eval 'queue_empty || ! mta_running'
is "$(queue_state | sed 's/ bad=.*//')" "new=0 mess=0 rcpt=0 tmp=0" "the queue drained"

# shellcheck disable=SC2086
res=$($PY - "$MTA_MAIL" "$T/tokens" $RCPTS <<'EOF'
import collections, os, random, sys
from smtpraw import check_eq
from mailcheck import maildir_messages, split_trace, token_of, make_message
root, tokfile, rcpts = sys.argv[1], sys.argv[2], sys.argv[3:]
tried, accepted = set(), set()
for line in open(tokfile):
    what, _, tok = line.strip().partition(" ")
    (accepted if what == "ok" else tried).add(tok)
print("# messages tried %d, accepted (250) %d" % (len(tried), len(accepted)))
check_eq("some messages were accepted", len(accepted) > 0, True)
total_dups = 0
for rcpt in rcpts:
    user = rcpt.split("@")[0]
    box = os.path.join(root, user)
    got, bad = collections.Counter(), []
    for key, data in maildir_messages(box):
        p = split_trace(data)
        tok = token_of(p[3]) if p else None
        got[tok] += 1
        if tok not in tried:
            bad.append("%s: unknown token %r" % (key, tok))
            continue
        want = make_message(tok, random.Random(tok).randint(500, 60000),
                            to="crash@test.example")
        if p[:2] != ("<sender@example.org>", rcpt) or p[3] != want:
            bad.append("%s: %s is not byte-exact (%d bytes, want %d)"
                       % (key, tok, len(p[3]), len(want)))
    dups = {t: n for t, n in got.items() if n > 1}
    total_dups += sum(n - 1 for n in dups.values())
    lost = sorted(accepted - set(got))
    unacked = len(set(got) - accepted)
    print("# %s: %d files, %d distinct, %d duplicate copies (of %d messages), "
          "%d delivered without a 250 seen, %d tmp/ leftovers"
          % (user, sum(got.values()), len(got), sum(n - 1 for n in dups.values()),
             len(dups), unacked, len(os.listdir(os.path.join(box, "tmp")))
             if os.path.isdir(os.path.join(box, "tmp")) else 0))
    for t, n in sorted(dups.items())[:10]:
        print("#   duplicate: %s x%d" % (t, n))
    check_eq("%s: every message that got 250 was delivered" % user, lost[:5], [])
    check_eq("%s: every delivered message complete and byte-exact" % user, bad[:5], [])
    check_eq("%s: nothing but our messages" % user, None in got, False)
print("# DUPLICATES (at-least-once): %d in all" % total_dups)
EOF
)
tap_from "$res"
is "$(count_files "$MTA_QUEUE/bad")" 0 "nothing quarantined in bad/"
is "$(log_count ' (failed|quarantine|sched-error) ')" 0 "log: nothing failed or quarantined"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "the queue is empty at the end"

done_testing
