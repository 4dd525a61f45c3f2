# t/lib/postfix-peer.sh - a private Postfix as a test's peer (t/48,
# t/94): skips the test (skip_all, with the reason) unless it can run
# one, then gives it t/bench/lib-postfix.sh (pf_create, pf_set, pf_start,
# ...), stopped at exit.  Source after common.sh and forward.sh.
#
# Needs root (Postfix's master runs as root), the postfix package, and a
# test directory the user postfix can reach.

[ "$(id -u)" = 0 ] || skip_all "a private Postfix instance needs root"
{ [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/postconf ]; } || skip_all "Postfix is not installed"
id postfix >/dev/null 2>&1 || skip_all "no user postfix"
chmod 755 "$T"
runuser -u postfix -- test -x "$T" 2>/dev/null || skip_all "user postfix cannot reach $T"

# lib-postfix.sh is written for t/bench/lib-bench.sh: the few helpers it
# uses from there, on top of common.sh (whose wait_until and count_files
# it shares)
say() { echo "# $*" >&2; }
die() { echo "Bail out! $*"; exit 1; }
_pf_at_exit=()
at_exit() { _pf_at_exit+=("$(printf '%q ' "$@")"); }
listening() { wait_port 127.0.0.1 "$1" 0.2; }
_pid_gone() { ! kill -0 "$1" 2>/dev/null; }
pf_cleanup() {
	local i
	for ((i = ${#_pf_at_exit[@]} - 1; i >= 0; i--)); do eval "${_pf_at_exit[i]}"; done
}
trap 'pf_cleanup; cleanup' EXIT
# shellcheck source=t/bench/lib-postfix.sh
. "$here/bench/lib-postfix.sh"
