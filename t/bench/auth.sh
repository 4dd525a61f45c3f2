#!/bin/bash
# auth.sh - how fast is mail submitted with a login?  Every message on a
# new connection: EHLO, STARTTLS, a full TLS handshake, EHLO, AUTH PLAIN,
# MAIL, RCPT, DATA, QUIT.  mta-smtpd on a --submission port against a
# private Postfix set up as a submission server with Dovecot SASL, on
# this machine, under the same load, in the same run, rotating which
# goes first, repeated.
#
# Three systems, one private Dovecot (t/lib/dovecot.sh) behind two of them:
#   mta-dovecot  mta-smtpd --submission --dovecot-auth SOCKET: the
#                password checked by Dovecot, as Postfix does it; the
#                like-for-like comparison
#   postfix      smtpd with smtpd_sasl_type = dovecot on the same socket,
#                smtpd_tls_security_level = encrypt, smtpd_tls_auth_only,
#                relaying and mail only when authenticated
#   mta-users    mta-smtpd --submission --users FILE: the same hash
#                checked by mta-smtpd itself (crypt_rn in its threads)
# The password hash is the same string everywhere: by default (HASH=
# yescrypt) mta-passwd's ($y$, libxcrypt's default cost), which Dovecot's
# passwd-file verifies as {CRYPT} through the same libcrypt; HASH=sha512
# uses doveadm pw's SHA512-CRYPT ($6$, 5000 rounds) for all three.  The
# cost of one verification is measured and printed: with a deliberately
# slow hash it, not SMTP, sets the pace.
#
# The load is mta-send's gun: --starttls --auth-user LOGIN (password from
# the environment) --per-connection 1, SESSIONS sessions, MSGS messages
# of SIZE bytes of body.  Both servers only accept: mta-smtpd --hold
# (queue only), Postfix in hold mode (lib-postfix.sh); both fsync each
# message before the 250, on $BENCH_TMP (by default the journaled ext4
# that lib-bench.sh mounts).  The certificate is made at run time
# (t/lib/tlscerts.sh, CERT_TYPE ec or rsa); both servers use the same.
#
# Environment: ROUNDS (5), MSGS (2000), SESSIONS (20), SIZE (1024),
# SYSTEMS ("mta-dovecot postfix mta-users"), HASH (yescrypt, sha512),
# CERT_TYPE (ec), DOMAIN (bench.example), RUN_TIMEOUT (900 s for one gun
# run), GUN_ARGS, MTA_ARGS, and those of lib-bench.sh (MTA_BIN, BENCH_TMP,
# BENCH_FS, BENCH_KEEP).
# Exit status: 0 done, 1 error or lost messages, 77 mta-smtpd, mta-send or
# mta-passwd not built, or dovecot missing.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"
. "$BENCH_DIR/../lib/dovecot.sh"
. "$TOP/t/lib/tlscerts.sh"

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-2000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
SYSTEMS=${SYSTEMS:-mta-dovecot postfix mta-users}
HASH=${HASH:-yescrypt}
CERT_TYPE=${CERT_TYPE:-ec}
DOMAIN=${DOMAIN:-bench.example}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
GUN_ARGS=${GUN_ARGS:-}
MTA_ARGS=${MTA_ARGS:-}
RCPT=user@$DOMAIN
LOGIN=submitter@$DOMAIN
PASSWORD='bench-Pw 7f3a'
MTA=$MTA_BIN/mta-smtpd
SEND=$MTA_BIN/mta-send

for x in "$MTA" "$SEND" "$MTA_BIN/mta-passwd"; do
    [ -x "$x" ] || { say "auth.sh: skipped: $x is not built (make)"; exit 77; }
done
"$SEND" --help 2>&1 | grep -q -- --auth-user ||
    { say "auth.sh: skipped: $SEND has no --auth-user"; exit 77; }
command -v dovecot >/dev/null || { say "auth.sh: skipped: no dovecot (apt-get install dovecot-core)"; exit 77; }
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
for s in $SYSTEMS; do
    case $s in mta-dovecot|mta-users|postfix) ;; *) die "unknown system $s" ;; esac
done
case $CERT_TYPE in ec|rsa) ;; *) die "CERT_TYPE must be ec or rsa" ;; esac

bench_tmpdir W auth

# ---- certificate, password hash, message -------------------------------------
C=$W/certs
mkdir -p "$C"
if ! make_ca "$C" || ! make_cert "$C" server "mx.$DOMAIN" "$CERT_TYPE"; then
    cat "$C"/*.err >&2
    die "openssl could not make the test certificates"
fi
CERT=$C/server-chain.crt KEY=$C/server.key
chmod 644 "$KEY"    # read by smtpd as root; the bench's own throw-away key

case $HASH in
yescrypt) PWHASH=$(printf '%s\n' "$PASSWORD" | "$MTA_BIN/mta-passwd") ;;
sha512) PWHASH=$(doveadm pw -s SHA512-CRYPT -p "$PASSWORD" | sed 's/^{SHA512-CRYPT}//') ;;
*) die "HASH must be yescrypt or sha512" ;;
esac
case $PWHASH in '$'*'$'*) ;; *) die "no password hash made ($HASH)" ;; esac
# the method and its cost parameters, not the salt: $y$PARAMS$ for
# yescrypt, $6$ (or $6$rounds=N$) for sha512-crypt
HASH_PARAMS=$(printf '%s\n' "$PWHASH" | awk -F'$' '{
    if ($2 ~ /y$/ || $3 ~ /^rounds=/) print "$" $2 "$" $3 "$"; else print "$" $2 "$" }')
# one verification, as the servers do it (libcrypt through Python's crypt):
# the median of 5, in milliseconds
HASH_MS=$("$PYTHON" -W ignore -c 'import crypt, sys, time
h, p = sys.argv[1], sys.argv[2]
t = []
for i in range(5):
    a = time.perf_counter()
    ok = crypt.crypt(p, h) == h
    t.append((time.perf_counter() - a) * 1000)
    assert ok
print("%.1f" % sorted(t)[2])' "$PWHASH" "$PASSWORD" 2>/dev/null || echo "?")

USERS=$W/users
printf '%s:%s\n' "$LOGIN" "$PWHASH" > "$USERS"
chmod 644 "$USERS"

MSG=$W/message.eml
{
    printf 'From: <%s>\nTo: <%s>\n' "$LOGIN" "$RCPT"
    printf 'Date: Mon, 02 Jan 2023 10:00:00 +0000 (UTC)\nSubject: auth bench\n\n'
    smtp_source_payload "$SIZE"
} > "$MSG"

declare -A RATES=()      # system -> " r1 r2 ..." messages/s of good runs
declare -A BAD=()        # system -> runs that failed or lost messages
declare -A CPU=()        # system -> " s ..." the gun's CPU seconds

# run_gun PORT OUT SYSTEM: one gun run; sets ELAPSED_START/END; returns 0
# when the gun sent every message over as many TLS handshakes
run_gun() {
    local port=$1 out=$2 sys=$3 pid rc=0 first tlsline hs conns timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -o "$out.cpu" -f '%U %S')
    ELAPSED_START=$(now)
    # shellcheck disable=SC2086 # GUN_ARGS is a list of options
    MTA_AUTH_PASSWORD=$PASSWORD timeout -k 10 "$RUN_TIMEOUT" ${timer[@]+"${timer[@]}"} \
        "$SEND" --gun --starttls --quiet --auth-user "$LOGIN" -f "$LOGIN" \
        -s "127.0.0.1:$port" -c "$SESSIONS" -n "$MSGS" --per-connection 1 \
        --rcpt "$RCPT" $GUN_ARGS "$MSG" > "$out" 2> "$out.err" &
    pid=$!
    track_pid "$pid"
    wait "$pid" || rc=$?
    ELAPSED_END=$(now)
    untrack_pid "$pid"
    [ -s "$out.cpu" ] && CPU[$sys]="${CPU[$sys]:-} $(awk '{ printf "%.1f", $1 + $2 }' "$out.cpu")"
    first=$(head -n 1 "$out") tlsline=$(sed -n 2p "$out")
    if [ "$rc" != 0 ]; then
        note "$sys: gun exited $rc: $first $(head -n 2 "$out.err" | tr '\n' ' ')"
        return 1
    fi
    case $first in
    "sent $MSGS refused 0 failed 0 "*) ;;
    *) note "$sys: gun summary: $first"; return 1 ;;
    esac
    hs=$(printf '%s\n' "$tlsline" | awk '$1 == "TLS" { print $3 }')
    conns=$(printf '%s\n' "$tlsline" | awk '$1 == "TLS" { print $5 }')
    if [ "$hs" != "$MSGS" ] || [ "$conns" != "$MSGS" ]; then
        note "$sys: not one TLS connection per message: $tlsline"
        return 1
    fi
    return 0
}

record() {   # SYSTEM ARRIVED LOGINS RC
    local r
    r=$(rate "$MSGS" "$ELAPSED_START" "$ELAPSED_END")
    if [ "$4" = 0 ] && [ "$2" = "$MSGS" ] && [ "$3" = "$MSGS" ]; then
        RATES[$1]="${RATES[$1]:-} $r"
        say "  $1: $r/s ($2/$MSGS arrived, $3 logins)"
    else
        BAD[$1]=$(( ${BAD[$1]:-0} + 1 ))
        note "$1 run: $2 of $MSGS arrived, $3 logins logged, gun status $4 (${r}/s, not counted)"
    fi
}

# ---- mta-smtpd ------------------------------------------------------------
run_mta() {   # SYSTEM ROUND
    local sys=$1 d port pid rc=0 n logins odd src
    d=$W/$sys-$2
    mkdir -p "$d"
    port=$(free_port)
    case $sys in
    mta-dovecot) src=(--dovecot-auth "$DOVECOT_AUTH_SOCKET") ;;
    *) src=(--users "$USERS") ;;
    esac
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    mta_start "$d" "$port" --hold -q "$d/queue" -m "$d/mail" -d "$DOMAIN" \
        -l "127.0.0.1:$(free_port)" \
        --submission "127.0.0.1:$port" "${src[@]}" \
        --tls-cert "$CERT" --tls-key "$KEY" $MTA_ARGS
    pid=$MTA_PID
    sync
    run_gun "$port" "$d/gun.out" "$sys" || rc=1
    kill -0 "$pid" 2>/dev/null || note "$sys: mta-smtpd died: $(tail -n 3 "$d/stderr" | tr '\n' ' ')"
    stop_pid "$pid" 40
    [ -s "$d/stderr" ] && note "$sys: mta-smtpd stderr: $(head -n 3 "$d/stderr" | tr '\n' ' ')"
    n=$(count_files "$d/queue/new" "$d/queue/mess")
    # a login per message: its auth line, and its queued line names it
    logins=$(grep -c "^[^ ]* [^ ]* queued .*login=$LOGIN" "$d/log" || true)
    [ "$(grep -c '^[^ ]* [^ ]* auth ' "$d/log" || true)" = "$logins" ] ||
        note "$sys: auth lines and queued login= lines differ"
    record "$sys" "$n" "$logins" "$rc"
    odd=$(mta_log_unusual "$d/log" connect tls auth queued listen start stopping stop fd-limit)
    if [ -n "$odd" ]; then
        note "$sys log: $(printf '%s\n' "$odd" | wc -l) unusual lines, by event: $(printf '%s\n' "$odd" | by_event)"
        printf '%s\n' "$odd" | head -n 3 | sed 's/^/    /' >&2
    fi
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d/queue" "$d/mail"
}

# ---- Postfix ------------------------------------------------------------------
PF=$W/postfix
mkdir -p "$PF"
chmod 755 "$PF"
PF_PORT=$(free_port)
pf_logins() { grep -c " sasl_method=PLAIN, sasl_username=$LOGIN" "$PF/maillog" || true; }
_pf_logins_reached() { [ "$(pf_logins)" -ge "$1" ]; }

run_postfix() {   # ROUND
    local rc=0 held l0 off n logins bad
    held=$(pf_hold_count "$PF")
    l0=$(pf_logins)
    off=$(stat -c %s "$PF/maillog")
    sync
    run_gun "$PF_PORT" "$W/postfix-$1.out" postfix || rc=1
    pf_wait_count "$PF" "$((held + MSGS))" 30 || true
    # postlogd writes asynchronously: give it a moment
    wait_until 30 _pf_logins_reached "$((l0 + MSGS))" || true
    n=$(( $(pf_hold_count "$PF") - held ))
    logins=$(( $(pf_logins) - l0 ))
    record postfix "$n" "$logins" "$rc"
    bad=$(tail -c +"$((off + 1))" "$PF/maillog" | grep -E ' (warning|error|fatal|panic|reject):' || true)
    [ -z "$bad" ] || note "postfix maillog: $(printf '%s\n' "$bad" | wc -l) warning/reject lines, e.g. $(printf '%s\n' "$bad" | head -n 1)"
}

# ---- the runs ---------------------------------------------------------------
say "auth.sh: $SESSIONS sessions x $MSGS messages of $SIZE bytes, $ROUNDS rounds, systems: $SYSTEMS, hash $HASH"
say "  scratch: $W ($(df -P "$W" | awk 'NR == 2 { print $1 }'))"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
DV=$W/dovecot
if want mta-dovecot || want postfix; then
    dovecot_user_hash "$DV" "$LOGIN" "{CRYPT}$PWHASH" ":$(id -u nobody):$(id -g nobody)::$DV/home"
    start_dovecot "$DV" || die "private dovecot did not start"
    say "  private dovecot auth: $DOVECOT_AUTH_SOCKET"
fi
if want postfix; then
    pf_create "$PF" "$PF_PORT" hold
    pf_tls "$PF" "$CERT" "$KEY" encrypt
    pf_set "$PF" "smtpd_tls_loglevel = 1" \
        "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
        "smtpd_sasl_path = $DOVECOT_AUTH_SOCKET" "smtpd_tls_auth_only = yes" \
        "smtpd_client_restrictions = permit_sasl_authenticated, reject" \
        "smtpd_relay_restrictions = permit_sasl_authenticated, reject"
    pf_start "$PF"
    say "  private postfix (hold, submission with Dovecot SASL) on 127.0.0.1:$PF_PORT"
fi

read -r -a ORDER <<< "$SYSTEMS"
for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round/$ROUNDS"
    for ((i = 0; i < ${#ORDER[@]}; i++)); do
        sys=${ORDER[(i + round - 1) % ${#ORDER[@]}]}
        case $sys in
        postfix) run_postfix "$round" ;;
        *) run_mta "$sys" "$round" ;;
        esac
    done
done
want postfix && pf_clear_hold "$PF"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
DV_PROCS=
if [ -n "$DOVECOT_PID" ]; then
    DV_PROCS=$(for p in $(pgrep -P "$DOVECOT_PID" || true); do cat "/proc/$p/comm" 2>/dev/null; done |
        sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
fi

# ---- report -----------------------------------------------------------------
describe() {
    case $1 in
    mta-dovecot) echo "mta --dovecot-auth (Dovecot)" ;;
    postfix) echo "postfix (Dovecot SASL)" ;;
    mta-users) echo "mta --users (own crypt)" ;;
    esac
}
spread() {   # largest round / smallest
    printf '%s\n' "$@" | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
        END { if (NR && lo > 0) printf "%.2f\n", hi / lo; else print "-" }'
}

echo
echo "auth: mta-send --gun --starttls --auth-user --per-connection 1, $SESSIONS sessions," \
     "$MSGS messages of $SIZE bytes, loopback, $CERT_TYPE certificate from a test CA"
echo "every message: a new connection, STARTTLS (full handshake), AUTH PLAIN, one message; both only queue" \
     "(mta-smtpd --hold; postfix: hold queue)"
echo "password hash (the same string for all): $HASH ${HASH_PARAMS}..." \
     "$([ "$HASH" = yescrypt ] && echo "(mta-passwd: libxcrypt's default cost)" || echo "(doveadm pw SHA512-CRYPT: 5000 rounds)");" \
     "one verification ${HASH_MS} ms on this machine (libcrypt, median of 5)"
echo "Dovecot: passwd-file, scheme CRYPT, no auth cache; its processes at the end: ${DV_PROCS:-none}"
if [ "$HASH_MS" != "?" ] && ! printf '%s\n' "$DV_PROCS" | grep -q auth-worker; then
    echo "  (passwd-file is checked in Dovecot's one auth process, one hash at a time: at most" \
         "$(awk -v ms="$HASH_MS" 'BEGIN { printf "%.0f", 1000 / ms }') logins/s through Dovecot with this hash)"
fi
echo "median messages/s over $ROUNDS rounds"
printf '%-32s %10s %8s  %s\n' system "msgs/s" spread "each round"
LOST=0
for sys in $SYSTEMS; do
    # shellcheck disable=SC2086
    printf '%-32s %10s %8s  %s\n' "$(describe "$sys")" "$(median ${RATES[$sys]:-})" \
        "$(spread ${RATES[$sys]:-})" "${RATES[$sys]:- -}"
    LOST=$(( LOST + ${BAD[$sys]:-0} ))
done
for sys in mta-dovecot mta-users; do
    if ! want "$sys" || ! want postfix; then continue; fi
    # shellcheck disable=SC2086
    echo "ratio $sys/postfix: $(ratio "$(median ${RATES[$sys]:-})" "$(median ${RATES[postfix]:-})")" \
        "$([ "$sys" = mta-dovecot ] && echo "(like for like: both ask Dovecot)" || echo "(mta checks the hash itself)")"
done
line=
for sys in $SYSTEMS; do
    # shellcheck disable=SC2086
    [ -n "${CPU[$sys]:-}" ] && line="${line:+$line, }$sys $(median ${CPU[$sys]})"
done
[ -n "$line" ] && echo "gun CPU s (median): $line"
echo "load average (1 5 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; $(nproc) CPUs"
echo
report_verdict "$LOST" "in every run every message arrived, over its own TLS connection, with a login logged for each (mta: auth and queued login=; postfix: sasl_username)"
