# lib-postfix.sh - a private, throw-away Postfix instance for benchmarks.
#
# Source it after lib-bench.sh.  Everything of the instance lives in one
# directory DIR that the caller owns (normally from bench_tmpdir):
#
#   DIR/etc/     config_directory: main.cf, master.cf, maps
#   DIR/spool/   queue_directory (hold/, incoming/, pid/master.pid, ...)
#   DIR/data/    data_directory
#   DIR/mail/    virtual_mailbox_base (maildir mode): user@domain -> mail/user/
#   DIR/maillog  the instance's log (maillog_file, written by postlogd)
#
# The instance listens only on 127.0.0.1:PORT, is driven with
# "postfix -c DIR/etc", and is not registered with postmulti, so the
# system's own Postfix (configured in /etc/postfix) is neither used nor
# touched: starting or stopping ours signals only the master whose pid is
# in DIR/spool/pid/master.pid.  Must run as root (Postfix's master does).
#
# Functions (DIR is always the first argument):
#
#   pf_create DIR PORT hold
#       accept everything from 127.0.0.0/8 for any domain and put it on
#       hold (smtpd_end_of_data_restrictions = check_client_access
#       static:HOLD): the message is written and fsynced by cleanup, the
#       client gets its 250, and nothing is ever delivered.
#   pf_create DIR PORT maildir DOMAIN [USER...]
#       deliver all mail for @DOMAIN with virtual(8) to Maildirs, as
#       $PF_VMAIL_UID:$PF_VMAIL_GID (default 65534:65534, nobody:nogroup):
#       USER@DOMAIN to DIR/mail/USER/ for each USER given (default: user),
#       any other local part to DIR/mail/_other/.  (virtual(8) does not
#       allow "$1" substitution in a regexp virtual_mailbox_maps, so the
#       users must be listed.)
#   pf_create DIR PORT relay HOST:PORT
#       relay everything to [HOST]:PORT (relayhost), e.g. an smtp-sink;
#       HOST must be a 127.x.y.z address.  The peer must not greet with
#       our myhostname, or Postfix rejects it as a mail loop.
#   pf_set DIR 'name = value'...   change main.cf (postconf -e); before pf_start
#   pf_set_list DIR 'name = value; name = value...'   the same for a
#       list in one string (the benchmarks' PF_SETTINGS); nothing if empty
#   pf_tls DIR CERT KEY [LEVEL]
#       offer STARTTLS with the certificate file CERT (PEM, chain
#       allowed) and its key KEY: smtpd_tls_cert_file, smtpd_tls_key_file,
#       smtpd_tls_security_level = LEVEL (default may), and the tlsmgr
#       service in master.cf (smtpd asks it for its PRNG seed and session
#       cache); before pf_start.  Both files are read by smtpd as root.
#   pf_start DIR        start it; wait (bounded) until the port listens
#   pf_stop DIR         stop it (bounded; falls back to killing our master)
#   pf_hold_count DIR       messages in the hold queue
#   pf_clear_hold DIR       delete every message in the hold queue
#   pf_maildir_count DIR    messages delivered to DIR/mail/*/new
#   pf_sent_count DIR       "status=sent" deliveries logged so far (relay mode)
#   pf_queue_count DIR      messages in incoming + active + deferred
#   pf_wait_count DIR N SECS
#       wait until N messages have been handled in this instance's mode
#       (hold: in the hold queue; maildir: delivered; relay: sent); false
#       after SECS seconds.
#   sink_start OUT      Postfix's smtp-sink (SMTP_SINK, default
#       /usr/sbin/smtp-sink) on 127.0.0.1:SINK_PORT (a free port), -c
#       counters to OUT, tracked; sets SINK_PORT, SINK_OUT, SINK_PID
#   sink_counter NAME   the sink's last printed value of NAME (sess,
#       quit, mesg); 0 before the first
#
# Tunables changed from Postfix defaults, and why:
#   in_flow_delay = 0   Postfix slows down SMTP clients (up to 1 s per
#                       message) when arrivals outrun deliveries; in hold
#                       mode nothing is delivered, so every message would
#                       be throttled.  mta-smtpd has no such brake, so we
#                       turn it off to measure the receiving path itself.
#   chroot = n          for every service (the chroot would need a copy of
#                       /etc files inside our queue directory).
# Everything else (process limits, smtpd_peername_lookup, fsync of queue
# files) stays at the Postfix default.

: "${PF_HOSTNAME:=postfix-bench.localdomain}"
PF_POSTFIX=${PF_POSTFIX:-/usr/sbin/postfix}
PF_POSTCONF=${PF_POSTCONF:-/usr/sbin/postconf}
PF_POSTSUPER=${PF_POSTSUPER:-/usr/sbin/postsuper}
PF_DAEMON_DIR=$("$PF_POSTCONF" -dh daemon_directory 2>/dev/null || echo /usr/lib/postfix/sbin)

_pf_mode() { cat "$1/mode"; }

pf_create() {
    local dir=$1 port=$2 mode=$3
    shift 3
    [ "$(id -u)" = 0 ] || die "a private Postfix instance needs root"
    [ -x "$PF_POSTFIX" ] || die "Postfix is not installed ($PF_POSTFIX)"
    case $port in ''|*[!0-9]*) die "pf_create: bad port '$port'" ;; esac
    # The unprivileged Postfix daemons must be able to reach DIR.
    runuser -u postfix -- test -x "$dir" ||
        die "user postfix cannot traverse $dir (check the modes of its parents)"

    mkdir -p "$dir/etc" "$dir/spool"
    chmod 755 "$dir/etc" "$dir/spool"
    printf '%s\n' "$mode" > "$dir/mode"
    printf '%s\n' "$port" > "$dir/port"
    : > "$dir/maillog"

    # main.cf: written from scratch, so nothing is inherited from
    # /etc/postfix/main.cf.  config_directory itself comes from -c.
    cat > "$dir/etc/main.cf" <<EOF
# Private benchmark instance, generated by t/bench/lib-postfix.sh.
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
syslog_name = postfix-bench
myhostname = $PF_HOSTNAME
mydomain = localdomain
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP
biff = no
append_dot_mydomain = no
readme_directory = no
in_flow_delay = 0
EOF

    case $mode in
    hold)
        cat >> "$dir/etc/main.cf" <<EOF
smtpd_end_of_data_restrictions = check_client_access static:HOLD
EOF
        ;;
    maildir)
        local domain=${1:?pf_create maildir needs a DOMAIN} user
        shift
        [ "$#" -gt 0 ] || set -- user
        local uid=${PF_VMAIL_UID:-65534} gid=${PF_VMAIL_GID:-65534}
        mkdir -p "$dir/mail"
        chown "$uid:$gid" "$dir/mail"
        # virtual(8) refuses regexp substitutions ($1) in
        # virtual_mailbox_maps, for security, so "user@DOMAIN -> user/"
        # cannot be one rule: list each USER (trailing slash = Maildir),
        # and let the domain catch-all send everyone else to _other/.
        {
            for user in "$@"; do
                printf '%s@%s\t%s/\n' "$user" "$domain" "$user"
            done
            printf '@%s\t_other/\n' "$domain"
        } > "$dir/etc/vmailbox"
        cat >> "$dir/etc/main.cf" <<EOF
virtual_mailbox_domains = $domain
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/etc/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_minimum_uid = 1
EOF
        ;;
    relay)
        local peer=${1:?pf_create relay needs HOST:PORT}
        case $peer in
        127.*:[0-9]*) ;;
        *) die "pf_create relay: '$peer' is not a 127.x.y.z:PORT address" ;;
        esac
        cat >> "$dir/etc/main.cf" <<EOF
relayhost = [${peer%:*}]:${peer##*:}
EOF
        ;;
    *) die "pf_create: unknown mode '$mode' (hold, maildir or relay)" ;;
    esac

    # master.cf: the services Postfix needs, none chrooted, and one
    # smtpd on 127.0.0.1:PORT instead of the usual *:25.
    cat > "$dir/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$port inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

pf_set() {
    local dir=$1
    shift
    "$PF_POSTCONF" -c "$dir/etc" -e "$@"
}

pf_set_list() {
    local pfset
    [ -n "$2" ] || return 0
    IFS=';' read -r -a pfset <<< "$2"
    pf_set "$1" "${pfset[@]}"
}

sink_start() {
    local user=()
    SINK_PORT=$(free_port)
    SINK_OUT=$1
    [ "$(id -u)" = 0 ] && user=(-u nobody)   # smtp-sink refuses to stay root
    "${SMTP_SINK:-/usr/sbin/smtp-sink}" -c "${user[@]}" -h sink.bench.example \
        "127.0.0.1:$SINK_PORT" 1000 > "$SINK_OUT" 2>&1 &
    SINK_PID=$!
    track_pid "$SINK_PID"
    wait_until 10 listening "$SINK_PORT" || die "smtp-sink did not listen on 127.0.0.1:$SINK_PORT"
}

sink_counter() {
    tail -c 200 "$SINK_OUT" | tr '\r' '\n' | sed -n "s/.*$1=\([0-9]*\).*/\1/p" | tail -n 1 | grep . || echo 0
}

pf_tls() {
    local dir=$1 cert=$2 key=$3 level=${4:-may}
    if [ ! -r "$cert" ] || [ ! -r "$key" ]; then
        die "pf_tls: cannot read $cert or $key"
    fi
    pf_set "$dir" "smtpd_tls_cert_file = $cert" "smtpd_tls_key_file = $key" \
        "smtpd_tls_security_level = $level"
    grep -q '^tlsmgr ' "$dir/etc/master.cf" ||
        printf '%s\n' 'tlsmgr    unix  -       -       n       1000?   1       tlsmgr' \
            >> "$dir/etc/master.cf"
}

_pf_master_pid() {
    local f=$1/spool/pid/master.pid pid
    [ -r "$f" ] || return 1
    pid=$(tr -dc '0-9' < "$f")
    # The pid file outlives the master: make sure the PID is still a
    # Postfix master (not a recycled PID) before anyone signals it.
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$PF_DAEMON_DIR/master" ] &&
        printf '%s\n' "$pid"
}

pf_start() {
    local dir=$1 port
    port=$(cat "$dir/port")
    listening "$port" && die "port 127.0.0.1:$port is already in use"
    # "postfix check" first: creates the missing queue directories (it
    # runs post-install create-missing, which only ever creates what is
    # missing under our queue/data directories) and reports config errors.
        timeout 60 "$PF_POSTFIX" -c "$dir/etc" check > "$dir/check.log" 2>&1 || {
        cat "$dir/check.log" "$dir/maillog" >&2; die "postfix check failed for $dir"; }
    # Stop it at exit, even if start fails half-way.
    at_exit pf_stop "$dir"
    timeout 120 "$PF_POSTFIX" -c "$dir/etc" start > "$dir/start.log" 2>&1 || {
        cat "$dir/start.log" "$dir/maillog" >&2; die "postfix start failed for $dir"; }
    wait_until 30 listening "$port" || {
        tail -n 20 "$dir/maillog" >&2; die "private postfix does not listen on 127.0.0.1:$port"; }
}

pf_stop() {
    local dir=$1 pid
    pid=$(_pf_master_pid "$dir") || return 0
    # "postfix -c DIR stop" signals the master in DIR/spool/pid only.
    timeout 60 "$PF_POSTFIX" -c "$dir/etc" stop >> "$dir/start.log" 2>&1 || true
    if ! wait_until 30 _pid_gone "$pid"; then
        say "private postfix master $pid did not stop; aborting it"
        timeout 30 "$PF_POSTFIX" -c "$dir/etc" abort >> "$dir/start.log" 2>&1 || true
        wait_until 10 _pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
}

pf_hold_count() { count_files "$1/spool/hold"; }

pf_clear_hold() {
    timeout 300 "$PF_POSTSUPER" -c "$1/etc" -d ALL hold 2>/dev/null || true
    # postsuper may still be racing with a late cleanup; check.
    [ "$(pf_hold_count "$1")" = 0 ] || die "could not empty the hold queue of $1"
}

pf_maildir_count() {
    [ -d "$1/mail" ] || { echo 0; return; }
    find "$1/mail" -mindepth 3 -maxdepth 3 -path '*/new/*' -type f | wc -l
}

pf_sent_count() { grep -c ' status=sent ' "$1/maillog" || true; }

pf_queue_count() {
    find "$1/spool/incoming" "$1/spool/active" "$1/spool/deferred" \
        -type f 2>/dev/null | wc -l
}

pf_count() {
    case $(_pf_mode "$1") in
    hold) pf_hold_count "$1" ;;
    maildir) pf_maildir_count "$1" ;;
    relay) pf_sent_count "$1" ;;
    esac
}

_pf_reached() { [ "$(pf_count "$1")" -ge "$2" ]; }
pf_wait_count() { wait_until "$3" _pf_reached "$1" "$2"; }
