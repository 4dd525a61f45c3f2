#!/bin/bash
# t/57-dsn.t - delay warnings (--delay-warning) and RFC 3461 DSN requests
# (NOTIFY=, ORCPT=, RET=, ENVID=), end to end, the reports read with
# python's mailbox and email packages (t/lib/dsnread.py), the requests
# sent with smtplib's mail/rcpt options (t/lib/dsninject.py):
#   a recipient a peer always answers 451 gets its sender one delay
#     warning (Action: delayed, Status 4.3.0 from the reply,
#     Diagnostic-Code, Will-Retry-Until) after --delay-warning, and only
#     one, across a daemon restart too (the job file's warned line, also
#     in mta-queue --json);
#     none for the null sender, none with NOTIFY=NEVER or NOTIFY=FAILURE;
#   three recipients deferred together in one grouped transaction: one
#     warning naming the three, none more in later rounds;
#   NOTIFY=NEVER: no bounce; NOTIFY=FAILURE with RET=FULL: the bounce
#     holds the whole message; ORCPT= and ENVID= appear in the reports;
#   NOTIFY=SUCCESS: "delivered" for a local mailbox (mta-send -N -V too),
#     "relayed" to a peer
#     without DSN (aiosmtpd: no parameters sent to it);
#   a real Postfix as the next hop offers DSN: the requests reach it
#     (postcat of a message it holds shows them; its own "delivered"
#     report comes back carrying our ORCPT and ENVID), and we send no
#     "relayed" report of our own.
# swaks drives the same parameters by hand: EHLO offers DSN, NOTIFY=,
# ORCPT=, RET=, ENVID= accepted and carried into the report, bad values
# 501 5.5.4.
# The Postfix part needs root and the postfix package (else skipped, the
# rest still runs).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 85

P=$(free_port_on 127.0.0.57)
PEER_WANT=$P peer_start peer 127.0.0.57 --refuse '^slow=451 4.3.0 try again later' \
	--refuse '^bad=550 5.1.1 no such user' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
PEER=$PEER_DIR
# three recipients of one message at one next hop, each answered 451:
# one grouped transaction per round (src/remote_tx.c)
PG=$(free_port_on 127.0.0.58)
PEER_WANT=$PG peer_start grp 127.0.0.58 --wire --refuse '^g[0-9]@=451 4.3.0 try again later' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
GRP=$PEER_DIR

have_postfix=0
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/postcat ] &&
	id postfix >/dev/null 2>&1; then
	have_postfix=1
fi
PF=$T/pf PF_PORT=$(free_port)
MTA_ARGS=(--smtp-port "$P" --retry 1 --attempts 1000 --delay-warning 3
	--route "pf.example=127.0.0.1:$PF_PORT" --route "grp.example=127.0.0.58:$PG")
start_mta "${MTA_ARGS[@]}" || { echo "Bail out! mta-smtpd did not start"; exit 1; }

send() { $PY "$TLIB/dsninject.py" "$MTA_PORT" "$@"; }
reports() { $PY "$TLIB/dsnread.py" "$MTA_MAIL/$1"; }
msg() { printf 'From: <%s@test.example>\nSubject: %s\nMessage-ID: <%s@client.test>\n\nbody of %s\n' "$1" "$2" "$2" "$2"; }
job_of() { ls "$MTA_QUEUE/rcpt" | grep "\.$1\.0$"; }

# ---- delay warnings ----------------------------------------------------------
r=$(msg warn slow | send warn@test.example "" 'slow@[127.0.0.57]' "")
wid=$(queued_id "$r"); like "$wid" '^[A-Za-z0-9]+$' "delayed: queued"
r=$(msg null null | send "" "" 'slow1@[127.0.0.57]' "")
nid=$(queued_id "$r"); like "$nid" '^[A-Za-z0-9]+$' "null sender: queued"
r=$(msg never never | send never@test.example "" 'slow2@[127.0.0.57]' "NOTIFY=NEVER")
vid=$(queued_id "$r"); like "$vid" '^[A-Za-z0-9]+$' "NOTIFY=NEVER: queued"
r=$(msg fail fail | send fail@test.example "" 'slow3@[127.0.0.57]' "NOTIFY=FAILURE")
fid=$(queued_id "$r"); like "$fid" '^[A-Za-z0-9]+$' "NOTIFY=FAILURE: queued"

maildir_wait "$MTA_MAIL/warn" 1 20; ok $? "delayed: a warning in the sender's Maildir"
w=$(reports warn)
like "$w" '^Subject=Delayed mail' "delayed: its subject"
like "$w" '\|Return-Path=<>\|' "delayed: from <>"
like "$w" 'parts=text/plain,message/delivery-status,text/rfc822-headers' "delayed: the three parts"
like "$w" '\|R1:Final-Recipient=rfc822; slow@\[127\.0\.0\.57\]\|' "delayed: Final-Recipient"
like "$w" '\|R1:Action=delayed\|' "delayed: Action: delayed"
like "$w" '\|R1:Status=4\.3\.0\|' "delayed: Status 4.3.0 from the last reply"
like "$w" '\|R1:Diagnostic-Code=smtp; 451 4\.3\.0 try again later\|' "delayed: Diagnostic-Code quotes it"
like "$w" '\|R1:Will-Retry-Until=[A-Z][a-z][a-z], [0-9]' "delayed: Will-Retry-Until"
grep -q "^Will-Retry-Until: " "$(maildir_files "$MTA_MAIL/warn")"; ok $? "delayed: Will-Retry-Until in the file"
like "$(logline "delay-warning id=$wid ")" 'to=<warn@test\.example>' "delayed: logged"
grep -q '^warned [0-9]' "$MTA_QUEUE/rcpt/$(job_of "$wid")"; ok $? "delayed: the job file says warned"
wline=$(sed -n 's/^warned //p' "$MTA_QUEUE/rcpt/$(job_of "$wid")")
is "$("$MTA_BIN/mta-queue" -q "$MTA_QUEUE" --json | $PY -c '
import json, sys
for l in sys.stdin.read().splitlines():
    o = json.loads(l)
    if o["id"] == sys.argv[1]:
        print(o["recipients"][0]["warned"])' "$wid")" "$wline" "delayed: mta-queue --json shows warned, the job file's epoch seconds"
ls "$MTA_QUEUE/rcpt" | grep -q "$wid"; ok $? "delayed: still queued"

# a few more rounds (--retry 1) for all four, then a restart, then more
n0=$(log_count "retry id=$wid ")
wait_until 15 sh -c "[ \$(grep -c 'retry id=$wid ' '$MTA_LOG') -ge $((n0 + 3)) ]"
ok $? "delayed: tried again after the warning"
is "$(stop_mta)" 0 "restart: SIGTERM, exit 0"
start_mta "${MTA_ARGS[@]}" || { echo "Bail out! mta-smtpd did not restart"; exit 1; }
n1=$(log_count "retry id=$wid ")
wait_until 15 sh -c "[ \$(grep -c 'retry id=$wid ' '$MTA_LOG') -ge $((n1 + 3)) ]"
ok $? "restart: tried again after the restart"
is "$(maildir_count "$MTA_MAIL/warn")" 1 "delayed: one warning only, across the restart"
is "$(log_count "delay-warning id=$wid ")" 1 "delayed: logged once"
# the other three were queued as long, and tried as often
for id in "$nid" "$vid" "$fid"; do
	[ "$(log_count "retry id=$id ")" -ge 5 ] || diag "only $(log_count "retry id=$id ") rounds for $id"
done
is "$(log_count "delay-warning id=($nid|$vid|$fid) ")" 0 "no warning for <>, NOTIFY=NEVER, NOTIFY=FAILURE"
is "$(maildir_count "$MTA_MAIL/never")" 0 "NOTIFY=NEVER: nothing in the sender's Maildir"
is "$(maildir_count "$MTA_MAIL/fail")" 0 "NOTIFY=FAILURE: nothing in the sender's Maildir"
grep -q '^warned [0-9]' "$MTA_QUEUE/rcpt/$(job_of "$fid")"; ok $? "NOTIFY=FAILURE: the job is marked done with"

# ---- delay warnings of a grouped transaction ---------------------------------
# recipients deferred together are warned of together: one report naming
# the three (scheduler_notice.h, sched_warn_group), not one each, and no
# more in later rounds
r=$(msg grpw grouped | send grpw@test.example "" g1@grp.example "" g2@grp.example "" g3@grp.example "")
gid=$(queued_id "$r"); like "$gid" '^[A-Za-z0-9]+$' "grouped: queued"
maildir_wait "$MTA_MAIL/grpw" 1 20; ok $? "grouped: a warning"
n0=$(log_count "retry id=$gid ")
wait_until 20 sh -c "[ \$(grep -c 'retry id=$gid ' '$MTA_LOG') -ge $((n0 + 9)) ]"
ok $? "grouped: three more rounds of all three"
is "$(maildir_count "$MTA_MAIL/grpw")" 1 "grouped: one warning for the three, no more after the rounds"
is "$(reports grpw | tr '|' '\n' | sed -n 's/^R[123]:Final-Recipient=rfc822; //p' | sort | tr '\n' ' ')" \
	"g1@grp.example g2@grp.example g3@grp.example " "grouped: the warning names each of the three"
like "$(grep "delay-warning id=$gid " "$MTA_LOG")" 'rcpts=3 ' "grouped: logged once, rcpts=3"
is "$($PY -c '
import glob, re, sys
best = 0
for f in glob.glob(sys.argv[1] + "/wire.*"):
    for tx in re.split(rb"\r\nMAIL FROM:", open(f, "rb").read())[1:]:
        if tx.startswith(b"<grpw@"):
            best = max(best, len(re.findall(rb"\r\nRCPT TO:", tx.split(b"\r\nRSET")[0])))
print(best)' "$GRP")" 3 "grouped: the three RCPTs went in one transaction"

# ---- failures: NOTIFY=NEVER, RET=FULL, ORCPT, ENVID --------------------------
r=$(msg never never-bounce | send never@test.example "" 'bad1@[127.0.0.57]' "NOTIFY=NEVER")
id=$(queued_id "$r")
wait_log 10 "bounce-dropped id=$id rcpts=1 reason=notify"; ok $? "NOTIFY=NEVER: the failure is not reported (logged)"
is "$(maildir_count "$MTA_MAIL/never")" 0 "NOTIFY=NEVER: no bounce"
r=$(msg full full-bounce | send full@test.example "RET=FULL ENVID=env+2Bfull" \
	'bad2@[127.0.0.57]' "NOTIFY=FAILURE ORCPT=rfc822;Bad+2Btag@example.org")
id=$(queued_id "$r")
maildir_wait "$MTA_MAIL/full" 1 10; ok $? "NOTIFY=FAILURE: a bounce"
w=$(reports full)
like "$w" 'parts=text/plain,message/delivery-status,message/rfc822' "RET=FULL: the message returned whole"
grep -q '^body of full-bounce' "$(maildir_files "$MTA_MAIL/full")"; ok $? "RET=FULL: its body too"
like "$w" '\|Original-Envelope-Id=env\+full\|' "ENVID: Original-Envelope-Id, decoded"
like "$w" '\|R1:Original-Recipient=rfc822; Bad\+tag@example\.org\|' "ORCPT: Original-Recipient, decoded"
like "$w" '\|R1:Action=failed\|R1:Status=5\.1\.1\|' "NOTIFY=FAILURE: Action failed, 5.1.1"
# two failures, one of them NOTIFY=NEVER: a bounce for the other only
r=$(msg mixed mixed | send mixed@test.example "" 'bad3@[127.0.0.57]' "NOTIFY=NEVER" \
	'bad4@[127.0.0.57]' "")
id=$(queued_id "$r")
maildir_wait "$MTA_MAIL/mixed" 1 10; ok $? "mixed NOTIFY: a bounce"
w=$(reports mixed)
like "$w" '\|R1:Final-Recipient=rfc822; bad4@\[127\.0\.0\.57\]\|' "mixed NOTIFY: it reports the one without NEVER"
lacks -q bad3 <<<"$w"; ok $? "mixed NOTIFY: and not the NEVER one"
like "$(logline "bounce id=$id ")" 'rcpts=1$' "mixed NOTIFY: logged bounce rcpts=1"
like "$(logline "bounce-dropped id=$id ")" 'rcpts=1 reason=notify' "mixed NOTIFY: logged bounce-dropped rcpts=1"

# ---- NOTIFY=SUCCESS ------------------------------------------------------------
r=$(msg succ local-success | send succ@test.example "RET=HDRS ENVID=e4" \
	'rcv@test.example' "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Rcv@test.example")
id=$(queued_id "$r")
maildir_wait "$MTA_MAIL/succ" 1 10; ok $? "NOTIFY=SUCCESS, local: a report"
is "$(maildir_count "$MTA_MAIL/rcv")" 1 "NOTIFY=SUCCESS, local: the message delivered"
w=$(reports succ)
like "$w" '\|R1:Action=delivered\|R1:Status=2\.0\.0\|' "NOTIFY=SUCCESS, local: Action delivered, 2.0.0"
like "$w" '\|Original-Envelope-Id=e4\|' "NOTIFY=SUCCESS, local: Original-Envelope-Id"
like "$w" '\|R1:Original-Recipient=rfc822; Rcv@test\.example\|' "NOTIFY=SUCCESS, local: Original-Recipient"
like "$w" 'text/rfc822-headers' "RET=HDRS: the header only"
# without NOTIFY: no success report
r=$(msg succ plain | send succ@test.example "" 'rcv@test.example' "")
maildir_wait "$MTA_MAIL/rcv" 2 10; ok $? "no NOTIFY: delivered"
r=$(msg succ relayed | send succ@test.example "ENVID=e5" 'ok@[127.0.0.57]' "NOTIFY=SUCCESS")
id=$(queued_id "$r")
maildir_wait "$MTA_MAIL/succ" 2 10; ok $? "NOTIFY=SUCCESS to a peer without DSN: a report"
w=$(reports succ | tail -1)
like "$w" '\|R1:Action=relayed\|' "relayed: Action relayed"
like "$w" '\|R1:Remote-MTA=dns; ' "relayed: Remote-MTA"
is "$(maildir_count "$MTA_MAIL/succ")" 2 "no NOTIFY: no success report"
# mta-send's -N, -R and -V reach the server as NOTIFY=, RET=, ENVID=
printf 'Subject: via mta-send\n\nx\n' | timeout 30 "$MTA_BIN/mta-send" -s "127.0.0.1:$MTA_PORT" \
	-N success -R hdrs -V 'sent by mta-send' -f succ@test.example rcv@test.example
is "$?" 0 "mta-send -N success: exit 0"
maildir_wait "$MTA_MAIL/succ" 3 10; ok $? "mta-send -N success: a report"
w=$(reports succ | tail -1)
like "$w" '\|Original-Envelope-Id=sent by mta-send\|.*\|R1:Action=delivered\|' \
	"mta-send -N success -V: delivered, with its envelope ID"
peer_wait "$PEER" 1 10
js=$(cat "$PEER"/*.json)
lacks -E 'RET=|ENVID=' <<<"$js"; ok $? "no DSN offered: no RET or ENVID sent"
like "$js" '"rcpt_options": \[\]' "no DSN offered: no RCPT parameters sent"

# ---- swaks ------------------------------------------------------------------
# Debian's swaks (20201014) has no DSN options of its own, so the
# parameters follow the address, and the '>' swaks closes it with ends
# the last one: ENVID=<sw57 becomes ENVID=<sw57>, ORCPT=rfc822;<Sws@...
# becomes ORCPT=rfc822;<Sws@...> (both xtext).  No comma: swaks splits
# --to there.
sw() { swaks --server "127.0.0.1:$MTA_PORT" --helo client.example --timeout 10 \
	--data 'Subject: swaks dsn\n\nbody\n' "$@" 2>&1; }
out=$(sw --from 'sws@test.example> RET=HDRS ENVID=<sw57' \
	--to 'swr@test.example> NOTIFY=SUCCESS ORCPT=rfc822;<Swr@test.example')
like "$out" '<-  250-DSN' "swaks: EHLO offers DSN"
flat=$(printf '%s' "$out" | tr '\r\n' '  ')
like "$flat" '-> MAIL FROM:<sws@test\.example> RET=HDRS ENVID=<sw57> +<-  250 ' "swaks: MAIL with RET= and ENVID=: 250"
like "$flat" '-> RCPT TO:<swr@test\.example> NOTIFY=SUCCESS ORCPT=rfc822;<Swr@test\.example> +<-  250 ' \
	"swaks: RCPT with NOTIFY= and ORCPT=: 250"
maildir_wait "$MTA_MAIL/sws" 1 10; ok $? "swaks: NOTIFY=SUCCESS, a report"
w=$(reports sws)
like "$w" '\|Original-Envelope-Id=<sw57>\|.*\|R1:Original-Recipient=rfc822; <Swr@test\.example>\|.*\|R1:Action=delivered\|' \
	"swaks: the report carries its ENVID and ORCPT, Action delivered"
out=$(sw --from 'sws@test.example' --to 'swbad@test.example> NOTIFY=SOMETIMES ORCPT=rfc822;<Swbad@test.example')
like "$out" '<\*\* +501 5\.5\.4 Bad NOTIFY parameter' "swaks: a bad NOTIFY value: 501 5.5.4"
out=$(sw --from 'sws@test.example> RET=PARTS ENVID=<x' --to 'swr@test.example')
like "$out" '<\*\* +501 5\.5\.4 Bad RET parameter' "swaks: a bad RET value: 501 5.5.4"
out=$(sw --from 'sws@test.example> NOTIFY=SUCCESS ENVID=<x' --to 'swr@test.example')
like "$out" '<\*\* +5[0-9][0-9] ' "swaks: NOTIFY= on MAIL (an RCPT parameter): refused"

# ---- a real Postfix as the next hop -----------------------------------------
if [ "$have_postfix" = 1 ]; then
	. "$here/lib/postfix-peer.sh"
	mkdir -p "$PF" && chmod 755 "$PF"
	PF_HOSTNAME=pf.test.example
	pf_create "$PF" "$PF_PORT" maildir pf.example user
	printf 'hold@pf.example HOLD\n' >"$PF/etc/rcpt_access"
	pf_set "$PF" "relayhost = [127.0.0.1]:$MTA_PORT" \
		"smtpd_recipient_restrictions = check_recipient_access texthash:$PF/etc/rcpt_access, permit_mynetworks, reject_unauth_destination"
	pf_start "$PF"
	r=$(msg pfs to-postfix | send pfs@test.example "RET=HDRS ENVID=pf+2Benv" \
		'user@pf.example' "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;User+2Bx@pf.example")
	id=$(queued_id "$r")
	maildir_wait "$PF/mail/user" 1 30; ok $? "Postfix: delivered there"
	maildir_wait "$MTA_MAIL/pfs" 1 30; ok $? "Postfix: its report comes back to our sender"
	w=$(reports pfs)
	like "$w" 'From=.*MAILER-DAEMON@pf\.test\.example' "Postfix: the report is Postfix's"
	like "$w" '\|R1:Action=delivered\|' "Postfix: Action delivered"
	like "$w" '\|Original-Envelope-Id=pf\+env\|' "Postfix: it got our ENVID"
	like "$w" '\|R1:Original-Recipient=rfc822; ?User\+x@pf\.example\|' "Postfix: it got our ORCPT"
	is "$(log_count "success-report id=$id ")" 0 "Postfix: no relayed report of ours"
	r=$(msg pfs to-hold | send pfs@test.example "RET=HDRS ENVID=hold1" \
		'hold@pf.example' "NOTIFY=DELAY,FAILURE ORCPT=rfc822;hold@pf.example")
	wait_until 30 sh -c "[ -n \"\$(find '$PF/spool/hold' -type f)\" ]"; ok $? "Postfix: holds the second"
	pc=$(postcat -e "$(find "$PF/spool/hold" -type f | head -1)" 2>&1)
	like "$pc" 'envelope_id=hold1' "Postfix: postcat shows ENVID"
	like "$pc" 'ret_flags=2' "Postfix: postcat shows RET=HDRS"
	like "$pc" 'dsn_orig_rcpt=rfc822;hold@pf\.example' "Postfix: postcat shows ORCPT"
	like "$pc" 'notify_flags=12' "Postfix: postcat shows NOTIFY=DELAY,FAILURE"
	pf_clear_hold "$PF"
else
	skip "Postfix part: needs root and the postfix package" 12
fi

wait_until 10 sh -c "! ls '$MTA_QUEUE/rcpt' | grep -qv '\.\($wid\|$nid\|$vid\|$fid\|$gid\)\.'"
ok $? "only the 451 recipients left in the queue"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
