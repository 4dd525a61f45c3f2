#!/bin/bash
# t/47-mx-self.t - an MX that points back to this host (RFC 5321 5.1,
# remote.h): the daemon listens on 127.0.0.1:P as well and delivers to
# --smtp-port P, so an MX or a domain resolving to 127.0.0.1 is itself.
#   best MX is us -> the recipient fails at once, 5.4.6 "mail for DOMAIN
#     loops back to myself", nothing connected to (no trip round our own
#     queue until the Received: limit);
#   no MX, the domain's own address is us -> the same;
#   a better MX exists (dead) -> only it is tried, neither we nor the MX
#     less preferred than us: the recipient is deferred.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 69

P=$(free_port)
PEER_WANT=$P peer_start worse 127.0.0.6 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
WORSE=$PEER_DIR
# 127.0.0.5:$P stays dead
dns_start --local=/example/ \
	--mx-host=self.example,mx.self.example,10 \
	--mx-host=self.example,backup.other.example,20 \
	--host-record=mx.self.example,127.0.0.1 \
	--host-record=backup.other.example,127.0.0.6 \
	--host-record=implicit.example,127.0.0.1 \
	--mx-host=backup.example,primary.backup.example,10 \
	--mx-host=backup.example,us.backup.example,20 \
	--mx-host=backup.example,worse.backup.example,30 \
	--host-record=primary.backup.example,127.0.0.5 \
	--host-record=us.backup.example,127.0.0.1 \
	--host-record=worse.backup.example,127.0.0.6 ||
	{ echo "Bail out! dnsmasq did not start"; exit 1; }
start_mta -l "127.0.0.1:$P" --dns "127.0.0.1:$DNS_PORT" --smtp-port "$P" \
	--retry 300 --max-received 10 || { echo "Bail out! mta-smtpd did not start"; exit 1; }

msg() {
	printf 'From: <%s@test.example>\nSubject: %s\nMessage-ID: <%s@client.test>\n\nbody %s\n' "$2" "$1" "$1" "$1"
}

# ---- the best MX is us -----------------------------------------------------
r=$(msg self user | inject "$MTA_PORT" user@test.example 's@self.example')
id=$(queued_id "$r")
like "$id" '^[A-Za-z0-9]+$' "self: queued"
maildir_wait "$MTA_MAIL/user" 1 15; ok $? "self: a bounce to the sender"
f=$(maildir_files "$MTA_MAIL/user" | head -1)
tap_from "$(dsn_check "$f" --name self --sender user@test.example --orig-id "$id" \
	--orig-header 'Subject: self' --rcpt 's@self.example' --status '^5\.4\.6$' \
	--remote - --diag -)"
grep -q 'mail for self\.example loops back to myself' "$f"
ok $? "self: the report says the mail loops back to myself"
is "$(log_count 'relay(ed|-attempt) rcpt=<s@self\.example>')" 0 \
	"self: no connection made, not even to the MX less preferred than us"
is "$(log_count 'relay-self domain=self\.example mx=mx\.self\.example addr=127\.0\.0\.1')" 1 \
	"self: the MX found to be us is logged"
is "$(peer_count "$WORSE")" 0 "self: the less preferred MX got nothing"

# ---- no MX, the domain's address is us -------------------------------------
r=$(msg implicit other | inject "$MTA_PORT" other@test.example 'i@implicit.example')
id=$(queued_id "$r")
maildir_wait "$MTA_MAIL/other" 1 15; ok $? "implicit: a bounce to the sender"
f=$(maildir_files "$MTA_MAIL/other" | head -1)
tap_from "$(dsn_check "$f" --name implicit --sender other@test.example --orig-id "$id" \
	--rcpt 'i@implicit.example' --status '^5\.4\.6$' --remote - --diag -)"
is "$(log_count 'relay(ed|-attempt) rcpt=<i@implicit\.example>')" 0 "implicit: no connection made"

# ---- a better MX, dead: tried alone ----------------------------------------
r=$(msg backup user | inject "$MTA_PORT" user@test.example 'b@backup.example')
id=$(queued_id "$r")
wait_log 15 "deferred id=$id rcpt=<b@backup\.example>"; ok $? "backup: deferred"
tries=$(grep -E 'relay(ed|-attempt) rcpt=<b@backup.example>' "$MTA_LOG" |
	sed -n 's/.* mx=\([^ ]*\) addr=\([^ ]*\) .*/\1=\2/p' | tr '\n' ' ')
is "$tries" "primary.backup.example=127.0.0.5 " "backup: only the MX better than us was tried"
is "$(peer_count "$WORSE")" 0 "backup: the MX less preferred than us got nothing"
is "$(log_count 'failed-rcpt .*rcpt=<b@backup\.example>')" 0 "backup: not failed"
is "$(maildir_count "$MTA_MAIL/user")" 1 "backup: no second bounce"

is "$(stop_mta)" 0 "SIGTERM, exit 0"
done_testing
