#!/bin/bash
# t/32-transport-limits.t - the scheduler checks its limits before it
# starts a delivery (transport.h, destlimit.h, mta-smtpd(8)
# --max-deliveries, --dead-hop-time):
#   a tarpit smarthost (Postfix's smtp-sink -W CONNECT:60: accepts, never
#     greets in time) behind the "*" route, eight recipients at eight
#     domains: smtp takes at most 3 of --max-deliveries 4, the others wait
#     (transport-busy), and a local message is delivered at once, while
#     every smtp delivery still sits in the tarpit;
#   then the tarpit's silence marks the next hop dead (hop-dead): the
#     waiting jobs are deferred at once, not counted as attempts;
#   four mboxes kept locked by another program: local takes at most 3 of
#     4 deliveries, and a remote message is relayed while they wait;
#   a smarthost that refuses connections, --max-per-dest 1: one attempt
#     connects, the other jobs for it are deferred without a connection,
#     uncounted, and so is a new message for it.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 27

msg() { printf 'From: <user@test.example>\nSubject: %s\n\nbody %s\n' "$1" "$1"; }
remote_rcpts() { for i in 1 2 3 4 5 6 7 8; do printf 'r%s@d%s.example ' "$i" "$i"; done; }

# ---- a tarpit smarthost never delays local delivery ----------------------
TP=$(free_port_on 127.0.0.4)
smtpsink_start 127.0.0.4 "$TP" -W CONNECT:60 || { echo "Bail out! smtp-sink did not start"; exit 1; }
MTA_DIR=$T/a start_mta --max-deliveries 4 --smtp-timeout 15 --retry 300 \
	--route "*=127.0.0.4:$TP" || { echo "Bail out! mta-smtpd did not start"; exit 1; }
# shellcheck disable=SC2046
r=$(msg tarpit | inject "$MTA_PORT" user@test.example $(remote_rcpts))
tid=$(queued_id "$r")
like "$tid" '^[A-Za-z0-9]+$' "eight remote recipients behind one tarpit smarthost queued"
_three() { [ "$(log_count "delivery-start id=$tid ")" -ge 3 ]; }
wait_until 10 _three; ok $? "three smtp deliveries started"
r=$(msg local | inject "$MTA_PORT" user@test.example user@test.example)
lid=$(queued_id "$r")
wait_log 10 " delivered id=$lid rcpt=<user@test\.example> via=local "
ok $? "the local message is delivered"
is "$(log_count "(deferred|failed|delivered) id=$tid ")" 0 \
	"... while every smtp delivery still sits in the tarpit"
is "$(log_count "delivery-start id=$tid ")" 3 "smtp took 3 of --max-deliveries 4, no more"
like "$(log_count "transport-busy id=$tid rcpt=<r[0-9]@d[0-9]\.example> via=smtp$")" '^[1-9]' \
	"the other smtp jobs waited for the transport (logged transport-busy)"
# the tarpit stays silent: the next hop is dead, the waiting jobs go at once
wait_log 40 "hop-dead hop=127\.0\.0\.4:$TP seconds=60 "; ok $? "the silent smarthost is marked dead"
_eight() { [ "$(log_count "retry id=$tid ")" -ge 8 ]; }
wait_until 30 _eight; ok $? "all eight deferred"
is "$(log_count "relay-attempt rcpt=<r[0-9]@d[0-9]\.example> mx=127\.0\.0\.4 ")" 3 \
	"only the three deliveries under way paid the time-out"
is "$(log_count "deferred id=$tid rcpt=<r[0-9]@d[0-9]\.example> via=smtp time=0ms error=\"Not tried: next hop 127\.0\.0\.4:$TP did not answer lately")" 5 \
	"the five others: deferred at once, saying why"
is "$(log_count "retry id=$tid rcpt=<r[0-9]@d[0-9]\.example> attempt=0 uncounted=dead-hop ")" 5 \
	"... and not counted as attempts"
is "$(cat "$MTA_QUEUE"/rcpt/*."$tid".* | grep -c '^attempts 1$')" 3 "three job files record an attempt"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- locked mboxes never delay remote delivery ---------------------------
P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start good 127.0.0.2 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
GOOD=$PEER_DIR
MTA_DIR=$T/b start_mta --mbox --mbox-lock-wait 30 --max-deliveries 4 --retry 300 \
	--route "remote.example=127.0.0.2:$P" || { echo "Bail out! mta-smtpd did not start"; exit 1; }
for u in bob carol dave erin; do : >"$MTA_MAIL/$u"; done
# the reader: fcntl locks on four mboxes until $T/release appears (90 s at most)
$PY - "$MTA_MAIL" "$T/locked" "$T/release" <<'PYEOF' &
import fcntl, os, sys, time
root, status, release = sys.argv[1:4]
held = []
for u in ("bob", "carol", "dave", "erin"):
    f = open(os.path.join(root, u), "rb+")
    fcntl.lockf(f, fcntl.LOCK_EX)
    held.append(f)
open(status, "w").write("locked\n")
end = time.time() + 90
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.05)
for f in held:
    fcntl.lockf(f, fcntl.LOCK_UN)
open(status, "a").write("unlocked\n")
PYEOF
track $!
wait_for 10 test -s "$T/locked"
is "$(cat "$T/locked" 2>/dev/null)" locked "another program holds four mboxes locked"
ids=
for u in bob carol dave erin; do
	ids="$ids $(queued_id "$(msg "$u" | inject "$MTA_PORT" user@test.example "$u@test.example")")"
done
_three_local() { [ "$(log_count "delivery-start id=[^ ]+ rcpt=<(bob|carol|dave|erin)@test\.example>")" -ge 3 ]; }
wait_until 10 _three_local; ok $? "three local deliveries wait for their locks"
r=$(msg remote | inject "$MTA_PORT" user@test.example far@remote.example)
rid=$(queued_id "$r")
wait_log 10 " delivered id=$rid rcpt=<far@remote\.example> via=smtp "
ok $? "a remote message is relayed"
is "$(log_count "(deferred|delivered) id=[^ ]+ rcpt=<(bob|carol|dave|erin)@")" 0 \
	"... while every local delivery still waits for its lock"
is "$(log_count "delivery-start id=[^ ]+ rcpt=<(bob|carol|dave|erin)@test\.example>")" 3 \
	"local took 3 of --max-deliveries 4, no more"
is "$(log_count "transport-busy id=[^ ]+ rcpt=<(bob|carol|dave|erin)@test\.example> via=local$")" 1 \
	"the fourth waited for the transport"
touch "$T/release"
_all_local() { [ "$(log_count " delivered id=[^ ]+ rcpt=<(bob|carol|dave|erin)@test\.example> via=local ")" -ge 4 ]; }
wait_until 60 _all_local; ok $? "unlocked: all four delivered"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- a dead next hop: remembered, its jobs deferred without a connection --
DEAD=$(free_port_on 127.0.0.2)      # nothing listens there
MTA_DIR=$T/c start_mta --max-per-dest 1 --retry 300 --route "*=127.0.0.2:$DEAD" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
r=$(msg dead | inject "$MTA_PORT" user@test.example a@one.example b@two.example \
	c@three.example d@four.example)
did=$(queued_id "$r")
_four() { [ "$(log_count "retry id=$did ")" -ge 4 ]; }
wait_until 20 _four; ok $? "four recipients behind a refusing smarthost: all deferred"
is "$(log_count "relay-attempt rcpt=<[a-d]@[a-z]+\.example> mx=127\.0\.0\.2 ")" 1 \
	"one connection was tried"
is "$(log_count "retry id=$did rcpt=<[a-d]@[a-z]+\.example> attempt=0 uncounted=dead-hop ")" 3 \
	"the other three: not tried, not counted"
r=$(msg later | inject "$MTA_PORT" user@test.example e@five.example)
eid=$(queued_id "$r")
wait_log 20 "retry id=$eid rcpt=<e@five\.example> attempt=0 uncounted=dead-hop "
ok $? "a new message for the dead hop: deferred at once, not counted"
is "$(log_count "relay-attempt ")" 1 "... still without a connection"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
