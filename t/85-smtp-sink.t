#!/bin/bash
# t/85-smtp-sink.t - relaying to Postfix's smtp-sink, which (unlike
# aiosmtpd) offers PIPELINING, and can be told to fail at any command:
#   30 messages relayed with PIPELINING, each captured once (-d);
#   no ESMTP at all (-e: EHLO refused, HELO used), no PIPELINING and no
#     ENHANCEDSTATUSCODES (-p -E): delivered;
#   5xx at RCPT (-f RCPT), at MAIL (-f MAIL), an abort with 550 after
#     DATA (-A 0): failed, one bounce quoting each reply;
#   4xx at MAIL (-r MAIL), 421 and a close at RCPT (-Q RCPT), a close
#     after the final dot (-q .): deferred.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 64

chmod 755 "$T"               # smtp-sink runs as nobody: it writes in $T/dump
mkdir -m 777 "$T/dump"
routes='' i=10
sink() {   # sink NAME OPTIONS... - an smtp-sink for NAME.example on 127.0.0.$i
	local name=$1 port
	shift
	port=$(free_port_on "127.0.0.$i")
	smtpsink_start "127.0.0.$i" "$port" "$@" || { echo "Bail out! smtp-sink did not start"; exit 1; }
	routes="$routes --route $name.example=127.0.0.$i:$port"
	i=$((i + 1))
}
sink capture -d "$T/dump/%Y%m%d%H%M%S."
sink noesmtp -e
sink plain -p -E
sink rcpt5xx -f RCPT -B '550 5.1.1 rejected by smtp-sink at RCPT'
sink mail5xx -f MAIL -B '553 5.1.8 sender rejected by smtp-sink'
sink abort -A 0
sink mail4xx -r MAIL -b '451 4.3.0 smtp-sink says later'
sink rcpt421 -Q RCPT
sink dotclose -q .
# shellcheck disable=SC2086
start_mta --retry 300 $routes || { echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- 30 messages through PIPELINING ---------------------------------------
$PY - "$MTA_PORT" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
for n in range(30):
    msg = ("From: <user@test.example>\r\nSubject: capture %d\r\n"
           "Message-ID: <c%d@client.test>\r\n\r\n.\r\nbody %d\r\n" % (n, n, n))
    s.sendmail("user@test.example", ["c%d@capture.example" % n], msg.encode())
s.quit()
PYEOF
ok $? "30 messages queued"
_captured() { [ "$(find "$T/dump" -type f | wc -l)" -ge 30 ]; }
wait_until 30 _captured; ok $? "smtp-sink captured 30 messages"
# a duplicate would come from a job still in the queue: wait for none left
wait_until 10 queue_empty
is "$(find "$T/dump" -type f | wc -l | tr -d ' ')" 30 "each once"
is "$(cat "$T"/dump/* | grep -c '^X-Rcpt-Args: <c[0-9]*@capture.example>$')" 30 \
	"one RCPT each"
is "$(cat "$T"/dump/* | grep -Ec '^X-Mail-Args: <user@test.example>( SIZE=[0-9]+)?')" 30 \
	"MAIL FROM kept"
nbody=0
for n in $(seq 0 29); do
	f=$(grep -l "^Subject: capture $n$" "$T"/dump/* | head -1)
	[ -n "$f" ] && sed '1,/^Subject:/d' "$f" | grep -q "^body $n$" && nbody=$((nbody + 1))
done
is "$nbody" 30 "every body came through"
is "$(log_count 'relayed rcpt=<c[0-9]+@capture.example>')" 30 "30 relayed lines"
starts=$(grep -c 'delivery-start .*@capture.example' "$MTA_LOG")
is "$starts" 30 "30 deliveries"

# ---- one message, every other server -----------------------------------
r=$(printf 'From: <user@test.example>\nSubject: sinks\nMessage-ID: <sinks@client.test>\n\nbody\n' |
	inject "$MTA_PORT" user@test.example a@noesmtp.example b@plain.example \
	c@rcpt5xx.example d@mail5xx.example e@abort.example \
	f@mail4xx.example g@rcpt421.example h@dotclose.example)
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "queued for 8 recipients"
_ended() { [ "$(log_count "(delivered|deferred|failed) id=$id ")" -ge 8 ]; }
wait_until 20 _ended; ok $? "every attempt ended"
outcome() { grep " id=$id rcpt=<$1>" "$MTA_LOG" | grep -Eo ' (delivered|deferred|failed) ' | tr -d ' '; }
is "$(outcome a@noesmtp.example)" delivered "no ESMTP: delivered (HELO)"
is "$(outcome b@plain.example)" delivered "no PIPELINING, no enhanced codes: delivered"
is "$(outcome c@rcpt5xx.example)" failed "5xx at RCPT: failed"
is "$(outcome d@mail5xx.example)" failed "5xx at MAIL: failed"
is "$(outcome e@abort.example)" failed "550 after DATA: failed"
is "$(outcome f@mail4xx.example)" deferred "4xx at MAIL: deferred"
is "$(outcome g@rcpt421.example)" deferred "421 at RCPT: deferred"
is "$(outcome h@dotclose.example)" deferred "closed after the dot: deferred"
like "$(grep "deferred id=$id rcpt=<f@mail4xx.example>" "$MTA_LOG")" '451 4\.3\.0 smtp-sink says later' \
	"4xx at MAIL: the reply logged"

BOX=$MTA_MAIL/user
maildir_wait "$BOX" 1 10; ok $? "one bounce"
f=$(maildir_files "$BOX" | head -1)
tap_from "$(dsn_check "$f" --name dsn --sender user@test.example --orig-id "$id" \
	--rcpt c@rcpt5xx.example --status '^5\.1\.1$' --diag '^smtp; 550 5\.1\.1 rejected by smtp-sink at RCPT$' \
	--rcpt d@mail5xx.example --status '^5\.1\.8$' --diag '^smtp; 553 5\.1\.8 sender rejected by smtp-sink$' \
	--rcpt e@abort.example --status '^5\.' --diag '^smtp; 550')"
# a second bounce would be a message in the queue: wait until the only one
# left is the original, for its deferred jobs
only_original() { [ "$(count_files "$MTA_QUEUE/new")" = 0 ] && [ "$(ls "$MTA_QUEUE/mess")" = "$id" ]; }
wait_until 10 only_original
is "$(maildir_count "$BOX")" 1 "only one bounce"
is "$(job_files | grep -c "\.$id\.")" 3 "the 3 deferred jobs wait in queue/rcpt"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
