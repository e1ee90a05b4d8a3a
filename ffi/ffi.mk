# libxenapi (ffi/): the C library, its header, C tests (ffi/tests), examples (ffi/examples), the
# bench's C side (ffi/bench) and installation. Included by the top-level Makefile; every path is
# relative to the repository root, so run make from there (`make ffi-test`).
#
#   ffi-build         libxenapi.so and libxenapi.a (debug) under $(FFI_TARGET)/debug
#   ffi-header        regenerate include/xenapi.h (cbindgen library, no global install)
#   ffi-header-check  fail if include/xenapi.h is stale; compile it and every generated header
#                     (include/xenapi/, from xenapi-codegen) as C99 and C++ with -Werror
#   ffi-test          header check, the C tests against xenapi-sim, and the examples
#   ffi-valgrind      the C tests under valgrind (definite leaks and memory errors fail)
#   ffi-examples      ffi/examples/xm.c (linked statically against libxenapi.a)
#   ffi-bench-build   $(FFI_OUT)/bench_get_all_records, linked against the release libxenapi.a:
#                     `bench_get_all_records URL ROUNDS` prints `c-typed MS` (best round);
#                     $(FFI_OUT)/cancel_latency: `cancel_latency SIM_URL [ROUNDS]` prints
#                     `cancel_ms=N` (from xenapi_cancel_cancel to the held call's return)
#   install           PREFIX=/usr/local (DESTDIR too): library, header and xenapi.pc (release)
#   ffi-abi-check     abidiff of libxenapi.so and the header against the last release's ABI
#                     (ffi/abi/release/); fails on an unannounced break
#   ffi-abi-break-test  the check must fail on a renumbered enum, a changed signature and a
#                     removed function (scratch copies; ffi/abi/break-test.sh)
#   ffi-abi-baseline  after a release or an announced break (new ffi/abi/MAJOR): rewrite
#                     ffi/abi/release/ (ffi/README.md says when)
#
# Each test program runs under `xenapi-sim run` ($(XENAPI_SIM), built when it is the default path),
# which starts the simulators it reads (FFI_SIMS_<test> below; ffi/tests/harness.h's sim_get).
# `make test` runs ffi-test (header check, C tests, examples) and ffi-valgrind; `make demo` runs
# ffi/examples/demo.sh (the talk's walk with xm in C).

# Keep the top-level Makefile's default goal: the first rule here must not become it.
FFI_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

TEST_TARGETS += ffi-test ffi-valgrind ffi-abi-check ffi-abi-break-test
DEMO_TARGETS += ffi-examples
DEMOS += ffi/examples/demo.sh
DEPS_APT += valgrind abigail-tools

CARGO ?= cargo
FFI_TARGET ?= $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
FFI_DEBUG_DIR := $(FFI_TARGET)/debug
FFI_OUT := $(FFI_TARGET)/ffi-c
XENAPI_SIM ?= $(FFI_DEBUG_DIR)/xenapi-sim
FFI_CC ?= gcc
FFI_CXX ?= g++
FFI_CFLAGS ?= -std=c99 -Wall -Wextra -Werror -pedantic -g -O1
FFI_CXXFLAGS ?= -std=c++11 -Wall -Wextra -Werror -pedantic
FFI_STATIC_LIBS := -lpthread -ldl -lm -lrt -lutil -lgcc_s
FFI_TESTS := scenario errors threads records protocol load control cache rrd transfer trust \
	call_options map_order
# The simulators around each test: `run --env NAME` exports NAME_URL, … (sim/README.md); by the
# tests' convention XENAPI is the xapi simulator and XEND the xend one.
FFI_RUN = $(abspath $(XENAPI_SIM)) run --templates 0
# The talk's scenario reads VM_metrics.VCPUs_utilisation: live on xend, on xapi only as before 6.1.
FFI_SIMS_scenario = $(FFI_RUN) --env XEND --dialect xend --vms 4 -- $(FFI_RUN) --old-metrics --vms 4 --
FFI_SIMS_errors = $(FFI_RUN) --env TLS --tls -- $(FFI_RUN) --env XEND --dialect xend -- \
	$(FFI_RUN) --vms 3 --
FFI_SIMS_threads = $(FFI_RUN) --vms 16 --
FFI_SIMS_records = $(FFI_RUN) --env XEND --dialect xend --vms 3 -- $(FFI_RUN) --vms 3 --
FFI_SIMS_protocol = $(FFI_RUN) --env NOJSON --no-jsonrpc -- $(FFI_RUN) --
FFI_SIMS_control = $(FFI_RUN) --env POOL --hosts 4 -- \
	$(FFI_RUN) --env XEND --dialect xend --task-delay-ms 800 -- $(FFI_RUN) --task-delay-ms 800 --
FFI_SIMS_load = $(FFI_RUN) --
FFI_SIMS_cache = $(FFI_RUN) --env XEND --dialect xend --vms 4 --event-next-wait-ms 500 -- \
	$(FFI_RUN) --vms 4 --
FFI_SIMS_rrd = $(FFI_RUN) --hosts 2 --vms 6 --
FFI_SIMS_transfer = $(FFI_RUN) --vms 2 --
# test_call_options holds replies with the simulator's delay and runs its own tiny server.
FFI_SIMS_call_options = $(FFI_RUN) --vms 4 --
FFI_SIMS_map_order = $(FFI_RUN) --env XEND --dialect xend --vms 3 -- $(FFI_RUN) --vms 8 --
# test_trust makes a CA, then starts its own simulator serving a certificate that CA signed.
FFI_SIMS_trust = XENAPI_SIM_BIN=$(abspath $(XENAPI_SIM))
FFI_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The ABI major version (the soname libxenapi.so.N), apart from the crate version.
FFI_MAJOR := $(shell tr -d "[:space:]" < ffi/abi/MAJOR)
VALGRIND ?= valgrind
FFI_VALGRIND_FLAGS ?= --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
	--show-leak-kinds=definite --quiet \
	--suppressions=ffi/tests/valgrind.supp
PREFIX ?= /usr/local
DESTDIR ?=
FFI_PROFILE ?= release

.PHONY: ffi-build ffi-header ffi-header-check ffi-test ffi-valgrind ffi-examples ffi-sim \
	ffi-c-tests ffi-bench-build install ffi-abi-check ffi-abi-break-test ffi-abi-baseline

ffi-build:
	$(CARGO) build -p xenapi-ffi

ffi-header:
	$(CARGO) run -q -p xenapi-ffi-header

ffi-header-check:
	$(CARGO) run -q -p xenapi-ffi-header -- --check
	@mkdir -p $(FFI_OUT)
	printf '#include "xenapi.h"\n#include "xenapi.h"\nint main(void) { return xenapi_version() == 0; }\n' > $(FFI_OUT)/header_check.c
	$(FFI_CC) $(FFI_CFLAGS) -Iinclude -c $(FFI_OUT)/header_check.c -o $(FFI_OUT)/header_check_c.o
	$(FFI_CXX) $(FFI_CXXFLAGS) -Iinclude -x c++ -c $(FFI_OUT)/header_check.c -o $(FFI_OUT)/header_check_cxx.o
	@# Every generated header on its own (first, and twice), as C99 and as C++.
	@set -e; for h in include/xenapi/*.h; do \
		printf '#include "xenapi/%s"\n#include "xenapi/%s"\nint main(void) { return 0; }\n' \
			$$(basename $$h) $$(basename $$h) > $(FFI_OUT)/header_check_one.c; \
		$(FFI_CC) $(FFI_CFLAGS) -Iinclude -fsyntax-only $(FFI_OUT)/header_check_one.c || \
			{ echo "$$h does not compile as C99" >&2; exit 1; }; \
		$(FFI_CXX) $(FFI_CXXFLAGS) -Iinclude -x c++ -fsyntax-only $(FFI_OUT)/header_check_one.c || \
			{ echo "$$h does not compile as C++" >&2; exit 1; }; \
	done; echo "include/xenapi.h and $$(ls include/xenapi/*.h | wc -l) generated headers compile as C99 and C++"

# The simulator: built unless XENAPI_SIM names another binary.
ffi-sim:
	@if [ "$(XENAPI_SIM)" = "$(FFI_DEBUG_DIR)/xenapi-sim" ]; then \
		$(CARGO) build -p xenapi-sim --bin xenapi-sim; \
	elif [ ! -x "$(XENAPI_SIM)" ]; then \
		echo "XENAPI_SIM=$(XENAPI_SIM) is not an executable" >&2; exit 1; \
	fi

# The test programs link to libxenapi.so through its soname, found next to them.
ffi-c-tests: ffi-build
	@mkdir -p $(FFI_OUT)/lib
	ln -sf $(abspath $(FFI_DEBUG_DIR))/libxenapi.so $(FFI_OUT)/lib/libxenapi.so.$(FFI_MAJOR)
	ln -sf libxenapi.so.$(FFI_MAJOR) $(FFI_OUT)/lib/libxenapi.so
	set -e; for t in $(FFI_TESTS); do \
		$(FFI_CC) $(FFI_CFLAGS) -Iinclude -Iffi/tests ffi/tests/test_$$t.c -o $(FFI_OUT)/test_$$t \
			-L$(FFI_OUT)/lib -lxenapi -lpthread -lm -Wl,-rpath,$(abspath $(FFI_OUT))/lib; \
	done

ffi-test: ffi-header-check ffi-c-tests ffi-sim ffi-examples
	@failed=0; $(foreach t,$(FFI_TESTS),echo "== C test $(t)"; \
		$(FFI_SIMS_$(t)) $(FFI_OUT)/test_$(t) || failed=1;) exit $$failed

ffi-valgrind: deps ffi-c-tests ffi-sim
	@failed=0; $(foreach t,$(FFI_TESTS),echo "== C test $(t) under valgrind"; \
		XENAPI_TEST_ROUNDS=2 $(FFI_SIMS_$(t)) $(VALGRIND) $(FFI_VALGRIND_FLAGS) \
			$(FFI_OUT)/test_$(t) || failed=1;) exit $$failed

ffi-examples: ffi-build
	@mkdir -p $(FFI_OUT)
	$(FFI_CC) $(FFI_CFLAGS) -Iinclude ffi/examples/xm.c -o $(FFI_OUT)/xm \
		$(FFI_DEBUG_DIR)/libxenapi.a $(FFI_STATIC_LIBS)
	@echo "built $(FFI_OUT)/xm"

ffi-bench-build:
	$(CARGO) build --release -p xenapi-ffi
	@mkdir -p $(FFI_OUT)
	$(FFI_CC) -std=c99 -Wall -Wextra -Werror -pedantic -O2 -Iinclude ffi/bench/bench_get_all_records.c \
		-o $(FFI_OUT)/bench_get_all_records $(FFI_TARGET)/release/libxenapi.a $(FFI_STATIC_LIBS)
	$(FFI_CC) -std=c99 -Wall -Wextra -Werror -pedantic -O2 -Iinclude ffi/bench/cancel_latency.c \
		-o $(FFI_OUT)/cancel_latency $(FFI_TARGET)/release/libxenapi.a $(FFI_STATIC_LIBS)
	@echo "built $(FFI_OUT)/bench_get_all_records and $(FFI_OUT)/cancel_latency"

install:
	$(CARGO) build -p xenapi-ffi $(if $(filter release,$(FFI_PROFILE)),--release,)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	@# The file is named by soname and package version (libxenapi.so.1.0.2.0), found through
	@# the soname link as ldconfig would make it.
	install -m 0755 $(FFI_TARGET)/$(FFI_PROFILE)/libxenapi.so \
		$(DESTDIR)$(PREFIX)/lib/libxenapi.so.$(FFI_MAJOR).$(FFI_VERSION)
	ln -sf libxenapi.so.$(FFI_MAJOR).$(FFI_VERSION) $(DESTDIR)$(PREFIX)/lib/libxenapi.so.$(FFI_MAJOR)
	ln -sf libxenapi.so.$(FFI_MAJOR) $(DESTDIR)$(PREFIX)/lib/libxenapi.so
	install -m 0644 $(FFI_TARGET)/$(FFI_PROFILE)/libxenapi.a $(DESTDIR)$(PREFIX)/lib/libxenapi.a
	install -m 0644 include/xenapi.h $(DESTDIR)$(PREFIX)/include/xenapi.h
	install -d $(DESTDIR)$(PREFIX)/include/xenapi
	install -m 0644 include/xenapi/*.h $(DESTDIR)$(PREFIX)/include/xenapi/
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
		'includedir=$${prefix}/include' '' 'Name: xenapi' \
		'Description: XenAPI (Xen Management API) client library, the C ABI of xenapi-rs' \
		'Version: $(FFI_VERSION)' 'Libs: -L$${libdir} -lxenapi' \
		'Libs.private: $(FFI_STATIC_LIBS)' 'Cflags: -I$${includedir}' \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/xenapi.pc
	@echo "installed libxenapi $(FFI_VERSION) under $(DESTDIR)$(PREFIX)"

# The ABI promise. The check reads no debug info (exports and soname from the library, types
# from the header), so the debug build ffi-test makes anyway serves; FFI_ABI_PROFILE=release
# checks the release build, as the release workflow does. The baseline is of a release build.
FFI_ABI_PROFILE ?= debug
FFI_ABI_OUT := $(FFI_OUT)/abi

ffi-abi-check: deps
	$(CARGO) build -p xenapi-ffi $(if $(filter release,$(FFI_ABI_PROFILE)),--release,)
	ffi/abi/abi.sh check $(FFI_TARGET)/$(FFI_ABI_PROFILE)/libxenapi.so $(FFI_ABI_OUT)

ffi-abi-break-test: deps ffi-abi-check
	ffi/abi/break-test.sh $(FFI_TARGET)/$(FFI_ABI_PROFILE)/libxenapi.so $(FFI_ABI_OUT)/break

ffi-abi-baseline: deps
	ffi/abi/abi.sh table
	$(CARGO) run -q -p xenapi-codegen
	$(CARGO) run -q -p xenapi-ffi-header
	$(CARGO) build --release -p xenapi-ffi
	ffi/abi/abi.sh baseline $(FFI_TARGET)/release/libxenapi.so $(FFI_ABI_OUT)

.DEFAULT_GOAL := $(FFI_SAVED_DEFAULT_GOAL)
