#!/bin/bash
# t/62-fsync-eio.t - a failing disk flush while a message is queued.  The
# daemon runs under strace, which makes the second fdatasync(2) of every
# thread fail with EIO (the queue flushes each message file with
# fdatasync after its rename into new/, mta-queue(5); strace counts per
# thread.  A connection has a thread of its own while it is open; a thread
# whose client has gone may serve the next one (server.h), so every
# connection here stays open to the end, and each gets a thread that has
# not flushed before).  On one connection the
# second message gets 451 (never 250) and leaves nothing in the queue; the
# messages before and after it on that connection, and those on other
# connections (open before, during and after), get 250 and are delivered
# exactly once, intact.  The refused one is never delivered.  Then a
# daemon finds two files in new/ at start, and every fdatasync of one of
# them fails: that one goes to bad/ at once and is never tried again (a
# second fdatasync would say 0), the other is delivered.
. "$(dirname "$0")/lib/common.sh"

STRACE=$(command -v strace) || skip_all "strace is not installed"
# strace must be able to trace here (no ptrace in some containers)
if ! "$STRACE" -f -qq -o /dev/null -e trace=fdatasync \
	-e inject=fdatasync:error=EIO /bin/true 2>"$T/strace.err"; then
	skip_all "strace cannot trace here: $(head -1 "$T/strace.err")"
fi

plan 21

REAL_BIN=$MTA_BIN
mkdir -p "$T/wrap"
# (LeakSanitizer cannot work under ptrace: off for an ASan build, make asan)
cat >"$T/wrap/mta-smtpd" <<EOF
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
exec "$STRACE" -f -qq -o "$T/strace.out" -e trace=fdatasync \\
	-e inject=fdatasync:error=EIO:when=2 "$REAL_BIN/mta-smtpd" "\$@"
EOF
chmod +x "$T/wrap/mta-smtpd"

MTA_BIN=$T/wrap start_mta || { echo "Bail out! mta-smtpd did not start under strace"; exit 1; }
MTA_BIN=$REAL_BIN
# MTA_PID is strace; the daemon is its child (strace exits with its status)
DPID=
wait_for 10 eval 'DPID=$(cat /proc/$MTA_PID/task/$MTA_PID/children 2>/dev/null | cut -d" " -f1); [ -n "$DPID" ]'
track "$DPID"
is "$(cat /proc/"$DPID"/comm 2>/dev/null)" mta-smtpd "the daemon runs under strace"

res=$($PY - "$MTA_PORT" "$MTA_QUEUE" <<'EOF'
import sys
from smtpraw import Client, check, check_eq, queue_files, tmp_messages
from mailcheck import make_message, crlf
port, queue = sys.argv[1], sys.argv[2]

def session(helo):
    c = Client(port, timeout=20)
    c.reply()
    c.cmd("EHLO %s" % helo)
    return c

def send(c, token):
    c.cmd("MAIL FROM:<sender@example.org>")
    c.cmd("RCPT TO:<eio@test.example>")
    c.cmd("DATA")
    body = crlf(make_message(token, 5000, to="eio@test.example"))
    return c.cmd(body.replace(b"\r\n.", b"\r\n..") + b".")

first = session("first.example")
check("a connection before: its message 250", send(first, "t62other1"), r"^250 ")
early = session("early.example")        # open before, sends after
c = session("victim.example")
check("message 1 on the connection: 250", send(c, "t62one"), r"^250 ")
import os
ids = lambda: set(os.path.basename(p) for p in queue_files(queue))
before = ids()
r = send(c, "t62two")
check("message 2, its fdatasync fails with EIO: 451", r, r"^451 4\.3\.0 ")
check_eq("message 2: nothing left in tmp/", tmp_messages(queue), [])
check_eq("message 2: not added to new/ or mess/",
         sorted(ids() - before), [])
check("message 3 on the same connection: 250", send(c, "t62three"), r"^250 ")
check("message 4 on the same connection: 250", send(c, "t62four"), r"^250 ")
check("a connection opened before the failure, sending after it: 250",
      send(early, "t62other2"), r"^250 ")
check("a new connection afterwards: 250", send(session("late.example"), "t62other3"), r"^250 ")
for conn in (first, early, c):
    conn.cmd("QUIT")
EOF
)
tap_from "$res"
is "$(grep -c 'fdatasync(.*= -1 EIO .*(INJECTED)' "$T/strace.out")" 1 "strace injected exactly one EIO"
is "$(log_count 'queue-error op=write id=[A-Za-z0-9]+ error="Input/output error"')" 1 \
	"the failure is logged (queue-error op=write ... Input/output error)"

wait_for 30 eval 'queue_empty || ! mta_running'
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "the accepted messages left the queue"
res=$($PY - "$MTA_MAIL/eio" <<'EOF'
import sys
from smtpraw import check_eq
from mailcheck import maildir_messages, split_trace, token_of, make_message
got = []
for _, data in maildir_messages(sys.argv[1]):
    p = split_trace(data)
    tok = token_of(p[3]) if p else None
    got.append((tok, p is not None and p[3] == make_message(tok, 5000, to="eio@test.example")))
check_eq("every 250 delivered once and intact, the 451 one never",
         sorted(got), [(t, True) for t in sorted(["t62four", "t62one", "t62other1", "t62other2", "t62other3", "t62three"])])
EOF
)
tap_from "$res"
ok "$(mta_running; echo $?)" "the daemon is still running"
kill -TERM "$DPID"
wait_for 20 test -f "$MTA_STATUS_FILE"
is "$(cat "$MTA_STATUS_FILE" 2>/dev/null)" 0 "SIGTERM: exit 0"

# ---- a failing fdatasync at explode: bad/, never tried again ----------------
# Two files in new/ before a daemon starts (written by others: explode
# syncs each before linking it into mess/); every fdatasync of the first
# fails.  It goes to bad/ at once, logged: a second fdatasync would say 0
# for data that may be lost, so it is never retried.  The other one is
# delivered.
D2=$T/d2
mkdir -p "$D2/queue/new"
now=$(date +%s)
for id in 0062AAAA0001 0062AAAA0002; do
	{ printf 'mta-envelope 1\nid %s\narrival %s\nclient 127.0.0.1\n' "$id" "$now"
	  printf 'helo client.example\nsender sender@example.org\nrcpt eio@test.example\n\n'
	  printf 'Subject: %s\n\nhello\n' "$id"; } >"$D2/queue/new/$id"
done
cat >"$T/wrap/mta-smtpd" <<EOF
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
exec "$STRACE" -f -qq -o "$T/strace2.out" -P "$D2/queue/new/0062AAAA0001" \\
	-e trace=fdatasync -e inject=fdatasync:error=EIO "$REAL_BIN/mta-smtpd" "\$@"
EOF
MTA_DIR=$D2 MTA_BIN=$T/wrap start_mta || { echo "Bail out! the second daemon did not start"; exit 1; }
MTA_BIN=$REAL_BIN
wait_log 20 'quarantine file=new/0062AAAA0001 '
like "$(grep 'quarantine file=new/0062AAAA0001 ' "$MTA_LOG")" 'reason=.*fdatasync failed' \
	"explode's fdatasync fails: the file goes to bad/ at once"
like "$(grep 'op=fdatasync file=new/0062AAAA0001 ' "$MTA_LOG")" 'Input/output error.*action=quarantine' \
	"explode's fdatasync fails: logged, action=quarantine"
wait_for 20 eval '[ "$(ls "$MTA_MAIL/eio/new" 2>/dev/null | wc -l)" -ge 1 ]'
is "$(grep -l '^Subject: 0062AAAA' "$MTA_MAIL"/eio/new/* 2>/dev/null | xargs -r grep -h '^Subject:')" \
	"Subject: 0062AAAA0002" "the other file delivered, the failed one never"
sleep 1
lacks 'action=retry.*0062AAAA0001\|0062AAAA0001.*action=retry' "$MTA_LOG"
ok $? "the failed one is never tried again"
D2PID=
wait_for 10 eval 'D2PID=$(cat /proc/$MTA_PID/task/$MTA_PID/children 2>/dev/null | cut -d" " -f1); [ -n "$D2PID" ]'
track "$D2PID"
kill -TERM "$D2PID"
wait_for 20 test -f "$MTA_STATUS_FILE"
is "$(cat "$MTA_STATUS_FILE" 2>/dev/null)" 0 "the second daemon: SIGTERM: exit 0"

done_testing
