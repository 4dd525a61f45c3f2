# t/lib/strace.sh - the daemon under strace(1): watching its system calls,
# or making one of them fail.  Source it after common.sh.
#   strace_attach FILE OPTS...  strace OPTS attached to $MTA_PID (every
#                               thread, -f), its lines in FILE; sets
#                               STRACE_PID; false when it could not attach
#                               (ptrace not allowed): then $T/strace.err
#                               says why
#   strace_detach               strace ends (its lines are all in FILE)
#   strace_skip_unless_inject   skip_all unless strace is there and can
#                               inject a fault here
#   start_traced OPTS... [-- DAEMON_OPTS...]
#                               start_mta in $MTA_DIR with the daemon run
#                               by strace OPTS (its lines in
#                               $MTA_DIR/strace.out); false if it did not
#                               start.  $MTA_PID is then strace's pid.
#   stop_traced                 SIGTERM to the daemon under strace; prints
#                               its exit status
STRACE_PID=
STRACE=$(command -v strace)
STRACE_REAL_BIN=$MTA_BIN

# (strace says nothing once attached: wait, bounded, until every thread
# of the daemon names it as its tracer, or it has given up)
strace_attach() {
	local file=$1
	shift
	"$STRACE" -f -qq -y "$@" -o "$file" -p "$MTA_PID" 2>"$T/strace.err" &
	STRACE_PID=$!
	track "$STRACE_PID"
	wait_for 20 _strace_all_traced && kill -0 "$STRACE_PID" 2>/dev/null
}

_strace_all_traced() {
	local st n=0
	kill -0 "$STRACE_PID" 2>/dev/null || return 0
	for st in /proc/"$MTA_PID"/task/*/status; do
		grep -q "^TracerPid:[[:space:]]*$STRACE_PID\$" "$st" 2>/dev/null || return 1
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

strace_detach() {
	kill "$STRACE_PID" 2>/dev/null
	wait "$STRACE_PID" 2>/dev/null
}

strace_skip_unless_inject() {
	[ -n "$STRACE" ] || skip_all "strace is not installed"
	if ! "$STRACE" -f -qq -o /dev/null -e trace=fsync \
		-e inject=fsync:error=EIO /bin/true 2>"$T/strace.err"; then
		skip_all "strace cannot trace here: $(head -1 "$T/strace.err")"
	fi
}

# (LeakSanitizer cannot work under ptrace: off for an ASan build.)
start_traced() {
	mkdir -p "$MTA_DIR/wrap"
	{
		echo '#!/bin/sh'
		echo 'ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"'
		echo 'export ASAN_OPTIONS'
		printf 'exec "%s" -f -qq -y -o "%s"' "$STRACE" "$MTA_DIR/strace.out"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			printf ' "%s"' "$1"
			shift
		done
		printf ' "%s/mta-smtpd" "$@"\n' "$STRACE_REAL_BIN"
	} >"$MTA_DIR/wrap/mta-smtpd"
	if [ "${1:-}" = -- ]; then shift; fi
	chmod +x "$MTA_DIR/wrap/mta-smtpd"
	MTA_BIN=$MTA_DIR/wrap start_mta "$@"
}

# traced_pid - the daemon's own pid (strace's child)
traced_pid() { cut -d" " -f1 /proc/"$MTA_PID"/task/"$MTA_PID"/children 2>/dev/null; }

stop_traced() {
	local dpid
	dpid=$(traced_pid)
	[ -n "$dpid" ] && kill -TERM "$dpid"
	wait_for 45 test -f "$MTA_STATUS_FILE"
	cat "$MTA_STATUS_FILE" 2>/dev/null
}
