#!/bin/bash
# t/00-unit.t - the Criterion unit tests (t/unit/), as TAP for prove.
# MTA_UNIT names the test binary (make sets it).
here=$(cd "$(dirname "$0")" && pwd)
unit=${MTA_UNIT:-$here/../build/release/unit-tests}
# skip_all REASON - as in lib/common.sh (not sourced here: no daemon, no
# temp dir): under MTA_TEST_STRICT a skip fails
skip_all() {
	if [ -n "${MTA_TEST_STRICT:-}" ] && [ "$MTA_TEST_STRICT" != 0 ]; then
		echo "1..1"
		echo "not ok 1 - cannot run here (a skip, and MTA_TEST_STRICT is set): $*"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}
# make tsan sets MTA_UNIT_SKIP: Criterion's runner crashes at start under
# ThreadSanitizer, a limit of Criterion, not of the code under test
if [ -n "${MTA_UNIT_SKIP:-}" ]; then
	skip_all "$MTA_UNIT_SKIP"
fi
if [ ! -x "$unit" ]; then
	skip_all "unit test binary not built ($unit)"
fi
# Criterion itself leaks a few bytes parsing its arguments: not ours.
supp=$(mktemp)
echo "leak:libcriterion" > "$supp"
# Criterion's runner exits 1 when a test logs a warning or an error
# (cr_log_warn, cr_log_error) or a test process crashes in its setup or
# teardown, even with every test of the plan "ok": the TAP output does not
# say so, only the runner's stderr does.  So the runner's stderr is kept
# (it also holds what the code under test logs) and, if the run fails,
# Criterion's own lines and any sanitizer report are shown as diagnostics.
# Hence no test may use cr_log_warn for a case not met (cr_skip_test) or a
# cleanup that failed (stderr).
if uses=$(grep -n -e 'cr_log_warn *(' -e 'cr_log_error *(' "$here"/unit/*.c); then
	echo "# these unit tests use cr_log_warn or cr_log_error, which makes" >&2
	echo "# the runner exit 1 whatever the tests say:" >&2
	printf '%s\n' "$uses" | sed 's/^/#   /' >&2
	echo "1..1"
	echo "not ok 1 - no unit test logs a warning or an error through Criterion"
	exit 1
fi
err=$(mktemp)
LSAN_OPTIONS="suppressions=$supp:print_suppressions=0" "$unit" -Otap:- --jobs 2 2>"$err"
rc=$?
if [ "$rc" != 0 ]; then
	echo "# the unit-test runner exited $rc; its own lines on stderr:" >&2
	grep -a -e '^\[[A-Z =-]\{4\}\]' -e '^==[0-9]*==' "$err" | head -n 60 | sed 's/^/# /' >&2
fi
rm -f "$supp" "$err"
exit $rc
