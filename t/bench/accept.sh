#!/bin/bash
# accept.sh - how fast does a server take mail in?  mta-smtpd against a
# private Postfix that only accepts (messages go to its hold queue), on
# this machine, under the same load, alternating, repeated.
#
# The load is Postfix's smtp-source: SESSIONS parallel sessions sending
# MSGS messages in total (payload SIZE bytes, one recipient each), in two
# variants:
#   new    a new TCP connection per message (smtp-source's default)
#   reuse  messages one after another over the same connections (-d)
# Both servers must fsync each message before answering 250, and both
# queues live under $BENCH_TMP on the same (real) filesystem.  A third
# system, the floor (t/tools/thread-sink -k, lib-bench.sh floor_start),
# takes the same load in the same rounds: a thread per connection that
# only makes each message durable (create, write, rename into new/,
# fsync) before its 250.  Its rate is about what the kernel and the disk
# leave to any server of mta's design here; mta's and Postfix's medians
# are also given as shares of it (in hold mode only: it does not deliver).
#
# In the default PF_MODE=hold neither delivers: Postfix holds, and
# mta-smtpd runs with --hold (queue only).  PF_MODE=maildir makes both
# deliver while they receive (Postfix through virtual(8), mta-smtpd its
# scheduler, to Maildirs), the like-for-like comparison of receiving
# while delivering.  Either way the rate is messages accepted
# per second of smtp-source time; after each run both systems are given
# time (bounded) to finish their deliveries before the next run starts.
#
# Each round runs mta, the floor and Postfix once per variant; odd rounds
# start with mta, even rounds with Postfix, the floor between them.  Queues are emptied between runs (mta:
# a fresh queue directory and daemon per run; Postfix: postsuper -d ALL
# hold).  Reported: median messages/s over the rounds and the ratio
# mta/Postfix (> 1 means mta is faster), plus whether every message of
# every run arrived.  Nothing is asserted about timing.
#
# Environment: ROUNDS (5), MSGS (5000), SESSIONS (20), SIZE (1024),
# VARIANTS ("new reuse"), MTA_HOLD (1: mta-smtpd --hold, the default
# with PF_MODE=hold; 0: it delivers while receiving), SYSTEMS ("mta
# postfix floor"; "mta postfix" unless both hold; one alone is allowed,
# e.g. to try the Postfix side), PF_MODE (hold or maildir), DOMAIN
# (bench.example), DRAIN_TIMEOUT (300 s to finish deliveries after a
# run), RUN_TIMEOUT (900 s for
# one smtp-source run), MTA_ARGS (extra mta-smtpd options), and those of
# lib-bench.sh (MTA_BIN, BENCH_TMP, BENCH_KEEP).
# Exit status: 0 done, 1 error or lost messages, 77 mta-smtpd not built.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
VARIANTS=${VARIANTS:-new reuse}
PF_MODE=${PF_MODE:-hold}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
DOMAIN=${DOMAIN:-bench.example}
SENDER=${SENDER:-bench@sender.example}
RCPT=user@$DOMAIN
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
MTA_ARGS=${MTA_ARGS:-}
# Queues are kept until the end by default: deleting thousands of files
# just before a run makes the next run's file creations slow on some file
# systems (ext4 without a journal skips every recently deleted inode when
# it allocates one), which measures the deletion, not the server.
CLEAR_BETWEEN=${CLEAR_BETWEEN:-0}
# Like for like: with Postfix holding, mta-smtpd runs with --hold (queue
# only, no scheduler); with Postfix delivering, mta delivers too.
if [ "$PF_MODE" = hold ]; then MTA_HOLD=${MTA_HOLD:-1}; else MTA_HOLD=${MTA_HOLD:-0}; fi
[ "$MTA_HOLD" = 1 ] && MTA_ARGS="--hold $MTA_ARGS"
if [ "$PF_MODE" = hold ] && [ "$MTA_HOLD" = 1 ]; then
    SYSTEMS=${SYSTEMS:-mta postfix floor}
else
    SYSTEMS=${SYSTEMS:-mta postfix}
fi
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
MTA=$MTA_BIN/mta-smtpd

if want mta && [ ! -x "$MTA" ]; then
    say "accept.sh: skipped: $MTA is not built (make)"
    exit 77
fi
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (apt-get install postfix)"
case $PF_MODE in hold|maildir) ;; *) die "PF_MODE must be hold or maildir" ;; esac
if want floor && { [ "$PF_MODE" != hold ] || [ "$MTA_HOLD" != 1 ]; }; then
    die "the floor only keeps: SYSTEMS with floor needs PF_MODE=hold and MTA_HOLD=1"
fi

bench_tmpdir W accept

declare -A RATES=()      # "mta/new" -> "r1 r2 ..." (messages/s of good runs)
declare -A BAD=()        # "mta/new" -> number of runs that lost messages/failed
declare -A MTA_DELIVERED=()  # "new" -> " n1 n2 ..." delivered by mta per run
declare -A DRAIN=()      # "mta/new" -> seconds from the last reply to an empty queue

# run_source PORT VARIANT OUTFILE: one smtp-source run against
# 127.0.0.1:PORT; sets ELAPSED_START/ELAPSED_END and returns its status.
run_source() {
    local port=$1 variant=$2 out=$3 pid rc=0
    local args=(-c -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f "$SENDER" -t "$RCPT")
    [ "$variant" = reuse ] && args=(-d "${args[@]}")
    ELAPSED_START=$(now)
    # In the background so that a signal to this script is acted on at
    # once (bash defers traps while a foreground child runs).
    timeout -k 10 "$RUN_TIMEOUT" "$SMTP_SOURCE" "${args[@]}" "127.0.0.1:$port" \
        > "$out" 2>&1 &
    pid=$!
    track_pid "$pid"
    wait "$pid" || rc=$?
    ELAPSED_END=$(now)
    untrack_pid "$pid"
    # smtp-source -c prints a running counter; keep only real messages.
    tr '\r' '\n' < "$out" | grep -v '^[0-9]*$' | grep . > "$out.msgs" || true
    if [ "$rc" != 0 ]; then
        note "smtp-source exited $rc against port $port ($variant): $(head -n 3 "$out.msgs" | tr '\n' ' ')"
    elif [ -s "$out.msgs" ]; then
        note "smtp-source said ($variant, port $port): $(sort "$out.msgs" | uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')"
    fi
    return "$rc"
}

# record SYSTEM VARIANT COUNT RC: file the run's rate or its failure.
record() {
    local key=$1/$2 n=$3 rc=$4 r
    r=$(rate "$MSGS" "$ELAPSED_START" "$ELAPSED_END")
    if [ "$rc" = 0 ] && [ "$n" = "$MSGS" ]; then
        RATES[$key]="${RATES[$key]:-} $r"
        say "  $1 $2: $r msg/s ($n/$MSGS messages arrived)"
    else
        BAD[$key]=$(( ${BAD[$key]:-0} + 1 ))
        note "$1 $2 run: $n of $MSGS messages arrived, smtp-source status $rc (${r} msg/s, not counted)"
    fi
}

# ---- mta-smtpd ----------------------------------------------------------
# Where an accepted message can be: waiting in queue/new, taken by the
# scheduler (queue/mess), or delivered (mail/USER/new/FILE).
mta_queued() { count_files "$1/queue/new" "$1/queue/mess"; }
mta_delivered() {
    if [ -d "$1/mail" ]; then
        find "$1/mail" -mindepth 3 -maxdepth 3 -path '*/new/*' -type f | wc -l
    else
        echo 0
    fi
}

# mta_drain DIR: wait until the queue is empty, or has not moved for 5 s
# (no scheduler, or deliveries stuck), at most DRAIN_TIMEOUT seconds.
# A message is counted once only when nothing is in flight.
mta_drain() {
    local d=$1 q last=-1 still=0 deadline
    deadline=$(( $(date +%s) + DRAIN_TIMEOUT ))
    while :; do
        q=$(mta_queued "$d")
        [ "$q" = 0 ] && return 0
        if [ "$q" = "$last" ]; then
            still=$((still + 1))
            [ "$still" -lt 50 ] || return 0
        else
            still=0 last=$q
        fi
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# Summarise one mta-smtpd log: event counts, and anything that is not a
# plain connect / queued / disconnect reason=done.
mta_log_check() {
    local log=$1 variant=$2 odd
    [ -s "$log" ] || { note "mta-smtpd wrote no log ($variant)"; return 0; }
    odd=$(mta_log_unusual "$log" connect queued listen start stopping stop fd-limit \
          recovered explode delivery-start delivered message-done)
    if [ -n "$odd" ]; then
        note "mta-smtpd log ($variant): $(printf '%s\n' "$odd" | wc -l) unusual lines, by event: $(printf '%s\n' "$odd" | by_event)"
        printf '%s\n' "$odd" | head -n 5 | sed 's/^/    /' >&2
        printf '%s\n' "$odd" | head -n 3 > "$log.odd"
    fi
}

run_mta() {
    local variant=$1 round=$2 d port pid rc=0 n
    want mta || return 0
    d=$W/mta-$variant-$round
    mkdir -p "$d"
    port=$(free_port)
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    mta_start "$d" "$port" -q "$d/queue" -m "$d/mail" -l "127.0.0.1:$port" \
        -d "$DOMAIN" $MTA_ARGS
    pid=$MTA_PID
    sync
    run_source "$port" "$variant" "$d/source.out" || rc=$?
    # Every 250 is already on disk: let the scheduler finish delivering.
    [ "$MTA_HOLD" = 1 ] || mta_drain "$d" || note "mta-smtpd still had $(mta_queued "$d") messages queued ${DRAIN_TIMEOUT}s after the $variant run"
    local q dl drained
    drained=$(awk -v a="$ELAPSED_END" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    q=$(mta_queued "$d") dl=$(mta_delivered "$d")
    [ "$dl" = 0 ] || DRAIN[mta/$variant]="${DRAIN[mta/$variant]:-} $drained"
    n=$(( q + dl ))
    MTA_DELIVERED[$variant]="${MTA_DELIVERED[$variant]:-} $dl"
    kill -0 "$pid" 2>/dev/null || note "mta-smtpd died during the $variant run: $(tail -n 3 "$d/stderr" | tr '\n' ' ')"
    stop_pid "$pid" 40
    [ -s "$d/stderr" ] && note "mta-smtpd stderr ($variant): $(head -n 3 "$d/stderr" | tr '\n' ' ')"
    record mta "$variant" "$n" "$rc"
    mta_log_check "$d/log" "$variant"
    # With CLEAR_BETWEEN=1: keep the logs, drop the messages.
    [ "$CLEAR_BETWEEN" = 1 ] && [ "${BENCH_KEEP:-0}" != 1 ] && rm -rf "$d/queue" "$d/mail"
    return 0
}

# ---- the floor --------------------------------------------------------------
# It only keeps (PF_MODE=hold): every message in its queue's new/.
run_floor() {
    local variant=$1 round=$2 d port rc=0 n
    want floor || return 0
    d=$W/floor-$variant-$round
    port=$(free_port)
    floor_start "$d" "$port" -k "$d"
    sync
    run_source "$port" "$variant" "$d.source.out" || rc=$?
    n=$(count_files "$d/new")
    kill -0 "$FLOOR_PID" 2>/dev/null || note "thread-sink died during the $variant run: $(head -n 3 "$d.stderr" | tr '\n' ' ')"
    stop_pid "$FLOOR_PID"
    record floor "$variant" "$n" "$rc"
    [ "$CLEAR_BETWEEN" = 1 ] && [ "${BENCH_KEEP:-0}" != 1 ] && rm -rf "$d"
    return 0
}

# ---- Postfix --------------------------------------------------------------
PF=$W/postfix
mkdir -p "$PF"
chmod 755 "$PF"
PF_PORT=$(free_port)

_pf_drained() { [ "$(pf_queue_count "$PF")" = 0 ] && [ "$(pf_maildir_count "$PF")" -ge "$MSGS" ]; }

run_postfix() {
    local variant=$1 round=$2 rc=0 n off bad held=0
    want postfix || return 0
    if [ "$PF_MODE" = hold ]; then
        [ "$CLEAR_BETWEEN" = 1 ] && pf_clear_hold "$PF"
        held=$(pf_hold_count "$PF")
    else
        rm -rf "$PF/mail/user" "$PF/mail/_other"
    fi
    off=$(stat -c %s "$PF/maillog")
    sync
    run_source "$PF_PORT" "$variant" "$W/postfix-$variant-$round.out" || rc=$?
    if [ "$PF_MODE" = hold ]; then
        pf_wait_count "$PF" "$((held + MSGS))" 30 || true
        n=$(( $(pf_hold_count "$PF") - held ))
    else
        wait_until "$DRAIN_TIMEOUT" _pf_drained ||
            note "postfix still had $(pf_queue_count "$PF") messages queued ${DRAIN_TIMEOUT}s after the $variant run"
        DRAIN[postfix/$variant]="${DRAIN[postfix/$variant]:-} $(awk -v a="$ELAPSED_END" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
        n=$(( $(pf_maildir_count "$PF") + $(pf_queue_count "$PF") ))
    fi
    record postfix "$variant" "$n" "$rc"
    bad=$(tail -c +"$((off + 1))" "$PF/maillog" | grep -E ' (warning|error|fatal|panic|reject):' || true)
    if [ -n "$bad" ]; then
        note "postfix maillog ($variant): $(printf '%s\n' "$bad" | wc -l) warning/reject lines, e.g. $(printf '%s\n' "$bad" | head -n 1)"
    fi
}

# ---- the runs ---------------------------------------------------------------
say "accept.sh: $SESSIONS sessions x $MSGS messages of $SIZE bytes, $ROUNDS rounds, variants: $VARIANTS"
say "  scratch: $W ($(df -P "$W" | awk 'NR == 2 { print $1 }'))"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if want postfix; then
    if [ "$PF_MODE" = hold ]; then
        pf_create "$PF" "$PF_PORT" hold
    else
        pf_create "$PF" "$PF_PORT" maildir "$DOMAIN" user
    fi
    pf_start "$PF"
    say "  private postfix ($PF_MODE) on 127.0.0.1:$PF_PORT"
fi
want mta && say "  mta-smtpd: $MTA"

bench_rounds "$VARIANTS"
if want postfix && [ "$PF_MODE" = hold ]; then pf_clear_hold "$PF"; fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------
describe() {
    case $1 in
    new) echo "new connection per message" ;;
    reuse) echo "reused connections (-d)" ;;
    *) echo "$1" ;;
    esac
}

echo
echo "accept: smtp-source, $SESSIONS sessions, $MSGS messages of $SIZE bytes, loopback"
case $PF_MODE in
hold) echo "postfix: hold queue only (accept + fsync, no delivery)" ;;
maildir) echo "postfix: delivers to Maildir (virtual) while receiving" ;;
esac
if want mta; then
    delivered=0
    for variant in $VARIANTS; do
        for x in ${MTA_DELIVERED[$variant]:-}; do delivered=$((delivered + x)); done
    done
    if [ "$delivered" -gt 0 ]; then
        echo "mta: delivers to Maildir (its scheduler) while receiving"
    else
        echo "mta: queue only (--hold: accept + fsync, no delivery)"
    fi
fi
echo "median messages/s over $ROUNDS rounds; mta/postfix > 1: mta is faster"
rate_table "$VARIANTS"
# shellcheck disable=SC2153 # LOST is set by rate_table
lost=$LOST
if want floor; then
    echo "floor: t/tools/thread-sink -k, a thread per connection making each message durable before its 250, nothing else"
    for variant in $VARIANTS; do
        # shellcheck disable=SC2086 # the rate lists are space-separated
        floor_row "$(describe "$variant")" "$(median ${RATES[floor/$variant]:-})" \
            "$(median ${RATES[mta/$variant]:-})" "$(median ${RATES[postfix/$variant]:-})" \
            "$([ "$variant" = reuse ] && echo 4 || echo 3)"
        printf '%-30s floor:%s\n' "  (each round)" "${RATES[floor/$variant]:- -}"
        lost=$(( lost + ${BAD[floor/$variant]:-0} ))
    done
fi
for key in mta/new mta/reuse postfix/new postfix/reuse; do
    [ -n "${DRAIN[$key]:-}" ] || continue
    # shellcheck disable=SC2086
    echo "${key%/*} ${key#*/}: deliveries done $(median ${DRAIN[$key]}) s (median) after the last reply"
done
echo "load average (1 5 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; $(nproc) CPUs"
echo
where=
if [ "$lost" = 0 ]; then
    ! want mta || where="mta: queued or delivered"
    ! want postfix || where="${where:+$where; }postfix: $([ "$PF_MODE" = hold ] && echo "in its hold queue" || echo "delivered")"
    ! want floor || where="${where:+$where; }floor: in its new/"
fi
report_verdict "$lost" "in every run all $MSGS messages arrived ($where)"
