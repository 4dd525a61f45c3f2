#!/bin/bash
# t/79-smarthost-postfix.t - AUTH to a smarthost (a --route's auth=FILE)
# against a real submission server: a private Postfix (t/lib/postfix-peer.sh)
# offering STARTTLS and AUTH only after it (smtpd_tls_auth_only), relaying
# only for authenticated clients, its SASL backend a private Dovecot
# (t/lib/dovecot.sh, smtpd_sasl_type = dovecot over Dovecot's auth socket):
#   the right password: delivered into Postfix's Maildir, Postfix logs
#     the login (sasl_method=PLAIN, sasl_username=alice), the certificate
#     verified (the default with auth=);
#   a wrong one: Postfix's 535 logged, deferred (temporary), the message
#     still queued, Dovecot saw the mismatch; the password in no log.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/tlscerts.sh"
. "$here/lib/relaylog.sh"
. "$here/lib/postfix-peer.sh"
. "$here/lib/dovecot.sh"

command -v dovecot >/dev/null || skip_all "dovecot-core is not installed"

plan 11

GOOD_PW='Pf-good 3a7c' BAD_PW='Pf-bad-55e1'
make_ca "$T" && make_cert "$T" pf pf.test.example rsa ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }
chmod 644 "$T/pf.key"

DV=$T/dv
dovecot_user "$DV" alice "$GOOD_PW"
start_dovecot "$DV" "auth_verbose = yes" || { echo "Bail out! dovecot did not start"; exit 1; }

PF=$T/pf PF_PORT=$(free_port)
mkdir -p "$PF" && chmod 755 "$PF"
PF_HOSTNAME=pf.test.example
pf_create "$PF" "$PF_PORT" maildir pf.example alice
pf_set "$PF" "smtpd_tls_security_level = may" \
	"smtpd_tls_chain_files = $T/pf.key, $T/pf-chain.crt" \
	"smtpd_tls_session_cache_database =" \
	"smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
	"smtpd_sasl_path = $DOVECOT_AUTH_SOCKET" "smtpd_tls_auth_only = yes" \
	"smtpd_relay_restrictions = permit_sasl_authenticated, reject" \
	"smtpd_recipient_restrictions = permit_sasl_authenticated, reject"
"$PF_POSTCONF" -c "$PF/etc" -M "tlsmgr/unix=tlsmgr unix - - n 1000? 1 tlsmgr"
pf_start "$PF"
ok 0 "private Postfix with Dovecot SASL started on 127.0.0.1:$PF_PORT"

creds() { printf 'user %s\npassword %s\n' "$2" "$3" >"$1"; chmod 600 "$1"; }
creds "$T/good" alice "$GOOD_PW"
creds "$T/bad" alice "$BAD_PW"
start_mta --retry 300 --tls-ca "$T/ca.crt" \
	--route "pf.example=127.0.0.1:$PF_PORT auth=$T/good" \
	--route "bad.example=127.0.0.1:$PF_PORT auth=$T/bad" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

send good1 alice@pf.example >/dev/null
maildir_wait "$PF/mail/alice" 1 30; ok $? "right password: in Postfix's Maildir"
like "$(grep -E 'sasl_method=' "$PF/maillog" | head -1)" 'sasl_method=PLAIN, sasl_username=alice' \
	"Postfix logged the login (PLAIN, alice)"
like "$(relayed 'alice@pf\.example')" 'verify=ok policy=verify( resumed=[a-z]+)? result=ok' \
	"the certificate verified"

r=$(send bad1 someone@bad.example)
id=$(queued_id "$r")
wait_until 30 _attempted 'someone@bad\.example'; ok $? "wrong password: an attempt"
like "$(attempt 'someone@bad\.example')" 'said: 535 5\.7\.8 .*in reply to AUTH' \
	"wrong password: Postfix's 535 logged"
like "$(grep "deferred id=$id" "$MTA_LOG" | head -1)" 'error=".*535' "wrong password: deferred"
ok $([ -n "$id" ] && [ -n "$(find "$MTA_QUEUE" -name "$id*" -type f | head -1)" ] && echo 0 || echo 1) \
	"wrong password: still queued"
like "$(cat "$DOVECOT_LOG")" 'passwd-file\(alice,127\.0\.0\.1.*Password mismatch' \
	"Dovecot checked it for Postfix"
lacks -F -e "$GOOD_PW" -e "$BAD_PW" "$MTA_LOG" "$PF/maillog"; ok $? "no password in the logs"
is "$(maildir_count "$PF/mail/alice")" 1 "nothing more delivered"

done_testing
