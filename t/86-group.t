#!/bin/bash
# t/86-group.t - grouped recipients (issue 17, transport.h "Grouping"): a
#   message to many recipients at one next hop goes in one SMTP
#   transaction with one RCPT each, not one transaction per recipient:
#   10 recipients at a relay domain arrive as one transaction, 150 as
#   two over one connection (100 and 50: at most 100 RCPTs a
#   transaction, what RFC 5321 4.5.3.1.8 obliges every server to take)
#   each, in the envelope's order;
#   a peer that takes at most 4 recipients per transaction (452 4.5.3 to
#   the 5th) gets the rest in next transactions on the same connection,
#   and every recipient once;
#   each recipient's outcome goes to its own job: one refused with 550
#   is bounced alone, one refused with 451 is retried alone and
#   delivered, the others are done once, never sent again;
#   a message whose jobs wait in the line of a full next hop
#   (--max-per-dest 1, a slow peer) still goes in one transaction when
#   the slot comes free: the siblings parked behind the first ride along
#   (scheduler_outcome.c riders_go).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 41

# fresh addresses: 127.0.0.21-24 (no other test uses them)
PEER_WANT=$(free_port_on 127.0.0.21) peer_start a 127.0.0.21 ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
A=$PEER_DIR PA=$PEER_PORT
PEER_WANT=$(free_port_on 127.0.0.22) peer_start b 127.0.0.22 --wire --max-rcpt 4 ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
B=$PEER_DIR PB=$PEER_PORT
PEER_WANT=$(free_port_on 127.0.0.23) peer_start c 127.0.0.23 \
	--refuse '^r3@=550 5.1.1 no such user' --defer-first 1 --defer-match '^r5@' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
C=$PEER_DIR PC=$PEER_PORT
start_mta --retry 1 --attempts 5 --route "a.example=127.0.0.21:$PA" \
	--route "b.example=127.0.0.22:$PB" --route "c.example=127.0.0.23:$PC" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
BOX=$MTA_MAIL/user

msg() { printf 'From: <user@test.example>\nSubject: %s\n\nbody %s\n' "$1" "$1"; }
rcpts() { local i; for i in $(seq "$2"); do printf 'r%s@%s\n' "$i" "$1"; done; }
# every recipient a sink stored, one a line, in the order stored
stored() {
	$PY - "$1" <<'PYEOF'
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    for r in json.load(open(f))["rcpt_tos"]:
        print(r)
PYEOF
}
# the number of recipients of each transaction a sink stored
sizes() {
	$PY - "$1" <<'PYEOF'
import glob, json, sys
print(" ".join(str(len(json.load(open(f))["rcpt_tos"]))
               for f in sorted(glob.glob(sys.argv[1] + "/*.json"))))
PYEOF
}

# ---- 10 recipients, one transaction ------------------------------------
r=$(msg ten | inject "$MTA_PORT" user@test.example $(rcpts a.example 10))
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "10 recipients: queued"
peer_wait "$A" 1 15; ok $? "10 recipients: relayed"
wait_until 10 queue_empty; ok $? "10 recipients: queue empty"
is "$(peer_count "$A")" 1 "10 recipients: one transaction"
is "$(sizes "$A")" 10 "10 recipients: all ten in it"
is "$(stored "$A" | tr '\n' ' ')" "$(rcpts a.example 10 | tr '\n' ' ')" \
	"10 recipients: in the envelope's order"
is "$(peer_events "$A" '^mail ' | wc -l | tr -d ' ')" 1 "10 recipients: one MAIL"
is "$(log_count "delivery-group id=$id rcpts=10 via=smtp ")" 1 \
	"10 recipients: one grouped delivery logged"
is "$(log_count "delivered id=$id ")" 10 "10 recipients: each delivered, logged"

# ---- 150 recipients ------------------------------------------------------
r=$(msg many | inject "$MTA_PORT" user@test.example $(rcpts a.example 150))
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "150 recipients: queued"
peer_wait "$A" 3 20; ok $? "150 recipients: relayed"
wait_until 10 queue_empty; ok $? "150 recipients: queue empty"
is "$(peer_count "$A")" 3 "150 recipients: two transactions"
is "$(sizes "$A")" "10 100 50" "150 recipients: 100, then 50"
is "$( (peer_json "$A" 2 rcpt_tos; peer_json "$A" 3 rcpt_tos) | sort -u | wc -l | tr -d ' ')" 150 \
	"150 recipients: each once"
is "$(log_count "delivery-group id=$id rcpts=150 via=smtp ")" 1 \
	"150 recipients: one grouped delivery, one connection"
is "$(log_count "delivered id=$id ")" 150 "150 recipients: each delivered, logged"

# ---- 452 4.5.3 to the 5th RCPT: the rest in next transactions ------------
r=$(msg limited | inject "$MTA_PORT" user@test.example $(rcpts b.example 10))
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "a peer's limit of 4: queued"
peer_wait "$B" 3 15; ok $? "a peer's limit of 4: relayed"
wait_until 10 queue_empty; ok $? "a peer's limit of 4: queue empty"
is "$(sizes "$B")" "4 4 2" "a peer's limit of 4: three transactions of 4, 4 and 2"
is "$(stored "$B" | sort | tr '\n' ' ')" "$(rcpts b.example 10 | sort | tr '\n' ' ')" \
	"a peer's limit of 4: every recipient once"
is "$(grep -al '^MAIL FROM' "$B"/wire.* | wc -l | tr -d ' ')" 1 \
	"a peer's limit of 4: all over one connection"
is "$(peer_events "$B" ' 452$' | wc -l | tr -d ' ')" 8 "a peer's limit of 4: 6 + 2 refused as too many"
is "$(log_count "(retry|deferred) id=$id ")" 0 "a peer's limit of 4: nothing deferred"

# ---- 550 for one, 451 for another: each to its own job ------------------
r=$(msg mixed | inject "$MTA_PORT" user@test.example $(rcpts c.example 6))
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "550 and 451: queued"
peer_wait "$C" 2 20; ok $? "550 and 451: two transactions stored"
wait_until 10 queue_empty; ok $? "550 and 451: queue empty"
is "$(sizes "$C")" "4 1" "550 and 451: four at once, then the deferred one alone"
is "$(stored "$C" | tr '\n' ' ')" "r1@c.example r2@c.example r4@c.example r6@c.example r5@c.example " \
	"550 and 451: each delivered once, the deferred one last"
is "$(log_count "retry id=$id ")" 1 "550 and 451: one retry"
like "$(logline "retry id=$id ")" 'rcpt=<r5@c\.example> attempt=1 ' "550 and 451: of the 451's recipient, counted"
is "$(log_count "failed-rcpt id=$id ")" 1 "550 and 451: one recipient failed"
maildir_wait "$BOX" 1 10; ok $? "550 and 451: a bounce came"
b=$(maildir_files "$BOX" | head -1)
grep -q 'r3@c\.example' "$b" && ! grep -Eq 'r[124567]@c\.example' "$b"
ok $? "550 and 451: the bounce names r3 only"

# ---- parked siblings ride along ----------------------------------------
PEER_WANT=$(free_port_on 127.0.0.24) peer_start d 127.0.0.24 --hold 2 ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
D=$PEER_DIR PD=$PEER_PORT
stop_mta >/dev/null
MTA_DIR=$T/line start_mta --retry 300 --max-per-dest 1 --route "d.example=127.0.0.24:$PD" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
r=$(msg slow | inject "$MTA_PORT" user@test.example slow@d.example)
like "$(queued_id "$r")" '^[A-Za-z0-9]+$' "line: a slow message holds the hop's one slot"
wait_log 10 'delivery-start id=.* rcpt=<slow@d\.example>'
r=$(msg parked | inject "$MTA_PORT" user@test.example $(rcpts d.example 6))
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "line: six recipients queued behind it"
peer_wait "$D" 2 20; ok $? "line: both relayed"
wait_until 10 queue_empty; ok $? "line: queue empty"
is "$(log_count "delivery-busy id=$id ")" 6 "line: all six waited in the hop's line"
is "$(sizes "$D")" "1 6" "line: then one transaction carried the six"
done_testing
