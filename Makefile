# xenapi-rs: `make demo` walks the talk's demo on the simulator; `make test` runs every test.
# Each installs what it needs first. Make fragments live beside what they build: one per binding
# (ffi/ffi.mk, python/python.mk, dotnet/dotnet.mk), one per part of the core (core/fuzz/fuzz.mk)
# and one per cross-binding test folder (tests/*/*.mk). They add their parts through TEST_TARGETS
# (run by `make test`), DEMO_TARGETS (built before the demo) and DEMOS (scripts the demo runs with
# the simulator's URL as their argument), and DEPS_PIP, DEPS_APT and DEPS_CARGO: what
# scripts/deps.sh, the one installer, installs (`make deps`; every target that needs something
# depends on `deps`).

.DEFAULT_GOAL := all
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

TEST_TARGETS :=
DEMO_TARGETS :=
DEMOS :=
# The linters (`make lint`): ruff and mypy for the Python, clang-format for the C sources;
# strace for the core's system-calls-per-call guard (core/sim-tests/tests/syscalls.rs).
DEPS_PIP := pytest xenapi ruff mypy
DEPS_APT := clang-format strace
DEPS_CARGO :=
PYTHON ?= python3

include $(sort $(wildcard */*.mk core/*/*.mk tests/*/*.mk))

export DEPS_PIP DEPS_APT DEPS_CARGO DEMOS PYTHON

.PHONY: all build demo test deps lint generated-check rust-test python-codec-test bench cache-bench

all: build

build:
	$(CARGO) build --release -p xenapi-sim -p xenctl

deps:
	@scripts/deps.sh

demo: deps build $(DEMO_TARGETS)
	scripts/demo.sh

test: deps lint generated-check rust-test python-codec-test $(TEST_TARGETS)
	@echo "make test: all passed"

# The lint rules, each in its committed configuration: rustfmt.toml and [workspace.lints]
# (Cargo.toml), ruff and mypy (pyproject.toml: the Python, and the type stubs with a typed usage
# file), clang-format (.clang-format: the hand-written C; generated files are the generators'),
# actionlint (the GitHub workflows).
LINT_C := $(filter-out ffi/tests/test_records.c,$(sort $(wildcard ffi/tests/*.c ffi/tests/*.h \
	ffi/examples/*.c ffi/bench/*.c tests/*/*.c)))
LINT_STUBS := $(patsubst python/%,%,$(sort $(wildcard python/xenapi_rs/*.pyi))) tests/typed_usage.py

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(PYTHON) -m ruff check python tests core/fuzz
	cd python && MYPYPATH=. $(PYTHON) -m mypy --config-file ../pyproject.toml $(LINT_STUBS)
	clang-format --dry-run --Werror $(LINT_C)
	node release/actionlint.cjs $(wildcard .github/workflows/*.yml)

# Generated code is committed; this fails when it no longer matches the datamodel or generator,
# or when a binding leaves a datamodel message without a typed function (--coverage prints them).
generated-check:
	$(CARGO) run -q -p xenapi-codegen -- --check
	$(CARGO) run -q -p xenapi-codegen -- --coverage

rust-test:
	$(CARGO) test --workspace

# The official client against the simulator (tests/fidelity) and our codec against CPython's
# xmlrpc.client (tests/differential); simulators come from the Python package's launcher
# (xenapi_rs.testing).
python-codec-test: build python-install
	$(PYTHON) -m pytest -q tests/fidelity tests/differential

bench:
	$(CARGO) bench -p xenapi

# The live object cache: time to the first full cache and memory per cached VM for 2,000 VMs,
# and events applied per second (core/sim-tests/examples/cache_bench.rs).
cache-bench:
	$(CARGO) run -q --release -p xenapi-tests --example cache_bench
