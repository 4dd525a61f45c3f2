#!/bin/bash
# t/61-enospc.t - a full disk, on small tmpfs mounts (needs root).
#   The queue fills up: during DATA the client gets 452 (or 451), never
#   250, whether the disk was full from the start or fills in the middle
#   of a message; nothing is left in tmp/, new/ or mess/; a message queued
#   earlier is untouched and delivered later; once space is freed the same
#   session and new ones are served again.
#   A Maildir, then an mbox, fills up during delivery: the recipient is
#   deferred (its job renamed to a future DUE, mta-queue(5), with the error
#   in it), the Maildir keeps no partial file, the mbox is cut back to its
#   old length byte for byte; once space is back the message is delivered
#   by the next retry, exactly once.
. "$(dirname "$0")/lib/common.sh"

RETRY=3
mounts=
# mount_tmpfs DIR SIZE - a private tmpfs at DIR, unmounted at exit
mount_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" &&
		mounts="$1 $mounts"
}
# lazily: a daemon still inside is killed by cleanup right after
trap 'for m in $mounts; do umount -l "$m"; done; cleanup' EXIT

if ! mount_tmpfs "$T/probe" 64k 2>"$T/mount.err"; then
	skip_all "cannot mount a tmpfs: $(head -1 "$T/mount.err")"
fi

plan 44

# ---- the queue on a 4 MiB tmpfs ------------------------------------------
QFS=$T/qfs
mount_tmpfs "$QFS" 4m || { echo "Bail out! cannot mount $QFS"; exit 1; }
MTA_DIR=$T/a start_mta_hold -q "$QFS/queue" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
MTA_QUEUE=$QFS/queue

res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$MTA_LOG" "$T" <<'EOF'
import os, shutil, sys, time
from smtpraw import Client, check, check_eq, queue_files, tmp_messages
from mailcheck import make_message, crlf
port, queue, log, tdir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
filler = os.path.join(os.path.dirname(queue), "filler")

def send(c, token, size):
    c.cmd("MAIL FROM:<sender@example.org>")
    c.cmd("RCPT TO:<enospc@test.example>")
    r = c.cmd("DATA")
    if not r or not r.startswith("354"):
        return r
    body = crlf(make_message(token, size, to="enospc@test.example"))
    body = body.replace(b"\r\n.", b"\r\n..")          # dot-stuffing
    return c.cmd(body + b".")

def fill(leave):
    with open(filler, "ab") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
        try:
            f.close()
        except OSError:
            pass
    os.truncate(filler, max(0, os.path.getsize(filler) - leave))

def wait_log(pattern, limit=20):
    end = time.time() + limit
    while time.time() < end:
        if pattern in open(log).read():
            return True
        time.sleep(0.1)
    return False

c = Client(port, timeout=30)
c.reply()
c.cmd("EHLO enospc.example")
r = send(c, "t61early", 20000)
check("a message before the disk fills: 250", r, r"^250 ")
early = r.split()[-1] if r else "none"
# its delivery defers (held): after that the queue is quiet
check_eq("its job is deferred (held in the queue)", wait_log("retry id=%s " % early), True)
shutil.copy(os.path.join(queue, "mess", early), os.path.join(tdir, "early.copy"))

fill(0)
r = send(c, "t61full", 10000)
check("disk full before DATA: 452 or 451, not 250", r, r"^45[12] ")
check_eq("disk full before DATA: nothing left in tmp/", tmp_messages(queue), [])
check_eq("disk full before DATA: only the earlier message in new/ and mess/",
         [os.path.basename(p) for p in queue_files(queue)], [early])

os.truncate(filler, os.path.getsize(filler) - 256 * 1024)
r = send(c, "t61middle", 1024 * 1024)
check("disk fills in the middle of a 1 MB message: 452 or 451, not 250", r, r"^45[12] ")
check("the 4xx says storage ran out (4.3.1)", r, r" 4\.3\.1 ")
check_eq("mid-message: nothing left in tmp/", tmp_messages(queue), [])
check_eq("mid-message: only the earlier message in new/ and mess/",
         [os.path.basename(p) for p in queue_files(queue)], [early])
check_eq("the earlier message's file is unchanged",
         open(os.path.join(queue, "mess", early), "rb").read() ==
         open(os.path.join(tdir, "early.copy"), "rb").read(), True)
check("the session is still usable while the disk is full: NOOP 250",
      c.cmd("NOOP"), r"^250 ")

os.unlink(filler)
r = send(c, "t61after1", 30000)
check("space freed: the same session gets 250", r, r"^250 ")
c.cmd("QUIT")
d = Client(port, timeout=30)
d.reply()
d.cmd("EHLO again.example")
check("space freed: a new session gets 250", send(d, "t61after2", 30000), r"^250 ")
d.cmd("QUIT")
EOF
)
tap_from "$res"
ok "$(mta_running; echo $?)" "queue ENOSPC: the daemon is still running"
n=$(log_count 'queue-error .*No space')
ok "$([ "$n" -ge 2 ]; echo $?)" "queue ENOSPC: the failures are logged as queue-error ($n)"
is "$(stop_mta)" 0 "queue ENOSPC: SIGTERM exit 0"

# restart on the same queue with a real mail root: everything accepted
# is delivered, nothing refused is
MTA_DIR=$T/a start_mta -q "$QFS/queue" ||
	{ echo "Bail out! mta-smtpd did not restart"; exit 1; }
MTA_QUEUE=$QFS/queue
"$MTA_BIN/mta-queue" -q "$MTA_QUEUE" --flush >/dev/null 2>&1
wait_for 30 eval 'queue_empty || ! mta_running'
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue ENOSPC: after a restart the queue drains"
res=$($PY - "$MTA_MAIL/enospc" <<'EOF'
import sys
from smtpraw import check_eq
from mailcheck import maildir_messages, split_trace, token_of, make_message
got = {}
for _, data in maildir_messages(sys.argv[1]):
    p = split_trace(data)
    tok = token_of(p[3]) if p else None
    size = {"t61early": 20000}.get(tok, 30000)
    got[tok] = p is not None and p[3] == make_message(tok, size, to="enospc@test.example")
check_eq("delivered: the earlier message and the two after, each once and intact",
         sorted(got.items()), [("t61after1", True), ("t61after2", True), ("t61early", True)])
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "restarted daemon: SIGTERM exit 0"

# ---- a local mailbox fills up during delivery ----------------------------
# box_test KIND: KIND is maildir or mbox; the mail root is a 1 MiB tmpfs
box_test() {
	local kind=$1 mfs=$T/mfs-$1 user=box$1 opt=
	[ "$kind" = mbox ] && opt=--mbox
	mount_tmpfs "$mfs" 1m || { ok 1 "$kind: mount"; return; }
	# shellcheck disable=SC2086
	MTA_DIR=$T/$kind start_mta -m "$mfs" --retry $RETRY --attempts 1000 $opt ||
		{ echo "Bail out! mta-smtpd did not start"; exit 1; }
	res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$MTA_LOG" "$mfs" "$kind" "$user" "$RETRY" <<'EOF'
import mailbox, os, re, smtplib, sys, time
from smtpraw import check, check_eq
from mailcheck import make_message, crlf, maildir_messages, mbox_messages, mbox_shown, split_trace, token_of
port, queue, log, mfs, kind, user, retry = sys.argv[1:8]
retry = int(retry)
rcpt = "%s@test.example" % user
box = os.path.join(mfs, user)

def send(token, size):
    s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
    r = s.sendmail("sender@example.org", [rcpt], crlf(make_message(token, size, to=rcpt)))
    s.quit()
    return r

def delivered():
    if kind == "maildir":
        msgs = [d for _, d in maildir_messages(box)]
    else:
        msgs = [d for _, d in mbox_messages(box)]
    out = []
    for d in msgs:
        p = split_trace(d)
        tok = token_of(p[3]) if p else None
        want = make_message(tok, sizes.get(tok, 0), to=rcpt)
        if kind != "maildir":
            want = mbox_shown(want)
        out.append((tok, p is not None and p[3] == want))
    return out

def wait(cond, limit=30):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()

first, big = "t61%sfirst" % kind[:2], "t61%sbig" % kind[:2]
sizes = {first: 3000, big: 300000}
send(first, 3000)
check_eq("%s: a first message is delivered" % kind, wait(lambda: len(delivered()) == 1), True)
before = open(box, "rb").read() if kind == "mbox" else None

filler = os.path.join(mfs, "filler")
with open(filler, "ab") as f:
    try:
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    except OSError:
        pass
    try:
        f.close()
    except OSError:
        pass
os.truncate(filler, os.path.getsize(filler) - 64 * 1024)

# less one second: the daemon's time(2) is the kernel's coarse clock, up
# to a tick behind the fine one Python reads
t_sent = int(time.time()) - 1
send(big, 300000)
qid = None
def deferred():
    global qid
    m = re.search(r"retry id=(\S+) rcpt=<%s> attempt=1 " % re.escape(rcpt), open(log).read())
    qid = m.group(1) if m else None
    return qid is not None
check_eq("%s full: the delivery is deferred (log: retry attempt=1)" % kind, wait(deferred), True)
jobs = [j for j in os.listdir(os.path.join(queue, "rcpt")) if qid and (".%s." % qid) in j]
check_eq("%s full: one job for it in rcpt/" % kind, len(jobs), 1)
due = int(jobs[0].split(".")[0]) if jobs else 0
check("%s full: its DUE is pushed into the future (>= sent + --retry)" % kind,
      str(due >= t_sent + retry), "True")
content = open(os.path.join(queue, "rcpt", jobs[0]), "rb").read().decode("latin-1") if jobs else ""
check("%s full: the job records the attempt" % kind, content, r"(?m)^attempts [1-9]")
check("%s full: and the error (mailbox full / no space)" % kind, content,
      r"(?mi)^error .*(full|no space)")
if kind == "maildir":
    check_eq("maildir full: no partial file in tmp/", os.listdir(os.path.join(box, "tmp")), [])
    check_eq("maildir full: new/ holds only the first message",
             len(os.listdir(os.path.join(box, "new"))), 1)
else:
    check_eq("mbox full: the mbox is cut back to its old length",
             os.path.getsize(box), len(before))
    check_eq("mbox full: byte for byte", open(box, "rb").read() == before, True)
    check_eq("mbox full: no dotlock left", os.path.exists(box + ".lock"), False)

os.unlink(filler)
check_eq("%s: space back: the next retry delivers it" % kind,
         wait(lambda: len(delivered()) == 2, 30 + 3 * retry), True)
check_eq("%s: both messages, each once and intact" % kind, sorted(delivered()),
         [(big, True), (first, True)])
EOF
)
	tap_from "$res"
	wait_for 20 eval 'queue_empty || ! mta_running'
	is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "$kind: the queue is empty"
	is "$(stop_mta)" 0 "$kind: SIGTERM exit 0"
}
box_test maildir
box_test mbox

done_testing
