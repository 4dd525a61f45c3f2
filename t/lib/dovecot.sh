# t/lib/dovecot.sh - a private Dovecot (Debian dovecot-core; for LMTP also
# dovecot-lmtpd and dovecot-imapd) for the tests and the benchmarks: its
# own configuration, run directory, passwd-file and log under a directory
# of the caller's, started in the foreground as a child of the caller
# (tracked: common.sh's or lib-bench.sh's clean-up stops it), never the
# system's.  Runs as root only (dovecot's master drops privileges).
#
# Source it after t/lib/common.sh or t/bench/lib-bench.sh (it uses
# free_port and wait_until, and track or track_pid).  Two uses, one
# configuration each; the start, the wait and the stop are shared:
#
# The auth service alone (mta's --dovecot-auth, Postfix's
# smtpd_sasl_type = dovecot):
#   dovecot_user CONFDIR LOGIN PASSWORD [FIELDS]
#       a line for CONFDIR/users (passwd-file: LOGIN:{SHA512-CRYPT}hash
#       hashed by doveadm pw, then FIELDS, by default nobody's uid and
#       gid (Dovecot refuses uid 0) and the home CONFDIR/home/LOGIN:
#       ":UID:GID::HOME"); call before start_dovecot or at any time
#       (passwd-file is read again when it changes)
#   dovecot_user_hash CONFDIR LOGIN {SCHEME}HASH [FIELDS]
#       the same with a hash made by the caller (e.g. {CRYPT}$y$...,
#       which Dovecot verifies with the system's crypt(3))
#   start_dovecot CONFDIR [EXTRA_CONFIG]
#       writes CONFDIR/dovecot.conf: base_dir CONFDIR/run, logs in
#       CONFDIR/dovecot.log, passdb and userdb from CONFDIR/users, no
#       protocols (no IMAP, POP3 or LMTP listener), and the auth
#       service's auth-client socket CONFDIR/run/auth-client (mode 0666);
#       then EXTRA_CONFIG (text, appended: later settings win, blocks
#       add).  Starts it and waits until the auth-client socket exists
#       (10 s); sets DOVECOT_PID, DOVECOT_AUTH_SOCKET, DOVECOT_LOG.
#       False when it did not start (its log is shown).
#
# LMTP and IMAP into maildirs, with quota (t/39-lmtp.t, t/bench/lmtp.sh):
#   dovecot_lmtp_setup DIR IP USER:PASS[:QUOTA]...
#       writes DIR/dovecot.conf and DIR/users; the users' mail under
#       DIR/mail/USER (maildir), owned by the unprivileged user Dovecot
#       delivers as (nobody); a QUOTA (e.g. 1K) is that user's storage
#       limit (quota plugin; a message over it: 452 4.2.2 after the dot,
#       quota_full_tempfail).  Sets DOVECOT_DIR, DOVECOT_LMTP_SOCKET
#       (DIR/lmtp), DOVECOT_LMTP_PORT (LMTP on IP), DOVECOT_IMAP_PORT
#       (IMAP on IP), DOVECOT_IP, DOVECOT_LOG (DIR/dovecot.log).
#       DOVECOT_EXTRA (optional): more dovecot.conf lines, appended (e.g.
#       auth_username_format = %Ln, to take user@domain as the bare user).
#       Users named USER@DOMAIN are a virtual domain's; the others are
#       bare logins, as mta's --lmtp sends them (transport.h).
#   dovecot_lmtp_start
#       start it, wait (10 s) for its socket and both ports; sets
#       DOVECOT_PID.  False when it did not come up (its log is shown).
#
# Both:
#   stop_dovecot
#       SIGTERM to DOVECOT_PID, waits for it to exit (10 s, then SIGKILL);
#       empties DOVECOT_PID.  It may be started again after.
#
# Dovecot's processes run as its users (dovecot, dovenull, nobody): the
# directory and its parent are opened for traversal (o+x), users is
# made readable.

DOVECOT_PID=
DOVECOT_AUTH_SOCKET=
DOVECOT_LOG=

dovecot_user_hash() {
	local dir=$1
	mkdir -p "$dir"
	printf '%s:%s%s\n' "$2" "$3" \
		"${4-:$(id -u nobody):$(id -g nobody)::$dir/home/$2}" >>"$dir/users"
	chmod 644 "$dir/users"
}

dovecot_user() {
	local hash
	hash=$(doveadm pw -s SHA512-CRYPT -p "$3") || return 1
	dovecot_user_hash "$1" "$2" "$hash" ${4+"$4"}
}

# _dovecot_dirs DIR - the directories every configuration names, open
# to Dovecot's unprivileged processes
_dovecot_dirs() {
	mkdir -p "$1/run" "$1/state"
	touch "$1/users"
	chmod 644 "$1/users"
	chmod o+x "$1" "$(dirname "$1")"
	DOVECOT_LOG=$1/dovecot.log
}

# _dovecot_conf_head DIR - the settings both configurations share
_dovecot_conf_head() {
	cat <<CONF
# written by t/lib/dovecot.sh
base_dir = $1/run
state_dir = $1/state
log_path = $1/dovecot.log
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
auth_mechanisms = plain login
CONF
}

# _dovecot_launch DIR READY... - start dovecot -F on DIR/dovecot.conf
# (tracked), then wait (10 s) until the command READY... is true; false,
# with its log shown, when it is not or dovecot has exited
_dovecot_launch() {
	local dir=$1
	shift
	dovecot -F -c "$dir/dovecot.conf" >>"$dir/dovecot.stderr" 2>&1 &
	DOVECOT_PID=$!
	if declare -F track >/dev/null; then track "$DOVECOT_PID"
	else track_pid "$DOVECOT_PID"; fi
	_dovecot_up() { "$@" || ! kill -0 "$DOVECOT_PID" 2>/dev/null; }
	wait_until 10 _dovecot_up "$@" && "$@" && return 0
	echo "# dovecot did not start:" >&2
	sed 's/^/#   /' "$dir/dovecot.stderr" "$dir/dovecot.log" >&2 2>/dev/null
	return 1
}

start_dovecot() {
	local dir=$1 extra=${2:-}
	_dovecot_dirs "$dir"
	DOVECOT_AUTH_SOCKET=$dir/run/auth-client
	{ _dovecot_conf_head "$dir"; cat <<CONF
protocols = none
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
	} >"$dir/dovecot.conf"
	_dovecot_launch "$dir" test -S "$DOVECOT_AUTH_SOCKET"
}

dovecot_lmtp_setup() {
	local dir=$1 ip=$2 u name pass quota extra
	shift 2
	DOVECOT_DIR=$dir
	DOVECOT_IP=$ip
	DOVECOT_LMTP_SOCKET=$dir/lmtp
	DOVECOT_LMTP_PORT=$(free_port)
	DOVECOT_IMAP_PORT=$(free_port)
	_dovecot_dirs "$dir"
	mkdir -p "$dir/mail"
	chown nobody:nogroup "$dir/mail"
	: >"$dir/users"
	for u in "$@"; do
		IFS=: read -r name pass quota <<<"$u"
		extra=
		[ -n "$quota" ] && extra="userdb_quota_rule=*:storage=$quota"
		echo "$name:{PLAIN}$pass::::::$extra" >>"$dir/users"
	done
	{ _dovecot_conf_head "$dir"; cat <<CONF
instance_name = mta-test-$$
info_log_path = $DOVECOT_LOG
protocols = lmtp imap
listen = $ip
disable_plaintext_auth = no
first_valid_uid = 1
mail_location = maildir:$dir/mail/%u
mail_plugins = quota
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/users
  default_fields = uid=nobody gid=nogroup home=$dir/mail/%u
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=0
}
quota_full_tempfail = yes
lmtp_rcpt_check_quota = no
service lmtp {
  unix_listener $dir/lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    address = $ip
    port = $DOVECOT_LMTP_PORT
  }
}
service imap-login {
  inet_listener imap {
    address = $ip
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
${DOVECOT_EXTRA:-}
CONF
	} >"$dir/dovecot.conf"
}

# _dovecot_port IP PORT - something accepts there
_dovecot_port() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

_dovecot_lmtp_up() {
	[ -S "$DOVECOT_LMTP_SOCKET" ] &&
		_dovecot_port "$DOVECOT_IP" "$DOVECOT_LMTP_PORT" &&
		_dovecot_port "$DOVECOT_IP" "$DOVECOT_IMAP_PORT"
}

dovecot_lmtp_start() { _dovecot_launch "$DOVECOT_DIR" _dovecot_lmtp_up; }

stop_dovecot() {
	[ -n "$DOVECOT_PID" ] || return 0
	kill "$DOVECOT_PID" 2>/dev/null || true
	_dovecot_gone() { ! kill -0 "$DOVECOT_PID" 2>/dev/null; }
	wait_until 10 _dovecot_gone || kill -9 "$DOVECOT_PID" 2>/dev/null || true
	wait "$DOVECOT_PID" 2>/dev/null || true
	DOVECOT_PID=
}
