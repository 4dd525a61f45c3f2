#!/bin/bash
# t/27-mbox-lock.t - with --mbox no mailbox name is ever a lock name, and
# only dotlocks mta-smtpd made, or empty ones, are ever broken as stale
# (mbox.h):
#   - RCPT to a local part ending in ".lock" (any case) is 550 5.1.1
#     under --mbox (accepted in Maildir mode, where it is just a name);
#   - a job for such a name queued before --mbox fails at delivery and
#     nothing is written to MAILROOT/NAME.lock;
#   - an old file at alice.lock that is not a lock of ours (a mailbox
#     delivered there before the rule, another program's lock) is never
#     removed: delivery to alice waits for it, and goes once somebody
#     else moves it away; an old lock of ours is broken and logged, and
#     so is an old empty one (a young one is kept).
. "$(dirname "$0")/lib/common.sh"

plan 22

# send_to RCPT - one message to RCPT; prints the final reply (or refusal)
send_to() {
	printf 'From: <sender@example.org>\nSubject: t27 to %s\n\nhello %s\n' "$1" "$1" |
		$PY "$TLIB/inject.py" "$MTA_PORT" sender@test.example "$1"
}
# old FILE - make FILE's time ten minutes ago (twice the stale age)
old() { touch -d '10 minutes ago' "$1"; }

# ---- Maildir mode: queue a job for alice.lock (only held, not delivered) --
start_mta --hold || { echo "Bail out! mta-smtpd did not start"; exit 1; }
r=$(rcpt_replies alice.lock@test.example)
is "$r" "alice.lock@test.example 250 2.1.5" "Maildir mode: alice.lock is a name like any other"
held=$(send_to alice.lock@test.example)
like "$held" '^250 ' "held: a job for alice.lock queued"
held=${held##* }
is "$(stop_mta)" 0 "held: SIGTERM: exit 0"

# ---- --mbox: lock names are no mailboxes -------------------------------------
: >"$T/mail/alice"
start_mta --mbox --mbox-lock-wait 60 --retry 3600 || { echo "Bail out! mta-smtpd --mbox did not start"; exit 1; }
r=$(rcpt_replies alice.lock@test.example Alice.LOCK@localhost '<bob.lock@[127.0.0.1]>' \
	alice@test.example alice.locked@test.example)
printf '%s\n' "$r" | sed 's/^/# /'
get() { printf '%s\n' "$r" | awk -v r="$1" '$1 == r { print $2 " " $3 }'; }
is "$(get alice.lock@test.example)" "550 5.1.1" "mbox: RCPT alice.lock: 550 5.1.1"
is "$(get Alice.LOCK@localhost)" "550 5.1.1" "mbox: RCPT Alice.LOCK (any case): 550 5.1.1"
is "$(get '<bob.lock@[127.0.0.1]>')" "550 5.1.1" "mbox: RCPT bob.lock at our address literal: 550 5.1.1"
is "$(get alice@test.example)$(get alice.locked@test.example)" "250 2.1.5250 2.1.5" \
	"mbox: alice and alice.locked: accepted"
wait_log 15 " failed id=$held rcpt=<alice\.lock@test\.example> "
like "$(grep " failed id=$held " "$MTA_LOG")" 'is the name of an mbox lock' \
	"mbox: the job queued before fails at delivery (no such mailbox)"
ok "$([ ! -e "$T/mail/alice.lock" ]; echo $?)" "mbox: nothing written to mail/alice.lock"

# ---- an old mailbox named alice.lock is never removed as a stale lock -------
# As if delivered there before the rule: mail in mbox format, old.
printf 'From x@example.org Mon Nov 23 08:14:27 2026\nSubject: kept\n\nmail kept\n\n' \
	>"$T/mail/alice.lock"
old "$T/mail/alice.lock"
cp "$T/mail/alice.lock" "$T/alice.lock.orig"
id=$(send_to alice@test.example)
like "$id" '^250 ' "old mailbox alice.lock: a message to alice queued"
id=${id##* }
wait_log 10 " delivery-start id=$id "
wait_log 10 " mbox_foreign_lock mailbox=alice lock=alice\.lock "
ok $? "old mailbox alice.lock: seen as not a lock of ours, and logged"
sleep 1
ok "$(cmp -s "$T/mail/alice.lock" "$T/alice.lock.orig"; echo $?)" \
	"old mailbox alice.lock: still there, intact, while alice's delivery waits"
is "$(mbox_count "$T/mail/alice")" 0 "old mailbox alice.lock: nothing delivered to alice meanwhile"
mv "$T/mail/alice.lock" "$T/alice.lock.saved"
wait_log 15 " delivered id=$id "
is "$(mbox_count "$T/mail/alice")" 1 "moved away by the administrator: alice's message delivered"
is "$(log_count " mbox_stale_lock ")" 0 "no stale lock broken"

# ---- another program's old lock: kept too; an old one of ours: broken --------
echo 99999 >"$T/mail/alice.lock"
old "$T/mail/alice.lock"
id=$(send_to alice@test.example)
id=${id##* }
wait_for 10 eval '[ "$(log_count " mbox_foreign_lock mailbox=alice ")" -ge 2 ] || ! mta_running'
sleep 1
is "$(cat "$T/mail/alice.lock" 2>/dev/null)" 99999 "another program's old lock: kept"
rm -f "$T/mail/alice.lock"
wait_log 15 " delivered id=$id "
echo "99999 mta-smtpd" >"$T/mail/alice.lock"
old "$T/mail/alice.lock"
id=$(send_to alice@test.example)
id=${id##* }
wait_log 15 " delivered id=$id "
is "$(log_count " mbox_stale_lock mailbox=alice lock=alice\.lock ")" 1 "an old lock of ours: broken and logged"
is "$(mbox_count "$T/mail/alice"):$([ -e "$T/mail/alice.lock" ]; echo $?)" 3:1 \
	"alice: 3 messages, no lock left"

# ---- an empty lock: kept while young, broken once old ------------------------
# (a writer that died between creating and writing it, or a lock of ours
# whose text a power cut lost: t/71)
: >"$T/mail/alice.lock"
id=$(send_to alice@test.example)
id=${id##* }
wait_log 10 " delivery-start id=$id "
sleep 2
is "$(mbox_count "$T/mail/alice"):$([ -e "$T/mail/alice.lock" ]; echo $?)" 3:0 \
	"a young empty lock: kept, alice's delivery waits"
old "$T/mail/alice.lock"
wait_log 15 " delivered id=$id "
is "$(log_count " mbox_stale_lock mailbox=alice lock=alice\.lock age=[0-9]+s kind=empty")" 1 \
	"an old empty lock: broken and logged (kind=empty)"
is "$(mbox_count "$T/mail/alice"):$([ -e "$T/mail/alice.lock" ]; echo $?)" 4:1 \
	"alice: 4 messages, no lock left"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
