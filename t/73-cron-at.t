#!/bin/bash
# t/73-cron-at.t - mta-send as the host's sendmail, called by the real
# cron and at (Debian's cron -f and atd -f), not by a replay of their
# arguments (t/56 replays cron's).  Nothing changes outside the test: the
# callers run in a private mount namespace (unshare --mount) where
#   - mta-send is bind-mounted over /usr/sbin/sendmail (the machine's
#     own, Postfix's here, stays as it is for everyone else);
#   - /etc and /run are overlays whose writes stay in $T: there
#     /etc/mta/mta.conf names the test's queue (mta-send's default
#     configuration file, so the callers pass nothing of ours), and
#     /etc/cron.d, /etc/crontab and the pid files are the test's own;
#   - the spool directories of cron and at are private directories.
# With the mta daemon down, a crontab line of a made-up user (MAILTO=root)
# and an "at now" job of the same user produce output; cron and atd mail
# it through sendmail, and it waits in maildrop/; the daemon started
# delivers each message once, with cron's From/Subject and at's Subject,
# the output as the body, and the user's uid in Received:.
# cron runs jobs at minute boundaries: this test waits up to ~62 s once.
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (unshare --mount, useradd)"
for c in unshare useradd setpriv cron crontab atd at; do
	command -v "$c" >/dev/null || skip_all "needs $c (TEST_DEBS: cron, at)"
done
[ -e /usr/sbin/sendmail ] || skip_all "no /usr/sbin/sendmail to bind over"
grep -qw overlay /proc/filesystems || skip_all "no overlay file system"
unshare --mount --propagation private true 2>/dev/null ||
	skip_all "unshare --mount is not permitted here"

plan 21

U=t72u$$
H=$(hostname)
chmod 755 "$T"                 # the user reaches its job and the queue
mkdir -p "$T/home"
useradd -M -N -d "$T/home" -s /bin/sh "$U" ||
	{ echo "Bail out! useradd failed"; exit 1; }
trap 'userdel "$U" 2>/dev/null; cleanup' EXIT
chown "$U" "$T/home"
U_UID=$(id -u "$U")

# the queue made by one start of the daemon, then the daemon down
daemon() { start_mta --user nobody -d "test.example,localhost,$H"; }
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(stop_mta)" 0 "the daemon made its queue and stopped"
MD=$T/queue/maildrop

# ---- the namespace --------------------------------------------------------
printf '# t72: the queue of this test\nqueue %s\n' "$T/queue" >"$T/mta.conf"
chmod 644 "$T/mta.conf"
# the job prints once only (cron would mail it again each minute)
cat >"$T/job" <<EOF
#!/bin/sh
[ -e "\$HOME/cron.ran" ] && exit 0
: >"\$HOME/cron.ran"
echo "cron job of \$(id -un), caf\$(printf '\\303\\251')"
EOF
chmod 755 "$T/job"
printf 'MAILTO=root\n* * * * * %s\n' "$T/job" >"$T/crontab"
chmod 644 "$T/crontab"

# ns.sh runs as root in the namespace: mounts, starts cron and atd in
# the foreground, submits the at job as the user, and stays until
# $T/stop appears; then it stops its two daemons and leaves.
cat >"$T/ns.sh" <<'EOF'
set -u
T=$1 SEND=$2 U=$3
set -e
mkdir -p "$T/ns/etc-up" "$T/ns/etc-work" "$T/ns/run-up" "$T/ns/run-work" \
	"$T/ns/crontabs" "$T/ns/atjobs" "$T/ns/atspool" "$T/ns/cron.d"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/ns/etc-up,workdir=$T/ns/etc-work" /etc
mount -t overlay overlay -o "lowerdir=/run,upperdir=$T/ns/run-up,workdir=$T/ns/run-work" /run
mount --bind "$SEND" /usr/sbin/sendmail
# /usr/lib/sendmail: Debian's is a link to ../sbin/sendmail (then
# covered already); a file of its own gets the same bind
if [ -f /usr/lib/sendmail ] && [ ! -L /usr/lib/sendmail ]; then
	mount --bind "$SEND" /usr/lib/sendmail
fi
mkdir -p /etc/mta
cp "$T/mta.conf" /etc/mta/mta.conf
# only this test's jobs: no system crontab, no cron.d, no other spool
mount --bind "$T/ns/cron.d" /etc/cron.d
: >/etc/crontab
rm -f /run/crond.pid /run/atd.pid /run/crond.reboot
chown root:crontab "$T/ns/crontabs"; chmod 1730 "$T/ns/crontabs"
chown daemon:daemon "$T/ns/atjobs" "$T/ns/atspool"
chmod 1770 "$T/ns/atjobs" "$T/ns/atspool"
# at's job counter, as the package makes it (at will not create it)
printf '0\n' >"$T/ns/atjobs/.SEQ"
chown daemon:daemon "$T/ns/atjobs/.SEQ"; chmod 600 "$T/ns/atjobs/.SEQ"
mount --bind "$T/ns/crontabs" /var/spool/cron/crontabs
mount --bind "$T/ns/atjobs" /var/spool/cron/atjobs
mount --bind "$T/ns/atspool" /var/spool/cron/atspool
crontab -u "$U" "$T/crontab"
set +e
# killed by the test's cleanup: cron and atd go too, not left behind
stop() { kill "$(cat "$T/cron.pid")" "$(cat "$T/atd.pid")" 2>/dev/null; }
trap 'stop; exit 1' TERM INT
echo mounted >"$T/ns.state"
cron -f -L 15 >"$T/cron.out" 2>&1 &
echo $! >"$T/cron.pid"
atd -f -b 0 -l 100 >"$T/atd.out" 2>&1 &
echo $! >"$T/atd.pid"
sleep 0.5
# as the user: the job is the user's, atd mails its output to the user
echo 'echo "at job of $(id -un)"' |
	setpriv --reuid "$U" --regid users --init-groups -- at now >"$T/at.out" 2>&1
echo "at=$?" >>"$T/ns.state"
i=0
while [ ! -e "$T/stop" ] && [ "$i" -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
stop
wait
echo stopped >>"$T/ns.state"
EOF

unshare --mount --propagation private bash "$T/ns.sh" "$T" "$MTA_BIN/mta-send" "$U" \
	>"$T/ns.out" 2>&1 &
NS=$!
track "$NS"
stop_ns() { : >"$T/stop"; wait_for 10 eval '! kill -0 "$NS" 2>/dev/null'; }

wait_for 10 grep -q '^at=' "$T/ns.state" 2>/dev/null
is "$(grep '^at=' "$T/ns.state" 2>/dev/null)" "at=0" "at now, as $U, inside the namespace: exit 0"
ok "$([ "$(readlink -f /usr/sbin/sendmail)" = /usr/sbin/sendmail ] &&
	! cmp -s /usr/sbin/sendmail "$MTA_BIN/mta-send"; echo $?)" \
	"outside the namespace /usr/sbin/sendmail is still the machine's own"
ok "$([ ! -e /etc/mta/mta.conf ] || ! grep -q '^# t72' /etc/mta/mta.conf; echo $?)" \
	"... and /etc/mta/mta.conf is not the test's"
if ! grep -q mounted "$T/ns.state" 2>/dev/null; then
	sed 's/^/# ns: /' "$T/ns.out"
	echo "Bail out! the namespace could not be set up"; exit 1
fi

# at's mail first (at once), then cron's (at the next minute)
md_count() { ls "$MD" 2>/dev/null | grep -c '^[0-9A-Za-z]*$'; }
md_has() { grep -l -- "$1" "$MD"/* 2>/dev/null | grep -q .; }
wait_for 20 md_has '^Subject: Output from your job'
ok $? "atd ran the job and mailed its output through sendmail: a file in maildrop/"
SECONDS_AT_CRON=$SECONDS
wait_for 75 md_has "^Subject: Cron <$U@"
ok $? "cron ran the crontab line and mailed its output: a file in maildrop/"
diag "cron's mail came $((SECONDS - SECONDS_AT_CRON)) s after at's"
# one minute more would be the job's second run (it prints nothing then)
sleep 1
stop_ns
ok $? "cron and atd stopped, the namespace left"
[ -s "$T/cron.out" ] && sed 's/^/# cron: /' "$T/cron.out"
[ -s "$T/atd.out" ] && sed 's/^/# atd: /' "$T/atd.out"
is "$(md_count)" 2 "two files in maildrop/, the daemon down"
is "$(stat -c %U "$MD"/* 2>/dev/null | sort -u)" "$U" "... both owned by $U (cron and atd mailed as the user)"

# ---- the daemon started: both delivered once -------------------------------
daemon || { echo "Bail out! mta-smtpd did not start"; exit 1; }
md_empty() { [ "$(md_count)" = 0 ]; }
wait_for 20 md_empty
ok $? "maildrop/ emptied"
wait_for 20 queue_empty
ok $? "the queue drained"
inbox() {	# inbox MAILBOX SUBJECT-REGEX - the messages with such a subject
	grep -lE -- "^Subject: $2" "$T/mail/$1/new/"* 2>/dev/null
}
is "$(inbox root "Cron <$U@$H> $T/job\$" | wc -l)" 1 \
	"cron's message delivered once, to root (MAILTO=root)"
m=$(inbox root "Cron <$U@$H> " | head -1)
is "$(grep -m1 '^From:' "$m" 2>/dev/null)" "From: root (Cron Daemon)" "From: cron's"
like "$(cat "$m" 2>/dev/null)" "cron job of $U, caf"$'\303\251' "the job's output is the body, 8-bit intact"
is "$(grep -m1 '^Received:' "$m" 2>/dev/null)" "Received: by mx.test.example (mta, from userid $U_UID)" \
	"Received: names $U by uid"
like "$(grep '^Return-Path:' "$m" 2>/dev/null)" "<$U@$H>" "the envelope sender: $U at this host"

is "$(inbox "$U" 'Output from your job' | wc -l)" 1 "at's message delivered once, to $U"
m=$(inbox "$U" 'Output from your job' | head -1)
is "$(grep -m1 '^To:' "$m" 2>/dev/null)" "To: $U" "To: the job's owner, as atd addresses it"
like "$(cat "$m" 2>/dev/null)" "at job of $U" "the job's output is the body"
is "$(grep -m1 '^Received:' "$m" 2>/dev/null)" "Received: by mx.test.example (mta, from userid $U_UID)" \
	"Received: names $U by uid"
is "$(stop_mta)" 0 "the daemon stopped"

done_testing
