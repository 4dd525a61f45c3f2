#!/bin/bash
# t/48-postfix.t - interoperation with a real Postfix, a private instance
# on a loopback port (t/bench/lib-postfix.sh, maildir mode for pf.example,
# relayhost = the mta under test):
#   mta -> Postfix: relayed by --route, delivered to Postfix's Maildir,
#     body with dot lines intact;
#   Postfix -> mta: Postfix relays to us, we deliver locally;
#   Postfix refuses a recipient at RCPT: our DSN quotes its reply;
#   our DSN (from <>) for a Postfix user: Postfix takes and delivers it;
#   Postfix's own DSN (its message is over the SIZE we announce, so it
#     bounces it without sending): it comes back through us to our local
#     sender.
# Needs root (Postfix's master runs as root) and the postfix package;
# skipped with the reason otherwise.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/postfix-peer.sh"

plan 56

P=$(free_port_on 127.0.0.2)
PEER_WANT=$P peer_start refuser 127.0.0.2 --refuse '.=550 5.1.1 nobody here' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
PF=$T/pf PF_PORT=$(free_port)
mkdir -p "$PF" && chmod 755 "$PF"
start_mta --route "pf.example=127.0.0.1:$PF_PORT" --route "refuse.example=127.0.0.2:$P" \
	--retry 300 --max-size 200000 || { echo "Bail out! mta-smtpd did not start"; exit 1; }
BOX=$MTA_MAIL/user

PF_HOSTNAME=pf.test.example
pf_create "$PF" "$PF_PORT" maildir pf.example user
printf 'reject@pf.example REJECT no such user here\n' >"$PF/etc/rcpt_access"
pf_set "$PF" "relayhost = [127.0.0.1]:$MTA_PORT" \
	"smtpd_recipient_restrictions = check_recipient_access texthash:$PF/etc/rcpt_access, permit_mynetworks, reject_unauth_destination" \
	"bounce_queue_lifetime = 0" "maximal_queue_lifetime = 0"
pf_start "$PF"
ok 0 "private Postfix started on 127.0.0.1:$PF_PORT"
PFBOX=$PF/mail/user

body() {
	printf 'From: <%s>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s@client.test>\n\n.\n..\n.dot\nbody of %s\n' \
		"$1" "$2" "$3" "$3" "$3"
}
body_of() { sed '1,/^$/d' "$1"; }

# ---- mta -> Postfix -----------------------------------------------------
r=$(body user@test.example user@pf.example to-postfix | inject "$MTA_PORT" user@test.example user@pf.example)
like "$r" '^250 ' "mta -> Postfix: queued at the mta"
maildir_wait "$PFBOX" 1 30; ok $? "mta -> Postfix: in Postfix's Maildir"
f=$(maildir_files "$PFBOX" | head -1)
is "$(body_of "$f")" "$(printf '.\n..\n.dot\nbody of to-postfix')" \
	"mta -> Postfix: body intact (dot lines too)"
like "$(head -1 "$f")" '^Return-Path: <user@test\.example>' "mta -> Postfix: envelope sender kept"
like "$(grep -c '^Received:' "$f")" '^2$' "mta -> Postfix: two Received: fields (ours, Postfix's)"
grep -q 'from mx.test.example' "$f"; ok $? "mta -> Postfix: Postfix saw our EHLO name"
like "$(grep 'relayed rcpt=<user@pf.example>' "$MTA_LOG")" "port=$PF_PORT" "mta -> Postfix: logged"

# ---- Postfix -> mta -----------------------------------------------------
r=$(body user@pf.example user@test.example from-postfix | inject "$PF_PORT" user@pf.example user@test.example)
like "$r" '^250 ' "Postfix -> mta: queued at Postfix"
maildir_wait "$BOX" 1 30; ok $? "Postfix -> mta: delivered to our Maildir"
f=$(maildir_files "$BOX" | head -1)
is "$(body_of "$f")" "$(printf '.\n..\n.dot\nbody of from-postfix')" \
	"Postfix -> mta: body intact (dot lines too)"
like "$(head -2 "$f" | tr '\n' ' ')" '^Return-Path: <user@pf\.example> Delivered-To: user@test\.example' \
	"Postfix -> mta: Return-Path and Delivered-To"
like "$(sed -n 3,5p "$f" | tr '\n' ' ')" '^Received: from pf\.test\.example \(\[127\.0\.0\.1\]\)' \
	"Postfix -> mta: our Received: names Postfix's EHLO"

# ---- Postfix refuses at RCPT: our DSN quotes it ---------------------------
r=$(body user@test.example reject@pf.example refused | inject "$MTA_PORT" user@test.example reject@pf.example)
id=$(queued_id "$r")
maildir_wait "$BOX" 2 30; ok $? "refused by Postfix: a bounce"
f=$(maildir_files "$BOX" | tail -1)
tap_from "$(dsn_check "$f" --name dsn --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: refused' \
	--rcpt 'reject@pf.example' --status '^5\.7\.1$' \
	--diag '^smtp; 554 5\.7\.1 <reject@pf\.example>: Recipient address rejected: no such user here$')"

# ---- our DSN to a Postfix user -------------------------------------------
r=$(body user@pf.example x@refuse.example to-refuser | inject "$MTA_PORT" user@pf.example x@refuse.example)
maildir_wait "$PFBOX" 2 30; ok $? "our DSN to a Postfix user: delivered by Postfix"
f=$(maildir_files "$PFBOX" | tail -1)
like "$(head -1 "$f")" '^Return-Path: <>' "our DSN to a Postfix user: from <>"
grep -q '^Content-Type: multipart/report; report-type=delivery-status' "$f"
ok $? "our DSN to a Postfix user: a multipart/report"
grep -q '^Diagnostic-Code: smtp; 550 5.1.1 nobody here' "$f"; ok $? "our DSN to a Postfix user: the reply quoted"

# ---- Postfix's DSN comes back through us -----------------------------------
$PY -c 'import sys
sys.stdout.write("From: <user@test.example>\nSubject: too big\n\n" + ("x" * 76 + "\n") * 4000)' >"$T/big"
r=$(inject "$PF_PORT" user@test.example big@test.example <"$T/big")
like "$r" '^250 ' "too big for us: Postfix takes it"
maildir_wait "$BOX" 3 30; ok $? "Postfix's DSN reaches our local sender through us"
f=$(maildir_files "$BOX" | tail -1)
like "$(head -1 "$f")" '^Return-Path: <>' "Postfix's DSN: from <>"
grep -qi '^From: .*MAILER-DAEMON@pf\.test\.example' "$f"; ok $? "Postfix's DSN: from Postfix's MAILER-DAEMON"
grep -q '^Status: 5\.3\.4' "$f"; ok $? "Postfix's DSN: Status 5.3.4 (our size limit)"
grep -q 'exceeds size limit 200000' "$f"; ok $? "Postfix's DSN: our SIZE 200000 (EHLO) honoured"
is "$(maildir_count "$MTA_MAIL/big")" 0 "the big message was not delivered"

wait_until 10 queue_empty; ok $? "our queue empty"
is "$(pf_queue_count "$PF")" 0 "Postfix's queue empty"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
