# The everyday bench (issue 22's figures; tests/bench/README.md says what each means and how it
# is measured). Not part of `make test`.
#
#   make everyday-bench   against ONE release xenapi-sim: VM.get_power_state in a loop for Rust,
#                         C, Python xenapi_rs, C# (Mono) and the official XenAPI.py (calls/s,
#                         interleaved rounds, and system calls per call in the client, strace -f);
#                         the ratio xenapi_rs / XenAPI.py; the interrupt latency of a held call
#                         (Python SIGINT, C xenapi_cancel, C# CancellationToken, Rust Cancel); the
#                         asyncio event-loop stall with 100 calls in flight (xenapi_rs.aio); one
#                         table, also written to $(BENCH_OUT)/everyday.txt
#
# EVERYDAY_ARGS passes options to the driver (tests/bench/everyday.py), e.g.
# `make everyday-bench EVERYDAY_ARGS="--rounds 5 --seconds 3"`.
#
# The programs: core/sim-tests/examples/small_calls.rs, ffi/bench/small_calls.c (linked to the
# release libxenapi.a; compiled with XENAPI_BENCH_CALL_OPTIONS once include/xenapi.h declares
# xenapi_session_with_call_options), dotnet/bench/SmallCalls.cs (beside XenApi.dll, which
# dotnet-build makes) and python/bench/small_calls.py (on the installed wheel, python-install).

DEPS_APT += strace

BENCH_TARGET := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
BENCH_OUT := $(BENCH_TARGET)/bench
BENCH_C_FLAGS := -std=c99 -Wall -Wextra -Werror -pedantic -O2 -Iinclude
EVERYDAY_ARGS ?=

.PHONY: everyday-bench everyday-bench-build

everyday-bench-build: deps python-install dotnet-build
	$(CARGO) build --release -p xenapi-sim -p xenapi-ffi
	$(CARGO) build --release -p xenapi-tests --example small_calls
	@mkdir -p $(BENCH_OUT)
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_OUT)/SmallCalls.exe dotnet/bench/SmallCalls.cs
	@# The per-call cancel is measured once the C ABI has it; until then the program says n/a.
	@if grep -q 'xenapi_session_with_call_options' include/xenapi.h; then \
		echo "ffi/bench/small_calls.c: with per-call options (xenapi_session_with_call_options)"; \
		$(FFI_CC) $(BENCH_C_FLAGS) -DXENAPI_BENCH_CALL_OPTIONS ffi/bench/small_calls.c \
			-o $(BENCH_OUT)/small_calls_c $(BENCH_TARGET)/release/libxenapi.a $(FFI_STATIC_LIBS); \
	else \
		echo "ffi/bench/small_calls.c: include/xenapi.h has no per-call options yet: its interrupt row is n/a"; \
		$(FFI_CC) $(BENCH_C_FLAGS) ffi/bench/small_calls.c \
			-o $(BENCH_OUT)/small_calls_c $(BENCH_TARGET)/release/libxenapi.a $(FFI_STATIC_LIBS); \
	fi

everyday-bench: everyday-bench-build
	$(DOTNET_ENV) $(BENCH_TARGET)/release/xenapi-sim run --vms 4 -- \
	  $(PYTHON) tests/bench/everyday.py --rust $(BENCH_TARGET)/release/examples/small_calls \
	    --c $(BENCH_OUT)/small_calls_c --csharp $(DOTNET_OUT)/SmallCalls.exe --mono $(MONO) \
	    --python $(PYTHON) --logs $(BENCH_OUT)/strace --out $(BENCH_OUT)/everyday.txt $(EVERYDAY_ARGS)
