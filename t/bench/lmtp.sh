#!/bin/bash
# lmtp.sh - end to end through LMTP to Dovecot: from the first SMTP
# connection to the last message in the user's Maildir, written by
# Dovecot's lmtp.  mta-smtpd (--lmtp the Dovecot socket) against a
# private Postfix whose virtual domain goes to the same Dovecot with
# lmtp(8) (virtual_transport = lmtp:unix:SOCKET), same run, alternating.
#
# Dovecot: a private instance (t/lib/dovecot.sh) with one user,
# "user", its mail in D/mail/user (maildir); auth_username_format = %Ln,
# so that Postfix's RCPT TO:<user@DOMAIN> and mta's bare <user> (a local
# domain's mailbox, transport.h) are the same user.  It is started
# afresh, with an empty mail directory, before every run.
# The load is Postfix's smtp-source, as in e2e.sh: SESSIONS parallel
# sessions, MSGS messages of SIZE bytes, all to user@DOMAIN, connections
# reused (-d).  The clock starts just before smtp-source and stops when
# a poller sees MSGS files in D/mail/user/new (every POLL seconds).
# Every run is checked: exactly MSGS files there, each body exactly
# smtp-source's payload, no Message-Id twice; a run failing a check is
# left out of the medians.
#
#   mta      bin/mta-smtpd -d DOMAIN --lmtp SOCKET (defaults otherwise:
#            --max-lmtp 10 deliveries to Dovecot at once), fresh queue;
#   postfix  pf_create maildir DOMAIN user, then virtual_transport =
#            lmtp:unix:SOCKET; lmtp_destination_concurrency_limit at its
#            default ($default_destination_concurrency_limit, 20),
#            lmtp_destination_recipient_limit default; one instance for
#            all rounds.
#
# Odd rounds start with mta, even rounds with Postfix.  Reported: each
# round's messages/s, the median and the spread (min..max) per system,
# and the ratio of the medians (> 1: mta is faster).  Nothing asserted.
#
# Environment: ROUNDS (5), MSGS (2000), SESSIONS (20), SIZE (1024),
# SYSTEMS ("mta postfix"), DOMAIN (bench.example), POLL (0.05), DEADLINE
# (600 s), DRAIN_TIMEOUT (300 s), MTA_ARGS, and those of lib-bench.sh
# (BENCH_FS=ext4: the scratch directory is a journaled ext4 loop mount).
# Exit: 0 done, 1 error or a failed check, 77 not buildable/installed.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-2000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
SYSTEMS=${SYSTEMS:-mta postfix}
DOMAIN=${DOMAIN:-bench.example}
SENDER=${SENDER:-bench@sender.example}
RCPT=user@$DOMAIN
POLL=${POLL:-0.05}
DEADLINE=${DEADLINE:-600}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
MTA_ARGS=${MTA_ARGS:-}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
MTA=$MTA_BIN/mta-smtpd
PY=$PYTHON

if want mta && [ ! -x "$MTA" ]; then
    say "lmtp.sh: skipped: $MTA is not built (make)"; exit 77
fi
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (apt-get install postfix)"
[ -x /usr/lib/dovecot/lmtp ] || { say "lmtp.sh: skipped: dovecot-lmtpd is not installed"; exit 77; }

. "$BENCH_DIR/../lib/dovecot.sh"

bench_tmpdir W lmtp
chmod 711 "$W"
DOVECOT_EXTRA='auth_username_format = %Ln'
dovecot_lmtp_setup "$W/dovecot" 127.0.0.139 user:pw
NEW=$W/dovecot/mail/user/new

declare -A RATES=() BAD=()

# fresh_dovecot - Dovecot restarted on an empty mail directory
fresh_dovecot() {
    local pid=$DOVECOT_PID
    [ -z "$pid" ] || { stop_dovecot; untrack_pid "$pid"; }
    rm -rf "$W/dovecot/mail/user"
    dovecot_lmtp_start || die "Dovecot did not start"
}

# poll_new OUT: count NEW's files every POLL s until MSGS (or DEADLINE);
# "TIME COUNT" into OUT; sets POLL_PID
poll_new() {
    "$PY" - "$NEW" "$MSGS" "$POLL" "$DEADLINE" "$1" <<'PYEOF' &
import os, sys, time
path, target, poll, limit, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
deadline, n = time.time() + limit, 0
while True:
    try:
        with os.scandir(path) as it:
            n = sum(1 for e in it if e.is_file(follow_symlinks=False))
    except FileNotFoundError:
        n = 0
    t = time.time()
    if n >= target or t > deadline:
        break
    time.sleep(poll)
open(out, "w").write("%.6f %d\n" % (t, n))
sys.exit(0 if n >= target else 1)
PYEOF
    POLL_PID=$!
    track_pid "$POLL_PID"
}

# check_new - MSGS files, bodies = payload, no Message-Id twice
check_new() {
    "$PY" - "$NEW" "$MSGS" "$(smtp_source_payload "$SIZE")" <<'PYEOF'
import os, sys
new, want, payload = sys.argv[1], int(sys.argv[2]), (sys.argv[3] + "\n").encode()
files = sorted(os.listdir(new)) if os.path.isdir(new) else []
bad, ids = 0, {}
for name in files:
    data = open(os.path.join(new, name), "rb").read()
    head, sep, body = data.partition(b"\n\n")
    if not sep or body != payload:
        bad += 1
    for line in head.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            ids[line] = ids.get(line, 0) + 1
dups = sum(c - 1 for c in ids.values() if c > 1)
ok = len(files) == want and bad == 0 and dups == 0
print("%d in new/ (want %d), %d bodies wrong, %d duplicate Message-Ids" % (len(files), want, bad, dups))
sys.exit(0 if ok else 1)
PYEOF
}

# one_run SYSTEM PORT LABEL CHECK_DRAINED: the timed run and its checks
one_run() {
    local sys=$1 port=$2 label=$3 drained=$4 t0 t_end prc=0 src=0 ok=1 res
    fresh_dovecot
    sync
    poll_new "$W/$label.poll"
    t0=$(now)
    timeout -k 10 900 "$SMTP_SOURCE" -d -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
        -f "$SENDER" -t "$RCPT" "127.0.0.1:$port" > "$W/$label.source" 2>&1 || src=$?
    wait "$POLL_PID" || prc=$?
    untrack_pid "$POLL_PID"
    [ "$src" = 0 ] || { note "$sys $label: smtp-source exited $src"; ok=0; }
    [ "$prc" = 0 ] || { note "$sys $label: only $(cut -d' ' -f2 "$W/$label.poll") delivered within ${DEADLINE}s"; ok=0; }
    wait_until "$DRAIN_TIMEOUT" "$drained" || { note "$sys $label: queue not empty after the run"; ok=0; }
    if res=$(check_new); then say "  $sys $label: $res"; else note "$sys $label: CHECK FAILED: $res"; ok=0; fi
    if [ "$ok" = 1 ]; then
        t_end=$(cut -d' ' -f1 "$W/$label.poll")
        RATES[$sys]="${RATES[$sys]:-} $(rate "$MSGS" "$t0" "$t_end")"
        say "  $sys $label: $(rate "$MSGS" "$t0" "$t_end") msg/s end to end"
    else
        BAD[$sys]=$(( ${BAD[$sys]:-0} + 1 ))
    fi
}

MD=
_mta_empty() { [ "$(count_files "$MD/queue/new" "$MD/queue/mess")" = 0 ]; }
run_mta() {
    local round=$1 port
    want mta || return 0
    MD=$W/mta-$round
    mkdir -p "$MD"
    port=$(free_port)
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    mta_start "$MD" "$port" -q "$MD/queue" -m "$MD/mail" -l "127.0.0.1:$port" \
        -d "$DOMAIN" --lmtp "$DOVECOT_LMTP_SOCKET" $MTA_ARGS
    one_run mta "$port" "mta-$round" _mta_empty
    stop_pid "$MTA_PID" 40
    local odd
    odd=$(mta_log_unusual "$MD/log" connect queued listen start stopping stop explode delivery-start delivered message-done fd-limit recovered delivery-busy | head -n 3)
    [ -z "$odd" ] || note "mta-smtpd log (round $round), unusual: $(printf '%s\n' "$odd" | tr '\n' ';')"
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$MD/queue"
}

PF=$W/postfix
PF_PORT=$(free_port)
_pf_empty() { [ "$(pf_queue_count "$PF")" = 0 ]; }
run_postfix() {
    want postfix || return 0
    one_run postfix "$PF_PORT" "postfix-$1" _pf_empty
}

say "lmtp.sh: $SESSIONS sessions x $MSGS messages of $SIZE bytes to $RCPT, $ROUNDS rounds"
say "  scratch: $W ($(df -P "$W" | awk 'NR == 2 { print $1 }'))"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if want postfix; then
    mkdir -p "$PF"
    chmod 755 "$PF"
    pf_create "$PF" "$PF_PORT" maildir "$DOMAIN" user
    pf_set "$PF" "virtual_transport = lmtp:unix:$DOVECOT_LMTP_SOCKET"
    pf_start "$PF"
fi
bench_rounds
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
want postfix && pf_stop "$PF"
stop_dovecot

# spread - "min..max" of the numbers given
spread() { [ $# -gt 0 ] || { echo -; return; }; printf '%s\n' "$@" | sort -g | sed -n '1h;$!d;x;G;s/\n/../;p'; }
echo
echo "lmtp: smtp-source -d, $SESSIONS sessions, $MSGS messages of $SIZE bytes to $RCPT -> LMTP -> Dovecot $(dovecot --version | cut -d' ' -f1) Maildir"
echo "time: start of smtp-source -> last message in Dovecot's new/ (polled every ${POLL}s)"
echo "mta: -d $DOMAIN --lmtp SOCKET${MTA_ARGS:+ $MTA_ARGS}; postfix: virtual_transport = lmtp:unix:SOCKET, lmtp concurrency $(postconf -c "$PF/etc" -xh default_destination_concurrency_limit 2>/dev/null || echo ?)"
# shellcheck disable=SC2086 # space-separated numbers
{
    m=$(median ${RATES[mta]:-}) p=$(median ${RATES[postfix]:-})
    printf '%-28s %10s %10s %12s\n' "" mta postfix mta/postfix
    printf '%-28s %10s %10s %12s\n' "end to end, messages/s" "$m" "$p" "$(ratio "$m" "$p")"
    printf '%-28s %10s %10s\n' "  spread (min..max)" "$(spread ${RATES[mta]:-})" "$(spread ${RATES[postfix]:-})"
    printf '%-28s mta:%s  postfix:%s\n' "  (each round)" "${RATES[mta]:- -}" "${RATES[postfix]:- -}"
}
echo "load average (1 5 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; $(nproc) CPUs"
LOST=$(( ${BAD[mta]:-0} + ${BAD[postfix]:-0} ))
report_verdict "$LOST" "every run delivered exactly $MSGS complete messages into Dovecot's Maildir, no duplicate Message-Id"
