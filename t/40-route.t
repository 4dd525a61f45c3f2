#!/bin/bash
# t/40-route.t - where remote mail goes without DNS (mta-smtpd(8), remote.h):
# a domain literal to that address on --smtp-port, a --route for the
# domain, the "*" route (smarthost) for everything else; local domains
# stay local; routes are compared without case; each recipient of a
# message goes its own way (those of one domain at one next hop together,
# in one transaction).  The peers are aiosmtpd sinks (t/lib/sink.py)
# on 127.0.0.2, 127.0.0.3 and 127.0.0.4.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 33

peer_start lit 127.0.0.2 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
LIT=$PEER_DIR LIT_PORT=$PEER_PORT
peer_start routed 127.0.0.3 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
ROUTED=$PEER_DIR ROUTED_PORT=$PEER_PORT
peer_start smart 127.0.0.4 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
SMART=$PEER_DIR SMART_PORT=$PEER_PORT

start_mta --smtp-port "$LIT_PORT" --retry 300 \
	--route "routed.example=127.0.0.3:$ROUTED_PORT" \
	--route "*=127.0.0.4:$SMART_PORT" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

msg() {
	printf 'From: <user@test.example>\nTo: <%s>\nSubject: %s\nDate: Mon, 02 Jan 2023 10:00:00 +0000\nMessage-ID: <%s@client.test>\n\nbody of %s\n' \
		"$2" "$1" "$1" "$1"
}

# ---- domain literal ---------------------------------------------------
r=$(msg lit 'u1@[127.0.0.2]' | inject "$MTA_PORT" user@test.example 'u1@[127.0.0.2]')
like "$r" '^250 ' "literal: accepted for relaying"
peer_wait "$LIT" 1 10; ok $? "literal: arrives at 127.0.0.2:--smtp-port"
is "$(peer_json "$LIT" 1 rcpt_tos)" 'u1@[127.0.0.2]' "literal: RCPT TO as given"
is "$(peer_json "$LIT" 1 mail_from)" 'user@test.example' "literal: MAIL FROM kept"
is "$(peer_json "$LIT" 1 helo)" 'mx.test.example' "literal: EHLO with --hostname"
f=$(peer_eml "$LIT" 1)
like "$(head -1 "$f")" '^Received: from client\.test \(\[127\.0\.0\.1\]\)' \
	"literal: our Received: field first"
grep -q '^Subject: lit' "$f"; ok $? "literal: the header came through"
lacks -E '^(Return-Path|Delivered-To):' "$f"; ok $? \
	"literal: no Return-Path/Delivered-To on relayed mail"
tail -c 14 "$f" | grep -q 'body of lit'; ok $? "literal: the body came through"

# ---- --route ------------------------------------------------------------
r=$(msg routed 'u2@routed.example' | inject "$MTA_PORT" user@test.example 'u2@routed.example')
like "$r" '^250 ' "route: accepted"
peer_wait "$ROUTED" 1 10; ok $? "route: arrives at the routed host"
is "$(peer_json "$ROUTED" 1 rcpt_tos)" 'u2@routed.example' "route: recipient"
r=$(msg upper 'u3@ROUTED.Example' | inject "$MTA_PORT" user@test.example 'u3@ROUTED.Example')
peer_wait "$ROUTED" 2 10; ok $? "route: the domain matches without case"
is "$(peer_json "$ROUTED" 2 rcpt_tos)" 'u3@ROUTED.Example' \
	"route: recipient's case kept"

# ---- smarthost ----------------------------------------------------------
r=$(msg smart 'u4@elsewhere.example' | inject "$MTA_PORT" user@test.example 'u4@elsewhere.example')
like "$r" '^250 ' "smarthost: accepted"
peer_wait "$SMART" 1 10; ok $? "smarthost: any other domain goes to the * route"
is "$(peer_json "$SMART" 1 rcpt_tos)" 'u4@elsewhere.example' "smarthost: recipient"
r=$(msg sub 'u5@sub.routed.example' | inject "$MTA_PORT" user@test.example 'u5@sub.routed.example')
peer_wait "$SMART" 2 10; ok $? "smarthost: a subdomain of a routed domain is not routed"

# ---- local stays local --------------------------------------------------
r=$(msg local 'user@test.example' | inject "$MTA_PORT" user@test.example 'user@test.example')
maildir_wait "$MTA_MAIL/user" 1 10; ok $? "local: a local domain is not sent to the smarthost"

# ---- one message, every kind of recipient -------------------------------
r=$(msg mixed 'many' | inject "$MTA_PORT" user@test.example \
	'm1@[127.0.0.2]' 'm2@routed.example' 'm3@other.example' 'm4@[127.0.0.2]' 'user@test.example')
like "$r" '^250 ' "mixed: accepted for 5 recipients"
wait_until 10 queue_empty; ok $? "mixed: queue empty"
peer_wait "$LIT" 2 5
is "$(peer_count "$LIT")" 2 "mixed: literal sink got one more message, for both literal recipients"
is "$(cat "$LIT"/*.json | $PY -c 'import sys, json
d = sys.stdin.read().replace("}{", "}\n{").splitlines()
print(" ".join(sorted(r for l in d for r in json.loads(l)["rcpt_tos"])))')" \
	'm1@[127.0.0.2] m4@[127.0.0.2] u1@[127.0.0.2]' \
	"mixed: the two literal recipients in one transaction (grouped), each once"
is "$(peer_json "$ROUTED" 0 rcpt_tos)" 'm2@routed.example' "mixed: routed one"
is "$(peer_json "$SMART" 0 rcpt_tos)" 'm3@other.example' "mixed: smarthost one"
is "$(maildir_count "$MTA_MAIL/user")" 2 "mixed: local one"
is "$(peer_count "$ROUTED")/$(peer_count "$SMART")" 3/3 "no sink got anything twice"
is "$(maildir_count "$MTA_MAIL/user")" 2 "no bounce to the sender"

# ---- the log ------------------------------------------------------------
like "$(grep 'relayed rcpt=<m2@routed.example>' "$MTA_LOG")" \
	"mx=127\.0\.0\.3 addr=127\.0\.0\.3 port=$ROUTED_PORT" "log: relayed, with where"
like "$(grep 'delivered id=.* rcpt=<m3@other.example>' "$MTA_LOG")" 'via=smtp' \
	"log: delivered via=smtp"
is "$(log_count ' (deferred|failed|bounce) ')" 0 "log: nothing deferred or failed"

is "$(stop_mta)" 0 "SIGTERM: exit 0"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue empty at the end"
done_testing
