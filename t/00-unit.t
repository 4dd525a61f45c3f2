#!/bin/bash
# t/00-unit.t - the Criterion unit tests (t/unit/), as TAP for prove.
# MTA_UNIT names the test binary (make sets it).
here=$(cd "$(dirname "$0")" && pwd)
unit=${MTA_UNIT:-$here/../build/release/unit-tests}
# make tsan sets MTA_UNIT_SKIP: Criterion's runner crashes at start under
# ThreadSanitizer, a limit of Criterion, not of the code under test
if [ -n "${MTA_UNIT_SKIP:-}" ]; then
	echo "1..0 # skip $MTA_UNIT_SKIP"
	exit 0
fi
if [ ! -x "$unit" ]; then
	echo "1..0 # skip unit test binary not built ($unit)"
	exit 0
fi
# Criterion itself leaks a few bytes parsing its arguments: not ours.
supp=$(mktemp)
echo "leak:libcriterion" > "$supp"
LSAN_OPTIONS="suppressions=$supp:print_suppressions=0" "$unit" -Otap:- --jobs 2 2>/dev/null
rc=$?
rm -f "$supp"
exit $rc
