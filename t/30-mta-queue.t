#!/bin/bash
# t/30-mta-queue.t - mta-queue(1) on a queue built by hand (mta-queue(5)):
# the listing (IDs, ages, sizes, senders, recipients, attempts, due times,
# errors, order, summary, bad/ count); garbage files are skipped with a
# warning (--json too: it parses as strict UTF-8, hostile text escaped)
# and crash nothing; --flush renames every job to a DUE <= now
# and keeps its content; --delete removes jobs and message and nothing
# else; unknown IDs, missing queues and bad usage give 1 and 64.  Then,
# if mta-smtpd runs, the same three commands beside a live daemon.
. "$(dirname "$0")/lib/common.sh"

plan 95

Q=$T/hand/queue
mkdir -p "$Q/tmp" "$Q/new" "$Q/mess" "$Q/rcpt" "$Q/bad"
now=$(date +%s)

# mq ARGS... - run mta-queue (bounded); sets out, err and rc
mq() {
	out=$(timeout 10 "$MTA_BIN/mta-queue" "$@" 2>"$T/err")
	rc=$?
	err=$(cat "$T/err")
}

# msg DIR ID ARRIVAL SENDER RCPT... - a message file; the message part
# is the content of $T/body
printf 'Subject: t30\nFrom: x@example.org\n\nhello\n' >"$T/body"
body_size=$(wc -c <"$T/body" | tr -d ' ')
msg() {
	local dir=$1 id=$2 arrival=$3 sender=$4 r
	shift 4
	{
		printf 'mta-envelope 1\nid %s\narrival %s\nclient 127.0.0.1\n' "$id" "$arrival"
		printf 'helo client.example\nsender %s\n' "$sender"
		for r in "$@"; do printf 'rcpt %s\n' "$r"; done
		printf '\n'
		cat "$T/body"
	} >"$Q/$dir/$id"
}

# jobs ID - the N of each job of ID, sorted, on one line
jobs_of() { ls "$Q/rcpt" | sed -n "s/^[0-9]*\.$1\.\([0-9]*\)\$/\1/p" | sort -n | tr '\n' ' '; }

# ---- a clean queue: three messages --------------------------------------
# A: in mess/, 2 h old, three recipients: 0 deferred three times (due in
#    2 h), 1 never tried (due now), 2 delivered (no job).
# B: in mess/, 1 d 1 h old, from <>, its one job overdue by 2 h.
# C: in new/, 30 s old, not yet scheduled: both recipients pending.
A=0001AAAA0001 B=0002BBBB0002 C=0003CCCC0003
msg mess $A $((now - 7200)) alice@example.org bob@example.net carol@example.com dave@example.org
msg mess $B $((now - 90000)) '' postmaster@example.net
msg new $C $((now - 30)) eve@example.org frank@example.net gina@example.net
printf 'attempts 3\nfirst %s\nerror 451 4.7.1 Try again later\n' $((now - 5000)) \
	>"$Q/rcpt/$((now + 7230)).$A.0"
: >"$Q/rcpt/$((now - 5)).$A.1"
printf 'attempts 1\nfirst %s\nerror 550 5.1.1 <postmaster@example.net>: no such user\n' \
	$((now - 7300)) >"$Q/rcpt/$((now - 7200)).$B.0"

mq -q "$Q"
is "$rc" 0 "list: exit 0"
is "$err" "" "list: no warnings on a clean queue"
is "$(printf '%s\n' "$out" | grep -v '^  ' | head -3 | cut -d' ' -f1 | tr '\n' ' ')" \
	"$B $A $C " "list: messages sorted by arrival, oldest first"
like "$out" "^$A  age 2h(1m)?  $body_size bytes  from <alice@example.org>\$" \
	"list: A's line: ID, age, size of the message part, sender"
like "$out" "^$B  age 1d1h  $body_size bytes  from <>\$" "list: B: the null sender is <>, age in days"
like "$out" "^$C  age [0-9]+s  $body_size bytes  from <eve@example.org>  \\(not yet scheduled\\)\$" \
	"list: C (in new/) is not yet scheduled"
like "$out" "^  to <bob@example.net>  attempts 3, due in 2h, last error: 451 4.7.1 Try again later\$" \
	"list: A/0: attempts, due in 2h, last error"
like "$out" "^  to <carol@example.com>  attempts 0, due now\$" "list: A/1: never tried, due now"
ok "$(! printf '%s' "$out" | grep -q dave; echo $?)" "list: A/2 (no job: delivered) is not shown"
like "$out" "^  to <postmaster@example.net>  attempts 1, overdue 2h(1m)?, last error: 550 5.1.1 <postmaster@example.net>: no such user\$" \
	"list: B/0: overdue, with its error"
like "$out" "^  to <frank@example.net>  pending\$" "list: C/0 pending"
like "$out" "^  to <gina@example.net>  pending\$" "list: C/1 pending"
is "$(printf '%s\n' "$out" | tail -1)" "3 messages, 5 recipients pending" "list: summary line"
ok "$(! printf '%s' "$out" | grep -q 'bad'; echo $?)" "list: no bad/ line while bad/ is empty"
is "$(printf '%s\n' "$out" | sed -n "/^$A /,/^[^ ]/p" | grep -c '^  to')" 2 \
	"list: A has exactly its two pending recipients"

# the default queue is ./queue (ages may tick between runs: masked)
noage() { sed 's/  age [0-9a-z]*  /  age X  /'; }
out1=$(printf '%s\n' "$out" | noage)
out2=$(cd "$T/hand" && timeout 10 "$MTA_BIN/mta-queue" 2>/dev/null | noage)
is "$out2" "$out1" "list: -q defaults to ./queue"
mq --queue "$Q"
is "$(printf '%s\n' "$out" | noage)" "$out1" "list: --queue is -q"

# ---- garbage: skipped with a warning, never a crash ----------------------
echo junk >"$Q/rcpt/not-a-job"
echo junk >"$Q/rcpt/.hidden"
: >"$Q/rcpt/$now.0009ZZZZ0009.0"                      # no such message
: >"$Q/rcpt/$now.$A.7"                                # A has no recipient 7
printf 'attempts 1\n\001\002garbage\n' >"$Q/rcpt/$((now + 3630)).$A.2"
mkdir "$Q/rcpt/$now.$B.5"                             # a directory
printf 'attempts 2\nfirst 1\nerror 421 \033[31mred\033[0m \007bell\n' \
	>"$Q/rcpt/$((now - 7200)).$B.0"                   # control characters
echo junk >"$Q/mess/0004DDDD0004"                     # no envelope
printf 'mta-envelope 1\nid 0005EEEE0005\narrival 1\n' >"$Q/mess/0005EEEE0005"   # truncated
msg mess 0006FFFF0006 $now a@b.example c@d.example
sed -i 's/^id .*/id 0000WRONG/' "$Q/mess/0006FFFF0006"  # id differs from name
mkfifo "$Q/mess/0007GGGG0007"                          # must not block
ln -s /etc/passwd "$Q/new/0008HHHH0008"                # not followed
echo junk >"$Q/new/not-an-id!"
echo junk >"$Q/new/esc$(printf '\033')name"               # shown as esc?name
head -c 1048576 /dev/urandom | tr -d '\n' >"$Q/new/0009IIII0009"   # 1 MB, no line
echo x >"$Q/bad/rcpt.junk"
echo x >"$Q/bad/new.0123"

mq -q "$Q"
is "$rc" 0 "garbage: exit 0 all the same"
like "$err" "warning: skipping rcpt/not-a-job: not a job name" "garbage: a bad job name is warned about"
like "$err" "warning: skipping rcpt/\\.hidden: not a job name" "garbage: a hidden name too (the daemon quarantines it)"
like "$err" "warning: rcpt/$now\\.0009ZZZZ0009\\.0: no message 0009ZZZZ0009" "garbage: an orphan job"
like "$err" "warning: rcpt/$now\\.$A\\.7: message $A has no recipient 7" "garbage: a job beyond the envelope"
like "$err" "warning: rcpt/$((now + 3630))\\.$A\\.2: content is not job lines" "garbage: job content that is not job lines"
like "$err" "warning: rcpt/$now\\.$B\\.5: not a job file" "garbage: a directory named like a job"
like "$err" "warning: skipping mess/0004DDDD0004: no valid envelope" "garbage: a message without envelope"
like "$err" "warning: skipping mess/0005EEEE0005: no valid envelope" "garbage: a truncated envelope"
like "$err" "warning: skipping mess/0006FFFF0006: its envelope says id 0000WRONG" "garbage: an envelope with another ID"
like "$err" "warning: skipping mess/0007GGGG0007: not a regular file" "garbage: a FIFO (not opened for reading)"
like "$err" "warning: skipping new/0008HHHH0008: " "garbage: a symbolic link is not followed"
like "$err" "warning: skipping new/not-an-id!: not a queue ID" "garbage: a bad message name"
like "$err" "warning: skipping new/esc\\?name: not a queue ID" "garbage: control characters in a name shown as ?"
like "$err" "warning: skipping new/0009IIII0009: no valid envelope" "garbage: 1 MB without a line end"
is "$(printf '%s\n' "$err" | grep -vc '^mta-queue: warning: ')" 0 "garbage: every stderr line is a warning"
like "$out" "^  to \\(recipient 7: not in the envelope\\)  attempts 0, due now\$" \
	"garbage: the job beyond the envelope is listed as such"
like "$out" "^  to <dave@example.org>  attempts \\?, due in 1h, job content unreadable\$" \
	"garbage: the unreadable job is listed as such"
like "$out" "last error: 421 \\?\\[31mred\\?\\[0m \\?bell\$" "garbage: control characters shown as ?"
ok "$(! printf '%s' "$out" | LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')"; echo $?)" \
	"garbage: no control character reaches stdout"
is "$(printf '%s\n' "$out" | grep -v '^  ' | head -3 | cut -d' ' -f1 | tr '\n' ' ')" \
	"$B $A $C " "garbage: the good messages are still listed, in order"
like "$out" "3 messages, 8 recipients pending" "garbage: summary counts what was shown"
like "$out" "^2 files in $Q/bad \\(never delivered" "garbage: the bad/ count"
ls -R "$Q" >"$T/before"
mq -q "$Q"
ls -R "$Q" >"$T/after"
is "$(diff "$T/before" "$T/after")" "" "garbage: listing changed nothing in the queue"
mq -q "$Q" --json
is "$rc" 0 "garbage: --json exit 0 all the same"
is "$($PY -c 'import json, sys
objs = [json.loads(l) for l in sys.stdin.buffer.read().decode("utf-8").splitlines()]
errs = [r["last_error"] for o in objs for r in o["recipients"]]
print(len(objs), "421 \x1b[31mred\x1b[0m \x07bell" in errs)' <<<"$out")" "3 True" \
	"garbage: --json parses (strict UTF-8), the good messages only, a hostile error kept whole"
ok "$(! printf '%s' "$out" | LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')"; echo $?)" \
	"garbage: --json puts no control character on stdout"

# clean up the garbage again (bad/ stays)
rm -rf "$Q/rcpt/not-a-job" "$Q/rcpt/.hidden" "$Q/rcpt/$now.0009ZZZZ0009.0" \
	"$Q/rcpt/$now.$A.7" "$Q/rcpt/$((now + 3630)).$A.2" "$Q/rcpt/$now.$B.5" \
	"$Q"/mess/000[4-7]* "$Q"/new/000[89]* "$Q/new/not-an-id!" "$Q"/new/esc*

# ---- --flush ---------------------------------------------------------------
# A/0 is due in 2 h and A/2 (dave) in a year: both move (a held job, DUE
# 9999999999, stays: t/36-queue-control.t);
# A/1 and B/0 are already due and stay.
printf 'attempts 1\nfirst 1\nerror 452 4.2.2 mailbox full\n' >"$Q/rcpt/$((now + 86400 * 365)).$A.2"
before_a=$(jobs_of $A) before_b=$(jobs_of $B)
content_a0=$(cat "$Q"/rcpt/*.$A.0)
mq -q "$Q" --flush
t1=$(date +%s)
is "$rc" 0 "flush: exit 0"
is "$out" "flushed 2 jobs (2 already due)" "flush: says how many"
late=$(ls "$Q/rcpt" | awk -F. -v t="$t1" '$1 > t' | tr '\n' ' ')
is "$late" "" "flush: every job's DUE is <= now"
ok "$([ -e "$Q/rcpt/$((now - 5)).$A.1" ] && [ -e "$Q/rcpt/$((now - 7200)).$B.0" ]; echo $?)" \
	"flush: jobs already due keep their names"
is "$(jobs_of $A)|$(jobs_of $B)" "$before_a|$before_b" "flush: the same jobs, none lost or added"
is "$(cat "$Q"/rcpt/*.$A.0)" "$content_a0" "flush: a job's content goes with it"
like "$(cat "$Q"/rcpt/*.$A.2)" "attempts 1" "flush: the job due in a year came due with its content"
is "$(ls "$Q/mess" | tr '\n' ' ')|$(ls "$Q/new")" "$A $B |$C" "flush: message files untouched"
mq -q "$Q" --flush
is "$out" "flushed 0 jobs (4 already due)" "flush: a second flush has nothing to do"
mq -q "$Q"
like "$out" "^  to <bob@example.net>  attempts 3, due now, last error: 451" "flush: the listing shows A/0 due now"

# ---- --delete --------------------------------------------------------------
mq -q "$Q" --delete $A
is "$rc" 0 "delete A: exit 0"
is "$out" "deleted $A: mess/$A and 3 jobs" "delete A: says what it removed"
is "$(jobs_of $A)" "" "delete A: no job of A left"
ok "$([ ! -e "$Q/mess/$A" ]; echo $?)" "delete A: mess/A is gone"
is "$(jobs_of $B)" "0 " "delete A: B's job untouched"
ok "$([ -e "$Q/mess/$B" ] && [ -e "$Q/new/$C" ]; echo $?)" "delete A: other messages untouched"
mq -q "$Q" --delete $A
is "$rc" 1 "delete A again: exit 1"
like "$err" "no such message: $A" "delete A again: no such message"
is "$out" "" "delete A again: nothing on stdout"
mq -q "$Q" --delete 0123NOSUCH
is "$rc" 1 "delete of an unknown ID: exit 1"
mq -q "$Q" --delete "../mess/$B"
is "$rc" 1 "delete of a path: exit 1 (not a queue ID)"
ok "$([ -e "$Q/mess/$B" ]; echo $?)" "delete of a path: nothing removed"
mq -q "$Q" --delete $C
is "$out" "deleted $C: new/$C and 0 jobs" "delete C (in new/): removed from new/"
ok "$([ ! -e "$Q/new/$C" ]; echo $?)" "delete C: new/C is gone"
: >"$Q/rcpt/$now.0010JJJJ0010.0"
: >"$Q/rcpt/$now.0010JJJJ0010.1"
mq -q "$Q" --delete 0010JJJJ0010
is "$rc:$out" "0:deleted 0010JJJJ0010: 2 jobs (there was no message file)" "delete: orphan jobs alone"
mq -q "$Q"
is "$(printf '%s\n' "$out" | grep -c '^[^ ]*  age ')" 1 "delete: one message left in the listing"
like "$out" "1 message, 1 recipient pending" "delete: summary after the deletions"

# ---- errors and usage -----------------------------------------------------
mq -q "$T/nonexistent"
is "$rc" 1 "no queue: exit 1"
like "$err" "no queue at $T/nonexistent" "no queue: says so"
mkdir -p "$T/half/new" "$T/half/mess"
mq -q "$T/half"
is "$rc:$err" "1:mta-queue: $T/half is not a queue: $T/half/rcpt: No such file or directory" \
	"a directory without rcpt/ is not a queue: exit 1"
for args in "--bogus" "-x" "extra" "--flush --delete $B" "--delete" "-q" "--delete $B --delete $B"; do
	# shellcheck disable=SC2086
	mq -q "$Q" $args
	is "$rc" 64 "usage: mta-queue $args: exit 64"
done
mq --help
is "$rc" 0 "--help: exit 0"
like "$out" "usage: mta-queue" "--help: usage on stdout"
ok "$([ -e "$Q/mess/$B" ] && [ -n "$(jobs_of $B)" ]; echo $?)" "usage errors touched nothing"

# ---- beside a live daemon --------------------------------------------------
# A recipient whose route points at a closed port is deferred for an hour;
# mta-queue lists it, --flush makes the daemon try again at once, --delete
# removes it while the daemon runs.
deferred() { grep -qs '^attempts 1' "$MTA_QUEUE"/rcpt/*."$id".0; }
retried() { grep -qs '^attempts 2' "$MTA_QUEUE"/rcpt/*."$id".0; }
all_gone() { ! ls "$MTA_QUEUE/rcpt" "$MTA_QUEUE/mess" "$MTA_QUEUE/new" | grep -qF "$id"; }
dead=$(free_port)
start_mta -r 3600 -a 10 --route "remote.example=127.0.0.1:$dead" ||
	{ echo "Bail out! mta-smtpd did not start with -r, -a and --route"; exit 1; }
reply=$(swaks --server "127.0.0.1:$MTA_PORT" --helo t30.example \
	--from alice@test.example --to bob@remote.example \
	--header 'Subject: t30 live' --body hello --timeout 10 2>&1)
id=$(printf '%s\n' "$reply" | sed -n 's/^<-  250 .*queued as \([A-Za-z0-9]*\).*/\1/p')
like "$id" '^[A-Za-z0-9]+$' "live: the daemon queued the message"
wait_until 15 deferred; ok $? "live: the daemon deferred it once (-r, --route to a closed port)"
mq -q "$MTA_QUEUE"
like "$out" "^$id  age [0-9]+s  [0-9]+ bytes  from <alice@test.example>\$" "live: the message is listed"
like "$out" "^  to <bob@remote.example>  attempts 1, due in (59m[0-9]*s?|1h), last error: ." \
	"live: deferred once, due in an hour (-r 3600), with its error"
mq -q "$MTA_QUEUE" --flush
is "$out" "flushed 1 job (0 already due)" "live: --flush renames the job"
ok "$(wait_until 15 retried; echo $?)" \
	"live: the daemon noticed and tried again at once"
mq -q "$MTA_QUEUE" --delete "$id"
is "$rc:$out" "0:deleted $id: mess/$id and 1 job" "live: --delete while the daemon runs"
ok "$(wait_until 10 all_gone; echo $?)" \
	"live: no file of the message is left"
ok "$(mta_running; echo $?)" "live: the daemon is still running"
mq -q "$MTA_QUEUE"
is "$out" "0 messages, 0 recipients pending" "live: the queue is empty"
is "$(stop_mta)" 0 "live: SIGTERM exit 0"

done_testing
