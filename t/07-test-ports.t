#!/bin/bash
# t/07-test-ports.t - the test servers of t/lib keep to their own port:
# free_port's port may be taken by another test file running beside
# (prove -j) before the server binds it, and then something else answers
# there.  start_sink (t/lib/sink.sh) must see that its aiosmtpd did not
# come up and start it again on another port, never hand the caller the
# other listener's port.  Here the first port it is given is held by a
# listener of the test's own that greets as another server.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/sink.sh"

$PY -c 'import aiosmtpd' 2>/dev/null || skip_all "python3-aiosmtpd is not installed"

plan 4

# A listener that is not the sink: greets, then closes.
$PY - "$T/taken.port" <<'PYEOF' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
with open(sys.argv[1] + ".new", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(sys.argv[1] + ".new", sys.argv[1])
while True:
    c, _ = s.accept()
    c.sendall(b"220 not.the.sink ESMTP\r\n")
    c.close()
PYEOF
track $!
for _ in $(seq 100); do [ -s "$T/taken.port" ] && break; sleep 0.1; done
taken=$(cat "$T/taken.port")

# free_port hands out the taken port once, then real free ones
real_free_port=$(declare -f free_port | sed '1s/free_port/real_free_port/')
eval "$real_free_port"
free_port() {
	if [ ! -e "$T/handed" ]; then
		: >"$T/handed"
		echo "$taken"
	else
		real_free_port
	fi
}

start_sink ports
ok $? "start_sink succeeds although its first port was taken"
[ "$SINK_PORT" != "$taken" ]
ok $? "... on a port of its own, not the taken one"
greeting=$($PY - "$SINK_PORT" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
print(s.ehlo()[0])
s.sendmail("a@example.org", ["b@example.net"], b"Subject: t07\r\n\r\nbody\r\n")
s.quit()
PYEOF
)
is "$greeting" 250 "the sink answers there"
is "$(sink_count)" 1 "and keeps what it is sent"
stop_sink
done_testing
