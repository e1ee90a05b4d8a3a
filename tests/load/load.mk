# Load: one session shared by many threads, in every binding, against one xenapi-sim.
#
#   make load-bench   calls per second of VM.get_power_state at LOAD_THREADS threads (1 4 16 64),
#                     LOAD_CALLS calls each (200), for Rust, C, Python and C#: one line each,
#                     `BINDING THREADS CALLS_PER_SECOND ERRORS`, then a table
#
# The 64 x 200 checks are tests that `make test` runs already: rust-test (core/sim-tests/tests/
# concurrency.rs), ffi-test (ffi/tests/test_load.c), python-test (python/tests/test_sim.py) and
# dotnet-test (dotnet/tests/LoadTests.cs).

LOAD_THREADS ?= 1 4 16 64
LOAD_CALLS ?= 200
LOAD_TARGET := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
LOAD_OUT := $(LOAD_TARGET)/load

.PHONY: load-bench load-bench-build

load-bench-build: python-install dotnet-build
	$(CARGO) build --release -p xenapi-sim -p xenapi-ffi --example load -p xenapi
	@mkdir -p $(LOAD_OUT)
	$(FFI_CC) -std=c99 -Wall -Wextra -Werror -pedantic -O2 -Iinclude -Iffi/tests ffi/tests/test_load.c \
		-o $(LOAD_OUT)/load_c $(LOAD_TARGET)/release/libxenapi.a -lpthread $(FFI_STATIC_LIBS)

load-bench: load-bench-build
	$(DOTNET_ENV) $(LOAD_TARGET)/release/xenapi-sim run --vms 4 -- \
	  sh -c '$(LOAD_TARGET)/release/examples/load "$$XENAPI_URL" $(LOAD_CALLS) $(LOAD_THREADS) && \
	         $(LOAD_OUT)/load_c "$$XENAPI_URL" $(LOAD_CALLS) $(LOAD_THREADS) && \
	         $(PYTHON) python/tools/load_bench.py "$$XENAPI_URL" $(LOAD_CALLS) $(LOAD_THREADS) && \
	         $(MONO) $(DOTNET_OUT)/Load.exe "$$XENAPI_URL" $(LOAD_CALLS) $(LOAD_THREADS)' \
	  | tee $(LOAD_OUT)/bench.txt
	@awk '{ rate[$$1 " " $$2] = $$3; err += $$4; if (!($$1 in seen)) { seen[$$1] = 1; order[++n] = $$1 } \
	        if (!($$2 in tseen)) { tseen[$$2] = 1; th[++m] = $$2 } } \
	  END { printf "\ncalls/s    "; for (j = 1; j <= m; j++) printf "%10s", th[j] " thr"; printf "\n"; \
	        for (i = 1; i <= n; i++) { printf "%-10s ", order[i]; \
	          for (j = 1; j <= m; j++) printf "%10s", rate[order[i] " " th[j]]; printf "\n" } \
	        printf "errors: %d\n", err; exit err > 0 }' $(LOAD_OUT)/bench.txt
