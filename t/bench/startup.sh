#!/bin/bash
# startup.sh - start-up with a loaded queue: JOBS recipient jobs in
# queue/rcpt (one message each, due tomorrow, so nothing is delivered).
# Reports the scheduler's recovery time (its "recovered" log line), the
# time until the daemon answers on its port, and the memory the loaded
# queue costs: (RSS with the queue - RSS with an empty queue) / JOBS.
# Targets (issue 3): under 2 s, under 300 bytes per job.
#
# usage: t/bench/startup.sh      (JOBS=100000 by default)
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"

JOBS=${JOBS:-100000}
[ -x "$MTA_BIN/mta-smtpd" ] || die "build first: $MTA_BIN/mta-smtpd missing"
bench_tmpdir dir startup

# make_queue DIR N - N messages in mess/, one job each in rcpt/
make_queue() {
	"$PYTHON" - "$1" "$2" <<'PYEOF'
import os, sys, time
q, n = sys.argv[1], int(sys.argv[2])
for d in ("tmp", "new", "mess", "rcpt", "bad"):
    os.makedirs(os.path.join(q, d), exist_ok=True)
due = int(time.time()) + 86400
body = "Subject: startup\n\n" + "x" * 900 + "\n"
for i in range(n):
    mid = "B%013X" % i
    with open(os.path.join(q, "mess", mid), "w") as f:
        f.write("mta-envelope 1\nid %s\narrival %d\nclient 127.0.0.1\n"
                "helo bench\nsender a@bench.example\nrcpt u%d@bench.example\n\n%s"
                % (mid, due - 86400, i, body))
    open(os.path.join(q, "rcpt", "%d.%s.0" % (due, mid)), "w").close()
PYEOF
}

# run_once QUEUE - start, wait for the port, read recovery time and RSS
run_once() {
	local queue=$1 port log pid t0 t1 rss ms
	port=$(free_port)
	log=$queue.log
	t0=$(now)
	"$MTA_BIN/mta-smtpd" -q "$queue" -m "$dir/mail" -l "127.0.0.1:$port" \
		-d bench.example -L "$log" &
	pid=$!
	track_pid "$pid"
	# The port listens from the start (connections wait in the backlog);
	# the daemon serves once its "start" line is logged, after recovery.
	wait_until 120 grep -qs " start " "$log" || die "mta-smtpd did not start"
	t1=$(now)
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	ms=$(sed -n 's/.* recovered .*time=\([0-9]*\)ms.*/\1/p' "$log" | tail -1)
	stop_pid "$pid" 30
	echo "$ms $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $rss"
}

mkdir -p "$dir/empty" "$dir/mail"
say "creating $JOBS jobs..."
make_queue "$dir/loaded" "$JOBS"
read -r _ _ rss_empty < <(run_once "$dir/empty")
read -r rec_ms start_s rss_loaded < <(run_once "$dir/loaded")
jobs_left=$(count_files "$dir/loaded/rcpt")
[ "$jobs_left" = "$JOBS" ] || die "jobs changed: $jobs_left of $JOBS left"
per_job=$(( (rss_loaded - rss_empty) * 1024 / JOBS ))
echo "startup: $JOBS jobs: recovery ${rec_ms} ms, serving after ${start_s} s"
echo "startup: RSS empty ${rss_empty} KiB, loaded ${rss_loaded} KiB: ${per_job} bytes per job"
echo "startup: targets: recovery < 2000 ms, < 300 bytes per job"
