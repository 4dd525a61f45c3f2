#!/bin/bash
# t/17-log-values.t - client text cannot fake log fields (mta-smtpd(8),
# LOGGING): a sender whose quoted local part holds spaces, '"', '=' and
# words like " rcpts=99 id=FAKE" is logged in the queued line as one
# quoted value, and reply lines quoting a client's MAIL parameter are one
# well-formed text= value.  Every such line is read back with the escape
# rules of the man page: the keys are the real ones, each once, and the
# values decode to what the client sent.  The time= of the queued and
# disconnect lines is measured on the monotonic clock: with a wall clock
# set back an hour at every reading (t/lib/fsfault.c FSFAULT_BACKWARDS)
# it is still a small non-negative number.
. "$(dirname "$0")/lib/common.sh"

plan 22

start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }

res=$($PY - "$MTA_PORT" "$MTA_LOG" <<'EOF'
import re, sys, time
from smtpraw import Client, check, check_eq
port, log = sys.argv[1], sys.argv[2]

from logfields import fields, lines

forged = '"x> rcpts=99 id=FAKE"@example.org'
c = Client(port)
c.reply()
c.cmd("EHLO forger.example")
check("MAIL FROM a quoted local part with spaces and '=': 250",
      c.cmd("MAIL FROM:<%s>" % forged), r"^250 ")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
r = c.cmd("From: alice@example.org\r\n\r\nforged\r\n.")
check("the message is queued", r, r"^250 2\.0\.0 ")
qid = r.split()[-1] if r else "none"
# a MAIL parameter with '"' and '=' comes back in a 555, which is logged
bad = 'X="y=z"'
check("an unknown MAIL parameter with '\"' and '=': 555",
      c.cmd("MAIL FROM:<a@example.org> %s" % bad), r"^555 ")
c.cmd("QUIT")
c.close()

deadline = time.time() + 5
while time.time() < deadline and not any(qid in l for l in lines(log, "queued")):
    time.sleep(0.1)
q = [fields(l) for l in lines(log, "queued") if qid in l]
check_eq("one queued line for the message", len(q), 1)
f = q[0] if q else None
check_eq("queued line: well-formed, the keys id from rcpts time once each",
         [k for k, _ in f] if f else f, ["id", "from", "rcpts", "time"])
d = dict(f or [])
check_eq("queued line: id and rcpts are the real ones",
         [d.get("id"), d.get("rcpts")], [qid.encode(), b"1"])
check_eq("queued line: from= decodes to the address sent",
         d.get("from"), ("<%s>" % forged).encode())
rp = [fields(l) for l in lines(log, "reply") if "Unsupported parameter" in l]
check_eq("reply line of the 555: one well-formed text= value quoting the parameter",
         rp[0] if rp else None,
         [("text", ("555 5.5.4 Unsupported parameter %s" % bad).encode())])
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# The same sender, and a recipient whose quoted local part says
# " via=FAKE", through explode and local delivery: the scheduler's and the
# delivery's lines quote them too.
MTA_DIR=$T/b start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" "$MTA_LOG" <<'EOF'
import sys, time
from smtpraw import Client, check, check_eq
from logfields import fields, lines
port, log = sys.argv[1], sys.argv[2]

forged = '"x> rcpts=99 id=FAKE"@example.org'
rcpt = '"b> via=FAKE"@test.example'
# queued as its mailbox's canonical address (mta-aliases(5)): the
# delivery lines name that
queued = '"b> via=fake"@test.example'
c = Client(port)
c.reply()
c.cmd("EHLO forger.example")
c.cmd("MAIL FROM:<%s>" % forged)
check("RCPT a local part that says ' via=FAKE': 250",
      c.cmd("RCPT TO:<%s>" % rcpt), r"^250 ")
c.cmd("DATA")
r = c.cmd("From: alice@example.org\r\n\r\nforged\r\n.")
check("the message is queued", r, r"^250 2\.0\.0 ")
qid = (r.split()[-1] if r else "none").encode()
c.cmd("QUIT")
c.close()

def mine(event):
    """the parsed lines of event for this message (None: malformed)"""
    out = []
    for l in lines(log, event):
        f = fields(l)
        if f is None or dict(f).get("id") == qid:
            out.append(f)
    return out

deadline = time.time() + 10
while time.time() < deadline and not mine("delivered"):
    time.sleep(0.1)
want = {"explode": ["id", "rcpts", "from"],
        "delivery-start": ["id", "rcpt", "from"],
        "delivered": ["id", "rcpt", "via", "time"]}
for event, keys in want.items():
    got = mine(event)
    check_eq("%s line: one, well-formed, the keys %s once each" % (event, " ".join(keys)),
             [[k for k, _ in f] if f else f for f in got], [keys])
    d = dict(got[0] or []) if got else {}
    if "from" in d:
        check_eq("%s line: from= decodes to the sender" % event,
                 d["from"], ("<%s>" % forged).encode())
    if "rcpt" in d:
        check_eq("%s line: rcpt= decodes to the recipient" % event,
                 d["rcpt"], ("<%s>" % queued).encode())
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0 (the delivering daemon)"

# ---- times on the monotonic clock (3) ----------------------------------------
CC=$(command -v cc || command -v gcc)
if [ -z "$CC" ] || ! "$CC" -shared -fPIC -O1 -o "$T/fsfault.so" "$TLIB/fsfault.c" -ldl; then
	skip "no C compiler for t/lib/fsfault.c" 3
else
	mkdir -p "$T/wrap"
	{
		echo '#!/bin/sh'
		echo "ASAN_OPTIONS=\"\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0\""
		echo "export ASAN_OPTIONS LD_PRELOAD=$T/fsfault.so FSFAULT_BACKWARDS=3600"
		echo "exec \"$MTA_BIN/mta-smtpd\" \"\$@\""
	} >"$T/wrap/mta-smtpd"
	chmod +x "$T/wrap/mta-smtpd"
	REAL_BIN=$MTA_BIN
	MTA_DIR=$T/back MTA_BIN=$T/wrap start_mta_hold ||
		{ echo "Bail out! mta-smtpd did not start"; exit 1; }
	MTA_BIN=$REAL_BIN
	printf 'HELO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: t\r\n\r\nhi\r\n.\r\nQUIT\r\n' |
		smtp_chat "$MTA_PORT" >"$T/back.out"
	wait_log 10 ' disconnect '
	like "$(grep ' queued ' "$MTA_LOG")" ' time=[0-9]+ms' \
		"queued: time= not negative with the wall clock going back"
	like "$(grep ' disconnect ' "$MTA_LOG")" ' time=[0-9]+ms' \
		"disconnect: time= not negative with the wall clock going back"
	is "$(stop_mta)" 0 "SIGTERM exit 0"
fi

done_testing
