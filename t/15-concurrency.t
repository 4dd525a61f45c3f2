#!/bin/bash
# t/15-concurrency.t - 100 clients at once (python3 smtplib, one thread
# each, all connected and greeted before any sends): every one gets 250,
# exactly 100 complete queue files exist, each byte-exact with what its own
# client sent (per-client sender, recipient, HELO and body: any cross-talk
# between sessions shows), and the log alone shows the sessions overlapping.
. "$(dirname "$0")/lib/common.sh"

plan 9

N=100
start_mta_hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }

res=$($PY - "$MTA_PORT" "$MTA_QUEUE" "$N" <<'EOF'
import smtplib, sys, threading, time
from smtpraw import (check, check_eq, read_queued, queued_bytes,
                     expected_queue_file, diff_bytes)
port, queue, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
barrier = threading.Barrier(n, timeout=30)
results = [None] * n

def message(i):
    token = b"token-%03d-%s" % (i, b"%x" % (i * 2654435761 % 2**32))
    body = b"".join(b"%s line %03d: the quick brown fox jumps over the lazy dog\n" % (token, j)
                    for j in range(200))
    return (b"From: Sender %d <sender%d@example.org>\nTo: user%d@test.example\n"
            b"Subject: %s\nDate: Mon, 02 Jan 2023 10:00:00 +0000\n"
            b"Message-ID: <%s@example.org>\n\n" % (i, i, i, token, token)) + body

def client(i):
    try:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client%d.example" % i, timeout=30)
        s.ehlo()
        barrier.wait()      # all 100 sessions are open before anyone sends
        s.mail("sender%d@example.org" % i)
        s.rcpt("user%d@test.example" % i)
        code, text = s.data(message(i).replace(b"\n", b"\r\n"))
        s.quit()
        results[i] = (code, text.decode())
    except Exception as e:
        results[i] = (0, repr(e))

t0 = time.time()
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
dt = time.time() - t0
bad = [(i, r) for i, r in enumerate(results) if not r or r[0] != 250]
check_eq("all %d clients got 250 (in %.1f s)" % (n, dt), bad[:3], [])
mismatch = []
for i, r in enumerate(results):
    qid = r[1].split()[-1] if r and r[0] == 250 else None
    env, _ = read_queued(queue, qid)
    want = expected_queue_file(qid or "?", int(dict(env).get("arrival", 0)), "127.0.0.1",
                               "client%d.example" % i, "sender%d@example.org" % i,
                               ["user%d@test.example" % i], message(i))
    d = diff_bytes(queued_bytes(queue, qid), want)
    if d:
        mismatch.append("client %d (%s): %s" % (i, qid, d))
check_eq("every queue file byte-exact with what its own client sent", mismatch[:3], [])
ids = [r[1].split()[-1] for r in results if r and r[0] == 250]
check_eq("%d distinct queue IDs" % n, len(set(ids)), n)
EOF
)
tap_from "$res"

is "$(count_queued)" "$N" "exactly $N messages queued (new/ and mess/)"
is "$(count_tmp_messages)" 0 "nothing left in queue/tmp"

# The log by itself: per connection tag cN its connect and disconnect
# times; the most sessions open at one instant must be all of them.
overlap=$($PY - "$MTA_LOG" <<'EOF'
import re, sys
from datetime import datetime
ev = []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)Z (c\d+) (connect|disconnect) ", line)
    if m:
        t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
        ev.append((t, 1 if m.group(3) == "connect" else -1, m.group(2)))
open_now = peak = 0
# at equal times count disconnects first: overlap must be real
for t, d, tag in sorted(ev, key=lambda e: (e[0], e[1])):
    open_now += d
    peak = max(peak, open_now)
tags = {}
for t, d, tag in ev:
    tags.setdefault(tag, []).append(d)
print("peak=%d" % peak)
print("paired=%d" % sum(1 for v in tags.values() if sorted(v) == [-1, 1]))
print("sessions=%d" % len(tags))
EOF
)
peak=$(field peak <<<"$overlap")
ok "$([ "${peak:-0}" -ge "$N" ]; echo $?)" "the log shows $N sessions open at once (peak ${peak:-?})"
sessions=$(field sessions <<<"$overlap")
is "$(field paired <<<"$overlap")" "$sessions" "every logged session has one connect and one disconnect line"
is "$(grep -c ' queued id=' "$MTA_LOG")" "$N" "the log has $N 'queued' lines"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
