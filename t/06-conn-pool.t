#!/bin/bash
# t/06-conn-pool.t - connection threads stay alive between clients: after
# a session its thread (named mta-conn) waits for the next client instead
# of exiting, sessions one after another run on that same thread, a
# burst of clients at once gets a thread each and the threads are then
# reused, idle threads end by themselves after 10 s, and a daemon with
# threads waiting stops at once on SIGTERM.  Every message is delivered.
. "$(dirname "$0")/lib/common.sh"

plan 12

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }

conn_tids() { thread_ids mta-conn; }
ntids() { printf '%s' "$(conn_tids)" | wc -w | tr -d ' '; }

# send N - one session with message N to alice; its exit status
send() {
	swaks --server "127.0.0.1:$MTA_PORT" --helo client.example \
		--from sender@example.org --to alice@test.example \
		--header "Subject: t89 $1" --timeout 10 > "$T/swaks.$1" 2>&1
}

# start_mta's probe of the port was the first client
wait_for 5 eval '[ "$(ntids)" = 1 ]'
first=$(conn_tids)
send 1; ok $? "session 1: message accepted"
is "$(ntids)" 1 "one thread, waiting for the next client after each"
is "$(conn_tids)" "$first" "session 1 ran on the thread of the client before it"
same=0
for n in 2 3 4; do
	send "$n" && [ "$(conn_tids)" = "$first" ] && same=$((same + 1))
done
is "$same" 3 "sessions 2-4 ran on the same thread, no new one"

# A burst: 6 clients connected at once, each sending in turn while all
# six stay open; then all quit.
res=$($PY - "$MTA_PORT" <<'PYEOF'
import smtplib, sys
port = int(sys.argv[1])
conns = [smtplib.SMTP("127.0.0.1", port, timeout=10) for _ in range(6)]
for i, c in enumerate(conns):
    c.sendmail("sender@example.org", ["alice@test.example"],
               "Subject: t89 burst %d\r\n\r\nbody\r\n" % i)
for c in conns:
    c.quit()
print(len(conns))
PYEOF
)
is "$res" 6 "a burst of six sessions at once: all accepted"
wait_for 5 eval '[ "$(ntids)" -ge 6 ]'
burst=$(ntids)
ok "$([ "$burst" -ge 6 ] && [ "$burst" -le 7 ]; echo $?)" "the burst had a thread each, kept waiting after ($burst)"
send 5
is "$(ntids)" "$burst" "the next session took a waiting thread: none started"

wait_for 15 eval 'maildir_count "$MTA_MAIL/alice" | grep -qx 11'
is "$(maildir_count "$MTA_MAIL/alice")" 11 "all eleven delivered"
wait_for 20 eval '[ -z "$(conn_tids)" ]'
is "$(conn_tids)" "" "the idle threads ended by themselves"
send 6; ok $? "a session after that starts a thread again"
# its thread has just begun its 10 s wait for the next client
t0=$(date +%s%N)
is "$(stop_mta)" 0 "SIGTERM with a thread waiting for a client: exit 0"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "$([ "$took" -lt 5000 ]; echo $?)" "and at once, not after the thread's idle time (${took} ms)"
done_testing
