#!/bin/bash
# t/55-service.t - mta as a service: make install and make
# install-sendmail into a temporary root (what goes where, the unit's
# ExecStart, the links work), systemd-analyze verify of the installed
# unit, the notification protocol (READY, RELOADING, STOPPING on a
# socket of our own in $NOTIFY_SOCKET), the logrotate snippet (logrotate
# -d; then a real rotation of a running daemon's log with its SIGHUP
# reopen), and --syslog: the daemon in a mount namespace whose /dev/log
# is a python datagram socket, one record per event.
. "$(dirname "$0")/lib/common.sh"

plan 28

top=$(cd "$here/.." && pwd)

# dgram PATH OUT - a unix datagram socket at PATH writing each datagram
# received as one line of OUT (PATH.ready once bound); stops after 120 s
dgram() {
	$PY - "$1" "$2" <<'PYEOF' &
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path); os.chmod(path, 0o666)
open(path + ".ready", "w").close()
s.settimeout(1)
end = time.time() + 120
with open(out, "a") as f:
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        f.write(d.decode("utf-8", "replace").rstrip("\n") + "\n"); f.flush()
PYEOF
	track $!
	wait_for 10 test -e "$1.ready"
}

# ---- make install, make install-sendmail --------------------------------
R=$T/root
make -s -C "$top" -o all install BIN="$MTA_BIN" PREFIX="$R/usr" \
	SYSCONFDIR="$R/etc" >"$T/make.out" 2>&1
is "$?" 0 "make install into a temporary PREFIX"
ok "$([ -x "$R/usr/sbin/mta-smtpd" ] && [ -x "$R/usr/bin/mta-send" ] &&
      [ -x "$R/usr/bin/mta-queue" ] && [ -f "$R/usr/share/man/man8/mta-smtpd.8" ]; echo $?)" \
	"install: the programs and the manual"
U=$R/usr/lib/systemd/system/mta-smtpd.service
is "$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$U")" "$R/usr/sbin/mta-smtpd" \
	"install: the unit, ExecStart pointing into PREFIX"
cmp -s "$R/etc/logrotate.d/mta" "$top/etc/logrotate.d/mta"
ok $? "install: the logrotate snippet into SYSCONFDIR/logrotate.d"
ok "$([ ! -e "$R/usr/sbin/sendmail" ] && [ ! -e "$R/usr/bin/mailq" ]; echo $?)" \
	"install: no sendmail, mailq links unless asked"
D=$T/dest
make -s -C "$top" -o all install-sendmail BIN="$MTA_BIN" DESTDIR="$D" PREFIX=/usr \
	SYSCONFDIR=/etc >>"$T/make.out" 2>&1
is "$?" 0 "make install-sendmail with DESTDIR"
is "$(readlink "$D/usr/sbin/sendmail") $(readlink "$D/usr/bin/mailq") $(readlink "$D/usr/bin/newaliases")" \
	"../bin/mta-send mta-send mta-send" "install-sendmail: sbin/sendmail, bin/mailq, bin/newaliases link to mta-send"
ok "$([ -f "$D/usr/lib/systemd/system/mta-smtpd.service" ] && [ -f "$D/etc/logrotate.d/mta" ]; echo $?)" \
	"install with DESTDIR: unit and snippet under DESTDIR"
"$D/usr/sbin/sendmail" -bi </dev/null
is "$?" 0 "the installed sendmail link runs mta-send (-bi)"
mkdir -p "$T/mq/queue/tmp" "$T/mq/queue/new" "$T/mq/queue/mess" "$T/mq/queue/rcpt" \
	"$T/mq/queue/bad"
out=$(cd "$T/mq" && PATH=/nonexistent "$D/usr/bin/mailq" -C /dev/null 2>&1)
is "$out" "0 messages, 0 recipients pending" \
	"mailq: finds the mta-queue installed beside it (no PATH), lists the queue"

# ---- systemd-analyze verify ---------------------------------------------
if command -v systemd-analyze >/dev/null; then
	out=$(MANPATH=$R/usr/share/man systemd-analyze verify "$U" 2>&1)
	rc=$?
	is "$rc" 0 "systemd-analyze verify of the installed unit: passes"
	is "$out" "" "systemd-analyze verify: nothing to say"
else
	skip 2 "systemd-analyze is not installed (Debian's systemd)"
fi

# ---- the notification protocol ------------------------------------------
dgram "$T/notify.sock" "$T/notify.log"
NOTIFY_SOCKET=$T/notify.sock start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_for 10 grep -q READY=1 "$T/notify.log"
is "$(cat "$T/notify.log")" "READY=1" "NOTIFY_SOCKET: READY=1 once listening"
kill -HUP "$MTA_PID"
wait_for 10 eval '[ "$(grep -c READY=1 "$T/notify.log")" = 2 ]'
is "$(tr '\n' ' ' <"$T/notify.log")" "READY=1 RELOADING=1 READY=1 " \
	"SIGHUP: RELOADING=1, then READY=1"

# ---- logrotate ------------------------------------------------------------
if command -v logrotate >/dev/null; then
	logrotate -d -s "$T/lr.state" "$top/etc/logrotate.d/mta" >"$T/lr.out" 2>&1
	is "$?" 0 "logrotate -d of etc/logrotate.d/mta: passes"
	like "$(cat "$T/lr.out")" "considering log /var/log/mta.log" "logrotate -d: it reads the stanza"
	# the same stanza on this daemon's log, SIGHUP instead of systemctl
	sed -e "s|/var/log/mta.log|$MTA_LOG|" -e 's|create 0640 mail adm|create 0640|' \
	    -e "s|systemctl reload mta-smtpd.service.*|kill -HUP $MTA_PID|" \
	    "$top/etc/logrotate.d/mta" >"$T/lr.conf"
	printf 'Subject: before\n\nx\n' | "$MTA_BIN/mta-send" -s "127.0.0.1:$MTA_PORT" \
		-f a@example.org alice@test.example
	wait_log 10 'delivered .*rcpt=<alice@test.example>'
	logrotate -f -s "$T/lr.state" "$T/lr.conf" >"$T/lr.out" 2>&1
	is "$?" 0 "logrotate -f: rotated"
	wait_log 10 'reload status=ok log=reopened'
	ok $? "the daemon reopened its log at the new file"
	grep -q 'delivered .*rcpt=<alice@test.example>' "$MTA_LOG.1"
	ok $? "the old lines are in mta.log.1"
else
	skip 5 "logrotate is not installed"
fi
stop_mta >/dev/null
is "$(tail -1 "$T/notify.log")" "STOPPING=1" "SIGTERM: STOPPING=1"

# ---- --syslog ---------------------------------------------------------------
"$MTA_BIN/mta-smtpd" --syslog -L "$T/x.log" -q "$T/q" 2>"$T/err"
is "$?" 1 "--syslog with --log: refused, exit 1"
if unshare -m true 2>/dev/null; then
	mkdir -p "$T/ov/up" "$T/ov/work" "$T/sq" "$T/smail"
	dgram "$T/log.sock" "$T/syslog.out"
	P=$(free_port)
	# a private /dev: the real one beneath an overlay holding only log
	unshare -m bash -c 'mount -t overlay overlay -o "lowerdir=/dev,upperdir=$1/ov/up,workdir=$1/ov/work" /dev &&
		ln -s "$1/log.sock" /dev/log && shift && exec "$@"' sh "$T" \
		"$MTA_BIN/mta-smtpd" --syslog -q "$T/sq" -m "$T/smail" -l "127.0.0.1:$P" \
		--hostname mx.test.example -d test.example 2>"$T/syslog.stderr" &
	SPID=$!
	track $SPID
	wait_port 127.0.0.1 "$P"
	printf 'Subject: syslog\n\nx\n' | "$MTA_BIN/mta-send" -s "127.0.0.1:$P" \
		-f a@example.org bob@test.example
	wait_for 15 grep -q 'delivered .*rcpt=<bob@test.example>' "$T/syslog.out"
	kill -TERM $SPID
	wait $SPID
	is "$?" 0 "--syslog: the daemon ran and stopped cleanly"
	like "$(grep -m1 ' main start ' "$T/syslog.out")" "^<22>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} mta-smtpd\\[$SPID\\]: main start queue=" \
		"--syslog: facility mail, priority info, ident and pid, the start line without a timestamp"
	like "$(cat "$T/syslog.out")" "mta-smtpd\\[$SPID\\]: c[0-9]+ queued id=[A-Za-z0-9]+ from=<a@example.org>" \
		"--syslog: the queued event, same fields as in the file"
	like "$(cat "$T/syslog.out")" "mta-smtpd\\[$SPID\\]: d[0-9]+ delivered .*rcpt=<bob@test.example>" \
		"--syslog: the delivery, from a delivery thread"
	is "$(grep -vc "^<22>.* mta-smtpd\\[$SPID\\]: " "$T/syslog.out")" 0 \
		"--syslog: every record is one whole event of ours"
	is "$(tail -1 "$T/syslog.out" | sed 's/.*\]: //')" "main stop status=0" "--syslog: the stop line last"
	is "$(cat "$T/syslog.stderr")" "" "--syslog: nothing on stderr"
else
	skip 6 "unshare -m does not work here (no private /dev/log)"
fi

done_testing
