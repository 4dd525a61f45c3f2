#!/bin/bash
# t/93-tls-client.t - TLS in remote delivery (mta-smtpd(8) --tls-client,
# --tls-ca, a --route's tls=; smtp_client.h, remote.h), against aiosmtpd
# sinks with STARTTLS (t/lib/sink.py --tls-cert) and hostile servers
# (t/lib/badsmtp.py tlsjunk, tls454), the test CA and certificates made
# here (t/lib/tlscerts.sh):
#   may (the default): STARTTLS whenever offered: the peer sees TLS, SNI;
#     the log line names version, cipher, verify= and policy=;
#   may, STARTTLS refused (454): delivered in plaintext on that connection;
#   may, a handshake that fails (garbage after the 220): logged
#     (relay-tls-fallback) and delivered once more at once in plaintext;
#   encrypt: a peer without STARTTLS, one that refuses it, one whose
#     handshake fails: deferred with 4.7.4 / 4.7.5, nothing in plaintext,
#     and mta-queue shows the reason; an MX without STARTTLS: the next MX;
#   verify with --tls-ca and the route host's or MX host's name in the
#     certificate: delivered (verify=ok); a name it does not hold, or no
#     --tls-ca (the system's CAs do not know the test CA): deferred, 4.7.5;
#   kept connections: a route to the same server with tls=none does not
#     take the TLS connection, nor may the plaintext one afterwards;
#   the statuses in DSNs (4.7.4, 4.7.5); --tls-ca at SIGHUP (unreadable:
#     the running configuration stays; readable: taken) and at start
#     (missing: exit 1, named).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/tlscerts.sh"
. "$here/lib/relaylog.sh"

plan 119

make_ca "$T" && make_cert "$T" mx mx.tls.example ec ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }

# the TLS sink on 127.0.0.2 (its certificate: mx.tls.example and 127.0.0.1),
# a plain one on 127.0.0.3, hostile servers on 127.0.0.5
peer_start tls 127.0.0.2 --tls-cert "$T/mx-chain.crt" --tls-key "$T/mx.key" ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
TLS=$PEER_DIR TLS_PORT=$PEER_PORT
peer_start plain 127.0.0.3 || { echo "Bail out! aiosmtpd did not start"; exit 1; }
PLAIN=$PEER_DIR PLAIN_PORT=$PEER_PORT
J1=$(free_port_on 127.0.0.5) J2=$(free_port_on 127.0.0.5)
while [ "$J2" = "$J1" ]; do J2=$(free_port_on 127.0.0.5); done
bad_start bad "tlsjunk=127.0.0.5:$J1" "tls454=127.0.0.5:$J2" ||
	{ echo "Bail out! badsmtp.py did not start"; exit 1; }
BAD=$BAD_DIR
# names for the TLS sink: the right one and one its certificate lacks
# a plain sink on 127.0.0.6 at the TLS sink's port: an MX without STARTTLS
PEER_WANT=$TLS_PORT peer_start plainmx 127.0.0.6 ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
PLAINMX=$PEER_DIR
dns_start --local=/example/ --host-record=mx.tls.example,127.0.0.2 \
	--mx-host=mxdomain.example,mx.tls.example,10 \
	--mx-host=twomx.example,mx1.plain.example,10 \
	--mx-host=twomx.example,mx.tls.example,20 \
	--host-record=mx1.plain.example,127.0.0.6 \
	--host-record=other.tls.example,127.0.0.2 ||
	{ echo "Bail out! dnsmasq did not start"; exit 1; }

start_mta --dns "127.0.0.1:$DNS_PORT" --retry 300 --tls-ca "$T/ca.crt" \
	--route "may.example=127.0.0.2:$TLS_PORT" \
	--route "none.example=127.0.0.2:$TLS_PORT tls=none" \
	--route "plain.example=127.0.0.3:$PLAIN_PORT" \
	--route "encplain.example=127.0.0.3:$PLAIN_PORT tls=encrypt" \
	--route "junk.example=127.0.0.5:$J1" \
	--route "encjunk.example=127.0.0.5:$J1 tls=encrypt" \
	--route "refused.example=127.0.0.5:$J2" \
	--route "encrefused.example=127.0.0.5:$J2 tls=encrypt" \
	--route "verified.example=mx.tls.example:$TLS_PORT tls=verify" \
	--route "wrong.example=other.tls.example:$TLS_PORT tls=verify" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- may, STARTTLS offered ----------------------------------------------
r=$(send may1 'a@may.example')
like "$r" '^250 ' "may: queued"
peer_wait "$TLS" 1 20; ok $? "may: delivered"
like "$(peer_json "$TLS" 1 tls | tr '\n' ' ')" '^TLS_[A-Z0-9_]+ TLSv1\.3 [0-9]+' \
	"may: the peer saw TLS 1.3 (STARTTLS)"
is "$(peer_json "$TLS" 1 sni)" "None" "may: no SNI for a route by address"
like "$(relayed 'a@may\.example')" 'port=[0-9]+ tls=TLSv1\.3/TLS_[A-Z0-9_]+ verify=fail policy=may( resumed=[a-z]+)? result=ok' \
	"may: the log names version, cipher, an unchecked certificate and the policy"
grep -q '^body of may1' "$(peer_eml "$TLS" 1)"; ok $? "may: the message came through"

# ---- kept connections and a change of policy ----------------------------
r=$(send none1 'b@none.example')
peer_wait "$TLS" 2 20; ok $? "tls=none to the same server: delivered"
is "$(peer_json "$TLS" 2 tls)" "None" "tls=none: not over the kept TLS connection"
like "$(relayed 'b@none\.example')" 'tls=none verify=none policy=none( resumed=[a-z]+)? result=ok' \
	"tls=none: logged so"
r=$(send may2 'c@may.example')
peer_wait "$TLS" 3 20; ok $? "may again: delivered"
like "$(peer_json "$TLS" 3 tls | tr '\n' ' ')" '^TLS_[A-Z0-9_]+ TLSv1\.3' \
	"may again: over TLS, not over the kept plaintext connection"
r=$(send none2 'd@none.example')
peer_wait "$TLS" 4 20
is "$(peer_json "$TLS" 4 tls)" "None" "tls=none again: in plaintext"

# ---- many deliveries at once share the one client context ---------------
n=$(peer_count "$TLS")
# 16 messages of one recipient each (one message's recipients at one
# domain would go together, in one delivery)
r=$(for i in $(seq 1 16); do msg "many$i" | inject "$MTA_PORT" user@test.example "many$i@may.example"; done)
is "$(printf '%s\n' "$r" | grep -c '^250 ')" 16 "16 recipients: queued (a message each, delivered side by side)"
peer_wait "$TLS" $((n + 16)) 60; ok $? "16 recipients: all delivered"
is "$(cat "$TLS"/*.json | $PY -c 'import sys, json
d = sys.stdin.read().replace("}{", "}\n{").splitlines()
print(sum(1 for l in d if json.loads(l)["rcpt_tos"][0].startswith("many")
          and (json.loads(l)["tls"] or [""])[1] == "TLSv1.3"))')" 16 \
	"16 recipients: each over TLS"

# ---- may, no STARTTLS offered / STARTTLS refused ------------------------
r=$(send plain1 'e@plain.example')
peer_wait "$PLAIN" 1 20; ok $? "may, no STARTTLS offered: delivered in plaintext"
like "$(relayed 'e@plain\.example')" 'tls=none verify=none policy=may( resumed=[a-z]+)? result=ok' \
	"may, no STARTTLS: logged as plaintext under may"
r=$(send refused1 'f@refused.example')
wait_until 20 _relayed 'f@refused\.example'; ok $? "may, STARTTLS refused (454): delivered"
grep -q 'body of refused1' "$BAD"/tls454.*.msg 2>/dev/null; ok $? \
	"may, STARTTLS refused: the message went in plaintext"

# ---- may, the handshake fails: once more in plaintext ---------------------
r=$(send junk1 'g@junk.example')
wait_until 20 _relayed 'g@junk\.example'; ok $? "may, handshake failed: delivered"
like "$(grep relay-tls-fallback "$MTA_LOG" | head -1)" \
	"relay-tls-fallback mx=127\.0\.0\.5 addr=127\.0\.0\.5 port=$J1 error=.*TLS handshake" \
	"may, handshake failed: the fallback logged with the reason"
like "$(head -c 300 "$BAD"/tlsjunk.1.in | tr '\r\n' '  ')" 'STARTTLS' \
	"may, handshake failed: the first connection said STARTTLS"
grep -q 'body of junk1' "$BAD"/tlsjunk.2.msg 2>/dev/null; ok $? \
	"may, handshake failed: the second connection carried the message"
lacks STARTTLS "$BAD"/tlsjunk.2.in; ok $? "may, the plaintext retry: no STARTTLS"
like "$(relayed 'g@junk\.example')" 'tls=none verify=none policy=may( resumed=[a-z]+)? result=ok' \
	"may, handshake failed: logged as plaintext under may"

# ---- encrypt: never plaintext ------------------------------------------
n_plain=$(peer_count "$PLAIN")
r=$(send encplain 'h@encplain.example')
id_h=$(queued_id "$r")
wait_until 20 _attempted 'h@encplain\.example'; ok $? "encrypt, no STARTTLS: an attempt"
like "$(attempt 'h@encplain\.example')" \
	'tls=none verify=none policy=encrypt( resumed=[a-z]+)? result=".*TLS is required \(encrypt\), but the server offers no STARTTLS"' \
	"encrypt, no STARTTLS: 'TLS is required' logged"
is "$(peer_count "$PLAIN")" "$n_plain" "encrypt, no STARTTLS: nothing delivered"
lacks 'MAIL FROM' "$PLAIN/events"; ok $? "encrypt, no STARTTLS: no MAIL FROM said"
like "$(grep "deferred id=$id_h" "$MTA_LOG" | head -1)" 'error=".*TLS is required' \
	"encrypt, no STARTTLS: deferred"
like "$("$MTA_BIN/mta-queue" -q "$MTA_QUEUE" 2>&1 | tr '\n' ' ')" \
	'h@encplain\.example.*last error: .*TLS is required \(encrypt\), but the server offers no STARTTLS' \
	"encrypt, no STARTTLS: mta-queue shows the TLS failure"

r=$(send encrefused 'i@encrefused.example')
wait_until 20 _attempted 'i@encrefused\.example'; ok $? "encrypt, STARTTLS refused: an attempt"
like "$(attempt 'i@encrefused\.example')" \
	'result=".*TLS is required \(encrypt\), but STARTTLS was refused: 454 4\.7\.0 TLS not available now"' \
	"encrypt, STARTTLS refused: logged with the server's reply"
lacks 'body of encrefused' "$BAD"/tls454.*.msg; ok $? "encrypt, STARTTLS refused: nothing sent"

deferred_by_tls encjunk 'j@encjunk.example' "encrypt, handshake failed" \
	'policy=encrypt( resumed=[a-z]+)? result=".*TLS handshake' 'TLS handshake'
lacks 'body of encjunk' "$BAD"/tlsjunk.*.msg; ok $? "encrypt, handshake failed: no plaintext retry"

# ---- verify ------------------------------------------------------------
n=$(peer_count "$TLS")
r=$(send verified 'k@verified.example')
peer_wait "$TLS" $((n + 1)) 20; ok $? "verify, the right name: delivered"
is "$(peer_json "$TLS" 0 sni)" "mx.tls.example" "verify: SNI names the route host"
like "$(relayed 'k@verified\.example')" 'mx=mx\.tls\.example .*tls=TLSv1\.3/[A-Z0-9_]+ verify=ok policy=verify( resumed=[a-z]+)? result=ok' \
	"verify: verify=ok logged"
deferred_by_tls wrong 'l@wrong.example' "verify, a name the certificate lacks" \
	'policy=verify( resumed=[a-z]+)? result=".*TLS handshake: certificate not trusted: [Hh]ostname mismatch' \
	'hostname mismatch'
is "$(peer_count "$TLS")" $((n + 1)) "verify, wrong name: nothing delivered"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- the statuses (in the DSNs, with -a 1); verify without --tls-ca ------
: >"$T/b.conf"
MTA_DIR=$T/b start_mta --config "$T/b.conf" --dns "127.0.0.1:$DNS_PORT" --retry 300 -a 1 --tls-client verify \
	--smtp-port "$TLS_PORT" \
	--route "verified.example=mx.tls.example:$TLS_PORT" \
	--route "encplain.example=127.0.0.3:$PLAIN_PORT tls=encrypt" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
# SIGHUP: a --tls-ca that cannot be read keeps the running configuration
# (its CAs too); one that can is taken
printf 'tls-ca %s\n' "$T/missing-ca.pem" >"$T/b.conf"
kill -HUP "$MTA_PID"
wait_log 20 'reload status=error'; ok $? "SIGHUP, --tls-ca missing: the reload fails"
like "$(grep 'reload status=error' "$MTA_LOG" | head -1)" 'missing-ca\.pem: No such file' \
	"SIGHUP, --tls-ca missing: the file named"
r=$(send sysca 'm@verified.example')
id_m=$(queued_id "$r")
wait_until 20 _attempted 'm@verified\.example'; ok $? "--tls-client verify, system CAs: an attempt"
like "$(attempt 'm@verified\.example')" 'policy=verify( resumed=[a-z]+)? result=".*certificate not trusted: self-signed certificate in certificate chain' \
	"--tls-client verify, system CAs: the test CA is not trusted"
maildir_wait "$MTA_MAIL/user" 1 20; ok $? "verify failed, -a 1: a DSN"
tap_from "$(dsn_check "$(maildir_files "$MTA_MAIL/user" | head -1)" --name "verify DSN" \
	--sender user@test.example --orig-id "$id_m" --rcpt 'm@verified.example' \
	--status '^4\.7\.5$' --diag - --remote -)"
r=$(send encplain2 'n@encplain.example')
id_n=$(queued_id "$r")
maildir_wait "$MTA_MAIL/user" 2 20; ok $? "encrypt, no STARTTLS, -a 1: a DSN"
tap_from "$(dsn_check "$(maildir_files "$MTA_MAIL/user" | tail -1)" --name "encrypt DSN" \
	--sender user@test.example --orig-id "$id_n" --rcpt 'n@encplain.example' \
	--status '^4\.7\.4$' --diag - --remote -)"
printf 'tls-ca %s\n' "$T/ca.crt" >"$T/b.conf"
kill -HUP "$MTA_PID"
wait_log 20 'reload status=ok'; ok $? "SIGHUP, the test CA as --tls-ca: reloaded"
n=$(peer_count "$TLS")
r=$(send reloaded 'o@verified.example')
peer_wait "$TLS" $((n + 1)) 20; ok $? "after the reload: verified and delivered"
like "$(relayed 'o@verified\.example')" 'verify=ok policy=verify( resumed=[a-z]+)? result=ok' \
	"after the reload: verify=ok"
r=$(send mx 'p@mxdomain.example')
peer_wait "$TLS" $((n + 2)) 20; ok $? "--tls-client verify, by MX: delivered"
is "$(peer_json "$TLS" 0 sni)" "mx.tls.example" "by MX: SNI names the MX host"
like "$(relayed 'p@mxdomain\.example')" 'mx=mx\.tls\.example .*verify=ok policy=verify( resumed=[a-z]+)? result=ok' \
	"by MX: the certificate valid for the MX host name"
r=$(send twomx 'q@twomx.example')
peer_wait "$TLS" $((n + 3)) 20; ok $? "verify, the best MX without STARTTLS: the next MX took it"
like "$(attempt 'q@twomx\.example')" 'mx=mx1\.plain\.example .*tls=none verify=none policy=verify( resumed=[a-z]+)? result=".*TLS is required \(verify\), but the server offers no STARTTLS' \
	"verify, the best MX without STARTTLS: its attempt logged"
like "$(relayed 'q@twomx\.example')" 'mx=mx\.tls\.example .*verify=ok policy=verify( resumed=[a-z]+)? result=ok' \
	"verify: the second MX verified"
is "$(peer_count "$PLAINMX")" 0 "verify: nothing in plaintext to the best MX"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- --tls-ca missing at start: exit 1, the file named ---------------------
mkdir -p "$T/c/q" "$T/c/m"
err=$(timeout 20 "$MTA_BIN/mta-smtpd" -q "$T/c/q" -m "$T/c/m" -l "127.0.0.1:$(free_port)" \
	-L "$T/c/log" --tls-ca "$T/missing-ca.pem" 2>&1 >/dev/null)
is "$?" 1 "--tls-ca missing at start: exit 1"
like "$err" "^mta-smtpd: --tls-ca $T/missing-ca\\.pem: No such file or directory\$" \
	"--tls-ca missing at start: the message names it"
done_testing
