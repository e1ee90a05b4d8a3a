# xenapi-rs: `make demo` walks the talk's demo on the simulator; `make test` runs every test.
# Each installs what it needs first. Bindings add their targets through mk/*.mk, which append to
# TEST_TARGETS and DEMO_TARGETS.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

TEST_TARGETS :=
DEMO_TARGETS :=
DEPS_PIP :=
DEPS_APT :=

include $(sort $(wildcard mk/*.mk))

export DEPS_PIP DEPS_APT

.PHONY: all build demo test deps lint generated-check rust-test python-codec-test bench

all: build

build:
	$(CARGO) build --release -p xenapi-sim -p xenctl

deps:
	@scripts/deps.sh

demo: build $(DEMO_TARGETS)
	scripts/demo.sh

test: deps lint generated-check rust-test python-codec-test $(TEST_TARGETS)
	@echo "make test: all passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Generated code is committed; this fails when it no longer matches the datamodel or generator.
generated-check:
	$(CARGO) run -q -p xenapi-codegen -- --check

rust-test:
	$(CARGO) test --workspace

python-codec-test: build
	python3 -m pytest -q tests/python

bench:
	$(CARGO) bench -p xenapi
