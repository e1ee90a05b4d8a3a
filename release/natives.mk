# The native binaries every package ships, stripped, per runtime identifier (RID), with their
# debug info in separate files. The Python wheels, the NuGet package and `make dist` read exactly
# this layout:
#
#   build/natives/linux-x64/    libxenapi.so libxenapi.a xenctl xenapi-sim
#   build/natives/linux-arm64/  libxenapi.so libxenapi.a xenctl xenapi-sim
#   build/natives/win-x64/      xenapi.dll xenapi.dll.a xenapi.def xenctl.exe xenapi-sim.exe
#   build/natives/RID/debug/FILE.debug   FILE's debug info; the stripped FILE names it (GNU
#                                        debuglink), but for a .a, whose .debug is the whole
#                                        unstripped archive (release/split-debug.sh says why)
#
#   natives              all three
#   natives-linux-x64    rustup's toolchain, `cargo build --release` (target/release)
#   natives-linux-arm64  scripts/cross-cargo.sh aarch64-unknown-linux-gnu (target/cross)
#   natives-win-x64      scripts/cross-cargo.sh x86_64-pc-windows-gnu; xenapi.def is the DLL's
#                        export table, xenapi.dll.a the import library mingw's dlltool makes from
#                        it (MSVC users make theirs with `lib /def:xenapi.def /machine:x64`)
#
# A cross build from cold builds the standard library too: measured on 2 shared cores, 6 min
# (arm64, load ~4) and 10 min (win-x64, niced at load ~8); warm, each is seconds (strip, .def).

NATIVES_DIR := build/natives
NATIVES_TARGET := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
NATIVES_CROSS_TARGET := $(if $(CROSS_TARGET_DIR),$(CROSS_TARGET_DIR),target/cross)
NATIVES_CRATES := -p xenapi-ffi -p xenctl -p xenapi-sim
# Debian's compiler and std source for the cross builds, the cross linkers and their binutils.
DEPS_APT += rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 \
	gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross

.PHONY: natives natives-linux-x64 natives-linux-arm64 natives-win-x64

natives: natives-linux-x64 natives-linux-arm64 natives-win-x64

natives-linux-x64: deps
	$(CARGO) build --release $(NATIVES_CRATES)
	release/split-debug.sh objcopy $(NATIVES_TARGET)/release $(NATIVES_DIR)/linux-x64 \
		libxenapi.so libxenapi.a xenctl xenapi-sim

natives-linux-arm64: deps
	scripts/cross-cargo.sh aarch64-unknown-linux-gnu build $(NATIVES_CRATES)
	release/split-debug.sh aarch64-linux-gnu-objcopy \
		$(NATIVES_CROSS_TARGET)/aarch64-unknown-linux-gnu/release $(NATIVES_DIR)/linux-arm64 \
		libxenapi.so libxenapi.a xenctl xenapi-sim

natives-win-x64: deps
	scripts/cross-cargo.sh x86_64-pc-windows-gnu build $(NATIVES_CRATES)
	release/split-debug.sh x86_64-w64-mingw32-objcopy \
		$(NATIVES_CROSS_TARGET)/x86_64-pc-windows-gnu/release $(NATIVES_DIR)/win-x64 \
		xenapi.dll xenctl.exe xenapi-sim.exe
	release/dll-def.sh x86_64-w64-mingw32-objdump $(NATIVES_DIR)/win-x64/xenapi.dll \
		> $(NATIVES_DIR)/win-x64/xenapi.def.tmp
	mv -f $(NATIVES_DIR)/win-x64/xenapi.def.tmp $(NATIVES_DIR)/win-x64/xenapi.def
	x86_64-w64-mingw32-dlltool -d $(NATIVES_DIR)/win-x64/xenapi.def -D xenapi.dll \
		-l $(NATIVES_DIR)/win-x64/xenapi.dll.a.tmp
	mv -f $(NATIVES_DIR)/win-x64/xenapi.dll.a.tmp $(NATIVES_DIR)/win-x64/xenapi.dll.a
	@echo "natives for win-x64 in $(NATIVES_DIR)/win-x64"
