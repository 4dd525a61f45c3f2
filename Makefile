# mta - build, test and run.  See README.
#
#   make            build bin/mta-smtpd, bin/mta-send, bin/mta-queue
#   make run        install what is missing, build, start the daemon on its defaults
#   make test       install what is missing, build, run unit and shell tests
#   make asan       the whole suite under AddressSanitizer + UBSan (objects in build/asan)
#   make tsan       the whole suite under ThreadSanitizer (objects in build/tsan)
#   make crash      the power-cut tests (t/70, t/71) cutting at every point,
#                   and t/77 (ext4 on blockcut) with 40 rounds of deliveries
#   make valgrind   memcheck of the daemon under load: no leak grows with traffic
#   make bench      benchmarks against Postfix (t/bench/, not part of test)
#   make fuzz       every libFuzzer harness (t/fuzz/) for FUZZ_SECONDS each
#                   (installs clang: FUZZ_DEBS)
#   make fuzz-smoke the same for a few seconds each
#   make fuzz-replay the harnesses built by cc to replay their corpus once
#                   (t/60-fuzz.t; no clang needed)
#   make install    PREFIX=/usr/local DESTDIR= (the programs, the manual,
#                   the systemd unit into UNITDIR, the logrotate snippet
#                   into SYSCONFDIR/logrotate.d)
#   make install-sendmail  the sendmail, mailq, newaliases links to mta-send
#                   (never by make install: they would replace another MTA's)

PREFIX  ?= /usr/local
DESTDIR ?=
# the systemd unit and the logrotate snippet (etc/) go here
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
O       ?= build/release
BIN     ?= bin
# test files run at once (prove -j): a file spends most of its time
# waiting (on daemons, deliveries, time-outs), not on a CPU
TEST_JOBS ?= 4

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual
CPPFLAGS_ALL = -std=gnu11 -D_GNU_SOURCE -Isrc $(CPPFLAGS)
CFLAGS_ALL   = $(CFLAGS) $(WARN) $(SANFLAGS) -pthread
LDLIBS_ALL   = -lowfat -lunbound -lcurl -lssl -lcrypto -lcrypt -lresolv -pthread $(LDLIBS)

LIB_SRC  = $(filter-out src/main_%.c,$(wildcard src/*.c))
LIB_OBJ  = $(LIB_SRC:src/%.c=$(O)/%.o)
PROGRAMS = $(patsubst src/main_%.c,$(BIN)/mta-%,$(wildcard src/main_*.c))
UNIT_SRC = $(wildcard t/unit/test_*.c)
UNIT_OBJ = $(UNIT_SRC:t/unit/%.c=$(O)/unit/%.o)
UNIT_BIN = $(O)/unit-tests
# each object's headers, written by the compiler beside it ($(O)/*.d):
# -MP adds an empty rule per header, so a removed header breaks nothing
DEPFLAGS = -MMD -MP

# Debian packages: the build needs the first line, the tests the second;
# clang and its libFuzzer only make fuzz, make fuzz-smoke (and make test
# when they are there: t/60-fuzz.t replays the corpus without them).
# The TLS tests (t/9x) make their certificates with openssl and talk TLS
# with swaks (which needs libnet-ssleay-perl for it) and msmtp; the DANE
# test (t/95) signs a zone with ldnsutils and serves it with nsd.  t/54
# calls mta-send from s-nail, bsd-mailx, mutt and git; t/55 checks the
# unit with systemd-analyze (systemd) and the snippet with logrotate.
# t/97 drives nodemailer (node, npm): its version is pinned in
# t/package.json and t/package-lock.json, installed into t/node_modules
# (npm ci, not in git).
# t/98 and t/79-smarthost-postfix start a private Dovecot (dovecot-core:
# its auth socket, for mta and as Postfix's SASL).
# t/39 (and t/bench/lmtp.sh) run a private Dovecot: LMTP to deliver,
# IMAP to read back.
BUILD_DEBS = gcc make libowfat-dev libssl-dev libunbound-dev \
             libcurl4-openssl-dev libcrypt-dev
TEST_DEBS  = libcriterion-dev swaks python3 python3-aiosmtpd dnsmasq-base \
             openssl msmtp libnet-ssleay-perl unbound ldnsutils nsd \
             dns-root-data \
             postfix strace valgrind perl iproute2 procps \
             libfuse3-dev fuse3 pkg-config \
             s-nail bsd-mailx mutt git logrotate systemd nodejs cron at \
             dovecot-core dovecot-lmtpd dovecot-imapd
FUZZ_DEBS  = clang libclang-rt-14-dev
BENCH_DEBS = postfix time dovecot-core dovecot-lmtpd

.PHONY: all run test unit prove asan tsan crash valgrind deps test-deps bench install \
        install-sendmail clean
all: $(PROGRAMS)

$(O)/%.o: src/%.c | $(O)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(DEPFLAGS) -c -o $@ $<

$(O)/unit/%.o: t/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(DEPFLAGS) -c -o $@ $<

$(O)/t-fuzz/%.o: t/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -It/fuzz $(CFLAGS_ALL) $(DEPFLAGS) -c -o $@ $<

$(O)/libmta.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BIN)/mta-%: $(O)/main_%.o $(O)/libmta.a | $(BIN)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(UNIT_BIN): $(UNIT_OBJ) $(O)/libmta.a
	$(CC) $(CFLAGS_ALL) -o $@ $(UNIT_OBJ) $(O)/libmta.a \
	    -lcriterion $(LDLIBS_ALL)

-include $(wildcard $(O)/*.d $(O)/unit/*.d $(O)/t-fuzz/*.d)
# the harness objects are intermediate to make: keep them (and their .d)
.SECONDARY:

$(O) $(BIN):
	mkdir -p $@

# t/tools/crashfs: the FUSE file system of the power-cut tests (see
# t/tools/README).  A test tool, not under test: built without SANFLAGS
# (ThreadSanitizer would report inside the uninstrumented libfuse).
CRASHFS = $(O)/tools/crashfs
$(CRASHFS): t/tools/crashfs.c
	mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE $$(pkg-config --cflags fuse3) $(CFLAGS) \
	    $(WARN) -o $@ $< $$(pkg-config --libs fuse3) -pthread

# t/tools/blockcut: a disk image whose write cache a power cut loses, as a
# FUSE file system, for t/77-powercut-ext4.t (a loop device on it carries
# ext4); built like crashfs, next to it
BLOCKCUT = $(O)/tools/blockcut
$(BLOCKCUT): t/tools/blockcut.c
	mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE $$(pkg-config --cflags fuse3) $(CFLAGS) \
	    $(WARN) -o $@ $< $$(pkg-config --libs fuse3) -pthread

# t/tools/dovecot-auth: drives dovecot_auth_check() (libmta) for
# t/98-dovecot-auth.t, next to crashfs (the test finds it there)
DOVECOT_AUTH_TOOL = $(O)/tools/dovecot-auth
$(DOVECOT_AUTH_TOOL): t/tools/dovecot-auth.c $(O)/libmta.a
	mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(O)/libmta.a $(LDLIBS_ALL)

# t/tools/commit-ceiling: t/bench/ceiling.sh's writer (durable new files
# per second on the benchmark's file system, nothing else)
COMMIT_CEILING = $(O)/tools/commit-ceiling
$(COMMIT_CEILING): t/tools/commit-ceiling.c
	mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(CFLAGS) $(WARN) -o $@ $< -pthread

# t/tools/thread-sink: t/bench's SMTP server with a thread per connection
# that keeps nothing (ceiling.sh: the talk part of mta-smtpd's design) or,
# with -k, only makes each message durable (accept.sh's and e2e.sh's floor)
THREAD_SINK = $(O)/tools/thread-sink
$(THREAD_SINK): t/tools/thread-sink.c
	mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(CFLAGS) $(WARN) -o $@ $< -pthread

# Install Debian packages that are not there yet (as root, on Debian).
define need_debs
	@missing=""; for p in $(1); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call need_debs,$(BUILD_DEBS))
test-deps: deps
	$(call need_debs,$(TEST_DEBS))
	@command -v npm >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends npm; }
	@[ t/node_modules/.package-lock.json -nt t/package-lock.json ] || \
	    (cd t && npm ci --no-audit --no-fund --ignore-scripts) || \
	    echo "warning: npm ci in t/ failed: t/97's nodemailer part is skipped"

run: deps
	$(MAKE) all
	mkdir -p queue mail
	$(BIN)/mta-smtpd

unit: $(UNIT_BIN)
prove: all unit $(CRASHFS) $(BLOCKCUT) $(DOVECOT_AUTH_TOOL) fuzz-replay
	MTA_BIN=$(abspath $(BIN)) MTA_UNIT=$(abspath $(UNIT_BIN)) \
	    MTA_CRASHFS=$(abspath $(CRASHFS)) MTA_FUZZ_REPLAY=$(abspath $(REPLAY_DIR)) \
	    prove -v -j$(TEST_JOBS) --exec $(abspath t/lib/run-test) t/*.t

test: test-deps
	$(MAKE) prove

asan: test-deps
	$(MAKE) O=build/asan BIN=build/asan/bin CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	    SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    prove

# A report makes the process exit 66 at once (halt_on_error), so the
# daemon's exit status (stop_mta) or the test's own assertions catch it;
# done_testing in t/lib/common.sh also fails on a report in mta.stderr.
# t/tsan.supp: reports that are not ours, each with its reason.  The
# Criterion unit tests are skipped: Criterion's runner crashes (SEGV) at
# start under TSan, a known limit of Criterion, not of our code; the
# threads those tests start (concurrent Maildir and mbox writers) run
# in the daemon under t/21-concurrent.t and t/22-mbox.t instead.
# MTA_TEST_SLOW stretches the few time horizons a test sets itself.
TSAN_OPTIONS_ALL = halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
                   suppressions=$(abspath t/tsan.supp)
tsan: test-deps
	TSAN_OPTIONS="$(TSAN_OPTIONS_ALL) $(TSAN_OPTIONS)" \
	    MTA_UNIT_SKIP="Criterion cannot run under ThreadSanitizer; make test runs them" \
	    MTA_TEST_SLOW=5 \
	    $(MAKE) O=build/tsan BIN=build/tsan/bin \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer" SANFLAGS="-fsanitize=thread" \
	    prove

# the power-cut tests in full: t/71-powercut.t cuts at every durability
# point of its short workload (make test: the first 8), t/77 with 40
# rounds of deliveries besides its --hold round (make test: 4)
crash: test-deps
	$(MAKE) all $(CRASHFS) $(BLOCKCUT)
	MTA_BIN=$(abspath $(BIN)) MTA_CRASHFS=$(abspath $(CRASHFS)) \
	    MTA_POWERCUT_POINTS=0 MTA_POWERCUT_ROUNDS=40 MTA_TEST_TIMEOUT=3000 \
	    prove -v --exec $(abspath t/lib/run-test) t/70-crashfs.t t/71-powercut.t \
	    t/77-powercut-ext4.t

# valgrind memcheck of the daemon (-O1 -g) at N and 10N messages: a leak
# that grows with traffic fails (t/bench/valgrind-leak.sh, VG_MSGS=N)
valgrind: test-deps
	$(call need_debs,valgrind)
	$(MAKE) O=build/valgrind BIN=build/valgrind/bin CFLAGS="-O1 -g" all
	MTA_BIN=$(abspath build/valgrind/bin) t/bench/valgrind-leak.sh

bench: test-deps
	$(call need_debs,$(BENCH_DEBS))
	$(MAKE) all $(COMMIT_CEILING) $(THREAD_SINK)
	t/bench/run-all.sh

# libFuzzer harnesses (t/fuzz/fuzz_NAME.c, seeds in t/fuzz/corpus/NAME/),
# built by clang with ASan and UBSan into build/fuzz; `make fuzz` runs each
# for FUZZ_SECONDS on a copy of its corpus (build/fuzz/corpus/NAME; crashes
# in build/fuzz/crashes/).  The same harnesses linked with t/fuzz/replay.c
# by the plain compiler ($(O)/replay/replay_NAME, fuzz-replay) run every
# corpus file once: t/60-fuzz.t replays with them always, and fuzzes for
# a few seconds besides when clang is installed (prove builds the
# libFuzzer harnesses then).
FUZZ_O        = build/fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES    = $(patsubst t/fuzz/fuzz_%.c,%,$(wildcard t/fuzz/fuzz_*.c))
REPLAY_DIR    = $(O)/replay
HAVE_CLANG   := $(shell command -v clang 2>/dev/null)

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-replay fuzz-deps
fuzz-build:
	$(MAKE) O=$(FUZZ_O) CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	    SANFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	    $(FUZZ_NAMES:%=$(FUZZ_O)/fuzz_%)

$(FUZZ_O)/fuzz_%: $(O)/t-fuzz/fuzz_%.o $(O)/t-fuzz/oracle.o $(O)/libmta.a
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)

fuzz-replay: $(FUZZ_NAMES:%=$(REPLAY_DIR)/replay_%)

$(REPLAY_DIR)/replay_%: $(O)/t-fuzz/fuzz_%.o $(O)/t-fuzz/oracle.o \
                        $(O)/t-fuzz/replay.o $(O)/libmta.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

ifneq ($(HAVE_CLANG),)
prove: fuzz-build
endif

fuzz-deps:
	$(call need_debs,$(FUZZ_DEBS))

fuzz: test-deps fuzz-deps
	$(MAKE) fuzz-build
	t/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke: test-deps fuzz-deps
	$(MAKE) fuzz-build
	t/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_NAMES)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BIN)/mta-smtpd $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(BIN)/mta-send $(BIN)/mta-queue $(BIN)/mta-passwd \
	    $(DESTDIR)$(PREFIX)/bin/
	for m in man/*.[158]; do \
	    s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|' etc/mta-smtpd.service \
	    >$(DESTDIR)$(UNITDIR)/mta-smtpd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/mta-smtpd.service
	install -m 644 etc/logrotate.d/mta $(DESTDIR)$(SYSCONFDIR)/logrotate.d/mta

# Debian's places (its sendmail alternatives): sbin/sendmail, bin/mailq,
# bin/newaliases, each a relative link to bin/mta-send, which tells the
# three apart by the name it is called by (mta-send(1)).  Asked for by
# name only: they replace whatever MTA provides them now.
install-sendmail: install
	ln -sf ../bin/mta-send $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf mta-send $(DESTDIR)$(PREFIX)/bin/mailq
	ln -sf mta-send $(DESTDIR)$(PREFIX)/bin/newaliases

clean:
	rm -rf build bin
