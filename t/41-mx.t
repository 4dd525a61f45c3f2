#!/bin/bash
# t/41-mx.t - MX routing (RFC 5321 5.1, RFC 7505) against dnsmasq serving
# the records from its command line on a loopback port (--dns):
#   two MX, the preferred one dead (nothing listens) -> the second one;
#   preference order, whatever order the answer lists them in;
#   equal preferences: all used (spread over many deliveries);
#   no MX but an A record -> the domain itself;
#   null MX, NXDOMAIN, no MX and no address, MX hosts without address ->
#     permanent at once: one bounce for them all, without a retry;
#   DNS refusing to answer -> temporary: the job waits in queue/rcpt;
#   300 MX records (a 27 KB answer, over TCP), the most preferred listed
#   last -> delivered through it.
# Every MX host listens (or not) on the same --smtp-port, on 127.0.0.x.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 72

P=$(free_port_on 127.0.0.3)
PEER_WANT=$P peer_start good 127.0.0.3 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
GOOD=$PEER_DIR
PEER_WANT=$P peer_start other 127.0.0.6 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
OTHER=$PEER_DIR
# 127.0.0.5:$P stays dead: nothing ever listens there
long=$(printf 'a%.0s' $(seq 60))
big=
for i in $(seq 299); do big="$big --mx-host=big.example,mx$i.$long.example,$((100 + i))"; done
# shellcheck disable=SC2086
if ! dns_start --local=/example/ $big \
	--mx-host=big.example,best.big.example,1 \
	--host-record=best.big.example,127.0.0.3 \
	--mx-host=mx.example,mx1.mx.example,10 \
	--mx-host=mx.example,mx2.mx.example,20 \
	--host-record=mx1.mx.example,127.0.0.5 \
	--host-record=mx2.mx.example,127.0.0.3 \
	--mx-host=order.example,low.order.example,20 \
	--mx-host=order.example,high.order.example,5 \
	--host-record=low.order.example,127.0.0.6 \
	--host-record=high.order.example,127.0.0.3 \
	--mx-host=eq.example,a.eq.example,10 \
	--mx-host=eq.example,b.eq.example,10 \
	--host-record=a.eq.example,127.0.0.3 \
	--host-record=b.eq.example,127.0.0.6 \
	--host-record=plain.example,127.0.0.3 \
	--mx-host=null.example,.,0 \
	--txt-record=noaddr.example,"no mail here" \
	--mx-host=ghost.example,nowhere.ghost.example,10; then
	echo "Bail out! dnsmasq did not start"
	exit 1
fi

start_mta --dns "127.0.0.1:$DNS_PORT" --smtp-port "$P" --retry 300 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

BOX=$MTA_MAIL/user

# ---- first MX dead -> the second one ----------------------------------
user_msg first-dead | inject "$MTA_PORT" user@test.example 'a@mx.example' >/dev/null
peer_wait "$GOOD" 1 15; ok $? "first MX dead: delivered"
is "$(peer_json "$GOOD" 1 rcpt_tos)" 'a@mx.example' "first MX dead: via the second MX (127.0.0.3)"
tries=$(grep -E 'relay(ed|-attempt) rcpt=<a@mx.example>' "$MTA_LOG" | sed -n 's/.* mx=\([^ ]*\) addr=\([^ ]*\) .*/\1=\2/p' | tr '\n' ' ')
is "$tries" "mx1.mx.example=127.0.0.5 mx2.mx.example=127.0.0.3 " \
	"first MX dead: tried in preference order, dead one first"
like "$(grep 'relay-attempt rcpt=<a@mx.example>' "$MTA_LOG")" 'result=".*(refused|onnect)' \
	"first MX dead: the attempt at it logged as a connection failure"
is "$(log_count 'retry .*rcpt=<a@mx.example>')" 0 "first MX dead: no retry needed"

# ---- preference order ---------------------------------------------------
user_msg order | inject "$MTA_PORT" user@test.example 'b@order.example' >/dev/null
peer_wait "$GOOD" 2 15; ok $? "order: delivered to the preferred MX (listed second in DNS)"
is "$(peer_count "$OTHER")" 0 "order: the less preferred MX got nothing"

# ---- implicit MX --------------------------------------------------------
user_msg plain | inject "$MTA_PORT" user@test.example 'c@plain.example' >/dev/null
peer_wait "$GOOD" 3 15; ok $? "no MX: delivered to the domain's own A record"
is "$(peer_json "$GOOD" 3 rcpt_tos)" 'c@plain.example' "no MX: recipient"

# ---- a big answer ----------------------------------------------------------
user_msg big | inject "$MTA_PORT" user@test.example 'd@big.example' >/dev/null
peer_wait "$GOOD" 4 15; ok $? "300 MX records: delivered"
is "$(peer_json "$GOOD" 4 rcpt_tos)" 'd@big.example' "300 MX records: via the most preferred, last in the answer"
like "$(grep 'relayed rcpt=<d@big.example>' "$MTA_LOG")" 'mx=best\.big\.example ' \
	"300 MX records: logged"

# ---- equal preferences --------------------------------------------------
# 16 messages of one recipient each: the recipients of one message at
# one domain go together, in one delivery (one transaction)
for i in $(seq 16); do
	user_msg "equal$i" | inject "$MTA_PORT" user@test.example "e$i@eq.example" >/dev/null
done
_eq_total() { [ $(( $(peer_count "$GOOD") - 4 + $(peer_count "$OTHER") )) -ge 16 ]; }
wait_until 20 _eq_total; ok $? "equal preferences: all 16 recipients delivered"
a=$(( $(peer_count "$GOOD") - 4 )) b=$(peer_count "$OTHER")
diag "equal preferences: $a to a.eq.example, $b to b.eq.example"
[ "$a" -ge 1 ] && [ "$b" -ge 1 ]; ok $? "equal preferences: both MX used (16 deliveries; all on one: p = 2^-15)"

# ---- permanent DNS outcomes, and a temporary one, in one message ---------
start=$(date +%s)
r=$(user_msg perm | inject "$MTA_PORT" user@test.example 'n@null.example' 'x@nx.example' \
	'y@noaddr.example' 'z@ghost.example' 't@unknown.test')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "perm: queued"
maildir_wait "$BOX" 1 15; ok $? "perm: one bounce in the sender's Maildir"
is "$(( $(date +%s) - start < 10 ))" 1 "perm: promptly, no retry waited for (--retry 300)"
f=$(maildir_files "$BOX" | head -1)
tap_from "$(dsn_check "$f" --name bounce --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: perm' --not-in-headers 'body perm' \
	--rcpt 'n@null.example' --status '^5\.1\.10$' --remote - --diag - \
	--rcpt 'x@nx.example' --status '^5\.1\.2$' --remote - \
	--rcpt 'y@noaddr.example' --status '^5\.' \
	--rcpt 'z@ghost.example' --status '^5\.')"
is "$(grep -Ec 'relay(ed|-attempt) rcpt=<[nxyz]@' "$MTA_LOG")" 0 \
	"perm: no connection attempted for any of them"
grep -q 'null MX' "$f"; ok $? "perm: the text part says 'null MX'"

# the temporary one
job=$(job_files | grep "\.$id\.4\$")
like "$job" "^[0-9]+\.$id\.4\$" "temp: DNS REFUSED -> the job stays in queue/rcpt"
due=${job%%.*}
[ -n "$due" ] && [ "$due" -gt "$(date +%s)" ]; ok $? "temp: its DUE is in the future"
like "$(cat "$MTA_QUEUE/rcpt/$job" 2>/dev/null)" '^attempts 0' "temp: recorded, but not counted as an attempt (no MX reached)"
like "$(cat "$MTA_QUEUE/rcpt/$job" 2>/dev/null)" 'error .*DNS' "temp: the DNS error recorded"
like "$(grep "deferred id=$id rcpt=<t@unknown.test>" "$MTA_LOG")" 'DNS' "temp: logged as deferred"
is "$(maildir_count "$BOX")" 1 "temp: not in the bounce, no second bounce"
[ -f "$MTA_QUEUE/mess/$id" ]; ok $? "temp: the message stays for it"

is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
