#!/bin/sh
# t/fuzz/run.sh SECONDS NAME... - run each libFuzzer harness build/fuzz/fuzz_NAME
# for SECONDS on a copy of its corpus (build/fuzz/corpus/NAME, refreshed from
# t/fuzz/corpus/NAME and kept between runs), one after the other, under
# nice.  A crash, sanitizer report or oracle failure is kept as
# build/fuzz/crashes/NAME-*; the output is in build/fuzz/logs/NAME.log.
# Prints one line per harness: executions, time, executions per second,
# corpus size, and the crash if any.  Exit 1 if any harness failed.
# FUZZ_FLAGS adds libFuzzer flags (e.g. -jobs, -max_len).
cd "$(dirname "$0")/../.." || exit 1
secs=$1
shift
out=build/fuzz
mkdir -p $out/corpus $out/crashes $out/logs
failed=0
for name; do
	bin=$out/fuzz_$name
	work=$out/corpus/$name
	log=$out/logs/$name.log
	if [ ! -x "$bin" ]; then
		echo "fuzz $name: $bin not built (make fuzz-build)"
		failed=1
		continue
	fi
	# longer inputs only slow the reply parser's harness down: its limits
	# (a 512-octet line, 1024 octets of text) are within reach of 2048
	case $name in
	smtp_reply) len=-max_len=2048 ;;
	*) len= ;;
	esac
	mkdir -p "$work"
	cp t/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	start=$(date +%s)
	# -timeout: one input taking this long is a hang, kept as a crash
	nice -n 10 "$bin" -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
	    -artifact_prefix="$out/crashes/$name-" $len $FUZZ_FLAGS "$work" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	files=$(ls "$work" | wc -l)
	crash=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
	printf 'fuzz %-11s %10s execs in %4s s (%s/s), corpus %s files' \
	    "$name" "${execs:-?}" $((end - start)) "${rate:-?}" "$files"
	if [ $rc -ne 0 ]; then
		failed=1
		printf ', FAILED (exit %s) %s\n' $rc "${crash:-see $log}"
		grep -m 3 -E '^(oracle:|SUMMARY:|==[0-9]+==ERROR)' "$log" | sed 's/^/    /'
	else
		printf ', no crash\n'
	fi
done
exit $failed
