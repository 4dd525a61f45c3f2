# t/lib/dovecot-lmtp.sh - a private Dovecot (Debian dovecot-core,
# dovecot-lmtpd, dovecot-imapd) for the LMTP tests and benchmark: its own
# dovecot.conf, base_dir, users, mail and log in one directory, started
# in the foreground by the caller (root), never the system's instance.
#
# Source it after t/lib/common.sh (it uses PY, track, free_port and
# wait_port; t/bench/lmtp.sh defines them for itself).
#   dovecot_lmtp_setup DIR IP USER:PASS[:QUOTA]...
#       writes DIR/dovecot.conf and DIR/users; the users' mail under
#       DIR/mail/USER (maildir), owned by the unprivileged user Dovecot
#       delivers as (nobody); a QUOTA (e.g. 1K) is that user's storage
#       limit (quota plugin; a message over it: 452 4.2.2 after the dot,
#       quota_full_tempfail).  Sets DOVECOT_DIR, DOVECOT_LMTP_SOCKET
#       (DIR/lmtp), DOVECOT_LMTP_PORT (LMTP on IP), DOVECOT_IMAP_PORT
#       (IMAP on IP), DOVECOT_IP, DOVECOT_LOG (DIR/dovecot.log).
#   dovecot_lmtp_start   start it (dovecot -F), wait for its listeners;
#                        sets DOVECOT_PID (tracked: killed at exit)
#   dovecot_lmtp_stop    SIGTERM to that pid, wait (bounded) for it to go
# DOVECOT_EXTRA (optional): more dovecot.conf lines, appended (e.g.
# auth_username_format = %Ln, to take user@domain as the bare user).
# Users named USER@DOMAIN are a virtual domain's; the others are bare
# logins, as mta's --lmtp sends them (transport.h).

# dovecot_lmtp_setup DIR IP USER:PASS[:QUOTA]...
dovecot_lmtp_setup() {
	local dir=$1 ip=$2 u name pass quota extra
	shift 2
	DOVECOT_DIR=$dir
	DOVECOT_IP=$ip
	DOVECOT_LMTP_SOCKET=$dir/lmtp
	DOVECOT_LOG=$dir/dovecot.log
	DOVECOT_LMTP_PORT=$(free_port)
	DOVECOT_IMAP_PORT=$(free_port)
	mkdir -p "$dir/run" "$dir/state" "$dir/mail"
	# the mail user (nobody) must reach its mail: the path down to it
	# may be entered, not read, by others
	chmod 711 "$dir" "$(dirname "$dir")"
	chown nobody:nogroup "$dir/mail"
	: >"$dir/users"
	for u in "$@"; do
		IFS=: read -r name pass quota <<<"$u"
		extra=
		[ -n "$quota" ] && extra="userdb_quota_rule=*:storage=$quota"
		echo "$name:{PLAIN}$pass::::::$extra" >>"$dir/users"
	done
	cat >"$dir/dovecot.conf" <<EOF
# written by t/lib/dovecot-lmtp.sh for one test run
base_dir = $dir/run
state_dir = $dir/state
instance_name = mta-test-$$
log_path = $DOVECOT_LOG
info_log_path = $DOVECOT_LOG
protocols = lmtp imap
listen = $ip
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
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
EOF
}

# dovecot_lmtp_start - start it, wait (10 s at most) for its listeners
dovecot_lmtp_start() {
	local i
	/usr/sbin/dovecot -F -c "$DOVECOT_DIR/dovecot.conf" \
		2>>"$DOVECOT_DIR/dovecot.stderr" &
	DOVECOT_PID=$!
	track "$DOVECOT_PID"
	for i in $(seq 100); do
		[ -S "$DOVECOT_LMTP_SOCKET" ] && break
		sleep 0.1
	done
	wait_port "$DOVECOT_IP" "$DOVECOT_LMTP_PORT" 10 &&
		wait_port "$DOVECOT_IP" "$DOVECOT_IMAP_PORT" 10 &&
		[ -S "$DOVECOT_LMTP_SOCKET" ]
}

# dovecot_lmtp_stop - SIGTERM, wait up to 10 s, then SIGKILL
dovecot_lmtp_stop() {
	local i
	kill -TERM "$DOVECOT_PID" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$DOVECOT_PID" 2>/dev/null || true   # (set -e in the benchmark)
	wait "$DOVECOT_PID" 2>/dev/null || true
}
