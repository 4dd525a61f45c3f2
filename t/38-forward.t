#!/bin/bash
# t/38-forward.t - ~/.forward for --system-users (mta-aliases(5)): the
# daemon runs with an LD_PRELOAD shim (built here) that answers
# getpwnam_r for made-up t38* accounts with this test's own uid and homes
# under $T; nothing on the system changes.
#   - a .forward with "\self", another user and a pipe: the user's own
#     Maildir and the other's get the message, the pipe never runs, and
#     a subaddress (t38fwd+tag) is forwarded the same way;
#   - a .forward writable by others, one owned by another uid, and a
#     symbolic link are ignored (the user's own Maildir gets the mail)
#     with a forward-ignored log line saying why;
#   - a list with a member whose account cannot be looked up now (EIO):
#     451 4.3.0 for the whole list, never 550;
#   - a .forward that opens at RCPT's check and fails to open (EMFILE)
#     when the recipients are added: 452 4.3.0, never the address as it
#     was sent (which would skip the .forward), and the retry forwards;
#   - a .forward that cannot be read (EIO): 451 4.3.0, not ignored (the
#     mail would bypass it);
#   - mta-smtpd --check-address shows the forwarding.
. "$(dirname "$0")/lib/common.sh"

uid_min=$(sed -n 's/^[ \t]*UID_MIN[ \t]\+\([0-9]\+\)[ \t]*$/\1/p' /etc/login.defs 2>/dev/null | tail -1)
if [ "$(id -u)" != 0 ] && [ "$(id -u)" -lt "${uid_min:-1000}" ]; then
	skip_all "uid $(id -u) is below UID_MIN: such accounts receive no mail"
fi
plan 16

cat >"$T/shim.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* getpwnam_r - made-up t38* accounts: uid and gid ours, home
 * $T38_HOMES/NAME, shell /bin/sh; every other name as the C library says */
int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
               struct passwd **res)
{
	int (*real)(const char *, struct passwd *, char *, size_t, struct passwd **);
	const char *homes = getenv("T38_HOMES");
	int n;

	if (strcmp(name, "t38eio") == 0) {   /* a lookup that fails */
		*res = NULL;
		return 5;                    /* EIO */
	}
	if (strncmp(name, "t38", 3) != 0 || homes == NULL) {
		real = dlsym(RTLD_NEXT, "getpwnam_r");
		return real(name, pw, buf, len, res);
	}
	n = snprintf(buf, len, "%s%c%s/%s%c/bin/sh", name, 0, homes, name, 0);
	if (n < 0 || (size_t)n >= len) {
		*res = NULL;
		return 34;                   /* ERANGE: a bigger buffer */
	}
	pw->pw_name = buf;
	pw->pw_passwd = (char *)"x";
	pw->pw_gecos = (char *)"";
	pw->pw_dir = buf + strlen(name) + 1;
	pw->pw_shell = pw->pw_dir + strlen(pw->pw_dir) + 1;
	pw->pw_uid = getuid();
	pw->pw_gid = getgid();
	*res = pw;
	return 0;
}

/* open, open64 - the second open of t38flip's .forward fails with EMFILE
 * (as under load); every other open as the C library does it */
int open(const char *path, int flags, ...)
{
	static int flips;
	int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open");
	size_t n = strlen(path), k = strlen("/t38flip/.forward");
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	if (n >= k && strcmp(path + n - k, "/t38flip/.forward") == 0 && ++flips == 2) {
		errno = EMFILE;
		return -1;
	}
	return real(path, flags, mode);
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

/* read - a read of t38rdeio's .forward (found by its name)
 * fails with EIO; every other read as the C library does it */
ssize_t read(int fd, void *buf, size_t len)
{
	ssize_t (*real)(int, void *, size_t) = dlsym(RTLD_NEXT, "read");
	char link[64], path[512];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n > 0) {
		path[n] = '\0';
		if (strstr(path, "/t38rdeio/.forward") != NULL) {
			errno = EIO;
			return -1;
		}
	}
	return real(fd, buf, len);
}
EOF
cc -shared -fPIC -o "$T/shim.so" "$T/shim.c" -ldl 2>"$T/shim.err" ||
	{ sed 's/^/# /' "$T/shim.err"; echo "Bail out! cannot build the getpwnam_r shim"; exit 1; }
export T38_HOMES=$T/homes
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
H=$T38_HOMES
for u in t38fwd t38copy t38open t38other t38link t38flip t38rdeio; do mkdir -p "$H/$u"; done
printf '# forwarded, and a copy kept\n\\t38fwd, t38copy\n"|/bin/touch %s/ran"\n' "$T" >"$H/t38fwd/.forward"
printf 't38copy\n' >"$H/t38open/.forward"
chmod 666 "$H/t38open/.forward"
printf 't38copy\n' >"$H/t38other/.forward"
printf 't38copy\n' >"$H/t38flip/.forward"
printf 't38copy\n' >"$H/t38rdeio/.forward"
printf 't38copy\n' >"$T/elsewhere"
ln -s "$T/elsewhere" "$H/t38link/.forward"
other=0
if [ "$(id -u)" = 0 ]; then
	chown 65534 "$H/t38other/.forward" && other=1
fi

printf 'team: t38copy, t38eio\n' >"$T/aliases"
LD_PRELOAD=$T/shim.so start_mta --system-users --aliases "$T/aliases" ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }

for r in t38fwd t38fwd+tag t38open t38other t38link; do
	printf 'Subject: to %s\n\nhello\n' "$r" |
		$PY "$TLIB/inject.py" "$MTA_PORT" "sender@example.org" "$r@test.example" >/dev/null
done
wait_for 20 queue_empty
is "$(queue_state)" "new=0 mess=0 rcpt=0 tmp=0 bad=0" "queue empty"
res=$($PY - "$MTA_PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo()
s.mail("sender@example.org")
for r in ("team@test.example", "t38eio@test.example", "nosuchuser38@test.example",
          "t38rdeio@test.example"):
    code, text = s.rcpt(r)
    print(code, text.decode().split()[0])
s.quit()
EOF
)
is "$res" "451 4.3.0
451 4.3.0
550 5.1.1
451 4.3.0" "a list with a member whose lookup fails: 451 4.3.0 for all of it (as for the member), never 550; an unknown user: 550; a .forward that cannot be read: 451"

subjects() {
	$PY - "$H/$1/Maildir" <<'EOF'
import mailbox, sys
try:
    md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
    print(" ".join(sorted(m["Subject"].replace("to ", "") for m in md)))
except Exception:
    print("")
EOF
}
is "$(subjects t38fwd)" "t38fwd t38fwd+tag" "\\t38fwd in .forward: a copy in its own Maildir (and for the subaddress)"
if [ "$other" = 1 ]; then want="t38fwd t38fwd+tag"; else want="t38fwd t38fwd+tag t38other"; fi
is "$(subjects t38copy)" "$want" "the forwarded copies reach the other user; no ignored .forward sent any"
ok "$([ ! -e "$T/ran" ]; echo $?)" "the pipe in .forward never ran"
is "$(subjects t38open)" "t38open" ".forward writable by others: ignored, own Maildir"
like "$(cat "$MTA_LOG")" "forward-ignored user=t38open reason=\".*/t38open/.forward: writable by others than t38open\"" \
	"... logged with the reason"
is "$(log_count 'forward-ignored user=t38open ')" 1 "... once for its one message"
is "$(subjects t38link)" "t38link" ".forward a symbolic link: ignored, own Maildir"
like "$(cat "$MTA_LOG")" "forward-ignored user=t38link reason=\".*/t38link/.forward: Too many levels of symbolic links\"" \
	"... logged with the reason"
if [ "$other" = 1 ]; then
	is "$(subjects t38other)" "t38other" ".forward owned by another uid: ignored, own Maildir"
	like "$(cat "$MTA_LOG")" "forward-ignored user=t38other reason=\".*: not owned by t38other\"" \
		"... logged with the reason"
else
	skip "not root: cannot give .forward to another uid" 2
fi
res=$($PY - "$MTA_PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo()
s.mail("sender@example.org")
for i in range(2):
    code, text = s.rcpt("t38flip@test.example")
    print(code, text.decode().split()[0])
s.data(b"Subject: to flip\r\n\r\nhello\r\n")
s.quit()
EOF
)
is "$res" "452 4.3.0
250 2.1.5" ".forward that fails to open after the check: 452 4.3.0, then the retry is accepted"
wait_for 20 queue_empty
is "$(subjects t38flip)/$(subjects t38copy | grep -o flip)" "/flip" \
	"... and forwarded: nothing in t38flip's own Maildir"
is "$(stop_mta)" 0 "SIGTERM: exit 0"

out=$(LD_PRELOAD=$T/shim.so "$MTA_BIN/mta-smtpd" -m "$T/mail" -d test.example --system-users \
	--check-address t38fwd@test.example 2>/dev/null)
like "$out" "t38fwd: forwarded \\(.*/t38fwd/.forward\\)" "--check-address shows the .forward"

done_testing
