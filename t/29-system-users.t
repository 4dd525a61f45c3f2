#!/bin/bash
# t/29-system-users.t - --system-users (sysuser.h), at RCPT and at
# delivery.  The daemon runs with an LD_PRELOAD shim (built here) that
# answers getpwnam_r for a few made-up t29* accounts, homes under $T, and
# passes every other name to the C library; nothing on the system changes.
#   - a passwd entry over 4 KiB is found (the buffer grows): accepted and
#     delivered; a lookup that fails (EIO, EMFILE, ERANGE however large
#     the buffer) is 451 4.3.0, never 550;
#   - postmaster, bare or at a local domain, in any case, is accepted and
#     delivered to root's mailbox (checked with --mbox, MAILROOT/root);
#   - system accounts (bin, daemon, www-data, nobody: below UID_MIN or
#     with a nologin shell) and made-up ones below UID_MIN or with
#     nologin/false are refused with 550 5.1.1, root is accepted; jobs for
#     such accounts queued without --system-users fail at delivery and
#     nothing is written into their homes.
. "$(dirname "$0")/lib/common.sh"

plan 31

# ---- the shim -------------------------------------------------------------
cat >"$T/shim.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int getpwnam_r_fn(const char *, struct passwd *, char *, size_t,
                          struct passwd **);

/* entry - a made-up account: home $T29_HOMES/NAME, a GECOS of gecos bytes */
static int entry(const char *name, uid_t uid, const char *shell, size_t gecos,
                 struct passwd *pw, char *buf, size_t len, struct passwd **res)
{
	const char *homes = getenv("T29_HOMES");
	char home[4096];
	char *p = buf;

	*res = NULL;
	snprintf(home, sizeof home, "%s/%s", homes ? homes : "/nonexistent", name);
	if (len < strlen(name) + 3 + gecos + 1 + strlen(home) + 1 + strlen(shell) + 1)
		return ERANGE;
	pw->pw_name = p; p = stpcpy(p, name) + 1;
	pw->pw_passwd = p; p = stpcpy(p, "x") + 1;
	pw->pw_gecos = p; memset(p, 'G', gecos); p[gecos] = '\0'; p += gecos + 1;
	pw->pw_dir = p; p = stpcpy(p, home) + 1;
	pw->pw_shell = p; stpcpy(p, shell);
	pw->pw_uid = uid;
	pw->pw_gid = uid;
	*res = pw;
	return 0;
}

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
               struct passwd **res)
{
	getpwnam_r_fn *real;

	if (strcmp(name, "t29big") == 0)      /* an entry over 4 KiB */
		return entry(name, 60029, "/bin/sh", 6000, pw, buf, len, res);
	if (strcmp(name, "t29user") == 0)
		return entry(name, 60030, "/bin/bash", 10, pw, buf, len, res);
	if (strcmp(name, "t29nologin") == 0)
		return entry(name, 60031, "/usr/sbin/nologin", 10, pw, buf, len, res);
	if (strcmp(name, "t29false") == 0)
		return entry(name, 60032, "/bin/false", 10, pw, buf, len, res);
	if (strcmp(name, "t29low") == 0)      /* below UID_MIN, a real shell */
		return entry(name, (uid_t)atol(getenv("T29_LOW_UID") ?
		             getenv("T29_LOW_UID") : "999"), "/bin/bash", 10, pw,
		             buf, len, res);
	*res = NULL;
	if (strcmp(name, "t29eio") == 0)
		return EIO;
	if (strcmp(name, "t29emfile") == 0)
		return EMFILE;
	if (strcmp(name, "t29erange") == 0)   /* never fits */
		return ERANGE;
	real = (getpwnam_r_fn *)dlsym(RTLD_NEXT, "getpwnam_r");
	return real(name, pw, buf, len, res);
}
EOF
cc -shared -fPIC -o "$T/shim.so" "$T/shim.c" -ldl 2>"$T/shim.err" ||
	{ sed 's/^/# /' "$T/shim.err"; echo "Bail out! cannot build the getpwnam_r shim"; exit 1; }
mkdir -p "$T/homes"
for u in t29big t29user t29nologin t29false t29low; do mkdir -p "$T/homes/$u"; done
export T29_HOMES=$T/homes
# ASan wants to be first among the libraries; the shim comes first here
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

uid_min=$(sed -n 's/^[ \t]*UID_MIN[ \t]\+\([0-9]\+\)[ \t]*$/\1/p' /etc/login.defs 2>/dev/null | tail -1)
diag "UID_MIN here: ${uid_min:-1000 (not set)}"
export T29_LOW_UID=$(( ${uid_min:-1000} - 1 ))   # t29low: just below it

# send_to RCPT - a message from <> to RCPT; prints the final reply
send_to() {
	printf 'From: t29 <sender@example.org>\nSubject: t29 to %s\n\nhello %s\n' "$1" "$1" | inject "$MTA_PORT" "" "$1"
}
inject() { $PY "$TLIB/inject.py" "$@"; }

LD_PRELOAD=$T/shim.so start_mta --system-users ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

# ---- RCPT: who is accepted ------------------------------------------------
r=$(rcpt_replies root@test.example '<postmaster>' Postmaster@test.example \
	POSTMASTER@localhost postmaster@mx.test.example bin@test.example \
	daemon@test.example www-data@test.example nobody@test.example \
	t29low@test.example t29nologin@test.example t29false@test.example \
	t29big@test.example t29user@test.example no-such-user-t29@test.example \
	t29eio@test.example t29emfile@test.example t29erange@test.example)
printf '%s\n' "$r" | sed 's/^/# /'
get() { printf '%s\n' "$r" | awk -v r="$1" '$1 == r { print $2 " " $3 }'; }
is "$(get root@test.example)" "250 2.1.5" "root: accepted"
is "$(get '<postmaster>')" "250 2.1.5" "<postmaster> alone: accepted"
is "$(get Postmaster@test.example)" "250 2.1.5" "Postmaster@local domain: accepted"
is "$(get POSTMASTER@localhost)" "250 2.1.5" "POSTMASTER@another local domain: accepted"
is "$(get bin@test.example)$(get daemon@test.example)" "550 5.1.1550 5.1.1" \
	"bin, daemon (system accounts): 550 5.1.1"
is "$(get www-data@test.example)$(get nobody@test.example)" "550 5.1.1550 5.1.1" \
	"www-data, nobody (nologin shells): 550 5.1.1"
is "$(get t29low@test.example)" "550 5.1.1" "uid below UID_MIN with a login shell: 550 5.1.1"
is "$(get t29nologin@test.example)$(get t29false@test.example)" "550 5.1.1550 5.1.1" \
	"uid above UID_MIN with nologin / false: 550 5.1.1"
is "$(get t29big@test.example)" "250 2.1.5" "a passwd entry over 4 KiB: accepted"
is "$(get t29user@test.example)" "250 2.1.5" "an ordinary user: accepted"
is "$(get no-such-user-t29@test.example)" "550 5.1.1" "no such user: 550 5.1.1"
is "$(get t29eio@test.example)" "451 4.3.0" "lookup fails with EIO: 451 4.3.0"
is "$(get t29emfile@test.example)" "451 4.3.0" "lookup fails with EMFILE: 451 4.3.0"
is "$(get t29erange@test.example)" "451 4.3.0" "lookup needs more than any buffer: 451 4.3.0"

# ---- delivery to the users found ------------------------------------------
like "$(send_to t29big@test.example)" '^250 ' "t29big: queued"
like "$(send_to t29user@test.example)" '^250 ' "t29user: queued"
wait_for 15 eval '{ queue_empty && [ "$(maildir_count "$T/homes/t29big/Maildir")$(maildir_count "$T/homes/t29user/Maildir")" = 11 ]; } || ! mta_running'
is "$(maildir_count "$T/homes/t29big/Maildir")" 1 "t29big: delivered to ~t29big/Maildir"
is "$(stat -c %u "$T/homes/t29big/Maildir" 2>/dev/null)" 60029 "t29big: the Maildir is the user's"
is "$(maildir_count "$T/homes/t29user/Maildir")" 1 "t29user: delivered to ~t29user/Maildir"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

# ---- jobs queued before --system-users: judged again at delivery ------------
# Queued by a daemon that only queues, then delivered by one with
# --system-users: the refused accounts fail (nothing written into their
# homes), the failed lookup waits, postmaster goes to root.
start_mta --hold || { echo "Bail out! mta-smtpd --hold did not start"; exit 1; }
for u in t29low t29nologin t29eio; do
	like "$(send_to $u@test.example)" '^250 ' "held: a message to $u queued"
done
is "$(stop_mta)" 0 "held: SIGTERM: exit 0"
mkdir -p "$T/mbox"
LD_PRELOAD=$T/shim.so start_mta --system-users --mbox -m "$T/mbox" --retry 3600 ||
	{ echo "Bail out! mta-smtpd did not restart"; exit 1; }
like "$(send_to '<postmaster>')$(send_to Postmaster@test.example)" '^250 .*250 ' \
	"mbox: two messages to postmaster queued"
wait_log 15 " failed id=[^ ]* rcpt=<t29nologin@test\.example> "
wait_log 15 " failed id=[^ ]* rcpt=<t29low@test\.example> "
wait_log 15 " deferred id=[^ ]* rcpt=<t29eio@test\.example> "
wait_for 15 eval '[ "$(grep -c "^From " "$T/mbox/root" 2>/dev/null)" = 2 ] || ! mta_running'
is "$(grep -Eic '^Delivered-To: postmaster(@test\.example)?$' "$T/mbox/root" 2>/dev/null)" 2 \
	"postmaster: both delivered to root's mailbox (MAILROOT/root)"
like "$(grep ' failed id=[^ ]* rcpt=<t29low@' "$MTA_LOG")" 'error="No such user here"' \
	"queued for t29low (uid below UID_MIN): failed at delivery, 5.1.1"
like "$(grep ' failed id=[^ ]* rcpt=<t29nologin@' "$MTA_LOG")" 'error="No such user here"' \
	"queued for t29nologin: failed at delivery"
like "$(grep ' deferred id=[^ ]* rcpt=<t29eio@' "$MTA_LOG")" 'error="Cannot look up user t29eio' \
	"queued for t29eio: the failed lookup defers it"
is "$(find "$T/homes/t29low" "$T/homes/t29nologin" -mindepth 1 | wc -l | tr -d ' '):$(ls "$T/mbox" | grep -c '^t29')" 0:0 \
	"nothing written for the refused accounts"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

done_testing
