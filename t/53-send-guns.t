#!/bin/bash
# t/53-send-guns.t - several mail guns at once at one daemon: 4 mta-send
# processes, each with a Maildir of 100 messages for one local user, 5
# sessions each, all fired together.  Every message arrives once and
# byte-exact (python3's mailbox module reads them back), and the log
# alone shows that sessions of different guns overlapped (more sessions
# at once than one gun opens) and that deliveries to that one recipient
# overlapped the sessions and each other.
. "$(dirname "$0")/lib/common.sh"

GUNS=4
PER_GUN=100
SESSIONS=5
TOTAL=$((GUNS * PER_GUN))

plan 16

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# each gun's Maildir: messages that can be rebuilt from their token alone
$PY - "$T" "$GUNS" "$PER_GUN" <<'EOF'
import os, sys
from mailcheck import make_message
base, guns, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for g in range(guns):
    d = os.path.join(base, "gun%d" % g)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub))
    for k in range(per):
        tok = "g%dm%03d" % (g, k)
        with open(os.path.join(d, "new", "%s.1.test" % tok), "wb") as f:
            f.write(make_message(tok, 2000, to="user53@test.example", special=False))
    with open(os.path.join(base, "sent"), "a") as f:
        f.write("".join("g%dm%03d\n" % (g, k) for k in range(per)))
EOF

pids=""
for g in $(seq 0 $((GUNS - 1))); do
	"$MTA_BIN/mta-send" -s "127.0.0.1:$MTA_PORT" -c "$SESSIONS" --quiet "$T/gun$g" \
		>"$T/gun$g.out" 2>&1 &
	pids="$pids $!"
	track $!
done
for p in $pids; do
	wait "$p"
	ok $? "gun with pid $p: every message accepted (exit 0)"
done
sent=$(cat "$T"/gun*.out | sed -n 's/^sent \([0-9]*\) .*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
is "$sent" "$TOTAL" "the guns' summaries add up to $TOTAL sent"

box=$MTA_MAIL/user53
wait_for 60 eval '{ [ "$(maildir_count "$box")" -ge "$TOTAL" ] && queue_empty; } || ! mta_running'
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "the queue drained"

# ---- every message once, byte-exact -------------------------------------
res=$($PY - "$box" "$T/sent" "$TOTAL" <<'EOF'
import sys
from smtpraw import check_eq
from mailcheck import maildir_messages, make_message, tally_delivered
box, sentfile, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
sent = set(open(sentfile).read().split())
msgs = maildir_messages(box)
tokens, bad, dups = tally_delivered(msgs, "user53@test.example", lambda tok:
    make_message(tok, 2000, to="user53@test.example", special=False))
print("# delivered=%d distinct=%d duplicates=%d" % (len(msgs), len(tokens), dups))
check_eq("%d messages in the Maildir" % total, len(msgs), total)
check_eq("no duplicates", dups, 0)
check_eq("every message sent was delivered", sorted(sent - set(tokens)), [])
check_eq("every message byte-exact (trace fields, then as sent)", bad[:5], [])
EOF
)
tap_from "$res"

# ---- the log alone shows the overlap -------------------------------------
res=$($PY - "$MTA_LOG" "$GUNS" "$SESSIONS" "$TOTAL" <<'EOF'
import sys
from smtpraw import check_eq
from mailcheck import log_overlap
log, guns, per_gun, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
o = log_overlap(log, "<user53@test.example>")
print("# sessions=%(sessions)d deliveries=%(deliveries)d; deliveries during a "
      "session: %(with_session)d; at most %(peak_deliveries)d deliveries and "
      "%(peak_sessions)d sessions at once" % o)
check_eq("log: %d sessions carried mail" % (guns * per_gun), o["sessions"], guns * per_gun)
check_eq("log: %d deliveries to user53" % total, o["deliveries"], total)
check_eq("log: sessions of several guns at once (more than %d)" % per_gun,
         o["peak_sessions"] > per_gun, True)
check_eq("log: deliveries to the one recipient ran during sessions",
         o["with_session"] >= 1, True)
check_eq("log: deliveries to the one recipient overlapped (>= 3 at once)",
         o["peak_deliveries"] >= 3, True)
EOF
)
tap_from "$res"

is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
