# spoolrun: `make demo` and `make test` work on a fresh Debian 12 machine with Swift.
SWIFT ?= swift
BIN_DEBUG = .build/debug/spoolrun
BIN_RELEASE = .build/release/spoolrun

.PHONY: all deps test-deps build release test demo demo-stop bench clean

all: build

deps:
	./scripts/install-deps.sh

test-deps:
	./scripts/install-deps.sh --test

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Builds and runs every test: unit tests, and end-to-end tests that drive the built binary
# against real openssl, Python cryptography and nginx.
test: test-deps
	node --test Tests/JavaScript/
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

# Sets up demo/ (config, keys, state) over the repo's spool/ and www/, feeds it sample
# tunnel messages, runs a sweep and starts nginx on 127.0.0.1:8080.
demo: build
	./scripts/demo.sh $(BIN_DEBUG)

demo-stop:
	./scripts/demo.sh --stop

# Benchmarks (release build): prints figures and ratios measured in the same run.
bench: test-deps release
	python3 scripts/bench.py --binary $(BIN_RELEASE)

clean:
	rm -rf .build demo
