#!/bin/bash
# t/59-maildrop-dsn.t - DSN requests through the maildrop (mta-send(1)
# -N, -R, -V without a server; mta-queue(5) MAILDROP's ret, envid,
# notify and orcpt lines), the daemon down when mta-send runs, then up:
#   - -N success,failure -R hdrs -V: the file carries them; once the
#     daemon takes it, the sender gets a "delivered" report (read with
#     python's mailbox: t/lib/dsnread.py) with the envelope ID;
#   - -N never to a recipient a peer refuses (550): no bounce, logged
#     bounce-dropped; the same without -N: a bounce (the control);
#   - a bad -N value: exit 64 and a message naming -N, no file written;
#   - more recipients than the configuration file's max-rcpt: exit 69,
#     no file written;
#   - files written by hand, checked by the session as a client's
#     parameters: a bad NOTIFY refuses that recipient alone (501 5.5.4,
#     reported to the sender), a recipient the session refuses with
#     "notify NEVER" is not reported, a value that would smuggle a second
#     parameter (a space, '=') makes the file malformed (bad/).
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 27

SEND=$MTA_BIN/mta-send
P=$(free_port_on 127.0.0.59)
PEER_WANT=$P peer_start peer 127.0.0.59 --refuse '^bad=550 5.1.1 no such user' ||
	{ echo "Bail out! aiosmtpd did not start"; exit 1; }
printf 'queue %s\n' "$T/queue" >"$T/mta.conf"
MD=$T/queue/maildrop
daemon() { start_mta --smtp-port "$P" --retry 1; }
reports() { $PY "$TLIB/dsnread.py" "$MTA_MAIL/$1"; }
drop() { "$SEND" -C "$T/mta.conf" "$@"; }
msg() { printf 'Subject: %s\n\nbody of %s\n' "$1" "$1"; }

daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(stop_mta)" 0 "the daemon made its queue and stopped"

# ---- the daemon down ---------------------------------------------------------
msg t59-success | drop -N success,failure -R hdrs -V 'cron job 7' -f succ@test.example rcv@test.example
is "$?" 0 "-N success,failure -R hdrs -V, the daemon down: exit 0"
f=$(grep -l 'rcv@test.example' "$MD"/* 2>/dev/null | head -1)
env=$(sed '/^$/q' "$f" 2>/dev/null | tr '\n' '|')
is "$env" 'mta-maildrop 1|sender <succ@test.example>|ret HDRS|envid cron+20job+207|rcpt <rcv@test.example>|notify SUCCESS,FAILURE||' \
	"the file has ret, envid (xtext) and the recipient's notify lines"
msg t59-never | drop -N never -f nev@test.example 'bad1@[127.0.0.59]'
is "$?" 0 "-N never: exit 0"
msg t59-plain | drop -f plain@test.example 'bad2@[127.0.0.59]'
is "$?" 0 "no -N (the control): exit 0"
n0=$(ls "$MD" | wc -l)
msg t59-badn | drop -N sometimes -f x@test.example rcv@test.example 2>"$T/err"
is "$?" 64 "-N sometimes: exit 64 (EX_USAGE)"
like "$(cat "$T/err")" '-N takes NEVER, or SUCCESS, FAILURE, DELAY' "... with a message naming -N and its values"
is "$(ls "$MD" | wc -l)" "$n0" "... and no file written"

# max-rcpt in the configuration file: known before writing
printf 'queue %s\nmax-rcpt 2\n' "$T/queue" >"$T/mta2.conf"
msg t59-many | "$SEND" -C "$T/mta2.conf" -f many@test.example m1@test.example m2@test.example m3@test.example 2>"$T/err"
is "$?" 69 "3 recipients, max-rcpt 2 in the configuration file: exit 69"
like "$(cat "$T/err")" 'more than max-rcpt \(2\)' "... saying why"
is "$(ls "$MD" | wc -l)" "$n0" "... and no file written"
msg t59-two | "$SEND" -C "$T/mta2.conf" -f many@test.example m1@test.example m2@test.example
is "$?" 0 "2 recipients: exit 0"
n0=$(ls "$MD" | wc -l)

# by hand: a bad NOTIFY for one recipient, a refused one with NEVER,
# parameters smuggled in a value
printf 'mta-maildrop 1\nsender <hand@test.example>\nrcpt <ok1@test.example>\nnotify SUCCESS\nrcpt <ok2@test.example>\nnotify SOMETIMES\n\nSubject: t59 hand\n\nx\n' >"$MD/1ABCDEF0059001"
printf 'mta-maildrop 1\nsender <quiet@test.example>\nrcpt <a b@@x>\nnotify NEVER\nrcpt <ok3@test.example>\n\nSubject: t59 quiet\n\nx\n' >"$MD/1ABCDEF0059002"
printf 'mta-maildrop 1\nsender <smug@test.example>\nrcpt <ok4@test.example>\nnotify SUCCESS ORCPT=rfc822;x@y\n\nSubject: t59 space\n\nx\n' >"$MD/1ABCDEF0059003"
printf 'mta-maildrop 1\nsender <smug@test.example>\nenvid a=b\nrcpt <ok5@test.example>\n\nSubject: t59 equals\n\nx\n' >"$MD/1ABCDEF0059004"

# ---- the daemon up -----------------------------------------------------------
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_until 20 sh -c "[ -z \"\$(ls -A '$MD')\" ]"; ok $? "maildrop/ emptied"

maildir_wait "$MTA_MAIL/succ" 1 20; ok $? "NOTIFY=SUCCESS through the maildrop: a report"
is "$(maildir_count "$MTA_MAIL/rcv")" 1 "... and the message delivered once"
w=$(reports succ)
like "$w" '\|R1:Action=delivered\|R1:Status=2\.0\.0\|' "... Action: delivered, 2.0.0"
like "$w" '\|Original-Envelope-Id=cron job 7\|' "... with -V's envelope ID, decoded"
like "$w" 'parts=text/plain,message/delivery-status,text/rfc822-headers' "... RET=HDRS: the header only"

maildir_wait "$MTA_MAIL/plain" 1 20; ok $? "no -N, refused by the peer: a bounce (the control)"
nid=$(sed -n 's/.* maildrop id=\([A-Za-z0-9]*\) .*from=<nev@test\.example>.*/\1/p' "$MTA_LOG" | head -1)
wait_log 10 "bounce-dropped id=$nid rcpts=1 reason=notify"
ok $? "-N never, refused by the peer: the failure not reported (logged)"
is "$(maildir_count "$MTA_MAIL/nev")" 0 "-N never: no bounce"

maildir_wait "$MTA_MAIL/hand" 2 20
# (the two reports arrive in either order: sorted, the success report,
# "Subject=Successful ...", comes before the bounce, "Subject=Undeliverable ...")
like "$(reports hand | sort | tr '\n' ' ')" 'R1:Final-Recipient=rfc822; ok1@test\.example\|R1:Action=delivered\|.*R1:Final-Recipient=rfc822; ok2@test\.example\|R1:Action=failed\|R1:Status=5\.5\.4' \
	"a bad NOTIFY value: that recipient refused (5.5.4) and reported, the other delivered with its success report"
is "$(maildir_count "$MTA_MAIL/ok1")/$(maildir_count "$MTA_MAIL/ok2")" "1/0" "... ok1 delivered, ok2 not"
maildir_wait "$MTA_MAIL/ok3" 1 10
is "$(maildir_count "$MTA_MAIL/quiet")" 0 "a recipient the session refuses, with notify NEVER: not reported"
like "$(grep 'bounce-dropped id=1ABCDEF0059002' "$MTA_LOG")" 'rcpts=1 reason=notify' "... logged bounce-dropped"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0059003" ] && [ -f "$T/queue/bad/maildrop.1ABCDEF0059004" ]; echo $?)" \
	"a value with a space or '=' (a second parameter smuggled): the file set aside in bad/"
is "$(stop_mta)" 0 "SIGTERM: exit 0"
done_testing
