# t/lib/dovecot.sh - a private Dovecot (Debian dovecot-core) for a test:
# its own configuration, run directory, passwd-file and log under a
# directory of the test's, started in the foreground as a child of the
# test (tracked: common.sh's cleanup stops it), never the system's.
#
# Source it after common.sh.
#   dovecot_user CONFDIR LOGIN PASSWORD [FIELDS]
#       a line for CONFDIR/users (passwd-file: LOGIN:{SHA512-CRYPT}hash
#       hashed by doveadm pw, then FIELDS, by default nobody's uid and
#       gid (Dovecot refuses uid 0) and the home CONFDIR/home/LOGIN:
#       ":UID:GID::HOME"); call
#       before start_dovecot or at any time (passwd-file is read again
#       when it changes)
#   start_dovecot CONFDIR [EXTRA_CONFIG]
#       writes CONFDIR/dovecot.conf: base_dir CONFDIR/run, logs in
#       CONFDIR/dovecot.log, passdb and userdb from CONFDIR/users, no
#       protocols (no IMAP, POP3 or LMTP
#       listener: add "protocols = lmtp" and a service lmtp block in
#       EXTRA_CONFIG for LMTP), and the auth service's auth-client socket
#       CONFDIR/run/auth-client (mode 0666); then EXTRA_CONFIG (text,
#       appended: later settings win, blocks add).  Starts dovecot -F,
#       waits until the auth-client socket exists (10 s); sets
#       DOVECOT_PID, DOVECOT_AUTH_SOCKET, DOVECOT_LOG.  False when it did
#       not start (its log is shown).
#   stop_dovecot
#       SIGTERM to DOVECOT_PID, waits for it to exit (10 s, then SIGKILL).
#
# Dovecot's auth processes run as its user (dovecot): CONFDIR and the
# test's temp dir are opened for traversal (o+x) and users is made
# readable.  Runs as root only (dovecot's master drops privileges).

DOVECOT_PID=
DOVECOT_AUTH_SOCKET=
DOVECOT_LOG=

dovecot_user() {
	local dir=$1 hash
	mkdir -p "$dir"
	hash=$(doveadm pw -s SHA512-CRYPT -p "$3") || return 1
	printf '%s:%s%s\n' "$2" "$hash" \
		"${4-:$(id -u nobody):$(id -g nobody)::$dir/home/$2}" >>"$dir/users"
	chmod 644 "$dir/users"
}

start_dovecot() {
	local dir=$1 extra=${2:-} i
	mkdir -p "$dir/run" "$dir/state"
	touch "$dir/users"
	chmod 644 "$dir/users"
	chmod o+x "$T" "$dir"
	DOVECOT_LOG=$dir/dovecot.log
	DOVECOT_AUTH_SOCKET=$dir/run/auth-client
	cat >"$dir/dovecot.conf" <<CONF
# written by t/lib/dovecot.sh
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = none
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $dir/users
}
userdb {
  driver = passwd-file
  args = $dir/users
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
$extra
CONF
	dovecot -F -c "$dir/dovecot.conf" >>"$dir/dovecot.stderr" 2>&1 &
	DOVECOT_PID=$!
	track "$DOVECOT_PID"
	for i in $(seq 200); do
		[ -S "$DOVECOT_AUTH_SOCKET" ] && return 0
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# dovecot did not start:" >&2
	sed 's/^/#   /' "$dir/dovecot.stderr" "$dir/dovecot.log" >&2 2>/dev/null
	return 1
}

stop_dovecot() {
	local i
	[ -n "$DOVECOT_PID" ] || return 0
	kill "$DOVECOT_PID" 2>/dev/null
	for i in $(seq 200); do
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$DOVECOT_PID" 2>/dev/null
	wait "$DOVECOT_PID" 2>/dev/null
	DOVECOT_PID=
}
