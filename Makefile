# spoolrun: `make demo` and `make test` work on a fresh Debian 12 machine with Swift.
SWIFT ?= swift
BIN_DEBUG = .build/debug/spoolrun
BIN_RELEASE = .build/release/spoolrun

.PHONY: all deps test-deps build release lint check test crash-test test-asan demo demo-stop bench profile fuzz clean

all: build

deps:
	./scripts/install-deps.sh

test-deps:
	./scripts/install-deps.sh --test

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# swift-format's rules with the committed .swift-format. The pretty-printer's whitespace
# pass is left out: the code aligns continuation lines under the opening parenthesis, which
# it would rewrite in every file (docs/testing.md, "Lint").
lint:
	$(SWIFT) format lint --strict --debug-disable-pretty-print --recursive Sources Tests Package.swift

# The edit-compile-test loop: the lint, the JavaScript tests and every test target but
# EndToEndTests (no built binary driven, no servers), under 2 minutes once built. Installs
# nothing: run `make test-deps` once first.
check: lint
	node --test Tests/JavaScript/
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing --skip '^EndToEndTests\.'

# Builds and runs every test: unit tests, and end-to-end tests that drive the built binary
# against real openssl, Python cryptography and nginx.
test: test-deps lint
	node --test Tests/JavaScript/
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

# The crash suite in full (make test runs it with 50 trials): spoolrun run and reprocess
# killed at random instants and faults injected at every named step, 200 trials.
CRASH_TRIALS ?= 200
crash-test: test-deps
	$(SWIFT) build --build-tests
	CRASH_TRIALS=$(CRASH_TRIALS) $(SWIFT) test --skip-build --disable-swift-testing --filter MailCrashTests

# Every test built and run under AddressSanitizer and LeakSanitizer (.build-asan).
test-asan: test-deps
	./scripts/test-asan.sh

# Sets up demo/ (config, keys, state) over the repo's spool/ and www/, feeds it sample
# tunnel messages, runs a sweep and starts nginx on 127.0.0.1:8080.
demo: build
	./scripts/demo.sh $(BIN_DEBUG)

demo-stop:
	./scripts/demo.sh --stop

# Benchmarks (release build): prints figures and ratios measured in the same run.
bench: test-deps release
	python3 scripts/bench.py --binary $(BIN_RELEASE)

# perf profiles of a 1-core sweep of 20 KB messages and of the 25 MiB message
# (docs/performance.md has the record).
profile: release
	./scripts/install-deps.sh --profile
	python3 scripts/bench.py --binary $(BIN_RELEASE) --profile --messages 1000

# Fuzzing (libFuzzer + AddressSanitizer, its own build in .build-fuzz): each target for
# FUZZ_SECONDS (default 60). Findings go to .build-fuzz/findings/; docs/testing.md has the log.
FUZZ_SECONDS ?= 60
fuzz: test-deps
	./scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-fuzz .build-asan demo demo-gateway

# Installs spoolrun (docs/operations.md, "Installing with systemd"). PREFIX and DESTDIR as
# usual; BIN is the binary to install (default: the release build, built first). The units
# go to UNITDIR (systemd also reads /usr/local/lib/systemd/system), with ExecStart pointing at
# $(PREFIX)/bin/spoolrun; the logrotate snippet to LOGROTATEDIR unless one is already there
# (an administrator's edits are kept); reference copies of the templates, the nginx site,
# the logrotate snippet and the systemd drop-in examples to $(PREFIX)/share/spoolrun/.
PREFIX ?= /usr/local
DESTDIR ?=
BIN ?= $(BIN_RELEASE)
UNITDIR ?= $(PREFIX)/lib/systemd/system
LOGROTATEDIR ?= /etc/logrotate.d
SHAREDIR = $(PREFIX)/share/spoolrun
MAN8DIR = $(PREFIX)/share/man/man8
UNITS = spoolrun.service spoolrun.timer spoolrun.path
TEMPLATES = $(wildcard Sources/Render/Templates/*.mustache)
APP_ASSETS = $(filter-out www/assets/.%,$(wildcard www/assets/*))

.PHONY: install uninstall nginx-site

# The production site's portal locations are made from the template setup compiles in
# (Sources/Spool/Installation/Templates/portal-locations.conf.in): run after editing it.
# `make install` installs the site made from the template whether or not this was run.
nginx-site:
	./scripts/nginx-site.sh deploy/nginx/spoolrun.conf > deploy/nginx/spoolrun.conf.tmp
	mv deploy/nginx/spoolrun.conf.tmp deploy/nginx/spoolrun.conf

install:
	@if [ "$(BIN)" = "$(BIN_RELEASE)" ]; then echo "$(SWIFT) build -c release"; $(SWIFT) build -c release; fi
	@test -x "$(BIN)" || { echo "make install: $(BIN) is not an executable; build it or give BIN=" >&2; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SHAREDIR)/www/assets $(DESTDIR)$(SHAREDIR)/templates \
		$(DESTDIR)$(SHAREDIR)/nginx $(DESTDIR)$(SHAREDIR)/logrotate $(DESTDIR)$(SHAREDIR)/systemd \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MAN8DIR) $(DESTDIR)$(LOGROTATEDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/spoolrun
	install -m 0644 www/index.html $(DESTDIR)$(SHAREDIR)/www/index.html
	install -m 0644 $(APP_ASSETS) $(DESTDIR)$(SHAREDIR)/www/assets/
	install -m 0644 $(TEMPLATES) $(DESTDIR)$(SHAREDIR)/templates/
	./scripts/nginx-site.sh deploy/nginx/spoolrun.conf > $(DESTDIR)$(SHAREDIR)/nginx/spoolrun.conf.tmp
	chmod 0644 $(DESTDIR)$(SHAREDIR)/nginx/spoolrun.conf.tmp
	mv $(DESTDIR)$(SHAREDIR)/nginx/spoolrun.conf.tmp $(DESTDIR)$(SHAREDIR)/nginx/spoolrun.conf
	install -m 0644 deploy/logrotate/spoolrun $(DESTDIR)$(SHAREDIR)/logrotate/spoolrun
	install -m 0644 deploy/systemd/examples/*.conf $(DESTDIR)$(SHAREDIR)/systemd/
	for u in $(UNITS); do \
		sed 's#/usr/local/bin/spoolrun#$(PREFIX)/bin/spoolrun#g' deploy/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	test -e $(DESTDIR)$(LOGROTATEDIR)/spoolrun || install -m 0644 deploy/logrotate/spoolrun $(DESTDIR)$(LOGROTATEDIR)/spoolrun
	install -m 0644 docs/spoolrun.8 $(DESTDIR)$(MAN8DIR)/spoolrun.8

# Removes what install put there; the logrotate snippet only if unchanged. Installations made
# with `spoolrun setup` (config, keys, spool, mailboxes) are never touched.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/spoolrun $(DESTDIR)$(MAN8DIR)/spoolrun.8
	for u in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$u; done
	rm -rf $(DESTDIR)$(SHAREDIR)
	if cmp -s deploy/logrotate/spoolrun $(DESTDIR)$(LOGROTATEDIR)/spoolrun; then rm -f $(DESTDIR)$(LOGROTATEDIR)/spoolrun; fi
