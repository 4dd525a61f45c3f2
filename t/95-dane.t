#!/bin/bash
# t/95-dane.t - DANE outbound (RFC 7672; mta-smtpd(8) --dane,
# --dns-trust-anchor; dane.h, remote.h): a zone signed here with
# ldns-keygen and ldns-signzone, served with an unsigned one by nsd on
# 127.0.0.1; its DS record is the trust anchor of mta's validating
# resolver (libunbound, forwarding to nsd through --dns); the MX hosts
# are one aiosmtpd sink with STARTTLS on 127.0.0.2 (t/lib/sink.py), its
# certificate from the test CA (t/lib/tlscerts.sh), which mta is NOT
# given: only DANE can vouch for it.  Messages and log lines: t/lib/relaylog.sh.
#   TLSA 3 1 1 matching the sink's key: delivered, policy=dane verify=ok;
#   TLSA 3 1 1 not matching: deferred (4.7.5), nothing arrives;
#   TLSA 1 1 1 (PKIX-EE, not for SMTP): encrypt, any certificate;
#   TLSA 2 0 1 matching the issuer (a second sink on 127.0.0.3, the same
#     port): delivered when the certificate names the MX host or the
#     next-hop domain (RFC 7672 3.2.2), deferred when it names another;
#     a connection kept after a delivery verified by the next-hop domain's
#     name is not taken for another domain with the same MX host;
#   a secure MX host without TLSA records: the other policies (may);
#   a TLSA RRset without signatures in the signed zone (bogus): deferred,
#     nothing arrives;
#   an unsigned zone (insecure) with a wrong TLSA record: ignored, may;
#   a --route's host (no tls=): its own TLSA records, matching: dane,
#     mismatching: deferred (4.7.5); a route with tls=may: may all the
#     same; a route to an address, or to a host in the insecure zone: may;
#   eight deliveries at once (one message, eight recipients) share the
#     resolver (make tsan);
#   SIGHUP: a new resolver, DANE as before;
#   --tls-client verify and only unusable TLSA records (PKIX-EE): verify
#     stays (encrypt would drop the certificate check): deferred;
#   mta's DNS questions pass a forwarder that forges answers to those
#     without the DO bit (t/lib/dnsforge.py: what an attacker could do to
#     the plain resolver): a forged MX, or a forged NXDOMAIN, for a domain
#     whose MX RRset is secure is not believed: delivered to the validated
#     MX host under DANE;
#   --dane with the trust anchor file missing, an anchor the zone's keys
#     do not match, or no DNS server at --dns: exit 1 at start, with a
#     message.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/tlscerts.sh"
. "$here/lib/relaylog.sh"

for p in /usr/sbin/nsd /usr/bin/ldns-keygen /usr/bin/ldns-signzone; do
	[ -x "$p" ] || skip_all "$p is not installed (make test-deps)"
done

plan 73

make_ca "$T" && make_cert "$T" mx mx1.dane.example ec &&
	make_cert "$T" ta mx6.dane.example ec ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }
peer_start tls 127.0.0.2 --tls-cert "$T/mx-chain.crt" --tls-key "$T/mx.key" ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
TLS=$PEER_DIR PORT=$PEER_PORT
# a second MX on the same port, its certificate for mx6.dane.example only
PEER_WANT=$PORT peer_start ta 127.0.0.3 --tls-cert "$T/ta-chain.crt" \
	--tls-key "$T/ta.key" || { echo "Bail out! aiosmtpd did not start"; exit 1; }
TA=$PEER_DIR

# the SHA-256 of the sink's public key (selector 1, matching type 1)
spki=$(openssl x509 -in "$T/mx.crt" -noout -pubkey |
	openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
# the SHA-256 of the CA's certificate (selector 0, matching type 1)
ca=$(openssl x509 -in "$T/ca.crt" -outform DER | sha256sum | cut -d' ' -f1)
wrong=$(printf 'not the key' | sha256sum | cut -d' ' -f1)
[ ${#spki} = 64 ] || { echo "Bail out! no key digest"; exit 1; }

# ---- the zones ---------------------------------------------------------------
Z=$T/zones
mkdir -p "$Z"
# zone_head ZONE - its $ORIGIN, SOA, NS and the name server's address
zone_head() {
	printf '$ORIGIN %s.\n$TTL 300\n' "$1"
	printf '@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n' "$1" "$1"
	printf '@ IN NS ns.%s.\nns IN A 127.0.0.1\n' "$1"
}
{ zone_head dane.example; cat <<EOF
good IN MX 10 mx1.dane.example.
forged IN MX 10 mx1.dane.example.
forgednx IN MX 10 mx1.dane.example.
bad IN MX 10 mx2.dane.example.
pkix IN MX 10 mx3.dane.example.
none IN MX 10 mx4.dane.example.
bogus IN MX 10 mx5.dane.example.
ta IN MX 10 mx6.dane.example.
taname IN MX 10 mx7.dane.example.
mx6 IN MX 10 mx8.dane.example.
other IN MX 10 mx8.dane.example.
mx1 IN A 127.0.0.2
mx2 IN A 127.0.0.2
mx3 IN A 127.0.0.2
mx4 IN A 127.0.0.2
mx5 IN A 127.0.0.2
mx6 IN A 127.0.0.3
mx7 IN A 127.0.0.3
mx8 IN A 127.0.0.3
_$PORT._tcp.mx1 IN TLSA 3 1 1 $spki
_$PORT._tcp.mx2 IN TLSA 3 1 1 $wrong
_$PORT._tcp.mx3 IN TLSA 1 1 1 $spki
_$PORT._tcp.mx6 IN TLSA 2 0 1 $ca
_$PORT._tcp.mx7 IN TLSA 2 0 1 $ca
_$PORT._tcp.mx8 IN TLSA 2 0 1 $ca
EOF
} >"$Z/dane.example.zone"
{ zone_head plain.example; cat <<EOF
@ IN MX 10 mx.plain.example.
mx IN A 127.0.0.2
_$PORT._tcp.mx IN TLSA 3 1 1 $wrong
EOF
} >"$Z/plain.example.zone"
(
	cd "$Z" &&
	ksk=$(ldns-keygen -a ECDSAP256SHA256 -k dane.example) &&
	zsk=$(ldns-keygen -a ECDSAP256SHA256 dane.example) &&
	ldns-signzone -n dane.example.zone "$ksk" "$zsk" &&
	cp "$ksk.ds" anchor.ds &&
	# an unsigned TLSA RRset inside the signed zone: validates as bogus
	printf '_%s._tcp.mx5.dane.example. 300 IN TLSA 3 1 1 %s\n' "$PORT" "$spki" \
		>>dane.example.zone.signed &&
	# a key of the same zone the signatures are not made with
	other=$(ldns-keygen -a ECDSAP256SHA256 -k dane.example) &&
	cp "$other.ds" other-anchor.ds
) >"$T/ldns.out" 2>&1 || { sed 's/^/# /' "$T/ldns.out"; echo "Bail out! ldns could not sign the zone"; exit 1; }

NS_PORT=$(free_port)
cat >"$Z/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$NS_PORT
  port: $NS_PORT
  username: ""
  chroot: ""
  zonesdir: "$Z"
  database: ""
  pidfile: "$Z/nsd.pid"
  xfrdfile: "$Z/xfrd.state"
  zonelistfile: "$Z/zone.list"
  server-count: 1
  logfile: "$Z/nsd.log"
remote-control:
  control-enable: no
zone:
  name: dane.example
  zonefile: dane.example.zone.signed
zone:
  name: plain.example
  zonefile: plain.example.zone
EOF
/usr/sbin/nsd -d -c "$Z/nsd.conf" >"$T/nsd.out" 2>&1 &
track $!
wait_port 127.0.0.1 "$NS_PORT" 10 ||
	{ sed 's/^/# /' "$T/nsd.out" "$Z/nsd.log"; echo "Bail out! nsd did not start"; exit 1; }

# the forwarder lies to the plain resolver only (no DO bit)
FORGE_PORT=$(free_port)
$PY "$here/lib/dnsforge.py" "$FORGE_PORT" "$NS_PORT" forged.dane.example=mx.plain.example \
	forgednx.dane.example=NXDOMAIN >"$T/forge.out" 2>&1 &
track $!
wait_until 10 grep -q ready "$T/forge.out" ||
	{ sed 's/^/# /' "$T/forge.out"; echo "Bail out! dnsforge.py did not start"; exit 1; }

start_mta --dns "127.0.0.1:$FORGE_PORT" --smtp-port "$PORT" --retry 300 \
	--dane --dns-trust-anchor "$Z/anchor.ds" \
	--route "routed.example=mx1.dane.example:$PORT" --route "routebad.example=mx2.dane.example:$PORT" \
	--route "routemay.example=mx2.dane.example:$PORT tls=may" --route "routeip.example=127.0.0.2:$PORT" \
	--route "routeplain.example=mx.plain.example:$PORT" ||
	{ sed 's/^/# /' "$T/mta.stderr"; echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- TLSA 3 1 1 matching: delivered under DANE -------------------------------
r=$(send good1 'a@good.dane.example')
like "$r" '^250 ' "matching TLSA: queued"
peer_wait "$TLS" 1 20; ok $? "matching TLSA: delivered"
like "$(relayed 'a@good\.dane\.example')" \
	'mx=mx1\.dane\.example addr=127\.0\.0\.2 .* tls=TLSv1\.[23]/[A-Z0-9_-]+ verify=ok policy=dane( resumed=[a-z]+)? result=ok' \
	"matching TLSA: the log says policy=dane, verify=ok"
grep -q '^body of good1' "$(peer_eml "$TLS" 1)"; ok $? "matching TLSA: the message came through"
is "$(peer_json "$TLS" 1 sni)" "mx1.dane.example" "matching TLSA: SNI names the MX host"
like "$(grep 'relay-dane mx=mx1' "$MTA_LOG" | head -1)" 'tlsa=dane why=".*1 TLSA record, 1 usable"' \
	"matching TLSA: the lookup logged"
like "$(grep 'relay-dane domain=good' "$MTA_LOG" | head -1)" \
	'domain=good\.dane\.example dnssec=secure why="MX of good\.dane\.example is secure"' \
	"matching TLSA: the MX RRset logged as secure"

# ---- TLSA 3 1 1 not matching: deferred, nothing sent --------------------------
deferred_by_tls bad1 'b@bad.dane.example' "mismatching TLSA" \
	'policy=dane( resumed=[a-z]+)? result=".*no matching DANE TLSA records' \
	'mx2\.dane\.example: 127\.0\.0\.2:[0-9]+: TLS handshake: certificate not trusted: no matching DANE TLSA records'
like "$("$MTA_BIN/mta-queue" -q "$MTA_QUEUE" 2>&1 | tr '\n' ' ')" \
	'b@bad\.dane\.example.*last error: .*no matching DANE TLSA records' \
	"mismatching TLSA: mta-queue shows why"
is "$(peer_count "$TLS")" 1 "mismatching TLSA: nothing arrived"

# ---- PKIX-EE only: encrypt, any certificate -----------------------------------
relayed_by pkix1 'c@pkix.dane.example' "TLSA 1 1 1 only (unusable): encrypt" \
	'tls=TLSv1\.[23]/[A-Z0-9_-]+ verify=fail policy=encrypt( resumed=[a-z]+)? result=ok' 

# ---- secure, no TLSA: the other policies --------------------------------------
relayed_by none1 'd@none.dane.example' "secure MX host without TLSA: --tls-client's may" \
	'policy=may( resumed=[a-z]+)? result=ok' 

# ---- bogus TLSA: deferred, nothing sent ----------------------------------------
deferred_by_tls bogus1 'e@bogus.dane.example' "bogus TLSA" \
	'tls=none verify=none policy=dane( resumed=[a-z]+)? result=".*DANE: TLSA of _[0-9]+\._tcp\.mx5\.dane\.example is bogus' \
	'mx5\.dane\.example \[127\.0\.0\.2\]: DANE: TLSA of .* is bogus'

# ---- DANE-TA: the issuer matches, and the name must -------------------------------
relayed_by ta1 'g@ta.dane.example' "TLSA 2 0 1 (the issuer), the MX host's name" \
	'mx=mx6\.dane\.example .* verify=ok policy=dane( resumed=[a-z]+)? result=ok' 
deferred_by_tls taname1 'h@taname.dane.example' "TLSA 2 0 1, a name the certificate lacks" \
	'policy=dane( resumed=[a-z]+)? result=".*certificate not trusted' \
	'mx7\.dane\.example: 127\.0\.0\.3:[0-9]+: TLS handshake: certificate not trusted: hostname mismatch'
is "$(peer_count "$TA")" 1 "TLSA 2 0 1, wrong name: nothing arrived"
relayed_by tanexthop1 'j@mx6.dane.example' "TLSA 2 0 1, the certificate names the next-hop domain" \
	'mx=mx8\.dane\.example .* verify=ok policy=dane( resumed=[a-z]+)? result=ok'
# that connection, kept, is the next-hop domain's alone: mail to another
# domain with the same MX host, at once, does not take it (a kept
# connection's key carries the TLSA records and the next hop)
deferred_by_tls tanexthop2 'k@other.dane.example' "TLSA 2 0 1, the same MX host for a domain the certificate does not name" \
	'mx=mx8\.dane\.example .*policy=dane( resumed=[a-z]+)? result=".*certificate not trusted' \
	'mx8\.dane\.example: 127\.0\.0\.3:[0-9]+: TLS handshake: certificate not trusted: hostname mismatch'
is "$(peer_count "$TA")" 2 "the same MX host for another domain: nothing more arrived"

# ---- insecure zone: falls back ------------------------------------------------
relayed_by plain1 'f@plain.example' "insecure zone, a wrong TLSA record ignored: may" \
	'verify=fail policy=may( resumed=[a-z]+)? result=ok' 
like "$(grep 'relay-dane domain=plain' "$MTA_LOG" | head -1)" \
	'domain=plain\.example dnssec=insecure' "insecure zone: the MX RRset logged as insecure"
lacks 'relay-dane mx=mx\.plain\.example' "$MTA_LOG"; ok $? "insecure zone: no TLSA lookup"
is "$(peer_count "$TLS")" 4 "the sink got exactly the four deliverable messages"
# ---- deliveries at once share the resolver ---------------------------------------
_all_relayed() { [ "$(grep -c 'relayed rcpt=<k[0-9]@' "$MTA_LOG")" -ge 8 ]; }
msg burst | inject "$MTA_PORT" user@test.example k1@good.dane.example \
	k2@good.dane.example k3@good.dane.example k4@good.dane.example \
	k5@none.dane.example k6@ta.dane.example k7@mx6.dane.example \
	k8@pkix.dane.example >/dev/null
wait_until 30 _all_relayed; ok $? "eight deliveries at once, each with its lookups: all relayed"
is "$(grep 'relayed rcpt=<k[1-4]@' "$MTA_LOG" | grep -cE 'verify=ok policy=dane( resumed=[a-z]+)? result=ok')" 4 \
	"eight at once: the four to good.dane.example under DANE"
kill -HUP "$MTA_PID"
wait_log 20 'reload status=ok'; ok $? "SIGHUP: reloaded, with a new validating resolver"
relayed_by good2 'i@good.dane.example' "after the reload, DANE" \
	'verify=ok policy=dane( resumed=[a-z]+)? result=ok' 

# ---- forged answers to the plain resolver: the validated MX RRset wins ---------
relayed_by forged1 'm@forged.dane.example' "a forged MX for a secure domain: not believed" \
	'mx=mx1\.dane\.example .* verify=ok policy=dane( resumed=[a-z]+)? result=ok'
lacks -E 'rcpt=<m@forged\.dane\.example> mx=mx\.plain\.example' "$MTA_LOG"
ok $? "a forged MX for a secure domain: its host never tried"
relayed_by forgednx1 'n@forgednx.dane.example' "a forged NXDOMAIN for a secure domain: not believed" \
	'mx=mx1\.dane\.example .* verify=ok policy=dane( resumed=[a-z]+)? result=ok'
lacks -E 'rcpt=<n@forgednx\.dane\.example>.*(does not exist|5\.1\.2)' "$MTA_LOG"
ok $? "a forged NXDOMAIN for a secure domain: no bounce"

# ---- a route's host: its own TLSA records when its addresses are secure --------
relayed_by route1 'r1@routed.example' "a route's host with a matching TLSA record: dane" \
	'mx=mx1\.dane\.example .* verify=ok policy=dane( resumed=[a-z]+)? result=ok'
like "$(grep 'relay-dane route-host=mx1' "$MTA_LOG" | head -1)" 'tlsa=dane why=".*1 TLSA record, 1 usable"' \
	"a route's host: its TLSA lookup logged"
deferred_by_tls route2 'r2@routebad.example' "a route's host with a mismatching TLSA record" \
	'policy=dane( resumed=[a-z]+)? result=".*no matching DANE TLSA records' \
	'mx2\.dane\.example: 127\.0\.0\.2:[0-9]+: TLS handshake: certificate not trusted: no matching DANE TLSA records'
relayed_by route3 'r3@routemay.example' "a route with tls=may: its own word wins, no DANE" \
	'mx=mx2\.dane\.example .* verify=fail policy=may( resumed=[a-z]+)? result=ok'
relayed_by route4 'r4@routeip.example' "a route to an address: no name, no DANE" \
	'verify=fail policy=may( resumed=[a-z]+)? result=ok'
lacks 'relay-dane route-host=127' "$MTA_LOG"; ok $? "a route to an address: no TLSA lookup"
relayed_by route5 'r5@routeplain.example' "a route's host in an insecure zone: may" \
	'mx=mx\.plain\.example .* verify=fail policy=may( resumed=[a-z]+)? result=ok'
like "$(grep 'relay-dane route-host=mx\.plain' "$MTA_LOG" | head -1)" 'tlsa=none' \
	"a route's host in an insecure zone: its wrong TLSA record not taken"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- --tls-client verify: unusable TLSA records keep the certificate check ----
MTA_DIR=$T/v start_mta --dns "127.0.0.1:$FORGE_PORT" --smtp-port "$PORT" --retry 300 \
	--dane --dns-trust-anchor "$Z/anchor.ds" --tls-client verify ||
	{ sed 's/^/# /' "$T/v/mta.stderr"; echo "Bail out! mta-smtpd did not start"; exit 1; }
n=$(peer_count "$TLS")
deferred_by_tls pkix2 'p@pkix.dane.example' "--tls-client verify, TLSA 1 1 1 only: verify" \
	'policy=verify( resumed=[a-z]+)? result=".*certificate not trusted' 'mx3\.dane\.example: 127\.0\.0\.2:[0-9]+: TLS handshake: certificate not trusted'
is "$(peer_count "$TLS")" "$n" "--tls-client verify, TLSA 1 1 1 only: nothing arrived"
is "$(stop_mta)" 0 "--tls-client verify: SIGTERM: exit 0"

# ---- --dane without a usable validating resolver: exit 1 ------------------------
mkdir -p "$T/c/q" "$T/c/m"
# refused ANCHOR DNS LABEL ERROR_RE - mta-smtpd --dane with that trust
# anchor file and --dns exits 1 at start, its message matching ERROR_RE
# (2 tests)
refused() {
	local err
	err=$(timeout 120 "$MTA_BIN/mta-smtpd" -q "$T/c/q" -m "$T/c/m" \
		-l "127.0.0.1:$(free_port)" -L "$T/c/log" --dane --dns "$2" \
		--dns-trust-anchor "$1" 2>&1 >/dev/null)
	is "$?" 1 "--dane, $3: exit 1"
	like "$err" "$4" "--dane, $3: the message says why"
}
refused "$T/missing.ds" "127.0.0.1:$NS_PORT" "trust anchor missing" \
	"^mta-smtpd: --dns-trust-anchor $T/missing\\.ds: No such file or directory\$"
refused "$Z/other-anchor.ds" "127.0.0.1:$NS_PORT" "a trust anchor the zone's keys do not match" \
	"^mta-smtpd: --dane: no validating resolver: the DNSKEY of dane\\.example\\. .* was not validated"
refused "$Z/anchor.ds" "127.0.0.1:$(free_port)" "no DNS server at --dns" \
	"^mta-smtpd: --dane: no validating resolver: the DNSKEY of dane\\.example\\. .* was not validated"
done_testing
