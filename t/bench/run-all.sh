#!/bin/bash
# run-all.sh - run the benchmarks in t/bench/ one after the other ("make bench").
#
# Naming scheme: every t/bench/*.sh is a benchmark, except run-all.sh and
# the helpers, which are named lib-* (lib-bench.sh, lib-postfix.sh,
# lib-idle-clients.py, ...).  A new benchmark is picked up by dropping a
# NAME.sh here; it is run with bash, in name order.
#
# usage: t/bench/run-all.sh [NAME...]   (NAME: accept, idle-rss, tls, ...; default all)
#
# A benchmark prints its results on stdout and its progress on stderr;
# exits 0 when done, 77 when it cannot run here (skipped), anything else
# on failure.  Each one is stopped after BENCH_TIMEOUT seconds (default
# 3600).  The results (stdout) of this run are also saved in
# $BENCH_RESULTS (default build/bench-results.txt).  Exit status: 0 unless a benchmark failed.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"

BENCH_TIMEOUT=${BENCH_TIMEOUT:-3600}

scripts=()
if [ "$#" -gt 0 ]; then
    for name in "$@"; do
        name=${name%.sh}
        [ -f "$BENCH_DIR/$name.sh" ] || die "no benchmark $BENCH_DIR/$name.sh"
        scripts+=("$BENCH_DIR/$name.sh")
    done
else
    for f in "$BENCH_DIR"/*.sh; do
        case ${f##*/} in
        lib-*|run-all.sh) continue ;;
        esac
        scripts+=("$f")
    done
fi
[ "${#scripts[@]}" -gt 0 ] || die "no benchmarks in $BENCH_DIR"

bench_fs_setup
mkdir -p "$BENCH_TMP"
results=${BENCH_RESULTS:-$TOP/build/bench-results.txt}   # outlives the mount
{
    echo "mta benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -n)," \
         "$(nproc) CPUs, $(postconf -h mail_version 2>/dev/null | sed 's/^/Postfix /')"
    echo "mta-smtpd: $MTA_BIN/mta-smtpd; scratch: $BENCH_TMP (BENCH_FS=${BENCH_FS:-ext4})"
    echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$results"

# Each benchmark's stdout goes through a fifo to a tee, so that both
# processes are ours, known by PID, and waited for with a bound.
bench_tmpdir RUNDIR run-all
mkfifo "$RUNDIR/out"

failed=() skipped=()
for f in "${scripts[@]}"; do
    name=${f##*/}
    printf '\n=== %s\n' "$name" | tee -a "$results"
    tee -a "$results" < "$RUNDIR/out" &
    tee_pid=$!
    track_pid "$tee_pid"
    # The benchmark's own traps clean up when timeout sends SIGTERM; -k
    # kills it should that take more than a minute.  Run in the background
    # and wait, so that our own SIGINT/SIGTERM is not deferred.
    timeout -k 60 "$BENCH_TIMEOUT" bash "$f" > "$RUNDIR/out" &
    pid=$!
    track_pid "$pid"
    rc=0
    wait "$pid" || rc=$?
    untrack_pid "$pid"
    # tee ends when the benchmark (and anything it left behind) closes
    # the fifo.
    wait_until 10 _pid_gone "$tee_pid" || say "tee still running; stopping it"
    stop_pid "$tee_pid" 5
    case $rc in
    0) ;;
    77) skipped+=("$name") ;;
    124) failed+=("$name (timed out after ${BENCH_TIMEOUT}s)") ;;
    *) failed+=("$name (exit $rc)") ;;
    esac
done

{
    echo
    echo "=== summary: ${#scripts[@]} benchmark(s), ${#failed[@]} failed, ${#skipped[@]} skipped"
    for s in ${skipped[@]+"${skipped[@]}"}; do echo "skipped: $s"; done
    for s in ${failed[@]+"${failed[@]}"}; do echo "FAILED: $s"; done
} | tee -a "$results"
say "results saved in $results"
[ "${#failed[@]}" = 0 ]
