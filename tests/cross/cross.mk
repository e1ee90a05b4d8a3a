# The Windows and arm64 natives (release/natives.mk), tested here: the win-x64 binaries under
# Wine, the linux-arm64 ones under qemu-aarch64 (user mode). Each runs, as the shipped (stripped)
# files:
#   - the C tests test_errors and test_records, cross-compiled against the shipped library (the
#     DLL's import library; the arm64 libxenapi.so), each under the simulators ffi/ffi.mk gives it;
#   - the scenario driver (tests/scenario/driver.c) over the scenario, in every mode
#     tests/scenario/scenario.mk runs it natively;
#   - xenctl walking the talk's demo (tests/cross/xenctl_walk.sh) over plain HTTP, over TLS with
#     a pinned fingerprint and over TLS with a CA file; on Windows also a unix:// URL's refusal;
#   - the cross-built xenapi-sim, serving the cross-built xenctl (`xenapi-sim run -- xenctl list`);
#   - on Windows, TLS verified against the Windows certificate store by default: a CA installed
#     with update-ca-certificates reaches it through Wine (tests/cross/windows_store.sh).
# Apart from that last one, the simulators are the native (x86_64 Linux) ones, over loopback.
#
#   cross-test              both
#   cross-test-win-x64      under Wine (WINEPREFIX build/wine, made once with wineboot)
#   cross-test-linux-arm64  under qemu-aarch64
#
# Wine 8 lacks bcryptprimitives.dll, whose ProcessPrng Rust's standard library calls: a stand-in
# (tests/cross/prng_standin.c) is built beside the test programs, never into build/natives.

TEST_TARGETS += cross-test
DEPS_APT += wine64 qemu-user

CROSS_OUT := build/cross-test
CROSS_CFLAGS := -std=c99 -Wall -Wextra -Werror -pedantic -O1 -g
CROSS_C_TESTS := errors records
CROSS_WALKS := http pin ca
CROSS_WINE := /usr/lib/wine/wine64
CROSS_WINESERVER := /usr/lib/wine/wineserver
CROSS_WINEPREFIX := $(abspath build/wine)
# No Mono or Gecko installers in the prefix: the tests need neither.
CROSS_WINE_ENV := WINEPREFIX=$(CROSS_WINEPREFIX) WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
CROSS_QEMU := qemu-aarch64 -L /usr/aarch64-linux-gnu
# What runs a program of each RID here, and its programs' suffix.
CROSS_RUNNER_win-x64 := env $(CROSS_WINE_ENV) $(CROSS_WINE)
CROSS_RUNNER_linux-arm64 := $(CROSS_QEMU)
CROSS_EXE_win-x64 := .exe
CROSS_EXE_linux-arm64 :=
# How a cross-built program that the cross-built simulator starts is run: Wine runs a Windows
# program's children itself; qemu-user hands an exec to the host kernel.
CROSS_CHILD_win-x64 :=
CROSS_CHILD_linux-arm64 := $(CROSS_QEMU)

.PHONY: cross-test cross-test-win-x64 cross-test-linux-arm64 cross-build-win-x64 \
	cross-build-linux-arm64 cross-wine-prefix

cross-test: cross-test-win-x64 cross-test-linux-arm64

# The C programs against the DLL's import library (-lxenapi finds it, as ffi/README.md says), the
# DLL and xenctl.exe beside them, with the stand-in bcryptprimitives.dll.
cross-build-win-x64: natives-win-x64
	@mkdir -p $(CROSS_OUT)/win-x64
	cp $(addprefix $(NATIVES_DIR)/win-x64/,xenapi.dll xenctl.exe xenapi-sim.exe) $(CROSS_OUT)/win-x64/
	x86_64-w64-mingw32-gcc $(CROSS_CFLAGS) -shared tests/cross/prng_standin.c \
		-o $(CROSS_OUT)/win-x64/bcryptprimitives.dll -ladvapi32
	x86_64-w64-mingw32-gcc $(CROSS_CFLAGS) -Iinclude tests/scenario/driver.c \
		-o $(CROSS_OUT)/win-x64/scenario_c.exe -L$(NATIVES_DIR)/win-x64 -lxenapi
	set -e; for t in $(CROSS_C_TESTS); do \
		x86_64-w64-mingw32-gcc $(CROSS_CFLAGS) -Iinclude -Iffi/tests ffi/tests/test_$$t.c \
			-o $(CROSS_OUT)/win-x64/test_$$t.exe -L$(NATIVES_DIR)/win-x64 -lxenapi -lws2_32; \
	done

# The C programs against the shipped libxenapi.so, found beside them by its soname.
cross-build-linux-arm64: natives-linux-arm64
	@mkdir -p $(CROSS_OUT)/linux-arm64
	cp $(NATIVES_DIR)/linux-arm64/xenctl $(NATIVES_DIR)/linux-arm64/xenapi-sim $(CROSS_OUT)/linux-arm64/
	cp $(NATIVES_DIR)/linux-arm64/libxenapi.so $(CROSS_OUT)/linux-arm64/libxenapi.so.$(FFI_MAJOR)
	ln -sf libxenapi.so.$(FFI_MAJOR) $(CROSS_OUT)/linux-arm64/libxenapi.so
	set -e; for src in tests/scenario/driver.c:scenario_c $(foreach t,$(CROSS_C_TESTS), \
			ffi/tests/test_$(t).c:test_$(t)); do \
		aarch64-linux-gnu-gcc $(CROSS_CFLAGS) -Iinclude -Iffi/tests $${src%%:*} \
			-o $(CROSS_OUT)/linux-arm64/$${src##*:} -L$(CROSS_OUT)/linux-arm64 -lxenapi \
			-lpthread -Wl,-rpath,'$$ORIGIN'; \
	done

# Made once (wineboot, then waiting for its wineserver to write the registry and leave); a
# wineserver left over from an interrupted run of this prefix is killed first.
cross-wine-prefix: deps
	@$(CROSS_WINE_ENV) $(CROSS_WINESERVER) -k 2>/dev/null || true
	@if [ ! -f $(CROSS_WINEPREFIX)/system.reg ]; then \
		echo "creating the Wine prefix $(CROSS_WINEPREFIX)"; mkdir -p $(CROSS_WINEPREFIX); \
		$(CROSS_WINE_ENV) $(CROSS_WINE) wineboot --init >/dev/null 2>&1 || \
			{ echo "wineboot failed in $(CROSS_WINEPREFIX)" >&2; exit 1; }; \
		$(CROSS_WINE_ENV) $(CROSS_WINESERVER) -w; \
	fi

cross-test-win-x64: cross-build-win-x64 cross-wine-prefix ffi-sim
	@# The DLL exports (xenapi.def) exactly the functions the headers declare.
	@grep -ohE '\bxenapi_[a-z0-9_]+\(' include/xenapi.h include/xenapi/*.h | tr -d '(' | sort -u \
		> $(CROSS_OUT)/win-x64/declared.txt
	@sed -n 's/^    //p' $(NATIVES_DIR)/win-x64/xenapi.def | sort -u > $(CROSS_OUT)/win-x64/exported.txt
	@diff $(CROSS_OUT)/win-x64/declared.txt $(CROSS_OUT)/win-x64/exported.txt > /dev/null || \
		{ echo "win-x64: the headers' functions (<) and xenapi.def's exports (>) differ:" >&2; \
		diff $(CROSS_OUT)/win-x64/declared.txt $(CROSS_OUT)/win-x64/exported.txt | head -n 20 >&2; \
		exit 1; }
	@echo "win-x64: xenapi.dll exports the $$(wc -l < $(CROSS_OUT)/win-x64/exported.txt) functions the headers declare"
	$(call cross_run,win-x64)
	@# The core's unix:// transport is Unix-only: elsewhere the URL is refused with a sentence.
	@XENAPI_PASSWORD=unused $(CROSS_RUNNER_win-x64) $(CROSS_OUT)/win-x64/xenctl.exe \
		--url unix:///var/lib/xcp/xapi list > $(CROSS_OUT)/win-x64/unix.log 2>&1 && \
		{ echo "win-x64: a unix:// URL was accepted" >&2; exit 1; } || true
	@grep -q 'unix:// sockets exist only on Unix-like systems' $(CROSS_OUT)/win-x64/unix.log || \
		{ echo "win-x64: a unix:// URL gave no clear error:" >&2; \
		cat $(CROSS_OUT)/win-x64/unix.log >&2; exit 1; }
	@echo "win-x64: a unix:// URL is refused with a clear error"
	@# TLS verified against the Windows certificate store (tests/cross/windows_store.sh).
	@dotnet/scripts/test-ca.sh $(CROSS_OUT)/win-x64/pki
	@WINEPREFIX=$(CROSS_WINEPREFIX) WINESERVER=$(CROSS_WINESERVER) $(FFI_RUN) --vms 4 \
		--tls-cert $(CROSS_OUT)/win-x64/pki/server.pem --tls-key $(CROSS_OUT)/win-x64/pki/server.key \
		-- tests/cross/windows_store.sh $(CROSS_OUT)/win-x64/pki $(SCENARIO) $(CROSS_OUT)/win-x64 \
		$(CROSS_RUNNER_win-x64) > $(CROSS_OUT)/win-x64/store.log 2>&1 && \
		sed 's/^/win-x64: /' $(CROSS_OUT)/win-x64/store.log || \
		{ cat $(CROSS_OUT)/win-x64/store.log >&2; exit 1; }
	@$(CROSS_WINE_ENV) $(CROSS_WINESERVER) -k || true
	@echo "cross-test-win-x64: all passed"

cross-test-linux-arm64: cross-build-linux-arm64 ffi-sim
	$(call cross_run,linux-arm64)
	@echo "cross-test-linux-arm64: all passed"

# $(call cross_run,RID): the C tests under ffi/ffi.mk's simulators, the scenario driver in each of
# tests/scenario/scenario.mk's modes, the xenctl walks, and the cross-built simulator itself
# (`run` around xenctl list); a failure is shown, the rest still run.
define cross_run
	@failed=0; run="$(CROSS_RUNNER_$(1))"; dir=$(CROSS_OUT)/$(1); exe=$(CROSS_EXE_$(1)); \
	$(foreach t,$(CROSS_C_TESTS),$(FFI_SIMS_$(t)) $$run $$dir/test_$(t)$$exe > $$dir/test.log 2>&1 \
		&& echo "$(1): $$(tail -n 1 $$dir/test.log)" || { cat $$dir/test.log; failed=1; };) \
	for mode in $(SCENARIO_MODES); do d=$${mode%%:*}; p=$${mode##*:}; \
		$(FFI_RUN) --vms 4 --dialect $$d -- $$run $$dir/scenario_c$$exe $(SCENARIO) $$p \
			> $$dir/scenario.log 2>&1 && echo "$(1): $$(tail -n 1 $$dir/scenario.log)" || \
			{ grep FAILED $$dir/scenario.log || cat $$dir/scenario.log; failed=1; }; \
	done; \
	for walk in $(CROSS_WALKS); do tls=--tls; test $$walk != http || tls=; \
		$(FFI_RUN) --vms 4 $$tls -- tests/cross/xenctl_walk.sh $$walk $$run $$dir/xenctl$$exe \
			> $$dir/walk.log 2>&1 && echo "$(1): $$(tail -n 1 $$dir/walk.log)" || \
			{ cat $$dir/walk.log; failed=1; }; \
	done; \
	$$run $$dir/xenapi-sim$$exe run --vms 2 --templates 0 -- $(CROSS_CHILD_$(1)) $$dir/xenctl$$exe list \
		> $$dir/sim.log 2>&1 && grep -Eq '^vm02 +- +2048 +2 +Halted' $$dir/sim.log && \
		echo "$(1): the cross-built xenapi-sim serves the cross-built xenctl" || \
		{ echo "$(1): xenapi-sim run -- xenctl list failed:"; cat $$dir/sim.log; failed=1; }; \
	test $$failed = 0 || { echo "cross-test-$(1): failed" >&2; exit 1; }
endef
