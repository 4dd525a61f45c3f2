#!/bin/bash
# relay.sh - relaying: from the first SMTP connection until the peer has
# received the last message.  mta-smtpd with a smarthost route against a
# private Postfix with a relayhost (lib-postfix.sh, relay mode), both
# relaying to the same smtp-sink on a loopback port, on this machine,
# under the same load, alternating, repeated.
#
# The load is Postfix's smtp-source: SESSIONS parallel sessions sending
# MSGS messages in total (payload SIZE bytes), all to user@RDOMAIN (not a
# local domain of either server, so both relay it).  By default the
# sessions reuse their connections (-d, REUSE=1); REUSE=0 opens a new
# connection per message.
#
# The peer is one smtp-sink for the whole benchmark:
#     smtp-sink -c [-u nobody] -h sink.bench.example 127.0.0.1:SINKPORT 1000
# (-u because it refuses to run as root; -h so that Postfix does not see
# its own name and call it a mail loop).  -c makes it print running
# counters "sess=N quit=N mesg=N" (mesg counts the "." of each message,
# i.e. every message received) to its stdout, a file here; the counters
# are never reset, so each run counts from the value before it.
#
# The clock starts just before smtp-source starts and stops when a poller
# (every POLL seconds, 0.05) reads a mesg count that is MSGS more than at
# the start.  messages/s = MSGS / that time.  Also reported: the rate of
# smtp-source alone (start to its last reply), how long after the last
# reply the sink had the last message, and how many SMTP sessions the
# sink saw per run (a client that reuses connections needs fewer).
#
# After each run the system is left to finish (queue empty, bounded by
# DRAIN_TIMEOUT), then checked: the sink received exactly MSGS messages
# in the run, and the server logged exactly MSGS deliveries (mta:
# "delivered" lines; Postfix: "status=sent").  A run that fails a check
# is left out of the medians and listed under notes.
#
#   mta      bin/mta-smtpd -q Q -m M -l 127.0.0.1:PORT -d bench.example
#            --route '*=127.0.0.1:SINKPORT' -L LOG (defaults otherwise:
#            --max-deliveries 100, --max-per-dest 20), a fresh daemon
#            and queue for every run.
#   postfix  pf_create relay 127.0.0.1:SINKPORT: relayhost =
#            [127.0.0.1]:SINKPORT, delivered by smtp(8) with Postfix
#            defaults: smtp_destination_concurrency_limit = 20,
#            initial_destination_concurrency = 5,
#            smtp_connection_cache_on_demand = yes, default_process_limit
#            = 100; plus lib-postfix.sh's in_flow_delay = 0 and no
#            chroot.  One instance for all rounds.
#            PF_SETTINGS='name = value;...' changes main.cf (postconf -e).
#
# Odd rounds start with mta, even rounds with Postfix.  Reported: median
# messages/s over ROUNDS rounds and the ratio mta/Postfix (> 1 means mta
# is faster).  Nothing is asserted about timing.
#
# Environment: ROUNDS (5), MSGS (5000), SESSIONS (20), SIZE (1024), REUSE
# (1), SYSTEMS ("mta postfix"), RDOMAIN (relay.example), POLL (0.05),
# DEADLINE (600 s from the start of smtp-source to the last message at
# the sink), RUN_TIMEOUT (900 s for smtp-source), DRAIN_TIMEOUT (300 s),
# MTA_ARGS (extra mta-smtpd options), PF_SETTINGS, and those of
# lib-bench.sh.  Exit status: 0 done, 1 error or a run that failed its
# checks, 77 mta-smtpd not built.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
REUSE=${REUSE:-1}
SYSTEMS=${SYSTEMS:-mta postfix}
RDOMAIN=${RDOMAIN:-relay.example}
SENDER=${SENDER:-bench@sender.example}
RCPT=user@$RDOMAIN
POLL=${POLL:-0.05}
DEADLINE=${DEADLINE:-600}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
MTA_ARGS=${MTA_ARGS:-}
PF_SETTINGS=${PF_SETTINGS:-}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
MTA=$MTA_BIN/mta-smtpd

if want mta && [ ! -x "$MTA" ]; then
    say "relay.sh: skipped: $MTA is not built (make)"
    exit 77
fi
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (apt-get install postfix)"
[ -x "$SMTP_SINK" ] || die "smtp-sink not found (apt-get install postfix)"

bench_tmpdir W relay

declare -A RATES=()   # system -> "r1 r2 ..." messages/s until the sink has them all
declare -A SRATES=()  # system -> smtp-source messages/s
declare -A LAG=()     # system -> seconds from the last reply to the last message at the sink
declare -A SESS=()    # system -> sink sessions per run
declare -A BAD=()     # system -> runs that failed a check

# ---- the sink ---------------------------------------------------------------
sink_start "$W/sink.out"

sink_alive() {
    kill -0 "$SINK_PID" 2>/dev/null || die "smtp-sink died: $(tail -c 300 "$SINK_OUT" | tr '\r' '\n' | tail -n 3)"
}

_sink_idle() { [ -z "$(ss -Htn state established "( sport = :$SINK_PORT )" 2>/dev/null)" ]; }

# poll_sink TARGET OUT: in the background, read the sink's mesg counter
# every POLL seconds until it reaches TARGET (or DEADLINE seconds have
# passed); then write "TIME COUNT" to OUT and exit 0 (reached) or 1.
# Sets POLL_PID.
poll_sink() {
    "$PYTHON" - "$SINK_OUT" "$1" "$POLL" "$DEADLINE" "$2" <<'PYEOF' &
import os, re, sys, time
path, target, poll, limit, out = sys.argv[1], int(sys.argv[2]), \
    float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
deadline = time.time() + limit
n = 0
with open(path, "rb") as f:
    while True:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 200))
        m = re.findall(rb"mesg=(\d+)", f.read())
        if m:
            n = int(m[-1])
        t = time.time()
        if n >= target or t > deadline:
            break
        time.sleep(poll)
with open(out, "w") as f:
    f.write("%.6f %d\n" % (t, n))
sys.exit(0 if n >= target else 1)
PYEOF
    POLL_PID=$!
    track_pid "$POLL_PID"
}

# run_source PORT OUT: smtp-source in the background; sets SOURCE_PID.
run_source() {
    local args=(-s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f "$SENDER" -t "$RCPT")
    [ "$REUSE" = 1 ] && args=(-d "${args[@]}")
    timeout -k 10 "$RUN_TIMEOUT" "$SMTP_SOURCE" "${args[@]}" "127.0.0.1:$1" \
        > "$2" 2>&1 &
    SOURCE_PID=$!
    track_pid "$SOURCE_PID"
}

# one_run SYSTEM PORT LABEL: note the sink's counters, start the poller,
# then smtp-source; wait for both (bounded).  Sets T0, T_SRC, T_END (or
# empty), SRC_RC, MESG0, SESS0.
one_run() {
    local sys=$1 port=$2 label=$3 prc=0
    sink_alive
    MESG0=$(sink_counter mesg) SESS0=$(sink_counter sess)
    poll_sink "$((MESG0 + MSGS))" "$W/$label.poll"
    T0=$(now)
    run_source "$port" "$W/$label.source"
    SRC_RC=0
    wait "$SOURCE_PID" || SRC_RC=$?
    T_SRC=$(now)
    untrack_pid "$SOURCE_PID"
    wait "$POLL_PID" || prc=$?
    untrack_pid "$POLL_PID"
    T_END=
    if [ "$prc" = 0 ]; then
        T_END=$(cut -d' ' -f1 "$W/$label.poll")
    else
        note "$sys $label: the sink had only $(( $(cut -d' ' -f2 "$W/$label.poll" 2>/dev/null || echo "$MESG0") - MESG0 )) of $MSGS messages after ${DEADLINE}s"
    fi
    if [ "$SRC_RC" != 0 ]; then
        note "$sys $label: smtp-source exited $SRC_RC: $(head -n 3 "$W/$label.source" | tr '\n' ' ')"
    elif [ -s "$W/$label.source" ]; then
        note "$sys $label: smtp-source said: $(sort "$W/$label.source" | uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')"
    fi
}

# sink_check SYSTEM LABEL: after the drain, the sink got exactly MSGS in
# this run (a moment's grace for a late duplicate).  Records the sessions.
sink_check() {
    local sys=$1 label=$2 got
    sleep 0.5
    sink_alive
    # Sessions are counted when they end: wait until the client has
    # closed every connection (Postfix keeps idle ones in its connection
    # cache for smtp_connection_cache_time_limit, 2 s).
    wait_until 30 _sink_idle || note "$sys $label: connections to the sink still open after 30 s"
    got=$(( $(sink_counter mesg) - MESG0 ))
    SESS[$sys]="${SESS[$sys]:-} $(( $(sink_counter sess) - SESS0 ))"
    [ "$got" = "$MSGS" ] && return 0
    note "$sys $label: the sink received $got messages, not $MSGS"
    return 1
}

# record SYSTEM LABEL CHECK_OK: file the run's figures, or its failure.
record() {
    local sys=$1 label=$2 ok=$3 r s lag
    s=$(rate "$MSGS" "$T0" "$T_SRC")
    if [ "$ok" = 1 ] && [ "$SRC_RC" = 0 ] && [ -n "$T_END" ]; then
        r=$(rate "$MSGS" "$T0" "$T_END")
        lag=$(awk -v a="$T_SRC" -v b="$T_END" 'BEGIN { printf "%.2f", b - a }')
        RATES[$sys]="${RATES[$sys]:-} $r"
        SRATES[$sys]="${SRATES[$sys]:-} $s"
        LAG[$sys]="${LAG[$sys]:-} $lag"
        say "  $sys $label: $r msg/s relayed (smtp-source alone: $s msg/s; last message at the sink ${lag}s after the last reply)"
    else
        BAD[$sys]=$(( ${BAD[$sys]:-0} + 1 ))
        note "$sys $label: run failed its checks, not counted (smtp-source $SRC_RC, $s msg/s)"
    fi
}

# ---- mta-smtpd ------------------------------------------------------------
mta_queued() { count_files "$1/queue/new" "$1/queue/mess" "$1/queue/rcpt"; }
_mta_empty() { [ "$(mta_queued "$1")" = 0 ]; }

run_mta() {
    local round=$1 d port pid ok=1 n odd
    want mta || return 0
    d=$W/mta-$round
    mkdir -p "$d"
    port=$(free_port)
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    "$MTA" -q "$d/queue" -m "$d/mail" -l "127.0.0.1:$port" -d bench.example \
        --route "*=127.0.0.1:$SINK_PORT" -L "$d/log" $MTA_ARGS > "$d/stderr" 2>&1 &
    pid=$!
    track_pid "$pid"
    wait_until 20 listening "$port" || { cat "$d/stderr" >&2; die "mta-smtpd did not listen on 127.0.0.1:$port"; }
    sync
    one_run mta "$port" "mta-$round"
    wait_until "$DRAIN_TIMEOUT" _mta_empty "$d" ||
        { note "mta round $round: $(mta_queued "$d") queue files left ${DRAIN_TIMEOUT}s after the run"; ok=0; }
    kill -0 "$pid" 2>/dev/null || { note "mta-smtpd died in round $round: $(tail -n 3 "$d/stderr" | tr '\n' ' ')"; ok=0; }
    stop_pid "$pid" 40
    [ -s "$d/stderr" ] && note "mta-smtpd stderr (round $round): $(head -n 3 "$d/stderr" | tr '\n' ' ')"
    sink_check mta "round $round" || ok=0
    n=$(awk '$3 == "delivered"' "$d/log" | wc -l)
    [ "$n" = "$MSGS" ] || { note "mta round $round: $n deliveries logged, not $MSGS"; ok=0; }
    odd=$(awk '$3 ~ /^(connect|queued|listen|start|stopping|stop|recovered|explode|delivery-start|relayed|delivered|message-done)$/ { next }
               $3 == "disconnect" && / reason=done / { next } { print }' "$d/log" | head -n 3)
    [ -z "$odd" ] || note "mta-smtpd log (round $round), unusual: $(printf '%s\n' "$odd" | tr '\n' ';')"
    record mta "round $round" "$ok"
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d/queue" "$d/mail"
}

# ---- Postfix ----------------------------------------------------------------
PF=$W/postfix
mkdir -p "$PF"
chmod 755 "$PF"
PF_PORT=$(free_port)
_pf_empty() { [ "$(pf_queue_count "$PF")" = 0 ]; }

run_postfix() {
    local round=$1 ok=1 off n bad
    want postfix || return 0
    off=$(stat -c %s "$PF/maillog")
    sync
    one_run postfix "$PF_PORT" "postfix-$round"
    wait_until "$DRAIN_TIMEOUT" _pf_empty ||
        { note "postfix round $round: $(pf_queue_count "$PF") messages queued ${DRAIN_TIMEOUT}s after the run"; ok=0; }
    sink_check postfix "round $round" || ok=0
    # postlogd may write the last lines a moment later.
    wait_until 10 _pf_sent_since "$off" || true
    n=$(tail -c +"$((off + 1))" "$PF/maillog" | grep -c ' status=sent ' || true)
    [ "$n" = "$MSGS" ] || { note "postfix round $round: $n status=sent logged, not $MSGS"; ok=0; }
    bad=$(tail -c +"$((off + 1))" "$PF/maillog" | grep -E ' (warning|error|fatal|panic|reject):' || true)
    [ -z "$bad" ] || note "postfix maillog (round $round): $(printf '%s\n' "$bad" | wc -l) warning/reject lines, e.g. $(printf '%s\n' "$bad" | head -n 1)"
    record postfix "round $round" "$ok"
}
_pf_sent_since() { [ "$(tail -c +"$(($1 + 1))" "$PF/maillog" | grep -c ' status=sent ' || true)" -ge "$MSGS" ]; }

# ---- the runs -------------------------------------------------------------
say "relay.sh: $SESSIONS sessions x $MSGS messages of $SIZE bytes to $RCPT, $ROUNDS rounds"
say "  scratch: $W ($(df -P "$W" | awk 'NR == 2 { print $1 }')); smtp-sink on 127.0.0.1:$SINK_PORT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if want postfix; then
    pf_create "$PF" "$PF_PORT" relay "127.0.0.1:$SINK_PORT"
    pf_set_list "$PF" "$PF_SETTINGS"
    pf_start "$PF"
    say "  private postfix (relay) on 127.0.0.1:$PF_PORT"
fi
want mta && say "  mta-smtpd: $MTA $MTA_ARGS"

bench_rounds
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------
pfc() { postconf -c "$PF/etc" -xh "$1" 2>/dev/null || echo "?"; }
echo
echo "relay: smtp-source$([ "$REUSE" = 1 ] && echo " -d (connections reused)" || echo " (a connection per message)"), $SESSIONS sessions, $MSGS messages of $SIZE bytes to $RCPT, loopback"
echo "peer: smtp-sink -c on 127.0.0.1:$SINK_PORT; time: start of smtp-source -> the sink has received all $MSGS (polled every ${POLL}s)"
want mta && echo "mta: --route '*=127.0.0.1:SINKPORT'${MTA_ARGS:+ $MTA_ARGS}"
want postfix && echo "postfix: relayhost = [127.0.0.1]:SINKPORT, smtp(8); smtp_destination_concurrency_limit=$(pfc smtp_destination_concurrency_limit), initial_destination_concurrency=$(pfc initial_destination_concurrency), smtp_connection_cache_on_demand=$(pfc smtp_connection_cache_on_demand), default_process_limit=$(pfc default_process_limit), in_flow_delay=$(pfc in_flow_delay)${PF_SETTINGS:+; set: $PF_SETTINGS}"
echo "median over $ROUNDS rounds; mta/postfix > 1: mta is faster"
# shellcheck disable=SC2086 # the lists are space-separated numbers
{
    m=$(median ${RATES[mta]:-}) p=$(median ${RATES[postfix]:-})
    ms=$(median ${SRATES[mta]:-}) ps=$(median ${SRATES[postfix]:-})
    printf '%-40s %10s %10s %12s\n' "" mta postfix mta/postfix
    printf '%-40s %10s %10s %12s\n' "relayed, messages/s" "$m" "$p" "$(ratio "$m" "$p")"
    printf '%-40s mta:%s  postfix:%s\n' "  (each round)" "${RATES[mta]:- -}" "${RATES[postfix]:- -}"
    printf '%-40s %10s %10s %12s\n' "smtp-source alone (accepting), msg/s" "$ms" "$ps" "$(ratio "$ms" "$ps")"
    printf '%-40s mta:%s  postfix:%s\n' "  (each round)" "${SRATES[mta]:- -}" "${SRATES[postfix]:- -}"
    printf '%-40s %10s %10s\n' "last message at sink after last reply, s" \
        "$(median ${LAG[mta]:-})" "$(median ${LAG[postfix]:-})"
    printf '%-40s %10s %10s\n' "SMTP sessions at the sink per run" \
        "$(median ${SESS[mta]:-} | sed 's/\.0$//')" "$(median ${SESS[postfix]:-} | sed 's/\.0$//')"
}
echo "load average (1 5 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; $(nproc) CPUs"
lost=$(( ${BAD[mta]:-0} + ${BAD[postfix]:-0} ))
report_verdict "$lost" "in every run the sink received exactly $MSGS messages and the server logged $MSGS deliveries"
