#!/bin/bash
# ceiling.sh - how fast could any server accept accept.sh's load on this
# machine?  Two parts of every accepted message that do not depend on the
# server's design, each measured alone (each round runs disk, talk with
# new connections and talk with reused ones, in that order):
#
#   disk    THREADS writers (as many as accept.sh's smtp-source sessions),
#           each making FILES/THREADS new files durable one after the
#           other (t/tools/commit-ceiling: create, write SIZE bytes, rename
#           into new/, fdatasync; no SMTP, no envelope, no fsync of new/),
#           on the same journaled ext4 loop mount as the other benchmarks,
#           a fresh directory each round;
#   talk    smtp-source (THREADS sessions, FILES messages of SIZE bytes,
#           a new connection per message, and with -d reused ones)
#           against smtp-sink, which answers and keeps nothing: the
#           client's work and the kernel's TCP, and a server doing
#           nothing else;
#   threads the same talk against t/tools/thread-sink, a server that
#           also keeps nothing but gives each connection a thread, as
#           mta-smtpd's design does (blocking reads and writes, threads
#           waiting in accept4: no hand-over, none started per client).
#           What a thread per connection costs over one event loop
#           (a thread's sleep and wake for every command).
#
# Each part's rate, and the CPU time the whole machine spent on it per
# message (all processes and the kernel's threads: /proc/stat's busy
# time, not idle nor iowait).  A server that syncs each message before
# its 250 does at least both for every message, so on these CPUs
#     bound = CPUS / (disk CPU per message + talk CPU per message)
# is more than it can reach, whatever it does with its own CPU (and no
# more than the disk part's rate with THREADS writers); with the talk of
# thread-sink, the same for a server with a thread per connection.  End
# to end into
# a Maildir (e2e.sh, reused connections) makes each message durable twice,
# in the queue and in the mailbox: CPUS / (2 x disk + talk).  Medians of
# ROUNDS rounds, every round printed.
#
# Environment: ROUNDS (5), FILES (5000), THREADS (20), SIZE (1024 bytes:
# accept.sh's message; mta's queue file is some 400 bytes more).
#
# usage: t/bench/ceiling.sh
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"

ROUNDS=${ROUNDS:-5}
FILES=${FILES:-5000}
THREADS=${THREADS:-20}
SIZE=${SIZE:-1024}
TOOL=${COMMIT_CEILING:-$TOP/build/release/tools/commit-ceiling}
TSINK=${THREAD_SINK:-$TOP/build/release/tools/thread-sink}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
[ -x "$SMTP_SOURCE" ] && [ -x "$SMTP_SINK" ] ||
	die "smtp-source and smtp-sink needed (apt-get install postfix)"
[ -x "$TOOL" ] || make -C "$TOP" -s build/release/tools/commit-ceiling >&2 ||
	die "cannot build $TOOL"
[ -x "$TSINK" ] || make -C "$TOP" -s build/release/tools/thread-sink >&2 ||
	die "cannot build $TSINK"
CPUS=$(nproc)
bench_tmpdir dir ceiling

# busy - CPU seconds all CPUs have been busy since boot (not idle, not
# waiting for the disk)
busy() {
	awk '/^cpu / { b = 0; for (i = 2; i <= NF; i++) if (i != 5 && i != 6) b += $i
	               printf "%.2f\n", b / 100 }' /proc/stat
}
# median3 N... - the median, three decimals (median() keeps one)
median3() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# per_msg CPU_BEFORE CPU_AFTER N - CPU milliseconds per message
per_msg() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.3f\n", (b - a) * 1000 / n }'; }

user=()
[ "$(id -u)" = 0 ] && user=(-u nobody)   # smtp-sink refuses to stay root
port=$(free_port)
"$SMTP_SINK" "${user[@]}" -h sink.bench.example "127.0.0.1:$port" 1000 >"$dir/sink.out" 2>&1 &
sink=$!
track_pid "$sink"
wait_until 10 listening "$port" || die "smtp-sink did not listen on 127.0.0.1:$port"
tport=$(free_port)
"$TSINK" 127.0.0.1 "$tport" >"$dir/tsink.out" 2>&1 &
tsink=$!
track_pid "$tsink"
wait_until 10 listening "$tport" || die "thread-sink did not listen on 127.0.0.1:$tport"

declare -A RATE CPU
# disk ROUND - one round of the disk part
disk() {
	local c0 c1 out
	mkdir "$dir/r$1"
	c0=$(busy)
	out=$("$TOOL" "$dir/r$1" "$THREADS" "$FILES" "$SIZE") || die "disk, round $1: $out"
	c1=$(busy)
	RATE[disk]+="$(echo "$out" | awk '{ print $6 }') "
	CPU[disk]+="$(per_msg "$c0" "$c1" "$FILES") "
	rm -rf "$dir/r$1"
}
# talk KEY PORT - one round of smtp-source against a sink: KEY new or
# reuse (smtp-sink), tnew or treuse (thread-sink)
talk() {
	local c0 c1 t0 t1 args=(-s "$THREADS" -m "$FILES" -l "$SIZE" -f a@bench.example -t u@bench.example)
	case $1 in *reuse) args=(-d "${args[@]}") ;; esac
	c0=$(busy)
	t0=$(now)
	"$SMTP_SOURCE" "${args[@]}" "127.0.0.1:$2" >"$dir/source.out" 2>&1 ||
		die "smtp-source ($1): $(head -c 300 "$dir/source.out")"
	t1=$(now)
	c1=$(busy)
	RATE[$1]+="$(rate "$FILES" "$t0" "$t1") "
	CPU[$1]+="$(per_msg "$c0" "$c1" "$FILES") "
}
last() { echo ${RATE[$1]} | awk '{ print $NF }'; }

for r in $(seq 1 "$ROUNDS"); do
	disk "$r"
	talk new "$port"
	talk reuse "$port"
	talk tnew "$tport"
	talk treuse "$tport"
	say "round $r: disk $(last disk)/s, talk new $(last new)/s, reused $(last reuse)/s;" \
	    "thread-sink new $(last tnew)/s, reused $(last treuse)/s"
done
stop_pid "$sink"
stop_pid "$tsink"

echo "ceiling: $CPUS CPUs; $THREADS writers or sessions x $FILES messages of $SIZE bytes, $ROUNDS rounds"
for k in disk new reuse tnew treuse; do
	echo "ceiling: $k rounds (msg/s): ${RATE[$k]}; CPU ms per message: ${CPU[$k]}"
done
dr=$(median ${RATE[disk]}) dc=$(median3 ${CPU[disk]})
for k in new reuse tnew treuse; do
	tc=$(median3 ${CPU[$k]})
	bound=$(awk -v n="$CPUS" -v a="$dc" -v b="$tc" -v d="$dr" \
		'BEGIN { x = n * 1000 / (a + b); if (d < x) x = d; printf "%.0f", x }')
	echo "ceiling: $k: disk $dr/s at $dc CPU ms, talk $(median ${RATE[$k]})/s at $tc CPU ms per message: bound $bound msg/s"
done
# End to end into a Maildir (e2e.sh: reused connections): every message
# is made durable twice, in the queue and in the mailbox
for k in reuse treuse; do
	tc=$(median3 ${CPU[$k]})
	bound=$(awk -v n="$CPUS" -v a="$dc" -v b="$tc" \
		'BEGIN { printf "%.0f", n * 1000 / (2 * a + b) }')
	echo "ceiling: end to end ($k, two durable files per message): bound $bound msg/s"
done
