#!/bin/bash
# t/52-send-hostile.t - mta-send against broken and hostile servers: bad
# and mixed reply codes, NUL and escape characters, endless lines, bare LF,
# replies one byte at a time, silence (timeouts), connections dropped in
# the middle of DATA, 421, EHLO refused; the gun reconnecting after a
# server hangs up, and the gun (its own event-driven dialogue) against
# each of the same servers.  Nothing may crash or hang; every outcome has
# its code and every message is counted once.
. "$(dirname "$0")/lib/common.sh"

EX_DATAERR=65 EX_NOUSER=67 EX_UNAVAILABLE=69 EX_TEMPFAIL=75 EX_PROTOCOL=76

plan 83

SEND=$MTA_BIN/mta-send

# A scripted server: one mode per run (see MODES below); it logs what it
# was sent to $T/raw.log.
cat >"$T/raw.py" <<'PYEOF'
import socket, sys, threading, time
port, mode, log = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "ab", 0)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(50)
# port 0: the kernel's choice, told on stdout (no other test can hold it)
print(ls.getsockname()[1], flush=True)
conns = [0]

def send(c, data):
    if mode == "slow":
        time.sleep(0.3)
    if mode == "trickle":
        for b in data:
            c.sendall(bytes([b]))
            time.sleep(0.002)
    else:
        c.sendall(data)

def serve(c):
    conns[0] += 1
    eol = b"\n" if mode == "bare-lf" else b"\r\n"
    def reply(s):
        send(c, s.replace(b"\r\n", eol))
    if mode == "silent":
        time.sleep(30); return
    if mode == "tarpit":      # a greeting that never ends, a byte at a time
        try:
            while True:
                for b in b"220-wait for it\r\n":
                    c.sendall(bytes([b])); time.sleep(0.2)
        except OSError:
            return
    if mode == "greet554":
        reply(b"554 5.3.2 no service here\r\n"); time.sleep(1); return
    if mode == "garbage":
        reply(b"SSH-2.0-OpenSSH_9.2\r\n"); time.sleep(1); return
    reply(b"220 raw ESMTP\r\n")
    f = c.makefile("rb")
    in_data, msgs = False, 0
    while True:
        line = f.readline()
        if not line:
            return
        log.write(line)
        if in_data:
            if line == b".\r\n":
                if mode == "nodot":   # takes the message, never answers
                    time.sleep(60); return
                in_data = False
                msgs += 1
                reply(b"250 2.0.0 ok\r\n")
                if mode == "hangup" and msgs % 3 == 0:
                    c.close(); return
            elif mode == "drop-data":
                c.close(); return
            elif mode == "early552":
                reply(b"552 5.3.4 message too big for me\r\n")
                time.sleep(0.5); c.close(); return
            continue
        cmd = line[:4].upper()
        if cmd == b"EHLO":
            if mode == "ehlo-500":
                reply(b"500 5.5.1 what is EHLO\r\n")
            elif mode == "early552":
                reply(b"250-raw\r\n250 PIPELINING\r\n")
            elif mode == "mixed":
                reply(b"250-raw\r\n251-PIPELINING\r\n250 SIZE 1000\r\n")
            else:
                reply(b"250-raw\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000\r\n")
        elif cmd == b"HELO":
            reply(b"250 raw\r\n")
        elif cmd == b"MAIL":
            reply(b"421 4.3.2 shutting down\r\n" if mode == "421" else b"250 2.1.0 ok\r\n")
            if mode == "421":
                c.close(); return
        elif cmd == b"RCPT":
            if mode == "nasty":
                reply(b"550 5.1.1 bad\x00user \x1b[31mred\x1b[0m\x07\r\n")
            elif mode == "huge":
                reply(b"550 5.1.1 " + b"x" * 200000 + b"\r\n")
            elif mode == "badcode":
                reply(b"5x0 nonsense\r\n")
            else:
                reply(b"250 2.1.5 ok\r\n")
        elif cmd == b"DATA":
            reply(b"354 go ahead\r\n")
            in_data = True
        elif cmd == b"RSET":
            reply(b"250 2.0.0 ok\r\n")
        elif cmd == b"QUIT":
            reply(b"221 2.0.0 bye\r\n"); c.close(); return
        else:
            reply(b"502 5.5.2 no\r\n")

print("ready", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF

RAW_PID=
# raw MODE - (re)start the scripted server in MODE on $RAW_PORT
raw() {
	[ -n "$RAW_PID" ] && kill "$RAW_PID" 2>/dev/null && wait "$RAW_PID" 2>/dev/null
	: >"$T/raw.log"
	: >"$T/raw.port"
	$PY "$T/raw.py" 0 "$1" "$T/raw.log" >"$T/raw.port" 2>>"$T/raw.err" &
	RAW_PID=$!
	track "$RAW_PID"
	for _ in $(seq 100); do
		# a whole line: the port and its newline
		[ "$(wc -l <"$T/raw.port")" -ge 1 ] && break
		kill -0 "$RAW_PID" 2>/dev/null || break
		sleep 0.1
	done
	RAW_PORT=$(head -n 1 "$T/raw.port")
	[ -n "$RAW_PORT" ] || echo "# raw server did not start" >&2
	S=127.0.0.1:$RAW_PORT
}
msg() { printf 'From: a@example.org\nTo: b@example.net\nSubject: hostile\n\nbody\n'; }

raw mixed
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_PROTOCOL" "EHLO reply with mixed codes: EX_PROTOCOL (76)"
like "$out" "reply lines with different codes" "mixed codes: says so"

raw garbage
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_PROTOCOL" "not an SMTP server: EX_PROTOCOL"
like "$out" "malformed reply line: 0 SSH-2\.0" "not SMTP: shows what it said"

raw badcode
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_PROTOCOL" "a non-digit code at RCPT: EX_PROTOCOL"

raw nasty
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_NOUSER" "NUL, ESC and BEL in a 550: still EX_NOUSER"
like "$out" 'said: 550 5\.1\.1 bad\?user \?\[31mred\?\[0m\?' "control characters shown as '?'"
printf '%s' "$out" | LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]'
is "$?" 1 "no control character reaches stderr"

raw huge
t0=$(date +%s)
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_NOUSER" "a 200 KB reply line: EX_NOUSER"
like "$out" "said: 550 5\.1\.1 xxxx" "the long reply is shown"
is "$(printf '%s\n' "$out" | awk 'length > 600' | wc -l)" 0 "... cut to a sane length"

raw bare-lf
msg | "$SEND" -s "$S" -T 5 b@example.net
is "$?" 0 "replies ending in bare LF: accepted, exit 0"

raw trickle
msg | "$SEND" -s "$S" -T 5 b@example.net
is "$?" 0 "replies one byte at a time: exit 0"

raw ehlo-500
msg | "$SEND" -s "$S" -T 5 b@example.net
is "$?" 0 "EHLO refused, HELO accepted: exit 0"
grep -q '^HELO ' "$T/raw.log"; ok $? "... HELO was sent after the 500"
grep -q 'SIZE=' "$T/raw.log"; is "$?" 1 "... and no ESMTP parameters to a HELO server"

raw 421
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_TEMPFAIL" "421 at MAIL: EX_TEMPFAIL"
like "$out" "421 4\.3\.2 shutting down" "421: the reply on stderr"

raw drop-data
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_TEMPFAIL" "connection dropped during DATA: EX_TEMPFAIL"
like "$out" "end of data: .*(closed by the server|reset by peer|Broken pipe)" \
	"dropped: says so"

raw early552
out=$({ msg; head -c 20000000 /dev/zero | tr '\0' 'x' | fold -w 998; } |
	"$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_DATAERR" "552 and hang-up in the middle of a big message: EX_DATAERR"
like "$out" "552 5\.3\.4 message too big" "... the server's reason, not just a broken pipe"

raw greet554
out=$(msg | "$SEND" -s "$S" -T 5 b@example.net 2>&1)
is "$?" "$EX_UNAVAILABLE" "a 554 greeting: EX_UNAVAILABLE (the server refuses)"

raw silent
t0=$(date +%s.%N)
out=$(msg | "$SEND" -s "$S" -T 1 b@example.net 2>&1)
rc=$?
t1=$(date +%s.%N)
is "$rc" "$EX_TEMPFAIL" "a server that never greets: EX_TEMPFAIL (try again, not a bounce)"
like "$out" "greeting: no answer within 1 s" "silent server: timed out, says so"
ok "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a < 10) ? 0 : 1 }')" \
	"-T 1 bounds the wait (took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"

# the gun over a server that hangs up after every third message
raw hangup
for i in $(seq 12); do
	printf 'From: a@example.org\nTo: b%d@example.net\nSubject: %d\n\nx\n' "$i" "$i" >"$T/h$i.eml"
done
out=$("$SEND" -s "$S" -c 1 -T 5 "$T"/h*.eml 2>"$T/err")
rc=$?
sent=$(printf '%s' "$out" | sed -n 's/^sent \([0-9]*\) .*/\1/p')
failed=$(printf '%s' "$out" | sed -n 's/.* failed \([0-9]*\) .*/\1/p')
is "$((sent + failed))" 12 "hang-ups: every message counted once ($sent sent, $failed failed)"
ok "$([ "$sent" -ge 6 ] && echo 0 || echo 1)" "hang-ups: the session reconnected and went on"
is "$rc" "$EX_TEMPFAIL" "hang-ups: exit EX_TEMPFAIL"

# the gun against each hostile server: 4 messages over 2 sessions
gun() {	# gun MODE [extra mta-send options]: OUT, RC, ERR, SECS set
	local mode=$1 t0 t1
	shift
	raw "$mode"
	t0=$(date +%s.%N)
	OUT=$(timeout -s KILL 60 "$SEND" -s "$S" -c 2 -T 2 "$@" "$T"/h1.eml "$T"/h2.eml "$T"/h3.eml \
		"$T"/h4.eml 2>"$T/err")
	RC=$?
	t1=$(date +%s.%N)
	ERR=$(cat "$T/err")
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", b - a }')
}
counted() {	# counted SENT REFUSED FAILED MODE
	like "$OUT" "^sent $1 refused $2 failed $3 " "gun, $4: sent $1 refused $2 failed $3"
}

gun garbage
is "$RC" "$EX_UNAVAILABLE" "gun, not an SMTP server: EX_UNAVAILABLE"
counted 0 0 4 garbage
like "$ERR" 'first failure: .*greeting: malformed reply line: 0 SSH-2\.0' \
	"gun, not SMTP: says what it said"

gun mixed
is "$RC" "$EX_UNAVAILABLE" "gun, EHLO reply with mixed codes: EX_UNAVAILABLE"
like "$ERR" 'EHLO/HELO: reply lines with different codes' "gun, mixed codes: says so"

gun nasty
is "$RC" "$EX_DATAERR" "gun, NUL/ESC/BEL in a 550 to RCPT: EX_DATAERR"
counted 0 4 0 nasty
like "$ERR" 'first refusal: 550 5\.1\.1 bad\?user \?\[31mred' "gun: control characters as '?'"
printf '%s' "$ERR" | LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]'
is "$?" 1 "gun: no control character reaches stderr"

gun huge
is "$RC" "$EX_DATAERR" "gun, a 200 KB reply line: EX_DATAERR"
counted 0 4 0 huge
is "$(printf '%s\n' "$ERR" | awk 'length > 600' | wc -l)" 0 "gun: the long reply cut to a sane length"

gun badcode
is "$RC" "$EX_TEMPFAIL" "gun, a non-digit code at RCPT: EX_TEMPFAIL"
counted 0 0 4 badcode
like "$ERR" 'RCPT TO: malformed reply line' "gun, bad code: says where"

gun bare-lf
is "$RC" 0 "gun, replies ending in bare LF: exit 0"
counted 4 0 0 bare-lf

gun trickle
is "$RC" 0 "gun, replies one byte at a time: exit 0"
counted 4 0 0 trickle

gun ehlo-500
is "$RC" 0 "gun, EHLO refused, HELO accepted: exit 0"
is "$(grep -c '^HELO ' "$T/raw.log")" 2 "gun: HELO on both sessions after the 500"
grep -q 'SIZE=' "$T/raw.log"; is "$?" 1 "gun: no ESMTP parameters to a HELO server"

gun 421
is "$RC" "$EX_TEMPFAIL" "gun, 421 at MAIL: EX_TEMPFAIL"
counted 0 0 4 421
like "$ERR" 'first failure: 421 4\.3\.2 shutting down' "gun, 421: the reply on stderr"
is "$(grep -c '^MAIL ' "$T/raw.log")" 4 "gun, 421: each message tried once"
ok "$([ "$(grep -c '^EHLO ' "$T/raw.log")" -ge 4 ] && echo 0 || echo 1)" \
	"gun, 421: a new connection for each message"

gun drop-data
is "$RC" "$EX_TEMPFAIL" "gun, connection dropped during DATA: EX_TEMPFAIL"
counted 0 0 4 drop-data
like "$ERR" "end of data: .*(closed by the server|reset by peer|Broken pipe)" \
	"gun, dropped: says so"

{ msg; head -c 20000000 /dev/zero | tr '\0' 'x' | fold -w 998; } >"$T/big.eml"
raw early552
OUT=$("$SEND" -s "$S" -c 1 -T 5 "$T/big.eml" 2>"$T/err"); RC=$?
is "$RC" "$EX_DATAERR" "gun, 552 and hang-up in the middle of a big message: EX_DATAERR"
like "$OUT" '^sent 0 refused 1 failed 0 ' "gun, early 552: refused, counted once"
like "$(cat "$T/err")" "552 5\.3\.4 message too big" "gun: the server's reason, not a broken pipe"

gun silent
is "$RC" "$EX_UNAVAILABLE" "gun, a server that never greets: EX_UNAVAILABLE"
counted 0 0 4 silent
like "$ERR" 'greeting: no answer within 2 s' "gun, silent server: timed out, says so"
ok "$([ "$SECS" -lt 15 ] && echo 0 || echo 1)" "gun: -T 2 bounds the waits (took $SECS s)"

gun tarpit
is "$RC" "$EX_UNAVAILABLE" "gun, an endless greeting a byte at a time: EX_UNAVAILABLE"
like "$ERR" 'greeting: no answer within 2 s' "gun, tarpit: trickled bytes do not extend the limit"
ok "$([ "$SECS" -lt 15 ] && echo 0 || echo 1)" "gun, tarpit: bounded (took $SECS s)"

# a server that takes 0.3 s over every reply: the gun waits, it does not spin
raw slow
TIMEFORMAT='%U %S %R'
{ time timeout -s KILL 60 "$SEND" -s "$S" -c 2 -T 5 "$T"/h1.eml "$T"/h2.eml >"$T/out" 2>"$T/err"; } \
	2>"$T/time"
cpu=$(tail -1 "$T/time")
like "$(cat "$T/out")" '^sent 2 refused 0 failed 0 ' "gun, slow server: both sent"
ok "$(echo "$cpu" | awk '{ exit !($1 + $2 < 0.25 * $3) }'; echo $?)" \
	"gun, slow server: CPU time well under the wall time (user sys wall: $cpu)"

# interrupted while sessions wait for a greeting that never comes
# interrupt_ends NAME - SIGINT to the gun $gpid; it must be gone within
# 10 s (killed afterwards either way); its exit status in RC
interrupt_ends() {
	kill -INT "$gpid"
	wait_for 10 eval '! kill -0 "$gpid" 2>/dev/null'
	kill -0 "$gpid" 2>/dev/null; is "$?" 1 "$1"
	kill -KILL "$gpid" 2>/dev/null
	wait "$gpid"
	RC=$?
}

raw silent
"$SEND" -s "$S" -c 3 "$T"/h1.eml "$T"/h2.eml "$T"/h3.eml >"$T/out" 2>"$T/err" &
gpid=$!
sleep 1
interrupt_ends "gun, SIGINT while waiting for greetings: ends at once"
like "$(cat "$T/out")" '^sent 0 refused 0 failed 3 ' "gun, SIGINT: the summary counts all 3 as failed"

# a message under way when interrupted: the first SIGINT lets it finish,
# a second gives it up
raw nodot
"$SEND" -s "$S" -c 1 -T 60 "$T"/h1.eml "$T"/h2.eml >"$T/out" 2>"$T/err" &
gpid=$!
wait_for 10 grep -q '^DATA' "$T/raw.log"
sleep 0.5
kill -INT "$gpid"
sleep 1
kill -0 "$gpid" 2>/dev/null; is "$?" 0 "gun, first SIGINT with a message under way: still waiting for it"
interrupt_ends "gun, second SIGINT: gives it up at once"
is "$RC" "$EX_TEMPFAIL" "gun, given up: EX_TEMPFAIL"
like "$(cat "$T/out")" '^sent 0 refused 0 failed 2 ' "gun, given up: both counted as failed"
like "$(cat "$T/err")" 'end of data: given up: interrupted' "gun, given up: says so"

out=$(timeout -s KILL 60 "$SEND" -s "$S" --helo $'gun.test\r\nRCPT TO:<x@example.net>' "$T"/h1.eml 2>&1)
is "$?" 64 "gun, an EHLO name with CR LF: EX_USAGE, nothing sent"
like "$out" 'bad EHLO name' "gun, bad EHLO name: says so"

gun hangup -n 3
is "$RC" "$EX_TEMPFAIL" "gun, hang-ups on 2 sessions: EX_TEMPFAIL"
sent=$(printf '%s' "$OUT" | sed -n 's/^sent \([0-9]*\) .*/\1/p')
failed=$(printf '%s' "$OUT" | sed -n 's/.* failed \([0-9]*\) .*/\1/p')
is "$((sent + failed))" 12 "gun, hang-ups: 12 counted once each ($sent sent, $failed failed)"
ok "$([ "$sent" -ge 6 ] && echo 0 || echo 1)" "gun, hang-ups: sessions reconnected and went on"
done_testing
