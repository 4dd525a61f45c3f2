#!/bin/bash
# t/34-line-release.t - jobs waiting in a next hop's line are let go one
# per free slot.  With another program holding the lock of an mbox, 40
# messages to it pile up: 2 deliveries wait for the lock, the rest wait
# in the mailbox's line.  Once the lock is let go, all are delivered, and
# each job waited in the line about once (its delivery-busy lines), not
# once per delivery that ended before its turn: a line let go whole at
# every free slot sent all but one job back into it, each routed again,
# a cost that grew with the square of the line.  Then the same for a
# Maildir with fast deliveries: many end in one batch, and each frees one
# slot, not one more per delivery that ended before it in the batch.
. "$(dirname "$0")/lib/common.sh"

plan 9
N=40

start_mta --mbox --mbox-lock-wait 60 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
BOX=$MTA_MAIL/line34
: >"$BOX"
mbox_lock_hold "$BOX" 60
out=$($PY - "$MTA_PORT" "$N" <<'PYEOF'
import smtplib, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
for i in range(n):
    s.sendmail("a@example.org", ["line34@test.example"],
               "Subject: %d\r\n\r\nmessage %d\r\n" % (i, i))
s.quit()
print(n)
PYEOF
)
is "$out" "$N" "$N messages accepted while the mbox is locked"
# all but the two that wait for the lock are in the line
wait_for 20 eval '[ "$(log_count " delivery-busy .*dest=local:line34")" -ge $((N - 2)) ]'
ok $? "the jobs wait in the mailbox's line"
touch "$T/release"
wait_for 60 eval '[ "$(grep -c "^From " "$BOX")" = "$N" ]'
is "$(grep -c '^From ' "$BOX")" "$N" "all $N delivered once the lock is let go"
busy=$(log_count " delivery-busy .*dest=local:line34")
diag "delivery-busy lines: $busy for $N messages"
ok "$([ "$busy" -le $((2 * N)) ]; echo $?)" \
	"each job waited in the line about once ($busy delivery-busy lines, at most $((2 * N)))"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- a Maildir: many deliveries end in one batch ------------------------------------
M=400
start_mta --max-per-mailbox 3 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
out=$($PY - "$MTA_PORT" "$M" <<'PYEOF'
import smtplib, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
sent = []
def client(k):
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    for i in range(k, n, 8):
        s.sendmail("a@example.org", ["fast34@test.example"],
                   "Subject: %d\r\n\r\nmessage %d\r\n" % (i, i))
        sent.append(i)
    s.quit()
ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(len(sent))
PYEOF
)
is "$out" "$M" "$M messages to one Maildir accepted over 8 connections"
wait_for 60 eval '[ "$(maildir_count "$MTA_MAIL/fast34")" = "$M" ]'
is "$(maildir_count "$MTA_MAIL/fast34")" "$M" "all $M delivered"
busy=$(log_count " delivery-busy .*dest=local:fast34")
diag "delivery-busy lines: $busy for $M messages (3 at a time)"
ok "$([ "$busy" -le "$M" ]; echo $?)" \
	"no job waited in the line twice ($busy delivery-busy lines, at most $M)"
is "$(stop_mta)" 0 "SIGTERM exit 0"

done_testing
