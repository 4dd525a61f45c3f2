#!/bin/bash
# t/33-mbox-durable.t - an mbox that is there but empty may have just been
# made by another delivery that has not yet synced its name: the delivery
# that writes the first entry into it syncs the mail root itself, under
# its fcntl lock, before the dotlock and the entry (mbox.h).  A mailbox
# that already holds mail costs no such fsync.  strace (when ptrace is allowed) watches the
# daemon's threads.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/strace.sh"

plan 4

start_mta --mbox || { echo "Bail out! mta-smtpd did not start"; exit 1; }
MBOX=$MTA_MAIL/user33
# empty, as right after another delivery's O_CREAT
: >"$MBOX"
chmod 600 "$MBOX"

strace_attach "$T/strace.txt" -s 64 -e trace=fsync,write ||
	skip_all "strace cannot attach to the daemon (ptrace not allowed)"

# send TOKEN - one message to user33 (swaks); its reply code
send() {
	swaks --server 127.0.0.1 --port "$MTA_PORT" --helo durable.example \
		--from sender@example.org --to user33@test.example \
		--header "Subject: $1" --body "$1" --hide-all >/dev/null 2>&1
	echo $?
}
entries() { grep -c '^From ' "$MBOX" 2>/dev/null || true; }

is "$(send first-entry)" 0 "the first message is accepted"
wait_for 20 eval '[ "$(entries)" = 1 ]'
is "$(entries)" 1 "delivered into the empty mbox"
is "$(send second-entry)" 0 "the second message is accepted"
wait_for 20 eval '[ "$(entries)" = 2 ]'
strace_detach

# each write of an entry into the mbox, and whether an fsync of the mail
# root came before it (since the write before, or the start)
order=$($PY - "$T/strace.txt" "$MTA_MAIL" "$MBOX" <<'EOF'
import re, sys
lines = open(sys.argv[1], errors="replace").read().split("\n")
root, mbox = sys.argv[2], sys.argv[3]
synced, out = 0, []
for l in lines:
    if re.search(r"fsync\(\d+<%s>\)\s+= 0" % re.escape(root), l) or \
       (re.search(r"fsync resumed", l) and synced == "pending"):
        synced = 1
    elif re.search(r"fsync\(\d+<%s>" % re.escape(root), l):
        synced = "pending"   # unfinished: its resumed line follows
    m = re.search(r'write\(\d+<%s>, "From ' % re.escape(mbox), l)
    if m:
        out.append("synced" if synced == 1 else "unsynced")
        synced = 0
print("ENTRIES=" + ",".join(out))
EOF
)
is "$(field ENTRIES <<<"$order")" "synced,unsynced" \
	"the mail root was synced before the entry into the empty mbox, not before the one into the full one"

stop_mta
done_testing
