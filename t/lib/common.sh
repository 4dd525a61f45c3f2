# t/lib/common.sh - shared pieces of the shell tests: TAP output, a private
# temp dir, free ports, and starting/stopping one mta-smtpd.
#
# Source it from a t/NN-name.t script (bash).  It sets:
#   MTA_BIN   directory of the programs (from make, default ../bin)
#   PY        Debian's python3 (sees python3-aiosmtpd)
#   T         a private temp dir, removed at exit
# Every wait is bounded; only processes this script started are killed.

set -u
here=$(cd "$(dirname "$0")" && pwd)
MTA_BIN=${MTA_BIN:-$here/../bin}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/mta-test.XXXXXX)
TAP_N=0
TAP_FAILED=0
MTA_PID=
_started_pids=

cleanup() {
	local p
	for p in $_started_pids; do kill "$p" 2>/dev/null; done
	for p in $_started_pids; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
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
track() { _started_pids="$_started_pids $1"; }

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
# earlier ones: -l adds a listener).
start_mta() {
	MTA_PORT=$(free_port)
	MTA_QUEUE=$T/queue
	MTA_MAIL=$T/mail
	MTA_LOG=$T/mta.log
	mkdir -p "$MTA_QUEUE" "$MTA_MAIL"
	"$MTA_BIN/mta-smtpd" -q "$MTA_QUEUE" -m "$MTA_MAIL" -L "$MTA_LOG" \
		-l "127.0.0.1:$MTA_PORT" --hostname mx.test.example \
		-d test.example,localhost "$@" 2>>"$T/mta.stderr" &
	MTA_PID=$!
	track "$MTA_PID"
	if ! wait_port 127.0.0.1 "$MTA_PORT" 10; then
		echo "# mta-smtpd did not start:" >&2
		sed 's/^/#   /' "$T/mta.stderr" >&2
		return 1
	fi
}

# stop_mta - SIGTERM, then wait (bounded) for exit; prints the exit status
stop_mta() {
	local i
	kill -TERM "$MTA_PID" 2>/dev/null
	for i in $(seq 100); do kill -0 "$MTA_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$MTA_PID" 2>/dev/null; then
		kill -9 "$MTA_PID"; echo 137; return
	fi
	wait "$MTA_PID" 2>/dev/null; echo $?
}

# smtp_chat PORT - send stdin raw to the server (as is, no CRLF fixing),
# print everything it answers; ends when the server closes or after 10 s
smtp_chat() {
	$PY - "$1" <<'PYEOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(10)
data = sys.stdin.buffer.read()
s.sendall(data)
out = b""
end = time.time() + 10
try:
    while time.time() < end:
        b = s.recv(65536)
        if not b: break
        out += b
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
PYEOF
}

# queue_files - paths of the message files in queue/new and queue/mess
queue_files() { find "$MTA_QUEUE/new" "$MTA_QUEUE/mess" -type f 2>/dev/null | sort; }

# done_testing - exit status for prove
done_testing() { [ "$TAP_FAILED" = 0 ]; }
