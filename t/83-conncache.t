#!/bin/bash
# t/83-conncache.t - SMTP connections kept between deliveries (conncache.h):
#   three messages to one server, one after the other, go over one
#   connection, which gets its QUIT once it has been idle for a while;
#   a kept connection that the server has closed meanwhile (smtp-sink -t 1
#   drops a client silent for a second) costs nothing: the next message
#   goes out at once over a new connection, with no failed attempt and no
#   deferral;
#   SIGTERM says QUIT on the connections still kept.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 23

P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start keep 127.0.0.2 --wire || { echo "Bail out! aiosmtpd did not start"; exit 1; }
SINK=$PEER_DIR
SP=$(free_port_on 127.0.0.3)
smtpsink_start 127.0.0.3 "$SP" -t 1 || { echo "Bail out! smtp-sink did not start"; exit 1; }
start_mta --smtp-port "$P" --retry 300 --route "stale.example=127.0.0.3:$SP" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# wire files (one per connection) that carried a transaction
conns() { grep -al '^MAIL FROM' "$SINK"/wire.* 2>/dev/null | wc -l | tr -d ' '; }
quit_on_all() {
	local w
	for w in $(grep -al '^MAIL FROM' "$SINK"/wire.*); do
		grep -aq '^QUIT' "$w" || return 1
	done
}

# ---- three messages, one connection --------------------------------------
for k in 1 2 3; do
	r=$(printf 'From: <user@test.example>\nSubject: k%s\n\nbody %s\n' $k $k |
		inject "$MTA_PORT" user@test.example "keep@[127.0.0.2]")
	like "$r" '^250 ' "message $k queued"
	peer_wait "$SINK" $k 10; ok $? "message $k relayed"
done
is "$(conns)" 1 "three messages went over one connection"
is "$(cat "$SINK"/wire.* | grep -ac '^MAIL FROM')" 3 "it carried three transactions"
wait_until 20 quit_on_all; ok $? "the idle connection got its QUIT"

# ---- a kept connection the server closed -----------------------------------
r=$(printf 'Subject: s1\n\nx\n' | inject "$MTA_PORT" user@test.example s1@stale.example)
like "$r" '^250 ' "stale.example: first message queued"
wait_log 10 'relayed rcpt=<s1@stale\.example>'; ok $? "first message relayed"
# smtp-sink drops the kept connection after 1 s: wait until it has
sink_dropped() { [ -z "$(ss -Htn state established dst "127.0.0.3:$SP")" ]; }
wait_for 10 sink_dropped; ok $? "smtp-sink dropped the kept connection"
r=$(printf 'Subject: s2\n\nx\n' | inject "$MTA_PORT" user@test.example s2@stale.example)
like "$r" '^250 ' "stale.example: second message queued"
wait_log 10 'relayed rcpt=<s2@stale\.example>'; ok $? "second message relayed over a new connection"
is "$(log_count 'relay-stale .*addr=127\.0\.0\.3')" 1 "the kept connection was found closed, once"
is "$(log_count 'relay-attempt rcpt=<s2@stale')" 0 "no failed attempt was logged for it"
is "$(count_files "$MTA_QUEUE/rcpt")" 0 "nothing deferred"

# ---- a kept connection that owes a RSET, closed by the server -------------
PEER_WANT=$P peer_start refusing 127.0.0.4 --refuse '^no@=550 5.1.1 no such user' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
r=$(printf 'Subject: n\n\nx\n' | inject "$MTA_PORT" user@test.example "no@[127.0.0.4]")
wait_log 10 'failed-rcpt .*rcpt=<no@\[127\.0\.0\.4\]>'; ok $? "a refused recipient: its connection is kept, owing a RSET"
kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null
PEER_WANT=$P peer_start refusing2 127.0.0.4 || { echo "Bail out! aiosmtpd did not restart"; exit 1; }
r=$(printf 'From: <user@test.example>\nSubject: y\n\nx\n' | inject "$MTA_PORT" user@test.example "yes@[127.0.0.4]")
peer_wait "$PEER_DIR" 1 15; ok $? "the next message, after the server restarted, arrives"
is "$(log_count 'relay-stale .*addr=127\.0\.0\.4')" 1 "its RSET found the kept connection closed: a new one, at once"

# ---- SIGTERM ---------------------------------------------------------------
r=$(printf 'From: <user@test.example>\nSubject: k4\n\nbody 4\n' |
	inject "$MTA_PORT" user@test.example "keep@[127.0.0.2]")
peer_wait "$SINK" 4 10; ok $? "one more message relayed"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
quit_on_all; ok $? "SIGTERM: the kept connection got its QUIT"
done_testing
