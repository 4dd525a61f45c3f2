#!/bin/bash
# t/75-maildrop-expire.t - a local submission that only ever gets a
# temporary answer (its recipient's ~/.forward is a socket: opening it
# fails with ENXIO, which the daemon answers 451 rather than guess) is not
# tried for ever (mta-queue(5), MAILDROP):
#   - younger than --max-queue-time: left in maildrop/ and logged
#     maildrop-deferred, no report;
#   - older (its file's modification time): given up, the sender gets a
#     report read with python's mailbox (t/lib/dsnread.py): Action failed,
#     Status 4.4.7, the last reply in the diagnostic; the file moved to
#     bad/ and logged maildrop-refused;
#   - older, with the null sender: moved to bad/, no report to anyone;
#   - older, its report not queued (the queue on a full tmpfs): left in
#     maildrop/, logged; given up once there is room (the file renamed
#     out and back in, for the daemon to look again).
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (useradd)"
command -v useradd >/dev/null || skip_all "needs useradd"

plan 24

# U: the recipient whose .forward cannot be opened; S: a sender whose
# reports land in $T/sender/Maildir (--system-users: ~/Maildir)
U=t75f$$ S=t75s$$
useradd -M -N -d "$T/home" -s /bin/sh "$U" && useradd -M -N -d "$T/sender" -s /bin/sh "$S" ||
	{ echo "Bail out! useradd failed"; exit 1; }
mounts=
trap 'for m in $mounts; do umount -l "$m"; done; userdel "$U" 2>/dev/null; userdel "$S" 2>/dev/null; cleanup' EXIT
mkdir -p "$T/home" "$T/sender" && chmod 755 "$T" "$T/home" && chown "$S" "$T/sender"
$PY -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/home/.forward" ||
	{ echo "Bail out! cannot make a socket"; exit 1; }
chown "$U" "$T/home" "$T/home/.forward"

daemon() { start_mta --system-users --max-queue-time 3600; }
reports() { $PY "$TLIB/dsnread.py" "$T/sender/Maildir"; }
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(stop_mta)" 0 "the daemon made its queue and stopped"
MD=$MTA_QUEUE/maildrop

# put NAME SENDER AGE - a submission to $U in $MD, last written AGE ago,
# renamed into maildrop/ whole (a tmp.* name is never read)
put() {
	printf 'mta-maildrop 1\nsender <%s>\nrcpt <%s@test.example>\n\nFrom: t75 <t75@test.example>\nSubject: t75 %s\n\nx\n' \
		"$2" "$U" "$1" >"$MD/tmp.$1" &&
		touch -d "$3" "$MD/tmp.$1" && mv "$MD/tmp.$1" "$MD/$1"
}
put 1ABCDEF0075001 young@test.example "now"
put 1ABCDEF0075002 "$S@test.example" "2 hours ago"
put 1ABCDEF0075003 "" "2 hours ago"
# and one to two: a user there is none of (550 at once), then $U (451)
printf 'mta-maildrop 1\nsender <%s>\nrcpt <nosuch%s@test.example>\nrcpt <%s@test.example>\n\nFrom: t75 <t75@test.example>\nSubject: t75 two\n\nx\n' \
	"$S@test.example" "$$" "$U" >"$MD/tmp.two" && touch -d "2 hours ago" "$MD/tmp.two" &&
	mv "$MD/tmp.two" "$MD/1ABCDEF0075005"

daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
took() { grep -q "maildrop-[a-z]* id=1ABCDEF007500$1" "$MTA_LOG"; }
wait_for 20 took 1 && wait_for 20 took 2 && wait_for 20 took 3 && wait_for 20 took 5
ok $? "all four files taken up"

# the young one: deferred, kept
like "$(grep 'id=1ABCDEF0075001' "$MTA_LOG")" 'maildrop-deferred id=1ABCDEF0075001 .*reason="451 .*\.forward' \
	"a young file the session answers 451: maildrop-deferred, with the reply"
ok "$([ -f "$MD/1ABCDEF0075001" ]; echo $?)" "... and left in maildrop/"

# the old one: given up, reported, in bad/
like "$(grep 'id=1ABCDEF0075002' "$MTA_LOG")" \
	'maildrop-refused id=1ABCDEF0075002 .*reason="Gave up after [0-9]+ seconds in maildrop/: 451 ' \
	"a file older than --max-queue-time: given up (maildrop-refused), the last reply kept"
ok "$([ ! -e "$MD/1ABCDEF0075002" ] && [ -f "$MTA_QUEUE/bad/maildrop.1ABCDEF0075002" ]; echo $?)" \
	"... moved from maildrop/ to bad/"
have_reports() { [ "$(ls "$T/sender/Maildir/new" 2>/dev/null | wc -l)" = 2 ]; }
wait_for 20 have_reports
ok $? "... and its sender got a report (and one for the file to two)"
r=$(reports | grep -v nosuch)
like "$r" 'R1:Action=failed\|' "the report: Action failed"
like "$r" 'R1:Status=4\.4\.7\|' "... Status 4.4.7 (delivery time expired)"
like "$r" "R1:Final-Recipient=rfc822; $U@test.example" "... for the recipient"
like "$r" 'R1:Diagnostic-Code=smtp; Gave up after [0-9]+ seconds in maildrop/: 451 ' \
	"... with the last reply in its diagnostic"

# the old one to two recipients: each reported with its own status
r=$(reports | grep nosuch)
like "$r" "R1:Final-Recipient=rfc822; nosuch$$@test.example\\|R1:Action=failed\\|R1:Status=5\\.1\\.1\\|" \
	"to two: the one refused at once keeps its 5.1.1"
like "$r" "R2:Final-Recipient=rfc822; $U@test.example\\|R2:Action=failed\\|R2:Status=4\\.4\\.7\\|" \
	"... the one deferred for ever gets 4.4.7, in the same report"

# the old one from the null sender: in bad/, no report
ok "$([ ! -e "$MD/1ABCDEF0075003" ] && [ -f "$MTA_QUEUE/bad/maildrop.1ABCDEF0075003" ]; echo $?)" \
	"the null sender's old file: in bad/ too"
wait_for 20 queue_empty
is "$(grep -l 't75 1ABCDEF0075003' "$T"/sender/Maildir/new/* "$MTA_MAIL"/*/new/* 2>/dev/null | wc -l)" 0 \
	"... and no report of it anywhere"
like "$(grep 'id=1ABCDEF0075003' "$MTA_LOG")" 'maildrop-refused id=1ABCDEF0075003 .*Gave up after' \
	"... logged given up"
is "$(stop_mta)" 0 "the daemon stopped cleanly"

# ---- the report cannot be queued: a full disk --------------------------------
mkdir -p "$T/b/queue"
if ! mount -t tmpfs -o size=2m,mode=0755 tmpfs "$T/b/queue" 2>"$T/mount.err"; then
	skip "cannot mount a tmpfs: $(head -1 "$T/mount.err")" 7
	exit 0
fi
mounts="$T/b/queue"
MTA_DIR=$T/b daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(stop_mta)" 0 "a second daemon, its queue on a 2 MiB tmpfs, made its queue"
MD=$MTA_QUEUE/maildrop
put 1ABCDEF0075004 "$S@test.example" "2 hours ago"
dd if=/dev/zero of="$MTA_QUEUE/filler" bs=64k 2>/dev/null   # until ENOSPC
MTA_DIR=$T/b daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
wait_for 20 took 4
like "$(grep 'id=1ABCDEF0075004' "$MTA_LOG")" 'maildrop-deferred id=1ABCDEF0075004 .*reason="expired, its report not queued"' \
	"old, but its report cannot be queued (disk full): maildrop-deferred"
like "$(grep 'maildrop-error file=maildrop/1ABCDEF0075004' "$MTA_LOG")" 'op=bounce error=".*storage' \
	"... after the report failed for want of room (maildrop-error)"
ok "$([ -f "$MD/1ABCDEF0075004" ] && [ ! -e "$MTA_QUEUE/bad/maildrop.1ABCDEF0075004" ]; echo $?)" \
	"... and left in maildrop/, not in bad/"
rm -f "$MTA_QUEUE/filler"
mv "$MD/1ABCDEF0075004" "$MD/tmp.again" && mv "$MD/tmp.again" "$MD/1ABCDEF0075004"
refused4() { grep -q 'maildrop-refused id=1ABCDEF0075004' "$MTA_LOG"; }
wait_for 20 refused4
ok $? "room again: given up (maildrop-refused)"
three_reports() { [ "$(ls "$T/sender/Maildir/new" 2>/dev/null | wc -l)" = 3 ]; }
wait_for 20 three_reports
ok $? "... and its sender got the report"
is "$(stop_mta)" 0 "the second daemon stopped cleanly"
