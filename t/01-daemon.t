#!/bin/bash
# t/01-daemon.t - mta-smtpd's command-line contract (mta-smtpd(8)): exit 1
# with a message when it cannot bind, when another daemon holds the queue,
# when the queue or log cannot be opened; usage for unknown options;
# SIGTERM exits 0 (an idle client gets 421, a message in DATA may finish);
# SIGHUP without --config reloads harmlessly (t/02-config.t: with one);
# stale queue/tmp files go at start; an IPv6 listener;
# and durability: after 250 the message is in new/ (never tmp/), and the
# file was renamed into new/, fdatasync'ed (one journal commit for both)
# and its directory fsync'ed before the 250.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/strace.sh"

plan 41

# run_smtpd SECONDS ARGS... - run mta-smtpd in the foreground, bounded;
# stderr to $T/err; prints the exit status
run_smtpd() {
	local limit=$1
	shift
	timeout -s KILL "$limit" "$MTA_BIN/mta-smtpd" "$@" >/dev/null 2>"$T/err"
	echo $?
}

# ---- start-up failures ----------------------------------------------------
is "$(run_smtpd 5 --bogus-option)" 1 "unknown option: exit 1"
like "$(cat "$T/err")" '^(mta-smtpd: )?usage: mta-smtpd' "unknown option: usage on stderr"
is "$(run_smtpd 5 --max-size lots)" 1 "bad option value: exit 1"
like "$(cat "$T/err")" "bad value 'lots' for --max.size" "bad option value: says which"
is "$(run_smtpd 5 -l 127.0.0.1:99999)" 1 "bad listen address: exit 1"
: >"$T/a-file"
is "$(run_smtpd 5 -q "$T/a-file/queue" -l "127.0.0.1:$(free_port)")" 1 "queue cannot be created: exit 1"
like "$(cat "$T/err")" "$T/a-file/queue" "queue cannot be created: the message names it"
is "$(run_smtpd 5 -q "$T/q0" -L "$T/no/such/dir/log" -l "127.0.0.1:$(free_port)")" 1 "log cannot be opened: exit 1"

# ---- stale tmp files removed at start ---------------------------------------
mkdir -p "$T/queue/tmp"
echo partial >"$T/queue/tmp/0123456789ABC0"
echo partial >"$T/queue/tmp/STALE"
start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(ls "$T/queue/tmp" | wc -l | tr -d ' ')" 0 "stale files in queue/tmp removed at start"
like "$(cat "$MTA_LOG")" 'stale-tmp file=tmp/0123456789ABC0' "their removal is logged"

# ---- a second daemon: port in use, queue in use -----------------------------
status=$(run_smtpd 5 -q "$T/other-queue" -l "127.0.0.1:$MTA_PORT" -L "$T/other.log")
is "$status" 1 "port in use: exit 1"
like "$(cat "$T/err")" "127\.0\.0\.1:$MTA_PORT.*(in use|Address already in use)" "port in use: the message names the address and the reason"
status=$(run_smtpd 5 -q "$MTA_QUEUE" -l "127.0.0.1:$(free_port)" -L "$T/other.log")
is "$status" 1 "second daemon on the same queue: exit 1"
like "$(cat "$T/err")" "$MTA_QUEUE.*in use by another mta-smtpd" "second daemon on the same queue: a clear message"

# ---- durability: 250 only once the file is in new/, synced -------------------
# strace (when ptrace is allowed) watches the daemon's threads; the message
# then goes in, and the first daemon still works after the intruders above.
strace_ok=0
strace_attach "$T/strace.txt" -s 128 -e trace=fdatasync,fsync,renameat,renameat2,rename,write,sendto &&
	strace_ok=1
res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import os, smtplib, sys
from smtpraw import check, check_eq
port, queue = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="durable.example", timeout=10)
s.ehlo()
s.mail("alice@example.org")
s.rcpt("bob@test.example")
code, text = s.data(b"From: alice@example.org\r\nSubject: durable\r\n\r\nbody\r\n")
# no wait at all between the 250 and the look
qid = text.decode().split()[-1]
where = [d for d in ("new", "mess", "tmp") if os.path.exists(os.path.join(queue, d, qid))]
s.quit()
check_eq("the first daemon still accepts mail: 250", code, 250)
# (under both names while the scheduler moves it: link, then unlink)
check("right after the 250: the file is in new/ (or already in mess/), not in tmp/",
      " ".join(where), r"^(new|mess|new mess)$")
print("ID=" + qid)
EOF
)
tap_from "$res"
qid=$(field ID <<<"$res")
if [ "$strace_ok" = 1 ]; then
	# the client may read the 250 before strace has written its line
	wait_for 10 grep -q "250 2\\.0\\.0 [^\"]*$qid" "$T/strace.txt"
	strace_detach
	order=$($PY - "$T/strace.txt" "$qid" <<'EOF'
import re, sys
lines = open(sys.argv[1], errors="replace").read().split("\n")
qid = sys.argv[2]
def first(pat, after=0):
    for i in range(after, len(lines)):
        if re.search(pat, lines[i]):
            return i
    return -1
r = first(r'rename(at2?)?\(.*tmp>?, "%s".*new>?, "%s"' % (qid, qid))
# the descriptor's path as strace resolves it at the call: new/ID by then
d = first(r"fdatasync\(\d+</.*/(tmp|new)/%s>" % qid)
f = first(r"fsync\(\d+</.*/queue/new>", d if d >= 0 else 0)
w = first(r'(write|sendto)\(\d+<[^>]*>, "250 2\.0\.0 [^"]*%s' % qid)
# fsync's completion: its own line, or the "resumed" line of its pid
done = -1
if f >= 0:
    done = f if "unfinished" not in lines[f] else first(r"^%s .*fsync resumed" % lines[f].split()[0], f)
print("fdatasync=%d rename=%d fsync=%d fsync_done=%d reply=%d" % (d, r, f, done, w))
ok = 0 <= r < d < f <= done < w
print("ORDER=" + ("ok" if ok else "wrong"))
EOF
)
	diag "$(grep -v ORDER <<<"$order")"
	is "$(field ORDER <<<"$order")" ok "strace: rename to new/ID, its fdatasync, fsync(new/) done, then the 250"
else
	skip "strace cannot attach here: $(head -c 100 "$T/strace.err")"
fi

# ---- SIGHUP without --config is harmless --------------------------------------
kill -HUP "$MTA_PID"
wait_log 10 'signal sig=HUP'
out=$(printf 'EHLO hup.example\r\nNOOP\r\nQUIT\r\n' | smtp_chat "$MTA_PORT")
like "$out" $'250 2\\.0\\.0 Ok\r\n221 ' "after SIGHUP the daemon still serves"
like "$(cat "$MTA_LOG")" 'signal sig=HUP' "SIGHUP is logged"

# ---- SIGTERM: an idle client gets 421; a message in DATA may finish ----------
res=$($PY - "$MTA_PORT" "$MTA_PID" "$MTA_QUEUE" <<'EOF'
import os, signal, sys, time
from smtpraw import Client, check, check_eq, read_queued
port, pid, queue = sys.argv[1], int(sys.argv[2]), sys.argv[3]
idle = Client(port)
idle.reply()
idle.cmd("EHLO idle.example")
busy = Client(port)
busy.reply()
busy.cmd("EHLO busy.example")
busy.cmd("MAIL FROM:<alice@example.org>")
busy.cmd("RCPT TO:<bob@test.example>")
busy.cmd("DATA")
busy.send("From: alice@example.org\r\nSubject: in flight\r\n\r\nfirst half\r\n")
os.kill(pid, signal.SIGTERM)
check("SIGTERM: the idle client gets 421 4.3.2", idle.reply(5), r"^421 4\.3\.2 ")
check_eq("SIGTERM: and is disconnected", idle.closed(3), True)
time.sleep(0.3)
r = busy.cmd("second half\r\n.")
check("SIGTERM during DATA: the message still completes with 250", r, r"^250 2\.0\.0 ")
check("SIGTERM during DATA: then 421", busy.reply(5), r"^421 4\.3\.2 ")
env, msg = read_queued(queue, r.split()[-1] if r and r.startswith("250") else None)
check("SIGTERM during DATA: the whole message is queued", msg.decode(), r"first half\nsecond half\n$")
EOF
)
tap_from "$res"
for i in $(seq 50); do [ -f "$MTA_STATUS_FILE" ] && break; sleep 0.1; done
is "$(cat "$MTA_STATUS_FILE" 2>/dev/null)" 0 "SIGTERM: exit status 0"
like "$(tail -1 "$MTA_LOG")" 'stop status=0' "SIGTERM: the log ends with stop status=0"
out=$($PY -c 'import socket,sys
try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1); print("open")
except OSError: print("closed")' "$MTA_PORT")
is "$out" closed "after exit the port is closed"

# ---- IPv6 listener ---------------------------------------------------------------
if $PY -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	p6=$(free_port)
	MTA_DIR=$T/v6 start_mta_hold -l "[::1]:$p6" || echo "# daemon with an IPv6 listener did not start"
	res=$($PY - "$p6" "$MTA_QUEUE" <<'EOF'
import smtplib, sys
from smtpraw import check, check_eq, read_queued
port, queue = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("::1", port, local_hostname="v6.example", timeout=10)
code, ehlo = s.ehlo()
check("[::1]: EHLO greets the IPv6 client", ehlo.decode(), r"Hello v6\.example \[::1\]")
s.mail("alice@example.org")
check_eq("[::1]: ::1 may relay by default (remote RCPT 250)", s.rcpt("x@elsewhere.example")[0], 250)
s.rcpt("bob@test.example")
code, text = s.data(b"From: alice@example.org\r\nSubject: v6\r\n\r\nb\r\n")
s.quit()
check_eq("[::1]: message accepted", code, 250)
env, msg = read_queued(queue, text.decode().split()[-1])
check_eq("[::1]: envelope client ::1", dict(env).get("client"), "::1")
check("[::1]: Received from v6.example ([IPv6:::1])", msg.decode(), r"^Received: from v6\.example \(\[IPv6:::1\]\)\n")
EOF
)
	tap_from "$res"
	out=$(printf 'QUIT\r\n' | smtp_chat "$MTA_PORT")
	like "$out" '^220 ' "the IPv4 listener works beside the IPv6 one"
	is "$(stop_mta)" 0 "IPv6 daemon: SIGTERM exit 0"
else
	for what in "EHLO" "relay" "accepted" "envelope" "Received" "IPv4 beside" "exit 0"; do
		skip "no ::1 on this machine ($what)"
	done
fi

# --hold: accepted and queued, nothing delivered until a start without it
MTA_DIR=$T/hold start_mta --hold || echo "# daemon with --hold did not start"
out=$(printf 'EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<held@test.example>\r\nDATA\r\nSubject: held\r\n\r\nwait\r\n.\r\nQUIT\r\n' |
	smtp_chat "$MTA_PORT")
like "$out" '250 2\.0\.0 Ok: queued as' "--hold: the message is accepted"
sleep 1
is "$(count_files "$MTA_QUEUE/new")/$(count_files "$MTA_QUEUE/rcpt")/$(maildir_count "$MTA_MAIL/held")" 1/0/0 \
	"--hold: it stays in new/, not exploded, not delivered"
is "$(stop_mta)" 0 "--hold: SIGTERM exit 0"
MTA_DIR=$T/hold start_mta || echo "# daemon without --hold did not start"
held_delivered() { [ "$(maildir_count "$MTA_MAIL/held")" = 1 ]; }
wait_until 10 held_delivered
is "$(maildir_count "$MTA_MAIL/held")" 1 "restarted without --hold: delivered"
is "$(stop_mta)" 0 "without --hold: SIGTERM exit 0"

# a host without the system's CA certificates (no ca-certificates): the
# daemon still starts; only a delivery that verifies finds no anchor
SSL_CERT_FILE=$T/no-such-file SSL_CERT_DIR=$T/no-such-dir start_mta
ok $? "no system CA certificates: the daemon starts all the same"
is "$(stop_mta)" 0 "no system CA certificates: SIGTERM exit 0"

done_testing
