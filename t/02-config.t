#!/bin/bash
# t/02-config.t - the configuration file and SIGHUP (mta-smtpd(8),
# CONFIGURATION FILE and SIGNALS): --version; a daemon started with
# --config alone, every option in the file; SIGHUP with a changed
# "domains" line (a recipient refused before is accepted after, a session
# in progress keeps its configuration); SIGHUP with a broken file (the
# old configuration stays, the error is logged with file and line); a
# changed restart-only setting (warned about, the running value kept);
# the log reopened after mv + SIGHUP (logrotate).
. "$(dirname "$0")/lib/common.sh"

plan 42

# ---- --version ----------------------------------------------------------------
out=$("$MTA_BIN/mta-smtpd" --version 2>&1)
is "$?" 0 "--version: exit 0"
like "$out" '^mta-smtpd [0-9]+\.[0-9]+\.[0-9]+$' "--version: 'mta-smtpd VERSION'"

# start_in DIR ARGS... - start mta-smtpd with exactly ARGS (no options of
# start_mta's), watched as start_mta does, so that stop_mta and
# done_testing stop it; sets MTA_PID and MTA_STATUS_FILE; waits for the
# port in $PORT
start_in() {
	local dir=$1
	shift
	mkdir -p "$dir"
	MTA_STATUS_FILE=$dir/mta.status
	_mta_dirs="$_mta_dirs $dir"
	(
		"$MTA_BIN/mta-smtpd" "$@" 2>>"$dir/mta.stderr" &
		echo $! >"$dir/mta.pid"
		wait $!
		echo $? >"$MTA_STATUS_FILE.new" && mv "$MTA_STATUS_FILE.new" "$MTA_STATUS_FILE"
	) &
	_watchers="$_watchers $!"
	wait_until 5 test -s "$dir/mta.pid"
	MTA_PID=$(cat "$dir/mta.pid")
	track "$MTA_PID"
	wait_port 127.0.0.1 "$PORT" 10
}

# ehlo_rcpt PORT RCPT - a session: EHLO, MAIL, RCPT, QUIT; what it said
ehlo_rcpt() {
	printf 'EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<%s>\r\nQUIT\r\n' "$2" |
		smtp_chat "$1"
}

# ---- every option in the file ---------------------------------------------------
chmod 711 "$T"               # --user nobody must reach its queue
D=$T/every PORT=$(free_port) PORT2=$(free_port)
mkdir -p "$D"
cat >"$D/mta.conf" <<EOF
# every option of mta-smtpd(8), by its long name
queue $D/queue
listen 127.0.0.1:$PORT
listen 127.0.0.1:$PORT2
domains Cfg.Example,other.example
mailroot $D/mail
mbox
mbox-lock-wait 7
system-users
retry 11
attempts 3
max-queue-time 1000
route *=127.0.0.1:9
route x.example=127.0.0.1:9
smtp-port 2526
dns 127.0.0.1:53
relay-from 192.0.2.0/24
max-clients 12
max-per-ip 13
max-deliveries 14
max-per-dest 15
dead-hop-time 28
max-size 16000
max-rcpt 17
max-line 1018
max-errors 19
soft-errors 20
error-delay 21
max-junk 22
max-received 23
timeout 24
smtp-timeout 25
data-timeout 26
session-timeout 27
hostname    mx.cfg.example
log $D/log
user nobody
hold
EOF
start_in "$D" --config "$D/mta.conf"
ok $? "started with --config alone, every option in the file"
out=$(ehlo_rcpt "$PORT" root@cfg.example)
like "$out" '^220 mx\.cfg\.example ' "hostname: from the file"
like "$out" '250-SIZE 16000' "max-size: from the file"
like "$out" $'\r\n250 [^\r]*\r\n221 ' "domains: a system user at a file's domain (lower-cased) is accepted"
out=$(ehlo_rcpt "$PORT2" someone@elsewhere.example)
like "$out" '^220 ' "listen: the second address answers"
like "$out" $'\r\n5[0-9][0-9] [^\r]*\r\n221 ' "relay-from: loopback no longer may relay"
out=$(ehlo_rcpt "$PORT" no-such-user-here@cfg.example)
like "$out" $'\r\n550 [^\r]*\r\n221 ' "system-users: an unknown user is refused"
is "$(ps -o user= -p "$MTA_PID" | tr -d ' ')" nobody "user: runs as nobody"
like "$(cat "$D/log")" "start queue=$D/queue hostname=mx\.cfg\.example pid=[0-9]+ new-sync=[a-z0-9:-]+ hold=yes" \
	"log, queue and hold: from the file"
ok "$([ -d "$D/queue/new" ]; echo $?)" "queue: created where the file says"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- SIGHUP: a changed domains line -------------------------------------------------
D=$T/reload PORT=$(free_port)
mkdir -p "$D"
CONF=$D/mta.conf
write_conf() {
	printf '# the test daemon\nlisten 127.0.0.1:%s\nhostname mx.test.example\nrelay-from 192.0.2.0/24\n%s\n' \
		"$PORT" "$1" >"$CONF.new" && mv "$CONF.new" "$CONF"
}
write_conf "domains a.example"
start_in "$D" --config "$CONF" -q "$D/queue" -m "$D/mail" -L "$D/mta.log" --retry 3600 --hold
ok $? "started with --config and command-line options"
MTA_LOG=$D/mta.log
out=$(ehlo_rcpt "$PORT" u@b.example)
like "$out" $'\r\n5[0-9][0-9] [^\r]*\r\n221 ' "before: b.example is not ours, relaying denied"

# a session that starts now and sends its RCPT only after the reload
$PY -c '
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(20)
f = s.makefile("rb")
def reply():
    text = ""
    while True:
        line = f.readline().decode("latin-1")
        text += line
        if len(line) < 4 or line[3] != "-":
            return text
reply()
s.sendall(b"EHLO c.example\r\n"); reply()
s.sendall(b"MAIL FROM:<a@example.org>\r\n"); reply()
open(sys.argv[3], "w").close()
end = time.time() + 20
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.05)
s.sendall(b"RCPT TO:<u@b.example>\r\n"); r = reply()
s.sendall(b"QUIT\r\n"); reply()
open(sys.argv[4] + ".new", "w").write(r)
os.rename(sys.argv[4] + ".new", sys.argv[4])
' "$PORT" "$T/go" "$T/ready" "$T/held-reply" &
held=$!
track "$held"
wait_until 10 test -e "$T/ready"
ok $? "a session is in progress (MAIL given)"

write_conf "domains a.example,b.example"
kill -HUP "$MTA_PID"
wait_log 10 'reload status=ok'
ok $? "SIGHUP: the file is read again (logged)"
like "$(cat "$MTA_LOG")" 'signal sig=HUP action=reload' "the signal is logged"
out=$(ehlo_rcpt "$PORT" u@b.example)
like "$out" $'\r\n250 [^\r]*\r\n221 ' "after: a new session accepts the recipient at b.example"
: >"$T/go"
wait_until 25 test -e "$T/held-reply"
like "$(cat "$T/held-reply" 2>/dev/null)" '^5[0-9][0-9] ' \
	"the session in progress keeps its configuration: still refused"

# ---- SIGHUP: a broken file ------------------------------------------------------------
write_conf "domains a.example,b.example"
printf 'max-size lots\n' >>"$CONF"
kill -HUP "$MTA_PID"
wait_log 10 'reload status=error'
ok $? "SIGHUP with a broken file: an error is logged"
like "$(grep 'reload status=error' "$MTA_LOG")" "error=\"$CONF:6: bad value 'lots' for --max-size" \
	"the error names the file, the line and the value"
out=$(ehlo_rcpt "$PORT" u@b.example)
like "$out" $'\r\n250 [^\r]*\r\n221 ' "the old configuration stays: b.example still ours"
like "$out" '250-SIZE 33554432' "and max-size is still the old one"

# ---- SIGHUP: a setting that needs a restart -------------------------------------------
OLD_PORT=$PORT
PORT=$(free_port)
write_conf "domains a.example"
PORT=$OLD_PORT
n=$(grep -c 'reload status=ok' "$MTA_LOG")
kill -HUP "$MTA_PID"
reloads_over() { [ "$(grep -c 'reload status=ok' "$MTA_LOG")" -gt "$1" ]; }
wait_until 10 reloads_over "$n"
ok $? "a changed listen line: the rest is reloaded"
like "$(cat "$MTA_LOG")" 'reload-warning options=listen action=kept reason="a restart is needed"' \
	"listen: a warning that it needs a restart"
out=$(ehlo_rcpt "$PORT" u@a.example)
like "$out" $'\r\n250 [^\r]*\r\n221 ' "the old listener still serves"
out=$(ehlo_rcpt "$PORT" u@b.example)
like "$out" $'\r\n5[0-9][0-9] [^\r]*\r\n221 ' "and the new domains line took effect"

# ---- SIGHUP under load --------------------------------------------------------------------
# reloads and log reopens while sessions run and log: nothing is refused,
# every log line stays whole (and the sanitizer builds see the races)
printf 'From: a@example.org\nTo: u@a.example\nSubject: load\n\nx\n' >"$T/load.eml"
"$MTA_BIN/mta-send" -s "127.0.0.1:$PORT" -c 4 -n 200 "$T/load.eml" >"$T/gun.out" 2>&1 &
gun=$!
track "$gun"
for i in 1 2 3 4 5 6 7 8 9 10; do
	kill -HUP "$MTA_PID"
	sleep 0.05
done
wait "$gun"
is "$?" 0 "200 messages over 4 sessions during 10 reloads: all accepted"
is "$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [a-z0-9]+ [a-z-]+( |$)' "$MTA_LOG")" 0 \
	"every log line whole"

# ---- deliveries take the new configuration too ----------------------------------------
# a second daemon that delivers: after the reload b.example is local, so
# a message to it goes to the Maildir instead of the (dead) smarthost
D2=$T/deliver SAVED_PORT=$PORT PORT=$(free_port)
mkdir -p "$D2"
printf 'listen 127.0.0.1:%s\ndomains a.example\nroute *=127.0.0.1:%s\nretry 3600\n' \
	"$PORT" "$(free_port)" >"$D2/mta.conf"
SAVED_PID=$MTA_PID SAVED_STATUS=$MTA_STATUS_FILE
start_in "$D2" --config "$D2/mta.conf" -q "$D2/queue" -m "$D2/mail" -L "$D2/mta.log"
ok $? "a delivering daemon started"
# queued before the reload: routed to the smarthost, which does not answer
out=$(printf 'EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<early@b.example>\r\nDATA\r\nSubject: e\r\n\r\nx\r\n.\r\nQUIT\r\n' |
	smtp_chat "$PORT")
like "$out" '250 2\.0\.0 Ok: queued as' "before the reload: a message to b.example is queued"
wait_until 10 grep -q 'deferred .*rcpt=<early@b.example>' "$D2/mta.log"
ok $? "and deferred: the smarthost does not answer"
printf 'domains a.example,b.example\n' >>"$D2/mta.conf"
kill -HUP "$MTA_PID"
wait_until 10 grep -q 'reload status=ok' "$D2/mta.log"
"$MTA_BIN/mta-queue" -q "$D2/queue" --flush >/dev/null
early_delivered() { [ -n "$(ls "$D2/mail/early/new" 2>/dev/null)" ]; }
wait_until 10 early_delivered
ok $? "a job queued before the reload is routed again: delivered to the local Maildir"
out=$(printf 'EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@b.example>\r\nDATA\r\nSubject: r\r\n\r\nx\r\n.\r\nQUIT\r\n' |
	smtp_chat "$PORT")
like "$out" '250 2\.0\.0 Ok: queued as' "a message to b.example is queued"
delivered() { [ -n "$(ls "$D2/mail/u/new" 2>/dev/null)" ]; }
wait_until 10 delivered
ok $? "and delivered to the local Maildir: the scheduler took the new domains"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
PORT=$SAVED_PORT MTA_PID=$SAVED_PID MTA_STATUS_FILE=$SAVED_STATUS

# ---- the log reopened after mv + SIGHUP -------------------------------------------------
mv "$MTA_LOG" "$MTA_LOG.1"
kill -HUP "$MTA_PID"
wait_until 10 grep -q 'reload status=ok log=reopened' "$MTA_LOG" 2>/dev/null
ok $? "after mv and SIGHUP the log file is created again and written"
like "$(tail -1 "$MTA_LOG.1")" 'signal sig=HUP action=reload' \
	"the moved file got the lines up to the signal"
ehlo_rcpt "$PORT" u@a.example >/dev/null
wait_log 10 'disconnect client=127\.0\.0\.1'
ok $? "sessions log into the new file"
like "$(head -1 "$MTA_LOG")" ' main reload(-warning)? ' \
	"the new file starts with the line after the reopen"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
