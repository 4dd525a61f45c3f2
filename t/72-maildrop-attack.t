#!/bin/bash
# t/72-maildrop-attack.t - a local user against the daemon through
# maildrop/ (mta-queue(5), MAILDROP), with files written by hand rather
# than by mta-send:
#   - a file rewritten after the daemon read it: the report to its
#     sender carries the message as it was read and checked, not what the
#     submitter wrote after (strace holds the daemon between its commit
#     and the report while the file changes);
#   - SMTP parameters smuggled after an envelope address ("sender <a>
#     ENVID=x>", "rcpt <b> NOTIFY=NEVER>"): a bad envelope line, set
#     aside, not passed to the session as MAIL or RCPT parameters;
#   - a mount point in maildrop/ (a user's FUSE mount could block the
#     reader for ever; a bind mount stands in): never opened, set aside.
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (useradd, setpriv)"
command -v useradd >/dev/null && command -v setpriv >/dev/null ||
	skip_all "needs useradd and setpriv"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"

plan 11

UA=t58a$$
useradd -M -N -s /usr/sbin/nologin "$UA" || { echo "Bail out! useradd failed"; exit 1; }
trap 'userdel "$UA" 2>/dev/null; cleanup' EXIT
as_a() { setpriv --reuid "$UA" --regid users --init-groups -- "$@"; }

chmod 755 "$T"
MD=$T/queue/maildrop
daemon() { start_mta --user nobody --max-rcpt 5 "$@"; }
inbox() {	# inbox MAILBOX SUBJECT - the messages with that subject
	grep -l -- "^Subject: $2\$" "$T/mail/$1/new/"* 2>/dev/null
}
md_empty() { [ -z "$(ls -A "$MD")" ]; }

daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(stop_mta)" 0 "the daemon made its queue and stopped"

# ---- a file grown between the daemon's read and its report ---------------
# one good recipient and one the session refuses: the good one committed
# (new/ID, then the fsync of new/), then the report to carol, the whole
# message returned (ret FULL: grown to a sparse terabyte, the report
# would copy all of it)
ID=1ABCDEF0000101
as_a sh -c "printf 'mta-maildrop 1\nsender <carol@test.example>\nret FULL\nrcpt <alice@test.example>\nrcpt <a b@@x>\n\nSubject: t58 grown\n\nas checked\n' >$MD/$ID"
if command -v strace >/dev/null; then
	mkdir -p "$T/wrap"
	# (LeakSanitizer cannot work under ptrace: off for an ASan build)
	printf '#!/bin/sh\nASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"\nexport ASAN_OPTIONS\nexec strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:delay_exit=500000 %s/mta-smtpd "$@"\n' \
		"$MTA_BIN" >"$T/wrap/mta-smtpd"
	chmod +x "$T/wrap/mta-smtpd"
	MTA_BIN=$T/wrap daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
	end=$((SECONDS + 30))
	until [ -e "$T/queue/new/$ID" ] || [ $SECONDS -ge $end ]; do :; done
	ok "$([ -e "$T/queue/new/$ID" ]; echo $?)" "the accepted part committed as new/$ID"
	# rewritten in place (the same inode the daemon holds open) and
	# grown; the submitter's open descriptor would do the same, root's
	# is simpler here
	$PY - "$MD/$ID" <<'PYEOF'
import sys
with open(sys.argv[1], "r+b") as f:
    data = f.read()
    f.seek(data.index(b"Subject: t58 grown"))
    f.write(b"Subject: T58 EVIL!")
    f.seek(0, 2)
    f.write(b"GROWN AFTER THE CHECK\n")
PYEOF
	wait_for 30 eval 'inbox carol "Undeliverable mail: returned to sender" | grep -q .'
	ok $? "carol gets a report on the refused recipient"
	r=$(inbox carol "Undeliverable mail: returned to sender" | head -1)
	ok "$(grep -q '^Subject: t58 grown$' "$r" && grep -q '^as checked$' "$r" &&
		! grep -q 'T58 EVIL\|GROWN AFTER' "$r"; echo $?)" \
		"the report (ret FULL) carries the message as read, nothing written after"
	# (alice's delivery runs beside the report's: it may end a little later)
	wait_for 30 eval '[ "$(inbox alice "t58 grown" | wc -l)" -ge 1 ]'
	is "$(inbox alice 't58 grown' | wc -l)" 1 "the accepted recipient gets the message as checked"
	# strace passes SIGTERM on to its tracee badly: the daemon itself
	# is asked to stop
	kill -TERM "$(pgrep -P "$MTA_PID")"
	wait_for 20 test -f "$MTA_STATUS_FILE"
	is "$(cat "$MTA_STATUS_FILE")" 0 "stopped"
else
	skip 5 "strace is not installed"
fi

# ---- SMTP parameters smuggled after an envelope address ------------------
as_a sh -c "printf 'mta-maildrop 1\nsender <carol@test.example> ENVID=t58smuggled>\nrcpt <alice@test.example>\n\nSubject: t58 envid\n\nx\n' >$MD/1ABCDEF0000102"
as_a sh -c "printf 'mta-maildrop 1\nsender <carol@test.example>\nrcpt <alice@test.example> NOTIFY=SUCCESS ORCPT=rfc822;t58@test.example>\n\nSubject: t58 notify\n\nx\n' >$MD/1ABCDEF0000103"
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_for 20 md_empty
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000102" ] && [ -z "$(inbox alice 't58 envid')" ]; echo $?)" \
	"a MAIL parameter after the sender: set aside, not delivered"
ok "$([ -f "$T/queue/bad/maildrop.1ABCDEF0000103" ] && [ -z "$(inbox alice 't58 notify')" ]; echo $?)" \
	"an RCPT parameter after a recipient: set aside, not delivered"
stop_mta >/dev/null

# ---- what a killed writer left: tmp.* a day old goes, a fresh one stays --
as_a sh -c "echo half >$MD/tmp.t72old; echo half >$MD/tmp.t72new"
touch -d '2 days ago' "$MD/tmp.t72old"
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_log 20 'stale-tmp file=maildrop/tmp.t72old'
ok "$([ ! -e "$MD/tmp.t72old" ] && [ -e "$MD/tmp.t72new" ]; echo $?)" \
	"a writer's tmp.* file two days old removed at start, a fresh one kept"
stop_mta >/dev/null
rm -f "$MD/tmp.t72new"

# ---- a mount point in maildrop/ ------------------------------------------
# a user may mount a FUSE file system of theirs on a file they put in
# maildrop/ (fusermount3 is set-user-ID), where an open or a read waits
# on their server for ever: the daemon never opens through a mount point.
# A bind mount (we are root) stands in for it: before, its file was read
# and delivered.
printf 'mta-maildrop 1\nsender <carol@test.example>\nrcpt <alice@test.example>\n\nSubject: t72 mounted\n\nx\n' >"$T/mounted.src"
: >"$MD/1ABCDEF0000104"
if mount --bind "$T/mounted.src" "$MD/1ABCDEF0000104" 2>/dev/null; then
	daemon || { umount "$MD/1ABCDEF0000104"; echo "Bail out! mta-smtpd did not start"; exit 1; }
	wait_log 20 'file=maildrop/1ABCDEF0000104'
	like "$(grep 'maildrop/1ABCDEF0000104' "$MTA_LOG")" 'quarantine' \
		"a mount point in maildrop/: not opened, set aside (or said why not)"
	sleep 1
	ok "$([ -z "$(inbox alice 't72 mounted')" ]; echo $?)" "a mount point in maildrop/: not delivered"
	stop_mta >/dev/null
	umount "$MD/1ABCDEF0000104"
else
	skip 2 "cannot bind-mount here"
fi

done_testing
