#!/bin/bash
# t/98-dovecot-auth.t - dovecot_auth_check() (src/dovecot_auth.h), the
# client of Dovecot's auth-client socket behind --dovecot-auth, against a
# real private Dovecot (t/lib/dovecot.sh: a passwd-file with SHA512-CRYPT
# hashes), driven by t/tools/dovecot-auth:
#   the right password: 1; a wrong one: 0 with Dovecot's "Password
#   mismatch" in its log (the request reached the passdb); an unknown
#   login: 0; the right password of a login the passdb flags nologin
#   (Dovecot's OK with nologin): 0; the client address and the secured flag reach Dovecot;
#   many threads at once (a connection each, a CPID each): all accepted,
#   and all refused with a wrong password;
#   temporary failures, never 0: a passdb failing (Dovecot's FAIL with
#   temp), Dovecot stopped (its socket left: refused), no socket at
#   all, a server that never answers (the deadline), one that speaks
#   another major version, one that does not offer PLAIN;
# and mta-smtpd --dovecot-auth on a submission port, with swaks: Dovecot's
# login accepted (235), a wrong password 535, a login Dovecot renames
# (its OK's user=) bound to the senders of the new name, not the typed one, Dovecot stopped 454 (a
# temporary failure, logged as auth-source-error), never 535.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/dovecot.sh"
. "$TLIB/tlscerts.sh"

[ "$(id -u)" = 0 ] || skip_all "Dovecot's master must start as root"
command -v dovecot >/dev/null || skip_all "dovecot-core is not installed"
TOOL=${MTA_DOVECOT_AUTH:-$(dirname "${MTA_CRASHFS:-$here/../build/release/tools/crashfs}")/dovecot-auth}
[ -x "$TOOL" ] || { echo "Bail out! $TOOL missing: make build/release/tools/dovecot-auth"; exit 1; }

plan 25

DV=$T/dv
dovecot_user "$DV" alice 'correct horse'
dovecot_user "$DV" bob@example.org 'sp ace and ünïcode'
# suspended: the password matches, the passdb says nologin (Dovecot
# answers OK ... nologin)
dovecot_user "$DV" carol 'right one' \
	":$(id -u nobody):$(id -g nobody)::$DV/home/carol::nologin=y reason=suspended"
# a login Dovecot renames (the passdb's user field; auth_username_format
# %n does the same to any "dan@DOMAIN"): the password is dan's
dovecot_user "$DV" dan@any.example 'dans pw' \
	":$(id -u nobody):$(id -g nobody)::$DV/home/dan::user=dan"
mkdir -p "$DV"
printf '#!/bin/sh\nexit 111\n' >"$DV/tempfail"
chmod 755 "$DV/tempfail"
start_dovecot "$DV" "auth_verbose = yes
passdb {
  driver = checkpassword
  args = $DV/tempfail
  username_filter = *@gone.example
}" || { echo "Bail out! dovecot"; exit 1; }

check() { DOVECOT_AUTH_PASSWORD=$2 "$TOOL" "${@:3}" "$DOVECOT_AUTH_SOCKET" "$1"; }

like "$(check alice 'correct horse')" '^1 ' "the right password: accepted"
like "$(check bob@example.org 'sp ace and ünïcode' -s -r 127.0.0.9)" '^1 ' \
	"a password with spaces and UTF-8, a login with @, secured, rip: accepted"
out=$(check alice 'correct hors' -r 127.0.0.7)
like "$out" '^0 dovecot auth: refused for alice' "a wrong password: refused (0)"
like "$(cat "$DOVECOT_LOG")" 'passwd-file\(alice,127\.0\.0\.7\).*Password mismatch' \
	"Dovecot checked it, and logged the client address given"
like "$(check mallory 'correct horse')" '^0 ' "an unknown login: refused (0)"
like "$(check carol 'right one')" '^0 dovecot auth: refused for carol \(nologin\): suspended' \
	"the right password of a login flagged nologin: refused (0), with Dovecot's reason"
like "$(check alice '')" '^0 ' "an empty password: refused (0)"

out=$(DOVECOT_AUTH_PASSWORD='correct horse' "$TOOL" -n 40 "$DOVECOT_AUTH_SOCKET" alice)
like "$out" '^accepted=40 refused=0 temp=0' "40 threads at once, right password: all accepted"
out=$(DOVECOT_AUTH_PASSWORD='nope' "$TOOL" -n 20 "$DOVECOT_AUTH_SOCKET" alice)
like "$out" '^accepted=0 refused=20 temp=0' "20 threads at once, wrong password: all refused"

# a passdb that fails (checkpassword's exit 111, for logins @gone.example
# once passwd-file does not know them): Dovecot's FAIL with temp, no "no"
like "$(check carol@gone.example 'correct horse')" '^-1 dovecot auth: temporary failure' \
	"the passdb failing: temporary (-1), not refused"
like "$(cat "$DOVECOT_LOG")" 'checkpassword\(carol@gone.example\).*status 111' \
	"(Dovecot's passdb did fail)"

# ---- mta-smtpd --dovecot-auth: the same accounts for SMTP submission ----
C=$T/certs
mkdir -p "$C"
if ! make_ca "$C" || ! make_cert "$C" ec mx.test.example ec; then
	echo "Bail out! openssl could not make the test certificates"
	exit 1
fi
SUB=$(free_port)
start_mta --submission "127.0.0.1:$SUB" --dovecot-auth "$DOVECOT_AUTH_SOCKET" \
	--tls-cert "$C/ec-chain.crt" --tls-key "$C/ec.key" --error-delay 0 ||
	{ echo "Bail out! mta-smtpd did not start"; cat "$T/mta.stderr"; exit 1; }
wait_port 127.0.0.1 "$SUB" || { echo "Bail out! no --submission listener"; exit 1; }
submit() {   # USER PASS -> swaks's output
	swaks --server "127.0.0.1:$SUB" --tls --auth PLAIN --auth-user "$1" \
		--auth-password "$2" --from "$1@test.example" --to "$1@test.example" \
		--quit-after AUTH 2>&1
}
like "$(submit alice 'correct horse')" '<~  235 2\.7\.0 ' \
	"--dovecot-auth: Dovecot's login and password accepted (235)"
like "$(submit alice 'wrong')" '<~\* 535 5\.7\.8 ' "--dovecot-auth: a wrong password, 535"
# the senders are bound to the user Dovecot checked the password of
# (dan), not to the login typed (dan@any.example)
out=$(swaks --server "127.0.0.1:$SUB" --tls --auth PLAIN --auth-user dan@any.example \
	--auth-password 'dans pw' --from dan@any.example --to alice@test.example \
	--quit-after MAIL 2>&1)
like "$out" '<~  235 2\.7\.0 ' "a login Dovecot renames (dan@any.example: dan): accepted"
like "$out" '<~\* 553 5\.7\.1 ' "... but it may not send as the login typed, only as dan's"
like "$(cat "$MTA_LOG")" 'auth client=127\.0\.0\.1 login=dan@any\.example mechanism=PLAIN user=dan' \
	"(logged with the user Dovecot settled on)"

stop_dovecot
out=$(submit alice 'correct horse')
like "$out" '<~\* 454 4\.7\.0 ' "--dovecot-auth, Dovecot stopped: 454, a temporary failure"
ok $(printf '%s' "$out" | grep -q ' 535 ' && echo 1 || echo 0) "(and no 535)"
like "$(cat "$MTA_LOG")" 'auth-source-error source=dovecot' "(logged as auth-source-error)"
stop_mta

like "$(check alice 'correct horse')" '^-1 .*Connection refused' "Dovecot stopped: temporary (-1)"
like "$(DOVECOT_AUTH_PASSWORD=x "$TOOL" "$T/no-such-socket" alice)" '^-1 .*No such file' \
	"no socket: temporary (-1)"

# fake servers on a socket: silent, another major version, no PLAIN
fake() {
	$PY - "$T/fake.sock" "$1" <<'PYEOF' &
import os, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(5)
c, _ = s.accept()
if mode == "silent": time.sleep(30)
elif mode == "v2": c.sendall(b"VERSION\t2\t0\nMECH\tPLAIN\nDONE\n"); time.sleep(2)
elif mode == "noplain": c.sendall(b"VERSION\t1\t2\nMECH\tLOGIN\tplaintext\nSPID\t1\nDONE\n"); time.sleep(2)
PYEOF
	FAKE=$!
	track "$FAKE"
	wait_until 5 test -S "$T/fake.sock"
}
fake v2
like "$(DOVECOT_AUTH_PASSWORD=x "$TOOL" "$T/fake.sock" alice)" '^-1 .*version 2' \
	"a server of major version 2: temporary (-1)"
kill $FAKE 2>/dev/null; wait $FAKE 2>/dev/null; rm -f "$T/fake.sock"
fake noplain
like "$(DOVECOT_AUTH_PASSWORD=x "$TOOL" "$T/fake.sock" alice)" '^-1 .*does not offer PLAIN' \
	"a server without PLAIN: temporary (-1)"
kill $FAKE 2>/dev/null; wait $FAKE 2>/dev/null; rm -f "$T/fake.sock"
fake silent
start=$(date +%s)
out=$(DOVECOT_AUTH_PASSWORD=x "$TOOL" "$T/fake.sock" alice)
took=$(( $(date +%s) - start ))
like "$out" '^-1 .*timed out' "a server that never answers: temporary (-1) at the deadline"
ok $([ "$took" -ge 19 ] && [ "$took" -le 25 ] && echo 0 || echo 1) \
	"the deadline is about 20 s (took $took s)"
kill $FAKE 2>/dev/null; wait $FAKE 2>/dev/null

done_testing
