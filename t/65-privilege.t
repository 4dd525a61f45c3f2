#!/bin/bash
# t/65-privilege.t - privileges (mta-smtpd(8) --user, README Security):
#   as root with --user nobody, the daemon binds a privileged port on
#   loopback (port 25 needs root only for bind) and then runs as nobody:
#   every uid and gid of the process, and it serves and delivers;
#   the queue, the mail root, queue files and delivered mail are owned
#   by nobody, directories 0700 (the queue 0711 and its maildrop/ 1733
#   for local submission) and files 0600;
#   as root without --user it refuses to listen on a non-loopback
#   address (exit 1, before any socket is opened), and with an unknown
#   --user it refuses to start.
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
NOBODY_UID=$(id -u nobody 2>/dev/null) || skip_all "no user nobody"
NOBODY_GID=$(id -g nobody)

plan 14

chmod 755 "$T"               # nobody must reach its queue and mail root
# a privileged port nobody listens on now
PORT=$($PY - <<'PYEOF'
import socket
for p in list(range(25, 26)) + list(range(900, 1000)):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()
PYEOF
)
Q=$T/q M=$T/m L=$T/log
"$MTA_BIN/mta-smtpd" -q "$Q" -m "$M" -L "$L" -l "127.0.0.1:$PORT" --user nobody \
	--hostname mx.test.example -d test.example 2>"$T/err" &
PID=$!
track "$PID"
wait_port 127.0.0.1 "$PORT" 10; ok $? "binds the privileged port 127.0.0.1:$PORT as root"
ids=$(awk '/^(Uid|Gid):/ { print $1, $2, $3, $4, $5 }' /proc/$PID/status | tr '\n' ' ')
is "$ids" "Uid: $NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID Gid: $NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID " \
	"then runs as nobody: real, effective, saved and file-system ids"
is "$(sed -n 's/^Groups:[[:space:]]*//p' /proc/$PID/status | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')" \
	"$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')" "supplementary groups: nobody's own, none of root's"
out=$(printf 'EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<priv@test.example>\r\nDATA\r\nSubject: p\r\n\r\nx\r\n.\r\nQUIT\r\n' |
	smtp_chat "$PORT")
like "$out" '250 2\.0\.0 Ok: queued as' "serves as nobody: the message is queued"
delivered() { [ "$(find "$M/priv/new" -type f 2>/dev/null | wc -l)" = 1 ]; }
wait_until 10 delivered; ok $? "and delivered"
is "$(stat -c '%U %a' "$Q/new" "$Q/mess" "$Q/rcpt" "$M" "$M/priv" "$M/priv/new" | sort -u | tr '\n' ' ')" "nobody 700 " \
	"queue directories, mail root and Maildir: nobody's, 0700"
is "$(stat -c '%U %a' "$Q" "$Q/maildrop" | tr '\n' ' ')" "nobody 711 nobody 1733 " \
	"the queue searchable by all (0711), maildrop/ 1733 (mta-queue(5)): nobody's"
f=$(find "$M/priv/new" -type f | head -1)
is "$(stat -c '%U %a' "$f")" "nobody 600" "the delivered message: nobody's, 0600"
is "$(find "$Q" -mindepth 1 -not -user nobody | wc -l)" 0 "nothing in the queue belongs to anyone else"
is "$(find "$Q" -type f -perm /077 | wc -l)" 0 "no queue file readable by others"
kill -TERM "$PID"; wait "$PID"; ok $? "SIGTERM: exit 0"

# as root, no --user, a non-loopback address (TEST-NET-1: never bound)
"$MTA_BIN/mta-smtpd" -q "$T/q2" -m "$T/m2" -l 192.0.2.1:2525 2>"$T/err2"
is "$?" 1 "root without --user on a public address: exit 1"
like "$(cat "$T/err2")" 'refusing to run as root while listening on 192\.0\.2\.1' "and says why"
"$MTA_BIN/mta-smtpd" -q "$T/q3" -m "$T/m3" -l "127.0.0.1:$(free_port)" --user no-such-user-here 2>"$T/err3"
is "$?" 1 "an unknown --user: exit 1"
done_testing
