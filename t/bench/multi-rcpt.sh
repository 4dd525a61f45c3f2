#!/bin/bash
# multi-rcpt.sh - relaying messages with many recipients at one relay
# domain (issue 17, part 3: grouped recipients): from the first SMTP
# connection until every recipient has been delivered to the peer.
# mta-smtpd with a smarthost route against a private Postfix with a
# relayhost (lib-postfix.sh, relay mode), both relaying to the same
# smtp-sink on a loopback port, on this machine, under the same load,
# alternating, repeated (relay.sh is the same for one recipient).
#
# The load is Postfix's smtp-source: SESSIONS parallel sessions (reusing
# their connections, -d) sending MSGS_R messages in total (payload SIZE
# bytes), each to R recipients (-r R: 1user@RDOMAIN ... Ruser@RDOMAIN;
# RDOMAIN is a local domain of neither server, so both relay it).  The
# variants are the values of R in RCPTS (default "10 100"); MSGS_R is
# RCPT_TOTAL / R (default 20000 recipients per run: 2000 messages of 10,
# 200 of 100), so every variant delivers as many recipients.
#
# The peer is one smtp-sink for the whole benchmark (smtp-sink -c, as in
# relay.sh).  It counts transactions (mesg=), not recipients: a client
# that groups recipients (mta: up to 1000 per transaction; Postfix:
# smtp_destination_recipient_limit, 50) needs fewer; reported per run.
#
# The clock starts just before smtp-source starts and stops when the
# server's queue is empty after smtp-source has had its last reply
# (polled every POLL seconds; mta: queue/new, mess and rcpt; Postfix:
# incoming, active and deferred).  recipients/s = MSGS_R * R / that
# time; messages/s is that divided by R.  Then the run is checked: the
# server logged exactly MSGS_R * R deliveries (mta: "delivered" lines;
# Postfix: "status=sent"), smtp-source reported no error.  A run that
# fails a check is left out of the medians and listed under notes.
#
#   mta      bin/mta-smtpd -q Q -m M -l 127.0.0.1:PORT -d bench.example
#            --route '*=127.0.0.1:SINKPORT' -L LOG (defaults otherwise:
#            --max-deliveries 100, --max-per-dest 20), a fresh daemon and
#            queue for every run.
#   postfix  pf_create relay 127.0.0.1:SINKPORT, Postfix defaults
#            (smtp_destination_recipient_limit = 50,
#            smtp_destination_concurrency_limit = 20), in_flow_delay = 0;
#            one instance for all rounds.  PF_SETTINGS='name = value;...'
#
# Odd rounds start with mta, even rounds with Postfix.  Every round is
# printed; reported: the median recipients/s over ROUNDS rounds, the
# ratio mta/Postfix (> 1: mta is faster), and each system's spread (the
# largest round over the smallest).  Nothing is asserted about timing.
# Queues are on the journaled ext4 loop mount lib-bench.sh makes
# (BENCH_FS=ext4, the default).
#
# Environment: ROUNDS (5), RCPTS ("10 100"), RCPT_TOTAL (20000), SESSIONS
# (10), SIZE (1024), SYSTEMS ("mta postfix"), RDOMAIN (relay.example),
# POLL (0.05), RUN_TIMEOUT (900 s for smtp-source), DRAIN_TIMEOUT (600 s),
# MTA_ARGS, PF_SETTINGS, and those of lib-bench.sh.  Exit status: 0 done,
# 1 error or a run that failed its checks, 77 mta-smtpd not built.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"

ROUNDS=${ROUNDS:-5}
RCPTS=${RCPTS:-10 100}
RCPT_TOTAL=${RCPT_TOTAL:-20000}
SESSIONS=${SESSIONS:-10}
SIZE=${SIZE:-1024}
SYSTEMS=${SYSTEMS:-mta postfix}
RDOMAIN=${RDOMAIN:-relay.example}
SENDER=${SENDER:-bench@sender.example}
POLL=${POLL:-0.05}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
MTA_ARGS=${MTA_ARGS:-}
PF_SETTINGS=${PF_SETTINGS:-}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
MTA=$MTA_BIN/mta-smtpd

if want mta && [ ! -x "$MTA" ]; then
    say "multi-rcpt.sh: skipped: $MTA is not built (make)"
    exit 77
fi
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (apt-get install postfix)"
[ -x "$SMTP_SINK" ] || die "smtp-sink not found (apt-get install postfix)"

bench_tmpdir W multi-rcpt

declare -A RATES=()   # SYSTEM/R -> "r1 r2 ..." recipients/s
declare -A TX=()      # SYSTEM/R -> "n1 n2 ..." transactions at the sink per run
declare -A BAD=()     # SYSTEM/R -> runs that failed a check

msgs_of() { echo $(( RCPT_TOTAL / $1 )); }
describe() { echo "$(msgs_of "$1") msgs x $1 rcpts, rcpts/s"; }

# ---- the sink ---------------------------------------------------------------
sink_start "$W/sink.out"

# one_run SYSTEM R PORT LABEL EMPTY_CMD...: smtp-source, then wait until
# EMPTY_CMD says the queue is empty; sets T0, T_END (empty: not drained),
# SRC_RC, MESG0
one_run() {
    local sys=$1 r=$2 port=$3 label=$4 n
    shift 4
    n=$(msgs_of "$r")
    MESG0=$(sink_counter mesg)
    T0=$(now)
    SRC_RC=0
    timeout -k 10 "$RUN_TIMEOUT" "$SMTP_SOURCE" -d -s "$SESSIONS" -m "$n" -r "$r" \
        -l "$SIZE" -f "$SENDER" -t "user@$RDOMAIN" "127.0.0.1:$port" \
        > "$W/$label.source" 2>&1 || SRC_RC=$?
    T_END=
    while :; do
        if "$@"; then T_END=$(now); break; fi
        awk -v a="$T0" -v b="$(now)" -v l="$DRAIN_TIMEOUT" 'BEGIN { exit !(b - a > l) }' && break
        sleep "$POLL"
    done
    [ "$SRC_RC" = 0 ] || note "$sys $label: smtp-source exited $SRC_RC: $(head -n 3 "$W/$label.source" | tr '\n' ' ')"
    [ -n "$T_END" ] || note "$sys $label: queue not empty ${DRAIN_TIMEOUT}s after the start"
}

# record SYSTEM R LABEL DELIVERED: file the run's figures, or its failure
record() {
    local sys=$1 r=$2 label=$3 got=$4 want rate tx
    want=$(( $(msgs_of "$r") * r ))
    # transactions are counted when the sink sees the dot: let the last land
    sleep 0.5
    tx=$(( $(sink_counter mesg) - MESG0 ))
    if [ "$SRC_RC" = 0 ] && [ -n "$T_END" ] && [ "$got" = "$want" ]; then
        rate=$(rate "$want" "$T0" "$T_END")
        RATES[$sys/$r]="${RATES[$sys/$r]:-} $rate"
        TX[$sys/$r]="${TX[$sys/$r]:-} $tx"
        say "  $sys $label: $rate recipients/s ($(awk -v a="$rate" -v r="$r" 'BEGIN { printf "%.1f", a / r }') messages/s), $tx transactions at the sink"
    else
        BAD[$sys/$r]=$(( ${BAD[$sys/$r]:-0} + 1 ))
        note "$sys $label: $got of $want deliveries logged; run not counted"
    fi
}

# ---- mta-smtpd ------------------------------------------------------------
_mta_empty() { [ "$(count_files "$1/queue/new" "$1/queue/mess" "$1/queue/rcpt")" = 0 ]; }

run_mta() {
    local r=$1 round=$2 d port n odd
    want mta || return 0
    d=$W/mta-$r-$round
    mkdir -p "$d"
    port=$(free_port)
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    mta_start "$d" "$port" -q "$d/queue" -m "$d/mail" -l "127.0.0.1:$port" \
        -d bench.example --route "*=127.0.0.1:$SINK_PORT" $MTA_ARGS
    sync
    one_run mta "$r" "$port" "mta-$r-$round" _mta_empty "$d"
    kill -0 "$MTA_PID" 2>/dev/null || note "mta-smtpd died in round $round: $(tail -n 3 "$d/stderr" | tr '\n' ' ')"
    stop_pid "$MTA_PID" 40
    n=$(awk '$3 == "delivered"' "$d/log" | wc -l)
    # delivery-busy: jobs waiting for a slot of the one next hop (20)
    odd=$(mta_log_unusual "$d/log" connect queued listen start stopping stop recovered \
          fd-limit explode delivery-start delivery-group delivery-busy relayed \
          delivered message-done | head -n 3)
    [ -z "$odd" ] || note "mta-smtpd log ($r rcpts, round $round), unusual: $(printf '%s\n' "$odd" | tr '\n' ';')"
    record mta "$r" "$r rcpts, round $round" "$n"
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d/queue" "$d/mail"
}

# ---- Postfix ----------------------------------------------------------------
PF=$W/postfix
mkdir -p "$PF"
chmod 755 "$PF"
PF_PORT=$(free_port)
_pf_empty() { [ "$(pf_queue_count "$PF")" = 0 ]; }

run_postfix() {
    local r=$1 round=$2 off n want
    want postfix || return 0
    off=$(stat -c %s "$PF/maillog")
    sync
    one_run postfix "$r" "$PF_PORT" "postfix-$r-$round" _pf_empty
    want=$(( $(msgs_of "$r") * r ))
    # postlogd may write the last lines a moment later
    wait_until 10 _pf_sent_since "$off" "$want" || true
    n=$(tail -c +"$((off + 1))" "$PF/maillog" | grep -c ' status=sent ' || true)
    record postfix "$r" "$r rcpts, round $round" "$n"
}
_pf_sent_since() { [ "$(tail -c +"$(($1 + 1))" "$PF/maillog" | grep -c ' status=sent ' || true)" -ge "$2" ]; }

# spread RATES: the largest over the smallest ("-" without two rounds)
spread() {
    printf '%s\n' "$@" | grep . | sort -g | awk '{ v[NR] = $1 }
        END { if (NR < 2 || v[1] + 0 == 0) print "-"; else printf "%.2f\n", v[NR] / v[1] }'
}

# ---- the runs -------------------------------------------------------------
say "multi-rcpt.sh: $RCPT_TOTAL recipients per run at $RDOMAIN, R in: $RCPTS; $SESSIONS sessions, $SIZE bytes, $ROUNDS rounds"
say "  scratch: $W ($(df -P "$W" | awk 'NR == 2 { print $1 }')); smtp-sink on 127.0.0.1:$SINK_PORT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if want postfix; then
    pf_create "$PF" "$PF_PORT" relay "127.0.0.1:$SINK_PORT"
    pf_set_list "$PF" "$PF_SETTINGS"
    pf_start "$PF"
    say "  private postfix (relay) on 127.0.0.1:$PF_PORT"
fi
bench_rounds "$RCPTS"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------
pfc() { postconf -c "$PF/etc" -xh "$1" 2>/dev/null || echo "?"; }
echo
echo "multi-rcpt: smtp-source -d -r R, $SESSIONS sessions, $RCPT_TOTAL recipients per run at $RDOMAIN, $SIZE bytes, loopback"
echo "peer: smtp-sink -c; time: start of smtp-source -> the server's queue is empty (polled every ${POLL}s)"
want mta && echo "mta: --route '*=127.0.0.1:SINKPORT'${MTA_ARGS:+ $MTA_ARGS}"
want postfix && echo "postfix: relayhost = [127.0.0.1]:SINKPORT; smtp_destination_recipient_limit=$(pfc smtp_destination_recipient_limit), smtp_destination_concurrency_limit=$(pfc smtp_destination_concurrency_limit), in_flow_delay=$(pfc in_flow_delay)${PF_SETTINGS:+; set: $PF_SETTINGS}"
echo "median over $ROUNDS rounds; mta/postfix > 1: mta is faster; spread = largest round / smallest"
rate_table "$RCPTS"
# shellcheck disable=SC2086 # the lists are space-separated numbers
for r in $RCPTS; do
    printf '%-30s mta:%s  postfix:%s\n' "  ($r rcpts: spread; tx/run)" \
        "$(spread ${RATES[mta/$r]:-}); $(median ${TX[mta/$r]:-} | sed 's/\.0$//')" \
        "$(spread ${RATES[postfix/$r]:-}); $(median ${TX[postfix/$r]:-} | sed 's/\.0$//')"
done
echo "load average (1 5 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; $(nproc) CPUs"
report_verdict "$LOST" "in every run the server logged one delivery per recipient and its queue emptied"
