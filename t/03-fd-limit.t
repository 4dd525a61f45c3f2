#!/bin/bash
# t/03-fd-limit.t - the open-file limit fits the configured limits
# (mta-smtpd(8), RESOURCES): started with a soft limit of 1024 and room
# below the hard limit, mta-smtpd raises the soft limit to what -c 1000
# and --max-deliveries 100 need and logs it; with a hard limit of 256 it
# cannot, and says so clearly on stderr and in the log, and still serves;
# with enough already it changes nothing.  The limits are set with
# prlimit(1) (util-linux), which then executes the daemon.
. "$(dirname "$0")/lib/common.sh"

plan 11

real_bin=$MTA_BIN
# need = 2 x -c + 6 x --max-deliveries + listeners + 64 (config.c)
need=$((2 * 1000 + 9 * 100 + 1 + 64))

# wrap NOFILE - a bin directory whose mta-smtpd runs under that limit
wrap() {
	local d=$T/wrap-$1
	mkdir -p "$d"
	printf '#!/bin/sh\nexec prlimit --nofile=%s -- "%s/mta-smtpd" "$@"\n' \
		"$1" "$real_bin" >"$d/mta-smtpd"
	chmod +x "$d/mta-smtpd"
	echo "$d"
}
soft_limit() { awk '/^Max open files/ { print $4 }' /proc/"$MTA_PID"/limits; }

# ---- soft 1024, hard 8192: raised ---------------------------------------------
MTA_BIN=$(wrap 1024:8192) MTA_DIR=$T/raise start_mta_hold -c 1000 --max-deliveries 100 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(soft_limit)" "$need" "soft 1024, hard 8192: the soft limit is raised to $need"
like "$(cat "$MTA_LOG")" " fd-limit need=$need soft=$need action=raised" \
	"the log says so"
is "$(cat "$T/raise/mta.stderr")" "" "nothing on stderr"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- hard 256: cannot -----------------------------------------------------------
MTA_BIN=$(wrap 256:256) MTA_DIR=$T/short start_mta_hold -c 1000 --max-deliveries 100 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
like "$(cat "$T/short/mta.stderr")" \
	"^mta-smtpd: warning: the open-file limit is 256 \(hard limit 256\), below the $need descriptors that -c 1000 and --max-deliveries 100 may need" \
	"hard limit 256: a clear warning on stderr"
like "$(cat "$MTA_LOG")" " fd-limit need=$need soft=256 hard=256 action=short warning=\"" \
	"and in the log"
res=$($PY - "$MTA_PORT" <<'EOF'
import sys
from smtpraw import Client, check
c = Client(sys.argv[1])
c.reply()
c.cmd("EHLO fd.example")
c.cmd("MAIL FROM:<alice@example.org>")
c.cmd("RCPT TO:<bob@test.example>")
c.cmd("DATA")
check("and it still serves: message queued", c.cmd("From: a@example.org\r\n\r\nx\r\n."),
      r"^250 2\.0\.0 ")
c.cmd("QUIT")
EOF
)
tap_from "$res"
is "$(stop_mta)" 0 "SIGTERM exit 0"

# ---- enough already: nothing to do --------------------------------------------------
MTA_BIN=$(wrap 4096:4096) MTA_DIR=$T/enough start_mta_hold -c 10 --max-deliveries 10 ||
	{ echo "Bail out! mta-smtpd did not start"; exit 1; }
is "$(soft_limit)" 4096 "enough already: the soft limit stays 4096"
like "$(cat "$MTA_LOG")" " fd-limit need=$((2 * 10 + 9 * 10 + 1 + 64)) soft=4096 action=none" \
	"the log says nothing was needed"
is "$(stop_mta)" 0 "SIGTERM exit 0"

done_testing
