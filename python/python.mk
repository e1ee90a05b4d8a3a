# Python wheel (python/, distribution xenapi-rs, import xenapi_rs). Included by the top Makefile;
# paths are taken from this file's location, so it works from any directory.
#
#   make python-install   build the wheel with maturin (release) and pip-install it
#   make python-test      install, build the simulator, run python/tests with pytest
#   make python-demo      run python/examples/xm.py (the talk's demo) against its own xenapi-sim
#   make python-bench     xenapi_rs vs the official XenAPI against xenapi-sim --vms 2000

PY_ROOT     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
PYTHON      ?= python3
PY_TARGET   := $(or $(CARGO_TARGET_DIR),$(PY_ROOT)/target)
PY_WHEELS   := $(PY_TARGET)/wheels
PY_SIM      := $(PY_TARGET)/release/xenapi-sim
PY_WITH_SIM := $(PY_SIM) run

# `make test` runs python-test; `make demo` installs the wheel, then scripts/demo.sh runs xm.py
# with the simulator's URL. The type stubs (xenapi_rs/_api.pyi) come from xenapi-codegen, which
# `make test` checks (generated-check).
TEST_TARGETS += python-test
DEMO_TARGETS += python-install
DEMOS        += $(PY_ROOT)/python/examples/xm.py
DEPS_PIP     += maturin

.PHONY: python-deps python-install python-test python-demo python-bench python-sim

python-deps:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2" pytest xenapi

# maturin builds into the shared Cargo target dir, so only changed crates are rebuilt.
# The simulator goes into the wheel (xenapi_rs/bin/), for xenapi_rs.testing's fixtures.
python-install: python-deps python-sim
	rm -f $(PY_WHEELS)/xenapi_rs-*.whl
	mkdir -p $(PY_ROOT)/python/xenapi_rs/bin
	strip -o $(PY_ROOT)/python/xenapi_rs/bin/xenapi-sim $(PY_SIM) 2>/dev/null || \
	  cp $(PY_SIM) $(PY_ROOT)/python/xenapi_rs/bin/xenapi-sim
	cd $(PY_ROOT) && $(PYTHON) -m maturin build --release --quiet \
	    -m python/Cargo.toml -i $(PYTHON) --compatibility linux -o $(PY_WHEELS)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
	    $(PY_WHEELS)/xenapi_rs-*.whl

python-sim:
	cd $(PY_ROOT) && cargo build --release --quiet -p xenapi-sim

python-test: python-install python-sim
	cd $(PY_ROOT)/python/tests && XENAPI_SIM=$(PY_SIM) $(PYTHON) -m pytest -q .

python-demo: python-install python-sim
	$(PY_WITH_SIM) --vms 3 -- $(PYTHON) $(PY_ROOT)/python/examples/xm.py

python-bench: python-install python-sim
	$(PY_WITH_SIM) --vms 2000 -- $(PYTHON) $(PY_ROOT)/python/bench/bench.py
