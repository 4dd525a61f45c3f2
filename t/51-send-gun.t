#!/bin/bash
# t/51-send-gun.t - the mail gun: every message of mbox files, Maildirs
# and single files, over several concurrent sessions, to one server;
# envelope from From/To/Cc/Bcc (Bcc removed) or --rcpt; -n repeats; the
# summary line; refusals and failures counted, with a non-zero exit.
# Against aiosmtpd (t/lib/sink.py) and mta-smtpd (delivered mail).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/sink.sh"

EX_DATAERR=65 EX_UNAVAILABLE=69 EX_TEMPFAIL=75
SUMMARY='^sent [0-9]+ refused [0-9]+ failed [0-9]+ in [0-9.]+ s: [0-9.]+ messages/s, latency p50 [0-9.]+ ms p99 [0-9.]+ ms$'

plan 41

SEND=$MTA_BIN/mta-send

# gen_mbox FILE COUNT DOMAIN [REFUSE_EVERY [PREFIX]] - an mbox of COUNT
# messages for user0..user5@DOMAIN (To; every 3rd also Cc, every 7th also
# Bcc hidden@DOMAIN); bodies have "From " lines, which the mbox quotes.
# Every REFUSE_EVERY-th message goes to PREFIX-N@DOMAIN instead (default
# prefix refuse).  FILE.rcpts gets every envelope recipient, sorted.
gen_mbox() {
	$PY - "$@" <<'PYEOF'
import mailbox, email.message, sys
path, count, dom = sys.argv[1], int(sys.argv[2]), sys.argv[3]
every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
prefix = sys.argv[5] if len(sys.argv) > 5 else "refuse"
mb = mailbox.mbox(path)
rcpts = []
for i in range(count):
    m = email.message.EmailMessage()
    m["From"] = "Sender %d <sender%d@example.org>" % (i, i)
    if every and i % every == 0:
        to = ["%s-%d@%s" % (prefix, i, dom)]
        m["To"] = to[0]
    else:
        to = ["user%d@%s" % (i % 6, dom)]
        m["To"] = "User <%s>" % to[0]
        if i % 3 == 0:
            to.append("user%d@%s" % ((i + 1) % 6, dom))
            m["Cc"] = to[-1]
        if i % 7 == 0:
            to.append("hidden@" + dom)
            m["Bcc"] = "Hidden <hidden@%s>" % dom
    m["Subject"] = "gun %d" % i
    m["Message-ID"] = "<gun-%d@example.org>" % i
    m.set_content("message %d\nFrom the start of a line\n.leading dot\n" % i)
    mb.add(m)
    rcpts += to
mb.flush()
open(path + ".rcpts", "w").write("\n".join(sorted(rcpts)) + "\n")
PYEOF
}

# ---- aiosmtpd: an mbox, 4 sessions -------------------------------------
start_sink gun || { echo "Bail out! aiosmtpd did not start"; exit 1; }
S=127.0.0.1:$SINK_PORT
gen_mbox "$T/a.mbox" 200 example.net
out=$("$SEND" -s "$S" -c 4 "$T/a.mbox" 2>"$T/err")
is "$?" 0 "mbox of 200, 4 sessions: exit 0"
like "$out" "$SUMMARY" "the summary line"
like "$out" '^sent 200 refused 0 failed 0 ' "summary: 200 sent"
is "$(sink_count)" 200 "aiosmtpd stored 200 messages"
sink_all_rcpts >"$T/got.rcpts"
cmp -s "$T/got.rcpts" "$T/a.mbox.rcpts"
ok $? "envelope recipients = To + Cc + Bcc of each message"
is "$(sink_grep_data '^Bcc:')" 0 "no Bcc: field in any message sent"
is "$(sink_grep_data '^From the start of a line')" 200 "mbox '>From ' unquoted in all"
is "$(sink_grep_data '^From ')" 200 "... and no From_ line sent as part of a message"
is "$(sink_grep_data '^\.leading dot')" 200 "leading dots arrive intact"
is "$(sink_get 1 mail_from)" "$(sink_get 1 data | sed -n 's/^From: Sender [0-9]* <\(.*\)>\r$/\1/p')" \
	"the envelope sender is the From: address"

# ---- -n, a single file, a Maildir, --rcpt -------------------------------
printf 'From: a@example.org\nTo: one@example.net\nSubject: single\n\nhi\n' >"$T/single.eml"
n0=$(sink_count)
out=$("$SEND" -s "$S" -n 3 "$T/single.eml" 2>/dev/null)
like "$out" '^sent 3 refused 0 failed 0 ' "-n 3 on one file: sent 3"
is "$(( $(sink_count) - n0 ))" 3 "-n 3: three arrived"
$PY - "$T/md" <<'PYEOF'
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], create=True)
for i in range(6):
    m = mailbox.MaildirMessage("From: m%d@example.org\nTo: md%d@example.net\nSubject: md\n\nbody\n" % (i, i))
    if i % 2:
        m.set_subdir("cur")
    md.add(m)
PYEOF
n0=$(sink_count)
out=$("$SEND" -s "$S" -c 3 "$T/md" "$T/single.eml" 2>/dev/null)
like "$out" '^sent 7 refused 0 failed 0 ' "a Maildir (new and cur) and a file: sent 7"
is "$(( $(sink_count) - n0 ))" 7 "Maildir and file: seven arrived"
n0=$(sink_count)
out=$("$SEND" -s "$S" -c 2 --rcpt over@example.net --rcpt 'Two <two@example.net>' \
	-f fixed@example.org "$T/md" 2>/dev/null)
like "$out" '^sent 6 ' "--rcpt: sent 6"
is "$(sink_get 0 rcpt_tos | tr '\n' ' ')" "over@example.net two@example.net " \
	"--rcpt replaces the header recipients"
is "$(sink_get 0 mail_from)" "fixed@example.org" "-f replaces From:"
printf 'From: a@example.org\nTo: ok@example.net, J <j\303\266rg@example.net>\nSubject: u\n\nhi\n' \
	>"$T/utf8.eml"
out=$("$SEND" -s "$S" --gun "$T/utf8.eml" 2>&1 >/dev/null)
is "$(sink_get 0 rcpt_tos)" "ok@example.net" "a UTF-8 header address: the gun sends to the others"
like "$out" $'utf8\\.eml: cannot send to j\303\266rg@example\\.net' \
	"a UTF-8 header address: the gun names the one it leaves out"
if command -v script >/dev/null; then
	tty_out=$(script -qec "'$SEND' -s '$S' -c 2 '$T/md'" /dev/null)
	like "$tty_out" $'\r6/6  sent 6  refused 0  failed 0  [0-9.]+ messages/s' \
		"on a terminal: a live counter on stderr"
else
	skip "no script(1)"
fi
stop_sink

# ---- refusals and failures -------------------------------------------------
start_sink gun2 --rule 'rcpt:^refuse-=550 5.1.1 no such user' \
	--rule 'rcpt:^later-=451 4.3.0 try again later' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
S=127.0.0.1:$SINK_PORT
gen_mbox "$T/r.mbox" 50 example.net 5
out=$("$SEND" -s "$S" -c 4 "$T/r.mbox" 2>"$T/err")
is "$?" "$EX_DATAERR" "10 of 50 refused: exit EX_DATAERR (65)"
like "$out" '^sent 40 refused 10 failed 0 ' "refused ones counted"
like "$(cat "$T/err")" 'first refusal: 550 5\.1\.1 no such user' "the first refusal on stderr"
is "$(sink_count)" 40 "the 40 others arrived"
gen_mbox "$T/l.mbox" 20 example.net 4 later
out=$("$SEND" -s "$S" -c 4 "$T/l.mbox" 2>"$T/err")
is "$?" "$EX_TEMPFAIL" "5 of 20 get a 4xx: exit EX_TEMPFAIL (75)"
like "$out" '^sent 15 refused 0 failed 5 ' "4xx counted as failed"
stop_sink
port=$(free_port)
out=$("$SEND" -s "127.0.0.1:$port" -c 4 "$T/l.mbox" 2>"$T/err")
is "$?" "$EX_UNAVAILABLE" "no server: exit EX_UNAVAILABLE (69)"
like "$out" '^sent 0 refused 0 failed 20 ' "no server: all 20 failed"
like "$(cat "$T/err")" 'first failure: connect to .*Connection refused' "no server: says why"

# ---- mta-smtpd: several local users, everything delivered ---------------
if [ ! -x "$MTA_BIN/mta-smtpd" ]; then
	skip "no mta-smtpd" 10
	done_testing; exit
fi
start_mta || { echo "Bail out! mta-smtpd did not start"; exit 1; }
gen_mbox "$T/m.mbox" 300 test.example
out=$("$SEND" -s "127.0.0.1:$MTA_PORT" -c 8 "$T/m.mbox" 2>"$T/err")
is "$?" 0 "mta-smtpd, mbox of 300, 8 sessions: exit 0"
like "$out" '^sent 300 refused 0 failed 0 ' "mta-smtpd: 300 sent"
total=$(wc -l <"$T/m.mbox.rcpts")
all_delivered() { [ "$(find "$MTA_MAIL" -path '*/new/*' -type f | wc -l)" -ge "$total" ]; }
wait_until 30 all_delivered
# delivered: one file per envelope recipient, in that user's Maildir
# (a check of queue/mess would go here if delivery were not yet written)
for u in user0 user1 user2 user3 user4 user5 hidden; do
	printf '%s %s\n' "$u" "$(count_files "$MTA_MAIL/$u/new")"
done >"$T/got.counts"
sed 's/@.*//' "$T/m.mbox.rcpts" | sort | uniq -c | awk '{print $2, $1}' |
	sort >"$T/want.counts"
sort "$T/got.counts" | cmp -s - "$T/want.counts"
ok $? "every recipient's Maildir has exactly its messages ($total in all)"
is "$(grep -li '^bcc:' "$MTA_MAIL"/*/new/* 2>/dev/null | wc -l)" 0 \
	"no Bcc: in any delivered copy"
is "$(grep -l '^From the start of a line' "$MTA_MAIL"/*/new/* | wc -l)" "$total" \
	"mbox quoting undone in every delivered copy"
# (start_mta's port probes connect too, but send no message)
is "$(grep -c ' disconnect .*reason=done messages=[1-9]' "$MTA_LOG")" 8 \
	"8 sessions: 8 connections that carried messages"
is "$(sed -n 's/.* disconnect .*reason=done messages=\([0-9]*\).*/\1/p' "$MTA_LOG" |
	awk '{ s += $1 } END { print s }')" 300 "... 300 messages over those 8 (connections reused)"
is "$(grep -c ' queued ' "$MTA_LOG")" 300 "300 messages queued"

# some refused by mta-smtpd itself: a bad domain is a 501 at RCPT
gen_mbox "$T/b.mbox" 40 bad..example 4 x
sed -i 's/^To: User <user\([0-9]\)@bad\.\.example>/To: user\1@test.example/;
	s/^Cc: user\([0-9]\)@bad\.\.example/Cc: user\1@test.example/;
	s/^Bcc: Hidden <hidden@bad\.\.example>/Bcc: hidden@test.example/' "$T/b.mbox"
out=$("$SEND" -s "127.0.0.1:$MTA_PORT" -c 4 "$T/b.mbox" 2>"$T/err")
is "$?" "$EX_DATAERR" "mta-smtpd refusing 10 of 40: exit EX_DATAERR"
like "$out" '^sent 30 refused 10 failed 0 ' "mta-smtpd refusals counted"
like "$(cat "$T/err")" 'first refusal: 501 5\.1\.[0-9]' "mta-smtpd's 501 reported"
is "$(stop_mta)" 0 "mta-smtpd: SIGTERM exit 0"
done_testing
