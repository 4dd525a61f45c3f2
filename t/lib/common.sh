# t/lib/common.sh - shared pieces of the shell tests: TAP output, a private
# temp dir, free ports, and starting/stopping one mta-smtpd.
#
# Source it from a t/NN-name.t script (bash).  It sets:
#   MTA_BIN   directory of the programs (from make, default ../bin)
#   PY        Debian's python3 (sees python3-aiosmtpd)
#   T         a private temp dir, removed at exit
#   TLIB      this directory; it is on PYTHONPATH, so an inline python
#             script can "from smtpraw import Client" (t/lib/smtpraw.py)
# and reads MTA_TEST_SLOW, a factor (default 1) for time horizons a test
# sets itself, such as a job due in a few seconds: make tsan sets it.
# Every wait is bounded; only processes this script started are killed.
#
# MTA_TEST_STRICT=1 (set by .ci/run): a test that cannot run here fails
# instead of being skipped.  Skip only through skip and skip_all below:
# each prints its reason, and under strict mode turns into "not ok".  CI
# runs as root on a full machine, where no skip condition should hold; a
# skip there means the durability or privilege tests silently did not run.
#
# Every daemon started with start_mta is stopped by done_testing if the
# test left it running, and must then exit 0 at SIGTERM (a crash at
# shutdown, or a sanitizer's exit status, fails the file).

set -u
here=$(cd "$(dirname "$0")" && pwd)
MTA_BIN=${MTA_BIN:-$here/../bin}
PY=/usr/bin/python3
TLIB=$here/lib
export PYTHONPATH="$TLIB${PYTHONPATH:+:$PYTHONPATH}"
T=$(mktemp -d /tmp/mta-test.XXXXXX)
TAP_N=0
TAP_FAILED=0
MTA_PID=
MTA_STATUS_FILE=
_started_pids=
_watchers=
_mta_dirs=

cleanup() {
	local p
	for p in $_started_pids; do kill "$p" 2>/dev/null; done
	for p in $_started_pids; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	# the watchers of start_mta end with their daemon; any left is stuck
	for p in $_watchers; do kill "$p" 2>/dev/null; done
	if [ "${KEEP_T:-0}" = 1 ] || [ "$TAP_FAILED" != 0 ]; then
		echo "# files kept in $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

plan()  { echo "1..$1"; }
ok()    { TAP_N=$((TAP_N+1)); if [ "$1" = 0 ]; then echo "ok $TAP_N - $2";
          else echo "not ok $TAP_N - $2"; TAP_FAILED=$((TAP_FAILED+1)); fi; }
# is GOT WANT NAME
is()    { if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3";
          echo "#   got:  '$1'"; echo "#   want: '$2'"; fi; }
# like GOT REGEX NAME (extended regex)
like()  { if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else ok 1 "$3";
          echo "#   got:  '$(printf '%s' "$1" | head -c 600)'"; echo "#   want: /$2/"; fi; }
diag()  { echo "# $*"; }
# tap_from TEXT - count the "ok - NAME" / "not ok - NAME" lines of TEXT
# (from a helper script, e.g. smtpraw.check) as tests; "#" lines pass
# through; anything else is shown as a diagnostic
tap_from() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok - "*)     ok 0 "${line#ok - }" ;;
		"not ok - "*) ok 1 "${line#not ok - }" ;;
		"#"*)         echo "$line" ;;
		"")           ;;
		*)            echo "# | $line" ;;
		esac
	done <<<"$1"
}
track() { _started_pids="$_started_pids $1"; }

# strict - MTA_TEST_STRICT is set (not empty, not 0)
strict() { [ -n "${MTA_TEST_STRICT:-}" ] && [ "$MTA_TEST_STRICT" != 0 ]; }

# skip REASON [COUNT] - COUNT (default 1) tests cannot run on this machine,
# for REASON; they fail under MTA_TEST_STRICT
skip() {
	local i
	for i in $(seq "${2:-1}"); do
		if strict; then
			ok 1 "cannot run here (a skip, and MTA_TEST_STRICT is set): $1"
		else
			TAP_N=$((TAP_N+1)); echo "ok $TAP_N # skip $1"
		fi
	done
}

# skip_all REASON - instead of plan: the whole file cannot run here, for
# REASON; exits (with a failure under MTA_TEST_STRICT)
skip_all() {
	if strict; then
		echo "1..1"
		echo "not ok 1 - cannot run here (a skip, and MTA_TEST_STRICT is set): $*"
		TAP_FAILED=1
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

# free_port - a TCP port nobody listens on at the moment
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port HOST PORT [SECONDS] - until something accepts there
wait_port() {
	$PY - "$1" "$2" "${3:-10}" <<'PYEOF'
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection((host, port), 0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PYEOF
}

# start_mta [OPTIONS...] - start mta-smtpd on a free port with its queue in
# $T/queue, mailboxes in $T/mail and its log in $T/mta.log; sets MTA_PORT,
# MTA_PID, MTA_QUEUE, MTA_LOG.  Extra options are appended (and may repeat
# earlier ones: -l adds a listener).  For a second daemon beside the
# first, set MTA_DIR (default $T) for the call: MTA_DIR=$T/b start_mta ...
start_mta() {
	local dir=${MTA_DIR:-$T} i
	MTA_PORT=$(free_port)
	MTA_QUEUE=$dir/queue
	MTA_MAIL=$dir/mail
	MTA_LOG=$dir/mta.log
	MTA_STATUS_FILE=$dir/mta.status
	mkdir -p "$MTA_QUEUE" "$MTA_MAIL"
	rm -f "$MTA_STATUS_FILE" "$dir/mta.pid"
	case " $_mta_dirs " in *" $dir "*) ;; *) _mta_dirs="$_mta_dirs $dir" ;; esac
	# A watcher subshell waits for the daemon and keeps its exit status in
	# a file, so that stop_mta can report it even from a $(...) subshell,
	# which cannot wait for this shell's children.
	# --sync-dirs: the tests of what is synced when assume the fsyncs of
	# directories that every file system needs; a /tmp on ext4 with a
	# journal would take the journal's way instead (mta-smtpd(8)), which
	# t/76-journal.t tests.  MTA_SYNC_DIRS= (empty) leaves it out.
	(
		"$MTA_BIN/mta-smtpd" -q "$MTA_QUEUE" -m "$MTA_MAIL" -L "$MTA_LOG" \
			-l "127.0.0.1:$MTA_PORT" --hostname mx.test.example \
			-d test.example,localhost ${MTA_SYNC_DIRS---sync-dirs} \
			"$@" 2>>"$dir/mta.stderr" &
		echo $! >"$dir/mta.pid"
		wait $!
		echo $? >"$MTA_STATUS_FILE.new" && mv "$MTA_STATUS_FILE.new" "$MTA_STATUS_FILE"
	) &
	# Not tracked: killing it before the daemon would leave the daemon a
	# zombie nobody reaps (kill -0 keeps succeeding); it ends by itself.
	_watchers="$_watchers $!"
	MTA_PID=
	for i in $(seq 100); do
		[ -s "$dir/mta.pid" ] && break
		sleep 0.05
	done
	MTA_PID=$(cat "$dir/mta.pid" 2>/dev/null)
	[ -n "$MTA_PID" ] && track "$MTA_PID"
	# up to 10 s for the port, but no longer once the daemon has exited
	if [ -z "$MTA_PID" ] || ! $PY - "$MTA_PORT" "$MTA_STATUS_FILE" <<'PYEOF'
import os, socket, sys, time
port, status = int(sys.argv[1]), sys.argv[2]
end = time.time() + 10
while time.time() < end and not os.path.exists(status):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
PYEOF
	then
		echo "# mta-smtpd did not start:" >&2
		sed 's/^/#   /' "$dir/mta.stderr" >&2
		return 1
	fi
}

# start_mta_hold [OPTIONS...] - start_mta for tests of the receiving side:
# every delivery fails for now and is retried only after an hour, so each
# accepted message stays in the queue (new/, or mess/ once the scheduler
# has taken it).  The mail root is a plain file (local delivery defers)
# and every other domain is routed to a loopback port nobody listens on.
start_mta_hold() {
	local dir=${MTA_DIR:-$T}
	mkdir -p "$dir"
	: >"$dir/no-mailroot"
	start_mta -m "$dir/no-mailroot" --route "*=127.0.0.1:$(free_port)" \
		--retry 3600 "$@"
}

# stop_mta - SIGTERM, then wait (bounded) for exit; prints the exit status
# (128+N when killed by signal N, 137 when it had to be killed).  The
# bound, 45 s, is above the daemon's own at SIGTERM (up to 30 s for
# connections, then 10 s for deliveries: main_smtpd.c), so a slow build
# is not killed inside them; tests that want a prompt stop time it.
stop_mta() {
	local i
	kill -TERM "$MTA_PID" 2>/dev/null
	for i in $(seq 450); do [ -f "$MTA_STATUS_FILE" ] && break; sleep 0.1; done
	if [ ! -f "$MTA_STATUS_FILE" ]; then
		kill -9 "$MTA_PID" 2>/dev/null; echo 137; return
	fi
	cat "$MTA_STATUS_FILE"
}

# smtp_chat PORT - send stdin raw to the server (as is, no CRLF fixing),
# print everything it answers; ends when the server closes or after 10 s
# (the script goes in with -c: a here-document would take stdin's place)
smtp_chat() {
	$PY -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(10)
data = sys.stdin.buffer.read()
try:
    s.sendall(data)
except OSError:
    pass            # it closed early (421?): print what it said
out = b""
end = time.time() + 10
try:
    while time.time() < end:
        b = s.recv(65536)
        if not b: break
        out += b
except OSError:     # timeout, or a reset after it closed on unread input
    pass
sys.stdout.write(out.decode("latin-1"))
' "$1"
}

# queue_files - paths of the message files in queue/new and queue/mess
queue_files() { find "$MTA_QUEUE/new" "$MTA_QUEUE/mess" -type f 2>/dev/null | sort; }

# queue_cat ID - the file of message ID, in new/ or in mess/ once the
# scheduler has taken it (renames go new -> mess only: this order cannot
# miss it); fails when it is in neither
queue_cat() { cat "$MTA_QUEUE/new/$1" 2>/dev/null || cat "$MTA_QUEUE/mess/$1" 2>/dev/null; }

# count_queued - number of accepted messages (files in new/ and mess/;
# new/ listed first, so one being renamed is counted once, not missed)
count_queued() {
	{ ls "$MTA_QUEUE/new"; ls "$MTA_QUEUE/mess"; } 2>/dev/null | sort -u | grep -c .
}

# count_tmp_messages - message files in queue/tmp: those named by a queue
# ID (letters and digits only); other modules' temporary files there, such
# as the scheduler's job.* files, are not counted
count_tmp_messages() { ls "$MTA_QUEUE/tmp" 2>/dev/null | grep -c '^[A-Za-z0-9][A-Za-z0-9]*$'; }

# count_files DIR - number of regular files directly in DIR (0 if none)
count_files() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l | tr -d ' '; }

# queued_id TEXT - the queue ID of the first "250 ... queued as ID" in TEXT
queued_id() { printf '%s' "$1" | sed -n 's/^250 .*queued as \([A-Za-z0-9]*\).*/\1/p' | head -1; }

# env_get FILE KEY - the value of the first envelope line "KEY value"
env_get() { sed -n "/^\$/q; s/^$2 //p" "$1" | head -1; }

# env_all FILE KEY - every value of envelope lines "KEY value", one a line
env_all() { sed -n "/^\$/q; s/^$2 //p" "$1"; }

# msg_part FILE - the message of a queue file (after the envelope), exactly
msg_part() { $PY -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1],"rb").read().partition(b"\n\n")[2])' "$1"; }

# field NAME - from stdin lines "NAME=value", the first value of NAME
field() { sed -n "s/^$1=//p" | head -1; }

# wait_until SECONDS CMD... - run CMD every 0.05 s until it succeeds;
# false if it still fails after SECONDS (whole seconds)
wait_until() {
	local limit=$1 i
	shift
	for i in $(seq "$(( limit * 20 ))"); do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}

# thread_ids NAME - the daemon's threads named NAME (comm), sorted, on
# one line
thread_ids() {
	local t
	for t in /proc/"$MTA_PID"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$1" ] && echo "${t##*/}"
	done | sort | tr '\n' ' '
}

# wait_job ID [N] - wait (up to 10 s) until rcpt/ has a job file of
# message ID (of recipient N if given): a first attempt gets its job
# files only once it has run for a second, or deferred (mta-queue(5))
wait_job() {
	wait_until 10 eval "ls \"\$MTA_QUEUE/rcpt\" 2>/dev/null | grep -Eq '\\.$1\\.${2:-[0-9]+}\$'"
}

# sanitizer_reports - the daemons' stderr files under $T that hold a
# sanitizer report (ThreadSanitizer, AddressSanitizer, LeakSanitizer,
# UBSan), one path a line; empty in an uninstrumented build
sanitizer_reports() {
	find "$T" -name 'mta.stderr' -type f -exec grep -lE \
		'^(WARNING|ERROR): (ThreadSanitizer|AddressSanitizer|LeakSanitizer)|: runtime error: ' \
		{} + 2>/dev/null
}

# stop_left_running - stop every daemon of start_mta still running (the
# last one of each MTA_DIR); false, with a diagnostic, when one does not
# exit 0 at SIGTERM: a crash at shutdown, a sanitizer's exit status
stop_left_running() {
	local dir st rc=0
	for dir in $_mta_dirs; do
		[ -s "$dir/mta.pid" ] && [ ! -f "$dir/mta.status" ] || continue
		st=$(MTA_PID=$(cat "$dir/mta.pid") MTA_STATUS_FILE=$dir/mta.status stop_mta)
		if [ "$st" = 0 ]; then
			echo "# the daemon of $dir, left running, stopped at the end: exit 0"
		else
			echo "# the daemon of $dir, left running, exited $st at SIGTERM (want 0):" >&2
			sed -n '1,40s/^/#   /p' "$dir/mta.stderr" >&2
			rc=1
		fi
	done
	return $rc
}

# done_testing - exit status for prove: false after a failed test, after
# a daemon left running that did not exit 0 when stopped here, and after a
# sanitizer report from any daemon this script started (a report in a
# daemon that was never stopped would go unseen: hence the stop first)
done_testing() {
	local f
	stop_left_running || TAP_FAILED=$((TAP_FAILED+1))
	for f in $(sanitizer_reports); do
		echo "# sanitizer report in $f:" >&2
		sed -n '1,60s/^/#   /p' "$f" >&2
		TAP_FAILED=$((TAP_FAILED+1))
	done
	[ "$TAP_FAILED" = 0 ]
}

# lacks [GREP OPTIONS] PATTERN FILE... - no line of the FILEs matches;
# false on a match, and when grep cannot read a FILE (its status 2: a
# missing file proves nothing), unlike "! grep"
lacks() { grep -q "$@"; [ $? = 1 ]; }

# ---- the queue draining and the mailboxes filling (t/2*.t) ---------------

# queue_empty - no message and no job left: new/, mess/ and rcpt/ are empty
queue_empty() {
	[ "$(count_files "$MTA_QUEUE/new")$(count_files "$MTA_QUEUE/mess")$(count_files "$MTA_QUEUE/rcpt")" = 000 ]
}

# queue_state - "new=N mess=N rcpt=N tmp=N bad=N", for diagnostics
queue_state() {
	local d out=
	for d in new mess rcpt tmp bad; do
		out="$out$d=$(count_files "$MTA_QUEUE/$d") "
	done
	printf '%s\n' "${out% }"
}

# maildir_count DIR - messages in the Maildir DIR (new/ and cur/; 0 if none)
maildir_count() {
	find "$1/new" "$1/cur" -maxdepth 1 -type f 2>/dev/null | wc -l | tr -d ' '
}

# mbox_count FILE - messages in the mbox FILE ("From " lines; 0 if none)
mbox_count() { grep -c '^From ' "$1" 2>/dev/null || true; }

# mbox_lock_hold MBOX SECONDS - a reader (another process, started here
# and tracked) takes an fcntl lock on MBOX and holds it until $T/release
# appears, at most SECONDS; $T/locked says "locked", then "unlocked" when
# it lets go.  Returns once the lock is held (false if not within 10 s);
# sets LOCKER, its pid.
mbox_lock_hold() {
	$PY - "$1" "$T/locked" "$T/release" "$2" <<'PYEOF' &
import fcntl, os, sys, time
mbox, status, release, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
f = open(mbox, "rb+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(status, "w").write("locked\n")
end = time.time() + limit
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.05)
fcntl.lockf(f, fcntl.LOCK_UN)
open(status, "a").write("unlocked\n")
PYEOF
	LOCKER=$!
	track "$LOCKER"
	wait_for 10 test -s "$T/locked"
}

# rcpt_replies RCPT... - one session to the daemon: MAIL FROM:<> and RCPT
# for each, then RSET (nothing is sent); prints "RCPT CODE X.Y.Z" per
# recipient
rcpt_replies() {
	$PY - "$MTA_PORT" "$@" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.example", timeout=20)
s.ehlo()
assert s.mail("<>")[0] == 250
for r in sys.argv[2:]:
    code, text = s.rcpt(r)
    print("%s %d %s" % (r, code, text.decode().split()[0]))
s.rset()
s.quit()
PYEOF
}

# log_count REGEX - lines of $MTA_LOG matching REGEX (extended), 0 if none
log_count() { grep -Ec -- "$1" "$MTA_LOG" 2>/dev/null || true; }

# wait_log SECONDS REGEX - until a line of $MTA_LOG matches REGEX
wait_log() { wait_until "$1" grep -Eq -- "$2" "$MTA_LOG"; }

# mta_running - the daemon of the last start_mta has not exited (waits
# for deliveries end early when it crashed)
mta_running() { [ -n "$MTA_STATUS_FILE" ] && [ ! -f "$MTA_STATUS_FILE" ]; }

# wait_for SECONDS CMD... - run CMD every 0.1 s until it succeeds; false
# if it still fails after SECONDS by the clock (unlike wait_until, which
# counts tries, this stays bounded when CMD itself is slow)
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}
