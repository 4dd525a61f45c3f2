#!/bin/bash
# t/54-sendmail.t - mta-send as the host's sendmail: -bs (an SMTP session
# on stdin/stdout, driven by python), -bp and the mailq link (the listing
# parsed), -q (flush), -bi, -I and the newaliases link, the configuration
# file (-C: the server and the queue), the flags accepted and ignored
# (-L, -X, -O, -n), the DSN requests -N, -R, -V (sent to a peer that
# offers DSN, dropped for mta-smtpd, which does not), and real programs
# calling it as their sendmail: s-nail, bsd-mailx, mutt, git
# format-patch output; every message read back with python's mailbox.
. "$(dirname "$0")/lib/common.sh"

EX_USAGE=64 EX_TEMPFAIL=75 EX_CONFIG=78

plan 44

SEND=$MTA_BIN/mta-send
start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
S=127.0.0.1:$MTA_PORT

# inbox USER SUBJECT - the message with SUBJECT in USER's Maildir, as
# "From|To|Subject|body" (waits for it, bounded)
inbox() {
	wait_for 15 eval "grep -qs 'Subject: $2' \"$MTA_MAIL/$1\"/new/* \"$MTA_MAIL/$1\"/cur/*" || true
	$PY - "$MTA_MAIL/$1" "$2" <<'PYEOF'
import mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
for m in box:
    if m["Subject"] == sys.argv[2]:
        body = m.get_payload(decode=True).decode().strip().replace("\n", "/")
        print("%s|%s|%s|%s" % (m["From"], m["To"], m["Subject"], body))
PYEOF
}

# ---- -bs: python speaks SMTP to mta-send's stdin/stdout -----------------
cat >"$T/bs.py" <<'PYEOF'
import subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def reply():
    lines = []
    while True:
        l = p.stdout.readline().decode()
        lines.append(l.rstrip("\r\n"))
        if len(l) < 4 or l[3] != "-":
            return lines
def say(cmd):
    p.stdin.write(cmd.encode() + b"\r\n"); p.stdin.flush()
    return reply()
print("greeting", reply()[0][:3])
ehlo = say("EHLO client.test")
print("ehlo", ehlo[0][:3], "PIPELINING" in " ".join(ehlo))
print("mail", say("MAIL FROM:<carol@example.org>")[0][:3])
print("rcpt", say("RCPT TO:<alice@test.example>")[0][:3])
print("data", say("DATA")[0][:3])
p.stdin.write(b"From: carol@example.org\r\nTo: alice@test.example\r\n"
              b"Subject: t54 bs\r\n\r\nover -bs\r\n..dot\r\n.\r\n"); p.stdin.flush()
print("dot", reply()[0][:3])
print("quit", say("QUIT")[0][:3])
p.stdin.close()
print("exit", p.wait(timeout=30))
PYEOF
out=$(timeout 60 $PY "$T/bs.py" "$SEND" -bs -s "$S" | tr '\n' ' ')
is "$out" "greeting 220 ehlo 250 True mail 250 rcpt 250 data 354 dot 250 quit 221 exit 0 " \
	"-bs: greeting, EHLO (with the server's extensions), MAIL, RCPT, DATA, message, QUIT; exit 0"
is "$(inbox alice 't54 bs')" "carol@example.org|alice@test.example|t54 bs|over -bs/.dot" \
	"-bs: the message arrives, dot-stuffing undone"

out=$(printf 'QUIT\r\n' | timeout 30 "$SEND" -bs -s "127.0.0.1:$(free_port)" 2>/dev/null)
rc=$?
like "$out" '^421 ' "-bs, no server: the client gets a 421"
is "$rc" "$EX_TEMPFAIL" "-bs, no server: exit 75"

# -bs with a side that stops reading: a server that greets and never
# reads while the client sends on, a client that never reads what a
# flooding server says; each wait ends after -T 2: exit 75, not a hang
cat >"$T/stuck.py" <<'PYEOF'
import socket, subprocess, sys, threading, time
mode, send = sys.argv[1], sys.argv[2:]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
def serve():
    c, _ = ls.accept()
    c.sendall(b"220 stuck ESMTP\r\n")
    try:
        while mode == "flood":
            c.sendall(b"250-" + b"x" * 996 + b"\r\n")
    except OSError:
        pass
    time.sleep(90)
threading.Thread(target=serve, daemon=True).start()
p = subprocess.Popen(send + ["-bs", "-T", "2", "-s", "127.0.0.1:%d" % ls.getsockname()[1]],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def feed():
    try:
        p.stdin.write(b"EHLO x\r\n")
        while mode == "noread":
            p.stdin.write(b"a" * 65536)
    except OSError:
        pass
threading.Thread(target=feed, daemon=True).start()
try:
    print(p.wait(timeout=30))
except subprocess.TimeoutExpired:
    p.kill()
    print("still running after 30 s")
PYEOF
is "$(timeout 60 $PY "$T/stuck.py" noread "$SEND")" "$EX_TEMPFAIL" \
	"-bs, a server that stops reading: exit 75 after the time limit, not a hang"
is "$(timeout 60 $PY "$T/stuck.py" flood "$SEND")" "$EX_TEMPFAIL" \
	"-bs, a client that stops reading: exit 75 after the time limit, not a hang"

# the configuration file names the server (its first listen address) and
# the queue; -s and \$MTA_SERVER still win
printf '# t54\nqueue %s\nlisten 127.0.0.1:%s\n' "$MTA_QUEUE" "$MTA_PORT" >"$T/mta.conf"
out=$(printf 'QUIT\r\n' | timeout 30 "$SEND" -C "$T/mta.conf" -bs | tr -d '\r' | head -1)
like "$out" '^220 ' "-bs -C FILE: the server is the file's listen address"
out=$(printf 'QUIT\r\n' | MTA_SERVER=127.0.0.1:$(free_port) timeout 30 "$SEND" -C "$T/mta.conf" -bs 2>/dev/null | head -1)
like "$out" '^421 ' "-bs: \$MTA_SERVER wins over the file"
printf 'listen 0.0.0.0:%s\n' "$MTA_PORT" >"$T/any.conf"
out=$(printf 'QUIT\r\n' | timeout 30 "$SEND" --config "$T/any.conf" -bs | head -1)
like "$out" '^220 ' "--config: a wildcard listen address is reached on loopback"
timeout 10 "$SEND" -C "$T/nonexistent.conf" -bi 2>"$T/err"
is "$?" "$EX_CONFIG" "-C with a missing file: exit 78 (EX_CONFIG)"
printf 'no-such-option 1\n' >"$T/bad.conf"
timeout 10 "$SEND" -C "$T/bad.conf" -bp 2>"$T/err" >/dev/null
is "$?" "$EX_CONFIG" "-C with a bad file: exit 78"
like "$(cat "$T/err")" 'bad.conf:1' "-C with a bad file: names file and line"

# ---- -bi, -I, newaliases; -bp, mailq; -q -------------------------------
mkdir -p "$T/links"
for l in mailq newaliases sendmail; do ln -s "$SEND" "$T/links/$l"; done
timeout 10 "$SEND" -bi </dev/null; is "$?" 0 "-bi: a no-op that succeeds"
timeout 10 "$SEND" -I </dev/null; is "$?" 0 "-I: the same"
timeout 10 "$T/links/newaliases" </dev/null; is "$?" 0 "newaliases (a link): the same"
timeout 10 "$SEND" -bx </dev/null 2>/dev/null; is "$?" "$EX_USAGE" "-bx: refused, 64"
timeout 10 "$SEND" -qRexample.org </dev/null 2>/dev/null
is "$?" "$EX_USAGE" "-qR: refused, 64"

# a daemon that keeps what it accepts: one message waits in its queue
stop_mta >/dev/null
MTA_DIR=$T/h start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
HQ=$MTA_QUEUE
printf 'queue %s\nlisten 127.0.0.1:%s\n' "$HQ" "$MTA_PORT" >"$T/h.conf"
printf 'Subject: held\n\nwait\n' | timeout 30 "$SEND" -C "$T/h.conf" \
	-f dave@example.org erin@remote.example
is "$?" 0 "-C FILE: a message sent to the file's server"
wait_for 15 eval '[ -n "$(ls "$HQ/rcpt" 2>/dev/null)" ]'
out=$(timeout 10 "$SEND" -C "$T/h.conf" -bp)
is "$?" 0 "-bp: exit 0"
id=$(printf '%s\n' "$out" | sed -n 's/^\([A-Za-z0-9]*\)  age .* bytes  from <dave@example.org>.*/\1/p')
ok "$([ -n "$id" ] && [ -f "$HQ/mess/$id" ]; echo $?)" "-bp: the listing names the message, its ID in the queue of -C"
like "$out" "^  to <erin@remote.example>  " "-bp: its recipient"
is "$(printf '%s\n' "$out" | tail -1)" "1 message, 1 recipient pending" "-bp: the summary line"
out2=$(cd "$T" && timeout 10 "$T/links/mailq" -C "$T/h.conf")
is "$(printf '%s\n' "$out2" | head -1 | cut -d' ' -f1)" "$id" "mailq (a link): the same listing"
# deferred (the route leads nowhere): due again in an hour
wait_for 15 eval '[ "$(ls "$HQ/rcpt" | head -1 | cut -d. -f1)" -gt "$(date +%s)" ]'
n0=$(log_count 'deferred .*rcpt=<erin@remote.example>')
out=$(timeout 10 "$SEND" -C "$T/h.conf" -q)
is "$?" 0 "-q: exit 0"
like "$out" '^flushed 1 job \(0 already due\)$' \
	"-q: mta-queue --flush made the job, due in an hour, due now"
wait_for 15 eval '[ "$(log_count "deferred .*rcpt=<erin@remote.example>")" -gt "$n0" ]'
ok $? "-q: the daemon tried it again"
stop_mta >/dev/null

# ---- flags accepted and ignored; DSN requests ---------------------------
MTA_DIR=$T start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
S=127.0.0.1:$MTA_PORT
printf 'Subject: t54 ignored\n\nignored flags\n' |
	timeout 30 "$SEND" -s "$S" -L mylabel -X /dev/null -O DeliveryMode=b -n -oi \
	-f carol@example.org alice@test.example -n
is "$?" 0 "-L LABEL -X FILE -O OPT=V -n (before an option, and last): accepted (and ignored)"
like "$(inbox alice 't54 ignored')" '\|ignored flags$' "... and the message arrives"
printf 'Subject: t54 dsn\n\ndsn dropped\n' |
	timeout 30 "$SEND" -s "$S" -N success,failure -R hdrs -V 'env 1' \
	-f carol@example.org alice@test.example
is "$?" 0 "-N -R -V to mta-smtpd (no DSN offered): accepted"
like "$(inbox alice 't54 dsn')" '\|dsn dropped$' "... the message arrives (the requests dropped)"
for bad in '-N sometimes' '-N never,success' '-R body' "-V caf$(printf '\303\251')"; do
	printf 'x\n' | timeout 10 "$SEND" -s "$S" $bad alice@test.example 2>/dev/null
	is "$?" "$EX_USAGE" "bad DSN value ($bad): 64"
done

# a peer that offers DSN: the requests go out as NOTIFY=, RET=, ENVID=
DP=$(free_port)
$PY - "$DP" "$T/dsn.log" <<'PYEOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(30)
open(sys.argv[2] + ".ready", "w").close()
c, _ = s.accept(); c.settimeout(30); f = c.makefile("rb"); log = open(sys.argv[2], "w")
c.sendall(b"220 dsn.test\r\n")
for line in f:
    l = line.decode().rstrip("\r\n")
    u = l.upper()
    if u.startswith("EHLO"):
        c.sendall(b"250-dsn.test\r\n250 DSN\r\n")
    elif u == "DATA":
        c.sendall(b"354 go\r\n")
        for b in f:
            if b == b".\r\n":
                break
        c.sendall(b"250 ok\r\n")
    elif u == "QUIT":
        c.sendall(b"221 bye\r\n"); break
    else:
        log.write(l + "\n"); c.sendall(b"250 ok\r\n")
log.close()
PYEOF
track $!
wait_for 10 test -f "$T/dsn.log.ready"
printf 'Subject: x\n\nx\n' | timeout 30 "$SEND" -s "127.0.0.1:$DP" -N success,failure \
	-R hdrs -V 'env+1 x' -f carol@example.org bob@example.net
is "$?" 0 "to a DSN peer: exit 0"
wait_for 10 eval '[ -s "$T/dsn.log" ]'
is "$(cat "$T/dsn.log" | tr '\n' '|')" \
	"MAIL FROM:<carol@example.org> RET=HDRS ENVID=env+2B1+20x|RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE|" \
	"to a DSN peer: RET= and ENVID= (xtext) on MAIL, NOTIFY= on RCPT"

# ---- real programs as callers -------------------------------------------
export MTA_SERVER=$S HOME=$T
# sent_by PROG RC FROM - PROG, which exited RC, sent "t54 PROG" with the
# body "from PROG" and From: FROM to alice: both checked
sent_by() {
	is "$2" 0 "$1 (its sendmail: mta-send): exit 0"
	is "$(inbox alice "t54 $1")" "$3|alice@test.example|t54 $1|from $1" \
		"$1: the message arrives"
}
if command -v s-nail >/dev/null; then
	printf 'from s-nail\n' | timeout 30 s-nail -:/ -S sendwait -S mta="$SEND" \
		-S from=carol@example.org -s 't54 s-nail' alice@test.example
	sent_by s-nail $? carol@example.org
else
	skip 2 "s-nail is not installed (TEST_DEBS)"
fi
if [ -x /usr/bin/bsd-mailx ]; then
	printf 'set sendmail=%s\n' "$SEND" >"$T/mailrc"
	printf 'from bsd-mailx\n' | MAILRC=$T/mailrc timeout 30 /usr/bin/bsd-mailx \
		-s 't54 bsd-mailx' -a 'From: carol@example.org' alice@test.example
	sent_by bsd-mailx $? carol@example.org
else
	skip 2 "bsd-mailx is not installed (TEST_DEBS)"
fi
if command -v mutt >/dev/null; then
	cat >"$T/muttrc" <<EOF
set sendmail="$SEND -oem -oi"
set from="carol@example.org"
set realname="Carol"
set use_from=yes
set envelope_from=yes
set copy=no
set folder="$T/mutt"
EOF
	printf 'from mutt\n' | timeout 30 mutt -n -F "$T/muttrc" -s 't54 mutt' alice@test.example
	sent_by mutt $? 'Carol <carol@example.org>'
else
	skip 2 "mutt is not installed (TEST_DEBS)"
fi
if command -v git >/dev/null; then
	(cd "$T" && git init -q repo && cd repo && printf 'a\n' >f &&
	 git add f && git -c user.name=Pat -c user.email=pat@example.org \
	     commit -q -m 't54 patch' &&
	 git format-patch -1 --stdout --to=alice@test.example) >"$T/patch.eml"
	timeout 30 "$T/links/sendmail" -t -oi <"$T/patch.eml"
	is "$?" 0 "git format-patch | sendmail -t (a link): exit 0"
	like "$(inbox alice '[PATCH] t54 patch')" '^Pat <pat@example.org>\|alice@test.example\|\[PATCH\] t54 patch\|---/ f \| 1 \+' \
		"git format-patch: arrives, header and patch intact"
else
	skip 2 "git is not installed"
fi

done_testing
