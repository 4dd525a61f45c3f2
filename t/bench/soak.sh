#!/bin/bash
# soak.sh - sustained load with crashes: no acknowledged message is lost.
#
# One mta-smtpd delivers to Maildirs while SOAK_CLIENTS clients
# (lib-soak-clients.py) send to it for SOAK_SECONDS.  Every
# SOAK_KILL_EVERY seconds or so (uniformly between half and one and a
# half times that) the daemon is killed with SIGKILL and started again
# at once on the same queue and port.  Each message carries a unique
# token; a client logs the token of every message that got its 250 after
# the dot.  After the run the last daemon drains the queue, is stopped
# with SIGTERM, and every logged token must be found in a mailbox.
#
# Output: messages attempted, acknowledged, delivered, duplicates (at
# least once: a crash between a delivery and the removal of its job
# delivers again), lost (must be 0), kills, and the daemon's VmRSS, open
# files and threads: the first one at start (idle), each one just before
# its kill (under load: min and max), the last one at the end (drained).
#
# Environment: SOAK_SECONDS (600), SOAK_CLIENTS (20), SOAK_KILL_EVERY (30;
# 0 = never kill, a plain soak of one daemon), SOAK_USERS (5 mailboxes),
# DRAIN_TIMEOUT (1200 s), SOAK_SETTLE (15 s of quiet after the drain
# before the last sample: idle delivery threads end by then), MTA_ARGS (extra mta-smtpd options), and those
# of lib-bench.sh.
# Exit status: 0 done and nothing lost, 1 error or a lost message,
# 77 mta-smtpd not built.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_CLIENTS=${SOAK_CLIENTS:-20}
SOAK_KILL_EVERY=${SOAK_KILL_EVERY:-30}
SOAK_USERS=${SOAK_USERS:-5}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-1200}
SOAK_SETTLE=${SOAK_SETTLE:-15}
MTA_ARGS=${MTA_ARGS:-}
MTA=$MTA_BIN/mta-smtpd
CLIENTS=$BENCH_DIR/lib-soak-clients.py
DOMAIN=soak.example

[ -x "$MTA" ] || { say "soak.sh: skipped: $MTA is not built (make)"; exit 77; }

bench_tmpdir W soak
port=$(free_port)
users=$(seq -f 'user%g' 1 "$SOAK_USERS" | paste -sd, -)
MTA_PID=

# start_daemon - a fresh mta-smtpd on the same queue, mail root and port
start_daemon() {
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    "$MTA" -q "$W/queue" -m "$W/mail" -l "127.0.0.1:$port" -d "$DOMAIN" \
        -L "$W/log" $MTA_ARGS >> "$W/stderr" 2>&1 &
    MTA_PID=$!
    track_pid "$MTA_PID"
    wait_until 30 listening "$port" || { tail "$W/stderr" >&2; die "mta-smtpd does not listen"; }
}

# sample - "RSS_KiB FDS THREADS" of the running daemon
sample() {
    local rss thr fds
    rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$MTA_PID/status" 2>/dev/null)
    thr=$(awk '$1 == "Threads:" { print $2 }' "/proc/$MTA_PID/status" 2>/dev/null)
    fds=$(find "/proc/$MTA_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    printf '%s %s %s\n' "${rss:--}" "$fds" "${thr:--}"
}

queue_drained() {
    [ "$(count_files "$W/queue/new" "$W/queue/mess" "$W/queue/rcpt")" = 0 ]
}
clients_gone() { ! kill -0 "$CLIENT_PID" 2>/dev/null; }

mkdir -p "$W/queue" "$W/mail"
: > "$W/acked"
start_daemon
sleep 2
read -r rss0 fd0 thr0 <<< "$(sample)"
say "soak.sh: mta-smtpd pid $MTA_PID on 127.0.0.1:$port; $SOAK_CLIENTS clients for ${SOAK_SECONDS}s," \
    "kill -9 every ~${SOAK_KILL_EVERY}s"

t0=$(date +%s)
"$PYTHON" "$CLIENTS" send 127.0.0.1 "$port" "$SOAK_CLIENTS" "$SOAK_SECONDS" \
    "$W/acked" "$users" "$DOMAIN" > "$W/clients.out" 2> "$W/clients.err" &
CLIENT_PID=$!
track_pid "$CLIENT_PID"

kills=0
: > "$W/samples"
end=$(( t0 + SOAK_SECONDS ))
while [ "$(date +%s)" -lt "$end" ]; do
    if [ "$SOAK_KILL_EVERY" -gt 0 ]; then
        pause=$(( SOAK_KILL_EVERY / 2 + RANDOM % (SOAK_KILL_EVERY + 1) ))
    else
        pause=10
    fi
    left=$(( end - $(date +%s) ))
    [ "$pause" -lt "$left" ] || break
    sleep "$pause"
    kill -0 "$MTA_PID" 2>/dev/null || { tail -n 60 "$W/stderr" >&2; die "mta-smtpd died by itself"; }
    sample >> "$W/samples"
    [ "$SOAK_KILL_EVERY" -gt 0 ] || continue
    kill -KILL "$MTA_PID"
    wait "$MTA_PID" 2>/dev/null || true
    untrack_pid "$MTA_PID"
    kills=$(( kills + 1 ))
    start_daemon
    say "soak.sh: $(( $(date +%s) - t0 ))s: kill $kills, restarted as pid $MTA_PID;" \
        "$(wc -l < "$W/acked") acknowledged so far"
done

wait_until $(( end - $(date +%s) + 180 )) clients_gone || die "clients still running long after the end"
wait "$CLIENT_PID" 2>/dev/null || true
untrack_pid "$CLIENT_PID"
t1=$(date +%s)
backlog="new=$(count_files "$W/queue/new") mess=$(count_files "$W/queue/mess") rcpt=$(count_files "$W/queue/rcpt")"
say "soak.sh: clients done ($(cat "$W/clients.out")); draining the queue"
wait_until "$DRAIN_TIMEOUT" queue_drained || say "soak.sh: queue not drained after ${DRAIN_TIMEOUT}s"
t2=$(date +%s)
sleep "$SOAK_SETTLE"
read -r rss1 fd1 thr1 <<< "$(sample)"
kill -TERM "$MTA_PID"
wait_until 30 _pid_gone "$MTA_PID" || die "mta-smtpd did not stop on SIGTERM"
status=0
wait "$MTA_PID" || status=$?
untrack_pid "$MTA_PID"

counted=$("$PYTHON" "$CLIENTS" count "$W/mail" "$W/acked")
summary=$(head -n 1 <<< "$counted")
get() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<< "$2"; }
lost=$(get lost "$summary")
range() { awk -v c="$1" '{ v = $c } NR == 1 || v < lo { lo = v } NR == 1 || v > hi { hi = v }
    END { if (NR) printf "%s..%s", lo, hi; else printf "-" }' "$W/samples"; }

echo
echo "soak: $SOAK_CLIENTS clients, ${SOAK_SECONDS}s, kill -9 of mta-smtpd every ~${SOAK_KILL_EVERY}s, Maildir delivery"
echo "clients: $(cat "$W/clients.out")"
echo "mailboxes: $summary"
echo "kills: $kills; queue when the clients stopped: $backlog; drained $(( t2 - t1 ))s later"
echo "last daemon: exit status $status on SIGTERM"
echo "queue left: new=$(count_files "$W/queue/new") mess=$(count_files "$W/queue/mess")" \
     "rcpt=$(count_files "$W/queue/rcpt") bad=$(count_files "$W/queue/bad")"
printf '%-28s %14s %10s %10s\n' "mta-smtpd" "VmRSS KiB" "open fds" "threads"
printf '%-28s %14s %10s %10s\n' "start (idle)" "$rss0" "$fd0" "$thr0"
printf '%-28s %14s %10s %10s\n' "before each kill (min..max)" "$(range 1)" "$(range 2)" "$(range 3)"
printf '%-28s %14s %10s %10s\n' "end (drained, idle)" "$rss1" "$fd1" "$thr1"
sed -n 's/^lost /lost token: /p' <<< "$counted"
odd=$(awk '$3 ~ /error|panic|quarantine|bad/' "$W/log" 2>/dev/null | head -n 5)
[ -z "$odd" ] || { echo "log lines worth a look:"; printf '  %s\n' "$odd"; }
[ ! -s "$W/clients.err" ] || echo "client stderr: $(head -n 3 "$W/clients.err" | tr '\n' ' ')"
# a daemon built with a sanitizer (MTA_BIN=build/tsan/bin, build/asan/bin)
# reports to its stderr; halt_on_error makes it die, which fails above
if grep -qE '^(WARNING|ERROR): (ThreadSanitizer|AddressSanitizer|LeakSanitizer)|: runtime error: ' "$W/stderr"; then
    echo "sanitizer report in mta-smtpd's stderr:"
    sed -n '1,60s/^/  /p' "$W/stderr"
    die "sanitizer report"
fi
[ "${lost:-1}" = 0 ] || die "acknowledged messages lost: ${lost:-?}"
[ "$status" = 0 ] || die "mta-smtpd exited $status on SIGTERM"
