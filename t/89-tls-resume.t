#!/bin/bash
# t/89-tls-resume.t - TLS session resumption in remote delivery
# (smtp_client.h, tls.h tls_conn_resume, tls_sess.h) against an aiosmtpd
# sink with STARTTLS (t/lib/sink.py: Python's ssl, TLS 1.3 tickets), the
# deliveries on separate connections (each after the kept one's idle
# time, remote.h REMOTE_IDLE_SECONDS, has run out):
#   the first connection: a full handshake, resumed=no in the log and at
#     the server;
#   the second to the same address, port and policy: the session the
#     first one got is offered, resumed=yes in the log, and the server
#     saw an abbreviated handshake;
#   another policy to the same server (encrypt, verify with the address
#     checked against --tls-ca): never offered may's session (resumed=no
#     the first time), its own on its second connection;
#   a server whose key changed (restarted with a new certificate and new
#     ticket keys): the session offered is refused, a full handshake,
#     delivered; the next one resumes the new server's session.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/tlscerts.sh"
. "$here/lib/relaylog.sh"

plan 25

make_ca "$T" && CERT_SAN="DNS:mx.res.example,IP:127.0.0.31" make_cert "$T" mx mx.res.example ec &&
	CERT_SAN="DNS:mx.res.example,IP:127.0.0.31" make_cert "$T" mx2 mx.res.example ec ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }

peer_start tls 127.0.0.31 --tls-cert "$T/mx-chain.crt" --tls-key "$T/mx.key" ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
TLS=$PEER_DIR TLS_PORT=$PEER_PORT TLS_PID=$PEER_PID

start_mta --retry 300 --tls-ca "$T/ca.crt" \
	--route "may.example=127.0.0.31:$TLS_PORT" \
	--route "enc.example=127.0.0.31:$TLS_PORT tls=encrypt" \
	--route "ver.example=127.0.0.31:$TLS_PORT tls=verify" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# one delivery on a connection of its own: the kept connections of the
# earlier ones have gone (idle for REMOTE_IDLE_SECONDS, 5)
n=0
deliver() {
	sleep 6
	n=$((n + 1))
	like "$(send "$1" "$2")" '^250 ' "$3: queued"
	peer_wait "$TLS" "$n" 20; ok $? "$3: delivered"
}

deliver res1 a@may.example "may, first"
like "$(relayed 'a@may\.example')" 'tls=TLSv1\.3/[A-Z0-9_]+ verify=[a-z]+ policy=may resumed=no result=ok' \
	"may, first: a full handshake (resumed=no)"
is "$(peer_json "$TLS" "$n" resumed)" False "may, first: the server saw a full handshake"

deliver res2 b@may.example "may, second"
like "$(relayed 'b@may\.example')" 'tls=TLSv1\.3/[A-Z0-9_]+ verify=[a-z]+ policy=may resumed=yes result=ok' \
	"may, second: the session resumed (resumed=yes)"
is "$(peer_json "$TLS" "$n" resumed)" True "may, second: the server saw an abbreviated handshake"

deliver res3 c@ver.example "verify, first"
like "$(relayed 'c@ver\.example')" 'verify=ok policy=verify resumed=no result=ok' \
	"verify, first: may's session not offered (resumed=no)"
is "$(peer_json "$TLS" "$n" resumed)" False "verify, first: a full handshake at the server"

deliver res4 d@ver.example "verify, second"
like "$(relayed 'd@ver\.example')" 'verify=ok policy=verify resumed=yes result=ok' \
	"verify, second: its own session resumed, still verify=ok"

deliver res5 e@enc.example "encrypt, first"
like "$(relayed 'e@enc\.example')" 'policy=encrypt resumed=no result=ok' \
	"encrypt, first: no other policy's session (resumed=no)"

# the server restarted with another key and other ticket keys: the
# session offered is of no use there, the handshake a full one
kill "$TLS_PID"; wait "$TLS_PID" 2>/dev/null
PEER_WANT=$TLS_PORT peer_start tls2 127.0.0.31 --tls-cert "$T/mx2-chain.crt" --tls-key "$T/mx2.key" ||
	{ echo "Bail out! aiosmtpd did not restart"; exit 1; }
TLS=$PEER_DIR n=0
deliver res6 f@may.example "new server, first"
like "$(relayed 'f@may\.example')" 'policy=may resumed=no result=ok' \
	"new server, first: the old session refused, a full handshake"
deliver res7 g@may.example "new server, second"
like "$(relayed 'g@may\.example')" 'policy=may resumed=yes result=ok' \
	"new server, second: the new server's session resumed"

mta_alive; ok $? "mta-smtpd still runs"
