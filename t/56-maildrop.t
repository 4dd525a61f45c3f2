#!/bin/bash
# t/56-maildrop.t - local injection with the daemon down (mta-send(1)
# without a server, mta-queue(5) MAILDROP): two made-up users (useradd,
# removed at the end) and mta-smtpd running as nobody.
#   - cron's call (Debian cron's exact arguments) with the daemon never
#     started: exit 75, nothing left; after a start: exit 0, one file in
#     maildrop/, owned by the submitter, unreadable by others but the
#     daemon's user; s-nail and bsd-mailx likewise;
#   - the second user cannot list maildrop/, read, delete, overwrite or
#     replace the first one's file; a file claiming uid 0 is set aside;
#     a forged Received: does not change the uid the daemon records; a
#     symbolic link and a file with two links are set aside unread;
#   - a malformed file goes to bad/ and is logged; a refused recipient
#     with a usable sender: bad/, and the sender gets a report;
#   - the daemon started: each message delivered exactly once, with
#     "Received: by ... (mta, from userid UID)" naming the file's owner;
#   - the daemon killed between the commit of a submission and the
#     unlink of its file (strace): after a restart, delivered once;
#   - kill -9 of the daemon while it takes 300 files: after a restart
#     every message delivered exactly once.
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (useradd, setpriv)"
command -v useradd >/dev/null && command -v setpriv >/dev/null ||
	skip_all "needs useradd and setpriv"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"

plan 62

EX_TEMPFAIL=75
SEND=$MTA_BIN/mta-send
UA=t56a$$ UB=t56b$$
useradd -M -N -s /usr/sbin/nologin "$UA" && useradd -M -N -s /usr/sbin/nologin "$UB" ||
	{ echo "Bail out! useradd failed"; exit 1; }
trap 'userdel "$UA" 2>/dev/null; userdel "$UB" 2>/dev/null; cleanup' EXIT
A_UID=$(id -u "$UA") B_UID=$(id -u "$UB")
# setpriv keeps the environment (HOME, MAILRC), runuser would not
as_a() { setpriv --reuid "$UA" --regid users --init-groups -- "$@"; }
as_b() { setpriv --reuid "$UB" --regid users --init-groups -- "$@"; }
H=$(hostname)

chmod 755 "$T"                # the users reach the queue, nobody its own
MD=$T/queue/maildrop
printf '# t56\nqueue %s\n' "$T/queue" >"$T/mta.conf"
chmod 644 "$T/mta.conf"
daemon() { start_mta --user nobody -d "test.example,localhost,$H" --max-rcpt 5 "$@"; }

# cron_mail - what Debian's cron writes to its mailer (from its source)
cron_mail() {
	printf 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <%s@%s> echo %s\n' "$UA" "$H" "$1"
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n'
	printf 'Content-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n'
	printf 'X-Cron-Env: <HOME=/>\n\n%s caf\303\251\n' "$1"
}
# cron_send - as Debian's cron runs its mailer for the user's crontab
# (MAILARGS "%s -FCronDaemon -i -B8BITMIME -oem %s", MAILTO unset)
cron_send() { cron_mail "$1" | as_a "$SEND" -C "$T/mta.conf" -FCronDaemon -i -B8BITMIME -oem root; }
# cron_send_t - as upstream Vixie cron does ("%s -FCronDaemon -odi -oem
# -oi -t": the recipient from the To: field)
cron_send_t() { cron_mail "$1" | as_a "$SEND" -C "$T/mta.conf" -FCronDaemon -odi -oem -oi -t; }

# ---- the daemon never started: no queue yet ------------------------------
cron_send never 2>"$T/err"
is "$?" "$EX_TEMPFAIL" "cron's call, no queue yet: exit 75 (cron keeps nothing, but says so)"
like "$(cat "$T/err")" 'maildrop' "and says where it could not write"

daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(stop_mta)" 0 "the daemon made its queue and stopped"
like "$(stat -c '%U %A' "$T/queue" "$MD" | tr '\n' ' ')" '^nobody d..x..x..x nobody drwx-wx-wt $' \
	"queue searchable by all, maildrop/ 1733, both the daemon user's"

# ---- the daemon down: cron, s-nail, bsd-mailx ----------------------------
cron_send one
is "$?" 0 "cron's call with the daemon down: exit 0"
names=$(ls "$MD")
is "$(printf '%s\n' "$names" | grep -c .)" 1 "one file in maildrop/"
F=$MD/$names
is "$(stat -c '%U' "$F")" "$UA" "owned by the submitter"
cp "$F" "$T/a.copy"
setpriv --reuid nobody --regid nogroup --clear-groups -- cat "$F" >/dev/null 2>&1
ok $? "the daemon's user can read it (ACL, or 0644 without ACLs)"

printf '#!/bin/sh\nexec %s -C %s "$@"\n' "$SEND" "$T/mta.conf" >"$T/sendmail"
chmod 755 "$T/sendmail"
mkdir -p "$T/home"; chown "$UA" "$T/home"
if command -v s-nail >/dev/null; then
	printf 'from s-nail\n' | HOME=$T/home as_a s-nail -:/ -S sendwait -S mta="$T/sendmail" \
		-s 't56 s-nail' alice@test.example
	is "$?" 0 "s-nail (sendmail: mta-send), the daemon down: exit 0"
else
	skip 1 "s-nail is not installed (TEST_DEBS)"
fi
if [ -x /usr/bin/bsd-mailx ]; then
	printf 'set sendmail=%s\n' "$T/sendmail" >"$T/mailrc"
	printf 'from bsd-mailx\n' | HOME=$T/home MAILRC=$T/mailrc as_a /usr/bin/bsd-mailx \
		-s 't56 bsd-mailx' alice@test.example
	is "$?" 0 "bsd-mailx (sendmail: mta-send), the daemon down: exit 0"
else
	skip 1 "bsd-mailx is not installed (TEST_DEBS)"
fi

like "$("$MTA_BIN/mta-queue" -q "$T/queue" 2>&1)" "[0-9]+ submissions in $T/queue/maildrop, not yet taken" \
	"mta-queue lists the submissions waiting"

# ---- the second user against the first one's file ------------------------
as_b ls "$MD" >/dev/null 2>&1
is "$?" 2 "$UB cannot list maildrop/"
as_b cat "$F" >/dev/null 2>&1
is "$?" 1 "$UB cannot read $UA's file, even knowing its name"
as_b rm -f "$F" 2>/dev/null
ok "$([ -f "$F" ]; echo $?)" "$UB cannot delete it (sticky maildrop/)"
as_b sh -c "printf 'mta-maildrop 1\nsender <b@test.example>\nrcpt <b@test.example>\n\nevil\n' >$MD/tmp.evil$$ &&
	mv -f $MD/tmp.evil$$ $F" 2>/dev/null
rc=$?; ok "$([ "$rc" != 0 ]; echo $?)" "$UB cannot rename a file of its own over it"
as_b sh -c "printf evil >>$F" 2>/dev/null
rc=$?; ok "$([ "$rc" != 0 ]; echo $?)" "$UB cannot write to it"
cmp -s "$F" "$T/a.copy"
ok $? "... it is unchanged"
rm -f "$MD/tmp.evil$$"

# forged envelopes: a uid line (no such thing in the format) and a
# Received: of root's in the message; a link to another's file
as_b sh -c "printf 'mta-maildrop 1\nsender <root@test.example>\nuid 0\nrcpt <forged@test.example>\n\nSubject: t56 uid line\n\nx\n' >$MD/1ABCDEF0000001"
as_b sh -c "printf 'mta-maildrop 1\nsender <root@test.example>\nrcpt <forged@test.example>\n\nReceived: by $H (mta, from userid 0)\nSubject: t56 forged received\n\nx\n' >$MD/1ABCDEF0000002"
as_b ln -s "$F" "$MD/1ABCDEF0000003"
as_b sh -c "printf 'mta-maildrop 1\nsender <b@test.example>\nrcpt <forged@test.example>\n\nSubject: t56 two links\n\nx\n' >$MD/1ABCDEF0000004 && ln $MD/1ABCDEF0000004 $MD/1ABCDEF0000005"
# malformed (no magic line), and refused by the session (a bad
# recipient) with a usable sender
as_a sh -c "printf 'Subject: no envelope\n\nx\n' >$MD/1ABCDEF0000006"
as_a sh -c "printf 'mta-maildrop 1\nsender <carol@test.example>\nrcpt <a b@@x>\n\nSubject: t56 bad rcpt\n\nx\n' >$MD/1ABCDEF0000007"
{ printf 'mta-maildrop 1\nsender <carol@test.example>\n'
  for i in $(seq 6); do printf 'rcpt <r%s@test.example>\n' "$i"; done
  printf '\nSubject: t56 too many\n\nx\n'; } >"$T/many"
as_a sh -c "cat $T/many >$MD/1ABCDEF0000009"
long=$(printf '%0900d' 0)
as_a sh -c "printf 'mta-maildrop 1\nsender <$long@test.example>\nrcpt <alice@test.example>\n\nSubject: t56 long sender\n\nx\n' >$MD/1ABCDEF0000008"

cron_send_t vixie
is "$?" 0 "upstream cron's call (-odi -oem -oi -t), the daemon down: exit 0"
printf 'From: daemon@test.example\nSubject: t56 null sender\n\nx\n' |
	as_a "$SEND" -C "$T/mta.conf" -f '<>' alice@test.example
is "$?" 0 "the null sender (-f '<>'): exit 0"

# ---- the daemon started: everything taken --------------------------------
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
md_empty() { [ -z "$(ls -A "$MD")" ]; }
wait_for 20 md_empty
ok $? "maildrop/ emptied"
wait_for 20 queue_empty
ok $? "the queue drained"
inbox() {	# inbox MAILBOX SUBJECT - the messages with that subject
	grep -l -- "^Subject: $2\$" "$T/mail/$1/new/"* 2>/dev/null
}
is "$(inbox root "Cron <$UA@$H> echo one" | wc -l)" 1 "cron's message delivered once"
m=$(inbox root "Cron <$UA@$H> echo one" | head -1)
is "$(grep -m1 '^Received:' "$m")" \
	"Received: by mx.test.example (mta, from userid $A_UID)" \
	"Received: names the submitter by uid, as the kernel says"
like "$(grep '^Return-Path:' "$m")" "<$UA@$H>" "the envelope sender: the user at this host"
like "$(cat "$m")" 'one caf'$'\303\251' "8-bit body intact"
is "$(grep -c '^Message-ID:' "$m") $(grep -c '^Date:' "$m")" "1 1" "Date: and Message-ID: added"
is "$(inbox root "Cron <$UA@$H> echo vixie" | wc -l)" 1 "upstream cron's message delivered once (To: root)"
m=$(inbox alice 't56 null sender')
is "$(grep -h '^Return-Path:' $m)" "Return-Path: <>" "the null sender's message delivered once, from <>"
if command -v s-nail >/dev/null; then
	is "$(inbox alice 't56 s-nail' | wc -l)" 1 "s-nail's message delivered once"
else
	skip 1 "s-nail is not installed"
fi
if [ -x /usr/bin/bsd-mailx ]; then
	is "$(inbox alice 't56 bsd-mailx' | wc -l)" 1 "bsd-mailx's message delivered once"
else
	skip 1 "bsd-mailx is not installed"
fi

is "$(inbox forged 't56 uid line' | wc -l)" 0 "a file with a uid line: not delivered"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000001" ]; echo $?)" "... but set aside in bad/"
like "$(grep 'maildrop-refused id=1ABCDEF0000001' "$MTA_LOG")" "uid=$B_UID reason=\"a bad envelope line\"" \
	"... and logged with the owner's uid and why"
m=$(inbox forged 't56 forged received' | head -1)
is "$(grep -c '^Received:' "$m" 2>/dev/null)" 2 "a forged Received: is delivered as text below ours"
is "$(grep -m1 '^Received:' "$m" 2>/dev/null)" "Received: by mx.test.example (mta, from userid $B_UID)" \
	"and the uid recorded is the file owner's, $UB's"
ok "$([ -L "$T/queue/bad/maildrop.1ABCDEF0000003" ]; echo $?)" "a symbolic link: set aside, not followed"
is "$(inbox root "Cron <$UA@$H> echo one" | wc -l)" 1 "... (the file it pointed to delivered once still)"
is "$(inbox forged 't56 two links' | wc -l)" 0 "a file with two links: not taken"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000004" ] && [ -f "$T/queue/bad/maildrop.1ABCDEF0000005" ]; echo $?)" \
	"... both names set aside"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000006" ]; echo $?)" "malformed: set aside in bad/"
like "$(grep 'maildrop-refused id=1ABCDEF0000006' "$MTA_LOG")" 'reason="no mta-maildrop 1 line"' "... and logged"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000007" ]; echo $?)" "refused by the session: set aside"
wait_for 20 eval 'inbox carol "Undeliverable mail: returned to sender" | xargs -r grep -l "a b@@x" | grep -q .'
ok $? "... and its sender gets a report naming the recipient"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000009" ] && [ "$(maildir_count "$T/mail/r1")" = 0 ]; echo $?)" \
	"more recipients than --max-rcpt (5): set aside whole, none delivered"
wait_for 20 eval 'grep -l "More than 5 recipients" "$T/mail/carol/new/"* >/dev/null 2>&1'
ok $? "... and the sender told why"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000008" ]; echo $?)" \
	"a 900-octet sender: refused by the session, set aside (not left to retry)"
is "$(find "$T/queue" -path "$MD" -prune -o -type f -perm /077 -print | grep -v '/bad/' | wc -l)" 0 \
	"no queue file readable by others"

# ---- the daemon running: taken at once through inotify --------------------
cron_send running
is "$?" 0 "cron's call with the daemon running: exit 0"
wait_for 10 eval '[ "$(inbox root "Cron <$UA@$H> echo running" | wc -l)" = 1 ]'
ok $? "delivered at once (inotify), once"

# ---- kill -9 while maildrop files are being taken -------------------------
is "$(stop_mta)" 0 "stopped"
# killed exactly between the commit of new/ID and the unlink of the
# maildrop file (strace kills it at its first unlinkat, which is that
# one: nothing else in the queue is unlinked at this start)
if command -v strace >/dev/null; then
	cron_send crash
	mkdir -p "$T/wrap"
	printf '#!/bin/sh\nexec strace -f -qq -y -o %s -e trace=unlinkat -e inject=unlinkat:signal=KILL:when=1 %s/mta-smtpd "$@"\n' \
		"$T/strace.out" "$MTA_BIN" >"$T/wrap/mta-smtpd"
	chmod +x "$T/wrap/mta-smtpd"
	MTA_BIN=$T/wrap daemon 2>/dev/null
	wait_for 20 test -f "$MTA_STATUS_FILE"
	id=$(ls "$MD")
	ok "$([ -n "$id" ] && [ -f "$T/queue/new/$id" ]; echo $?)" \
		"killed after the commit, before the unlink: the file both in maildrop/ and new/"
	daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
	wait_for 20 eval '[ "$(inbox root "Cron <$UA@$H> echo crash" | wc -l)" != 0 ] && md_empty'
	sleep 1
	is "$(inbox root "Cron <$UA@$H> echo crash" | wc -l)" 1 "restarted: delivered once, not twice"
	like "$(grep "maildrop-taken-before id=$id" "$MTA_LOG")" 'action=unlink' \
		"the file of a queued ID only unlinked (logged)"
	is "$(stop_mta)" 0 "stopped"
else
	skip 4 "strace is not installed"
fi

# ---- maildrop/ID beside a new/ID that is not whole ------------------------
# The pickup syncs new/ID's data before its rename, so our own writer
# never leaves this; but a new/ID empty (or failing its seal) is no copy
# of the submission: it goes to bad/ and the maildrop file is taken
# again, never unlinked for it (before: unlinked, the message lost).
cron_send torn
id=$(ls "$MD")
: >"$T/queue/new/$id" && chown nobody "$T/queue/new/$id"
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_for 20 eval '[ "$(inbox root "Cron <$UA@$H> echo torn" | wc -l)" != 0 ] && md_empty'
sleep 1
is "$(inbox root "Cron <$UA@$H> echo torn" | wc -l)" 1 \
	"an empty new/ID beside its maildrop/ID: the submission delivered, once"
ok "$([ -f "$T/queue/bad/new.$id" ]; echo $?)" "the empty new/ID moved to bad/"
like "$(grep "maildrop-taken-before id=$id" "$MTA_LOG")" 'action=retake' \
	"logged as taken again"
is "$(stop_mta)" 0 "stopped"

fails=0
for i in $(seq 300); do
	printf 'Subject: t56 k%s\n\nx\n' "$i" | as_a "$SEND" -C "$T/mta.conf" kill@test.example || fails=$((fails+1))
done
is "$fails" 0 "300 messages dropped with the daemon down"
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
# the first file gone, not merely logged (logged before its unlink: a
# kill in between left all 300)
wait_for 20 eval '[ "$(ls "$MD" | wc -l)" -lt 300 ]'
kill -9 "$MTA_PID"
wait_for 10 test -f "$MTA_STATUS_FILE"
left=$(ls "$MD" | wc -l)
diag "killed with $left of 300 files still in maildrop/"
ok "$([ "$left" -lt 300 ]; echo $?)" "killed -9 while taking them (fewer than 300 left: $left)"
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_for 60 md_empty
ok $? "restarted: maildrop/ emptied"
wait_for 60 eval '[ "$(maildir_count "$T/mail/kill")" -ge 300 ]'
is "$(grep -h '^Subject: t56 k' "$T/mail/kill/new/"* | sort | uniq -c | awk '{print $1}' | sort | uniq -c | tr -s ' ')" \
	" 300 1" "every one of the 300 delivered exactly once"

done_testing
