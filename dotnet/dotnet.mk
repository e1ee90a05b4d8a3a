# The .NET package (dotnet/): C# over libxenapi, built with Mono's mcs (no .NET SDK needed),
# tested with Debian's NUnit 2.6 console under Mono and on .NET Core 3.1 (PyPI's dotnetcore2),
# packed with Mono's nuget.
#
#   make dotnet-build          XenApi.dll, Xm.exe, XenServerStyle.exe, the test assembly and the
#                              bench, into build/dotnet/
#   make dotnet-test           the NUnit suite against xenapi-sim, then the XenServer.NET-style sample
#   make dotnet-coreclr-test   the scenario driver and the sample on CoreCLR; the error a missing
#                              native library gives, on Mono and CoreCLR
#   make dotnet-pack           build/dotnet/XenApi.<version>.nupkg with the natives of every RID
#                              (build/natives/<rid>/, from `make natives`), its layout checked; a
#                              copy and MANIFEST.part in dist/nuget/
#   make dotnet-consumer-test  the package restored from a local feed by `nuget install`, a program
#                              built against it (xbuild, packages.config style) and run on Mono and
#                              CoreCLR against xenapi-sim
#   make dotnet-demo           the talk's xm.exe walk against xenapi-sim (make demo runs it too)
#   make dotnet-bench          VM.get_all_records of 2,000 VMs: the Rust core, C# and C, alternating
#                              rounds, over JSON-RPC and over XML-RPC
#   build/dotnet/CancelLatency.exe URL   (built by dotnet-build) prints cancel_ms=<n>: how long a
#                              cancelled CancellationToken takes to end a call the server holds
#
# The typed C# API (dotnet/src/Generated/, dotnet/tests/Generated/) is written by
# `cargo run -p xenapi-codegen` (codegen/src/csharp.rs); it calls the generated C API of libxenapi.
#
# Included from the repository root's Makefile; every path is relative to the root.

DEPS_APT += mono-devel mono-xbuild nunit-console nuget unzip file
DEPS_PIP += dotnetcore2
TEST_TARGETS += dotnet-test dotnet-coreclr-test dotnet-consumer-test
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

.PHONY: dotnet-native dotnet-build dotnet-test dotnet-coreclr-test dotnet-pack dotnet-consumer-test \
	dotnet-demo dotnet-bench dotnet-clean

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
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_OUT)/CancelLatency.exe dotnet/bench/CancelLatency.cs
	@test -n "$(DOTNET_NUNIT_FW)" || { echo "nunit.framework.dll not found (make deps installs nunit-console)"; exit 1; }
	cp $(DOTNET_NUNIT_FW) $(DOTNET_OUT)/
	@# Mono has no System.Diagnostics.DiagnosticSource: TracingTests runs on a stand-in Activity.
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:library \
	  -out:$(DOTNET_OUT)/System.Diagnostics.DiagnosticSource.dll dotnet/tests/activity-stub/Activity.cs
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:library -r:$(DOTNET_OUT)/XenApi.dll \
	  -r:$(DOTNET_OUT)/nunit.framework.dll -r:$(DOTNET_OUT)/System.Diagnostics.DiagnosticSource.dll \
	  -out:$(DOTNET_OUT)/XenApi.Tests.dll $(DOTNET_TEST_SRC)

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
	'--vms 4 --seed 7' '--vms 4 --dialect xend --event-next-wait-ms 500' '--vms 5'
# SystemTrustTests: a simulator (SIM_TRUST) serving a certificate that a CA made for the run
# signed (dotnet/scripts/test-ca.sh); the test finds the CA files through XENAPI_TRUST_DIR.
DOTNET_TRUST_DIR := $(DOTNET_OUT)/trust

dotnet-test: dotnet-build
	dotnet/scripts/test-ca.sh $(DOTNET_TRUST_DIR)
	cd $(DOTNET_OUT) && set -- $(NUNIT_CONSOLE) -nologo -noshadow -labels -xml=TestResult.xml \
	  $(DOTNET_NUNIT_ARGS) XenApi.Tests.dll; for flags in $(DOTNET_SIMS); do \
	    name=SIM_$$(echo "$$flags" | sed 's/^-*//; s/[^A-Za-z0-9][^A-Za-z0-9]*/_/g' | tr a-z A-Z); \
	    set -- $(abspath $(DOTNET_SIM)) run --templates 0 --env $$name $$flags -- "$$@"; \
	  done; set -- $(abspath $(DOTNET_SIM)) run --templates 0 --env SIM_TRUST --vms 2 \
	    --tls-cert $(abspath $(DOTNET_TRUST_DIR))/server.pem --tls-key $(abspath $(DOTNET_TRUST_DIR))/server.key -- "$$@"; \
	  $(DOTNET_ENV) XENAPI_TRUST_DIR=$(abspath $(DOTNET_TRUST_DIR)) "$$@"
	@# The XenServer.NET-style sample, as its users would run it, in both dialects.
	$(DOTNET_ENV) $(DOTNET_SIM) run --vms 3 -- sh -c '$(MONO) $(DOTNET_OUT)/XenServerStyle.exe "$$XENAPI_URL" root password --disk'
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
# traceparent from the real Activity (dotnet/tests/coreclr-tracing);
# the XenServer.NET-style sample in both dialects on CoreCLR (on xapi with its HTTP_actions disk
# round trip), its lines compared with Mono's on an
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
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
	  -out:$(DOTNET_CORECLR_OUT)/app/Tracing.exe dotnet/tests/coreclr-tracing/Tracing.cs
	for exe in app/ScenarioDriver.exe app/XenServerStyle.exe app/Tracing.exe missing-native/MissingNative.exe; do \
	  dotnet/scripts/coreclr-config.sh $(DOTNET_CORECLR_OUT)/$$exe || exit 1; done
	@# The real System.Diagnostics.Activity (Mono's NUnit run has a stand-in): its W3C id is
	@# each call's traceparent.
	cd $(DOTNET_CORECLR_OUT) && $(abspath $(DOTNET_SIM)) run --vms 2 --templates 0 -- \
	  sh -c '$(DOTNET_CORECLR) app/Tracing.exe "$$XENAPI_URL"'
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
	  disk=; if [ $$dialect = xapi ]; then disk=" root password --disk"; fi; \
	  $(abspath $(DOTNET_SIM)) run --vms 3 --seed 7 --dialect $$dialect -- sh -c \
	    '$(MONO) app/XenServerStyle.exe "$$XENAPI_URL"'"$$disk" > sample-mono.log 2>&1 || { cat sample-mono.log; exit 1; }; \
	  $(abspath $(DOTNET_SIM)) run --vms 3 --seed 7 --dialect $$dialect -- sh -c \
	    '$(DOTNET_CORECLR) app/XenServerStyle.exe "$$XENAPI_URL"'"$$disk" > sample-coreclr.log 2>&1 \
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
	              "inner: DllNotFoundException" "NativeVersion: XenApiNativeLibraryNotFoundException for $(DOTNET_HOST_RID)"; do \
	    grep -qxF "$$want" missing.log || { echo "dotnet-coreclr-test: $$runtime: no line '$$want' in:"; cat missing.log; exit 1; }; \
	  done; \
	  grep -qF "runtimes/$(DOTNET_HOST_RID)/native/libxenapi.so" missing.log \
	    || { echo "dotnet-coreclr-test: $$runtime: the message does not name the package's file"; cat missing.log; exit 1; }; \
	  echo "$$(basename $$runtime) without libxenapi: $$(grep '^message: ' missing.log | cut -c10-)"; \
	done

# ---- the NuGet package ----
# lib/netstandard2.0/XenApi.dll (+ .xml, + .dll.config: Mono's dllmap), runtimes/<rid>/native/ for
# each of DOTNET_RIDS from build/natives/<rid>/ (release/natives.mk: `make natives`), and
# build/ + buildTransitive/XenApi.targets (.NET Framework: copies the native next to the program).
DOTNET_RIDS := linux-x64 linux-arm64 win-x64
DOTNET_NATIVES ?= build/natives
dotnet_native_file = $(if $(filter win-%,$(1)),xenapi.dll,libxenapi.so)
# What `file` says of each RID's library: a native built for another target fails the pack.
dotnet_native_kind = $(if $(filter win-x64,$(1)),PE32\+ executable.*x86-64,$(if $(filter linux-arm64,$(1)),ELF 64-bit LSB shared object.*ARM aarch64,ELF 64-bit LSB shared object.*x86-64))
DOTNET_NUPKG := XenApi.$(DOTNET_VERSION).nupkg
DOTNET_DIST := dist/nuget

dotnet-pack: dotnet-build $(addprefix natives-,$(DOTNET_RIDS))
	rm -rf $(DOTNET_OUT)/stage && mkdir -p $(DOTNET_OUT)/stage/lib/netstandard2.0 \
	  $(DOTNET_OUT)/stage/build $(DOTNET_OUT)/stage/buildTransitive
	cp $(DOTNET_OUT)/XenApi.dll $(DOTNET_OUT)/XenApi.xml dotnet/XenApi.dll.config $(DOTNET_OUT)/stage/lib/netstandard2.0/
	cp dotnet/nuget/XenApi.targets $(DOTNET_OUT)/stage/build/
	cp dotnet/nuget/XenApi.targets $(DOTNET_OUT)/stage/buildTransitive/
	@set -e; $(foreach rid,$(DOTNET_RIDS),\
	  src=$(DOTNET_NATIVES)/$(rid)/$(call dotnet_native_file,$(rid)); \
	  test -f $$src || { echo "dotnet-pack: $$src is missing (make natives-$(rid) builds it)"; exit 1; }; \
	  file -b $$src | grep -qE '$(call dotnet_native_kind,$(rid))' \
	    || { echo "dotnet-pack: $$src is not a $(rid) library: $$(file -b $$src)"; exit 1; }; \
	  mkdir -p $(DOTNET_OUT)/stage/runtimes/$(rid)/native; cp $$src $(DOTNET_OUT)/stage/runtimes/$(rid)/native/;)
	cp dotnet/README.md $(DOTNET_OUT)/stage/
	rm -f $(DOTNET_OUT)/$(DOTNET_NUPKG)
	$(NUGET) pack dotnet/XenApi.nuspec -BasePath $(DOTNET_OUT)/stage -OutputDirectory $(DOTNET_OUT) \
	  -NoPackageAnalysis -NonInteractive
	unzip -l $(DOTNET_OUT)/$(DOTNET_NUPKG)
	@unzip -Z1 $(DOTNET_OUT)/$(DOTNET_NUPKG) > $(DOTNET_OUT)/nupkg.list
	@for f in XenApi.nuspec README.md lib/netstandard2.0/XenApi.dll lib/netstandard2.0/XenApi.xml \
	          lib/netstandard2.0/XenApi.dll.config build/XenApi.targets buildTransitive/XenApi.targets \
	          $(foreach rid,$(DOTNET_RIDS),runtimes/$(rid)/native/$(call dotnet_native_file,$(rid))); do \
	  grep -qx "$$f" $(DOTNET_OUT)/nupkg.list || { echo "dotnet-pack: $$f missing from the package"; exit 1; }; \
	done; \
	if grep -v -E '^(XenApi\.nuspec|README\.md|lib/netstandard2\.0/XenApi\.(dll|xml|dll\.config)|(build|buildTransitive)/XenApi\.targets|runtimes/(linux-x64|linux-arm64|win-x64)/native/(libxenapi\.so|xenapi\.dll)|_rels/.*|package/.*|\[Content_Types\]\.xml)$$' \
	     $(DOTNET_OUT)/nupkg.list; then echo "dotnet-pack: unexpected files in the package"; exit 1; fi
	@echo "dotnet-pack: layout ok ($(DOTNET_OUT)/$(DOTNET_NUPKG): $(DOTNET_RIDS))"
	@# For `make dist`: the package and its line of the release manifest (FILE, TARGET, TESTED-BY).
	rm -rf $(DOTNET_DIST) && mkdir -p $(DOTNET_DIST)
	cp $(DOTNET_OUT)/$(DOTNET_NUPKG) $(DOTNET_DIST)/
	printf 'nuget/%s\t%s\t%s\n' $(DOTNET_NUPKG) 'netstandard2.0 ($(DOTNET_RIDS))' \
	  'make dotnet-consumer-test: restored and run on Mono and CoreCLR 3.1 ($(DOTNET_HOST_RID)); other natives packed, not run' \
	  > $(DOTNET_DIST)/MANIFEST.part

# A consumer's view: the package restored from a local feed as NuGet does (`nuget install` into a
# packages folder), a .NET Framework program built against it the packages.config way with xbuild
# (the package's build/XenApi.targets copies the native), then run against a simulator on Mono
# (the copied native) and on CoreCLR (a .deps.json naming the package: the host loads XenApi.dll
# and runtimes/<rid>/native from the packages folder). Each run prints the file it loaded.
DOTNET_CONSUMER := $(DOTNET_OUT)/consumer
XBUILD ?= xbuild

dotnet-consumer-test: dotnet-pack
	rm -rf $(DOTNET_CONSUMER) && mkdir -p $(DOTNET_CONSUMER)/feed $(DOTNET_CONSUMER)/coreclr
	cp $(DOTNET_OUT)/$(DOTNET_NUPKG) $(DOTNET_CONSUMER)/feed/
	$(NUGET) install XenApi -Version $(DOTNET_VERSION) -Source $(abspath $(DOTNET_CONSUMER)/feed) \
	  -OutputDirectory $(DOTNET_CONSUMER)/packages -NonInteractive -NoCache
	@# The package just built, not one of the same version from a cache.
	cmp $(DOTNET_OUT)/XenApi.dll $(DOTNET_CONSUMER)/packages/XenApi.$(DOTNET_VERSION)/lib/netstandard2.0/XenApi.dll
	$(XBUILD) /nologo /verbosity:quiet dotnet/tests/consumer/Consumer.csproj \
	  /p:PackagesDir=$(abspath $(DOTNET_CONSUMER)/packages)/ /p:XenApiVersion=$(DOTNET_VERSION) \
	  /p:ConsumerOut=$(abspath $(DOTNET_CONSUMER)/net462)/
	cp $(DOTNET_CONSUMER)/net462/Consumer.exe $(DOTNET_CONSUMER)/coreclr/
	dotnet/scripts/coreclr-config.sh $(DOTNET_CONSUMER)/coreclr/Consumer.exe $(DOTNET_CONSUMER)/packages XenApi $(DOTNET_VERSION)
	@set -e; pkg=$(abspath $(DOTNET_CONSUMER)/packages)/XenApi.$(DOTNET_VERSION); \
	for run in "mono:$(MONO) $(abspath $(DOTNET_CONSUMER)/net462)/Consumer.exe:$(abspath $(DOTNET_CONSUMER)/net462)/libxenapi.so" \
	           "coreclr:$(DOTNET_CORECLR) $(abspath $(DOTNET_CONSUMER)/coreclr)/Consumer.exe:$$pkg/runtimes/$(DOTNET_HOST_RID)/native/libxenapi.so"; do \
	  runtime=$${run%%:*}; rest=$${run#*:}; command=$${rest%%:*}; native=$${rest#*:}; \
	  env -u LD_LIBRARY_PATH $(DOTNET_SIM) run --vms 3 -- $$command > $(DOTNET_CONSUMER)/$$runtime.log 2>&1 \
	    || { cat $(DOTNET_CONSUMER)/$$runtime.log; exit 1; }; \
	  for want in "runtime: $$runtime" "native: $$native" "libxenapi: $$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"; do \
	    grep -qxF "$$want" $(DOTNET_CONSUMER)/$$runtime.log \
	      || { echo "dotnet-consumer-test: no line '$$want' from the consumer on $$runtime:"; cat $(DOTNET_CONSUMER)/$$runtime.log; exit 1; }; \
	  done; \
	  grep -qE '^vms: [^ ]+ [^ ]+ [^ ]+$$' $(DOTNET_CONSUMER)/$$runtime.log \
	    || { echo "dotnet-consumer-test: the consumer on $$runtime did not list the simulator's 3 VMs:"; cat $(DOTNET_CONSUMER)/$$runtime.log; exit 1; }; \
	  echo "dotnet-consumer-test: $$runtime: $$(grep '^vms: ' $(DOTNET_CONSUMER)/$$runtime.log), libxenapi from $$native"; \
	done
	@# The native Mono ran is the package's own runtimes/<rid>/native file, copied by XenApi.targets.
	cmp $(DOTNET_CONSUMER)/net462/libxenapi.so \
	  $(DOTNET_CONSUMER)/packages/XenApi.$(DOTNET_VERSION)/runtimes/$(DOTNET_HOST_RID)/native/libxenapi.so

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
