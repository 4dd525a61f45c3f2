#!/bin/bash
# tls.sh - how fast is mail taken in over STARTTLS?  mta-smtpd against a
# private Postfix that only accepts (its hold queue), both offering
# STARTTLS with the same certificate, on this machine, under the same
# load, alternating, repeated.
#
# The load is mta-send's gun with --starttls (smtp-source speaks no TLS):
# SESSIONS parallel sessions sending MSGS messages in total (a body of
# SIZE bytes, one recipient each), every connection STARTTLS and a full
# handshake (the gun keeps no session, so nothing is ever resumed), in
# three variants:
#   new        a new connection, and so a new TLS session, per message
#              (the gun's --per-connection 1)
#   reuse      message after message over the same TLS connections
#   handshake  mta alone: HANDSHAKES connections that each say EHLO,
#              STARTTLS, do the handshake, EHLO again and QUIT, with no
#              mail (the gun's --connect-only): handshakes/s
# Both servers fsync each message before answering 250 (mta-smtpd
# --hold: queue only, no scheduler; Postfix: hold queue), and both queues
# live under $BENCH_TMP, by default the journaled ext4 that lib-bench.sh
# mounts.  The certificate is made at run time by openssl (a test CA and
# a server certificate, t/lib/tlscerts.sh; CERT_TYPE ec or rsa).
#
# Each round runs mta and Postfix once per variant (handshake: mta only);
# odd rounds start with mta, even rounds with Postfix.  mta: a fresh
# daemon and queue for every run; Postfix: one instance for the whole
# benchmark, its hold queue kept until the end (as accept.sh, see its
# notes on deletions).  Reported: every round, the median, the ratio
# mta/Postfix (> 1 means mta is faster), whether every message arrived
# and every connection was encrypted.  Nothing is asserted about timing.
#
# Environment: ROUNDS (5), MSGS (5000), SESSIONS (20), SIZE (1024),
# HANDSHAKES (MSGS), VARIANTS ("new reuse handshake"), SYSTEMS ("mta
# postfix"), CERT_TYPE (ec), DOMAIN (bench.example), RUN_TIMEOUT (900 s
# for one gun run), GUN_ARGS (extra mta-send options, e.g. --threads 2),
# MTA_ARGS (extra mta-smtpd options), and those of lib-bench.sh (MTA_BIN,
# BENCH_TMP, BENCH_FS, BENCH_KEEP).
# Exit status: 0 done, 1 error or lost messages, 77 mta-smtpd or
# mta-send not built (or a gun without --connect-only).
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"
. "$TOP/t/lib/tlscerts.sh"

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
HANDSHAKES=${HANDSHAKES:-$MSGS}
VARIANTS=${VARIANTS:-new reuse handshake}
SYSTEMS=${SYSTEMS:-mta postfix}
CERT_TYPE=${CERT_TYPE:-ec}
DOMAIN=${DOMAIN:-bench.example}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
GUN_ARGS=${GUN_ARGS:-}
MTA_ARGS=${MTA_ARGS:-}
RCPT=user@$DOMAIN
MTA=$MTA_BIN/mta-smtpd
SEND=$MTA_BIN/mta-send
TIME=${TIME:-/usr/bin/time}

for x in "$MTA" "$SEND"; do
    [ -x "$x" ] || { say "tls.sh: skipped: $x is not built (make)"; exit 77; }
done
"$SEND" --help 2>&1 | grep -q -- --connect-only ||
    { say "tls.sh: skipped: $SEND has no --connect-only"; exit 77; }
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
for v in $VARIANTS; do
    case $v in new|reuse|handshake) ;; *) die "unknown variant $v" ;; esac
done
case $CERT_TYPE in ec|rsa) ;; *) die "CERT_TYPE must be ec or rsa" ;; esac

bench_tmpdir W tls

# ---- the certificate and the message ---------------------------------------
C=$W/certs
mkdir -p "$C"
if ! make_ca "$C" || ! make_cert "$C" server "mx.$DOMAIN" "$CERT_TYPE"; then
    cat "$C"/*.err >&2
    die "openssl could not make the test certificates"
fi
CERT=$C/server-chain.crt KEY=$C/server.key

# one message as smtp-source makes it: lines of 78 characters (the first
# a running digit) with CRLF counted in SIZE; the gun sends it MSGS times
MSG=$W/message.eml
{
    printf 'From: <bench@sender.example>\nTo: <%s>\n' "$RCPT"
    printf 'Date: Mon, 02 Jan 2023 10:00:00 +0000 (UTC)\nSubject: tls bench\n\n'
    smtp_source_payload "$SIZE"
} > "$MSG"

declare -A RATES=()      # "mta/new" -> " r1 r2 ..." (per second, good runs)
declare -A BAD=()        # "mta/new" -> runs that lost messages or failed
declare -A HS=()         # "mta/new" -> " h1 h2 ..." TLS handshakes per run
declare -A CPU=()        # "mta/new" -> " s1 s2 ..." gun CPU seconds per run
declare -A P50=() P99=() # "handshake" -> " ms ..." hello latency per run
declare -A CIPHER=()     # "mta" -> "TLSv1.3 TLS_AES_..." as its log says

count_of() { case $1 in handshake) echo "$HANDSHAKES" ;; *) echo "$MSGS" ;; esac; }

# run_gun PORT VARIANT OUT SYSTEM: one gun run against 127.0.0.1:PORT; sets
# ELAPSED_START/ELAPSED_END, GUN_N (messages sent or connections made, as
# the gun counts), GUN_HS, GUN_CONNS; returns the gun's status (or 1
# when its summary is not what a clean run prints).
run_gun() {
    local port=$1 variant=$2 out=$3 pid rc=0 n first tlsline
    n=$(count_of "$variant")
    local args=(--gun --starttls --quiet -s "127.0.0.1:$port" -c "$SESSIONS"
                -n "$n" --rcpt "$RCPT")
    case $variant in
    new) args+=(--per-connection 1) ;;
    handshake) args+=(--connect-only) ;;
    esac
    local timer=()
    [ -x "$TIME" ] && timer=("$TIME" -o "$out.cpu" -f '%U %S')
    ELAPSED_START=$(now)
    # In the background so that a signal to this script is acted on at
    # once (bash defers traps while a foreground child runs).
    # shellcheck disable=SC2086 # GUN_ARGS is a list of options
    timeout -k 10 "$RUN_TIMEOUT" ${timer[@]+"${timer[@]}"} "$SEND" "${args[@]}" \
        $GUN_ARGS "$MSG" > "$out" 2> "$out.err" &
    pid=$!
    track_pid "$pid"
    wait "$pid" || rc=$?
    ELAPSED_END=$(now)
    untrack_pid "$pid"
    first=$(head -n 1 "$out") tlsline=$(sed -n 2p "$out")
    GUN_N=$(printf '%s\n' "$first" | awk '{ print $2 }')
    GUN_HS=$(printf '%s\n' "$tlsline" | awk '$1 == "TLS" { print $3 }')
    GUN_CONNS=$(printf '%s\n' "$tlsline" | awk '$1 == "TLS" { print $5 }')
    [ -s "$out.cpu" ] && CPU[$4/$variant]="${CPU[$4/$variant]:-} $(awk '{ printf "%.1f", $1 + $2 }' "$out.cpu")"
    if [ "$rc" != 0 ]; then
        note "gun exited $rc against port $port ($variant): $first $(head -n 2 "$out.err" | tr '\n' ' ')"
        return "$rc"
    fi
    case $variant/$first in
    handshake/"connected $n failed 0 "*) ;;
    new/"sent $n refused 0 failed 0 "*|reuse/"sent $n refused 0 failed 0 "*) ;;
    *) note "gun summary ($variant, port $port): $first"; return 1 ;;
    esac
    if [ -z "$GUN_HS" ] || [ "$GUN_HS" != "$GUN_CONNS" ]; then
        note "not every connection was encrypted ($variant, port $port): $tlsline"
        return 1
    fi
    if [ "$variant" != reuse ] && [ "$GUN_HS" != "$n" ]; then
        note "not one handshake per message ($variant, port $port): $tlsline"
        return 1
    fi
    if [ "$variant" = handshake ]; then
        P50[$variant]="${P50[$variant]:-} $(sed -n 's/.* hello p50 \([0-9.]*\) ms.*/\1/p' "$out")"
        P99[$variant]="${P99[$variant]:-} $(sed -n 's/.* p99 \([0-9.]*\) ms.*/\1/p' "$out")"
    fi
    return 0
}

# record SYSTEM VARIANT COUNT RC: file the run's rate or its failure.
record() {
    local key=$1/$2 n=$3 rc=$4 want_n r
    want_n=$(count_of "$2")
    r=$(rate "$want_n" "$ELAPSED_START" "$ELAPSED_END")
    if [ "$rc" = 0 ] && [ "$n" = "$want_n" ]; then
        RATES[$key]="${RATES[$key]:-} $r"
        HS[$key]="${HS[$key]:-} $GUN_HS"
        say "  $1 $2: $r/s ($n/$want_n arrived, $GUN_HS handshakes)"
    else
        BAD[$key]=$(( ${BAD[$key]:-0} + 1 ))
        note "$1 $2 run: $n of $want_n $([ "$2" = handshake ] && echo connections || echo messages), gun status $rc (${r}/s, not counted)"
    fi
}

# ---- mta-smtpd ----------------------------------------------------------
mta_queued() { count_files "$1/queue/new" "$1/queue/mess"; }

# Anything in the log but a plain connect / tls / queued / disconnect
# reason=done and the daemon's start and stop lines.
mta_log_check() {
    local log=$1 variant=$2 odd
    [ -s "$log" ] || { note "mta-smtpd wrote no log ($variant)"; return 0; }
    odd=$(mta_log_unusual "$log" connect tls queued listen start stopping stop fd-limit)
    if [ -n "$odd" ]; then
        note "mta-smtpd log ($variant): $(printf '%s\n' "$odd" | wc -l) unusual lines, by event: $(printf '%s\n' "$odd" | by_event)"
        printf '%s\n' "$odd" | head -n 5 | sed 's/^/    /' >&2
    fi
    [ -n "${CIPHER[mta]:-}" ] || CIPHER[mta]=$(awk '$3 == "tls" {
        for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print v["version"], v["cipher"]; exit }' "$log")
}

run_mta() {
    local variant=$1 round=$2 d port pid rc=0 n tls
    want mta || return 0
    d=$W/mta-$variant-$round
    mkdir -p "$d"
    port=$(free_port)
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    mta_start "$d" "$port" --hold -q "$d/queue" -m "$d/mail" \
        -l "127.0.0.1:$port" -d "$DOMAIN" --tls-cert "$CERT" --tls-key "$KEY" \
        $MTA_ARGS
    pid=$MTA_PID
    sync
    run_gun "$port" "$variant" "$d/gun.out" mta || rc=$?
    kill -0 "$pid" 2>/dev/null || note "mta-smtpd died during the $variant run: $(tail -n 3 "$d/stderr" | tr '\n' ' ')"
    stop_pid "$pid" 40
    [ -s "$d/stderr" ] && note "mta-smtpd stderr ($variant): $(head -n 3 "$d/stderr" | tr '\n' ' ')"
    n=$(mta_queued "$d")
    # the server's side of the handshakes: one tls line per session
    tls=$(grep -c '^[^ ]* [^ ]* tls ' "$d/log" || true)
    if [ "$variant" = handshake ]; then
        [ "$n" = 0 ] || note "mta-smtpd queued $n messages in a handshake run"
        [ "$rc" = 0 ] && n=$GUN_N || n=0
    fi
    if [ "$rc" = 0 ] && [ "$tls" != "$GUN_HS" ]; then
        note "mta-smtpd logged $tls TLS sessions, the gun $GUN_HS handshakes ($variant)"
        rc=1
    fi
    record mta "$variant" "$n" "$rc"
    mta_log_check "$d/log" "$variant"
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d/queue" "$d/mail"
    return 0
}

# ---- Postfix --------------------------------------------------------------
PF=$W/postfix
mkdir -p "$PF"
chmod 755 "$PF"
PF_PORT=$(free_port)

# TLS sessions Postfix logged (smtpd_tls_loglevel = 1: one line each)
pf_tls_count() { grep -c ' TLS connection established from ' "$PF/maillog" || true; }
_pf_tls_reached() { [ "$(pf_tls_count)" -ge "$1" ]; }

run_postfix() {
    local variant=$1 round=$2 rc=0 n off held tls0 bad
    want postfix || return 0
    [ "$variant" = handshake ] && return 0     # mta alone
    held=$(pf_hold_count "$PF")
    tls0=$(pf_tls_count)
    off=$(stat -c %s "$PF/maillog")
    sync
    run_gun "$PF_PORT" "$variant" "$W/postfix-$variant-$round.out" postfix || rc=$?
    pf_wait_count "$PF" "$((held + MSGS))" 30 || true
    n=$(( $(pf_hold_count "$PF") - held ))
    if [ "$rc" = 0 ]; then
        # postlogd writes asynchronously: give it a moment
        wait_until 30 _pf_tls_reached "$((tls0 + GUN_HS))" ||
            { note "postfix logged $(( $(pf_tls_count) - tls0 )) TLS sessions, the gun $GUN_HS handshakes ($variant)"; rc=1; }
    fi
    record postfix "$variant" "$n" "$rc"
    bad=$(tail -c +"$((off + 1))" "$PF/maillog" | grep -E ' (warning|error|fatal|panic|reject):' || true)
    if [ -n "$bad" ]; then
        note "postfix maillog ($variant): $(printf '%s\n' "$bad" | wc -l) warning/reject lines, e.g. $(printf '%s\n' "$bad" | head -n 1)"
    fi
    [ -n "${CIPHER[postfix]:-}" ] || CIPHER[postfix]=$(sed -n 's/.* TLS connection established from .*: \(TLSv[0-9.]*\) with cipher \([^ ]*\).*/\1 \2/p' "$PF/maillog" | head -n 1)
}

# ---- the runs ---------------------------------------------------------------
say "tls.sh: $SESSIONS sessions x $MSGS messages of $SIZE bytes, $HANDSHAKES handshakes, $ROUNDS rounds, variants: $VARIANTS"
say "  scratch: $W ($(df -P "$W" | awk 'NR == 2 { print $1 }'))"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if want postfix; then
    pf_create "$PF" "$PF_PORT" hold
    pf_tls "$PF" "$CERT" "$KEY" may
    pf_set "$PF" "smtpd_tls_loglevel = 1"
    pf_start "$PF"
    say "  private postfix (hold, STARTTLS offered) on 127.0.0.1:$PF_PORT"
fi
want mta && say "  mta-smtpd: $MTA; gun: $SEND"

bench_rounds "$VARIANTS"
want postfix && pf_clear_hold "$PF"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------
describe() {
    case $1 in
    new) echo "new TLS session per message" ;;
    reuse) echo "reused TLS connections" ;;
    handshake) echo "handshakes/s, mta alone" ;;
    esac
}
span() {   # "min..max" of the numbers given, or "-"
    printf '%s\n' "$@" | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
        END { if (NR) print lo ".." hi; else print "-" }'
}

echo
echo "tls: mta-send --gun --starttls, $SESSIONS sessions, $MSGS messages of $SIZE bytes" \
     "(handshakes: $HANDSHAKES connections), loopback, $CERT_TYPE certificate from a test CA"
echo "both offer STARTTLS and only queue (mta-smtpd --hold; postfix: hold queue," \
     "smtpd_tls_security_level = may); every connection a full handshake, none resumed"
for sys in mta postfix; do
    [ -n "${CIPHER[$sys]:-}" ] && echo "$sys negotiated: ${CIPHER[$sys]}"
done
echo "median over $ROUNDS rounds (messages/s; handshakes: connections/s); mta/postfix > 1: mta is faster"
rate_table "$VARIANTS"
# shellcheck disable=SC2153 # LOST is set by rate_table
lost=$LOST
for variant in $VARIANTS; do
    line=
    for sys in mta postfix; do
        [ -n "${HS[$sys/$variant]:-}" ] || continue
        # shellcheck disable=SC2086
        line="${line:+$line, }$sys $(span ${HS[$sys/$variant]})"
        # shellcheck disable=SC2086
        [ -n "${CPU[$sys/$variant]:-}" ] && line="$line (gun CPU s $(median ${CPU[$sys/$variant]}))"
    done
    [ -n "$line" ] && echo "$variant: TLS handshakes per run: $line"
done
if [ -n "${P50[handshake]:-}" ]; then
    # shellcheck disable=SC2086
    echo "handshake: connect to the answer of the EHLO over TLS, median of rounds: p50 $(median ${P50[handshake]}) ms, p99 $(median ${P99[handshake]}) ms"
fi
case " $VARIANTS " in
*" new "*)
    # shellcheck disable=SC2086
    q=$(ratio "$(median ${RATES[mta/new]:-})" "$(median ${RATES[postfix/new]:-})")
    if [ "$q" = - ]; then
        echo "target (new TLS session per message >= 2x postfix): not measured"
    elif awk -v q="$q" 'BEGIN { exit !(q >= 2) }'; then
        echo "target (new TLS session per message >= 2x postfix): met, ${q}x"
    else
        echo "target (new TLS session per message >= 2x postfix): NOT MET, ${q}x"
    fi ;;
esac
echo "load average (1 5 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; $(nproc) CPUs"
echo
where=
if [ "$lost" = 0 ]; then
    ! want mta || where="mta: queued, a TLS session logged per handshake"
    ! want postfix || where="${where:+$where; }postfix: in its hold queue, a TLS session logged per handshake"
fi
report_verdict "$lost" "in every run every message arrived and every connection was encrypted ($where)"
