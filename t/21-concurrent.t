#!/bin/bash
# t/21-concurrent.t - many clients, one mailbox: 50 concurrent SMTP
# sessions send 10 messages each (every one with a unique token and its
# own random body of a few KB) to one local user.  All 500 arrive exactly
# once and byte-exact, and the queue empties.  Then the log alone (the
# "TIMESTAMP TAG event k=v" lines of mta-smtpd(8)) must show that
# sessions (cN connect..disconnect) and deliveries to that user
# (dN delivery-start..delivered) overlapped in time, and that deliveries
# overlapped each other.
. "$(dirname "$0")/lib/common.sh"

CLIENTS=50
PER_CLIENT=10
TOTAL=$((CLIENTS * PER_CLIENT))

plan 15

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- 50 sessions at once, 10 messages each ------------------------------
# Each client keeps its session for its 10 messages, so sessions last while
# the first messages are already being delivered.
res=$($PY - "$MTA_PORT" "$CLIENTS" "$PER_CLIENT" "$T/sent" <<'EOF'
import smtplib, sys, threading, time, random
from mailcheck import make_message, crlf
port, clients, per, sentfile = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
barrier = threading.Barrier(clients, timeout=20)
ok, errors, lock = [], [], threading.Lock()

def client(c):
    try:
        barrier.wait()
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="c%d.example" % c,
                         timeout=30)
        for i in range(per):
            token = "t21c%dm%d" % (c, i)
            size = random.Random(token).randint(1500, 6000)
            msg = make_message(token, size, to="user21@test.example")
            refused = s.sendmail("sender@example.org", ["user21@test.example"],
                                 crlf(msg))
            with lock:
                (ok if refused == {} else errors).append(token)
        s.quit()
    except Exception as e:
        with lock:
            errors.append("client %d: %r" % (c, e))

threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join(60)
print("accepted=%d" % len(ok))
print("errors=%d" % len(errors))
print("seconds=%.2f" % (time.time() - t0))
for e in errors[:5]:
    print("error=%s" % e)
with open(sentfile, "w") as f:
    f.write("\n".join(ok) + "\n")
EOF
)
diag "$(printf '%s\n' "$res" | tr '\n' ' ')"
is "$(printf '%s\n' "$res" | field accepted)" "$TOTAL" "all $TOTAL messages accepted (250)"
is "$(printf '%s\n' "$res" | field errors)" 0 "no client saw an error"

box=$MTA_MAIL/user21
wait_for 60 eval '{ [ "$(maildir_count "$box")" -ge "$TOTAL" ] && queue_empty; } || ! mta_running'
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "the queue drained"

# ---- every message once, byte-exact -------------------------------------
res=$($PY - "$box" "$T/sent" <<'EOF'
import sys, random
from smtpraw import check_eq
from mailcheck import maildir_messages, make_message, tally_delivered
box, sentfile = sys.argv[1:]
sent = set(open(sentfile).read().split())
msgs = maildir_messages(box)
tokens, bad, dups = tally_delivered(msgs, "user21@test.example", lambda tok:
    make_message(tok, random.Random(tok).randint(1500, 6000),
                 to="user21@test.example"))
print("# delivered=%d distinct=%d duplicates=%d" % (len(msgs), len(tokens), dups))
check_eq("500 messages in the Maildir", len(msgs), 500)
check_eq("no duplicates", dups, 0)
check_eq("every accepted message delivered", sorted(sent - set(tokens)), [])
check_eq("nothing delivered that was not sent", sorted(set(tokens) - sent, key=str), [])
check_eq("every message byte-exact (trace fields, then as sent)", bad[:5], [])
EOF
)
tap_from "$res"

# ---- the log alone shows the overlap -------------------------------------
res=$($PY - "$MTA_LOG" <<'EOF'
from smtpraw import check, check_eq
from mailcheck import log_overlap
import sys
o = log_overlap(sys.argv[1], "<user21@test.example>")
print("# sessions=%(sessions)d deliveries=%(deliveries)d; deliveries during a "
      "session: %(with_session)d; deliveries overlapping another delivery: "
      "%(with_delivery)d; at most %(peak_deliveries)d deliveries and "
      "%(peak_sessions)d sessions at once" % o)
check_eq("log: 50 sessions with mail, each connect..disconnect", o["sessions"], 50)
check_eq("log: 500 deliveries to user21, each delivery-start..delivered", o["deliveries"], 500)
check_eq("log: sessions overlapped each other", o["peak_sessions"] > 1, True)
check_eq("log: a delivery ran while a session was open", o["with_session"] >= 1, True)
check_eq("log: several deliveries overlapped each other (>= 3 at once)", o["peak_deliveries"] >= 3, True)
EOF
)
tap_from "$res"

is "$(log_count ' (deferred|failed|quarantine|queue-error|sched-error) ')" 0 \
	"log: nothing deferred, failed or quarantined"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
