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
# run_unit OUT - the whole run as TAP into OUT; its exit status
run_unit() {
	LSAN_OPTIONS="suppressions=$supp:print_suppressions=0" "$unit" -Otap:"$1" --jobs 2 2>/dev/null
}
# all_passed OUT - every test of the plan reported, none "not ok"
all_passed() {
	local plan
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$1")
	[ -n "$plan" ] && ! grep -q '^not ok' "$1" &&
		[ "$(grep -c '^ok ' "$1")" = "$plan" ]
}
out=$(mktemp)
run_unit "$out"
rc=$?
# The runner has been seen to exit 1 now and then under load with every
# test reported ok and every test process exiting 0 (its own status, not
# a test's; being investigated).  That exact case, and only it, runs the
# tests once more, and says so; any "not ok", missing test or crash fails
# at once, and so does the same case twice.
if [ "$rc" != 0 ] && all_passed "$out"; then
	first=$rc
	run_unit "$out"
	rc=$?
	echo "# the unit-test runner exited $first with all tests ok; ran again: exit $rc" >&2
fi
cat "$out"
rm -f "$supp" "$out"
exit $rc
