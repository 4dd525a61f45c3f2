# t/lib/forward.sh - peers for the forwarding tests (t/4*.t, t/8*.t): aiosmtpd
# sinks (t/lib/sink.py), Postfix's smtp-sink, dnsmasq, hostile servers
# (t/lib/badsmtp.py), injecting a message, and reading bounces.
#
# Source after common.sh.  Every peer listens on a loopback address only
# (127.0.0.0/8: 127.0.0.2, 127.0.0.3... need no setup on Linux), is
# tracked (stopped at exit), and every wait is bounded.
#
#   free_port_on HOST         a TCP port free on HOST now (and on the
#                             peers' usual 127.0.0.2 to .6)
#   free_port_on_all ADDR...  a TCP port free on every one of them
#   peer_start NAME HOST [sink.py options...]
#       an aiosmtpd sink on HOST and a free port, recording in $T/NAME;
#       sets PEER_PORT, PEER_DIR, PEER_PID.  PEER_WANT=N peer_start ...
#       picks the port.
#   peer_count DIR            messages a sink has stored
#   peer_wait DIR N SECS      until it has stored at least N
#   peer_json DIR N KEY       a field of its N-th message (1 = first, 0 =
#                             last); lists one item a line, in order
#   peer_eml DIR N            the path of its N-th message's bytes
#   peer_events DIR REGEX     lines of its events log matching REGEX
#   smtpsink_start HOST PORT [smtp-sink options...]
#       Postfix's smtp-sink there (as user nobody); sets SSINK_PID
#   bad_start NAME MODE=HOST:PORT...
#       hostile servers (t/lib/badsmtp.py) recording in $T/NAME; sets
#       BAD_DIR, BAD_PID
#   dns_start [dnsmasq options...]
#       dnsmasq answering on 127.0.0.1 and a free UDP/TCP port from its
#       command-line records only; sets DNS_PORT, DNS_PID.  DNS_WANT=PORT
#       dns_start ... picks the port (a restart with other records)
#   user_msg SUBJECT          a small message from user@test.example whose
#                             Subject, Message-ID and body name SUBJECT
#   inject PORT FROM RCPT... < MESSAGE
#       send MESSAGE (LF or CRLF line ends; dots stuffed here) to the mta
#       at 127.0.0.1:PORT; prints the final reply ("250 2.0.0 ... queued
#       as ID") or the first refusal
#   relay_log EVENT RCPT_RE   the last log line EVENT (relayed,
#                             relay-attempt) of a recipient matching RCPT_RE
#   logline REGEX             the last line of $MTA_LOG matching REGEX
#   maildir_wait DIR N SECS   until the Maildir DIR holds at least N
#   maildir_files DIR         its messages, oldest first
#   dsn_check FILE [dsncheck.py options]
#       check a delivered bounce, as TAP lines (with tap_from)
#   job_files                 the names in $MTA_QUEUE/rcpt, sorted
#   log_gap REGEX [N M]       seconds (2 decimals) from the N-th to the M-th
#                             line of $MTA_LOG matching REGEX (default the
#                             first and the last)
#   mta_alive                 the daemon still runs and answers EHLO

# (free on the other peer addresses the tests use too: a test often
# starts peers on several of them on one port, as literals all go to
# --smtp-port, and another test may be running beside it)
free_port_on() {
	free_port_on_all "$1" 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6
}

# free_port_on_all ADDR... - a port free on every one of the addresses
# (peers that must share one port: literals go to --smtp-port)
free_port_on_all() {
	$PY -c 'import socket, sys
addrs = list(dict.fromkeys(sys.argv[1:]))
for _ in range(100):
    first = socket.socket(); first.bind((addrs[0], 0))
    port, held, ok = first.getsockname()[1], [first], True
    for a in addrs[1:]:
        t = socket.socket()
        try:
            t.bind((a, port))
        except OSError:
            ok = False
            break
        held.append(t)
    if ok:
        print(port)
        break' "$@"
}

peer_start() {
	local name=$1 host=$2
	shift 2
	PEER_PORT=${PEER_WANT:-$(free_port_on "$host")}
	PEER_DIR=$T/$name
	mkdir -p "$PEER_DIR"
	$PY "$TLIB/sink.py" --host "$host" --port "$PEER_PORT" --dir "$PEER_DIR" \
		"$@" >"$T/$name.out" 2>"$T/$name.err" &
	PEER_PID=$!
	track "$PEER_PID"
	if ! wait_until 10 grep -qs ready "$T/$name.out"; then
		echo "# sink $name did not start:" >&2
		sed 's/^/#   /' "$T/$name.err" >&2
		return 1
	fi
}

peer_count() { find "$1" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l | tr -d ' '; }

_peer_has() { [ "$(peer_count "$1")" -ge "$2" ]; }
peer_wait() { wait_until "$3" _peer_has "$1" "$2"; }

peer_json() {
	$PY - "$1" "$2" "$3" <<'PYEOF'
import glob, json, sys
files = sorted(glob.glob(sys.argv[1] + "/*.json"))
n, key = int(sys.argv[2]), sys.argv[3]
if not files or n > len(files):
    sys.exit(1)
v = json.load(open(files[n - 1] if n > 0 else files[-1]))[key]
print("\n".join(v) if isinstance(v, list) else v)
PYEOF
}

peer_eml() {
	local f
	f=$(find "$1" -maxdepth 1 -name '*.json' | sort | { if [ "$2" = 0 ]; then tail -1; else sed -n "$2p"; fi; })
	[ -n "$f" ] && printf '%s\n' "${f%.json}.eml"
}

peer_events() { grep -E -- "$2" "$1/events" 2>/dev/null; }

smtpsink_start() {
	local host=$1 port=$2
	shift 2
	/usr/sbin/smtp-sink -u nobody "$@" "$host:$port" 64 \
		>"$T/smtp-sink.$port.out" 2>&1 &
	SSINK_PID=$!
	track "$SSINK_PID"
	wait_port "$host" "$port" 10
}

bad_start() {
	local name=$1
	shift
	BAD_DIR=$T/$name
	$PY "$TLIB/badsmtp.py" --dir "$BAD_DIR" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	BAD_PID=$!
	track "$BAD_PID"
	if ! wait_until 10 grep -qs ready "$T/$name.out"; then
		echo "# badsmtp.py did not start:" >&2
		sed 's/^/#   /' "$T/$name.err" >&2
		return 1
	fi
}

dns_start() {
	DNS_PORT=${DNS_WANT:-$(free_port)}
	/usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
		--no-resolv --no-hosts --no-poll --pid-file= --user=root --group=root \
		--log-facility="$T/dnsmasq.log" "$@" 2>>"$T/dnsmasq.err" &
	DNS_PID=$!
	track "$DNS_PID"
	# it answers on UDP and TCP at once: wait for TCP
	if ! wait_port 127.0.0.1 "$DNS_PORT" 10; then
		echo "# dnsmasq did not start:" >&2
		sed 's/^/#   /' "$T/dnsmasq.err" >&2
		return 1
	fi
}

inject() { $PY "$TLIB/inject.py" "$@"; }

user_msg() {
	printf 'From: <user@test.example>\nSubject: %s\nMessage-ID: <%s@client.test>\n\nbody %s\n' "$1" "$1" "$1"
}
relay_log() { grep -E -- "$1 rcpt=<$2>" "$MTA_LOG" | tail -1; }
logline() { grep -E -- "$1" "$MTA_LOG" | tail -1; }

_maildir_has() { [ "$(maildir_count "$1")" -ge "$2" ]; }
maildir_wait() { wait_until "$3" _maildir_has "$1" "$2"; }

# Oldest first by modification time: names sort by time only to the
# second, and within it by whatever the delivering MTA put next.
maildir_files() {
	find "$1/new" "$1/cur" -maxdepth 1 -type f -printf '%T@ %p\n' 2>/dev/null |
		sort -n | cut -d' ' -f2-
}

dsn_check() { $PY "$TLIB/dsncheck.py" "$@"; }

job_files() { ls "$MTA_QUEUE/rcpt" 2>/dev/null | sort; }

log_gap() {
	grep -E -- "$1" "$MTA_LOG" | $PY -c 'import sys, datetime
t = [datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
     for l in sys.stdin]
a, b = int(sys.argv[1]), int(sys.argv[2])
print("%.2f" % ((t[b] - t[a]).total_seconds()) if len(t) > 1 else "0")' "${2:-0}" "${3:--1}"
}

mta_alive() {
	kill -0 "$MTA_PID" 2>/dev/null || return 1
	$PY -c 'import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
code = s.ehlo("alive.test")[0]
s.quit()
sys.exit(0 if code == 250 else 1)' "$MTA_PORT" 2>/dev/null
}
