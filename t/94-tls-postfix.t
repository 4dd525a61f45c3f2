#!/bin/bash
# t/94-tls-postfix.t - client TLS against a real Postfix that insists on
# it (smtpd_tls_security_level = encrypt: MAIL only after STARTTLS), a
# private instance on a loopback port (t/bench/lib-postfix.sh, maildir
# mode for pf.example), its certificate from the test CA
# (t/lib/tlscerts.sh, valid for 127.0.0.1):
#   may (the default): delivered over TLS, Postfix's Received: says
#     ESMTPS and names the version and cipher, our log line too (with
#     verify=ok: checked all the same, against --tls-ca and the address);
#   verify with --tls-ca, the route by address (checked as an address):
#     verify=ok, delivered;
#   tls=none: Postfix refuses MAIL (530 5.7.0), nothing delivered in
#     plaintext.
# Needs root and the postfix package, as t/48-postfix.t.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/tlscerts.sh"
. "$here/lib/postfix-peer.sh"

plan 14

make_ca "$T" && make_cert "$T" pf pf.test.example rsa ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }
chmod 644 "$T/pf.key"

PF=$T/pf PF_PORT=$(free_port)
mkdir -p "$PF" && chmod 755 "$PF"
PF_HOSTNAME=pf.test.example
pf_create "$PF" "$PF_PORT" maildir pf.example user
pf_set "$PF" "smtpd_tls_security_level = encrypt" \
	"smtpd_tls_chain_files = $T/pf.key, $T/pf-chain.crt" \
	"smtpd_tls_received_header = yes" "smtpd_tls_loglevel = 1" \
	"smtpd_tls_session_cache_database ="
"$PF_POSTCONF" -c "$PF/etc" -M \
	"tlsmgr/unix=tlsmgr unix - - n 1000? 1 tlsmgr"
pf_start "$PF"
ok 0 "private Postfix started on 127.0.0.1:$PF_PORT, TLS enforced"
PFBOX=$PF/mail/user

start_mta --retry 300 --tls-ca "$T/ca.crt" \
	--route "pf.example=127.0.0.1:$PF_PORT" \
	--route "verify.pf.example=127.0.0.1:$PF_PORT tls=verify" \
	--route "none.pf.example=127.0.0.1:$PF_PORT tls=none" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

body() {
	printf 'From: <user@test.example>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s@client.test>\n\nbody of %s\n' \
		"$1" "$2" "$2" "$2"
}
relayed() { grep -E "relayed rcpt=<$1>" "$MTA_LOG" | tail -1; }

# ---- may ------------------------------------------------------------------
r=$(body user@pf.example may | inject "$MTA_PORT" user@test.example user@pf.example)
like "$r" '^250 ' "may: queued at the mta"
maildir_wait "$PFBOX" 1 30; ok $? "may: in Postfix's Maildir"
f=$(maildir_files "$PFBOX" | head -1)
like "$(sed -n '/^Received: from mx\.test\.example/,/^[^[:space:]]/p' "$f" | tr '\n\t' '  ')" \
	'\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ .*with ESMTPS' \
	"may: Postfix's Received: names TLS and ESMTPS"
like "$(relayed 'user@pf\.example')" "port=$PF_PORT tls=TLSv1\.[23]/[A-Z0-9_-]+ verify=ok policy=may( resumed=[a-z]+)? result=ok" \
	"may: our log line names the TLS (the certificate checked, not required)"
grep -q "TLS connection established from .*127\.0\.0\.1" "$PF/maillog"; ok $? \
	"may: Postfix logged the TLS connection"

# ---- verify, by address -----------------------------------------------------
r=$(body x@verify.pf.example verify | inject "$MTA_PORT" user@test.example x@verify.pf.example)
like "$r" '^250 ' "verify: queued at the mta"
_pf_took() { grep -q "to=<$1>" "$PF/maillog"; }
wait_until 30 _pf_took 'x@verify\.pf\.example'; ok $? "verify: taken by Postfix"
like "$(relayed 'x@verify\.pf\.example')" 'tls=TLSv1\.[23]/[A-Z0-9_-]+ verify=ok policy=verify( resumed=[a-z]+)? result=ok' \
	"verify: the certificate checked for 127.0.0.1 with --tls-ca: verify=ok"

# ---- none: Postfix will not take plaintext ----------------------------------
r=$(body y@none.pf.example none | inject "$MTA_PORT" user@test.example y@none.pf.example)
like "$r" '^250 ' "none: queued at the mta"
wait_log 30 'relay-attempt rcpt=<y@none\.pf\.example>'; ok $? "none: an attempt"
like "$(grep 'relay-attempt rcpt=<y@none\.pf\.example>' "$MTA_LOG" | tail -1)" \
	'tls=none verify=none policy=none( resumed=[a-z]+)? result=".*said: 530 5\.7\.0 Must issue a STARTTLS command first' \
	"none: Postfix refused MAIL in plaintext, as it says"
! _pf_took 'y@none\.pf\.example'; ok $? "none: nothing taken by Postfix"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
