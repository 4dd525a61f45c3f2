#!/bin/bash
# t/74-queue-seal.t - a message file whose data a power cut lost after its
# name became durable (mta-queue(5), CRASH SAFETY, 2: the receiver renames
# into new/ before its fdatasync, so a cut in between can keep the name
# without the data; no 250 was sent then).  Messages are received with
# --hold (nothing explodes), the daemon is stopped, and the queue is left
# as such a cut leaves it: one new/ file cut short in its body, one
# emptied, one with its last bytes zeroed (its length kept).  (mess/
# never holds such a file: explode checks the seal and syncs the data
# before its link into mess/, so no reader of mess/ checks again.)  A
# file of the format before the seal (version 1, an upgraded queue) sits
# beside them.  After the restart: the whole messages and the old file
# are delivered, byte for byte; none of the damaged ones is delivered or
# bounced (the sender is local: a bounce would land in her Maildir);
# each damaged file is in bad/, logged.  Without the seal check, the
# cut-short and zeroed ones are delivered as if whole.
. "$(dirname "$0")/lib/common.sh"

plan 8

MTA_DIR=$T/d
start_mta --hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
# send: "TOKEN ID" for each of six messages from carol to alice
$PY - "$MTA_PORT" >"$T/ids" <<'EOF2'
import smtplib, sys
from mailcheck import make_message, crlf
for i in range(1, 7):
    tok = "SEAL74N%d" % i
    s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
    s.ehlo("client.example")
    s.mail("carol@test.example")
    s.rcpt("alice@test.example")
    code, text = s.data(crlf(make_message(tok, 5000, sender="carol@test.example")))
    s.quit()
    print(tok, text.decode().rsplit(" ", 1)[-1])
EOF2
stop_mta >/dev/null
Q=$T/d/queue
is "$(grep -c SEAL74 "$T/ids"), in new/ $(count_files "$Q/new")" "6, in new/ 6" \
	"six messages received and held in new/"
id() { sed -n "s/^SEAL74N$1 //p" "$T/ids"; }
head -2 "$Q/new/$(id 5)" | sed 's/^/# /'
cut_id=$(id 1) empty_id=$(id 2) zero_id=$(id 3)
arrival=$(env_get "$Q/new/$(id 4)" arrival)
$PY - "$Q" "$cut_id" "$empty_id" "$zero_id" "$arrival" <<'EOF2'
import os, sys
from mailcheck import make_message, queue_file
q, cut, empty, zero, arrival = sys.argv[1:6]
def path(d, i): return os.path.join(q, d, i)
size = os.path.getsize(path("new", cut))
os.truncate(path("new", cut), size - 700)           # the body cut short
os.truncate(path("new", empty), 0)                  # nothing of it kept
size = os.path.getsize(path("new", zero))
with open(path("new", zero), "r+b") as f:           # its last block lost
    f.seek(size - 64); f.write(b"\0" * 64)
# a queue file written before the seal (an upgraded queue): version 1
with open(path("new", "R74OLD1"), "wb") as f:
    f.write(queue_file("R74OLD1", int(arrival), ["alice@test.example"],
                       b"Received: from hand.example ([127.0.0.1])\n\tby mx.test.example; "
                       b"Mon, 02 Jan 2023 10:00:00 +0000\n" +
                       make_message("SEAL74OLD", 3000, sender="carol@test.example"),
                       sender="carol@test.example"))
EOF2

start_mta || { echo "Bail out! mta-smtpd did not start again"; exit 1; }
wait_until 20 eval '[ "$(count_files "$Q/new")$(count_files "$Q/mess")$(count_files "$Q/rcpt")" = 000 ]'
sleep 1
is "$(count_files "$Q/new")$(count_files "$Q/mess")$(count_files "$Q/rcpt")" "000" \
	"the queue settles: nothing left in new/, mess/, rcpt/"
delivered=$(grep -l -r SEAL74 "$MTA_MAIL/alice" 2>/dev/null | xargs -r grep -ho 'SEAL74[A-Z0-9]*' | sort -u | tr '\n' ' ')
is "$delivered" "SEAL74N4 SEAL74N5 SEAL74N6 SEAL74OLD " \
	"the whole messages and the old-format file delivered, none of the damaged"
got=$($PY - "$MTA_MAIL/alice" <<'EOF2'
import sys
from mailcheck import maildir_messages, make_message, split_trace
ok = 0
for _, m in maildir_messages(sys.argv[1]):
    t = split_trace(m)
    body = t[3] if t else b""
    for tok in ("SEAL74N4", "SEAL74N5", "SEAL74N6", "SEAL74OLD"):
        want = make_message(tok, 5000 if tok != "SEAL74OLD" else 3000, sender="carol@test.example")
        if body == want:
            ok += 1
print(ok)
EOF2
)
is "$got" 4 "each delivered byte for byte"
is "$(maildir_count "$MTA_MAIL/carol")" 0 "no bounce to the sender of a damaged message"
lacks -E "event=bounce|bounce-" "$MTA_LOG"; ok $? "no bounce made"
is "$(cd "$Q/bad" && ls | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "new.$cut_id" "new.$empty_id" "new.$zero_id" | sort | tr '\n' ' ')" \
	"each damaged file in bad/"
is "$(grep -c "quarantine.*reason=\"incomplete: seal not met" "$MTA_LOG")" 2 \
	"new/: the cut-short and the zeroed one logged as incomplete (seal not met)"
stop_mta >/dev/null
done_testing
