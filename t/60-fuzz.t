#!/bin/bash
# t/60-fuzz.t - the fuzz harnesses of t/fuzz/ as regression tests.  Each
# harness's committed corpus (t/fuzz/corpus/NAME, regression inputs
# included) is replayed once through the harness linked with
# t/fuzz/replay.c by the plain compiler (make fuzz-replay; MTA_FUZZ_REPLAY
# names the directory, the default build/release/replay): that needs no
# clang, and under make asan/tsan the replay runs sanitized.  When clang
# is installed, each libFuzzer harness (make fuzz-build, prove builds it
# then) also runs: the corpus and new inputs for a few seconds
# (MTA_FUZZ_SECONDS).  A crash, a sanitizer report or an oracle failure is
# "not ok", with the input that did it.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bindir=$root/build/fuzz
replaydir=${MTA_FUZZ_REPLAY:-$root/build/release/replay}
secs=${MTA_FUZZ_SECONDS:-3}
names=$(cd "$root/t/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
count=$(echo $names | wc -w)

# libFuzzer runs where clang is: without it the replay is the whole test
# (new inputs are make fuzz's business, which installs clang itself)
if command -v clang >/dev/null 2>&1; then
	echo "1..$((count * 2))"
	fuzz=1
else
	echo "1..$count"
	echo "# no clang here: the corpus replay only, no libFuzzer run"
	fuzz=0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0

# keep_crashes NAME - copy what libFuzzer kept to build/fuzz/crashes
keep_crashes() {
	local f
	for f in "$tmp/crash-$1"/*; do
		[ -f "$f" ] || continue
		mkdir -p "$bindir/crashes"
		cp "$f" "$bindir/crashes/$1-${f##*/}"
		echo "# input kept as build/fuzz/crashes/$1-${f##*/}"
	done
}

for name in $names; do
	n=$((n + 1))
	bin=$replaydir/replay_$name
	if [ ! -x "$bin" ]; then
		echo "not ok $n - $name replay: $bin not built (make fuzz-replay)"
	else
		timeout -k 5 300 "$bin" "$root/t/fuzz/corpus/$name" \
		    >"$tmp/$name.replay" 2>"$tmp/$name.replay.err"
		rc=$?
		done=$(sed -n 's/^replayed \([0-9]*\) inputs$/\1/p' "$tmp/$name.replay")
		if [ $rc -eq 0 ] && [ -n "$done" ]; then
			echo "ok $n - $name replay: $done corpus inputs"
		else
			echo "not ok $n - $name replay: exit $rc"
			grep -v '^input ' "$tmp/$name.replay.err" | head -n 5 | sed 's/^/# /'
			grep '^input ' "$tmp/$name.replay.err" | tail -n 1 | sed 's/^/# last /'
		fi
	fi

	[ $fuzz = 1 ] || continue
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
		keep_crashes "$name"
	fi
done
