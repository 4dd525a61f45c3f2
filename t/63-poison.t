#!/bin/bash
# t/63-poison.t - a poisoned queue, and kill -9 inside a Maildir delivery.
#   Start-up on a queue written by hand with, beside good mail: a truncated
#   envelope, a zero-length message, a directory where a message should
#   be, a symbolic link in new/ and in mess/ to a valid message elsewhere,
#   a symbolic link in rcpt/ posing as a job, and garbage names in new/,
#   mess/ and rcpt/.  Each is moved to bad/ (mta-queue(5)) and logged,
#   nothing behind a link is delivered or touched, the good mail is
#   delivered, and the daemon neither crashes nor spins.
#   Then a delivery is held by strace inside the Maildir window (before
#   the rename tmp/ -> new/, and after it but before the message, still in
#   its first attempt, is removed)
#   and the daemon killed with SIGKILL there: after a restart the message
#   is delivered at least once and every copy is complete.
. "$(dirname "$0")/lib/common.sh"

plan 26

Q=$T/queue
O=$T/outside
mkdir -p "$Q/tmp" "$Q/new" "$Q/mess" "$Q/rcpt" "$Q/bad" "$T/mail" "$O"
arrival=$(($(date +%s) - 60))

$PY - "$Q" "$O" "$arrival" <<'EOF'
import os, sys
from mailcheck import make_message, queue_file
q, o, arrival = sys.argv[1], sys.argv[2], int(sys.argv[3])
trace = b"Received: from hand.example ([127.0.0.1])\n\tby mx.test.example; Mon, 02 Jan 2023 10:00:00 +0000\n"
def put(path, data):
    with open(path, "wb") as f:
        f.write(data)
def msg(qid, rcpts):
    return queue_file(qid, arrival, ["%s@test.example" % r for r in rcpts],
                      trace + make_message(qid, 3000))
def job(qid, n):
    return os.path.join(q, "rcpt", "%d.%s.%d" % (arrival, qid, n))
# good mail: one in new/, one in mess/ with a job for recipient 0; its
# recipient 1 has only a symbolic link posing as its job
put(os.path.join(q, "new", "R63GOODA"), msg("R63GOODA", ["gooda"]))
put(os.path.join(q, "mess", "R63GOODB"), msg("R63GOODB", ["goodb", "symjob"]))
put(job("R63GOODB", 0), b"")
put(os.path.join(o, "job"), b"")
os.symlink(os.path.join(o, "job"), job("R63GOODB", 1))
# damaged files
put(os.path.join(q, "new", "R63TRUNC"), b"mta-envelope 1\nid R63TRUNC\narrival 12")
put(os.path.join(q, "new", "R63ZERO"), b"")
os.mkdir(os.path.join(q, "new", "R63DIR"))
# valid messages outside the queue, linked in
put(os.path.join(o, "R63LINK"), msg("R63LINK", ["linkvictim"]))
os.symlink(os.path.join(o, "R63LINK"), os.path.join(q, "new", "R63LINK"))
put(os.path.join(o, "R63MLINK"), msg("R63MLINK", ["mlinkvictim"]))
os.symlink(os.path.join(o, "R63MLINK"), os.path.join(q, "mess", "R63MLINK"))
put(job("R63MLINK", 0), b"")
# garbage names
for name in ("garbage", ".hidden", "123", "%d.R63GOODA" % arrival,
             "x.R63GOODA.0", "%d.R63GOODA.-1" % arrival,
             "%d.R63GOODA.99999999999999999999" % arrival, "%d.R63 GOODA.0" % arrival):
    put(os.path.join(q, "rcpt", name), b"")
put(os.path.join(q, "new", "bad name!"), msg("R63BADNAME", ["badname"]))
put(os.path.join(q, "mess", "mess.junk"), b"x")
EOF
( cd "$O" && sha256sum job R63LINK R63MLINK ) >"$T/outside.sum"

start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
settled() {
	[ "$(maildir_count "$MTA_MAIL/gooda")$(maildir_count "$MTA_MAIL/goodb")" = 11 ] &&
		[ -z "$(find "$Q/new" "$Q/mess" "$Q/rcpt" -mindepth 1)" ]
}
wait_for 30 eval 'settled || ! mta_running'
ok "$(mta_running; echo $?)" "poisoned queue: the daemon is running (no crash)"
is "$(find "$Q/new" "$Q/mess" "$Q/rcpt" -mindepth 1 | wc -l)" 0 \
	"poisoned queue: new/, mess/ and rcpt/ end empty"
bad=$(ls -A "$Q/bad")
for f in new.R63TRUNC new.R63ZERO new.R63DIR new.R63LINK "new.bad name!" \
	mess.R63MLINK mess.mess.junk "rcpt.$arrival.R63MLINK.0" "rcpt.$arrival.R63GOODB.1" rcpt.garbage rcpt..hidden \
	rcpt.123 "rcpt.$arrival.R63GOODA" rcpt.x.R63GOODA.0 "rcpt.$arrival.R63GOODA.-1" \
	"rcpt.$arrival.R63GOODA.99999999999999999999" "rcpt.$arrival.R63 GOODA.0"; do
	printf '%s\n' "$bad" | grep -qxF -- "$f" || echo "$f"
done >"$T/missing"
is "$(tr '\n' ' ' <"$T/missing")" "" "poisoned queue: every bad entry is in bad/"
is "$(find "$Q/bad" -maxdepth 1 -type l | wc -l)" 3 "the links are kept as links in bad/"
is "$(cd "$O" && sha256sum -c --quiet "$T/outside.sum" 2>&1)" "" \
	"the files behind the links are untouched"
is "$(log_count ' quarantine ')" 17 "each quarantine is logged once"
for u in linkvictim mlinkvictim symjob badname; do
	is "$(maildir_count "$MTA_MAIL/$u")" 0 "nothing delivered to $u"
done
res=$($PY - "$MTA_MAIL" <<'EOF'
import sys
from smtpraw import check_eq
from mailcheck import maildir_messages, split_trace, make_message
for user, qid in (("gooda", "R63GOODA"), ("goodb", "R63GOODB")):
    got = [split_trace(d) for _, d in maildir_messages("%s/%s" % (sys.argv[1], user))]
    check_eq("good mail beside the poison: %s delivered once, intact" % qid,
             [(p[1], p[3]) if p else None for p in got],
             [("%s@test.example" % user, make_message(qid, 3000))])
EOF
)
tap_from "$res"
# no busy loop over an entry it cannot use: the queue is quiet afterwards
n0=$(wc -l <"$MTA_LOG")
sleep 2
is "$(tail -n +"$((n0 + 1))" "$MTA_LOG" | grep -c .)" 0 "then the log stays quiet (no retry loop)"
is "$(stop_mta)" 0 "poisoned queue: SIGTERM exit 0"

# ---- kill -9 inside the Maildir delivery window --------------------------
STRACE=$(command -v strace)
REAL_BIN=$MTA_BIN
# window PHASE: PHASE is enter (held before the Maildir's rename tmp/ ->
# new/) or exit (held after it, before the job is removed); strace -P
# delays only the renameat2 that names the Maildir's new/ (the queue's
# own renames go at full speed: the explode must not hold the delivery
# back, nor the 250 overlap the window)
window() {
	local phase=$1 user=kill$1 dir=$T/kill-$1 wrap=$T/wrap-$1 id
	if [ -z "$STRACE" ]; then
		skip "strace is not installed" 6
		return
	fi
	mkdir -p "$wrap"
	cat >"$wrap/mta-smtpd" <<-EOF
	#!/bin/sh
	exec "$STRACE" -f --seccomp-bpf -qq -o /dev/null -P "$dir/mail/$user/new" -e trace=renameat2 \\
		-e inject=renameat2:delay_$phase=15000000 "$REAL_BIN/mta-smtpd" "\$@"
	EOF
	chmod +x "$wrap/mta-smtpd"
	# (the watcher reports the kill below on stderr: "Killed")
	MTA_DIR=$dir MTA_BIN=$wrap start_mta 2>>"$T/start.err" || { echo "Bail out! mta-smtpd did not start"; exit 1; }
	local spid=$MTA_PID box=$dir/mail/$user
	id=$($PY - "$MTA_PORT" "$user" <<-'EOF'
	import smtplib, sys
	from mailcheck import make_message, crlf
	s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
	rcpt = "%s@test.example" % sys.argv[2]
	s.ehlo("kill.example")
	s.mail("sender@example.org")
	s.rcpt(rcpt)
	code, text = s.data(crlf(make_message("t63" + sys.argv[2], 200000, to=rcpt)))
	s.quit()
	print(text.decode().split()[-1] if code == 250 else "")
	EOF
	)
	ok "$([ -n "$id" ]; echo $?)" "$phase: the message is queued ($id)"
	if [ "$phase" = enter ]; then
		# the whole message written to the Maildir's tmp/, not yet in new/
		# (in new/ for its first second, in mess/ once filed)
		want=$($PY -c 'import sys
try:
    d = open(sys.argv[1], "rb").read()
except FileNotFoundError:
    d = open(sys.argv[2], "rb").read()
d = d.partition(b"\n\n")[2]
print(len(d) + len("Return-Path: <sender@example.org>\nDelivered-To: %s@test.example\n" % sys.argv[3]))' \
			"$dir/queue/new/$id" "$dir/queue/mess/$id" "$user")
		wait_for 30 eval '[ "$(find "$box/tmp" -type f -size "${want}c" | wc -l)" = 1 ]'
	else
		wait_for 30 eval '[ "$(maildir_count "$box")" = 1 ]'
	fi
	DPID=$(cut -d' ' -f1 /proc/"$spid"/task/"$spid"/children 2>/dev/null)
	kill -9 "$DPID" 2>/dev/null
	# strace would sit out its delay before noticing: it goes too
	wait_for 10 eval '! kill -0 "$DPID" 2>/dev/null'
	kill -9 "$spid" 2>/dev/null
	wait_for 20 test -f "$MTA_STATUS_FILE"
	# the message still queued: in new/ (its first attempt) or mess/
	is "$(ls "$box/tmp" | wc -l)/$(maildir_count "$box")/$(ls "$dir/queue/new" "$dir/queue/mess" | grep -c "^$id\$")" \
		"$([ "$phase" = enter ] && echo 1/0/1 || echo 0/1/1)" \
		"$phase: killed inside the window (tmp/, new/ and the message as expected)"
	MTA_DIR=$dir start_mta || { echo "Bail out! mta-smtpd did not restart"; exit 1; }
	wait_for 30 eval 'queue_empty || ! mta_running'
	is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "$phase: after a restart the queue drains"
	res=$($PY - "$box" "$user" <<-'EOF'
	import sys
	from smtpraw import check_eq
	from mailcheck import maildir_messages, split_trace, make_message
	box, user = sys.argv[1], sys.argv[2]
	rcpt = "%s@test.example" % user
	got = [split_trace(d) for _, d in maildir_messages(box)]
	print("# %s: %d cop%s delivered" % (user, len(got), "y" if len(got) == 1 else "ies"))
	check_eq("%s: delivered at least once (at most twice)" % user, 1 <= len(got) <= 2, True)
	want = make_message("t63" + user, 200000, to=rcpt)
	check_eq("%s: every copy complete" % user,
	         [p is not None and p[1] == rcpt and p[3] == want for p in got], [True] * len(got))
	EOF
	)
	tap_from "$res"
	is "$(stop_mta)" 0 "$phase: SIGTERM exit 0"
}
window enter
window exit

done_testing
