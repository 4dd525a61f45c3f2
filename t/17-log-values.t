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

plan 12

start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }

res=$($PY - "$MTA_PORT" "$MTA_LOG" <<'EOF'
import re, sys, time
from smtpraw import Client, check, check_eq
port, log = sys.argv[1], sys.argv[2]

def fields(rest):
    """key=value pairs of a log line's tail, as mta-smtpd(8) defines them:
    a bare value is printable ASCII without SP '"' '\\' '='; a quoted one
    has \\" \\\\ \\xHH escapes.  None when the text breaks those rules."""
    out, i = [], 0
    while i < len(rest):
        m = re.match(r'[A-Za-z_][A-Za-z0-9_-]*=', rest[i:])
        if not m:
            return None
        key, i = m.group(0)[:-1], i + m.end()
        v = bytearray()
        if rest[i:i + 1] == '"':
            i += 1
            while True:
                if i >= len(rest):
                    return None
                c = rest[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    n = rest[i + 1:i + 2]
                    if n in ('"', "\\"):
                        v += n.encode()
                        i += 2
                    elif n == "x" and re.match(r"[0-9a-f]{2}$", rest[i + 2:i + 4]):
                        v.append(int(rest[i + 2:i + 4], 16))
                        i += 4
                    else:
                        return None
                else:
                    v += c.encode("latin-1")
                    i += 1
        else:
            j = rest.find(" ", i)
            j = len(rest) if j < 0 else j
            if j == i or re.search(r'["\\=]', rest[i:j]):
                return None
            v += rest[i:j].encode("latin-1")
            i = j
        out.append((key, bytes(v)))
        if i < len(rest):
            if rest[i] != " ":
                return None
            i += 1
    return out

def lines(event):
    """the tails of the log lines of one event"""
    out = []
    for line in open(log, encoding="latin-1"):
        parts = line.rstrip("\n").split(" ", 3)
        if len(parts) == 4 and parts[2] == event:
            out.append(parts[3])
    return out

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
while time.time() < deadline and not any(qid in l for l in lines("queued")):
    time.sleep(0.1)
q = [fields(l) for l in lines("queued") if qid in l]
check_eq("one queued line for the message", len(q), 1)
f = q[0] if q else None
check_eq("queued line: well-formed, the keys id from rcpts time once each",
         [k for k, _ in f] if f else f, ["id", "from", "rcpts", "time"])
d = dict(f or [])
check_eq("queued line: id and rcpts are the real ones",
         [d.get("id"), d.get("rcpts")], [qid.encode(), b"1"])
check_eq("queued line: from= decodes to the address sent",
         d.get("from"), ("<%s>" % forged).encode())
rp = [fields(l) for l in lines("reply") if "Unsupported parameter" in l]
check_eq("reply line of the 555: one well-formed text= value quoting the parameter",
         rp[0] if rp else None,
         [("text", ("555 5.5.4 Unsupported parameter %s" % bad).encode())])
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

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
