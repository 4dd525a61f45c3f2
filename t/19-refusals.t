#!/bin/bash
# t/19-refusals.t - refused commands are errors and cost time
# (mta-smtpd(8), LIMITS): 20,000 pipelined RCPT to a foreign domain from
# a client that may not relay get --max-errors refusals, then 421 and the
# close, not 20,000 554s; under --system-users probing for accounts (550)
# ends the same way; errors past --soft-errors are answered after a
# doubling pause, which holds up only that client: another one is served
# meanwhile.
. "$(dirname "$0")/lib/common.sh"

plan 15

# 127.0.0.1 may not relay: only 10.0.0.0/8 may
start_mta_hold --relay-from 10.0.0.0/8 --max-errors 20 --error-delay 0 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" <<'EOF'
import sys
from smtpraw import Client, check, check_eq
c = Client(sys.argv[1], timeout=10)
c.reply()
c.cmd("EHLO prober.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.send(b"RCPT TO:<x@elsewhere.example>\r\n" * 20000)
text = c.rest(20)
codes = [l[:3] for l in text.split("\r\n") if l]
check_eq("20,000 RCPT to a foreign domain: 20 refusals (554), not 20,000",
         codes.count("554"), 20)
check_eq("then one 421 after them", codes[-1:], ["421"])
check("the 421 is 421 4.7.0", text.rstrip("\r\n").split("\r\n")[-1], r"^421 4\.7\.0 ")
check_eq("and the connection is closed", c.eof, True)
EOF
)
tap_from "$res"
is "$(log_count ' reply text="554 5\.7\.1 ')" 20 "the log shows the 20 refusals"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- --system-users: 250 or 550 must not be a free oracle ------------------
MTA_DIR=$T/users start_mta_hold --system-users --max-errors 5 --error-delay 0 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" <<'EOF'
import sys
from smtpraw import Client, check, check_eq
c = Client(sys.argv[1])
c.reply()
c.cmd("EHLO prober.example")
c.cmd("MAIL FROM:<alice@example.org>")
codes = [(c.cmd("RCPT TO:<no-such-user-%d@test.example>" % i) or "none")[:3]
         for i in range(5)]
check_eq("--system-users --max-errors 5: five unknown users: 550 each",
         codes, ["550"] * 5)
check("then 421", c.reply(3), r"^421 4\.7\.0 ")
check_eq("and the close", c.closed(3), True)
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- the pause: after --soft-errors 2, 300 ms doubling ---------------------
MTA_DIR=$T/pause start_mta_hold --max-errors 6 --soft-errors 2 --error-delay 300 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" <<'EOF'
import sys, threading, time
from smtpraw import Client, check, check_eq
port = sys.argv[1]
c = Client(port, timeout=10)
c.reply()
c.cmd("EHLO slow.example")
done = {}

def errs():
    t0 = time.time()
    # errors 3, 4 and 5 wait 0.3 + 0.6 + 1.2 s; the sixth ends it, no pause
    c.send(b"".join(b"BAD%d\r\n" % i for i in range(6)))
    done["text"] = c.rest(15)
    done["took"] = time.time() - t0
    done["at"] = time.time()

t = threading.Thread(target=errs)
t.start()
time.sleep(0.2)
o = Client(port)
o.reply()
o.cmd("EHLO other.example")
o.cmd("MAIL FROM:<alice@example.org>")
o.cmd("RCPT TO:<bob@test.example>")
o.cmd("DATA")
r = o.cmd("From: alice@example.org\r\n\r\nx\r\n.")
other_at = time.time()
o.cmd("QUIT")
t.join(20)
codes = [l[:3] for l in done.get("text", "").split("\r\n") if l]
check_eq("six bad commands, --max-errors 6: six 500s, then 421", codes, ["500"] * 6 + ["421"])
check("errors 3 to 5 paused 0.3 + 0.6 + 1.2 s (took %.2f s)" % done.get("took", 0),
      str(done.get("took", 0) >= 2.0), "True")
check("meanwhile another client's message is queued", r, r"^250 2\.0\.0 ")
check_eq("before the pausing client got its replies", other_at < done.get("at", 0), True)
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

done_testing
