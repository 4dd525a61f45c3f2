#!/bin/bash
# t/04-memcheck.t - mta-smtpd under valgrind's memcheck, in make test too
# (make bench runs it at 20 times the load): t/bench/valgrind-leak.sh with
# 10 and then 100 messages, each delivered to a local Maildir and bounced
# from a dead remote route, then SIGTERM.  No memory may be lost, none
# possibly lost (which is how a thread still alive at exit shows: the
# delivery pool's idle threads are joined at the stop), no memcheck
# error, and the daemon exits 0.  A build with a sanitizer cannot run
# under valgrind: skipped there (make asan and make tsan check memory
# their own way).
. "$(dirname "$0")/lib/common.sh"

VALGRIND=$(command -v valgrind) || skip_all "valgrind is not installed"
# Told before valgrind ever runs it: memcheck under a ThreadSanitizer
# build maps the sanitizer's shadow memory and grows until the kernel
# kills it (24 GB here), starving every test beside it.
if ldd "$MTA_BIN/mta-smtpd" 2>/dev/null | grep -q 'libasan\|libtsan\|libubsan' ||
	grep -q -a '__asan_init\|__tsan_init' "$MTA_BIN/mta-smtpd"; then
	# a plain skip, not skip_all: under make asan and make tsan the
	# suite is strict, and this one has nothing to check there
	echo "1..0 # SKIP a sanitizer build does not run under valgrind"
	exit 0
fi
if ! timeout 60 "$VALGRIND" -q --error-exitcode=99 "$MTA_BIN/mta-smtpd" --version >"$T/probe" 2>&1; then
	skip_all "mta-smtpd --version does not run under valgrind: $(head -1 "$T/probe")"
fi

plan 4

VG_MSGS=10 BENCH_FS=root BENCH_TMP=$T/vg MTA_BIN=$MTA_BIN VALGRIND=$VALGRIND \
	"$here/bench/valgrind-leak.sh" >"$T/vg.out" 2>&1
is "$?" 0 "valgrind-leak.sh: no leak that grows with traffic, no memcheck error, exit 0"
row() { sed -n "s/^$1  *//p" "$T/vg.out" | tr -s ' '; }
is "$(row 'definitely lost (bytes)') / $(row 'indirectly lost (bytes)')" "0 0 / 0 0" \
	"nothing definitely or indirectly lost, after 10 messages and after 100"
is "$(row 'possibly lost (bytes)')" "0 0" \
	"nothing possibly lost (no thread left running at exit)"
is "$(row 'memcheck errors')" "0 0" "no memcheck error in either run"
sed 's/^/# /' "$T/vg.out" | tail -n 12
done_testing
