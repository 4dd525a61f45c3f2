#!/bin/bash
# t/22-mbox.t - --mbox delivery (mbox.h): the entry format (From_ line,
# Return-Path:, Delivered-To:, mboxo quoting of /^From / only, the empty line
# after it); a dotlock held by somebody else holds deliveries back, a stale
# one of ours (older than 5 minutes) is broken and logged; 30 concurrent 300 KB
# messages to one mbox while an outside "mail reader" holds both an fcntl
# lock on the mbox and the dotlock MAILROOT/user.lock until all 30
# deliveries have started (two wait for the locks, the mailbox's share;
# the others for a slot): nothing is written meanwhile, and afterwards
# all of them parse back with python's mailbox.mbox, each byte-exact (no
# interleaving), with the "From " lines of their bodies intact; the
# operator's mv and rm of jobs whose deliveries are running; a symlink or
# a hard link where the mbox should be is never written through.
. "$(dirname "$0")/lib/common.sh"

plan 44

# The locks below are held for seconds on purpose: a lock wait long
# enough that no delivery here gives up (t/28 covers giving up).
start_mta --mbox --mbox-lock-wait 60 || { echo "Bail out! mta-smtpd did not start"; exit 1; }
MBOX=$MTA_MAIL/user22
LOCK=$MBOX.lock

# send_one TOKEN SIZE - one message to user22 with python smtplib; prints
# the queue ID
send_one() {
	$PY - "$MTA_PORT" "$1" "$2" <<'EOF'
import smtplib, sys
from mailcheck import make_message, crlf
port, token, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
s.ehlo()
# smtplib's data() raises on a refusal; mail() and rcpt() only return it
assert s.mail("sender@example.org")[0] == 250
assert s.rcpt("user22@test.example")[0] == 250
code, text = s.data(crlf(make_message(token, size, to="user22@test.example")))
s.quit()
print(text.decode().split()[-1] if code == 250 else "refused-%d" % code)
EOF
}

# are the separators only, as body lines like that are quoted

# check_mbox N TOKENS... - the mbox holds exactly these N messages (in
# any order), each the trace fields and then the message as sent; prints
# TAP lines for tap_from
check_mbox() {
	$PY - "$MBOX" "$@" <<'EOF'
import sys, re, collections
from smtpraw import check, check_eq
from mailcheck import mbox_messages, mbox_shown, split_trace, token_of, make_message
path, n, tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
sizes = {t.split(":")[0]: int(t.split(":")[1]) for t in tokens}
msgs = mbox_messages(path)
seen = collections.Counter()
bad = []
for from_, m in msgs:
    p = split_trace(m)
    tok = token_of(p[3]) if p else None
    seen[tok] += 1
    if not re.match(rb"From sender@example\.org (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                    rb"[ 1-3]\d \d\d:\d\d:\d\d \d{4}$", from_):
        bad.append("%s: From_ line %r" % (tok, from_))
    elif p is None or p[:2] != ("<sender@example.org>", "user22@test.example"):
        bad.append("%s: trace fields %r" % (tok, p[:2] if p else m[:80]))
    elif tok not in sizes or p[3] != mbox_shown(make_message(tok, sizes[tok], to="user22@test.example")):
        bad.append("%s: message differs" % tok)
print("# mbox: %d messages, %d distinct" % (len(msgs), len(seen)))
check_eq("mbox: %d messages parse back" % n, len(msgs), n)
check_eq("mbox: the expected ones, each once", sorted(seen.items(), key=str),
         sorted(((t, 1) for t in sizes), key=str))
check_eq("mbox: each From_ line, trace fields and message byte-exact", bad[:3], [])
EOF
}

# ---- one message: the entry format ---------------------------------------
id=$(send_one t22first 3000)
like "$id" '^[A-Za-z0-9]+$' "first: 250 queued"
wait_for 15 eval '{ [ "$(mbox_count "$MBOX")" = 1 ] && queue_empty; } || ! mta_running'
tap_from "$(check_mbox 1 t22first:3000)"
# the quoting is python's mailbox.mbox writer's (mboxo, as Postfix's
# local(8)): the same message written by it reads back the same
tap_from "$($PY - "$MBOX" "$T/ref.mbox" <<'EOF'
import mailbox, sys
from smtpraw import check_eq
from mailcheck import mbox_messages, split_trace, make_message
msg = make_message("t22first", 3000, to="user22@test.example")
ref = mailbox.mbox(sys.argv[2])
ref.add(b"From sender@example.org Mon Jan  2 10:00:00 2023\n" + msg)
ref.close()
ours = split_trace(mbox_messages(sys.argv[1])[0][1])
theirs = mailbox.mbox(sys.argv[2]).get_bytes(0)
check_eq("first: quoted as python's mailbox writes mbox (mboxo)",
         ours[3] if ours else None, theirs)
EOF
)"
ok "$([ -f "$MBOX" ] && [ ! -L "$MBOX" ]; echo $?)" "first: MAILROOT/user22 is a plain file"
is "$(stat -c %a "$MBOX")" 600 "first: created 0600"
ok "$([ ! -e "$LOCK" ]; echo $?)" "first: no dotlock left behind"
# make_message has each of these lines at least once (mailcheck.py)
like "$(grep -c '^>From the start of a line$' "$MBOX")" '^[1-9]' \
	"first: a body line 'From ' is stored as '>From '"
is "$(grep -c '^>>From quoted once$' "$MBOX")" 0 \
	"first: no '>From ' line gained a '>' (mboxo, not mboxrd)"
like "$(grep -c '^>From quoted once$' "$MBOX")" '^[1-9]' \
	"first: '>From ' is stored as it is"
like "$(grep -c '^>>From quoted twice$' "$MBOX")" '^[1-9]' \
	"first: '>>From ' is stored as it is"
is "$(grep -c '^From ' "$MBOX")" 1 "first: one line starts with 'From ': the separator"
is "$(tail -c 2 "$MBOX" | od -An -c | tr -d ' ')" '\n\n' "first: the entry ends with an empty line"

# ---- a dotlock held by another program holds delivery back ---------------
echo 99999 >"$LOCK"
size0=$(stat -c %s "$MBOX")
id=$(send_one t22dot 2000)
like "$id" '^[A-Za-z0-9]+$' "dotlock: 250 queued while the mbox is dotlocked"
wait_log 10 " delivery-start id=$id "
sleep 1.5
is "$(stat -c %s "$MBOX"):$(count_files "$MTA_QUEUE/rcpt")" "$size0:1" \
	"dotlock: nothing written while it is held (the job waits)"
rm -f "$LOCK"
wait_for 15 eval '{ [ "$(mbox_count "$MBOX")" = 2 ] && queue_empty; } || ! mta_running'
is "$(mbox_count "$MBOX")" 2 "dotlock: delivered once it is gone"
is "$(log_count " deferred id=$id ")" 0 "dotlock: waited, not deferred"

# ---- a stale dotlock of ours (older than 5 minutes) is broken ----------
echo "99999 mta-smtpd" >"$LOCK"   # a lock of ours (mbox.h), left by a crash
touch -d '10 minutes ago' "$LOCK"
id=$(send_one t22stale 2000)
wait_for 15 eval '{ [ "$(mbox_count "$MBOX")" = 3 ] && queue_empty; } || ! mta_running'
is "$(mbox_count "$MBOX")" 3 "stale dotlock: delivered"
is "$(log_count ' mbox_stale_lock mailbox=user22 ')" 1 "stale dotlock: its removal is logged"
ok "$([ ! -e "$LOCK" ]; echo $?)" "stale dotlock: gone afterwards"

# hold_locks STATUS RELEASE - in the background, be a mail reader: lock the
# mbox as mbox.h says MUAs do (an fcntl (POSIX) lock first, then the
# dotlock), hold both until the file RELEASE appears (at most 30 s), and
# note the mbox size and the time in STATUS when locked and when letting
# go; sets LOCKER to its pid
hold_locks() {
	$PY - "$MBOX" "$LOCK" "$1" "$2" <<'EOF' &
import fcntl, os, sys, time
mbox, lock, status, release = sys.argv[1:5]
f = open(mbox, "rb+")
fcntl.lockf(f, fcntl.LOCK_EX)
end = time.time() + 10
while True:
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        break
    except FileExistsError:
        if time.time() > end:
            sys.exit("dotlock not free within 10 s")
        time.sleep(0.05)
os.write(fd, b"%d\n" % os.getpid())
os.close(fd)
with open(status + ".tmp", "w") as s:
    s.write("locked size=%d time=%.6f\n" % (os.fstat(f.fileno()).st_size, time.time()))
os.rename(status + ".tmp", status)
end = time.time() + 30
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.02)
size = os.fstat(f.fileno()).st_size
t = time.time()
os.unlink(lock)
fcntl.lockf(f, fcntl.LOCK_UN)
f.close()
with open(status, "a") as s:
    s.write("unlocked size=%d time=%.6f\n" % (size, t))
EOF
	LOCKER=$!
	track "$LOCKER"
}

# ---- 30 concurrent 300 KB messages while a mail reader holds the locks ---
hold_locks "$T/locker" "$T/release"
wait_for 10 test -s "$T/locker"
like "$(cat "$T/locker" 2>/dev/null)" '^locked size=' "reader: holds the fcntl lock and the dotlock"
res=$($PY - "$MTA_PORT" "$T/ids" <<'EOF'
import smtplib, sys, threading
from mailcheck import make_message, crlf
port, idfile = int(sys.argv[1]), sys.argv[2]
ids, errors, lock = [], [], threading.Lock()
barrier = threading.Barrier(30, timeout=20)
def client(i):
    token = "t22big%d" % i
    try:
        msg = crlf(make_message(token, 300 * 1024, to="user22@test.example"))
        barrier.wait()
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=30)
        s.ehlo()
        assert s.mail("sender@example.org")[0] == 250
        assert s.rcpt("user22@test.example")[0] == 250
        code, text = s.data(msg)
        s.quit()
        with lock:
            if code == 250:
                ids.append("%s %s" % (token, text.decode().split()[-1]))
            else:
                errors.append("%s: %d" % (token, code))
    except Exception as e:
        with lock:
            errors.append("%s: %r" % (token, e))
threads = [threading.Thread(target=client, args=(i,)) for i in range(30)]
for t in threads: t.start()
for t in threads: t.join(60)
open(idfile, "w").write("\n".join(ids) + "\n")
print("accepted=%d" % len(ids))
for e in errors[:5]:
    print("error=%s" % e)
EOF
)
is "$(printf '%s\n' "$res" | field accepted)" 30 "30 x 300 KB: all accepted while the mbox is locked"
printf '%s\n' "$res" | grep '^error=' | sed 's/^/# /'
# let go once every delivery has started (and so waits for the locks) or
# waits for one of the mbox's two slots (logged delivery-busy)
big_ids=$(cut -d" " -f2 "$T/ids" | paste -sd"|")
_all_under_way() {
	[ "$(log_count " delivery-start id=($big_ids) ")" -ge 2 ] &&
	[ "$(log_count " delivery-busy id=($big_ids) rcpt=<user22@test\.example> dest=local:user22$")" -ge 28 ]
}
wait_for 20 _all_under_way
ok $? "30 x 300 KB: two deliveries started, 28 wait for a slot, while the reader holds the locks"
is "$(log_count " delivery-start id=($big_ids) ")" 2 \
	"30 x 300 KB: no thread was started for a delivery that waits for a slot"
sleep 0.5
touch "$T/release"
wait_for 15 eval '! kill -0 $LOCKER 2>/dev/null'
st=$(cat "$T/locker" 2>/dev/null)
diag "$(printf '%s' "$st" | tr '\n' ' ')"
locked_size=$(printf '%s\n' "$st" | sed -n 's/^locked size=\([0-9]*\).*/\1/p')
unlocked_size=$(printf '%s\n' "$st" | sed -n 's/^unlocked size=\([0-9]*\).*/\1/p')
unlock_time=$(printf '%s\n' "$st" | sed -n 's/^unlocked .*time=\([0-9.]*\)$/\1/p')
ok "$([ -n "$unlocked_size" ] && [ "$locked_size" = "$unlocked_size" ]; echo $?)" \
	"reader: the mbox did not change while it held the locks"
wait_for 45 eval '{ [ "$(mbox_count "$MBOX")" = 33 ] && queue_empty; } || ! mta_running'
big=$(for i in $(seq 0 29); do printf 't22big%d:%d ' "$i" $((300 * 1024)); done)
# shellcheck disable=SC2086
tap_from "$(check_mbox 33 t22first:3000 t22dot:2000 t22stale:2000 $big)"
res=$($PY - "$MTA_LOG" "$T/ids" "${unlock_time:-0}" <<'EOF'
import sys
from smtpraw import check_eq
from mailcheck import parse_log
log, idfile, unlock = sys.argv[1], sys.argv[2], float(sys.argv[3])
ids = {l.split()[1] for l in open(idfile) if l.strip()}
ev = parse_log(log)
started = [t for t, tag, e, kv in ev if e == "delivery-start" and kv.get("id") in ids]
done = [t for t, tag, e, kv in ev if e == "delivered" and kv.get("id") in ids]
print("# %d deliveries started before the reader let go, %d delivered before it"
      % (sum(t < unlock for t in started), sum(t < unlock for t in done)))
check_eq("log: deliveries were waiting for the lock (started before it was released)",
         sum(t < unlock for t in started) > 0, True)
check_eq("log: none delivered before the reader released the lock",
         sum(t < unlock for t in done), 0)
check_eq("log: 30 delivered", len(done), 30)
EOF
)
tap_from "$res"
# ---- the operator's mv and rm of jobs whose deliveries are running -------
# Both deliveries wait for the reader's locks, so both jobs are running
# when one is renamed to a later DUE and the other removed: both finish,
# the moved job's file goes under its new name, the removed one is
# forgotten, and with it its message.
hold_locks "$T/locker2" "$T/release2"
wait_for 10 test -s "$T/locker2"
ida=$(send_one t22mv 2000)
idb=$(send_one t22rm 2000)
wait_for 10 eval '[ "$(log_count " delivery-start id=($ida|$idb) ")" = 2 ]'
wait_job "$ida"; wait_job "$idb"   # their files come after a second
jobs_running=$(ls "$MTA_QUEUE/rcpt" | tr '\n' ' ')
ja=$(ls "$MTA_QUEUE/rcpt" | grep "\.$ida\.0\$")
jb=$(ls "$MTA_QUEUE/rcpt" | grep "\.$idb\.0\$")
ok "$([ -n "$ja" ] && [ -n "$jb" ] && lacks unlocked "$T/locker2"; echo $?)" \
	"running: both deliveries started and wait for the lock ($jobs_running)"
mv "$MTA_QUEUE/rcpt/$ja" "$MTA_QUEUE/rcpt/$((${ja%%.*} + 1000)).$ida.0"
rm "$MTA_QUEUE/rcpt/$jb"
sleep 0.5
touch "$T/release2"
wait_for 15 eval '{ [ "$(mbox_count "$MBOX")" = 35 ] && queue_empty; } || ! mta_running'
is "$(mbox_count "$MBOX")" 35 "running: both delivered once the reader lets go"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "running: the moved job's file is gone, and both messages"
is "$(log_count " job-removed job=$jb ")" 1 "running: the removal was seen"
is "$(log_count " (delivered|message-done) id=($ida|$idb)( |\$)")" 4 "running: each delivered and done once"

# ---- a symlink or a hard link where the mbox should be ---------------------
: >"$T/target"
ln -s "$T/target" "$MTA_MAIL/link22"
ln "$T/target" "$MTA_MAIL/hard22"
idl=$($PY - "$MTA_PORT" <<'EOF'
import smtplib, sys
from mailcheck import make_message, crlf
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.example", timeout=10)
s.ehlo()
assert s.mail("sender@example.org")[0] == 250
assert s.rcpt("link22@test.example")[0] == 250
assert s.rcpt("hard22@test.example")[0] == 250
code, text = s.data(crlf(make_message("t22links", 800)))
s.quit()
print(text.decode().split()[-1])
EOF
)
wait_log 10 " deferred id=$idl rcpt=<link22@test\.example> "
wait_log 10 " deferred id=$idl rcpt=<hard22@test\.example> "
like "$(grep " deferred id=$idl rcpt=<link22@" "$MTA_LOG")" 'error=' "symlink as mbox: deferred"
like "$(grep " deferred id=$idl rcpt=<hard22@" "$MTA_LOG")" 'error=' "hard link as mbox: deferred"
is "$(stat -c %s "$T/target"):$(ls "$MTA_MAIL" | grep -c '^link22\.lock$\|^hard22\.lock$')" 0:0 \
	"neither written through, no dotlock left"
rm -f "$MTA_QUEUE"/rcpt/*".$idl".*
wait_for 10 eval 'queue_empty || ! mta_running'

ok "$([ ! -e "$LOCK" ]; echo $?)" "no dotlock left behind"
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "the queue drained"
is "$(grep -E ' (deferred|failed|quarantine|queue-error|sched-error|mbox_unlock_failed|mbox_truncate_failed) ' "$MTA_LOG" | grep -vc " id=$idl ")" 0 \
	"log: nothing else deferred, failed or quarantined"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
