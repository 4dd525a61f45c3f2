#!/bin/bash
# t/39-lmtp.t - --lmtp: local mailboxes delivered to a real Dovecot
# (private instance, t/lib/dovecot.sh) over LMTP, read back through
# its IMAP with python3 imaplib as a user would:
#   - one message to several users, over the unix socket, in one
#     delivery and one LMTP transaction (grouped): local users as
#     bare logins, a virtual domain's as user@domain; each body read back
#     through IMAP equals what was sent; Dovecot wrote Return-Path:
#     (and Delivered-To: for a lone recipient); --check-address shows
#     the user asked for;
#   - a user over quota gets 452 4.2.2 after the dot for that recipient
#     only: deferred (still queued), the others delivered;
#   - the deliveries to one server share one connection (kept between
#     them, --max-lmtp 1);
#   - a user unknown to Dovecot: 550 5.1.1 -> failed -> a bounce (its
#     Remote-MTA the socket path, type x-unix), itself
#     delivered over LMTP into the sender's mailbox;
#   - NOTIFY=SUCCESS: a "delivered" report (the LMTP server is final);
#   - Dovecot stopped: deferred (nothing lost); started again: delivered;
#   - the same over TCP (HOST:PORT), from a second mta-smtpd.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/dovecot.sh"

plan 25

[ "$(id -u)" = 0 ] || skip_all "needs root to run a private Dovecot"
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/lmtp ] ||
	skip_all "dovecot-core and dovecot-lmtpd are not installed"

dovecot_lmtp_setup "$T/dovecot" 127.0.0.39 alice:pa bob:pb carol:pc \
	full:pf:1K dave@virt.example:pd
dovecot_lmtp_start || { echo "Bail out! Dovecot did not start"; exit 1; }

printf 'dave@virt.example dave@virt.example\n' >"$T/virtual"

# send PORT FROM TOKEN RCPT... - one message; its body names TOKEN
send() {
	$PY - "$@" <<'EOF'
import smtplib, sys
port, sender, token, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
body = ("Subject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\n"
        "Hello, %s\r\n.a line with a dot\r\n%s\r\n" % (token, token, token, "x" * 900))
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.sendmail(sender, rcpts, body.encode())
s.quit()
EOF
}

# imap_check USER PASS TOKEN... - for each TOKEN, "TOKEN ok" when the
# user's INBOX holds one message with that subject whose body is what
# send() sent, else why not
imap_check() {
	$PY - "$DOVECOT_IP" "$DOVECOT_IMAP_PORT" "$@" <<'EOF'
import imaplib, sys
host, port, user, pw, tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
m = imaplib.IMAP4(host, port)
m.login(user, pw)
m.select("INBOX", readonly=True)
out = []
for t in tokens:
    typ, data = m.search(None, "SUBJECT", t)
    ids = data[0].split()
    if len(ids) != 1:
        out.append("%s: %d messages" % (t, len(ids)))
        continue
    typ, data = m.fetch(ids[0], "(BODY.PEEK[TEXT])")
    body = data[0][1].decode()
    want = "Hello, %s\r\n.a line with a dot\r\n%s\r\n" % (t, "x" * 900)
    out.append("%s ok" % t if body == want else "%s: body differs: %r" % (t, body[:80]))
m.logout()
print(" ".join(out))
EOF
}

# hdrs USER PASS TOKEN - the Return-Path: and Delivered-To: fields of the
# message TOKEN in USER's INBOX, on one line
hdrs() {
	$PY - "$DOVECOT_IP" "$DOVECOT_IMAP_PORT" "$@" <<'EOF'
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login(sys.argv[3], sys.argv[4])
m.select("INBOX", readonly=True)
typ, data = m.search(None, "SUBJECT", sys.argv[5])
typ, d = m.fetch(data[0].split()[0], "(BODY.PEEK[HEADER.FIELDS (RETURN-PATH DELIVERED-TO)])")
print(" ".join(d[0][1].decode().split()))
EOF
}

# wait_log PATTERN COUNT [SECONDS] - until the log has COUNT lines
# matching PATTERN (extended regex)
wait_log() {
	local i
	for i in $(seq $((${3:-20} * 10))); do
		[ "$(grep -Ec -- "$1" "$MTA_LOG")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

start_mta --lmtp "$DOVECOT_LMTP_SOCKET" --max-lmtp 1 --virtual "$T/virtual" \
	--retry 1 --attempts 1000 --dead-hop-time 1 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# 1. several users, one of them over quota
send "$MTA_PORT" carol@test.example tok-one alice@test.example \
	bob@test.example full@test.example dave@virt.example
wait_log 'delivered .*via=lmtp' 3
log=$(cat "$MTA_LOG")
for r in alice@test.example bob@test.example dave@virt.example; do
	like "$log" "delivered id=[^ ]* rcpt=<?$r>? via=lmtp" "$r delivered over LMTP"
done
wait_log 'deferred .*rcpt=<?full@test.example' 1
like "$(grep 'rcpt=<\?full@' "$MTA_LOG")" \
	'deferred .*via=lmtp .*452 4\.2\.2 <full> Quota exceeded' \
	"the user over quota: 452 4.2.2 for that recipient, deferred"
is "$(grep -c 'delivered .*rcpt=<\?full@' "$MTA_LOG")" 0 "... and not delivered"
like "$log" "delivery-group id=[^ ]* rcpts=4 via=lmtp dest=lmtp:$DOVECOT_LMTP_SOCKET" \
	"the four recipients of the message (two domains): one delivery"
is "$(grep 'msgid=<tok-one@example.org>: saved mail' "$DOVECOT_LOG" |
	sed -n 's/^.*lmtp([^)]*)<[0-9]*><\([^>:]*\)[^>]*>.*/\1/p' | sort | uniq -c | awk '{print $1}')" 3 \
	"Dovecot: the three saved in one LMTP transaction (one session id)"
is "$(count_queued)" 1 "... its message still queued"
is "$(imap_check alice pa tok-one) $(imap_check bob pb tok-one) $(imap_check dave@virt.example pd tok-one)" \
	"tok-one ok tok-one ok tok-one ok" \
	"IMAP: each user's message, body as sent (a virtual user as user@domain)"
# Dovecot writes Delivered-To: only for a transaction of one recipient
is "$(hdrs alice pa tok-one)" "Return-Path: <carol@test.example>" \
	"Dovecot wrote Return-Path: (the sender), no Delivered-To: (several recipients)"
is "$(grep -c 'lmtp([0-9]*): Info: Connect from local' "$DOVECOT_LOG")" 1 \
	"the deliveries shared one LMTP connection"

# 2. unknown at the LMTP server: 550 -> failed -> bounce to carol
send "$MTA_PORT" carol@test.example tok-unknown nosuch@test.example
wait_log 'bounce id=' 1
like "$(grep 'rcpt=<\?nosuch@' "$MTA_LOG")" "failed .*via=lmtp .*550 5\.1\.1" \
	"a user Dovecot does not know: 550 5.1.1, failed"
wait_log 'delivered .*rcpt=<?carol@test.example' 1
bounce=$($PY - "$DOVECOT_IP" "$DOVECOT_IMAP_PORT" <<'EOF'
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login("carol", "pc")
m.select("INBOX", readonly=True)
typ, data = m.search(None, "ALL")
for i in data[0].split():
    typ, d = m.fetch(i, "(BODY.PEEK[])")
    print(d[0][1].decode(errors="replace"))
EOF
)
like "$bounce" "nosuch@test\.example" "the bounce reached the sender's mailbox through LMTP"
# RFC 3464 2.3.5: a unix socket has no host name: its path, not "dns;"
like "$bounce" "Remote-MTA: x-unix; /[^[:space:]]*lmtp" \
	"the bounce's Remote-MTA names the LMTP socket's path (x-unix)"

# 2b. NOTIFY=SUCCESS: the LMTP server is the mailbox, the report says
# "delivered" (made here: the server takes no DSN parameters)
$PY - "$MTA_PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo()
s.sendmail("carol@test.example", ["bob@test.example"],
           b"Subject: tok-notify\r\n\r\nnotify me\r\n", rcpt_options=["NOTIFY=SUCCESS"])
s.quit()
EOF
wait_log 'success-report ' 1
like "$(grep 'success-report ' "$MTA_LOG")" "rcpt=<?bob@test\.example>? to=<?carol@test\.example>? action=delivered" \
	"NOTIFY=SUCCESS over LMTP: a 'delivered' report to the sender"
is "$(hdrs bob pb tok-notify)" "Return-Path: <carol@test.example> Delivered-To: bob" \
	"alone in its transaction: Delivered-To: the user asked for"

# 3. Dovecot stopped: deferred; back: delivered
stop_dovecot
send "$MTA_PORT" carol@test.example tok-down bob@test.example
wait_log 'deferred .*rcpt=<?bob@test.example' 1
# the first delivery to find it down may be full's retry: then bob's
# is deferred by the dead-hop memory (--dead-hop-time) without a try
# (the over-quota replies left out by their text: a bare "452" can be in
# a line's timestamp, queue ID or time=)
like "$(grep 'deferred .*via=lmtp' "$MTA_LOG" | grep -v '452 4\.2\.2')" \
	"unix:$DOVECOT_LMTP_SOCKET: (Connection refused|No such file|greeting: )" \
	"Dovecot down (or going): deferred, the socket refusing or closing"
is "$(count_queued)" 2 "... the message kept (and full's)"
dovecot_lmtp_start || diag "Dovecot did not start again"
wait_log 'delivered .*rcpt=<?bob@test.example' 3 30   # tok-one, tok-notify, tok-down
is "$(imap_check bob pb tok-down)" "tok-down ok" "Dovecot back: delivered, read back through IMAP"

like "$("$MTA_BIN/mta-smtpd" -d test.example --virtual "$T/virtual" --lmtp "$DOVECOT_LMTP_SOCKET" \
	--check-address dave@virt.example)" "^virtual dave@virt\.example lmtp:$DOVECOT_LMTP_SOCKET <dave@virt\.example>$" \
	"--check-address names the LMTP server and the user asked for"

# 4. over TCP, from a second daemon
main_log=$MTA_LOG
MTA_DIR=$T/b start_mta --lmtp "$DOVECOT_IP:$DOVECOT_LMTP_PORT" --retry 1 ||
	{ echo "Bail out! the second mta-smtpd did not start"; exit 1; }
send "$MTA_PORT" bob@test.example tok-tcp alice@test.example carol@test.example
wait_log 'delivered .*via=lmtp' 2
is "$(grep -c 'delivered .*via=lmtp' "$MTA_LOG")" 2 "over TCP: both delivered"
is "$(imap_check alice pa tok-tcp) $(imap_check carol pc tok-tcp)" "tok-tcp ok tok-tcp ok" \
	"over TCP: read back through IMAP"
like "$(cat "$DOVECOT_LOG")" "lmtp\([0-9]*\): Info: Connect from 127\.0\.0\.1" \
	"Dovecot saw the TCP connection"
is "$(stop_mta)" 0 "the second daemon exits 0"
MTA_LOG=$main_log
is "$(grep -c 'delivered .*rcpt=<\?full@' "$MTA_LOG")" 0 "the user over quota is still deferred"
done_testing
