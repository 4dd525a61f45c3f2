# t/lib/sink.sh - an aiosmtpd peer for the mta-send tests (t/5*-send*.t).
#
# Source after common.sh.  Functions:
#   start_sink NAME [sink.py options: --rule WHERE:REGEX=REPLY ...]
#       start t/lib/sink.py on 127.0.0.1 and a free port, recording into
#       $T/NAME/ (NNNNNN.json the envelope, NNNNNN.eml the message);
#       sets SINK_PORT, SINK_DIR, SINK_PID (tracked: stopped at exit)
#   stop_sink            SIGTERM it, wait (bounded)
#   sink_count           messages it has stored
#   sink_get N KEY       from the N-th stored message (1 = first, 0 = last):
#                        KEY mail_from, data, or a list (rcpt_tos,
#                        mail_options): one item a line, sorted
#   sink_all_rcpts       every recipient of every stored message, one a
#                        line, sorted, with repeats
#   sink_grep_data REGEX how many stored messages match REGEX (Python re,
#                        multiline)

start_sink() {
	local name=$1 try i
	shift
	SINK_DIR=$T/$name
	mkdir -p "$SINK_DIR"
	# A port free a moment ago may be another test's by now (prove
	# -j runs files side by side): a sink that cannot bind exits, and
	# something else would answer on its port, so wait for its own
	# "ready" and take another port if it died.
	for try in 1 2 3; do
		SINK_PORT=$(free_port)
		$PY "$here/lib/sink.py" --port "$SINK_PORT" --dir "$SINK_DIR" "$@" \
			>"$T/$name.out.$try" 2>"$T/$name.err" &
		SINK_PID=$!
		for i in $(seq 100); do
			if grep -qx ready "$T/$name.out.$try" 2>/dev/null; then
				track "$SINK_PID"
				return 0
			fi
			kill -0 "$SINK_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -TERM "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" 2>/dev/null
	done
	echo "# sink did not start:" >&2
	sed 's/^/#   /' "$T/$name.err" >&2
	return 1
}

stop_sink() {
	local i
	kill -TERM "$SINK_PID" 2>/dev/null
	for i in $(seq 100); do kill -0 "$SINK_PID" 2>/dev/null || break; sleep 0.1; done
}

sink_count() { find "$SINK_DIR" -maxdepth 1 -name '*.json' | wc -l | tr -d ' '; }

sink_get() {
	$PY - "$SINK_DIR" "$1" "$2" <<'PYEOF'
import glob, json, sys
files = sorted(glob.glob(sys.argv[1] + "/*.json"))
n, key = int(sys.argv[2]), sys.argv[3]
if not files or n > len(files):
    sys.exit(1)
f = files[n - 1] if n > 0 else files[-1]
if key == "data":
    v = open(f[:-len(".json")] + ".eml", "rb").read().decode("latin-1")
else:
    v = json.load(open(f))[key]
if isinstance(v, list):
    print("\n".join(sorted(v)))
else:
    sys.stdout.write(v)
PYEOF
}

sink_all_rcpts() {
	$PY - "$SINK_DIR" <<'PYEOF'
import glob, json, sys
out = []
for f in glob.glob(sys.argv[1] + "/*.json"):
    out += json.load(open(f))["rcpt_tos"]
print("\n".join(sorted(out)))
PYEOF
}

sink_grep_data() {
	$PY - "$SINK_DIR" "$1" <<'PYEOF'
import glob, json, re, sys
rx = re.compile(sys.argv[2], re.M)
print(sum(1 for f in glob.glob(sys.argv[1] + "/*.json")
          if rx.search(open(f[:-len(".json")] + ".eml", "rb").read()
                       .decode("latin-1"))))
PYEOF
}
