#!/bin/bash
# t/90-tls-server.t - the receiving daemon with TLS: STARTTLS (RFC 3207) on
# the --listen port and implicit TLS on an --smtps port (RFC 8314), against
# swaks, python3 smtplib, openssl s_client and msmtp; plaintext pipelined
# behind STARTTLS is never executed (CVE-2011-0411); STARTTLS twice; a
# garbage handshake ends that connection only; the Received: field and the
# log name the version and cipher; the message is delivered byte-exactly;
# ECDSA and RSA pairs side by side; messages over 64 KiB both ways; TLS below 1.2 refused; start-up errors
# for missing, broken or encrypted certificate files; handshakes stalled at SIGTERM
# do not hold the shutdown; over --max-clients an --smtps client is
# closed without a plaintext 421.
. "$(dirname "$0")/lib/common.sh"
. "$TLIB/tlscerts.sh"
. "$TLIB/strace.sh"

plan 98

C=$T/certs
mkdir -p "$C"
if ! make_ca "$C" || ! make_cert "$C" rsa mx.test.example rsa ||
   ! make_cert "$C" ec mx.test.example ec; then
	echo "Bail out! openssl could not make the test certificates"
	cat "$C"/*.err >&2
	exit 1
fi

SMTPS=$(free_port)
start_mta --smtps "127.0.0.1:$SMTPS" \
	--tls-cert "$C/rsa-chain.crt" --tls-key "$C/rsa.key" \
	--tls-cert "$C/ec-chain.crt" --tls-key "$C/ec.key" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_port 127.0.0.1 "$SMTPS" || { echo "Bail out! no --smtps listener"; exit 1; }
like "$(grep ' listen ' "$MTA_LOG")" "address=127.0.0.1:$SMTPS tls=implicit" \
	"the log names the --smtps listener"

# ---- EHLO in the clear offers STARTTLS -----------------------------------
out=$(printf 'EHLO client.example\r\nQUIT\r\n' | smtp_chat "$MTA_PORT")
like "$out" $'250-STARTTLS\r' "EHLO in the clear offers STARTTLS"

# ---- swaks --tls (STARTTLS) and --tlsc (implicit) -------------------------
out=$(swaks --server "127.0.0.1:$MTA_PORT" --tls --helo swaks.example \
	--from alice@example.org --to swaks@test.example --timeout 10 2>&1)
like "$out" '=== TLS started with cipher TLSv1\.[23]:' "swaks --tls: TLS started"
like "$out" '<~  250 2\.0\.0 Ok: queued as' "swaks --tls: message queued over TLS"
like "$out" '<-  220 2\.0\.0 Ready to start TLS' "swaks --tls: 220 2.0.0 Ready to start TLS"
ehlo2=$(printf '%s\n' "$out" | sed -n '/TLS started/,$p' | grep -c '250-STARTTLS')
is "$ehlo2" 0 "swaks --tls: the EHLO after TLS does not offer STARTTLS"
out=$(swaks --server "127.0.0.1:$SMTPS" --tlsc --helo swaksc.example \
	--from alice@example.org --to swaksc@test.example --timeout 10 2>&1)
like "$out" '=== TLS started with cipher TLSv1\.[23]:' "swaks --tlsc: TLS from the first byte"
like "$out" '<~  220 mx\.test\.example ESMTP' "swaks --tlsc: the greeting comes over TLS"
like "$out" '<~  250 2\.0\.0 Ok: queued as' "swaks --tlsc: message queued"
is "$(printf '%s\n' "$out" | grep -c '250-STARTTLS')" 0 \
	"swaks --tlsc: STARTTLS not offered on an --smtps port"

# ---- python3 smtplib: starttls() and SMTP_SSL, delivered byte-exactly ------
res=$($PY - "$MTA_PORT" "$SMTPS" "$C/ca.crt" "$MTA_MAIL" <<'EOF'
import smtplib, ssl, sys, time, re
from smtpraw import check, check_eq
from mailcheck import crlf, maildir_messages, split_trace
port, smtps, ca, mail = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
msg = (b"From: Alice <alice@example.org>\nTo: py@test.example\n"
       b"Subject: over TLS\nDate: Mon, 02 Jan 2023 10:00:00 +0000\n"
       b"Message-ID: <t90-py@example.org>\n\nline one\n.leading dot\n"
       b"8bit: caf\xc3\xa9\n\n  spaces  \nlast\n")
# over 64 KiB: many full TLS records, read 4 KiB at a time by the daemon
# (decrypted bytes left waiting inside the stream must be read)
big = (b"From: Alice <alice@example.org>\nTo: big@test.example\n"
       b"Subject: big over TLS\nDate: Mon, 02 Jan 2023 10:00:00 +0000\n"
       b"Message-ID: <t90-big@example.org>\n\n" +
       b"".join(b"line %06d %s\n" % (i, b"y" * 60) for i in range(4000)))

def send_big(s, rcpt):
    """big to rcpt in TLS records of 5000 bytes, the last one full: the
    daemon reads 4 KiB at a time, so the final dot waits decrypted inside
    its stream, where a poll of the socket alone would never see it"""
    s.mail("alice@example.org")
    s.rcpt(rcpt)
    check("%s: DATA" % rcpt, "%d" % s.docmd("DATA")[0], "^354$")
    data = crlf(big) + b".\r\n"
    first = len(data) % 5000
    chunks = [data[:first]] if first else []
    chunks += [data[i:i + 5000] for i in range(first, len(data), 5000)]
    for c in chunks:
        s.sock.sendall(c)
    code, text = s.getreply()
    check("%s: the message over 64 KiB is queued" % rcpt, "%d %s" % (code, text.decode()),
          r"^250 2\.0\.0 ")

s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
s.ehlo()
check("smtplib: STARTTLS offered", str(s.has_extn("starttls")), "True")
code, text = s.starttls(context=ctx)
check_eq("smtplib starttls(): 220, certificate verified against the test CA", code, 220)
check("smtplib: TLS 1.3 agreed", s.sock.version(), "^TLSv1.3$")
s.ehlo()
check("smtplib: STARTTLS not offered again", str(s.has_extn("starttls")), "False")
code, text = s.docmd("STARTTLS")
check("smtplib: STARTTLS twice is 503", "%d %s" % (code, text.decode()),
      r"^503 5\.5\.1 ")
s.sendmail("alice@example.org", ["py@test.example"], crlf(msg))
send_big(s, "pybig@test.example")
s.quit()

s = smtplib.SMTP_SSL("127.0.0.1", smtps, local_hostname="pyssl.example",
                     timeout=10, context=ctx)
s.ehlo()
check("SMTP_SSL: no STARTTLS on --smtps", str(s.has_extn("starttls")), "False")
code, text = s.docmd("STARTTLS")
check("SMTP_SSL: STARTTLS on --smtps is 503", "%d" % code, "^503$")
s.sendmail("alice@example.org", ["pyssl@test.example"], crlf(msg))
send_big(s, "pysslbig@test.example")
s.quit()

def delivered(box):
    end = time.time() + 20
    while time.time() < end:
        m = maildir_messages(mail + "/" + box)
        if m:
            return m
        time.sleep(0.1)
    return []

for box, helo, want in (("py", "py.example", msg), ("pyssl", "pyssl.example", msg),
                        ("pybig", "py.example", big),
                        ("pysslbig", "pyssl.example", big)):
    m = delivered(box)
    check_eq("%s: delivered once" % box, len(m), 1)
    if not m:
        continue
    t = split_trace(m[0][1])
    if t is None:
        check("%s: trace fields" % box, m[0][1][:300].decode("latin-1"), "^Return-Path")
        continue
    rp, dt, rcvd, rest = t
    check("%s: Received: names the version and cipher, with ESMTPS" % box, rcvd,
          r"^Received: from %s \(\[127\.0\.0\.1\]\)\n"
          r"\t\(using TLSv1\.3 with cipher TLS_[A-Z0-9_]+ \(\d+/\d+ bits\)\)\n"
          r"\tby mx\.test\.example \(mta\) with ESMTPS id [A-Za-z0-9]+\n"
          r"\tfor <%s@test\.example>; " % (re.escape(helo), box))
    check_eq("%s: the message after the trace fields, byte for byte (%d bytes)"
             % (box, len(want)), rest, want)
EOF
)
tap_from "$res"
like "$(grep ' tls ' "$MTA_LOG" | head -1)" 'tls version=TLSv1\.[23] cipher=[A-Z0-9_-]+ bits=[0-9]+' \
	"the log names version and cipher of a session"

# ---- openssl s_client: STARTTLS and implicit, the chain verified ----------
out=$(printf 'EHLO s.example\r\nQUIT\r\n' | timeout 20 openssl s_client -starttls smtp \
	-connect "127.0.0.1:$MTA_PORT" -CAfile "$C/ca.crt" -verify_hostname mx.test.example \
	-servername mx.test.example -ign_eof 2>&1)
like "$out" 'Verify return code: 0 \(ok\)' "s_client -starttls smtp: chain verified against the CA"
like "$out" 'Protocol *: TLSv1\.3' "s_client -starttls smtp: TLSv1.3"
like "$out" $'250-mx\\.test\\.example Hello s\\.example' "s_client -starttls smtp: EHLO answered over TLS"
like "$out" '221 2\.0\.0' "s_client -starttls smtp: QUIT answered"
out=$(printf 'EHLO s.example\r\nQUIT\r\n' | timeout 20 openssl s_client \
	-connect "127.0.0.1:$SMTPS" -CAfile "$C/ca.crt" -verify_hostname mx.test.example \
	-ign_eof 2>&1)
like "$out" 'Verify return code: 0 \(ok\)' "s_client --smtps: chain verified"
like "$out" '220 mx\.test\.example ESMTP' "s_client --smtps: greeting over TLS"
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -tls1_2 -connect "127.0.0.1:$SMTPS" \
	-CAfile "$C/ca.crt" -ign_eof 2>&1)
like "$out" 'Protocol *: TLSv1\.2' "s_client -tls1_2: TLS 1.2 accepted"
like "$out" 'Cipher *: ECDHE-' "s_client -tls1_2: a forward-secret suite"
# the DHE suites of the list work: the server has DH parameters
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256 \
	-connect "127.0.0.1:$SMTPS" -CAfile "$C/ca.crt" -ign_eof 2>&1)
like "$out" 'Cipher *: DHE-RSA-AES128-GCM-SHA256' "s_client -tls1_2 with a DHE suite only: agreed"
like "$out" '220 mx\.test\.example ESMTP' "s_client -tls1_2 with a DHE suite only: greeted"
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' \
	-connect "127.0.0.1:$SMTPS" -ign_eof 2>&1)
like "$out" 'alert protocol version|no protocols available|wrong version|unsupported protocol' \
	"s_client -tls1_1: refused (TLS 1.2 and 1.3 only)"
like "$out" 'Cipher is \(NONE\)' "s_client -tls1_1: no cipher agreed, no session"

# the handshake picks the pair the client can use
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -tls1_2 -sigalgs 'ECDSA+SHA256' \
	-connect "127.0.0.1:$SMTPS" -ign_eof 2>&1)
like "$out" 'Server public key is 256 bit' "a client for ECDSA gets the ECDSA certificate"
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -tls1_2 -sigalgs 'RSA+SHA256' \
	-connect "127.0.0.1:$SMTPS" -ign_eof 2>&1)
like "$out" 'Server public key is 2048 bit' "a client for RSA gets the RSA certificate"

# ---- session resumption: a ticket from one connection resumes the next ---
printf 'QUIT\r\n' | timeout 20 openssl s_client -connect "127.0.0.1:$SMTPS" \
	-CAfile "$C/ca.crt" -sess_out "$T/sess.pem" -ign_eof >/dev/null 2>&1
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -connect "127.0.0.1:$SMTPS" \
	-CAfile "$C/ca.crt" -sess_in "$T/sess.pem" -ign_eof 2>&1)
like "$out" '^Reused, TLSv1\.3' "a session ticket resumes the session (TLS 1.3)"
# one ticket per full handshake (a mail client keeps one session per
# destination; OpenSSL's default of two costs both ends a second one)
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -connect "127.0.0.1:$SMTPS" \
	-CAfile "$C/ca.crt" -msg -ign_eof 2>&1)
is "$(printf '%s\n' "$out" | grep -c '<<< .*NewSessionTicket')" 1 \
	"a full TLS 1.3 handshake is followed by one session ticket"
printf 'QUIT\r\n' | timeout 20 openssl s_client -tls1_2 -connect "127.0.0.1:$SMTPS" \
	-CAfile "$C/ca.crt" -sess_out "$T/sess12.pem" -ign_eof >/dev/null 2>&1
out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -tls1_2 -connect "127.0.0.1:$SMTPS" \
	-CAfile "$C/ca.crt" -sess_in "$T/sess12.pem" -ign_eof 2>&1)
like "$out" '^Reused, TLSv1\.2' "and a TLS 1.2 session too"

# ---- many TLS sessions at once share the one context -----------------------
res=$($PY - "$MTA_PORT" "$SMTPS" "$C/ca.crt" <<'EOF'
import smtplib, ssl, sys, threading
port, smtps, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ok = []
def one(i):
    try:
        if i % 2:
            s = smtplib.SMTP_SSL("127.0.0.1", smtps, timeout=30, context=ctx)
        else:
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            s.starttls(context=ctx)
        for k in range(3):
            s.sendmail("alice@example.org", ["many@test.example"],
                       b"Subject: many %d.%d\r\n\r\nbody\r\n" % (i, k))
        s.quit()
        ok.append(i)
    except Exception as e:
        print("# client %d: %r" % (i, e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(24)]
for t in ts: t.start()
for t in ts: t.join()
print("ok - 24 clients at once over TLS, 3 messages each" if len(ok) == 24
      else "not ok - 24 clients at once over TLS (%d done)" % len(ok))
EOF
)
tap_from "$res"
many_delivered() { [ "$(maildir_count "$MTA_MAIL/many")" -ge 72 ]; }
wait_until 30 many_delivered
is "$(maildir_count "$MTA_MAIL/many")" 72 "all 72 messages delivered"

# ---- msmtp with tls on: STARTTLS and implicit ----------------------------
# has_mail BOX - BOX has a message (a function: wait_until runs it anew)
has_mail() { [ "$(maildir_count "$MTA_MAIL/$1")" -ge 1 ]; }
if command -v msmtp >/dev/null; then
	for mode in starttls smtps; do
		if [ $mode = starttls ]; then p=$MTA_PORT st=on; else p=$SMTPS st=off; fi
		cat >"$T/msmtprc.$mode" <<-EOF
		account default
		host 127.0.0.1
		port $p
		domain msmtp.example
		from alice@example.org
		tls on
		tls_starttls $st
		tls_trust_file $C/ca.crt
		tls_host_override mx.test.example
		EOF
		chmod 600 "$T/msmtprc.$mode"
		printf 'From: alice@example.org\nTo: msmtp-%s@test.example\nSubject: msmtp\n\nbody\n' $mode |
			timeout 20 msmtp -C "$T/msmtprc.$mode" "msmtp-$mode@test.example" >"$T/msmtp.$mode" 2>&1
		ok $? "msmtp tls on ($mode): sent, certificate verified"
		wait_until 20 has_mail "msmtp-$mode"
		is "$(maildir_count "$MTA_MAIL/msmtp-$mode")" 1 "msmtp ($mode): delivered"
	done
else
	skip "msmtp is not installed (make test-deps)" 4
fi

# ---- plaintext injection behind STARTTLS (CVE-2011-0411) ------------------
res=$($PY - "$MTA_PORT" "$C/ca.crt" <<'EOF'
import socket, ssl, sys
from smtpraw import Client, check, check_eq
port, ca = int(sys.argv[1]), sys.argv[2]
c = Client(port, timeout=10)
check("inject: greeting", c.reply(), "^220 ")
check("inject: EHLO", c.cmd("EHLO inj.example"), "250-STARTTLS")
# one write: STARTTLS and a whole transaction behind it, in the clear,
# EHLO first, so that a server that ran it would queue a message
c.send("STARTTLS\r\nEHLO injected.example\r\nMAIL FROM:<injected@example.org>\r\n"
       "RCPT TO:<inj@test.example>\r\nDATA\r\nSubject: injected\r\n\r\n"
       "injected\r\n.\r\n")
check_eq("inject: only the 220 comes back, nothing for the injected lines",
         c.reply(), "220 2.0.0 Ready to start TLS\r\n")
check_eq("inject: nothing more in the clear", c.buf, b"")
ctx = ssl.create_default_context(cafile=ca)
tls = ctx.wrap_socket(c.s, server_hostname="mx.test.example")
f = tls.makefile("rwb")
def cmd(line):
    f.write(line.encode() + b"\r\n"); f.flush()
    out = b""
    while True:
        l = f.readline()
        out += l
        if len(l) < 4 or l[3:4] != b"-":
            return out.decode("latin-1")
# the first reply over TLS answers the first command sent over TLS (214),
# not one of the injected commands (EHLO's 250, MAIL's...)
check("inject: the first reply over TLS is HELP's", cmd("HELP"), r"^214 ")
# the session is reset to before EHLO: the injected EHLO and MAIL did not happen
check("inject: after TLS, MAIL needs EHLO first", cmd("MAIL FROM:<x@example.org>"),
      r"^503 5\.5\.1 Send HELO or EHLO first")
check("inject: EHLO over TLS", cmd("EHLO inj.example"), r"^250-")
check("inject: RCPT without MAIL is 503: the injected MAIL was not run",
      cmd("RCPT TO:<inj@test.example>"), r"^503 5\.5\.1 Need MAIL before RCPT")
cmd("QUIT")
EOF
)
tap_from "$res"
lacks -q 'injected@example.org' "$MTA_LOG"; ok $? "inject: the injected sender never reached the log"
is "$(log_count ' queued .*injected')" 0 "inject: nothing queued from the injected transaction"
is "$(maildir_count "$MTA_MAIL/inj")" 0 "inject: nothing delivered to the injected recipient"

# ---- a failed handshake closes that connection only -----------------------
errors0=$(log_count 'tls-error error=')
failed0=$(log_count 'reason=tls-failed')
res=$($PY - "$MTA_PORT" "$SMTPS" <<'EOF'
import sys
from smtpraw import Client, check
port, smtps = int(sys.argv[1]), int(sys.argv[2])
c = Client(port, timeout=10)
c.reply()
c.cmd("EHLO garbage.example")
check("garbage: STARTTLS accepted", c.cmd("STARTTLS"), "^220 2.0.0")
c.send(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4)
check("garbage after STARTTLS: the connection is closed", str(c.closed(10)), "True")
c = Client(smtps, timeout=10)
c.send(b"EHLO plain.example\r\n")
check("plaintext on --smtps: the connection is closed", str(c.closed(10)), "True")
EOF
)
tap_from "$res"
tls_failed_at_least() { [ "$(log_count 'reason=tls-failed')" -ge "$1" ]; }
wait_until 10 tls_failed_at_least $((failed0 + 2))
is "$(log_count 'tls-error error=')" $((errors0 + 2)) "both failed handshakes logged with their reason"
is "$(log_count 'reason=tls-failed')" $((failed0 + 2)) "both connections ended reason=tls-failed"
out=$(swaks --server "127.0.0.1:$MTA_PORT" --tls --from alice@example.org \
	--to after@test.example --timeout 10 2>&1)
like "$out" '<~  250 2\.0\.0 Ok: queued as' "the daemon serves the next client over TLS"
ok "$(mta_running; echo $?)" "the daemon is still running"

# ---- accepted connections have TCP_NODELAY ---------------------------------
# (without it a reply after the TLS 1.3 session tickets waits for the
# client's delayed ACK)
if [ -z "$STRACE" ]; then
	skip "strace is not installed" 1
elif ! strace_attach "$T/nodelay.strace" -e trace=accept4,setsockopt; then
	skip "strace cannot attach here: $(head -1 "$T/strace.err")" 1
else
	printf 'QUIT\r\n' | smtp_chat "$MTA_PORT" >/dev/null
	printf 'QUIT\r\n' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$SMTPS" \
		>/dev/null 2>&1
	nodelay_twice() { [ "$(grep -c 'TCP_NODELAY, \[1\]' "$T/nodelay.strace")" -ge 2 ]; }
	wait_until 10 nodelay_twice
	strace_detach
	is "$(grep -c 'TCP_NODELAY, \[1\]' "$T/nodelay.strace")" 2 \
		"TCP_NODELAY set on both accepted connections (STARTTLS port, --smtps)"
fi

# ---- SIGTERM with handshakes stalled: they do not hold the shutdown ---------
# one client silent on --smtps, one silent after STARTTLS's 220; the
# daemon must not wait for them (--timeout, 300 s) nor the 30 s grace
$PY - "$MTA_PORT" "$SMTPS" "$T/stalled.ready" >"$T/stalled.out" 2>&1 <<'EOF' &
import socket, sys
from smtpraw import Client
port, smtps, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
quiet = socket.create_connection(("127.0.0.1", smtps), 10)
c = Client(port, timeout=10)
c.reply()
c.cmd("EHLO stall.example")
print(c.cmd("STARTTLS").strip(), flush=True)
open(ready, "w").close()
# held until the daemon closes them (at most 60 s)
for sock in (quiet, c.s):
    sock.settimeout(60)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
EOF
track $!
wait_until 20 test -f "$T/stalled.ready"
two_open() { [ "$(log_count ' connect ')" -ge $(($(log_count ' disconnect ') + 2)) ]; }
wait_until 20 two_open
kill -TERM "$MTA_PID"
wait_for 10 test -f "$MTA_STATUS_FILE"
ok $? "SIGTERM with two handshakes stalled: the daemon exits within 10 s"
is "$(stop_mta)" 0 "the daemon stops with status 0"
is "$(log_count 'disconnect .*reason=stopping')" 2 "both stalled connections ended reason=stopping"

# ---- over the limit on --smtps: closed without a word in the clear -------
SMTPS2=$(free_port)
MTA_DIR=$T/limit start_mta --max-clients 1 --smtps "127.0.0.1:$SMTPS2" \
	--tls-cert "$C/ec-chain.crt" --tls-key "$C/ec.key" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
res=$($PY - "$MTA_PORT" "$SMTPS2" <<'EOF'
import socket, sys
from smtpraw import Client, check
port, smtps = int(sys.argv[1]), int(sys.argv[2])
held = Client(port, timeout=10)
check("limit: the one client allowed is greeted", held.reply(), "^220 ")
def refused(p):
    s = socket.create_connection(("127.0.0.1", p), 10)
    s.settimeout(10)
    got = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError:
        pass
    return got.decode("latin-1")
check("limit: one more on the STARTTLS port gets 421", refused(port), r"^421 4\.7\.0 ")
check("limit: one more on --smtps is closed without a byte in the clear",
      repr(refused(smtps)), r"^''$")
held.cmd("QUIT")
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "the daemon with --max-clients 1 stops with status 0"

# ---- start-up errors: exit 1 with a clear message --------------------------
# start_up_error EXPECTED-REGEX NAME OPTIONS... - mta-smtpd exits 1 at once
start_up_error() {
	local want=$1 name=$2 err st
	shift 2
	mkdir -p "$T/bad/q" "$T/bad/m"
	err=$(timeout 20 "$MTA_BIN/mta-smtpd" -q "$T/bad/q" -m "$T/bad/m" \
		-l "127.0.0.1:$(free_port)" -L "$T/bad/log" "$@" 2>&1 >/dev/null)
	st=$?
	is "$st" 1 "$name: exit 1"
	like "$err" "$want" "$name: the message says why"
}
start_up_error "^mta-smtpd: --tls-cert $C/missing\\.crt: No such file or directory\$" \
	"missing certificate file" --tls-cert "$C/missing.crt" --tls-key "$C/rsa.key"
start_up_error "^mta-smtpd: --tls-key $C/missing\\.key: No such file or directory\$" \
	"missing key file" --tls-cert "$C/rsa.crt" --tls-key "$C/missing.key"
start_up_error "^mta-smtpd: --tls-key $C/ec\\.key.*(mismatch|match)" \
	"a key that is not the certificate's" --tls-cert "$C/rsa.crt" --tls-key "$C/ec.key"
start_up_error "^mta-smtpd: --tls-cert $C/rsa\\.key: " \
	"a key given as the certificate" --tls-cert "$C/rsa.key" --tls-key "$C/rsa.key"
openssl pkey -in "$C/rsa.key" -aes256 -passout pass:secret -out "$C/enc.key" 2>/dev/null
start_up_error "^mta-smtpd: --tls-key $C/enc\\.key: encrypted keys are not supported\$" \
	"an encrypted key (no passphrase prompt)" --tls-cert "$C/rsa.crt" --tls-key "$C/enc.key"
# on a terminal too, where OpenSSL's own prompt would wait for a passphrase
if command -v script >/dev/null; then
	mkdir -p "$T/tty/q" "$T/tty/m"
	timeout 20 script -qec "'$MTA_BIN/mta-smtpd' -q '$T/tty/q' -m '$T/tty/m' \
		-l 127.0.0.1:$(free_port) -L '$T/tty/log' --tls-cert '$C/rsa.crt' \
		--tls-key '$C/enc.key'" /dev/null >"$T/tty.out" 2>&1 </dev/null
	is "$?" 1 "an encrypted key on a terminal: exit 1, no prompt waiting"
else
	skip "script(1) is not installed" 1
fi
start_up_error "^mta-smtpd: 1 --tls-cert but 0 --tls-key" \
	"a certificate without a key" --tls-cert "$C/rsa.crt"
start_up_error "^mta-smtpd: --smtps 127\\.0\\.0\\.1:[0-9]+ needs --tls-cert" \
	"--smtps without a certificate" --smtps "127.0.0.1:$(free_port)"

done_testing
