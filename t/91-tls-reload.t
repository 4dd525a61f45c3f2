#!/bin/bash
# t/91-tls-reload.t - certificates from the --config file, read again at
# SIGHUP: a renewed certificate (same file names, new serial) is what the
# next handshakes present, seen with openssl s_client; a connection that
# began before the reload keeps its snapshot (its STARTTLS after the
# reload still presents the old certificate, and its mail goes through);
# a broken pair, or a missing key, at SIGHUP is logged and the running
# certificate stays.  As root with --user nobody and a key only root may
# read, SIGHUP keeps the running certificates with a reload-warning that
# names the key, and applies the rest of the reload.
. "$(dirname "$0")/lib/common.sh"
. "$TLIB/tlscerts.sh"

plan 25

C=$T/certs
mkdir -p "$C"
if ! make_ca "$C" || ! make_cert "$C" one mx.test.example ec 0A ||
   ! make_cert "$C" two mx.test.example ec 0B ||
   ! make_cert "$C" other other.example rsa 0C; then
	echo "Bail out! openssl could not make the test certificates"
	cat "$C"/*.err >&2
	exit 1
fi
# the files the daemon reads: "renewed" by copying over them
cp "$C/one-chain.crt" "$C/live.crt"
cp "$C/one.key" "$C/live.key"

SMTPS=$(free_port)
cat >"$T/mta.conf" <<EOF
# TLS from the configuration file
tls-cert $C/live.crt
tls-key $C/live.key
smtps 127.0.0.1:$SMTPS
EOF
start_mta --config "$T/mta.conf" || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_port 127.0.0.1 "$SMTPS" || { echo "Bail out! no --smtps listener"; exit 1; }

# serial PORT [starttls] - the serial number the server presents
serial() {
	local how=()
	[ "${2:-}" = starttls ] && how=(-starttls smtp)
	printf 'QUIT\r\n' | timeout 20 openssl s_client "${how[@]}" -connect "127.0.0.1:$1" \
		-CAfile "$C/ca.crt" -ign_eof 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null
}
# reloads - how many "reload status=ok" lines; reload_errors likewise
reloads() { log_count ' reload status=ok'; }
reload_errors() { log_count ' reload status=error'; }
# hup - SIGHUP, and wait until one more reload line (ok or error) is logged
reload_lines() { echo $(( $(reloads) + $(reload_errors) )); }
more_reload_lines() { [ "$(reload_lines)" -gt "$1" ]; }
hup() {
	local before
	before=$(reload_lines)
	kill -HUP "$MTA_PID"
	wait_until 20 more_reload_lines "$before"
}

is "$(serial "$MTA_PORT" starttls)" "serial=0A" "STARTTLS presents the certificate from the config file"
is "$(serial "$SMTPS")" "serial=0A" "--smtps from the config file presents it too"

# A client connects in the clear before the renewal and says STARTTLS
# after it: its session keeps the snapshot it started with.
mkfifo "$T/go" "$T/ready"
$PY - "$MTA_PORT" "$C/ca.crt" "$T/ready" "$T/go" >"$T/early.out" 2>&1 <<'EOF' &
import ssl, sys
from smtpraw import Client, check
port, ca, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = Client(port, timeout=20)
c.reply()
check("early client: EHLO before the reload", c.cmd("EHLO early.example"), "250-STARTTLS")
open(ready, "w").close()          # the reload may come now
open(go).read()                   # ... and has come
check("early client: STARTTLS after the reload", c.cmd("STARTTLS"), "^220 ")
ctx = ssl.create_default_context(cafile=ca)
tls = ctx.wrap_socket(c.s, server_hostname="mx.test.example")
check("early client: its session's certificate, not the renewed one",
      tls.getpeercert()["serialNumber"], "^0A$")
f = tls.makefile("rwb")
def cmd(line):
    f.write(line.encode() + b"\r\n"); f.flush()
    out = b""
    while True:
        l = f.readline()
        out += l
        if len(l) < 4 or l[3:4] != b"-":
            return out.decode("latin-1")
cmd("EHLO early.example")
cmd("MAIL FROM:<a@example.org>")
cmd("RCPT TO:<early@test.example>")
cmd("DATA")
check("early client: its message is accepted after the reload",
      cmd("Subject: early\r\n\r\nbody\r\n."), "^250 2.0.0 ")
cmd("QUIT")
EOF
early=$!
track "$early"
cat "$T/ready" >/dev/null

# ---- renewal: same file names, a new certificate ---------------------------
cp "$C/two-chain.crt" "$C/live.crt"
cp "$C/two.key" "$C/live.key"
hup
is "$(reloads)" 1 "SIGHUP with the renewed files: reload status=ok"
is "$(serial "$MTA_PORT" starttls)" "serial=0B" "STARTTLS now presents the renewed certificate"
is "$(serial "$SMTPS")" "serial=0B" "--smtps too"
echo go >"$T/go"
wait "$early"
tap_from "$(cat "$T/early.out")"

# ---- a broken pair at SIGHUP: logged, the running certificate stays --------
cp "$C/other.crt" "$C/live.crt"           # the key is still two's
hup
is "$(reload_errors)" 1 "a certificate that is not its key's: reload status=error"
like "$(grep ' reload status=error' "$MTA_LOG" | tail -1)" \
	"action=kept error=.*--tls-key $C/live.key.*match" "the log says which file and why"
is "$(serial "$MTA_PORT" starttls)" "serial=0B" "the running certificate stays"
rm -f "$C/live.key"
hup
is "$(reload_errors)" 2 "a missing key at SIGHUP: reload status=error"
like "$(grep ' reload status=error' "$MTA_LOG" | tail -1)" \
	"error=\"--tls-key $C/live.key: No such file or directory\"" \
	"the log names the missing file"
is "$(serial "$SMTPS")" "serial=0B" "the running certificate still stays"

# ---- repaired: the next reload takes it ------------------------------------
cp "$C/one-chain.crt" "$C/live.crt"
cp "$C/one.key" "$C/live.key"
hup
is "$(reloads)" 2 "repaired files: reload status=ok"
is "$(serial "$MTA_PORT" starttls)" "serial=0A" "the repaired pair is presented"
ok "$(mta_running; echo $?)" "the daemon ran through every reload"
is "$(stop_mta)" 0 "the daemon stops with status 0"

# ---- --user nobody, a key only root may read -------------------------------
if [ "$(id -u)" != 0 ]; then
	skip "needs root" 6
elif ! id -u nobody >/dev/null 2>&1; then
	skip "no user nobody" 6
else
	chmod 755 "$T" "$C"
	P=$T/priv
	mkdir -p "$P"
	chmod 755 "$P"
	cp "$C/one-chain.crt" "$P/live.crt"
	cp "$C/one.key" "$P/live.key"
	chmod 644 "$P/live.crt"
	chmod 600 "$P/live.key"          # root's, as a renewal tool leaves it
	touch "$P/log"
	chown nobody "$P/log"
	PP=$(free_port)
	printf 'tls-cert %s\ntls-key %s\nmax-size 1000000\n' "$P/live.crt" "$P/live.key" >"$P/mta.conf"
	chmod 644 "$P/mta.conf"
	"$MTA_BIN/mta-smtpd" --config "$P/mta.conf" -q "$P/q" -m "$P/m" -L "$P/log" \
		-l "127.0.0.1:$PP" --user nobody --hostname mx.test.example -d test.example 2>"$P/err" &
	PRIV_PID=$!
	track "$PRIV_PID"
	wait_port 127.0.0.1 "$PP" 10 || { echo "Bail out! mta-smtpd --user nobody did not start"; exit 1; }
	is "$(serial "$PP" starttls)" "serial=0A" "--user nobody: the key read as root at start"
	# renewed by root (0600), and an unrelated change in the file
	cp "$C/two-chain.crt" "$P/live.crt"
	cp "$C/two.key" "$P/live.key"
	sed -i 's/^max-size .*/max-size 2000000/' "$P/mta.conf"
	kill -HUP "$PRIV_PID"
	wait_until 20 grep -q ' reload status=' "$P/log"
	like "$(grep ' reload status=' "$P/log")" 'reload status=ok' \
		"SIGHUP as nobody with a key only root reads: reload status=ok"
	like "$(grep ' reload-warning' "$P/log")" \
		"tls=kept error=\"--tls-key $P/live\\.key: Permission denied\"" \
		"a reload-warning names the key that could not be read"
	like "$(printf 'EHLO c.example\r\nQUIT\r\n' | smtp_chat "$PP")" 'SIZE 2000000' \
		"the rest of the reload was applied (max-size)"
	is "$(serial "$PP" starttls)" "serial=0A" "the running certificate stays"
	kill -TERM "$PRIV_PID"
	wait "$PRIV_PID"
	is "$?" 0 "--user nobody: SIGTERM, exit 0"
fi

done_testing
