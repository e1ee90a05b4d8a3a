# Fuzz targets (core/fuzz/, cargo fuzz on the nightly toolchain): the XML-RPC reply and call decoders,
# the JSON-RPC reply decoder, the HTTP reply handling (transport::replay_reply) and the C ABI's
# value functions.
#
#   make fuzz FUZZ_SECONDS=N   every target for N seconds (default 60), each printing libFuzzer's
#                              `Done N runs` line; the corpus grows under $(FUZZ_CORPUS)
#   make fuzz-smoke            every target for FUZZ_SMOKE_SECONDS (10); `make test` runs it
#   make fuzz-seeds            the seed corpus, written from the test payloads (core/fuzz/seeds.py)
#   make fuzz-coverage         llvm-cov coverage of each corpus, for the files each target is about
#
# cargo-fuzz is installed when missing. Without a nightly toolchain the targets are skipped with
# a loud message (they need -Z sanitizer flags); with one they must run clean. A crash leaves its
# input under core/fuzz/artifacts/<target>/.

TEST_TARGETS += fuzz-smoke

FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS := xmlrpc_response xmlrpc_call jsonrpc_response http_reply ffi_value
FUZZ_TARGET_DIR := $(abspath $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target))/fuzz
FUZZ_CORPUS := $(FUZZ_TARGET_DIR)/corpus
FUZZ_NIGHTLY = $(shell rustup toolchain list 2>/dev/null | grep -q '^nightly' && echo yes)
FUZZ_CARGO := cargo +nightly fuzz
# Replies stay small; the decoders' memory limits are tested elsewhere.
FUZZ_FLAGS ?= -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz fuzz-smoke fuzz-seeds fuzz-build fuzz-deps

fuzz-deps:
	@if [ -z "$(FUZZ_NIGHTLY)" ]; then :; \
	elif ! cargo +nightly fuzz --version >/dev/null 2>&1; then \
	  echo "installing cargo-fuzz"; cargo install --locked cargo-fuzz; fi

fuzz-seeds:
	python3 core/fuzz/seeds.py $(CURDIR) $(FUZZ_CORPUS)

fuzz-build: fuzz-deps
	@if [ -z "$(FUZZ_NIGHTLY)" ]; then \
	  echo "!!!!!! fuzz: no nightly toolchain (rustup toolchain install nightly): FUZZ TARGETS SKIPPED !!!!!!"; \
	else cd core/fuzz && $(FUZZ_CARGO) build --target-dir $(FUZZ_TARGET_DIR); fi

# Each target on its own corpus directory (the seeds, then what libFuzzer adds).
fuzz fuzz-smoke: fuzz-build fuzz-seeds
	@if [ -z "$(FUZZ_NIGHTLY)" ]; then exit 0; fi; \
	secs=$(if $(filter fuzz-smoke,$@),$(FUZZ_SMOKE_SECONDS),$(FUZZ_SECONDS)); \
	set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t, $$secs s"; \
	  ( cd core/fuzz && $(FUZZ_CARGO) run --target-dir $(FUZZ_TARGET_DIR) $$t $(FUZZ_CORPUS)/$$t -- \
	      -max_total_time=$$secs $(FUZZ_FLAGS) ) > $(FUZZ_TARGET_DIR)/$$t.log 2>&1 \
	    || { tail -n 60 $(FUZZ_TARGET_DIR)/$$t.log; echo "fuzz $$t FAILED (log $(FUZZ_TARGET_DIR)/$$t.log)"; exit 1; }; \
	  grep -E '^#[0-9]+[[:space:]]+INITED|^Done [0-9]+ runs' $(FUZZ_TARGET_DIR)/$$t.log; \
	  grep -E 'cov: ' $(FUZZ_TARGET_DIR)/$$t.log | tail -n 1; \
	done

# Line coverage of each target's corpus (needs `rustup component add llvm-tools-preview
# --toolchain nightly`): llvm-cov's summary of the sources each target is about.
FUZZ_LLVM = $(firstword $(wildcard $(shell rustc +nightly --print sysroot 2>/dev/null)/lib/rustlib/*/bin))
FUZZ_COV_DIR := $(FUZZ_TARGET_DIR)-cov

.PHONY: fuzz-coverage
fuzz-coverage: fuzz-deps
	@test -n "$(FUZZ_LLVM)" && test -x "$(FUZZ_LLVM)/llvm-cov" \
	  || { echo "fuzz-coverage: rustup component add llvm-tools-preview --toolchain nightly"; exit 1; }
	@set -e; for t in $(FUZZ_TARGETS); do \
	  case $$t in \
	    xmlrpc_*) files='core/src/codec/' ;; jsonrpc_*) files='core/src/jsonrpc/' ;; \
	    http_reply) files='core/src/(transport|codec|jsonrpc)/' ;; \
	    ffi_value) files='ffi/src/(value|boundary|error)\.rs' ;; esac; \
	  ( cd core/fuzz && $(FUZZ_CARGO) coverage --target-dir $(FUZZ_COV_DIR) $$t $(FUZZ_CORPUS)/$$t ) \
	    > $(FUZZ_COV_DIR).$$t.log 2>&1 || { tail -n 30 $(FUZZ_COV_DIR).$$t.log; exit 1; }; \
	  echo "== coverage of $$t ($$(ls $(FUZZ_CORPUS)/$$t | wc -l) inputs): regions, functions, lines"; \
	  $(FUZZ_LLVM)/llvm-cov report $(FUZZ_COV_DIR)/*/release/$$t \
	    -instr-profile=core/fuzz/coverage/$$t/coverage.profdata -show-branch-summary=false \
	    | grep -E "$$files" | grep -v '/tests\.rs' \
	    | awk '{ n = split($$1, p, "/"); printf "%-28s %8s %8s %8s\n", p[n-1] "/" p[n], $$4, $$7, $$10 }'; \
	done
