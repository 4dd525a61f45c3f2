#!/bin/bash
# idle-rss.sh - memory cost of an idle connection in mta-smtpd.
#
# Starts mta-smtpd with room for CONNS clients and an idle timeout longer
# than the test, reads its VmRSS from /proc/PID/status, opens CONNS
# connections from lib-idle-clients.py (each reads the 220 greeting, then
# stays silent), reads VmRSS again, and reports (after - before) / CONNS
# in KiB per connection.  Also shown: threads, virtual size and open
# files before and after, RSS once the clients have gone (and the
# daemon's connection threads with them), and whether the daemon kept
# every connection open while idle.
#
# Environment: CONNS (15000: what the issue's target names), IDLE_SETTLE
# (2 s to wait before reading RSS),
# MTA_ARGS (extra mta-smtpd options), and those of lib-bench.sh.
# Exit status: 0 done, 1 error, 77 mta-smtpd not built.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"

CONNS=${CONNS:-15000}
IDLE_SETTLE=${IDLE_SETTLE:-2}
MTA_ARGS=${MTA_ARGS:-}
MTA=$MTA_BIN/mta-smtpd
CLIENT=$BENCH_DIR/lib-idle-clients.py

[ -x "$MTA" ] || { say "idle-rss.sh: skipped: $MTA is not built (make)"; exit 77; }

# Each side needs one descriptor per connection, plus some; the daemon
# asks for two per connection it may take (-c: a connection and the
# message file it may be writing) and logs fd-limit action=short when
# the limit is below that.  The hard limit is raised to what the daemon
# asks where that is allowed (root with CAP_SYS_RESOURCE: as an
# administrator would for such a host, systemd's LimitNOFILE=; not in
# every container); then the soft one (inherited by both processes) as
# far as the hard one allows.  Idle connections open no message file, so
# one per connection is what this run needs.
need=$(( CONNS + 512 ))
want=$(( 2 * (CONNS + 100) + 1024 ))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] &&
   [ "$want" -le "$(cat /proc/sys/fs/nr_open)" ] &&
   ulimit -Hn "$want" 2>/dev/null; then
    hard=$want
fi
if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
    need=$want
fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
        die "need $need open files per process, hard limit is $hard"
    fi
    ulimit -Sn "$need"
fi

bench_tmpdir W idle-rss
port=$(free_port)

# status FIELD: a field (in kB) from the daemon's /proc/PID/status
status() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$MTA_PID/status"; }
nfds() { find "/proc/$MTA_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# shellcheck disable=SC2086 # MTA_ARGS is a list of options
"$MTA" -q "$W/queue" -m "$W/mail" -l "127.0.0.1:$port" -d bench.example \
    -L "$W/log" -c $(( CONNS + 100 )) --timeout 3600 $MTA_ARGS \
    > "$W/stderr" 2>&1 &
MTA_PID=$!
track_pid "$MTA_PID"
wait_until 20 listening "$port" || { cat "$W/stderr" >&2; die "mta-smtpd does not listen"; }
sleep "$IDLE_SETTLE"

rss0=$(status VmRSS) vsz0=$(status VmSize) thr0=$(status Threads) fd0=$(nfds)
say "idle-rss.sh: mta-smtpd pid $MTA_PID on 127.0.0.1:$port, VmRSS $rss0 kB; opening $CONNS connections"

t0=$(now)
"$PYTHON" "$CLIENT" 127.0.0.1 "$port" "$CONNS" "$W/ready" "$W/done" 900 \
    > "$W/client.out" 2> "$W/client.err" &
CLIENT_PID=$!
track_pid "$CLIENT_PID"
_ready() { [ -e "$W/ready" ] || ! kill -0 "$CLIENT_PID" 2>/dev/null; }
wait_until $(( 60 + CONNS / 20 )) _ready || die "clients not connected after $(( 60 + CONNS / 20 ))s"
[ -e "$W/ready" ] || { cat "$W/client.err" >&2; die "client script failed"; }
t1=$(now)
sleep "$IDLE_SETTLE"

kill -0 "$MTA_PID" 2>/dev/null || { tail "$W/stderr" >&2; die "mta-smtpd died with $CONNS connections open"; }
rss1=$(status VmRSS) vsz1=$(status VmSize) thr1=$(status Threads) fd1=$(nfds)
hwm1=$(status VmHWM)
read -r connected < "$W/ready"

# Let the clients look at their sockets once more, then go.
touch "$W/done"
wait_until 60 _pid_gone "$CLIENT_PID" || say "client script still running; stopping it"
stop_pid "$CLIENT_PID" 10
read -r idle_state < "$W/client.out" || idle_state="(client printed nothing: $(head -c 200 "$W/client.err"))"
# The daemon's threads end as they read each close: wait for them (15,000
# take some seconds), then for what glibc gives back.
_threads_back() { [ "$(status Threads)" -le $(( thr0 + 2 )) ]; }
wait_until 60 _threads_back || say "idle-rss.sh: $(status Threads) threads left after 60 s"
sleep "$IDLE_SETTLE"
rss2=$(status VmRSS) thr2=$(status Threads)
stop_pid "$MTA_PID" 40

ok=$(printf '%s\n' "$connected" | sed -n 's/.*ok=\([0-9]*\).*/\1/p')
per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "-" }'; }

echo
echo "idle-rss: mta-smtpd with $CONNS idle connections (greeting read, then silent)"
echo "connections: $connected, opened in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
printf '%-24s %12s %12s %12s\n' "" before "${ok:-?} idle" "after close"
printf '%-24s %12s %12s %12s\n' "VmRSS (KiB)" "$rss0" "$rss1" "$rss2"
printf '%-24s %12s %12s\n' "VmSize (KiB)" "$vsz0" "$vsz1"
printf '%-24s %12s %12s %12s\n' "threads" "$thr0" "$thr1" "$thr2"
printf '%-24s %12s %12s\n' "open files" "$fd0" "$fd1"
echo "VmHWM with connections open: $hwm1 KiB"
echo "RSS per idle connection: $(per_conn "$rss0" "$rss1" "${ok:-0}") KiB" \
     "(virtual: $(per_conn "$vsz0" "$vsz1" "${ok:-0}") KiB)"
echo "while idle: $idle_state (alive = still open, closed/spoke = dropped or answered by the server)"
odd=$(awk '$3 != "connect" && $3 != "disconnect" && $3 != "listen" &&
           $3 != "start" && $3 != "stopping" && $3 != "stop" &&
           $3 != "recovered"' "$W/log" 2>/dev/null | head -n 5)
if [ -n "$odd" ]; then
    echo "unusual mta-smtpd log lines:"
    printf '  %s\n' "$odd"
fi
reasons=$(awk '$3 == "disconnect" { for (i = 4; i <= NF; i++) if ($i ~ /^reason=/) print $i }' \
    "$W/log" 2>/dev/null | sort | uniq -c | tr -s ' ' | tr '\n' ';')
echo "disconnects by reason: ${reasons:-none}"
if [ -s "$W/stderr" ]; then
    echo "mta-smtpd stderr: $(head -n 3 "$W/stderr" | tr '\n' ' ')"
fi
