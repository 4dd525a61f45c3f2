#!/bin/bash
# t/39-queue-explode-race.t - mta-queue's operations on a message the
# daemon is taking from new/ at that moment (explode: its jobs made in
# rcpt/ first, then its name linked into mess/, then new/ID unlinked;
# mta-queue(5) CRASH SAFETY), on a queue built by hand, no daemon:
#   * its jobs made, its name still in new/: --hold ALL holds them (they
#     would be dispatched the moment the name reaches mess/)
#   * listed in new/, moved to mess/ with its job before mta-queue reads
#     it (an LD_PRELOAD shim built here does the move on the open of
#     new/ID): --hold ALL reads the queue again and holds the job, where
#     it used to pass over the message silently
. "$(dirname "$0")/lib/common.sh"

plan 6

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

done_testing
