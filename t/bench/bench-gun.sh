#!/bin/bash
# bench-gun.sh - is the mail gun fast enough to load-test a server?
#
# mta-send's gun against Postfix's smtp-source, same run, same peer:
# smtp-sink on a loopback port (it throws every message away, so the
# clients are what is measured), SESSIONS concurrent sessions (20), MSGS
# messages (5000) of SIZE bytes of body (1024), connections reused
# (smtp-source -d; the gun always reuses them).  ROUNDS rounds (5),
# alternating which client goes first; medians.  Two variants: the sink
# offering PIPELINING (the gun uses it, smtp-source cannot), and the sink
# started with -p (no PIPELINING: both clients wait for every reply).
#
# The gun's messages are the ones smtp-source sends: the same four header
# fields and the same body (12 lines of 78 characters and one of 64, the
# line counter included), read from an mbox written beforehand.
#
# messages/s = MSGS / wall-clock time of the client process, start to
# exit (the gun's includes reading and parsing its mbox).  The gun must
# not be the bottleneck: its median must be at least 0.8 x smtp-source's.
#
# Output: a table on stdout; progress on stderr.  Exit 0 when it ran
# (whatever the ratio), 77 when it cannot run here, 1 on error (a client
# failed or lost messages).
#
# Knobs: ROUNDS MSGS SESSIONS SIZE VARIANTS ("pipe nopipe").
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
VARIANTS=${VARIANTS:-pipe nopipe}
SEND=$MTA_BIN/mta-send
SINK=${SINK:-/usr/sbin/smtp-sink}
SOURCE=${SOURCE:-/usr/sbin/smtp-source}

for x in "$SEND" "$SINK" "$SOURCE"; do
    [ -x "$x" ] || { say "bench-gun: $x missing: skipped"; exit 77; }
done
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)   # smtp-sink refuses root

bench_tmpdir D gun

# the mbox: smtp-source's message, MSGS times (Message-Id made unique)
"$PYTHON" - "$D/bench.mbox" "$MSGS" "$SIZE" <<'PYEOF'
import sys
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# smtp-source's payload: lines of 78 characters, the first one a running
# digit, each followed by CRLF (counted in SIZE), then the rest in X's
body, i, left = [], 1, size
while left >= 80:
    body.append(str(i % 10) + "X" * 77)
    left -= 80
    i += 1
if left > 0:
    body.append("X" * left)
text = "\n".join(body) + "\n"
with open(path, "w") as f:
    for j in range(n):
        f.write("From bench@example.org Mon Jan  2 10:00:00 2023\n"
                "From: <bench@example.org>\nTo: <user@bench.example>\n"
                "Date: Mon, 02 Jan 2023 10:00:00 +0000 (UTC)\n"
                "Message-Id: <%d.0000@bench.example>\n\n%s\n" % (j, text))
PYEOF

# start_sink [-p] - an smtp-sink on a fresh port: SINK_PORT, SINK_PID
start_sink() {
    SINK_PORT=$(free_port)
    "$SINK" "${sink_user[@]}" "$@" -h sink.bench.example \
        "127.0.0.1:$SINK_PORT" 1000 >"$D/sink.out" 2>&1 &
    SINK_PID=$!
    track_pid "$SINK_PID"
    wait_until 10 listening "$SINK_PORT" || die "smtp-sink did not start"
}

# run_gun / run_source - one run; prints messages/s, or fails
run_gun() {
    local t0 t1 out
    t0=$(now)
    out=$("$SEND" --quiet -s "127.0.0.1:$SINK_PORT" -c "$SESSIONS" \
        "$D/bench.mbox" 2>"$D/gun.err") || {
        say "gun failed: $out $(cat "$D/gun.err")"; return 1; }
    t1=$(now)
    case $out in
    "sent $MSGS refused 0 failed 0 "*) ;;
    *) say "gun lost messages: $out"; return 1 ;;
    esac
    printf '%s\n' "$out" >>"$D/gun.summaries"
    rate "$MSGS" "$t0" "$t1"
}
run_source() {
    local t0 t1
    t0=$(now)
    "$SOURCE" -d -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f bench@example.org \
        -t user@bench.example "127.0.0.1:$SINK_PORT" >"$D/source.out" 2>&1 || {
        say "smtp-source failed: $(cat "$D/source.out")"; return 1; }
    t1=$(now)
    rate "$MSGS" "$t0" "$t1"
}

echo "bench-gun: mta-send gun vs smtp-source -d, $SESSIONS sessions," \
     "$MSGS messages of $SIZE bytes, to smtp-sink on loopback ($(nproc) CPUs)"
echo "median messages/s over $ROUNDS rounds; gun/smtp-source >= 0.80 required"
printf '%-34s %10s %12s %11s\n' variant gun smtp-source gun/source
verdict=ok
for v in $VARIANTS; do
    case $v in
    pipe)   flags=(); label="sink offers PIPELINING" ;;
    nopipe) flags=(-p); label="sink without PIPELINING (-p)" ;;
    *) die "unknown variant $v" ;;
    esac
    start_sink ${flags[@]+"${flags[@]}"}
    g=() s=()
    : >"$D/gun.summaries"
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            g+=("$(run_gun)") || exit 1
            s+=("$(run_source)") || exit 1
        else
            s+=("$(run_source)") || exit 1
            g+=("$(run_gun)") || exit 1
        fi
        say "bench-gun: $v round $r: gun ${g[-1]}/s, smtp-source ${s[-1]}/s"
    done
    stop_pid "$SINK_PID"
    mg=$(median "${g[@]}")
    ms=$(median "${s[@]}")
    q=$(ratio "$mg" "$ms")
    printf '%-34s %10s %12s %11s\n' "$label" "$mg" "$ms" "$q"
    printf '  (each round)  gun: %s  smtp-source: %s\n' "${g[*]}" "${s[*]}"
    lat=$(sed -n 's/.*latency p50 \([0-9.]*\) ms p99 \([0-9.]*\) ms/\1 \2/p' \
          "$D/gun.summaries")
    printf '  gun latency, median of rounds: p50 %s ms, p99 %s ms\n' \
        "$(median $(printf '%s\n' "$lat" | cut -d' ' -f1))" \
        "$(median $(printf '%s\n' "$lat" | cut -d' ' -f2))"
    awk -v q="$q" 'BEGIN { exit !(q != "-" && q + 0 >= 0.8) }' ||
        verdict="GUN TOO SLOW"
done
echo "counts verified: every gun run reported sent $MSGS refused 0 failed 0;" \
     "every smtp-source run exited 0"
echo "verdict: $verdict (the gun must reach 0.80 x smtp-source)"
