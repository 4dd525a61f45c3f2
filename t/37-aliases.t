#!/bin/bash
# t/37-aliases.t - recipients through aliases, virtual domains and
# subaddresses (mta-aliases(5)), with python3 smtplib as the client and
# python3's mailbox module reading what arrived:
#   - postmaster, abuse, a bare <postmaster> go to root's mailbox; two of
#     them in one message: one copy;
#   - an aliases file with a list, a continuation line and an :include:
#     (a local and a remote member, the remote one taken by a sink); the
#     list and one of its members in one message: one copy each;
#   - a loop is refused at RCPT (550 5.4.6), a pipe target is refused
#     (logged at start; the command never runs; the alias's other target
#     gets the mail), an alias of nothing but a pipe is 554 5.7.1;
#   - virtual domains: two domains, MAILROOT/DOMAIN/USER/ mailboxes, an
#     address of one domain to mailboxes of both, a catch-all;
#   - bob+tag@ to bob's mailbox, Delivered-To: keeping the tag;
#   - unknown recipients (with --local-users, and in a virtual domain)
#     refused at RCPT with 550 5.1.1, and no bounce made;
#   - SIGHUP while mail flows: a changed aliases file takes over, every
#     message accepted and delivered once; a broken one is logged with
#     its file:line and the old table stays;
#   - mta-smtpd --check-address: the resolution and its reasons, exit 0/1.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sink.sh"

plan 43

start_sink remote --refuse '^nouser@=550 5.1.1 no such user' || { echo "Bail out! the sink did not start"; exit 1; }

cat >"$T/members" <<EOF
# included by team
carol, dave@remote.example
EOF
write_aliases() {      # $1: the target of "rotating"
	cat >"$T/aliases.new" <<EOF
# t/37 aliases
team: alice, bob,
    :include:$T/members
loop1: loop2
loop2: loop1
prog: "|/bin/touch $T/ran", alice
onlyprog: "|/bin/touch $T/ran"
rotating: $1
badlist: carol, nouser@remote.example
EOF
	mv "$T/aliases.new" "$T/aliases"
}
write_aliases alice
cat >"$T/virtual" <<EOF
alice@one.example   alice@one.example
info@one.example    alice@one.example, bob@two.example
bob@two.example     bob@two.example
@two.example        bob@two.example
EOF
printf 'alice\nbob\ncarol\n' >"$T/users"
OPTS=(--aliases "$T/aliases" --virtual "$T/virtual" --local-users "$T/users"
      --route "remote.example=127.0.0.1:$SINK_PORT")

start_mta "${OPTS[@]}" || { echo "Bail out! mta-smtpd did not start"; exit 1; }
like "$(cat "$MTA_LOG")" "table-warning text=\".*aliases:6: target '\|/bin/touch [^']*' of 'prog' refused: mta never runs programs" \
	"start: the pipe target is logged with its file:line"

# send FROM RCPT... - one message per call, each RCPT's reply
res=$($PY - "$MTA_PORT" <<'EOF'
import smtplib, sys
port = int(sys.argv[1])

def send(token, rcpts):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
    s.ehlo()
    s.mail("sender@example.org")
    codes = []
    for r in rcpts:
        code, text = s.rcpt(r)
        codes.append("%d %s" % (code, text.decode().split(" ")[0]))
    if any(c.startswith("250") for c in codes):
        s.data(("Subject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\n%s\r\n"
                % (token, token, token)).encode())
    else:
        s.rset()
    s.quit()
    print(token, "|".join(codes))

send("t37-admin", ["postmaster@test.example", "abuse@localhost", "postmaster"])
send("t37-team", ["team@test.example", "alice@test.example"])
send("t37-loop", ["loop1@test.example"])
send("t37-prog", ["prog@test.example"])
send("t37-onlyprog", ["onlyprog@test.example"])
send("t37-virtual", ["info@one.example", "alice@One.Example"])
send("t37-catchall", ["whoever@two.example"])
send("t37-tag", ["bob+tag@test.example"])
send("t37-unknown", ["alcie@test.example", "nobody@one.example"])
EOF
)
line() { printf '%s\n' "$res" | sed -n "s/^$1 //p"; }
is "$(line t37-admin)" "250 2.1.5|250 2.1.5|250 2.1.5" "postmaster, abuse, bare postmaster: accepted"
is "$(line t37-team)" "250 2.1.5|250 2.1.5" "a list and its member: accepted"
is "$(line t37-loop)" "550 5.4.6" "an alias loop: 550 5.4.6 at RCPT"
is "$(line t37-prog)" "250 2.1.5" "an alias with a pipe and a mailbox: accepted"
is "$(line t37-onlyprog)" "554 5.7.1" "an alias of nothing but a pipe: 554 5.7.1"
is "$(line t37-virtual)" "250 2.1.5|250 2.1.5" "virtual addresses: accepted"
is "$(line t37-catchall)" "250 2.1.5" "a catch-all address: accepted"
is "$(line t37-tag)" "250 2.1.5" "bob+tag: accepted"
is "$(line t37-unknown)" "550 5.1.1|550 5.1.1" "unknown local and virtual recipients: 550 5.1.1"

wait_for 20 queue_empty
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue empty"

# mailboxes NAME... - "box: token,token" for each Maildir, read by python3
mailboxes() {
	$PY - "$MTA_MAIL" "$@" <<'EOF'
import mailbox, sys
root = sys.argv[1]
for name in sys.argv[2:]:
    try:
        md = mailbox.Maildir(root + "/" + name, factory=None, create=False)
        toks = sorted("%s<%s>" % (m["Subject"], m["Delivered-To"]) for m in md)
    except Exception:
        toks = []
    print("%s: %s" % (name, " ".join(toks)))
EOF
}
got=$(mailboxes root alice bob carol one.example/alice two.example/bob postmaster abuse team)
box() { printf '%s\n' "$got" | sed -n "s|^$1: ||p"; }
is "$(box root)" "t37-admin<postmaster@test.example>" "root: one copy for postmaster, abuse and <postmaster>"
is "$(box postmaster)$(box abuse)" "" "no postmaster or abuse mailbox"
is "$(box alice)" "t37-prog<prog@test.example> t37-team<team@test.example>" \
	"alice: the list once (list and member in one message), and prog's other target"
is "$(box bob)" "t37-tag<bob+tag@test.example> t37-team<team@test.example>" \
	"bob: the list, and bob+tag with its tag in Delivered-To:"
is "$(box carol)" "t37-team<team@test.example>" "carol: from the :include: file"
is "$(box team)" "" "no mailbox for the list itself"
is "$(box one.example/alice)" "t37-virtual<info@one.example>" \
	"MAILROOT/one.example/alice: one copy (info@ and alice@ in one message)"
is "$(box two.example/bob)" "t37-catchall<whoever@two.example> t37-virtual<info@one.example>" \
	"MAILROOT/two.example/bob: from the other domain, and the catch-all"
is "$(sink_all_rcpts)" "dave@remote.example" "the remote member went to its server"
is "$(sink_grep_data '^Subject: t37-team')" 1 "... with the list's message"
ok "$([ ! -e "$T/ran" ]; echo $?)" "the pipe command never ran"
is "$(log_count ' (failed|deferred) ')" 0 "nothing failed or deferred"
is "$(grep -rl 'MAILER-DAEMON' "$MTA_MAIL" "$SINK_DIR" 2>/dev/null | wc -l | tr -d ' ')" 0 \
	"no bounce made (unknown recipients were refused, not accepted)"
like "$(cat "$MTA_LOG")" "resolve-dropped rcpt=<?prog@test.example>? dropped=1" \
	"the refused target is logged when prog is used"

# ---- a bounce for a list member: to the sender resolved (bob+lists@ is
# bob's mailbox), the report naming the list the sender wrote to
# send_one FROM RCPT SUBJECT - one message; smtplib's refused recipients
send_one() {
	$PY - "$MTA_PORT" "$@" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
print(s.sendmail(sys.argv[2], [sys.argv[3]], "Subject: %s\r\n\r\nx\r\n" % sys.argv[4]))
s.quit()
EOF
}
res=$(send_one bob+lists@test.example badlist@test.example t37-badlist)
is "$res" "{}" "a list with a member its server refuses: accepted"
wait_for 20 queue_empty
res=$($PY - "$MTA_MAIL" <<'EOF'
import mailbox, sys
root = sys.argv[1]
def reports(name):
    try:
        md = mailbox.Maildir(root + "/" + name, factory=None, create=False)
        return [m for m in md if m["From"] and "MAILER-DAEMON" in m["From"]]
    except Exception:
        return []
got = reports("bob")
print(len(got), len(reports("bob+lists")), got[0]["Delivered-To"] if got else None)
ds = [p for p in got[0].walk() if p.get_content_type() == "message/delivery-status"] if got else []
text = ds[0].as_string() if ds else ""
print("Original-Recipient: rfc822; badlist@test.example" in text,
      "Final-Recipient: rfc822; nouser@remote.example" in text)
EOF
)
is "$res" "1 0 bob+lists@test.example
True True" "the report went to bob's mailbox (Delivered-To: the tag), naming the list and the member"

# ---- SIGHUP while mail flows ----------------------------------------------
# A client sends 40 messages to "rotating", one at a time; after the 10th
# the aliases file changes (rotating: bob) and the daemon gets SIGHUP.
$PY - "$MTA_PORT" "$T/flow" <<'EOF' &
import smtplib, sys, time, os
port, flag = int(sys.argv[1]), sys.argv[2]
out = []
for i in range(40):
    if i == 10:
        open(flag + ".half", "w").close()
        end = time.time() + 20
        while not os.path.exists(flag + ".go") and time.time() < end:
            time.sleep(0.05)
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    r = s.sendmail("sender@example.org", ["rotating@test.example"],
                   "Subject: t37-flow-%02d\r\n\r\nx\r\n" % i)
    s.quit()
    out.append("ok" if r == {} else "refused")
open(flag, "w").write(" ".join(sorted(set(out))))
EOF
flow=$!
wait_for 20 test -e "$T/flow.half"
write_aliases bob
kill -HUP "$MTA_PID"
wait_for 10 grep -q 'reload status=ok' "$MTA_LOG"
touch "$T/flow.go"
wait_for 60 test -s "$T/flow"
wait "$flow" 2>/dev/null
is "$(cat "$T/flow")" "ok" "every message accepted across the reload"
wait_for 20 queue_empty
res=$($PY - "$MTA_MAIL" <<'EOF'
import mailbox, sys
def subj(name):
    return sorted(m["Subject"] for m in mailbox.Maildir(sys.argv[1] + "/" + name,
                  factory=None, create=False) if m["Subject"].startswith("t37-flow"))
a, b = subj("alice"), subj("bob")
print(len(a) + len(b), len(set(a) & set(b)),
      all(s < "t37-flow-10" for s in a), all(s >= "t37-flow-10" for s in b))
EOF
)
is "$res" "40 0 True True" "40 delivered once each: before the reload to alice, after it to bob"

# a broken table at SIGHUP: logged with file:line, the old one stays
printf 'rotating: carol\nbroken line without a colon\n' >>"$T/aliases"
kill -HUP "$MTA_PID"
wait_for 10 grep -q 'reload status=error' "$MTA_LOG"
like "$(grep 'reload status=error' "$MTA_LOG")" "aliases:11: no ':' after the name" \
	"a broken aliases file at SIGHUP: logged with its line"
res=$(send_one sender@example.org rotating@test.example t37-after-broken)
is "$res" "{}" "mail still accepted"
wait_for 20 queue_empty
is "$(box_now() { mailboxes bob | sed -n 's/^bob: //p'; }; box_now | grep -c t37-after-broken)" 1 \
	"... and delivered by the old table (rotating: bob)"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- --check-address --------------------------------------------------------
write_aliases alice
check() { "$MTA_BIN/mta-smtpd" -m "$T/mail" -d test.example,localhost "${OPTS[@]}" --check-address "$@"; }
out=$(check team@localhost); rc=$?
is "$rc" 0 "--check-address team: exit 0"
like "$out" "team: alias \(.*aliases:2\)" "... names the alias and its line"
like "$out" "^mailbox alice@test.example $T/mail/alice/\$" "... the mailbox and its path"
like "$out" "^remote dave@remote.example\$" "... and the remote member"
out=$(check nobody@one.example); rc=$?
is "$rc" 1 "--check-address of an unknown virtual address: exit 1"
like "$out" "^nobody@one.example: no such address in the virtual table\$" "... says why"
like "$out" "^refused: 5.1.1 No such user here\$" "... and what RCPT would answer"
out=$(check bob+tag@two.example)
like "$out" "subaddress of bob@two.example" "--check-address bob+tag@two.example: the subaddress"

printf '@bad.example a/b@bad.example\n' >"$T/virtual-bad"
out=$("$MTA_BIN/mta-smtpd" -m "$T/mail" -d test.example --virtual "$T/virtual-bad" \
	--check-address x@bad.example); rc=$?
is "$rc" 1 "a virtual mailbox whose name is no file name: refused"
like "$out" "^refused: 5.1.3 Bad mailbox name\$" "... 5.1.3"

done_testing
