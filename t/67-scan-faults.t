#!/bin/bash
# t/67-scan-faults.t - the scheduler when the queue's directories fail it
# (mta-queue(5), CRASH SAFETY and START-UP RECOVERY).  Each case starts
# the daemon under strace on a queue written by hand, strace making one
# system call on one directory fail:
#   rcpt/ cannot be opened once at start-up    read again: the message in
#                                              mess/ and its job are kept
#                                              and delivered
#   rcpt/ cannot be read at all (getdents EIO) the daemon refuses to start
#                                              (exit 1, saying why) and
#                                              removes nothing
# (the explode cases: a message in new/ with a job file, as a crash while
# it was filed leaves it, so that explode makes files and takes it into
# mess/; one without is delivered from new/ and syncs nothing)
#   the fsync of rcpt/ fails at explode        the jobs are made again and
#                                              synced before any delivery
#   the fsync of mess/ fails at explode        new/ID kept, no delivery
#                                              until mess/ is synced; the
#                                              message ends delivered once
#                                              and gone from new/
#   one file under new/ID and mess/ID          mess/ is synced before the
#                                              new/ name is unlinked
#   the link new/ID -> mess/ID fails (ENOENT)  its jobs are not run without
#                                              a message; it is taken again
#                                              and delivered, nothing in bad/
#   the fsync of rcpt/ fails when a deferred   its job files are unlinked,
#   first attempt is filed                     it stays in new/ (no job taken
#                                              for removed), and is filed
#                                              again later
#   at filing the fsync of mess/ fails, then   job files an fsync covered
#   the next fsync of rcpt/                    stay (the undone link may be
#                                              on disk), the move retried
#   new/ cannot be read for the IDs at start   logged; every fresh ID is
#   (--hold: nothing else reads it)            then looked up in new/ and
#                                              mess/ (QUEUE IDS)
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/strace.sh"
strace_skip_unless_inject

plan 34

arrival=$(($(date +%s) - 60))

# setup NAME - a fresh queue for case NAME in $T/NAME (MTA_DIR)
setup() {
	MTA_DIR=$T/$1
	Q=$MTA_DIR/queue
	mkdir -p "$Q/tmp" "$Q/new" "$Q/mess" "$Q/rcpt" "$Q/bad" "$MTA_DIR/mail"
}

# put DIR ID RCPT... - message ID for RCPT@test.example in queue/DIR
put() {
	$PY - "$Q/$1/$2" "$2" "$arrival" "${@:3}" <<'EOF'
import sys
from mailcheck import make_message, queue_file
path, qid, arrival, rcpts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
trace = b"Received: from hand.example ([127.0.0.1])\n\tby mx.test.example; Mon, 02 Jan 2023 10:00:00 +0000\n"
with open(path, "wb") as f:
    f.write(queue_file(qid, arrival, ["%s@test.example" % r for r in rcpts],
                       trace + make_message(qid, 2000)))
EOF
}

delivered() { maildir_count "$MTA_MAIL/$1"; }

# --- rcpt/ cannot be opened once at start-up: read again -------------------
# (openat on rcpt/: the first opens the directory, the second is the scan)
setup open-once
put mess R67OPEN1 opener
: >"$Q/rcpt/$arrival.R67OPEN1.0"
start_traced -P "$Q/rcpt" -e trace=openat -e inject=openat:error=EMFILE:when=2
ok $? "open-once: the daemon starts"
wait_for 30 eval '[ "$(delivered opener)" -ge 1 ] || ! mta_running'
is "$(log_count 'queue-error op=scan dir=rcpt error="Too many open files"')" 1 \
	"open-once: the failed scan of rcpt/ is logged"
is "$(log_count 'recovered messages=1 jobs=1 ')" 1 "open-once: the message and its job are recovered"
wait_for 30 eval 'queue_empty || ! mta_running'
is "$(delivered opener)/$(queue_state)" "1/new=0 mess=0 rcpt=0 tmp=0 bad=0" \
	"open-once: delivered once, the queue empty"
is "$(stop_traced)" 0 "open-once: SIGTERM: exit 0"

# --- rcpt/ cannot be read at all: no start, nothing removed ----------------
setup read-never
put mess R67READ1 reader
: >"$Q/rcpt/$arrival.R67READ1.0"
start_traced -P "$Q/rcpt" -e trace=getdents64 -e inject=getdents64:error=EIO
wait_for 30 test -f "$MTA_STATUS_FILE"
is "$(cat "$MTA_STATUS_FILE" 2>/dev/null)" 1 "read-never: it exits 1"
like "$(cat "$MTA_DIR/mta.stderr")" "mta-smtpd: cannot read $Q/rcpt: Input/output error \(3 tries\)" \
	"read-never: it says which directory it cannot read, and why"
is "$(ls "$Q/mess") $(ls "$Q/rcpt")" "R67READ1 $arrival.R67READ1.0" \
	"read-never: the message and its job are still there"
is "$(log_count 'message-done')/$(delivered reader)" "0/0" "read-never: nothing removed, nothing delivered"

# --- the fsync of rcpt/ fails at explode -----------------------------------
setup rcpt-fsync
put new R67RSYNC1 rsync
: >"$Q/rcpt/$arrival.R67RSYNC1.0"
start_traced -P "$Q/rcpt" -e trace=fsync -e inject=fsync:error=EIO:when=1
ok $? "rcpt-fsync: the daemon starts"
wait_for 60 eval '{ [ "$(delivered rsync)" -ge 1 ] && queue_empty; } || ! mta_running'
is "$(delivered rsync)/$(queue_state)" "1/new=0 mess=0 rcpt=0 tmp=0 bad=0" \
	"rcpt-fsync: delivered once, the queue empty"
like "$(grep -Eo 'queue-error op=fsync dir=rcpt|explode id=R67RSYNC1|delivery-start id=R67RSYNC1' "$MTA_LOG" | tr '\n' ,)" \
	"^(explode id=R67RSYNC1,queue-error op=fsync dir=rcpt,)+explode id=R67RSYNC1,delivery-start id=R67RSYNC1,$" \
	"rcpt-fsync: the failed batch is exploded again before any delivery"
is "$(stop_traced)" 0 "rcpt-fsync: SIGTERM: exit 0"

# --- the fsync of mess/ fails at explode -----------------------------------
setup mess-fsync
put new R67MSYNC1 msync
: >"$Q/rcpt/$arrival.R67MSYNC1.0"
start_traced -P "$Q/mess" -e trace=fsync -e inject=fsync:error=EIO:when=1
ok $? "mess-fsync: the daemon starts"
wait_for 60 eval '{ [ "$(delivered msync)" -ge 1 ] && queue_empty; } || ! mta_running'
is "$(delivered msync)/$(queue_state)" "1/new=0 mess=0 rcpt=0 tmp=0 bad=0" \
	"mess-fsync: delivered once, the queue empty (new/ID not left behind)"
like "$(grep -Eo 'queue-error op=fsync dir=mess|explode id=R67MSYNC1|delivery-start id=R67MSYNC1' "$MTA_LOG" | tr '\n' ,)" \
	"^(explode id=R67MSYNC1,queue-error op=fsync dir=mess,)+(explode id=R67MSYNC1,)+delivery-start id=R67MSYNC1,$" \
	"mess-fsync: no delivery before mess/ is synced"
is "$(stop_traced)" 0 "mess-fsync: SIGTERM: exit 0"

# --- one file under new/ and mess/ ------------------------------------------
setup both
put mess R67BOTH1 both
ln "$Q/mess/R67BOTH1" "$Q/new/R67BOTH1"
: >"$Q/rcpt/$arrival.R67BOTH1.0"
start_traced -P "$Q/mess" -P "$Q/new" -e trace=fsync,unlinkat
ok $? "both: the daemon starts"
wait_for 30 eval '{ [ "$(delivered both)" -ge 1 ] && queue_empty; } || ! mta_running'
is "$(delivered both)/$(queue_state)" "1/new=0 mess=0 rcpt=0 tmp=0 bad=0" "both: delivered once, the queue empty"
is "$(grep -Eo "fsync\([0-9]+<$Q/mess>\) = 0|unlinkat\([0-9]+<$Q/new>, \"R67BOTH1\"" "$MTA_DIR/strace.out" |
	sed 's/([0-9]*</(</' | head -2 | tr '\n' ,)" \
	"fsync(<$Q/mess>) = 0,unlinkat(<$Q/new>, \"R67BOTH1\"," \
	"both: mess/ is synced before the new/ name is unlinked"
is "$(stop_traced)" 0 "both: SIGTERM: exit 0"

# --- the link into mess/ fails ----------------------------------------------
setup link
put new R67LINK1 linker
: >"$Q/rcpt/$arrival.R67LINK1.0"
start_traced -P "$Q/mess" -e trace=linkat -e inject=linkat:error=ENOENT:when=1
ok $? "link: the daemon starts"
wait_for 30 eval '{ [ "$(delivered linker)" -ge 1 ] && queue_empty; } || ! mta_running'
is "$(delivered linker)/$(queue_state)" "1/new=0 mess=0 rcpt=0 tmp=0 bad=0" \
	"link: delivered once, the queue empty, nothing in bad/"
is "$(log_count 'delivery-error')" 0 "link: no delivery of a job without its message"
is "$(stop_traced)" 0 "link: SIGTERM exit 0"

# --- the fsync of rcpt/ fails as a deferred first attempt is filed ----------
# (the recipient's Maildir is a plain file: its delivery defers)
setup file-fsync
put new R67FILE1 filer
: >"$MTA_DIR/mail/filer"
start_traced -P "$Q/rcpt" -e trace=fsync -e inject=fsync:error=EIO:when=1 -- --retry 2
wait_for 40 eval '{ [ -f "$Q/mess/R67FILE1" ] && [ ! -e "$Q/new/R67FILE1" ]; } || ! mta_running'
like "$(grep -Eo 'filed id=R67FILE1 jobs=1 why=[a-z]+|queue-error op=fsync dir=rcpt error="[^"]*" action=unfile' "$MTA_LOG" | tr '\n' ,)" \
	'^filed id=R67FILE1 jobs=1 why=deferred,queue-error op=fsync dir=rcpt error="Input/output error" action=unfile,filed id=R67FILE1 jobs=1 why=(slow|deferred),$' \
	"file-fsync: filed, the fsync of rcpt/ fails, unfiled, filed again (a second on, or its next deferral)"
is "$(ls "$Q/new")|$(ls "$Q/mess")|$(ls "$Q/rcpt" | sed 's/^[0-9]*\.//')" "|R67FILE1|R67FILE1.0" \
	"file-fsync: then the message is in mess/ with its job file"
is "$(stop_traced)" 0 "file-fsync: SIGTERM exit 0"

# --- at filing, the fsync of mess/ fails, then the next one of rcpt/ --------
# (the second and third fsyncs under rcpt/ and mess/: mess/ at the first
# move, rcpt/ at its retry ten seconds on)
setup synced
put new R67SYNC1 synced
: >"$MTA_DIR/mail/synced"
start_traced -P "$Q/rcpt" -P "$Q/mess" -e trace=fsync,unlinkat \
	-e inject=fsync:error=EIO:when=2..3 -- --retry 3600
wait_for 40 eval '{ [ -f "$Q/mess/R67SYNC1" ] && [ ! -e "$Q/new/R67SYNC1" ]; } || ! mta_running'
like "$(grep -Eo 'queue-error op=fsync dir=(rcpt|mess)' "$MTA_LOG" | tr '\n' ,)" \
	'^queue-error op=fsync dir=mess,queue-error op=fsync dir=rcpt,$' \
	"synced: the fsync of mess/ failed, then the one of rcpt/ at the retry"
is "$(grep -c "unlinkat([0-9]*<$Q/rcpt>" "$MTA_DIR/strace.out")" 0 \
	"synced: its job file, synced before, was never unlinked"
is "$(ls "$Q/new")|$(ls "$Q/mess")|$(ls "$Q/rcpt" | sed 's/^[0-9]*\.//')" "|R67SYNC1|R67SYNC1.0" \
	"synced: then moved into mess/ with its job file"
stop_traced >/dev/null

# --- new/ cannot be read for the IDs at start-up: every ID looked up --------
setup scan-ids
put new R67SCANIDS1 hand
start_traced -P "$Q/new" -e trace=getdents64,faccessat2 -e inject=getdents64:error=EIO -- --hold
is "$(log_count 'queue-error op=scan-ids error="Input/output error" action=look-up-every-id')" 1 \
	"scan-ids: the failed scan of new/ at start-up is logged"
reply=$(smtp_chat "$MTA_PORT" <<<$'EHLO ids.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<ids@test.example>\r\nDATA\r\nSubject: ids\r\n\r\nx\r\n.\r\nQUIT\r\n')
qid=$(queued_id "$(grep '^250 .*queued as' <<<"$reply")")
like "$qid" '^[A-Za-z0-9]+$' "scan-ids: a message is still accepted"
wait_for 10 grep -q "faccessat2([0-9]*<$Q/new>, \"$qid\"" "$MTA_DIR/strace.out"
like "$(grep -c "faccessat2([0-9]*<$Q/new>, \"$qid\"" "$MTA_DIR/strace.out")" '^[1-9]' \
	"scan-ids: its fresh ID was looked up in new/ (no name's time is known)"
stop_traced >/dev/null

done_testing
