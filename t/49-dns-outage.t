#!/bin/bash
# t/49-dns-outage.t - a DNS outage is no verdict on a destination
# (remote.h, mta-smtpd(8) --attempts, --max-queue-time):
#   the resolver down (--dns at a port where nothing answers): with
#     --retry 1 -a 2, round after round defers and none is counted; no
#     bounce, the job stays with "attempts 0" and the DNS error;
#   an MX whose address lookup fails (dnsmasq REFUSED) while the next MX
#     answers 451: the round did not reach every MX, so it does not
#     count either, and the error names the MX that could not be looked
#     up (not skipped in silence);
#   past --max-queue-time such mail fails, with a DSN (4.4.7) that says
#     it gave up and why.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 48

DEAD=$(free_port)     # no DNS server there: UDP queries are refused
msg() {
	printf 'From: <user@test.example>\nSubject: %s\nMessage-ID: <%s@client.test>\n\nbody %s\n' "$1" "$1" "$1"
}
_rounds() { [ "$(log_count "deferred id=[^ ]* rcpt=<$1>")" -ge "$2" ]; }

# ---- the resolver down ---------------------------------------------------
MTA_DIR=$T/a start_mta --dns "127.0.0.1:$DEAD" --retry 1 -a 2 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
A_PID=$MTA_PID A_STATUS=$MTA_STATUS_FILE
r=$(msg outage | inject "$MTA_PORT" user@test.example 'a@outage.example')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "outage: queued"
wait_until 60 _rounds a@outage.example 4; ok $? "outage: 4 rounds deferred with -a 2"
is "$(log_count 'failed-rcpt .*rcpt=<a@outage.example>')" 0 "outage: the recipient never failed"
is "$(maildir_count "$MTA_MAIL/user")" 0 "outage: no bounce"
like "$(grep 'retry .*rcpt=<a@outage.example>' "$MTA_LOG" | tail -1)" 'attempt=0 uncounted=dns' \
	"outage: logged as an uncounted round"
job=$(job_files | grep "\.$id\.0\$")
like "$job" "^[0-9]+\.$id\.0\$" "outage: the job waits in queue/rcpt"
like "$(cat "$MTA_QUEUE/rcpt/$job" 2>/dev/null)" '^attempts 0' "outage: attempts 0 recorded"
like "$(cat "$MTA_QUEUE/rcpt/$job" 2>/dev/null)" 'error DNS lookup of MX for outage\.example failed' \
	"outage: the DNS error recorded"
MTA_PID=$A_PID MTA_STATUS_FILE=$A_STATUS
is "$(stop_mta)" 0 "outage: SIGTERM, exit 0"

# ---- one MX cannot be looked up, the other one defers --------------------
P=$(free_port_on 127.0.0.4)
PEER_WANT=$P peer_start busy 127.0.0.4 --refuse 'mixed\.example=451 4.3.0 try later' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
BUSY=$PEER_DIR
# mx1.broken.test lies outside dnsmasq's zone: its lookups are REFUSED
dns_start --local=/example/ \
	--mx-host=mixed.example,mx1.broken.test,10 \
	--mx-host=mixed.example,mx2.mixed.example,20 \
	--host-record=mx2.mixed.example,127.0.0.4 ||
	{ echo "Bail out! dnsmasq did not start"; exit 1; }
MTA_DIR=$T/b start_mta --dns "127.0.0.1:$DNS_PORT" --smtp-port "$P" --retry 1 -a 2 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
B_PID=$MTA_PID B_STATUS=$MTA_STATUS_FILE
r=$(msg mixed | inject "$MTA_PORT" user@test.example 'b@mixed.example')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "mixed: queued"
wait_until 60 _rounds b@mixed.example 3; ok $? "mixed: 3 rounds deferred with -a 2"
[ "$(peer_events "$BUSY" '^rcpt b@mixed.example 451' | wc -l)" -ge 3 ]
ok $? "mixed: each round tried the MX that has an address (451)"
is "$(log_count 'failed-rcpt .*rcpt=<b@mixed.example>')" 0 "mixed: the recipient never failed"
like "$(grep 'relay-dns domain=mixed\.example' "$MTA_LOG" | head -1)" 'mx=mx1\.broken\.test pref=10' \
	"mixed: the MX without an address is logged, not skipped in silence"
job=$(job_files | grep "\.$id\.0\$")
like "$(tr '\n' ' ' <"$MTA_QUEUE/rcpt/$job" 2>/dev/null)" \
	'^attempts 0 .*error .*451 4\.3\.0.*DNS lookup of MX host mx1\.broken\.test failed' \
	"mixed: attempts 0; the error has the 451 and the DNS failure"
MTA_PID=$B_PID MTA_STATUS_FILE=$B_STATUS
is "$(stop_mta)" 0 "mixed: SIGTERM, exit 0"

# ---- --max-queue-time ----------------------------------------------------
MTA_DIR=$T/c start_mta --dns "127.0.0.1:$DEAD" --retry 1 -a 100 --max-queue-time 2 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
r=$(msg expired | inject "$MTA_PORT" user@test.example 'c@outage.example')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "expiry: queued"
maildir_wait "$MTA_MAIL/user" 1 30; ok $? "expiry: a bounce once --max-queue-time has passed"
f=$(maildir_files "$MTA_MAIL/user" | head -1)
tap_from "$(dsn_check "$f" --name expiry --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: expired' --rcpt 'c@outage.example' --status '^4\.4\.7$' \
	--remote - --diag -)"
grep -q 'Gave up after [0-9]* seconds in the queue: DNS lookup of MX for outage\.example failed' "$f"
ok $? "expiry: the report says it gave up, and why"
is "$(stop_mta)" 0 "expiry: SIGTERM, exit 0"
done_testing
