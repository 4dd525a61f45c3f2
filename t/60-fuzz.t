#!/bin/bash
# t/60-fuzz.t - a short run of every libFuzzer harness (t/fuzz/): first its
# committed corpus (t/fuzz/corpus/NAME, regression inputs included), then
# new inputs for a few seconds.  A crash, a sanitizer report or an oracle
# failure is "not ok", with the input that did it.  The harnesses are
# built by `make fuzz-build` (prove depends on it); MTA_FUZZ_SECONDS sets
# the time per harness.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bindir=$root/build/fuzz
secs=${MTA_FUZZ_SECONDS:-3}
names=$(cd "$root/t/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')

echo "1..$(echo $names | wc -w)"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
for name in $names; do
	n=$((n + 1))
	bin=$bindir/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "not ok $n - $name: $bin not built (make fuzz-build)"
		continue
	fi
	mkdir -p "$tmp/$name" "$tmp/crash-$name"
	# the corpus is only read: new inputs go to the scratch directory
	timeout -k 5 $((secs + 60)) nice -n 10 "$bin" -max_total_time="$secs" \
	    -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$tmp/crash-$name/" \
	    "$tmp/$name" "$root/t/fuzz/corpus/$name" >"$tmp/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$name.log")
	if [ $rc -eq 0 ] && [ -n "$execs" ]; then
		echo "ok $n - $name: $execs inputs in ${secs}s"
	else
		echo "not ok $n - $name: exit $rc"
		grep -m 5 -E '^(oracle:|SUMMARY:|==[0-9]+==ERROR|.*runtime error)' \
		    "$tmp/$name.log" | sed 's/^/# /'
		for f in "$tmp/crash-$name"/*; do
			[ -f "$f" ] || continue
			mkdir -p "$bindir/crashes"
			cp "$f" "$bindir/crashes/$name-${f##*/}"
			echo "# input kept as build/fuzz/crashes/$name-${f##*/}"
		done
	fi
done
