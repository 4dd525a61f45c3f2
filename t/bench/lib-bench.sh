# lib-bench.sh - helpers shared by the benchmark scripts in t/bench/.
#
# Source it (". t/bench/lib-bench.sh") from a bash script running with
# "set -eu".  It provides:
#
#   say MSG...             progress and diagnostics, to stderr
#   die MSG...             say, then exit 1 (the exit trap still cleans up)
#   at_exit CMD ARGS...    run CMD ARGS at exit (last registered runs first),
#                          also after an error or SIGINT/SIGTERM
#   track_pid PID          a background process we started: stop it at exit
#   untrack_pid PID        ... unless it has been stopped and reaped since
#   bench_fs_setup         put BENCH_TMP on the file system BENCH_FS names
#                          (bench_tmpdir calls it; see BENCH_FS below)
#   bench_tmpdir VAR NAME  make a fresh directory $BENCH_TMP/NAME.XXXXXX,
#                          removed at exit, and store its path in VAR (not
#                          printed: at_exit does not work in a $(...) subshell)
#   free_port              a TCP port on 127.0.0.1 that nobody listens on now
#   listening PORT         true if something listens on 127.0.0.1:PORT
#   wait_until SECS CMD... run CMD every 0.1 s until it succeeds; false after
#                          SECS seconds
#   stop_pid PID [SECS]    SIGTERM PID (one we started and still track),
#                          wait at most SECS (default 10) for it to go, then
#                          SIGKILL it; reap it and stop tracking it
#   now                    wall clock in seconds with nanoseconds
#   median N...            the median of the numbers given
#   rate COUNT START END   COUNT / (END - START), one decimal
#   ratio A B              A / B, two decimals ("-" if B is 0 or missing)
#   count_files DIR...     number of regular files directly in the DIRs
#   mta_start DIR PORT ARG...  start $MTA_BIN/mta-smtpd ARG... -L DIR/log
#                          (stderr to DIR/stderr), tracked, its PID in
#                          MTA_PID; wait (20 s) until 127.0.0.1:PORT listens
#   smtp_source_payload SIZE   the body smtp-source sends with -l SIZE, LF
#                          line ends: lines of 78 characters, the first a
#                          running digit (1, 2, ... mod 10), the rest X's,
#                          80 bytes each with CRLF; what is left of SIZE as
#                          one last line of X's
#   want SYSTEM            true if the caller's SYSTEMS (a space-separated
#                          list) names SYSTEM
#   note MSG...            say MSG now and keep it in NOTES, for the report
#   bench_rounds [VARIANTS]  ROUNDS rounds of each variant in turn: the
#                          caller's run_mta VARIANT ROUND and run_postfix
#                          VARIANT ROUND, odd rounds mta first (and its
#                          run_floor between them, if it has one); without
#                          VARIANTS, ROUNDS rounds of run_mta ROUND and
#                          run_postfix ROUND
#   floor_start DIR PORT ARG...  start t/tools/thread-sink (the floor, below)
#   floor_row LABEL FLOOR MTA POSTFIX X   a report line: the floor's
#                          median and the others' (and X x Postfix's) as
#                          shares of it
#   mta_log_unusual LOG EVENT...  the lines of an mta-smtpd log whose event
#                          is none of the EVENTs (a disconnect with
#                          reason=done is never unusual)
#   by_event               log lines on stdin: "N EVENT;" for the 5
#                          commonest events (disconnects by their reason)
#   rate_rows LABEL MTA_RATES POSTFIX_RATES   two lines of a report table:
#                          LABEL, both medians and their ratio; each round
#   rate_table VARIANTS    a report table: its header, then rate_rows for
#                          each variant V, labelled "describe V" and taken
#                          from the caller's RATES[mta/V], RATES[postfix/V];
#                          sets LOST to the sum of the caller's BAD[...]
#   report_verdict LOST TEXT   the end of a report: "counts verified: TEXT"
#                          when LOST (runs that failed) is 0, else COUNTS NOT
#                          VERIFIED; then the caller's NOTES array; true
#                          when LOST is 0
#
# Variables (all may be set in the environment beforehand):
#   TOP        the source tree (two levels above this file)
#   MTA_BIN    where mta-smtpd lives (default $TOP/bin)
#   BENCH_TMP  parent of all scratch directories (default $TOP/build/bench).
#              Queues live there, so it must be a real disk, not tmpfs:
#              the cost of fsync is part of what is measured.
#   PYTHON     python interpreter (default Debian's /usr/bin/python3)
#   BENCH_KEEP 1 = keep the scratch directories (queues, logs) at exit
#   BENCH_FS   ext4 (default): BENCH_TMP is a journaled ext4 file system
#              that the benchmark makes (mkfs.ext4 defaults, as a Debian
#              host has) in a sparse image file and loop-mounts, and
#              unmounts and removes at exit; "root": BENCH_TMP as it is
#              (on these machines the root file system has no journal,
#              which makes file creation after mass deletions slow and
#              erratic: a second configuration, not the reference)
#   BENCH_FS_SIZE  size of that image (default 16G, sparse)
#   BENCH_FS_OPTS  extra mount options for it, for diagnosis only: e.g.
#              barrier=0 keeps the journal but drops its cache flushes,
#              which shows how much of a figure is the disk's flush latency
#              (never for the reference figures: a mail host needs them)
#
# Only loopback addresses are ever used.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=${TOP:-$(cd "$BENCH_DIR/../.." && pwd)}
MTA_BIN=${MTA_BIN:-$TOP/bin}
BENCH_TMP=${BENCH_TMP:-$TOP/build/bench}
PYTHON=${PYTHON:-/usr/bin/python3}
export LC_ALL=C

say() { printf '%s\n' "$*" >&2; }
die() { say "${0##*/}: $*"; exit 1; }

# ---- clean-up at exit ---------------------------------------------------
# Commands are stored already quoted (printf %q) and run in reverse order
# of registration, with errexit off so that one failing step does not
# stop the others.
# Background processes still running are tracked separately (track_pid,
# untrack_pid once reaped), so that a PID the kernel has since given to
# someone else is never signalled; they are stopped first.
_BENCH_CLEANUP=()
_BENCH_PIDS=()
at_exit() { _BENCH_CLEANUP+=("$(printf '%q ' "$@")"); }
track_pid() { _BENCH_PIDS+=("$1"); }
untrack_pid() {
    local p keep=()
    for p in ${_BENCH_PIDS[@]+"${_BENCH_PIDS[@]}"}; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    _BENCH_PIDS=(${keep[@]+"${keep[@]}"})
}
_bench_run_cleanup() {
    local rc=$? i
    set +e
    trap - EXIT INT TERM HUP
    for ((i = ${#_BENCH_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${_BENCH_PIDS[i]}" 10
    done
    for ((i = ${#_BENCH_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${_BENCH_CLEANUP[i]}"
    done
    exit "$rc"
}
trap _bench_run_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- the file system under test -------------------------------------------
# bench_fs_setup - with BENCH_FS=ext4, make and mount the journaled ext4
# that BENCH_TMP points to from then on.  Scripts started from here
# inherit BENCH_FS_MOUNTED and reuse that mount (run-all.sh mounts once).
bench_fs_setup() {
    [ "${BENCH_FS:-ext4}" = ext4 ] || return 0
    [ -z "${BENCH_FS_MOUNTED:-}" ] || return 0
    local img mnt
    img=$TOP/build/bench-ext4.img
    mnt=$TOP/build/bench-ext4
    mkdir -p "$mnt"
    if mountpoint -q "$mnt"; then
        die "$mnt is already mounted (another benchmark running?)"
    fi
    rm -f "$img"
    truncate -s "${BENCH_FS_SIZE:-16G}" "$img"
    mkfs.ext4 -q -F "$img" >&2 || die "mkfs.ext4 failed"
    mount -o "loop${BENCH_FS_OPTS:+,$BENCH_FS_OPTS}" "$img" "$mnt" || die "cannot loop-mount $img (root needed; BENCH_FS=root to skip)"
    at_exit rm -f "$img"
    at_exit umount "$mnt"
    BENCH_TMP=$mnt/bench
    mkdir -p "$BENCH_TMP"
    export BENCH_TMP BENCH_FS_MOUNTED=$mnt
    say "scratch on a journaled ext4 loop mount: $BENCH_TMP${BENCH_FS_OPTS:+ (mount options: $BENCH_FS_OPTS)}"
}

# ---- scratch directories ------------------------------------------------
bench_tmpdir() {
    local _d
    bench_fs_setup
    mkdir -p "$BENCH_TMP"
    _d=$(mktemp -d "$BENCH_TMP/$2.XXXXXX")
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        at_exit say "kept $_d (BENCH_KEEP=1)"
    else
        at_exit rm -rf "$_d"
    fi
    # Postfix daemons run as user postfix and must be able to traverse it.
    chmod 755 "$_d"
    printf -v "$1" '%s' "$_d"
}

# ---- ports and processes ------------------------------------------------
free_port() {
    # Let the kernel pick an unused port, then release it.  Racy in
    # theory; the caller checks with "listening" after starting a server.
    "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

listening() {
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null | awk '$4 ~ /^127\./ || $4 ~ /^0\.0\.0\.0:/ || $4 ~ /^\*:/')" ]
}

wait_until() {
    local secs=$1 deadline
    shift
    deadline=$(( $(date +%s) + secs ))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

_pid_alive() { kill -0 "$1" 2>/dev/null; }
_pid_gone() { ! kill -0 "$1" 2>/dev/null; }

stop_pid() {
    local pid=$1 secs=${2:-10}
    if _pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_until "$secs" _pid_gone "$pid"; then
            say "pid $pid did not exit within ${secs}s of SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_until 5 _pid_gone "$pid" || say "pid $pid survives SIGKILL?"
        fi
    fi
    # Reap it if it is our child; ignore its status.
    wait "$pid" 2>/dev/null || true
    untrack_pid "$pid"
}

# ---- arithmetic -------------------------------------------------------------
now() { date +%s.%N; }

median() {
    printf '%s\n' "$@" | grep . | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) { print "-"; exit }
              if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]
              else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

rate() {
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {
        d = b - a; if (d <= 0) print "-"; else printf "%.1f\n", n / d }'
}

ratio() {
    awk -v a="${1:--}" -v b="${2:--}" 'BEGIN {
        if (a == "-" || b == "-" || b + 0 == 0) print "-"
        else printf "%.2f\n", a / b }'
}

count_files() {
    local n=0 d
    for d in "$@"; do
        [ -d "$d" ] || continue
        n=$(( n + $(find "$d" -mindepth 1 -maxdepth 1 -type f | wc -l) ))
    done
    printf '%s\n' "$n"
}

# ---- mta-smtpd ----------------------------------------------------------------
mta_start() {
    local d=$1 port=$2
    shift 2
    "$MTA_BIN/mta-smtpd" "$@" -L "$d/log" > "$d/stderr" 2>&1 &
    MTA_PID=$!
    track_pid "$MTA_PID"
    if ! wait_until 20 listening "$port"; then
        cat "$d/stderr" >&2
        die "mta-smtpd did not listen on 127.0.0.1:$port within 20s"
    fi
}

# ---- messages ---------------------------------------------------------------
smtp_source_payload() {
    awk -v size="$1" 'BEGIN {
        x = sprintf("%77s", ""); gsub(/ /, "X", x)
        for (i = 1; size >= 80; i++) { print (i % 10) x; size -= 80 }
        if (size > 0) print substr(x x, 1, size) }'
}

# ---- the rounds and their report ---------------------------------------------
want() { case " $SYSTEMS " in *" $1 "*) return 0 ;; esac; return 1; }

NOTES=()   # odd things seen, printed at the end (report_verdict)
note() { NOTES+=("$*"); say "  note: $*"; }

# _bench_alternate ROUND ARG... - run_mta ARG... and run_postfix ARG...,
# mta first in odd rounds: neither always runs on a warmer machine; a
# caller's run_floor ARG... (the least server, see floor_start) between
# them
_bench_alternate() {
    local round=$1
    shift
    if ((round % 2)); then
        run_mta "$@"; _bench_floor "$@"; run_postfix "$@"
    else
        run_postfix "$@"; _bench_floor "$@"; run_mta "$@"
    fi
}
_bench_floor() { if declare -F run_floor > /dev/null; then run_floor "$@"; fi; }

# floor_start DIR PORT ARG... - start t/tools/thread-sink ARG... on
# 127.0.0.1:PORT with a thread for each of the caller's SESSIONS (at
# least 64; stderr to DIR.stderr), tracked, its PID in FLOOR_PID; wait
# (20 s) until it listens.  With -k QUEUE it is the floor: a server with
# a thread per connection that does, per message, nothing but make it
# durable before its 250 (with -m MAILDIR, then deliver it there in the
# same thread).  Its rate is reported beside mta's and Postfix's, so that
# a ratio can be weighed against what the kernel and the disk leave to a
# server of mta's design (t/bench/README, "The floor").
THREAD_SINK=${THREAD_SINK:-$TOP/build/release/tools/thread-sink}
floor_start() {
    local d=$1 port=$2 threads=${SESSIONS:-64} i
    shift 2
    [ "$threads" -ge 64 ] || threads=64
    # make does nothing when it is up to date; a binary of before -k
    # would refuse the options
    if [ "$THREAD_SINK" = "$TOP/build/release/tools/thread-sink" ]; then
        make -C "$TOP" -s build/release/tools/thread-sink >&2 || die "cannot build $THREAD_SINK"
    fi
    "$THREAD_SINK" "$@" 127.0.0.1 "$port" "$threads" > "$d.stderr" 2>&1 &
    FLOOR_PID=$!
    track_pid "$FLOOR_PID"
    for ((i = 0; i < 200; i++)); do
        listening "$port" && return 0
        kill -0 "$FLOOR_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$d.stderr" >&2
    die "thread-sink did not listen on 127.0.0.1:$port"
}

# floor_row LABEL FLOOR MTA POSTFIX X - one line of the floor's report:
# its median, and mta's, Postfix's and X times Postfix's (the target's)
# medians as shares of it ("-" for a median missing)
floor_row() {
    awk -v l="$1" -v f="${2:--}" -v m="${3:--}" -v p="${4:--}" -v x="$5" '
        function share(v, k) { return v == "-" ? "-" : sprintf("%.0f%%", 100 * k * v / f) }
        BEGIN {
            if (f == "-" || f <= 0) { printf "%-30s %12s\n", l, "-"; exit }
            printf "%-30s %12s   mta %s of it, postfix %s, %s x postfix %s\n",
                l, f, share(m, 1), share(p, 1), x, share(p, x) }'
}

bench_rounds() {
    local variant round
    if [ $# = 0 ]; then
        for ((round = 1; round <= ROUNDS; round++)); do
            say "round $round/$ROUNDS"
            _bench_alternate "$round" "$round"
        done
        return
    fi
    for variant in $1; do
        for ((round = 1; round <= ROUNDS; round++)); do
            say "round $round/$ROUNDS, variant $variant"
            _bench_alternate "$round" "$variant" "$round"
        done
    done
}

mta_log_unusual() {
    local log=$1
    shift
    awk -v ok="$*" 'BEGIN { n = split(ok, a, " "); for (i = 1; i <= n; i++) allowed[a[i]] = 1 }
        $3 in allowed { next }
        $3 == "disconnect" && / reason=done / { next }
        { print }' "$log"
}

by_event() {
    awk '{ e = $3
           if ($3 == "disconnect")
               for (i = 4; i <= NF; i++) if ($i ~ /^reason=/) e = e " " $i
           print e }' | sort | uniq -c | sort -rn | head -n 5 | tr -s ' ' | tr '\n' ';'
}

rate_rows() {
    local m p
    # shellcheck disable=SC2086 # the rate lists are space-separated
    m=$(median $2)
    # shellcheck disable=SC2086
    p=$(median $3)
    printf '%-30s %12s %12s %12s\n' "$1" "$m" "$p" "$(ratio "$m" "$p")"
    printf '%-30s mta:%s  postfix:%s\n' "  (each round)" "${2:- -}" "${3:- -}"
}

rate_table() {
    local variant
    printf '%-30s %12s %12s %12s\n' variant mta postfix mta/postfix
    LOST=0
    for variant in $1; do
        rate_rows "$(describe "$variant")" "${RATES[mta/$variant]:-}" "${RATES[postfix/$variant]:-}"
        LOST=$(( LOST + ${BAD[mta/$variant]:-0} + ${BAD[postfix/$variant]:-0} ))
    done
}

report_verdict() {
    if [ "$1" = 0 ]; then
        echo "counts verified: $2"
    else
        echo "COUNTS NOT VERIFIED: $1 run(s) lost messages or failed; left out of the medians (see notes)"
    fi
    if [ "${#NOTES[@]}" -gt 0 ]; then
        echo "notes:"
        printf '  %s\n' "${NOTES[@]}"
    fi
    [ "$1" = 0 ]
}
