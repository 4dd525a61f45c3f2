#!/bin/bash
# costs.sh - what one message costs each server, counted rather than
# timed: system calls by kind, fsyncs (files and directories), context
# switches and CPU time (user, system) per message, for mta-smtpd and a
# private Postfix doing the same work on this machine.
#
# Counts do not depend much on the load of the machine, unlike rates:
# this table says where the time goes (t/bench/README, "Costs per
# message"), the rate benchmarks say how fast.
#
# Paths (PATHS, default "accept e2e relay"):
#   accept  received and queued only: mta-smtpd --hold; Postfix's hold
#           queue (lib-postfix.sh hold mode)
#   e2e     received and delivered into one Maildir (mta: MAILROOT/user,
#           Postfix: virtual(8), lib-postfix.sh maildir mode)
#   relay   received and relayed to an smtp-sink on loopback
#
# Each path runs twice per system with MSGS messages (default 2000) from
# smtp-source (SESSIONS 20 sessions, reused connections, SIZE 1024):
#   1. under strace -f -c: every system call of every process and thread
#      of the server (Postfix: its master and every process it starts);
#   2. in a cpuacct control group of its own (cgroup v1, if the machine
#      has one) under perf stat: CPU time user and system from the group,
#      context switches from perf's counters (inherited by threads and
#      child processes).
# The client (smtp-source) and the sink are outside both.  A run counts
# from the server's start to its stop, so start-up and shutdown are in
# the figures: MSGS large enough makes them small (2000: under 2%).
#
# Output: one table per path, a row per figure, a column per system,
# per message.  Nothing asserted.  Environment: MSGS, SESSIONS, SIZE,
# PATHS, SYSTEMS ("mta postfix"), and those of lib-bench.sh.
set -eu
. "$(dirname "${BASH_SOURCE[0]}")/lib-bench.sh"
. "$BENCH_DIR/lib-postfix.sh"

MSGS=${MSGS:-2000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-1024}
PATHS=${PATHS:-accept e2e relay}
SYSTEMS=${SYSTEMS:-mta postfix}
DOMAIN=bench.example
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
CGROOT=/sys/fs/cgroup/cpuacct

[ -x "$MTA_BIN/mta-smtpd" ] || { say "costs.sh: skipped: mta-smtpd not built"; exit 77; }
command -v strace > /dev/null || die "strace not found (apt-get install strace)"
command -v perf > /dev/null || die "perf not found (apt-get install linux-perf)"
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (apt-get install postfix)"
bench_fs_setup

SINK_PORT=$(free_port)
"$SMTP_SINK" -c -u nobody -h sink.bench.example "127.0.0.1:$SINK_PORT" 1000 \
    > /dev/null 2>&1 &
track_pid $!
wait_until 10 listening "$SINK_PORT" || die "smtp-sink did not listen"

# delivered DIR SYSTEM PATH - how many of the messages are where the path
# puts them
delivered() {
    local d=$1 sys=$2 path=$3
    case $sys/$path in
    mta/accept) count_files "$d/q/new" ;;  # --hold: new/ keeps them
    mta/e2e) count_files "$d/m/user/new" ;;
    mta/relay) awk '$3 == "delivered"' "$d/log" | wc -l ;;
    postfix/*) pf_count "$d/pf" ;;
    esac
}

# all_done DIR SYSTEM PATH - every message where the path puts it
all_done() { [ "$(delivered "$1" "$2" "$3")" -ge "$MSGS" ]; }

# run SYSTEM PATH MODE OUT - one run; MODE strace or cpu; OUT the file
# for strace's table or "user system ctxsw"
run() {
    local sys=$1 path=$2 mode=$3 out=$4 d port cg="" wrap=()
    bench_tmpdir d "costs-$sys-$path"
    port=$(free_port)
    case $mode in
    strace) wrap=(strace -f -c -o "$out") ;;
    cpu)
        wrap=(perf stat -x, -e context-switches -o "$d/perf")
        if [ -d "$CGROOT" ]; then
            cg=$CGROOT/mta-costs-$$
            mkdir -p "$cg"
            echo $$ > "$cg/tasks"   # the server and its children start in it
        fi ;;
    esac
    if [ "$sys" = mta ]; then
        local args=(-q "$d/q" -m "$d/m" -l "127.0.0.1:$port" -d "$DOMAIN" -L "$d/log")
        case $path in
        accept) args+=(--hold) ;;
        relay) args=(-q "$d/q" -l "127.0.0.1:$port" -L "$d/log"
                     --route "$DOMAIN=127.0.0.1:$SINK_PORT") ;;
        esac
        "${wrap[@]}" "$MTA_BIN/mta-smtpd" "${args[@]}" > "$d/stderr" 2>&1 &
    else
        mkdir -m 755 "$d/pf"
        case $path in
        accept) pf_create "$d/pf" "$port" hold ;;
        e2e) pf_create "$d/pf" "$port" maildir "$DOMAIN" user ;;
        relay) pf_create "$d/pf" "$port" relay "127.0.0.1:$SINK_PORT" ;;
        esac
        timeout 60 "$PF_POSTFIX" -c "$d/pf/etc" check > /dev/null 2>&1 ||
            die "postfix check failed"
        "${wrap[@]}" "$PF_POSTFIX" -c "$d/pf/etc" start-fg > "$d/stderr" 2>&1 &
    fi
    local pid=$!
    track_pid "$pid"
    [ -n "$cg" ] && echo $$ > "$CGROOT/tasks"   # back out: only the server counts
    wait_until 60 listening "$port" || { cat "$d/stderr" >&2; die "$sys did not listen"; }
    "$SMTP_SOURCE" -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -d -f bench@sender.example \
        -t "user@$DOMAIN" "127.0.0.1:$port" || die "smtp-source failed"
    wait_until 600 all_done "$d" "$sys" "$path" ||
        die "$sys/$path: $(delivered "$d" "$sys" "$path") of $MSGS done"
    sleep 1   # let the last deliveries' threads and processes finish
    if [ "$sys" = mta ]; then
        # the daemon itself, not its wrapper: strace and perf end with it
        pkill -TERM -f "^$MTA_BIN/mta-smtpd -q $d/q " || true
    else
        timeout 60 "$PF_POSTFIX" -c "$d/pf/etc" stop > /dev/null 2>&1 || true
    fi
    wait "$pid" 2>/dev/null || true
    untrack_pid "$pid"
    if [ "$mode" = cpu ]; then
        local user=0 system=0 cs
        if [ -n "$cg" ]; then
            user=$(awk '$1 == "user" { print $2 }' "$cg/cpuacct.stat")
            system=$(awk '$1 == "system" { print $2 }' "$cg/cpuacct.stat")
            rmdir "$cg" 2>/dev/null || true
        fi
        cs=$(awk -F, '$3 == "context-switches" { print $1 }' "$d/perf")
        echo "$user $system $cs" > "$out"
    fi
}

# syscalls FILE NAME... - calls of those kinds in strace's table
syscalls() {
    local f=$1
    shift
    awk -v names=" $* " '$NF ~ /^[a-z_0-9]+$/ && index(names, " " $NF " ") {
        c = ($4 ~ /^[0-9]+$/) ? $4 : $3; n += c } END { print n + 0 }' "$f"
}

per() { awk -v a="$1" -v n="$MSGS" 'BEGIN { printf "%.1f", a / n }'; }

HZ=$(getconf CLK_TCK)
for path in $PATHS; do
    declare -A ROW=()
    for sys in $SYSTEMS; do
        s=$BENCH_TMP/costs-$sys-$path.strace
        c=$BENCH_TMP/costs-$sys-$path.cpu
        say "costs.sh: $path $sys: counting system calls"
        run "$sys" "$path" strace "$s"
        say "costs.sh: $path $sys: CPU and context switches"
        run "$sys" "$path" cpu "$c"
        read -r user system cs < "$c"
        total=$(awk '$NF == "total" { print $(NF-2) ~ /^[0-9]+$/ ? $(NF-2) : $(NF-1) }' "$s")
        ROW[syscalls]+=" $(per "$total")"
        ROW[fsync]+=" $(per "$(syscalls "$s" fsync fdatasync)")"
        ROW[open]+=" $(per "$(syscalls "$s" open openat openat2 creat)")"
        ROW[rename]+=" $(per "$(syscalls "$s" rename renameat renameat2 link linkat)")"
        ROW[unlink]+=" $(per "$(syscalls "$s" unlink unlinkat)")"
        ROW[stat]+=" $(per "$(syscalls "$s" stat lstat fstat newfstatat statx access faccessat faccessat2)")"
        ROW[io]+=" $(per "$(syscalls "$s" read write pread64 pwrite64 readv writev sendto recvfrom sendmsg recvmsg)")"
        ROW[wait]+=" $(per "$(syscalls "$s" futex poll ppoll epoll_wait epoll_pwait select pselect6)")"
        ROW[procs]+=" $(per "$(syscalls "$s" clone clone3 fork vfork execve)")"
        ROW[ctxsw]+=" $(per "$cs")"
        ROW[user]+=" $(awk -v t="$user" -v hz="$HZ" -v n="$MSGS" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')"
        ROW[sys]+=" $(awk -v t="$system" -v hz="$HZ" -v n="$MSGS" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')"
    done
    printf '\n%s: per message (%s messages, %s sessions, %s bytes)\n' "$path" "$MSGS" "$SESSIONS" "$SIZE"
    printf '%-34s' "" ; for sys in $SYSTEMS; do printf '%10s' "$sys"; done; echo
    for k in syscalls fsync open rename unlink stat io wait procs ctxsw user sys; do
        case $k in
        syscalls) label="system calls, all" ;;
        fsync) label="  fsync + fdatasync" ;;
        open) label="  open, openat" ;;
        rename) label="  rename, link" ;;
        unlink) label="  unlink" ;;
        stat) label="  stat, statx, access" ;;
        io) label="  read, write, send, recv" ;;
        wait) label="  futex, poll, epoll, select" ;;
        procs) label="  clone, fork, execve" ;;
        ctxsw) label="context switches" ;;
        user) label="CPU user (microseconds)" ;;
        sys) label="CPU system (microseconds)" ;;
        esac
        printf '%-34s' "$label"
        for v in ${ROW[$k]}; do printf '%10s' "$v"; done
        echo
    done
    unset ROW
done
