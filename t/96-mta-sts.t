#!/bin/bash
# t/96-mta-sts.t - MTA-STS outbound (RFC 8461; mta-smtpd(8) --mta-sts,
# remote.h, mtasts_lookup.h): policies served over HTTPS by a python3
# server on 127.0.94.43:443 (t/lib/sts_https.py) with a certificate of the
# test CA (t/lib/tlscerts.sh, given to mta as --tls-ca), the _mta-sts TXT
# records, MX records and addresses from dnsmasq (--dns), the MX an
# aiosmtpd sink with STARTTLS whose certificate names mx.enforce.example:
#   enforce, the MX listed and its certificate valid for its name:
#     delivered over TLS, verify=ok policy=mta-sts, SNI the MX name; the
#     policy fetched once, logged, cached in QUEUE/sts/DOMAIN;
#   enforce, an MX the policy does not list: never connected, deferred;
#   enforce, an MX listed whose certificate lacks its name: deferred with
#     the verification failure, nothing delivered;
#   testing, an MX it does not list: logged (would-refuse) and delivered
#     as --tls-client says (may); an MX it lists whose certificate lacks
#     its name: logged with the reason, delivered;
#   a policy that cannot be fetched (the HTTPS certificate lacks the name,
#     a policy over 64 KiB, a redirection, text/html): logged, and no
#     policy (each
#     would refuse its MX if it had been taken);
#   the same id again: no fetch; a new id in DNS: fetched again, the new
#     policy cached;
#   the HTTPS server down and a new id: the failure logged, the cached
#     policy used (delivered under it; the MX outside it still refused);
#     the same id not fetched again at the next delivery;
#   --mta-sts no: the MX outside the policy delivered to, nothing cached;
#   throughout, https_proxy and ALL_PROXY name a dead proxy: not used;
#   libcurl refusing an option (an LD_PRELOAD shim refuses
#     CURLOPT_PROTOCOLS_STR, as an old libcurl does): the fetch fails,
#     logged, nothing cached;
#   the queue on t/tools/crashfs: temporary files a crash left in
#     QUEUE/sts removed at start-up; a stray "v=STSv10" record next to
#     the real one, and the real one among 18 other TXT records, still
#     name the policy; a domain of 244 characters cached; a policy with
#     a misplaced "*" in an mx pattern refused, with the reason; after a
#     power cut the cached policies are still there (directory fsync).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"
. "$here/lib/tlscerts.sh"

plan 77

WWW=127.0.94.43
# a domain of 244 characters: ".DOMAIN.tmp.PID.N" would pass NAME_MAX
A60=$(printf 'a%.0s' $(seq 60))
LONG=$A60.$A60.$A60.$(printf 'b%.0s' $(seq 53)).example
make_ca "$T" && make_cert "$T" mx mx.enforce.example ec &&
	make_cert_names "$T" www ec mta-sts.enforce.example mta-sts.outside.example \
		mta-sts.badcert.example mta-sts.testing.example mta-sts.big.example \
		mta-sts.redirect.example mta-sts.testing2.example mta-sts.html.example \
		mta-sts.stray.example mta-sts.many.example mta-sts.badpat.example \
		"mta-sts.$LONG" ||
	{ echo "Bail out! openssl could not make the test certificates"; exit 1; }

peer_start mx 127.0.0.2 --tls-cert "$T/mx-chain.crt" --tls-key "$T/mx.key" ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
MX=$PEER_DIR MX_PORT=$PEER_PORT

# the policies, by the host they are asked of
POL=$T/policies
mkdir -p "$POL"
policy() {
	local domain=$1 mode=$2 age=$3 mx
	shift 3
	{ printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
	  for mx in "$@"; do printf 'mx: %s\r\n' "$mx"; done
	  printf 'max_age: %s\r\n' "$age"; } >"$POL/.new" &&
	mv "$POL/.new" "$POL/mta-sts.$domain"
}
policy enforce.example enforce 86400 mx.enforce.example
policy outside.example enforce 86400 mx.enforce.example
policy badcert.example enforce 86400 '*.badcert.example'
policy testing.example testing 86400 mx.enforce.example
policy testing2.example testing 86400 mx.testing2.example
# not to be taken: each would refuse the domain's MX
policy badweb.example enforce 86400 nomatch.example
policy big.example enforce 86400 nomatch.example
policy html.example enforce 86400 nomatch.example
policy stray.example testing 86400 mx.stray.example
policy many.example testing 86400 mx.many.example
policy "$LONG" testing 86400 "mx.$LONG"
policy badpat.example enforce 86400 'mx.*.example'
echo text/html >"$POL/mta-sts.html.example.type"
head -c 70000 /dev/zero | tr '\0' 'x' | sed 's/^/pad: /' >>"$POL/mta-sts.big.example"
printf 'https://mta-sts.outside.example/.well-known/mta-sts.txt\n' \
	>"$POL/mta-sts.redirect.example.redirect"

www_start() {
	$PY "$TLIB/sts_https.py" --host $WWW --port 443 --cert "$T/www-chain.crt" \
		--key "$T/www.key" --dir "$POL" >"$T/www.out" 2>"$T/www.err" &
	WWW_PID=$!
	track "$WWW_PID"
	wait_until 10 grep -q ready "$T/www.out"
}
www_start || { sed 's/^/#   /' "$T/www.err"; echo "Bail out! the HTTPS server did not start"; exit 1; }
fetches() { grep -c "^mta-sts.$1 /.well-known/mta-sts.txt 200" "$POL/requests" 2>/dev/null; }

# sts_dns ID - dnsmasq with every record, enforce.example's policy id ID
sts_dns() {
	local d i args=()
	for d in enforce outside badcert testing testing2 badweb big redirect html \
	         stray many badpat "${LONG%.example}"; do
		args+=(--mx-host="$d.example,mx.$d.example,10"
		       --host-record="mx.$d.example,127.0.0.2"
		       --host-record="mta-sts.$d.example,$WWW")
	done
	# a stray record that only starts like one; the real one among 18
	# others (9 each side, whichever order the server gives them in)
	args+=(--txt-record="_mta-sts.stray.example,v=STSv10; id=9"
	       --txt-record="_mta-sts.stray.example,v=STSv1; id=1"
	       --txt-record="_mta-sts.$LONG,v=STSv1; id=1"
	       --txt-record="_mta-sts.badpat.example,v=STSv1; id=1")
	for i in 1 2 3 4 5 6 7 8 9; do args+=(--txt-record="_mta-sts.many.example,other=$i"); done
	args+=(--txt-record="_mta-sts.many.example,v=STSv1; id=1")
	for i in 1 2 3 4 5 6 7 8 9; do args+=(--txt-record="_mta-sts.many.example,more=$i"); done
	dns_start --local=/example/ "${args[@]}" \
		--txt-record="_mta-sts.enforce.example,v=STSv1; id=$1" \
		--txt-record="_mta-sts.outside.example,v=STSv1; id=1" \
		--txt-record="_mta-sts.badcert.example,v=STSv1; id=1" \
		--txt-record="_mta-sts.testing.example,v=STSv1; id=1" \
		--txt-record="_mta-sts.testing2.example,v=STSv1; id=1" \
		--txt-record="_mta-sts.badweb.example,v=STSv1; id=1" \
		--txt-record="_mta-sts.big.example,v=STSv1; id=1" \
		--txt-record="_mta-sts.html.example,v=STSv1; id=1" \
		--txt-record="_mta-sts.redirect.example,v=STSv1; id=1"
}
# dns_restart ID - the same port, enforce.example's id now ID
dns_restart() {
	kill "$DNS_PID" && wait "$DNS_PID" 2>/dev/null
	DNS_WANT=$DNS_PORT sts_dns "$1"
}
sts_dns 1 || { echo "Bail out! dnsmasq did not start"; exit 1; }

# a proxy named by the environment is not used (nobody listens there)
export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
	ALL_PROXY=http://127.0.0.1:9
start_mta --dns "127.0.0.1:$DNS_PORT" --smtp-port "$MX_PORT" --retry 300 \
	--tls-ca "$T/ca.crt" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# send WORD RCPT - user_msg WORD to RCPT through the daemon
send() { user_msg "$1" | inject "$MTA_PORT" user@test.example "$2"; }
_deferred() { [ -n "$(logline "deferred id=$1 ")" ]; }
# delivered WORD RCPT N LABEL - send; the MX then holds N messages (1 test)
delivered() { send "$1" "$2" >/dev/null; peer_wait "$MX" "$3" 20; ok $? "$4"; }
# deferred WORD RCPT LABEL - send; deferred, its id in ID (1 test)
deferred() {
	ID=$(queued_id "$(send "$1" "$2")")
	wait_until 20 _deferred "$ID"; ok $? "$3"
}

# ---- enforce, the MX listed and verified ---------------------------------
r=$(send enf1 'a@enforce.example')
like "$r" '^250 ' "enforce: queued"
peer_wait "$MX" 1 20; ok $? "enforce, a matching MX with a valid certificate: delivered"
like "$(relay_log relayed 'a@enforce\.example')" \
	'mx=mx\.enforce\.example .*tls=TLSv1\.[23]/[A-Z0-9_]+ verify=ok policy=mta-sts( resumed=[a-z]+)? result=ok' \
	"enforce: over TLS, verified, the policy named mta-sts"
is "$(peer_json "$MX" 1 sni)" "mx.enforce.example" "enforce: SNI names the MX host"
like "$(logline 'mta-sts domain=enforce\.example')" \
	'mta-sts domain=enforce\.example id=1 mode=enforce max_age=86400 mx=1 fetched=yes' \
	"enforce: the fetch logged"
is "$(fetches enforce.example)" 1 "enforce: the policy asked of mta-sts.enforce.example over HTTPS"
like "$(tr '\n' ' ' <"$MTA_QUEUE/sts/enforce.example" 2>/dev/null)" \
	'^id: 1 fetched: [0-9]+ version: STSv1 mode: enforce max_age: 86400 mx: mx\.enforce\.example $' \
	"enforce: the policy cached in QUEUE/sts/DOMAIN with its id and time"

# ---- enforce, an MX outside the policy -----------------------------------
deferred out1 'b@outside.example' "enforce, an MX outside the policy: deferred"
like "$(logline "deferred id=$ID")" \
	'error="No MX host of outside\.example matches its MTA-STS policy \(mx\.outside\.example not listed\)"' \
	"enforce, outside: the reason"
like "$(logline 'relay-sts domain=outside')" \
	'relay-sts domain=outside\.example sts=enforce refused=mx\.outside\.example id=1' \
	"enforce, outside: the refused MX logged"
is "$(relay_log relay-attempt 'b@outside\.example')" "" "enforce, outside: no connection tried"
is "$(peer_count "$MX")" 1 "enforce, outside: nothing delivered"

# ---- enforce, a certificate without the MX's name ------------------------
deferred bad1 'c@badcert.example' "enforce, a bad certificate: deferred"
like "$(relay_log relay-attempt 'c@badcert\.example')" \
	'mx=mx\.badcert\.example .*policy=mta-sts( resumed=[a-z]+)? result=".*certificate not trusted: [Hh]ostname mismatch' \
	"enforce, bad certificate: the verification failure logged"
like "$(logline "deferred id=$ID")" 'error=".*[Hh]ostname mismatch' "enforce, bad certificate: the reason"
is "$(peer_count "$MX")" 1 "enforce, bad certificate: nothing delivered"
lacks 'body bad1' "$MX"/*.eml; ok $? "enforce, bad certificate: no plaintext retry"

# ---- testing ---------------------------------------------------------------
delivered test1 'd@testing.example' 2 "testing, an MX outside the policy: delivered"
like "$(logline 'relay-sts domain=testing')" \
	'relay-sts domain=testing\.example sts=testing would-refuse=mx\.testing\.example id=1' \
	"testing: what enforce would refuse logged"
like "$(relay_log relayed 'd@testing\.example')" 'mx=mx\.testing\.example .*verify=fail policy=may( resumed=[a-z]+)? result=ok' \
	"testing: delivered as may"
delivered test2 'd2@testing2.example' 3 "testing, a listed MX with a bad certificate: delivered"
like "$(logline 'relay-sts domain=testing2')" \
	'relay-sts domain=testing2\.example sts=testing would-refuse=mx\.testing2\.example addr=127\.0\.0\.2 id=1 reason=".*[Hh]ostname mismatch' \
	"testing, a bad certificate: what enforce would refuse logged with the reason"
lacks 'relay-sts domain=enforce' "$MTA_LOG"; ok $? "enforce, verified: nothing logged as refused"

# ---- policies that cannot be fetched: no policy ----------------------------
# unfetched WORD DOMAIN N ERROR_RE LABEL - delivered as may, the error logged
# (3 tests)
unfetched() {
	local re
	re=$(printf '%s' "$2" | sed 's/\./\\./g')
	delivered "$1" "x@$2" "$3" "$5: delivered"
	like "$(logline "mta-sts-error domain=$re ")" "id=1 error=\".*$4" "$5: the failure logged"
	like "$(relay_log relayed "x@$re")" 'policy=may( resumed=[a-z]+)? result=ok' "$5: no policy applied"
}
unfetched web1 badweb.example 4 'mta-sts\.badweb\.example' \
	"the policy host's certificate lacks its name"
unfetched big1 big.example 5 'policy larger than 64 KiB' "a policy over 64 KiB"
unfetched redir1 redirect.example 6 'HTTP status 301' "a redirection"
unfetched html1 html.example 7 'media type text/html, not text/plain' "text/html"
is "$(fetches outside.example)" 1 "a redirection: not followed (outside.example's own fetch only)"

# ---- the same id: the cache; a new id: fetched again -----------------------
delivered enf2 'e@enforce.example' 8 "enforce, the same id: delivered"
is "$(fetches enforce.example)" 1 "the same id: not fetched again"
policy enforce.example enforce 3600 mx.enforce.example '*.enforce.example'
dns_restart 2 || { echo "Bail out! dnsmasq did not start again"; exit 1; }
delivered enf3 'f@enforce.example' 9 "a new id: delivered"
is "$(fetches enforce.example)" 2 "a new id: fetched again"
like "$(logline 'mta-sts domain=enforce\.example')" \
	'id=2 mode=enforce max_age=3600 mx=2 fetched=yes' "a new id: the new policy logged"
like "$(tr '\n' ' ' <"$MTA_QUEUE/sts/enforce.example")" \
	'^id: 2 .*max_age: 3600 mx: mx\.enforce\.example mx: \*\.enforce\.example $' \
	"a new id: the new policy cached"
like "$(relay_log relayed 'f@enforce\.example')" 'verify=ok policy=mta-sts( resumed=[a-z]+)? result=ok' \
	"a new id: delivered under it"

# ---- the HTTPS server down: the cached policy ------------------------------
kill "$WWW_PID" && wait "$WWW_PID" 2>/dev/null
dns_restart 3 || { echo "Bail out! dnsmasq did not start again"; exit 1; }
delivered enf4 'g@enforce.example' 10 "the HTTPS server down: delivered"
like "$(logline 'mta-sts-error domain=enforce\.example')" \
	'mta-sts-error domain=enforce\.example id=3 error=".*mta-sts\.enforce\.example' \
	"the HTTPS server down: the failed fetch logged"
like "$(relay_log relayed 'g@enforce\.example')" 'mx=mx\.enforce\.example .*verify=ok policy=mta-sts( resumed=[a-z]+)? result=ok' \
	"the HTTPS server down: delivered under the cached policy"
like "$(head -1 "$MTA_QUEUE/sts/enforce.example")" '^id: 2$' \
	"the HTTPS server down: the cached policy kept"
delivered enf5 'g2@enforce.example' 11 "the HTTPS server down, once more: delivered"
like "$(relay_log relayed 'g2@enforce\.example')" 'verify=ok policy=mta-sts( resumed=[a-z]+)? result=ok' \
	"the HTTPS server down, once more: under the cached policy"
is "$(grep -c 'mta-sts-error domain=enforce\.example' "$MTA_LOG")" 1 \
	"the HTTPS server down, once more: no second fetch of the same id so soon"
deferred out2 'h@outside.example' "the HTTPS server down, an MX outside the cached policy: deferred"
is "$(grep -c 'relay-sts domain=outside\.example sts=enforce' "$MTA_LOG")" 2 \
	"the HTTPS server down: the cached enforce policy refused it"
is "$(peer_count "$MX")" 11 "the HTTPS server down: nothing else delivered"
like "$("$MTA_BIN/mta-queue" -q "$MTA_QUEUE" 2>&1 | tr '\n' ' ')" \
	'b@outside\.example.*last error: .*matches its MTA-STS policy' \
	"mta-queue: the MTA-STS refusal as the last error, QUEUE/sts no trouble"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- --mta-sts no ----------------------------------------------------------
www_start || { echo "Bail out! the HTTPS server did not start again"; exit 1; }
MTA_DIR=$T/b start_mta --dns "127.0.0.1:$DNS_PORT" --smtp-port "$MX_PORT" --retry 300 \
	--tls-ca "$T/ca.crt" --mta-sts no ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
n=$(wc -l <"$POL/requests")
delivered off1 'i@outside.example' 12 "--mta-sts no: the MX outside the policy delivered to"
like "$(relay_log relayed 'i@outside\.example')" 'policy=may( resumed=[a-z]+)? result=ok' "--mta-sts no: as may"
lacks relay-sts "$MTA_LOG"; ok $? "--mta-sts no: no policy applied"
is "$(wc -l <"$POL/requests")" "$n" "--mta-sts no: nothing fetched"
[ ! -e "$MTA_QUEUE/sts" ]; ok $? "--mta-sts no: nothing cached"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- libcurl refusing an option: the fetch fails -------------------------
cat >"$T/setopt.c" <<'EOF'
/* refuses CURLOPT_PROTOCOLS_STR as a libcurl older than 7.85 does */
#define _GNU_SOURCE
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
CURLcode curl_easy_setopt(CURL *h, CURLoption o, ...)
{
	CURLcode (*real)(CURL *, CURLoption, ...) =
		(CURLcode (*)(CURL *, CURLoption, ...))dlsym(RTLD_NEXT, "curl_easy_setopt");
	va_list ap;
	void *arg;

	va_start(ap, o);
	arg = va_arg(ap, void *);   /* each option mta uses takes one word */
	va_end(ap);
	return o == CURLOPT_PROTOCOLS_STR ? CURLE_UNKNOWN_OPTION : real(h, o, arg);
}
EOF
cc -shared -fPIC -o "$T/setopt.so" "$T/setopt.c" -ldl ||
	{ echo "Bail out! cc could not build the libcurl shim"; exit 1; }
# (ASan wants to be first among the libraries; the shim comes first here)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
MTA_DIR=$T/s LD_PRELOAD=$T/setopt.so start_mta --dns "127.0.0.1:$DNS_PORT" \
	--smtp-port "$MX_PORT" --retry 300 --tls-ca "$T/ca.crt" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
send opt1 'j@enforce.example' >/dev/null
wait_until 20 grep -q 'mta-sts-error domain=enforce\.example' "$MTA_LOG"
like "$(logline 'mta-sts-error domain=enforce\.example')" \
	'id=3 error=".*libcurl refused an option' "libcurl refusing an option: the fetch failed, logged"
lacks 'mta-sts domain=enforce\.example' "$MTA_LOG"; ok $? "libcurl refusing an option: no policy taken"
[ ! -e "$MTA_QUEUE/sts/enforce.example" ]; ok $? "libcurl refusing an option: nothing cached"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- the cache on crashfs: record forms, long names, durability -----------
. "$here/lib/crashfs.sh"
if [ ! -c /dev/fuse ]; then
	for i in $(seq 12); do ok 0 "# SKIP /dev/fuse is absent"; done
	exit 0
fi
mkdir -p "$T/cb/queue/sts" "$T/cb/mail"
: >"$T/cb/queue/sts/.enforce.example.tmp.4242.0"
: >"$T/cb/queue/sts/.tmp.4242.1"
fs_mount_on "$T/cb" || { echo "Bail out! crashfs did not mount"; exit 1; }
MTA_DIR=$T/c start_mta -q "$M/queue" -m "$M/mail" --dns "127.0.0.1:$DNS_PORT" \
	--smtp-port "$MX_PORT" --retry 300 --tls-ca "$T/ca.crt" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(ls -A "$M/queue/sts")" "" "start-up: the temporary files a crash left removed"
send stray1 'k@stray.example' >/dev/null
send many1 'l@many.example' >/dev/null
send long1 "m@$LONG" >/dev/null
send pat1 'n@badpat.example' >/dev/null
for d in stray.example many.example "$LONG"; do
	wait_until 20 test -s "$M/queue/sts/$d"
done
like "$(logline 'mta-sts domain=stray\.example')" 'id=1 mode=testing .*fetched=yes' \
	"a stray v=STSv10 record next to the real one: discarded, the policy fetched"
like "$(logline 'mta-sts domain=many\.example')" 'id=1 mode=testing .*fetched=yes' \
	"the STSv1 record among 18 other TXT records: found, the policy fetched"
like "$(logline "mta-sts domain=$LONG")" 'id=1 mode=testing .*fetched=yes' \
	"a domain of 244 characters: the policy fetched"
lacks 'cannot store' "$MTA_LOG"; ok $? "a domain of 244 characters: no store error"
[ -s "$M/queue/sts/$LONG" ]; ok $? "a domain of 244 characters: cached"
wait_until 20 grep -q 'mta-sts-error domain=badpat\.example' "$MTA_LOG"
like "$(logline 'mta-sts-error domain=badpat\.example')" \
	'error="the policy file is not a valid STSv1 policy: a malformed mx pattern"' \
	"an mx pattern with a misplaced *: the policy refused, the reason logged"
[ ! -e "$M/queue/sts/badpat.example" ]; ok $? "a refused policy: not cached"
fs_cut
kill -9 "$MTA_PID" 2>/dev/null
wait_until 10 test -f "$MTA_STATUS_FILE"
fs_umount
for d in stray.example many.example "$LONG"; do
	like "$(head -1 "$T/cb/queue/sts/$d" 2>/dev/null)" '^id: 1$' \
		"after a power cut: the policy of ${d:0:20}... still cached"
done
is "$(ls -A "$T/cb/queue/sts" | grep -c '^\.')" 0 "after a power cut: no temporary file"
