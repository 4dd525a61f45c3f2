#!/bin/bash
# t/69-queue-explode-race.t - mta-queue's operations on a message the
# daemon is taking from new/ at that moment (explode: its jobs made in
# rcpt/ first, then its name linked into mess/, then new/ID unlinked;
# mta-queue(5) CRASH SAFETY), on a queue built by hand, no daemon:
#   * its jobs made, its name still in new/: --hold ALL holds them (they
#     would be dispatched the moment the name reaches mess/)
#   * listed in new/, moved to mess/ with its job before mta-queue reads
#     it (an LD_PRELOAD shim built here does the move on the open of
#     new/ID): --hold ALL reads the queue again and holds the job, where
#     it used to pass over the message silently
#   * a running daemon, a job held (renamed to DUE 9999999999) at the
#     instant its delivery's outcome comes, before the scheduler has read
#     the rename's event (a shim in the daemon does the rename just before
#     the unlink of the delivered job): the outcome holds under the new
#     name, the held job goes; it used to stay (or end in bad/) and the
#     message would be delivered again once released
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/forward.sh"

plan 10

Q=$T/q/queue
mkdir -p "$Q/tmp" "$Q/new" "$Q/mess" "$Q/rcpt" "$Q/bad"
now=$(date +%s)
HELD=9999999999

mq() {
	out=$(timeout 10 "$MTA_BIN/mta-queue" "$@" 2>"$T/err")
	rc=$?
	err=$(cat "$T/err")
}
# msg DIR ID SENDER RCPT - a message file
msg() {
	{ printf 'mta-envelope 1\nid %s\narrival %s\nclient 127.0.0.1\n' "$2" "$now"
	  printf 'helo client.example\nsender %s\nrcpt %s\n\n' "$3" "$4"
	  printf 'Subject: t39\n\nhello\n'; } >"$Q/$1/$2"
}

# ---- its jobs made, its name still in new/ -----------------------------
A=0039AAAA0001
msg new $A a@example.org b@example.net
: >"$Q/rcpt/$now.$A.0"
mq -q "$Q" --hold ALL
is "$rc" 0 "midway explode: --hold ALL exits 0"
is "$(ls "$Q/rcpt")" "$HELD.$A.0" "midway explode: the job made already is held"
like "$out" "^held 1 job of 1 message" "midway explode: counted as held ($out)"
rm -f "$Q/rcpt/"* "$Q/new/"*

# ---- listed in new/, in mess/ with its job when read ---------------------
CC=$(command -v cc || command -v gcc)
# ASan wants to be first among the libraries; the shims come first here
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
cat >"$T/shim.c" <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* openat of $RACE_ID (new/ID, after the listing): first the daemon's
 * explode, finished (the job, the name in mess/, new/ID gone), once */
int openat(int dir, const char *name, int flags, ...)
{
	static int (*real)(int, const char *, int, ...);
	static int done;
	const char *id = getenv("RACE_ID"), *q = getenv("RACE_Q");
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (real == NULL)
		real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	if (!done && id && q && strcmp(name, id) == 0) {
		char a[4096], b[4096];
		int fd;

		done = 1;
		snprintf(a, sizeof a, "%s/rcpt/%s.%s.0", q, getenv("RACE_DUE"), id);
		if ((fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0)
			close(fd);
		snprintf(a, sizeof a, "%s/new/%s", q, id);
		snprintf(b, sizeof b, "%s/mess/%s", q, id);
		if (link(a, b) == 0)
			unlink(a);
	}
	return real(dir, name, flags, mode);
}
SHIM
if [ -z "$CC" ] || ! "$CC" -shared -fPIC -O1 -o "$T/shim.so" "$T/shim.c" -ldl; then
	skip "no C compiler for the shim" 3
else
	B=0039BBBB0002
	msg new $B a@example.org c@example.net
	out=$(RACE_ID=$B RACE_Q=$Q RACE_DUE=$now LD_PRELOAD=$T/shim.so \
		timeout 10 "$MTA_BIN/mta-queue" -q "$Q" --hold ALL 2>"$T/err"); rc=$?
	is "$(ls "$Q/new" "$Q/mess" | grep -c $B)" 1 "the shim moved $B to mess/ under mta-queue"
	is "$(ls "$Q/rcpt")" "$HELD.$B.0" "moved while read: its job is held, not passed over ($out)"
	is "$rc" 0 "moved while read: --hold ALL exits 0"
fi

# ---- a job held as its delivery's outcome comes ---------------------------
cat >"$T/hold.c" <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* the first unlinkat of a job DUE.ID.0 in rcpt/ (a delivered job being
 * finished): an operator's hold renames it a moment before, once */
int unlinkat(int dir, const char *name, int flags)
{
	static int (*real)(int, const char *, int);
	static int done;
	char link[64], path[4096], held[256];
	size_t n = strlen(name), digits = strspn(name, "0123456789");
	ssize_t len;

	if (real == NULL)
		real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
	snprintf(link, sizeof link, "/proc/self/fd/%d", dir);
	if (!done && digits > 0 && strncmp(name, "9999999999", 10) != 0 &&
	    name[digits] == '.' && n > 2 &&
	    strcmp(name + n - 2, ".0") == 0 && n < 200 &&
	    (len = readlink(link, path, sizeof path - 1)) > 5) {
		path[len] = '\0';
		if (strcmp(path + len - 5, "/rcpt") == 0) {
			done = 1;
			snprintf(held, sizeof held, "9999999999%s", name + digits);
			renameat(dir, name, dir, held);
		}
	}
	return real(dir, name, flags);
}
SHIM
if [ -z "$CC" ] || ! "$CC" -shared -fPIC -O1 -o "$T/hold.so" "$T/hold.c" -ldl; then
	skip "no C compiler for the shim" 4
elif ! LD_PRELOAD=$T/hold.so start_mta; then
	skip "mta-smtpd did not start" 4
else
	# deferred once first (her Maildir a plain file meanwhile): a job
	# delivered at its first attempt has no file to finish
	: >"$MTA_MAIL/late"
	id=$(queued_id "$(user_msg held-late | inject "$MTA_PORT" a@example.org late@test.example)")
	wait_job "$id" 0
	rm "$MTA_MAIL/late"
	"$MTA_BIN/mta-queue" -q "$MTA_QUEUE" --flush >/dev/null
	maildir_wait "$MTA_MAIL/late" 1 15
	wait_until 10 grep -q "job-renamed job=[0-9]*\.$id\.0 now=9999999999\.$id\.0" "$MTA_LOG"
	is "$(maildir_count "$MTA_MAIL/late")" 1 "held as delivered: delivered once"
	like "$(grep "job-renamed" "$MTA_LOG")" "now=9999999999\.$id\.0 outcome=applied" \
		"held as delivered: the outcome applied under the new name, logged"
	sleep 1
	is "$(ls "$MTA_QUEUE/rcpt" "$MTA_QUEUE/bad" | grep -c "$id")" 0 \
		"held as delivered: no job left in rcpt/ or bad/ to deliver it again"
	stop_mta >/dev/null
	is "$(ls "$MTA_QUEUE/rcpt" "$MTA_QUEUE/mess" "$MTA_QUEUE/bad" | grep -c "$id")" 0 \
		"held as delivered: after a stop, nothing of the message left"
fi

done_testing
