#!/bin/bash
# valgrind-leak.sh - does mta-smtpd leak memory in proportion to traffic?
#
# Runs mta-smtpd under valgrind memcheck (--leak-check=full) twice, each
# time with a fresh queue: mta-send's gun sends VG_MSGS messages (4
# sessions), each to two recipients: a local Maildir, and a remote
# domain routed to a loopback port nobody listens on, so that every
# message also takes the remote path (SMTP client, deferral with
# --retry 1, failure after --attempts 1) and makes a bounce (RFC 3464)
# that is delivered to the sender's local Maildir.  The script waits
# until every delivery and every bounce is there and the queue is empty,
# then stops the daemon with SIGTERM and reads valgrind's leak summary.  The second run sends ten times as
# many.  A leak that grows with traffic shows as more "definitely" or
# "indirectly lost" bytes in the second run; memcheck errors (invalid
# reads and writes, use of uninitialised values) are counted as well.
#
# Best with a daemon built without optimisation surprises and with
# symbols: "make valgrind" builds one in build/valgrind (-O1 -g) and runs
# this script with MTA_BIN pointing there.
#
# Environment: VG_MSGS (200), VG_TIMEOUT (900 s per run for delivery),
# MTA_ARGS (extra mta-smtpd options), VALGRIND (valgrind), and those of
# lib-bench.sh.
# Exit status: 0 no leak that grows and no memcheck error, 1 otherwise or
# on error, 77 mta-smtpd or valgrind missing.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"

VG_MSGS=${VG_MSGS:-200}
VG_TIMEOUT=${VG_TIMEOUT:-900}
VALGRIND=${VALGRIND:-valgrind}
MTA_ARGS=${MTA_ARGS:-}
MTA=$MTA_BIN/mta-smtpd
SEND=$MTA_BIN/mta-send

[ -x "$MTA" ] && [ -x "$SEND" ] || { say "valgrind-leak.sh: skipped: $MTA is not built"; exit 77; }
command -v "$VALGRIND" > /dev/null || { say "valgrind-leak.sh: skipped: no valgrind"; exit 77; }

bench_tmpdir W valgrind
printf 'From: vg@client.example\nTo: user@vg.example\nSubject: memcheck\n\n%s\n' \
    "$(seq -f 'line %g of the body' 1 40)" > "$W/message"

# vg_bytes LABEL LOG - bytes on the line "LABEL: N bytes in M blocks" of
# valgrind's LEAK SUMMARY, e.g. "definitely lost" (0 when not there)
vg_bytes() {
    local b
    b=$(sed -n "s/.*$1: \\([0-9,]*\\) bytes.*/\\1/p" "$2" | tail -n 1 | tr -d ,)
    printf '%s\n' "${b:-0}"
}
# vg_errors LOG - the count of valgrind's ERROR SUMMARY ("-" if none)
vg_errors() {
    local e
    e=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$1" | tail -n 1 | tr -d ,)
    printf '%s\n' "${e:--}"
}

# one_run N DIR - the daemon under memcheck, N messages, SIGTERM; writes
# "definite indirect possible reachable errors status seconds" to
# DIR/result (not run in a $(...) subshell: it tracks the daemon's pid)
one_run() {
    local n=$1 d=$2 port pid status=0 t0 t1
    mkdir -p "$d/queue" "$d/mail"
    port=$(free_port)
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    "$VALGRIND" --tool=memcheck --leak-check=full --show-leak-kinds=all \
        --num-callers=30 --log-file="$d/valgrind.log" \
        "$MTA" -q "$d/queue" -m "$d/mail" -l "127.0.0.1:$port" -d vg.example \
        --route "remote.example=127.0.0.1:$(free_port)" --retry 1 --attempts 1 \
        -L "$d/log" $MTA_ARGS > "$d/stderr" 2>&1 &
    pid=$!
    track_pid "$pid"
    wait_until 120 listening "$port" || { tail "$d/stderr" "$d/valgrind.log" >&2; die "mta-smtpd does not listen"; }
    t0=$(now)
    "$SEND" -s "127.0.0.1:$port" -c 4 -n "$n" --quiet -f sender@vg.example \
        --rcpt user@vg.example --rcpt user@remote.example \
        "$W/message" > "$d/send.out" 2>&1 ||
        { cat "$d/send.out" >&2; die "mta-send: not every message was accepted"; }
    _delivered() {
        [ "$(count_files "$d/mail/user/new")" -ge "$n" ] &&
        [ "$(count_files "$d/mail/sender/new")" -ge "$n" ] &&
        [ "$(count_files "$d/queue/new" "$d/queue/mess" "$d/queue/rcpt")" = 0 ]
    }
    wait_until "$VG_TIMEOUT" _delivered ||
        die "$n messages and bounces not delivered within ${VG_TIMEOUT}s"
    t1=$(now)
    kill -TERM "$pid"
    wait_until 300 _pid_gone "$pid" || die "mta-smtpd under valgrind did not stop on SIGTERM"
    wait "$pid" || status=$?
    untrack_pid "$pid"
    printf '%s %s %s %s %s %s %s\n' "$(vg_bytes 'definitely lost' "$d/valgrind.log")" \
        "$(vg_bytes 'indirectly lost' "$d/valgrind.log")" \
        "$(vg_bytes 'possibly lost' "$d/valgrind.log")" \
        "$(vg_bytes 'still reachable' "$d/valgrind.log")" \
        "$(vg_errors "$d/valgrind.log")" "$status" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')" > "$d/result"
}

n1=$VG_MSGS
n2=$(( VG_MSGS * 10 ))
say "valgrind-leak.sh: $n1 messages under memcheck"
one_run "$n1" "$W/small"
read -r def1 ind1 pos1 rea1 err1 st1 sec1 < "$W/small/result"
say "valgrind-leak.sh: $n2 messages under memcheck"
one_run "$n2" "$W/large"
read -r def2 ind2 pos2 rea2 err2 st2 sec2 < "$W/large/result"

echo
echo "valgrind-leak: mta-smtpd under memcheck --leak-check=full; each message delivered to a"
echo "local Maildir and bounced from a dead remote route; SIGTERM at the end"
printf '%-26s %14s %14s\n' "" "$n1 messages" "$n2 messages"
printf '%-26s %14s %14s\n' "definitely lost (bytes)" "$def1" "$def2"
printf '%-26s %14s %14s\n' "indirectly lost (bytes)" "$ind1" "$ind2"
printf '%-26s %14s %14s\n' "possibly lost (bytes)" "$pos1" "$pos2"
printf '%-26s %14s %14s\n' "still reachable (bytes)" "$rea1" "$rea2"
printf '%-26s %14s %14s\n' "memcheck errors" "$err1" "$err2"
printf '%-26s %14s %14s\n' "exit status" "$st1" "$st2"
printf '%-26s %14s %14s\n' "send + deliver (s)" "$sec1" "$sec2"
bad=
[ $(( def2 + ind2 )) -le $(( def1 + ind1 )) ] || bad="lost memory grows with traffic"
[ "$err1" = 0 ] && [ "$err2" = 0 ] || bad="${bad:+$bad; }memcheck errors"
[ "$st1" = 0 ] && [ "$st2" = 0 ] || bad="${bad:+$bad; }exit status not 0"
if [ -n "$bad" ]; then
    echo "FAIL: $bad (valgrind logs: BENCH_KEEP=1 keeps $W)"
    grep -A 25 -E 'definitely lost in|indirectly lost in|Invalid|uninitialised' \
        "$W/large/valgrind.log" | head -n 80
    exit 1
fi
echo "no leak that grows with traffic"
