# The .NET package (dotnet/): C# over libxenapi, built with Mono's mcs (no .NET SDK needed),
# tested with Debian's NUnit 2.6 console under Mono and on .NET Core 3.1 (PyPI's dotnetcore2),
# packed with Mono's nuget.
#
#   make dotnet-build          XenApi.dll, Xm.exe, XenServerStyle.exe, the test assembly and the
#                              bench, into build/dotnet/
#   make dotnet-test           the NUnit suite against xenapi-sim, then the XenServer.NET-style sample
#   make dotnet-coreclr-test   the scenario driver and the sample on CoreCLR; the error a missing
#                              native library gives, on Mono and CoreCLR
#   make dotnet-pack           build/dotnet/XenApi.<version>.nupkg, and check its layout
#   make dotnet-demo           the talk's xm.exe walk against xenapi-sim (make demo runs it too)
#   make dotnet-bench          VM.get_all_records of 2,000 VMs: the Rust core, C# and C, alternating
#                              rounds, over JSON-RPC and over XML-RPC
#
# The typed C# API (dotnet/src/Generated/, dotnet/tests/Generated/) is written by
# `cargo run -p xenapi-codegen` (codegen/src/csharp.rs); it calls the generated C API of libxenapi.
#
# Included from the repository root's Makefile; every path is relative to the root.

DEPS_APT += mono-devel nunit-console nuget unzip
DEPS_PIP += dotnetcore2
TEST_TARGETS += dotnet-test dotnet-coreclr-test dotnet-pack
# `make demo` builds the C# side first, then scripts/demo.sh runs our walk with its simulator's URL.
DEMO_TARGETS += dotnet-build
DEMOS += dotnet/scripts/demo.sh

CARGO ?= cargo
MCS ?= mcs
MONO ?= mono
NUGET ?= nuget
NUNIT_CONSOLE ?= nunit-console

DOTNET_OUT := build/dotnet
DOTNET_VERSION := $(shell sed -n 's:.*<version>\(.*\)</version>.*:\1:p' dotnet/XenApi.nuspec | head -n 1)
DOTNET_TARGET := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
DOTNET_NATIVE := $(DOTNET_TARGET)/release/libxenapi.so
DOTNET_SIM := $(DOTNET_TARGET)/release/xenapi-sim
DOTNET_MCS_FLAGS := -langversion:7.2 -debug -warnaserror+
# The library is compiled against .NET Framework 4.6.1's reference assemblies (netstandard2.0's
# floor there), so it uses no API that a netstandard2.0 build of XenApi.csproj would lack; it
# references mscorlib only, which .NET Core 2.0+ / .NET 5+ and Mono provide. (-nostdlib with
# Mono's Facades/netstandard.dll gives no netstandard assembly: mcs follows the facade's type
# forwards and references mscorlib all the same.)
# Debian's NUnit (2.6.x) framework assembly; found at build time, after `deps` installed it.
DOTNET_NUNIT_FW = $(firstword $(wildcard /usr/lib/cli/nunit.framework-2.*/nunit.framework.dll))
DOTNET_ENV := LD_LIBRARY_PATH=$(abspath $(DOTNET_OUT))$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}

DOTNET_LIB_SRC := $(sort $(wildcard dotnet/src/*.cs dotnet/src/Generated/*.cs))
DOTNET_TEST_SRC := $(sort $(wildcard dotnet/tests/*.cs dotnet/tests/Generated/*.cs))
# The C side of the bench: ffi/bench/bench_get_all_records.c, built by ffi/ffi.mk's ffi-bench-build
# against the release libxenapi.a; `bench_get_all_records URL ROUNDS` prints `c-typed MS`.
DOTNET_C_BENCH = $(FFI_OUT)/bench_get_all_records
DOTNET_BENCH_ROUNDS ?= 1 2 3 4 5
DOTNET_BENCH_ITERATIONS ?= 8

.PHONY: dotnet-native dotnet-build dotnet-test dotnet-coreclr-test dotnet-pack dotnet-demo \
	dotnet-bench dotnet-clean

dotnet-native:
	$(CARGO) build --release -p xenapi-ffi -p xenapi-sim

dotnet-build: deps dotnet-native
	@mkdir -p $(DOTNET_OUT)
	$(MCS) $(DOTNET_MCS_FLAGS) -sdk:4.6.1-api -unsafe -target:library -out:$(DOTNET_OUT)/XenApi.dll \
	  -doc:$(DOTNET_OUT)/XenApi.xml $(DOTNET_LIB_SRC) dotnet/mono/AssemblyInfo.cs
	cp dotnet/XenApi.dll.config $(DOTNET_NATIVE) $(DOTNET_OUT)/
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll -out:$(DOTNET_OUT)/Xm.exe \
	  dotnet/examples/Xm/Xm.cs
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_OUT)/XenServerStyle.exe dotnet/examples/XenServerStyle/Program.cs
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_OUT)/GetAllRecords.exe dotnet/bench/GetAllRecords.cs
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_OUT)/Load.exe dotnet/bench/Load.cs
	@test -n "$(DOTNET_NUNIT_FW)" || { echo "nunit.framework.dll not found (make deps installs nunit-console)"; exit 1; }
	cp $(DOTNET_NUNIT_FW) $(DOTNET_OUT)/
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:library -r:$(DOTNET_OUT)/XenApi.dll \
	  -r:$(DOTNET_OUT)/nunit.framework.dll -out:$(DOTNET_OUT)/XenApi.Tests.dll $(DOTNET_TEST_SRC)

# Every simulator the NUnit suite asks for (Sim.Start(flags) in dotnet/tests/Sim.cs), one set of
# flags each: the suite runs once under nested `xenapi-sim run --env SIM_<FLAGS> FLAGS --` (the
# name as Sim.EnvName derives it), so that no test starts a simulator itself. A test asking for
# flags missing here fails, saying which line to add.
# DOTNET_NUNIT_ARGS: more nunit-console arguments, e.g. -run=XenAPI.Tests.ErrorTests.BadPassword.
DOTNET_NUNIT_ARGS ?=
DOTNET_SIMS := '--vms 1' '--vms 2' '--vms 3' '--vms 4' '--vms 6' '--vms 2000' '--vms 1 --tls' \
	'--vms 2 --no-jsonrpc' '--vms 2 --task-delay-ms 3000' '--vms 2 --hosts 2' \
	'--vms 1 --dialect xapi' '--vms 3 --dialect xapi' '--vms 4 --dialect xapi' \
	'--vms 1 --dialect xend' '--vms 2 --dialect xend' '--vms 3 --dialect xend' '--vms 4 --dialect xend' \
	'--vms 3 --dialect xapi --task-delay-ms 800' '--vms 3 --dialect xend --task-delay-ms 800' \
	'--vms 3 --task-delay-ms 800' '--vms 2 --hosts 4' \
	'--vms 4 --seed 7' '--vms 4 --dialect xend --event-next-wait-ms 500'

dotnet-test: dotnet-build
	cd $(DOTNET_OUT) && set -- $(NUNIT_CONSOLE) -nologo -noshadow -labels -xml=TestResult.xml \
	  $(DOTNET_NUNIT_ARGS) XenApi.Tests.dll; for flags in $(DOTNET_SIMS); do \
	    name=SIM_$$(echo "$$flags" | sed 's/^-*//; s/[^A-Za-z0-9][^A-Za-z0-9]*/_/g' | tr a-z A-Z); \
	    set -- $(abspath $(DOTNET_SIM)) run --templates 0 --env $$name $$flags -- "$$@"; \
	  done; $(DOTNET_ENV) "$$@"
	@# The XenServer.NET-style sample, as its users would run it, in both dialects.
	$(DOTNET_ENV) $(DOTNET_SIM) run --vms 3 -- sh -c '$(MONO) $(DOTNET_OUT)/XenServerStyle.exe "$$XENAPI_URL"'
	$(DOTNET_ENV) $(DOTNET_SIM) run --vms 3 --dialect xend -- sh -c '$(MONO) $(DOTNET_OUT)/XenServerStyle.exe "$$XENAPI_URL"'


# ---- .NET (Core) ----
# PyPI's dotnetcore2 carries the .NET Core 3.1 runtime (no SDK): `dotnet APP.exe` runs an
# mcs-built program given APP.runtimeconfig.json (dotnet/scripts/coreclr-config.sh writes it).
# Found after `deps` installed it, hence `=`.
DOTNET_CORECLR = $(shell $(PYTHON) -c 'import dotnetcore2, os; print(os.path.join(os.path.dirname(dotnetcore2.__file__), "bin", "dotnet"))' 2>/dev/null)
DOTNET_CORECLR_OUT := $(DOTNET_OUT)/coreclr
# This machine's RID, as the package's natives are named (the tests run the native for it).
DOTNET_HOST_RID := linux-$(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x64)

# The scenario's C# driver (tests/scenario/scenario.mk runs it on Mono) in every mode on CoreCLR;
# the XenServer.NET-style sample in both dialects on CoreCLR, its lines compared with Mono's on an
# identical simulator (same --seed: same references; sorted: a Dictionary's order is the
# runtime's); and XenApi's error when libxenapi is out of reach, on Mono and CoreCLR.
dotnet-coreclr-test: dotnet-build
	@test -x "$(DOTNET_CORECLR)" || { echo "dotnet-coreclr-test: the .NET Core runtime (PyPI dotnetcore2) is missing; make deps installs it"; exit 1; }
	rm -rf $(DOTNET_CORECLR_OUT) && mkdir -p $(DOTNET_CORECLR_OUT)/app $(DOTNET_CORECLR_OUT)/missing-native
	cp $(DOTNET_OUT)/XenApi.dll $(DOTNET_OUT)/XenServerStyle.exe $(DOTNET_NATIVE) $(DOTNET_CORECLR_OUT)/app/
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_CORECLR_OUT)/app/ScenarioDriver.exe tests/scenario/Driver.cs
	cp $(DOTNET_OUT)/XenApi.dll dotnet/XenApi.dll.config $(DOTNET_CORECLR_OUT)/missing-native/
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_CORECLR_OUT)/missing-native/MissingNative.exe dotnet/tests/native-missing/MissingNative.cs
	for exe in app/ScenarioDriver.exe app/XenServerStyle.exe missing-native/MissingNative.exe; do \
	  dotnet/scripts/coreclr-config.sh $(DOTNET_CORECLR_OUT)/$$exe || exit 1; done
	@set -e; cd $(DOTNET_CORECLR_OUT); for mode in $(SCENARIO_MODES); do d=$${mode%%:*}; p=$${mode##*:}; \
	  $(abspath $(DOTNET_SIM)) run --vms 4 --templates 0 --dialect $$d -- \
	    $(DOTNET_CORECLR) app/ScenarioDriver.exe $(abspath $(SCENARIO)) $$p > scenario.log 2>&1 \
	    || { grep FAILED scenario.log || cat scenario.log; exit 1; }; \
	  last=$$(tail -n 1 scenario.log); \
	  echo "$$last" | grep -qE "^scenario: [0-9]+ steps passed \(C#, $$d dialect, $$p\)$$" \
	    || { echo "dotnet-coreclr-test: the scenario on CoreCLR ($$d, $$p) ended with: $$last"; exit 1; }; \
	  echo "CoreCLR $$last"; \
	done
	@set -e; cd $(DOTNET_CORECLR_OUT); for dialect in xapi xend; do \
	  $(abspath $(DOTNET_SIM)) run --vms 3 --seed 7 --dialect $$dialect -- sh -c \
	    '$(MONO) app/XenServerStyle.exe "$$XENAPI_URL"' > sample-mono.log 2>&1 || { cat sample-mono.log; exit 1; }; \
	  $(abspath $(DOTNET_SIM)) run --vms 3 --seed 7 --dialect $$dialect -- sh -c \
	    '$(DOTNET_CORECLR) app/XenServerStyle.exe "$$XENAPI_URL"' > sample-coreclr.log 2>&1 \
	    || { cat sample-coreclr.log; exit 1; }; \
	  grep -q "MiB" sample-coreclr.log || { echo "dotnet-coreclr-test: the sample listed no VM on CoreCLR"; cat sample-coreclr.log; exit 1; }; \
	  sort sample-mono.log > sample-mono.sorted; sort sample-coreclr.log > sample-coreclr.sorted; \
	  diff -u sample-mono.sorted sample-coreclr.sorted || { echo "dotnet-coreclr-test: the sample's output on CoreCLR ($$dialect) differs from Mono's"; exit 1; }; \
	  echo "CoreCLR XenServerStyle ($$dialect): $$(wc -l < sample-coreclr.log) lines, as on Mono"; \
	done
	@# No libxenapi beside XenApi.dll nor on the library path: both runtimes must say what they
	@# looked for and where.
	@set -e; cd $(DOTNET_CORECLR_OUT)/missing-native; dir=$$(pwd); \
	for runtime in "$(MONO)" "$(DOTNET_CORECLR)"; do \
	  env -u LD_LIBRARY_PATH $$runtime MissingNative.exe > missing.log 2>&1 || { cat missing.log; exit 1; }; \
	  for want in "rid: $(DOTNET_HOST_RID)" "file: libxenapi.so" "searched: $$dir" "DllNotFoundException: yes" \
	              "inner: DllNotFoundException"; do \
	    grep -qxF "$$want" missing.log || { echo "dotnet-coreclr-test: $$runtime: no line '$$want' in:"; cat missing.log; exit 1; }; \
	  done; \
	  grep -qF "runtimes/$(DOTNET_HOST_RID)/native/libxenapi.so" missing.log \
	    || { echo "dotnet-coreclr-test: $$runtime: the message does not name the package's file"; cat missing.log; exit 1; }; \
	  echo "$$(basename $$runtime) without libxenapi: $$(grep '^message: ' missing.log | cut -c10-)"; \
	done

# NuGet layout: lib/netstandard2.0/XenApi.dll and runtimes/<rid>/native/<library>. Native libraries
# built elsewhere are packed too when staged first under build/dotnet/stage/runtimes/win-x64/native/
# (xenapi.dll) or .../osx-x64/native/ (libxenapi.dylib).
dotnet-pack: dotnet-build
	@mkdir -p $(DOTNET_OUT)/stage/lib/netstandard2.0 $(DOTNET_OUT)/stage/runtimes/linux-x64/native
	cp $(DOTNET_OUT)/XenApi.dll $(DOTNET_OUT)/XenApi.xml $(DOTNET_OUT)/stage/lib/netstandard2.0/
	cp $(DOTNET_NATIVE) $(DOTNET_OUT)/stage/runtimes/linux-x64/native/
	-strip --strip-debug $(DOTNET_OUT)/stage/runtimes/linux-x64/native/libxenapi.so
	cp dotnet/README.md $(DOTNET_OUT)/stage/
	rm -f $(DOTNET_OUT)/XenApi.$(DOTNET_VERSION).nupkg
	$(NUGET) pack dotnet/XenApi.nuspec -BasePath $(DOTNET_OUT)/stage -OutputDirectory $(DOTNET_OUT) \
	  -NoPackageAnalysis -NonInteractive
	unzip -l $(DOTNET_OUT)/XenApi.$(DOTNET_VERSION).nupkg
	@unzip -Z1 $(DOTNET_OUT)/XenApi.$(DOTNET_VERSION).nupkg > $(DOTNET_OUT)/nupkg.list
	@for f in XenApi.nuspec lib/netstandard2.0/XenApi.dll lib/netstandard2.0/XenApi.xml \
	          runtimes/linux-x64/native/libxenapi.so; do \
	  grep -qx "$$f" $(DOTNET_OUT)/nupkg.list || { echo "dotnet-pack: $$f missing from the package"; exit 1; }; \
	done; \
	if grep -v -E '^(XenApi\.nuspec|README\.md|lib/netstandard2\.0/XenApi\.(dll|xml)|runtimes/(linux|win|osx)-x64/native/[^/]+|_rels/.*|package/.*|\[Content_Types\]\.xml)$$' \
	     $(DOTNET_OUT)/nupkg.list; then echo "dotnet-pack: unexpected files in the package"; exit 1; fi
	@echo "dotnet-pack: layout ok ($(DOTNET_OUT)/XenApi.$(DOTNET_VERSION).nupkg)"
	@# A consumer's view: build Xm against the packed XenApi.dll and load the packed native library.
	rm -rf $(DOTNET_OUT)/consumer && mkdir -p $(DOTNET_OUT)/consumer
	cd $(DOTNET_OUT)/consumer && unzip -q ../XenApi.$(DOTNET_VERSION).nupkg
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -r:$(DOTNET_OUT)/consumer/lib/netstandard2.0/XenApi.dll \
	  -out:$(DOTNET_OUT)/consumer/lib/netstandard2.0/Xm.exe dotnet/examples/Xm/Xm.cs
	LD_LIBRARY_PATH=$(DOTNET_OUT)/consumer/runtimes/linux-x64/native $(MONO) \
	  $(DOTNET_OUT)/consumer/lib/netstandard2.0/Xm.exe -s http://127.0.0.1:1 list 2>&1 \
	  | grep -q "cannot reach" && echo "dotnet-pack: the packed assembly loads the packed libxenapi"

# The talk's demo on its own: connect, list, start, pause, unpause, stop, dmesg, log; C# under Mono.
dotnet-demo: dotnet-build
	$(DOTNET_ENV) DOTNET_OUT=$(DOTNET_OUT) $(DOTNET_SIM) run --vms 4 -- \
	  sh -c 'dotnet/scripts/demo.sh "$$XENAPI_URL"'

dotnet-bench: dotnet-build ffi-bench-build
	cp Cargo.lock dotnet/bench/bench-rs/Cargo.lock
	CARGO_TARGET_DIR=$(abspath $(DOTNET_TARGET)) $(CARGO) build --release -q \
	  --manifest-path dotnet/bench/bench-rs/Cargo.toml
	@# Alternating rounds on one simulator, so that a busy machine weighs on every side alike; each
	@# line is the best of its round (ms). Then the ratios to the Rust core's typed call: of the best
	@# of all rounds, and the median of the rounds' own ratios (steadier on a shared machine).
	$(DOTNET_ENV) $(DOTNET_SIM) run --vms 2000 -- sh -c 'for round in $(DOTNET_BENCH_ROUNDS); do \
	  for p in jsonrpc xmlrpc; do \
	  $(DOTNET_TARGET)/release/xenapi-dotnet-bench "$$XENAPI_URL" $(DOTNET_BENCH_ITERATIONS) $$p; \
	  $(MONO) $(DOTNET_OUT)/GetAllRecords.exe "$$XENAPI_URL" $(DOTNET_BENCH_ITERATIONS) $$p; \
	  MONO_THREADS_SUSPEND=preemptive $(MONO) $(DOTNET_OUT)/GetAllRecords.exe "$$XENAPI_URL" $(DOTNET_BENCH_ITERATIONS) $$p -preemptive; \
	  $(DOTNET_C_BENCH) "$$XENAPI_URL" $(DOTNET_BENCH_ITERATIONS) $$p; \
	  done; done' | tee $(DOTNET_OUT)/bench.txt
	@# Per protocol P: each binding's line NAME-P against rust-core-typed-P of the same round.
	@awk 'function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) \
	        if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 } \
	  $$1 == "records" { next } \
	  { if (!($$1 in best) || $$2 < best[$$1]) best[$$1] = $$2 } \
	  $$1 ~ /^rust-core-typed-/ { p = $$1; sub(/^rust-core-typed-/, "", p); r[p] = $$2; next } \
	  $$1 ~ /^(dotnet-typed|c-typed)-/ { n = $$1; p = n; sub(/^(dotnet-typed|c-typed)-/, "", p); sub(/-preemptive$$/, "", p); \
	        if (r[p] > 0) { k = n; cnt[k]++; ratio[k, cnt[k]] = $$2 / r[p]; proto[k] = p } } \
	  END { for (k in cnt) { delete a; for (i = 1; i <= cnt[k]; i++) a[i] = ratio[k, i]; \
	          printf "ratio %s/rust-core-typed-%s %.2f (best of all rounds), %.2f (median of %d rounds)\n", \
	            k, proto[k], best[k] / best["rust-core-typed-" proto[k]], median(a, cnt[k]), cnt[k] } \
	        for (k in best) if (k ~ /^(rust-core-typed|dotnet-typed|c-typed)-/) printf "best %s %.1f ms\n", k, best[k] }' \
	  $(DOTNET_OUT)/bench.txt | sort

dotnet-clean:
	rm -rf $(DOTNET_OUT)
