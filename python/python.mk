# Python wheel (python/, distribution xenapi-rs, import xenapi_rs). Included by the top Makefile;
# paths are taken from this file's location, so it works from any directory.
#
#   make python-wheel     the manylinux_2_17 x86_64 wheel (target/wheels/), built and checked
#   make python-install   pip-install that wheel into $(PYTHON)
#   make python-test      install it into a fresh venv (target/python-venv), run python/tests there
#   make python-dist      every publishable file into dist/python/, each checked: abi3 wheels for
#                         manylinux_2_17 x86_64 and aarch64 and win_amd64, the sdist, and
#                         MANIFEST.part (FILE, TARGET, TESTED-BY per line) for `make dist`
#   make python-demo      run python/examples/xm.py (the talk's demo) against its own xenapi-sim
#   make python-bench     xenapi_rs vs the official XenAPI against xenapi-sim --vms 2000
#
# Wheels are built by python/tools/build_wheel.sh (zig links Linux ones against glibc 2.17; the
# aarch64 and Windows ones are cross-built with Debian's rustc-web) and checked by
# python/tools/check_wheel.py (size, stripped binaries, auditwheel show, DLL imports, twine).

PY_ROOT     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
PY_TARGET   := $(or $(CARGO_TARGET_DIR),$(PY_ROOT)/target)
PY_WHEELS   := $(PY_TARGET)/wheels
PY_VENV     := $(PY_TARGET)/python-venv
PY_DIST     := $(PY_ROOT)/dist/python
PY_SIM      := $(PY_TARGET)/release/xenapi-sim
PY_WITH_SIM := $(PY_SIM) run
PY_TOOLS    := $(PY_ROOT)/python/tools
# The package's version is the workspace's (maturin reads it from Cargo.toml).
PY_VERSION  := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' $(PY_ROOT)/Cargo.toml | head -n1)
PY_HOST     := manylinux_2_17_x86_64
# A wheel's file, by platform tag, in a folder: $(call py_wheel,DIR,PLATFORM).
py_wheel     = $(1)/xenapi_rs-$(PY_VERSION)-cp38-abi3-$(if $(filter manylinux%,$(2)),manylinux2014_$(2:manylinux_2_17_%=%).)$(2).whl
PY_SDIST    := $(PY_DIST)/xenapi_rs-$(PY_VERSION).tar.gz

# `make test` runs python-test; `make demo` installs the wheel, then scripts/demo.sh runs xm.py
# with the simulator's URL. The type stubs (xenapi_rs/_api.pyi) come from xenapi-codegen, which
# `make test` checks (generated-check).
TEST_TARGETS += python-test
DEMO_TARGETS += python-install
DEMOS        += $(PY_ROOT)/python/examples/xm.py
DEPS_PIP     += maturin>=1.5,<2 pytest xenapi ziglang cargo-zigbuild auditwheel twine \
                opentelemetry-api opentelemetry-sdk
# Cross builds (aarch64, Windows): Debian's compiler with the standard library's source, the
# linkers and strip tools; qemu-user runs the aarch64 simulator in python-dist.
DEPS_APT     += rustc-web cargo-web rust-web-src gcc-aarch64-linux-gnu gcc-mingw-w64-x86-64 \
                binutils-aarch64-linux-gnu binutils-mingw-w64-x86-64 qemu-user

.PHONY: python-wheel python-install python-test python-demo python-bench python-sim python-dist

python-wheel: deps
	$(PY_TOOLS)/build_wheel.sh $(PY_HOST) $(PY_WHEELS)
	$(PYTHON) $(PY_TOOLS)/check_wheel.py $(call py_wheel,$(PY_WHEELS),$(PY_HOST)) $(PY_HOST)

python-install: python-wheel
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
	    $(call py_wheel,$(PY_WHEELS),$(PY_HOST))

# As a user gets it: the wheel and its [test] extra in a new venv, the simulator its own.
python-test: python-wheel
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	    "$(call py_wheel,$(PY_WHEELS),$(PY_HOST))[test]"
	cd $(PY_ROOT)/python/tests && \
	  XENAPI_SIM=$$($(PY_VENV)/bin/python -c 'import xenapi_rs.testing as t; print(t.find_simulator())') \
	  $(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider .

python-sim:
	cd $(PY_ROOT) && cargo build --release --quiet -p xenapi-sim

python-demo: python-install python-sim
	$(PY_WITH_SIM) --vms 3 -- $(PYTHON) $(PY_ROOT)/python/examples/xm.py

python-bench: python-install python-sim
	$(PY_WITH_SIM) --vms 2000 -- $(PYTHON) $(PY_ROOT)/python/bench/bench.py

# What each published file is for and what tested it, for `make dist`'s manifest (FILE relative
# to dist/). Reached only when every check above passed.
PY_ARM      := manylinux_2_17_aarch64
PY_WIN      := win_amd64
PY_CHECKED  := check_wheel.py: at most 8 MB, binaries stripped
define PY_MANIFEST
python/$(notdir $(call py_wheel,$(PY_DIST),$(PY_HOST)))	x86_64-unknown-linux-gnu	$(PY_CHECKED), auditwheel show ($(PY_HOST)), twine check; python/tests in a fresh venv
python/$(notdir $(call py_wheel,$(PY_DIST),$(PY_ARM)))	aarch64-unknown-linux-gnu	$(PY_CHECKED), auditwheel show ($(PY_ARM)), twine check; its simulator under qemu-aarch64 serving python/tests/test_testing.py (the module needs an aarch64 CPython: not run)
python/$(notdir $(call py_wheel,$(PY_DIST),$(PY_WIN)))	x86_64-pc-windows-gnu	$(PY_CHECKED), imports only python3.dll and system DLLs (objdump -p), twine check (no Windows here: not run)
python/$(notdir $(PY_SDIST))	source	twine check; pip install in a fresh venv (compiled here), python/tests there
endef
export PY_MANIFEST

# The x86_64 wheel is python-test's, tested there; the others are built and checked here.
python-dist: python-test
	rm -rf $(PY_DIST)
	mkdir -p $(PY_DIST)
	cp $(call py_wheel,$(PY_WHEELS),$(PY_HOST)) $(PY_DIST)/
	$(PY_TOOLS)/build_wheel.sh $(PY_ARM) $(PY_DIST)
	$(PYTHON) $(PY_TOOLS)/check_wheel.py $(call py_wheel,$(PY_DIST),$(PY_ARM)) $(PY_ARM)
	$(PY_TOOLS)/qemu_smoke.sh $(call py_wheel,$(PY_DIST),$(PY_ARM)) $(PY_VENV)/bin/python
	$(PY_TOOLS)/build_wheel.sh $(PY_WIN) $(PY_DIST)
	$(PYTHON) $(PY_TOOLS)/check_wheel.py $(call py_wheel,$(PY_DIST),$(PY_WIN)) $(PY_WIN)
	$(PY_TOOLS)/build_wheel.sh sdist $(PY_DIST)
	$(PY_TOOLS)/check_sdist.sh $(PY_SDIST) $(PY_TARGET)/python-sdist-venv \
	    $$($(PY_VENV)/bin/python -c 'import xenapi_rs.testing as t; print(t.find_simulator())')
	printf '%s\n' "$$PY_MANIFEST" > $(PY_DIST)/MANIFEST.part
	@echo "python-dist: $$(ls $(PY_DIST) | wc -l) files in $(PY_DIST)"
