#!/bin/bash
# e2e.sh - end to end: from the first SMTP connection to the last message
# in the recipient's Maildir.  mta-smtpd (receives, queues, schedules and
# delivers to Maildir) against a private Postfix that delivers with
# virtual(8) to Maildirs (lib-postfix.sh, maildir mode), on this machine,
# under the same load, alternating, repeated.
#
# The load is Postfix's smtp-source: SESSIONS parallel sessions sending
# MSGS messages in total (payload SIZE bytes), all to one recipient,
# user@DOMAIN.  By default the sessions reuse their connections (-d,
# REUSE=1): what is measured is the mail path (queue, scheduler,
# delivery), not connection set-up, which accept.sh covers; REUSE=0 opens
# a new connection per message.
#
# The clock starts just before smtp-source starts and stops when a poller
# (every POLL seconds, 0.05) sees MSGS files in the Maildir's new/
# (mta: MAILROOT/user/new, Postfix: virtual_mailbox_base/user/new).
# messages/s = MSGS / that time.  Also reported: the rate of smtp-source
# alone (start to its last reply) and how long after the last reply the
# last message was delivered.
#
# After each run the system is left to finish (queue empty, bounded by
# DRAIN_TIMEOUT), then every run is checked: exactly MSGS files in new/,
# none anywhere else in the mail root, every body exactly smtp-source's
# payload (all files are read), Delivered-To: and Return-Path: present,
# and no duplicate Message-Id.  A run that fails a check is left out of
# the medians and listed under notes.
#
#   mta      bin/mta-smtpd -q Q -m M -l 127.0.0.1:PORT -d DOMAIN -L LOG
#            (defaults otherwise: --max-deliveries 100, --max-per-dest 20),
#            a fresh daemon, queue and mail root for every run.
#   postfix  pf_create maildir DOMAIN user: virtual(8) to DIR/mail/user/;
#            Postfix defaults for delivery concurrency:
#            virtual_destination_concurrency_limit = 20 (default_...),
#            initial_destination_concurrency = 5, default_process_limit
#            = 100, virtual_destination_recipient_limit = 50 (each
#            message has one recipient: one delivery per message);
#            plus lib-postfix.sh's in_flow_delay = 0 and no chroot.  One
#            instance for all rounds; its Maildir is removed between runs.
#            PF_SETTINGS='name = value;...' changes main.cf (postconf -e).
#
#   floor    t/tools/thread-sink -k QUEUE -m MAILDIR (lib-bench.sh
#            floor_start), between the two in every round: a thread per
#            connection that makes each message durable in QUEUE before
#            its 250, then writes it durably into MAILDIR and unlinks it
#            from QUEUE before it reads the next command.  The file-system
#            work of end to end and nothing else (no scheduler, no
#            envelope, no headers added, no log).  Not a bound: each
#            session waits for both commits of a message, where a server
#            that delivers apart lets more of them share one.  Checked by
#            counting: MSGS files in MAILDIR/new, none left in QUEUE.
#
# Odd rounds start with mta, even rounds with Postfix.  Reported: median
# messages/s over ROUNDS rounds and the ratio mta/Postfix (> 1 means mta
# is faster).  Nothing is asserted about timing.
#
# Environment: ROUNDS (5), MSGS (5000), SESSIONS (20), SIZE (1024), REUSE
# (1), SYSTEMS ("mta postfix floor"), DOMAIN (bench.example), POLL (0.05),
# DEADLINE (600 s from the start of smtp-source to the last delivery),
# RUN_TIMEOUT (900 s for smtp-source), DRAIN_TIMEOUT (300 s), MTA_ARGS
# (extra mta-smtpd options), PF_SETTINGS, and those of lib-bench.sh.
# Exit status: 0 done, 1 error or a run that failed its checks, 77
# mta-smtpd not built.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
REUSE=${REUSE:-1}
SYSTEMS=${SYSTEMS:-mta postfix floor}
DOMAIN=${DOMAIN:-bench.example}
SENDER=${SENDER:-bench@sender.example}
RCPT=user@$DOMAIN
POLL=${POLL:-0.05}
DEADLINE=${DEADLINE:-600}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
MTA_ARGS=${MTA_ARGS:-}
PF_SETTINGS=${PF_SETTINGS:-}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
MTA=$MTA_BIN/mta-smtpd

if want mta && [ ! -x "$MTA" ]; then
    say "e2e.sh: skipped: $MTA is not built (make)"
    exit 77
fi
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (apt-get install postfix)"

bench_tmpdir W e2e

declare -A RATES=()   # system -> "r1 r2 ..." end-to-end messages/s (good runs)
declare -A SRATES=()  # system -> smtp-source messages/s (good runs)
declare -A LAG=()     # system -> seconds from the last reply to the last delivery
declare -A BAD=()     # system -> runs that failed a check

# poll_maildir DIR OUT: in the background, count the files in DIR every
# POLL seconds until there are MSGS of them (or DEADLINE seconds have
# passed); then write "TIME COUNT" to OUT (TIME: epoch seconds when the
# count was first seen) and exit 0 (reached) or 1 (deadline).  One
# process, so polling costs a directory read, not a fork per poll.
# Sets POLL_PID.
poll_maildir() {
    "$PYTHON" - "$1" "$MSGS" "$POLL" "$DEADLINE" "$2" <<'PYEOF' &
import os, sys, time
path, target, poll, limit, out = sys.argv[1], int(sys.argv[2]), \
    float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
deadline = time.time() + limit
n = 0
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
with open(out, "w") as f:
    f.write("%.6f %d\n" % (t, n))
sys.exit(0 if n >= target else 1)
PYEOF
    POLL_PID=$!
    track_pid "$POLL_PID"
}

# check_maildir MAILROOT: exactly MSGS messages in MAILROOT/user/new and
# nothing in any other mailbox; every one complete (body = smtp-source's
# payload), with Delivered-To: and Return-Path:, no Message-Id twice.
# Prints a one-line summary; fails if anything is wrong.
check_maildir() {
    "$PYTHON" - "$1" "$MSGS" "$SIZE" "$RCPT" <<'PYEOF'
import os, sys
root, want, size, rcpt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# smtp-source's payload (as in bench-gun.sh): lines of 78 characters, the
# first a running digit (1, 2, ... mod 10), the rest X's, 80 bytes each
# with CRLF; what is left of SIZE as one last line of X's.  Both servers
# store it with LF line ends.
lines, i, left = [], 1, size
while left >= 80:
    lines.append(str(i % 10) + "X" * 77)
    left -= 80
    i += 1
if left > 0:
    lines.append("X" * left)
payload = ("\n".join(lines) + "\n").encode()
new = os.path.join(root, "user", "new")
files = sorted(os.listdir(new)) if os.path.isdir(new) else []
others = []
for dirpath, dirs, names in os.walk(root):
    if os.path.abspath(dirpath) != os.path.abspath(new):
        others += [os.path.join(dirpath, n) for n in names]
bad, ids = [], {}
for name in files:
    with open(os.path.join(new, name), "rb") as f:
        data = f.read()
    head, sep, body = data.partition(b"\n\n")
    hl = head.lower()
    if not sep or body != payload:
        bad.append("%s: body of %d bytes, not the %d-byte payload" % (name, len(body), len(payload)))
    elif not hl.startswith(b"return-path:") and b"\nreturn-path:" not in hl:
        bad.append("%s: no Return-Path:" % name)
    elif b"delivered-to: " + rcpt.lower().encode() not in hl:
        bad.append("%s: no Delivered-To: %s" % (name, rcpt))
    for line in head.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            mid = line.split(b":", 1)[1].strip()
            ids[mid] = ids.get(mid, 0) + 1
dups = sum(c - 1 for c in ids.values() if c > 1)
ok = len(files) == want and not others and not bad and dups == 0
print("%d in user/new (want %d), %d elsewhere, %d incomplete, %d duplicate Message-Ids%s"
      % (len(files), want, len(others), len(bad), dups,
         "" if ok else "; e.g. " + "; ".join((bad + others)[:2])))
sys.exit(0 if ok else 1)
PYEOF
}

# run_source PORT OUT: smtp-source in the background (a signal to this
# script is acted on at once); sets SOURCE_PID.
run_source() {
    local args=(-s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f "$SENDER" -t "$RCPT")
    [ "$REUSE" = 1 ] && args=(-d "${args[@]}")
    timeout -k 10 "$RUN_TIMEOUT" "$SMTP_SOURCE" "${args[@]}" "127.0.0.1:$1" \
        > "$2" 2>&1 &
    SOURCE_PID=$!
    track_pid "$SOURCE_PID"
}

# one_run SYSTEM PORT MAILDIR_NEW LABEL: start the poller, then
# smtp-source; wait for both (bounded).  Sets T0 (start), T_SRC (last
# reply), T_END (last delivery seen, or empty), SRC_RC.
one_run() {
    local sys=$1 port=$2 new=$3 label=$4 prc=0
    poll_maildir "$new" "$W/$label.poll"
    T0=$(now)
    run_source "$port" "$W/$label.source"
    SRC_RC=0
    wait "$SOURCE_PID" || SRC_RC=$?
    T_SRC=$(now)
    untrack_pid "$SOURCE_PID"
    wait "$POLL_PID" || prc=$?
    untrack_pid "$POLL_PID"
    T_END=
    if [ "$prc" = 0 ]; then
        T_END=$(cut -d' ' -f1 "$W/$label.poll")
    else
        note "$sys $label: only $(cut -d' ' -f2 "$W/$label.poll" 2>/dev/null) of $MSGS messages delivered within ${DEADLINE}s"
    fi
    if [ "$SRC_RC" != 0 ]; then
        note "$sys $label: smtp-source exited $SRC_RC: $(head -n 3 "$W/$label.source" | tr '\n' ' ')"
    elif [ -s "$W/$label.source" ]; then
        note "$sys $label: smtp-source said: $(sort "$W/$label.source" | uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')"
    fi
}

# record SYSTEM LABEL CHECK_OK: file the run's figures, or its failure.
record() {
    local sys=$1 label=$2 ok=$3 r s lag
    s=$(rate "$MSGS" "$T0" "$T_SRC")
    if [ "$ok" = 1 ] && [ "$SRC_RC" = 0 ] && [ -n "$T_END" ]; then
        r=$(rate "$MSGS" "$T0" "$T_END")
        # The poller may see the last file before smtp-source has read
        # its last reply and quit: the lag can be negative.
        lag=$(awk -v a="$T_SRC" -v b="$T_END" 'BEGIN { printf "%.2f", b - a }')
        RATES[$sys]="${RATES[$sys]:-} $r"
        SRATES[$sys]="${SRATES[$sys]:-} $s"
        LAG[$sys]="${LAG[$sys]:-} $lag"
        say "  $sys $label: $r msg/s end to end (smtp-source alone: $s msg/s; last delivery ${lag}s after the last reply)"
    else
        BAD[$sys]=$(( ${BAD[$sys]:-0} + 1 ))
        note "$sys $label: run failed its checks, not counted (smtp-source $SRC_RC, $s msg/s)"
    fi
}

# ---- mta-smtpd ------------------------------------------------------------
mta_queued() { count_files "$1/queue/new" "$1/queue/mess" "$1/queue/rcpt"; }
_mta_empty() { [ "$(mta_queued "$1")" = 0 ]; }

run_mta() {
    local round=$1 d port pid ok=1 res odd
    want mta || return 0
    d=$W/mta-$round
    mkdir -p "$d"
    port=$(free_port)
    # shellcheck disable=SC2086 # MTA_ARGS is a list of options
    "$MTA" -q "$d/queue" -m "$d/mail" -l "127.0.0.1:$port" -d "$DOMAIN" \
        -L "$d/log" $MTA_ARGS > "$d/stderr" 2>&1 &
    pid=$!
    track_pid "$pid"
    wait_until 20 listening "$port" || { cat "$d/stderr" >&2; die "mta-smtpd did not listen on 127.0.0.1:$port"; }
    sync
    one_run mta "$port" "$d/mail/user/new" "mta-$round"
    wait_until "$DRAIN_TIMEOUT" _mta_empty "$d" ||
        { note "mta round $round: $(mta_queued "$d") queue files left ${DRAIN_TIMEOUT}s after the run"; ok=0; }
    kill -0 "$pid" 2>/dev/null || { note "mta-smtpd died in round $round: $(tail -n 3 "$d/stderr" | tr '\n' ' ')"; ok=0; }
    stop_pid "$pid" 40
    [ -s "$d/stderr" ] && note "mta-smtpd stderr (round $round): $(head -n 3 "$d/stderr" | tr '\n' ' ')"
    if res=$(check_maildir "$d/mail"); then
        say "  mta round $round: $res"
    else
        note "mta round $round: CHECK FAILED: $res"; ok=0
    fi
    # Anything in the log but the normal life of a message.
    odd=$(awk '$3 ~ /^(connect|queued|listen|start|stopping|stop|recovered|explode|delivery-start|delivered|message-done)$/ { next }
               $3 == "disconnect" && / reason=done / { next } { print }' "$d/log" | head -n 3)
    [ -z "$odd" ] || note "mta-smtpd log (round $round), unusual: $(printf '%s\n' "$odd" | tr '\n' ';')"
    record mta "round $round" "$ok"
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d/queue" "$d/mail"
}

# ---- the floor ----------------------------------------------------------------
run_floor() {
    local round=$1 d port ok=1 n q
    want floor || return 0
    d=$W/floor-$round
    mkdir -p "$d"
    port=$(free_port)
    floor_start "$d" "$port" -k "$d/queue" -m "$d/mail"
    sync
    one_run floor "$port" "$d/mail/new" "floor-$round"
    kill -0 "$FLOOR_PID" 2>/dev/null || { note "thread-sink died in round $round: $(head -n 3 "$d.stderr" | tr '\n' ' ')"; ok=0; }
    stop_pid "$FLOOR_PID"
    n=$(count_files "$d/mail/new") q=$(count_files "$d/queue/new" "$d/queue/tmp" "$d/mail/tmp")
    if [ "$n" = "$MSGS" ] && [ "$q" = 0 ]; then
        say "  floor round $round: $n in new/ (want $MSGS), none left in the queue or tmp/"
    else
        note "floor round $round: CHECK FAILED: $n in new/ (want $MSGS), $q left in the queue or tmp/"; ok=0
    fi
    record floor "round $round" "$ok"
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$d"
}

# ---- Postfix ----------------------------------------------------------------
PF=$W/postfix
mkdir -p "$PF"
chmod 755 "$PF"
PF_PORT=$(free_port)
_pf_empty() { [ "$(pf_queue_count "$PF")" = 0 ]; }

run_postfix() {
    local round=$1 ok=1 res off bad
    want postfix || return 0
    rm -rf "$PF/mail/user" "$PF/mail/_other"
    off=$(stat -c %s "$PF/maillog")
    sync
    one_run postfix "$PF_PORT" "$PF/mail/user/new" "postfix-$round"
    wait_until "$DRAIN_TIMEOUT" _pf_empty ||
        { note "postfix round $round: $(pf_queue_count "$PF") messages queued ${DRAIN_TIMEOUT}s after the run"; ok=0; }
    if res=$(check_maildir "$PF/mail"); then
        say "  postfix round $round: $res"
    else
        note "postfix round $round: CHECK FAILED: $res"; ok=0
    fi
    bad=$(tail -c +"$((off + 1))" "$PF/maillog" | grep -E ' (warning|error|fatal|panic|reject):' || true)
    [ -z "$bad" ] || note "postfix maillog (round $round): $(printf '%s\n' "$bad" | wc -l) warning/reject lines, e.g. $(printf '%s\n' "$bad" | head -n 1)"
    record postfix "round $round" "$ok"
}

# ---- the runs -------------------------------------------------------------
say "e2e.sh: $SESSIONS sessions x $MSGS messages of $SIZE bytes to $RCPT, $ROUNDS rounds"
say "  scratch: $W ($(df -P "$W" | awk 'NR == 2 { print $1 }'))"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if want postfix; then
    pf_create "$PF" "$PF_PORT" maildir "$DOMAIN" user
    pf_set_list "$PF" "$PF_SETTINGS"
    pf_start "$PF"
    say "  private postfix (maildir, virtual) on 127.0.0.1:$PF_PORT"
fi
want mta && say "  mta-smtpd: $MTA $MTA_ARGS"

bench_rounds
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------
pfc() { postconf -c "$PF/etc" -xh "$1" 2>/dev/null || echo "?"; }
echo
echo "e2e: smtp-source$([ "$REUSE" = 1 ] && echo " -d (connections reused)" || echo " (a connection per message)"), $SESSIONS sessions, $MSGS messages of $SIZE bytes to $RCPT, loopback"
echo "time: start of smtp-source -> last of the $MSGS messages in the Maildir's new/ (polled every ${POLL}s)"
want mta && echo "mta: -d $DOMAIN -m MAILROOT${MTA_ARGS:+ $MTA_ARGS} (Maildir MAILROOT/user/)"
want postfix && echo "postfix: virtual(8) to Maildir; virtual_destination_concurrency_limit=$(pfc virtual_destination_concurrency_limit) (default_destination_concurrency_limit=$(pfc default_destination_concurrency_limit)), initial_destination_concurrency=$(pfc initial_destination_concurrency), default_process_limit=$(pfc default_process_limit), in_flow_delay=$(pfc in_flow_delay)${PF_SETTINGS:+; set: $PF_SETTINGS}"
echo "median over $ROUNDS rounds; mta/postfix > 1: mta is faster"
# shellcheck disable=SC2086 # the lists are space-separated numbers
{
    m=$(median ${RATES[mta]:-}) p=$(median ${RATES[postfix]:-})
    ms=$(median ${SRATES[mta]:-}) ps=$(median ${SRATES[postfix]:-})
    printf '%-40s %10s %10s %12s\n' "" mta postfix mta/postfix
    printf '%-40s %10s %10s %12s\n' "end to end, messages/s" "$m" "$p" "$(ratio "$m" "$p")"
    printf '%-40s mta:%s  postfix:%s\n' "  (each round)" "${RATES[mta]:- -}" "${RATES[postfix]:- -}"
    printf '%-40s %10s %10s %12s\n' "smtp-source alone (accepting), msg/s" "$ms" "$ps" "$(ratio "$ms" "$ps")"
    printf '%-40s mta:%s  postfix:%s\n' "  (each round)" "${SRATES[mta]:- -}" "${SRATES[postfix]:- -}"
    printf '%-40s %10s %10s\n' "last delivery after last reply, s" \
        "$(median ${LAG[mta]:-})" "$(median ${LAG[postfix]:-})"
    if want floor; then
        echo "floor: t/tools/thread-sink -k -m, a thread per connection doing only the file-system work of end to end"
        # end to end's target is 3 x Postfix (with reused connections)
        floor_row "end to end, messages/s" "$(median ${RATES[floor]:-})" "$m" "$p" 3
        printf '%-30s floor:%s\n' "  (each round)" "${RATES[floor]:- -}"
    fi
}
echo "load average (1 5 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; $(nproc) CPUs"
lost=$(( ${BAD[mta]:-0} + ${BAD[postfix]:-0} + ${BAD[floor]:-0} ))
report_verdict "$lost" "every run delivered exactly $MSGS complete messages to user/new (bodies, Delivered-To, Return-Path, no duplicate Message-Id$(want floor && echo "; the floor's counted only"))"
