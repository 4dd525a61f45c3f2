#!/bin/bash
# t/43-bounce.t - permanent failures (DESIGN.md 6, bounce.h): a 5xx at
# RCPT or at the end of DATA gives the sender an RFC 3464 DSN at once
# (no retry is waited for: --retry 300), from <> and MAILER-DAEMON,
# Auto-Submitted, multipart/report with its three parts, quoting the
# remote reply; several recipients that fail together share one report;
# a message over the server's SIZE fails here, before MAIL (5.3.4);
# a failing message from <> is logged and dropped, never bounced (also
# when it is itself a bounce that cannot be delivered); a huge original
# header is cut, the report stays well-formed.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 190

P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start rej 127.0.0.2 \
	--refuse '^nosuch=550 5.1.1 <nosuch>: Recipient address rejected: no such user' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
REJ=$PEER_DIR
PEER_WANT=$P peer_start dataref 127.0.0.3 --data-reply '554 5.6.0 Message content rejected' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
DREF=$PEER_DIR
PEER_WANT=$P peer_start small 127.0.0.4 --size 2000 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
SMALL=$PEER_DIR
start_mta --smtp-port "$P" --retry 300 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
BOX=$MTA_MAIL/user

all_mail() { find "$MTA_MAIL" -type f -path '*/new/*' | wc -l | tr -d ' '; }

# ---- 5xx at RCPT ----------------------------------------------------------
start=$(date +%s.%N)
r=$(user_msg rcpt5xx | inject "$MTA_PORT" user@test.example 'nosuch@[127.0.0.2]')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "rcpt 5xx: queued"
maildir_wait "$BOX" 1 10; ok $? "rcpt 5xx: a bounce in the sender's Maildir"
took=$($PY -c "import time; print('%.1f' % (time.time() - $start))")
is "$($PY -c "print(int($took < 5))")" 1 "rcpt 5xx: within 5 s (${took}s; --retry is 300)"
is "$(log_count "delivery-start id=$id ")" 1 "rcpt 5xx: one attempt only"
is "$(log_count "retry id=$id ")" 0 "rcpt 5xx: no retry"
f=$(maildir_files "$BOX" | tail -1)
tap_from "$(dsn_check "$f" --name rcpt-dsn --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: rcpt5xx' --orig-header 'Message-ID: <rcpt5xx@client.test>' \
	--orig-header 'Received: from client.test' --not-in-headers 'body rcpt5xx' \
	--rcpt 'nosuch@[127.0.0.2]' --status '^5\.1\.1$' \
	--diag '^smtp; 550 5\.1\.1 <nosuch>: Recipient address rejected: no such user$' \
	--remote '^dns; .*127\.0\.0\.2')"
like "$(sed -n 2p "$f")" '^Delivered-To: user@test.example$' "rcpt-dsn: Delivered-To the sender"
bid=$(sed -n 's/^Message-ID: <\([A-Za-z0-9]*\)@.*/\1/p' "$f" | head -1)
like "$(grep "bounce id=$id " "$MTA_LOG")" 'to=<user@test.example> rcpts=1' "rcpt 5xx: logged: bounce"
like "$(grep "delivery-start id=$bid " "$MTA_LOG")" 'from=<>' "rcpt 5xx: the bounce travels from <>"
wait_until 10 queue_empty; ok $? "rcpt 5xx: queue empty"

# ---- several recipients, some failing: one report -------------------------
r=$(user_msg several | inject "$MTA_PORT" user@test.example 'nosuch1@[127.0.0.2]' \
	'fine@[127.0.0.2]' 'nosuch2@[127.0.0.2]' 'user2@test.example')
id=$(queued_id "$r")
maildir_wait "$BOX" 2 10; ok $? "several: a bounce"
wait_until 10 queue_empty; ok $? "several: queue empty"
is "$(maildir_count "$BOX")" 2 "several: exactly one bounce for both failures"
is "$(peer_json "$REJ" 0 rcpt_tos)" 'fine@[127.0.0.2]' "several: the good remote one delivered"
is "$(maildir_count "$MTA_MAIL/user2")" 1 "several: the local one delivered"
f=$(maildir_files "$BOX" | tail -1)
tap_from "$(dsn_check "$f" --name several-dsn --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: several' \
	--rcpt 'nosuch1@[127.0.0.2]' --status '^5\.1\.1$' --diag '550 5\.1\.1' \
	--rcpt 'nosuch2@[127.0.0.2]' --status '^5\.1\.1$' --diag '550 5\.1\.1')"
lacks 'fine@' "$f"; ok $? "several-dsn: the delivered recipient is not in it"

# ---- 5xx at the end of DATA -------------------------------------------------
r=$(user_msg data5xx | inject "$MTA_PORT" user@test.example 'z@[127.0.0.3]')
id=$(queued_id "$r")
maildir_wait "$BOX" 3 10; ok $? "data 5xx: a bounce"
f=$(maildir_files "$BOX" | tail -1)
tap_from "$(dsn_check "$f" --name data-dsn --sender user@test.example --orig-id "$id" \
	--rcpt 'z@[127.0.0.3]' --status '^5\.6\.0$' \
	--diag '^smtp; 554 5\.6\.0 Message content rejected$' --remote '127\.0\.0\.3')"
is "$(peer_events "$DREF" '^data' | wc -l | tr -d ' ')" 1 "data 5xx: one attempt"

# ---- bigger than the server's SIZE: refused here, before MAIL ---------------
r=$({ printf 'From: <user@test.example>\nSubject: toobig\n\n'; $PY -c 'print(("y" * 70 + "\n") * 100, end="")'; } |
	inject "$MTA_PORT" user@test.example 'big@[127.0.0.4]')
id=$(queued_id "$r")
maildir_wait "$BOX" 4 10; ok $? "over SIZE: a bounce"
f=$(maildir_files "$BOX" | tail -1)
tap_from "$(dsn_check "$f" --name size-dsn --sender user@test.example --orig-id "$id" \
	--rcpt 'big@[127.0.0.4]' --status '^5\.3\.4$' --diag - --remote -)"
grep -q '\[127.0.0.4\]: message size [0-9]* exceeds .*limit of 2000' "$f"; ok $? "size-dsn: the text names the server and its limit"
is "$(peer_events "$SMALL" '^(mail|rcpt|data)' | wc -l | tr -d ' ')" 0 \
	"over SIZE: not even a MAIL FROM sent"

# ---- a message from <> that fails: dropped, not bounced --------------------
before=$(all_mail)
r=$(printf 'From: Someone <someone@test.example>\nSubject: nullsender\n\nbody\n' |
	inject "$MTA_PORT" '' 'nosuch3@[127.0.0.2]')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "null sender: queued"
wait_log 10 "bounce-dropped id=$id "; ok $? "null sender: logged as bounce-dropped"
wait_until 10 queue_empty; ok $? "null sender: queue empty"
is "$(log_count "(bounce|explode) id=$id .*to=")" 0 "null sender: no bounce made"
# (no sleep: the queue is empty, so nothing is left to deliver)
is "$(all_mail)" "$before" "null sender: no new mail anywhere"
mta_alive; ok $? "null sender: daemon fine"

# ---- a bounce that bounces -------------------------------------------------
before=$(all_mail)
r=$(printf 'From: <nosuch4@[127.0.0.2]>\nSubject: double\n\nbody\n' |
	inject "$MTA_PORT" 'nosuch4@[127.0.0.2]' 'nosuch5@[127.0.0.2]')
id=$(queued_id "$r")
wait_log 10 "bounce id=$id to=<nosuch4@\[127\.0\.0\.2\]>"; ok $? "double: the first failure is bounced to its remote sender"
wait_log 10 "bounce-dropped "; ok $? "double: the bounce's failure is dropped"
wait_until 10 queue_empty; ok $? "double: queue empty"
bid=$(grep "explode id=.* from=<>" "$MTA_LOG" | tail -1 | sed 's/.* id=\([A-Za-z0-9]*\) .*/\1/')
like "$(grep "bounce-dropped id=$bid " "$MTA_LOG")" 'rcpt=<nosuch4@\[127\.0\.0\.2\]> reason=null-sender' \
	"double: it is the bounce that was dropped"
is "$(log_count "bounce id=$bid ")" 0 "double: no bounce of the bounce"
is "$(peer_events "$REJ" '^rcpt nosuch[45]@' | tr '\n' '|')" \
	'rcpt nosuch5@[127.0.0.2] 550|rcpt nosuch4@[127.0.0.2] 550|' \
	"double: the message, then its bounce, each tried once"
# (no sleep: the queue is empty, so nothing is left to deliver)
is "$(all_mail)" "$before" "double: nothing delivered locally"
mta_alive; ok $? "double: daemon fine"

# ---- a huge original header -------------------------------------------------
$PY -c 'import sys
sys.stdout.write("From: <user@test.example>\nSubject: huge\n")
for i in range(3000):
    sys.stdout.write("X-Filler-%04d: %s\n" % (i, "f" * 60))
sys.stdout.write("\nbody huge\n")' >"$T/huge.eml"
r=$(inject "$MTA_PORT" user@test.example 'nosuch6@[127.0.0.2]' <"$T/huge.eml")
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "huge header: queued"
maildir_wait "$BOX" 5 10; ok $? "huge header: a bounce"
f=$(maildir_files "$BOX" | tail -1)
tap_from "$(dsn_check "$f" --name huge-dsn --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: huge' --orig-header 'X-Filler-0000:' --not-in-headers 'body huge' \
	--rcpt 'nosuch6@[127.0.0.2]' --status '^5\.1\.1$')"
size=$(wc -c <"$f")
[ "$size" -lt 100000 ]; ok $? "huge-dsn: the header copy is limited ($size bytes)"

is "$(stop_mta)" 0 "SIGTERM: exit 0"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue empty at the end"
done_testing
