#!/bin/bash
# t/50-send-inject.t - mta-send as a sendmail: one message from stdin,
# recipients from arguments or (-t) from To/Cc/Bcc with Bcc removed, the
# sysexits.h exit codes with the server's reply on stderr.  Against
# aiosmtpd (t/lib/sink.py: no PIPELINING) and against mta-smtpd
# (PIPELINING, SIZE, local delivery).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/sink.sh"

# sysexits.h
EX_USAGE=64 EX_DATAERR=65 EX_NOUSER=67 EX_UNAVAILABLE=69 EX_TEMPFAIL=75

plan 79

SEND=$MTA_BIN/mta-send
start_sink inj \
	--rule 'rcpt:^refuse-=550 5.1.1 no such user' \
	--rule 'rcpt:^later-=450 4.2.1 mailbox busy, try later' \
	--rule 'data:X-Refuse: yes=554 5.6.0 content refused' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
S=127.0.0.1:$SINK_PORT

# ---- recipients as arguments ------------------------------------------
printf 'Subject: one\n\nbody\n' >"$T/one.eml"
out=$("$SEND" -s "$S" -f alice@example.org bob@example.net \
	'Carol <carol@example.net>' <"$T/one.eml" 2>&1)
is "$?" 0 "arguments: exit 0"
is "$out" "" "arguments: nothing on stdout or stderr"
is "$(sink_get 0 mail_from)" "alice@example.org" "arguments: -f is the sender"
is "$(sink_get 0 rcpt_tos | tr '\n' ' ')" "bob@example.net carol@example.net " \
	"arguments: both recipients, 'Name <addr>' form understood"
printf 'Subject: one\r\nFrom: alice@example.org\r\n\r\nbody\r\n' >"$T/want"
sink_get 0 data >"$T/got"
cmp -s "$T/got" "$T/want"
ok $? "arguments: message arrives as sent, CRLF, with the From: it lacked"
like "$(sink_get 0 mail_options)" '^SIZE=[0-9]+$' "SIZE= sent (aiosmtpd offers SIZE)"

# ---- default sender, $MTA_SERVER, sendmail flags -------------------------
MTA_SERVER=$S "$SEND" -i -oi -odb -oem -FCronDaemon -B 7BIT bob@example.net \
	<"$T/one.eml"
is "$?" 0 "-i -oi -odb -oem -F -B accepted, \$MTA_SERVER used"
is "$(sink_get 0 mail_from)" "$(id -un)@$(hostname)" \
	"no -f: the sender is user@hostname"
printf 'Subject: x\n\nhi\n' | "$SEND" -s "$S" -f me bob@example.net
is "$(sink_get 0 mail_from)" "me@$(hostname)" "a bare -f name gets @hostname"

# ---- -t: To, Cc, Bcc; Bcc removed ------------------------------------
cat >"$T/t.eml" <<'EOF'
From: Alice <alice@example.org>
To: bob@example.net,
  "Doe, Jane" <jane@example.net> (the boss)
Cc: team: carol@example.net, dan@example.net;, undisclosed-recipients:;
Bcc: hidden1@example.net,
	Hidden Two <hidden2@example.net>
Subject: -t test
X-Keep: after bcc

Bcc: this body line stays
EOF
"$SEND" -s "$S" -t -f alice@example.org <"$T/t.eml"
is "$?" 0 "-t: exit 0"
is "$(sink_get 0 rcpt_tos | tr '\n' ' ')" \
	"bob@example.net carol@example.net dan@example.net hidden1@example.net hidden2@example.net jane@example.net " \
	"-t: every To/Cc/Bcc address, folded lines, groups, comments, quotes"
sink_get 0 data >"$T/got"
sed '/^\r$/q' "$T/got" | grep -qi '^bcc:'
is "$?" 1 "-t: no Bcc: field in the header"
grep -q 'hidden' "$T/got"; is "$?" 1 "-t: no Bcc continuation line left either"
grep -q '^X-Keep: after bcc' "$T/got"; ok $? "-t: the field after Bcc is kept"
grep -q '^Bcc: this body line stays' "$T/got"; ok $? "-t: a body line is not a field"
grep -q '^Cc: team: carol' "$T/got"; ok $? "-t: To and Cc stay"

"$SEND" -s "$S" -t extra@example.net <"$T/t.eml"
is "$(sink_get 0 rcpt_tos | grep -c .)" 7 "-t with an argument: both are used"

n0=$(sink_count)
out=$(printf 'From: a@example.org\nSubject: nobody\n\nhi\n' | "$SEND" -s "$S" -t 2>&1)
is "$?" "$EX_USAGE" "-t without recipients: EX_USAGE (64)"
like "$out" "no recipient addresses found" "-t without recipients: says why"
out=$(printf 'Subject: x\n\nhi\n' | "$SEND" -s "$S" 2>&1)
is "$?" "$EX_USAGE" "no recipients at all: EX_USAGE"
out=$(printf 'Subject: x\n\nhi\n' | "$SEND" -s "$S" 'John Doe' 2>&1)
is "$?" "$EX_USAGE" "an argument that is no address: EX_USAGE"
is "$(sink_count)" "$n0" "nothing was sent by the refused invocations"

# ---- a leading mbox From_ line (git format-patch), skipped -------------
# real git format-patch output when git is there, else the same shape
make_patch() {
	local repo=$T/gitrepo
	if command -v git >/dev/null 2>&1 && mkdir -p "$repo" &&
	   (cd "$repo" && export HOME=$T GIT_CONFIG_NOSYSTEM=1 &&
	    git init -q . && printf 'one\ntwo\n' >frob.c && git add frob.c &&
	    git -c user.name='Pat Ch' -c user.email=pat@example.org commit -q \
	        -m 'frob: fix the frobnicator' &&
	    printf 'one\n.\ntwo\n' >frob.c &&
	    git -c user.name='Pat Ch' -c user.email=pat@example.org commit -q -a \
	        -m 'frob: a dot line' \
	        -m 'From the start of a body line: not a From_ line.' &&
	    git format-patch -1 --stdout --to=bob@example.net) >"$T/patch.eml"; then
		return
	fi
	printf 'From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\nFrom: Pat Ch <pat@example.org>\nDate: Mon, 2 Jan 2023 10:00:00 +0000\nSubject: [PATCH] frob: a dot line\nTo: bob@example.net\n\nFrom the start of a body line: not a From_ line.\n---\n frob.c | 1 +\n\n-- \n2.39.2\n\n' >"$T/patch.eml"
}
make_patch
like "$(head -1 "$T/patch.eml")" '^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$' \
	"format-patch: the input starts with an mbox From_ line"
tail -n +2 "$T/patch.eml" | sed 's/$/\r/' >"$T/patch.want"
n0=$(sink_count)
"$SEND" -s "$S" -t -f alice@example.org <"$T/patch.eml"
is "$?" 0 "format-patch, -t: exit 0"
is "$(sink_count)" "$((n0 + 1))" "format-patch, -t: sent"
is "$(sink_get 0 rcpt_tos)" "bob@example.net" "format-patch, -t: To: found below the From_ line"
sink_get 0 data >"$T/got"
cmp -s "$T/got" "$T/patch.want"
ok $? "format-patch, -t: arrives byte for byte without its From_ line (header kept as header)"
"$SEND" -s "$S" -f alice@example.org carol@example.net <"$T/patch.eml"
sink_get 0 data >"$T/got"
cmp -s "$T/got" "$T/patch.want"
ok $? "format-patch, recipient as argument: the same, no From_ line"

# ---- -f 'Name <addr>' ----------------------------------------------------
printf 'From: x@example.org\nSubject: f\n\nhi\n' |
	"$SEND" -s "$S" -f 'Bob Sender <bob@example.org>' carol@example.net
is "$?" 0 "-f 'Name <addr>': exit 0"
is "$(sink_get 0 mail_from)" "bob@example.org" "-f 'Name <addr>': the address is the sender"
n0=$(sink_count)
out=$(printf 'Subject: f\n\nhi\n' | "$SEND" -s "$S" -f 'a@example.org, b@example.org' \
	carol@example.net 2>&1)
is "$?" "$EX_USAGE" "-f with two addresses: EX_USAGE"
like "$out" "bad sender address" "-f with two addresses: says why"
is "$(sink_count)" "$n0" "-f with two addresses: nothing sent"

# ---- -F: the full name in the From: field mta-send adds ------------------
printf 'Subject: f\n\nhi\n' |
	"$SEND" -s "$S" -f alice@example.org -F 'Alice Example' carol@example.net
is "$?" 0 "-F: exit 0"
printf 'Subject: f\r\nFrom: Alice Example <alice@example.org>\r\n\r\nhi\r\n' >"$T/want"
sink_get 0 data >"$T/got"
cmp -s "$T/got" "$T/want"; ok $? "-F: From: Alice Example <alice@example.org> added after the header"
printf 'Subject: f\n\nhi\n' |
	"$SEND" -s "$S" -f alice@example.org -F 'A. "Al" Example' carol@example.net
sink_get 0 data | tr -d '\r' | grep -qxF 'From: "A. \"Al\" Example" <alice@example.org>'
ok $? "-F with specials: a quoted string"
printf 'Subject: f\n\nhi\n' |
	"$SEND" -s "$S" -f alice@example.org -F $'Jos\303\251 M\303\274ller' carol@example.net
is "$($PY -c '
import email, email.policy, glob, sys
eml = sorted(glob.glob(sys.argv[1] + "/*.eml"))[-1]
m = email.message_from_string(open(eml, "rb").read().decode("latin-1"),
                              policy=email.policy.default)
a = m["From"].addresses
print(len(a), a[0].display_name, a[0].addr_spec)' "$SINK_DIR")" \
	$'1 Jos\303\251 M\303\274ller alice@example.org' "-F with UTF-8: RFC 2047 words that decode back"
printf 'From: Real Name <real@example.org>\nSubject: f\n\nhi\n' |
	"$SEND" -s "$S" -f alice@example.org -F 'Other Name' carol@example.net
sink_get 0 data >"$T/got"
is "$(grep -c '^From:' "$T/got"):$(grep -c '^From: Real Name <real@example.org>' "$T/got")" \
	"1:1" "-F: a message with a From: keeps it, no second one"
n0=$(sink_count)
out=$(printf 'Subject: f\n\nhi\n' | "$SEND" -s "$S" -F $'two\nlines' carol@example.net 2>&1)
is "$?" "$EX_USAGE" "-F with a newline: EX_USAGE"
is "$(sink_count)" "$n0" "-F with a newline: nothing sent"

# ---- a recipient mta-send cannot send to (UTF-8, no SMTPUTF8) -------------
n0=$(sink_count)
out=$(printf 'From: a@example.org\nTo: bob@example.net, J <j\303\266rg@example.net>\nSubject: u\n\nhi\n' |
	"$SEND" -s "$S" -t 2>&1)
is "$?" "$EX_DATAERR" "-t, a UTF-8 address among others: EX_DATAERR (65)"
like "$out" $'cannot send to j\303\266rg@example\\.net' "-t, UTF-8 address: names it"
like "$out" "message not sent" "-t, UTF-8 address: says nothing was sent"
is "$(sink_count)" "$n0" "-t, UTF-8 address: nothing sent, not even to the others"
out=$(printf 'Subject: u\n\nhi\n' | "$SEND" -s "$S" bob@example.net \
	$'j\303\266rg@example.net' 2>&1)
is "$?" "$EX_USAGE" "a UTF-8 address as argument: EX_USAGE"
like "$out" "cannot send to" "a UTF-8 address as argument: says so"
is "$(sink_count)" "$n0" "a UTF-8 address as argument: nothing sent"

# ---- the wire form: CRLF, bare CR, dots, no final newline, 8-bit --------
printf '.one\n..two\r\nbare\rCR\n.\nlast-no-eol' |
	"$SEND" -s "$S" bob@example.net
printf 'From: %s@%s\r\n\r\n.one\r\n..two\r\nbare\r\nCR\r\n.\r\nlast-no-eol\r\n' \
	"$(id -un)" "$(hostname)" >"$T/want"
sink_get 0 data >"$T/got"
cmp -s "$T/got" "$T/want"
ok $? "dots stuffed (server unstuffed them), bare CR and LF become CRLF, last line ended; no header: From: and an empty line on top"
printf 'Subject: caf\303\251\n\n\303\251t\303\251\n' | "$SEND" -s "$S" bob@example.net
like "$(sink_get 0 mail_options | tr '\n' ' ')" 'BODY=8BITMIME' "8-bit message: BODY=8BITMIME"

# ---- refusals and exit codes -------------------------------------------
n0=$(sink_count)
out=$("$SEND" -s "$S" later-x@example.net <"$T/one.eml" 2>&1)
is "$?" "$EX_TEMPFAIL" "4xx to RCPT: EX_TEMPFAIL (75)"
like "$out" "RCPT TO:<later-x@example.net>.*said: 450 4\.2\.1 mailbox busy" \
	"4xx: the server's reply on stderr"
out=$("$SEND" -s "$S" refuse-x@example.net <"$T/one.eml" 2>&1)
is "$?" "$EX_NOUSER" "5xx to RCPT: EX_NOUSER (67)"
like "$out" "said: 550 5\.1\.1 no such user" "5xx: the server's reply on stderr"
is "$(sink_count)" "$n0" "refused for every recipient: nothing stored"
out=$("$SEND" -s "$S" refuse-x@example.net ok@example.net <"$T/one.eml" 2>&1)
is "$?" "$EX_NOUSER" "one of two refused: EX_NOUSER"
is "$(sink_get 0 rcpt_tos)" "ok@example.net" "one of two refused: the other got it"
out=$("$SEND" -s "$S" later-x@example.net refuse-y@example.net <"$T/one.eml" 2>&1)
is "$?" "$EX_TEMPFAIL" "a 4xx and a 5xx: EX_TEMPFAIL wins"
out=$(printf 'X-Refuse: yes\n\nhi\n' | "$SEND" -s "$S" bob@example.net 2>&1)
is "$?" "$EX_DATAERR" "5xx after the dot: EX_DATAERR (65)"
like "$out" "end of data: .*said: 554 5\.6\.0 content refused" "5xx after the dot: reply on stderr"

port=$(free_port)
out=$("$SEND" -s "127.0.0.1:$port" bob@example.net <"$T/one.eml" 2>&1)
is "$?" "$EX_TEMPFAIL" "no server: EX_TEMPFAIL (75), which callers retry"
like "$out" "connect to 127\.0\.0\.1:$port: Connection refused" "no server: says so"
out=$("$SEND" -s "$S" -bs bob@example.net <"$T/one.eml" 2>&1)
is "$?" "$EX_USAGE" "-bs (not supported): EX_USAGE"
stop_sink

# ---- against mta-smtpd ---------------------------------------------------
if [ ! -x "$MTA_BIN/mta-smtpd" ]; then
	skip "no mta-smtpd" 17
	done_testing; exit
fi
start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
S=127.0.0.1:$MTA_PORT
cat >"$T/t2.eml" <<'EOF'
From: Alice <alice@example.org>
To: Bob <bob@test.example>
Cc: carol@test.example
Bcc: dave@test.example,
 Erin <erin@test.example>
Subject: bcc through mta-smtpd
Date: Mon, 02 Jan 2023 10:00:00 +0000
Message-ID: <t50-bcc@example.org>

Hello.
EOF
"$SEND" -s "$S" -t -f alice@example.org <"$T/t2.eml"
is "$?" 0 "mta-smtpd, -t: exit 0"
delivered() { [ "$(count_files "$MTA_MAIL/$1/new")" -ge 1 ]; }
for u in bob carol dave erin; do
	wait_until 10 delivered "$u"
	is "$(count_files "$MTA_MAIL/$u/new")" 1 "mta-smtpd, -t: $u got exactly one copy"
done
bcc=$(grep -il '^bcc:' "$MTA_MAIL"/*/new/* 2>/dev/null | wc -l)
is "$bcc" 0 "mta-smtpd, -t: no Bcc: field in any delivered copy"
n=$(grep -l 'erin@test.example' "$MTA_MAIL"/*/new/* 2>/dev/null |
	xargs -r grep -L '^Delivered-To: erin@' | wc -l)
is "$n" 0 "mta-smtpd, -t: erin's address only in erin's own copy (Delivered-To)"
grep -q '^Subject: bcc through mta-smtpd' "$MTA_MAIL"/bob/new/*
ok $? "mta-smtpd, -t: the message itself is intact"

# format-patch output through mta-smtpd into a Maildir, read back with
# python's mailbox: the header stays the header (only the fields the
# patch lacks appended), the body byte for byte
sed 's/^To: bob@example\.net$/To: patchy@test.example/' "$T/patch.eml" >"$T/patch2.eml"
"$SEND" -s "$S" -t -f alice@example.org <"$T/patch2.eml"
is "$?" 0 "mta-smtpd, format-patch -t: exit 0"
wait_until 10 delivered patchy
tap_from "$($PY - "$MTA_MAIL/patchy" "$T/patch2.eml" <<'PYEOF'
import re, sys
from smtpraw import check_eq
from mailcheck import maildir_messages, split_trace
msgs = maildir_messages(sys.argv[1])
sent = open(sys.argv[2], "rb").read().split(b"\n", 1)[1]
head, body = sent.split(b"\n\n", 1)
p = split_trace(msgs[0][1]) if len(msgs) == 1 else None
got = p[3] if p else b""
ghead, _, gbody = got.partition(b"\n\n")
ok = (ghead.startswith(head) and gbody == body and
      re.fullmatch(rb"(\n(Date|Message-ID): [^\n]+)*", ghead[len(head):]) is not None)
check_eq("mta-smtpd, format-patch -t: one message, header and body as sent "
         "(no From_ line)", (len(msgs), ok), (1, True))
PYEOF
)"
printf 'Subject: full name\n\nhi\n' |
	"$SEND" -s "$S" -f alice@example.org -F 'Alice Example' fullname@test.example
wait_until 10 delivered fullname
f=$(cat "$MTA_MAIL"/fullname/new/* 2>/dev/null)
is "$(grep -c '^From:' <<<"$f"):$(grep -c '^From: Alice Example <alice@example.org>$' <<<"$f")" \
	"1:1" "mta-smtpd, -F: delivered with mta-send's From:, mta-smtpd adds none"

out=$("$SEND" -s "$S" 'x@bad..example' <"$T/one.eml" 2>&1)
is "$?" "$EX_NOUSER" "mta-smtpd refuses a recipient (501): EX_NOUSER"
like "$out" "said: 5[0-9][0-9] 5\.1\.[0-9]" "mta-smtpd's refusal on stderr"

# A second daemon with small limits: 452 for the second recipient, and a
# SIZE that the message exceeds (refused before DATA, from EHLO's SIZE)
MTA_DIR=$T/b start_mta --max-rcpt 1 --max-size 2000 ||
	{ echo "Bail out! second mta-smtpd did not start"; exit 1; }
out=$("$SEND" -s "127.0.0.1:$MTA_PORT" bob@test.example carol@test.example \
	<"$T/one.eml" 2>&1)
is "$?" "$EX_TEMPFAIL" "mta-smtpd --max-rcpt 1, two recipients: EX_TEMPFAIL"
like "$out" "RCPT TO:<carol@test.example>: .* said: 452" "the 452 on stderr"
{ printf 'Subject: big\n\n'; head -c 5000 /dev/zero | tr '\0' 'x'; echo; } >"$T/big.eml"
out=$("$SEND" -s "127.0.0.1:$MTA_PORT" bob@test.example <"$T/big.eml" 2>&1)
is "$?" "$EX_DATAERR" "bigger than the server's SIZE: EX_DATAERR"
like "$out" "exceeds the server's limit of 2000" "SIZE: says why"
done_testing
