# The scenario (tests/scenario/scenario.txt), once as data, through every binding's driver
# against a fresh simulator in each dialect: xapi over XML-RPC and JSON-RPC, xend over XML-RPC.
#
#   make scenario-test   Rust (core/sim-tests/tests/scenario_data.rs), C (driver.c on libxenapi),
#                        Python (driver.py on xenapi_rs, and on the official XenAPI.py) and C#
#                        (Driver.cs on XenApi.dll); each prints its steps, or the one that failed
#
# One driver on its own, e.g. C in the xend dialect:
#   make scenario-build && target/release/xenapi-sim run --vms 4 --templates 0 --dialect xend -- \
#     target/scenario/scenario_c tests/scenario/scenario.txt xmlrpc

TEST_TARGETS += scenario-test

SCENARIO := tests/scenario/scenario.txt
SCENARIO_TARGET := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
SCENARIO_OUT := $(SCENARIO_TARGET)/scenario
SCENARIO_RUN = $(SCENARIO_TARGET)/release/xenapi-sim run --vms 4 --templates 0
# DIALECT:PROTOCOL pairs each driver runs in (xend has no JSON-RPC).
SCENARIO_MODES := xapi:xmlrpc xapi:jsonrpc xend:xmlrpc

.PHONY: scenario-build scenario-test

scenario-build: build dotnet-build python-install
	@mkdir -p $(SCENARIO_OUT)
	$(FFI_CC) -std=c99 -Wall -Wextra -Werror -pedantic -O1 -g -Iinclude tests/scenario/driver.c \
		-o $(SCENARIO_OUT)/scenario_c $(SCENARIO_TARGET)/release/libxenapi.a $(FFI_STATIC_LIBS)
	$(MCS) $(DOTNET_MCS_FLAGS) -nowarn:1591 -target:exe -r:$(DOTNET_OUT)/XenApi.dll \
		-out:$(DOTNET_OUT)/ScenarioDriver.exe tests/scenario/Driver.cs

scenario-test: scenario-build
	@failed=0; \
	$(CARGO) test -q -p xenapi-tests --test scenario_data -- --nocapture --test-threads 1 \
	  > $(SCENARIO_OUT)/rust.log 2>&1 || { grep -E 'FAILED|panicked' $(SCENARIO_OUT)/rust.log; failed=1; }; \
	grep -oE 'scenario: .*' $(SCENARIO_OUT)/rust.log | sed 's/^scenario: \(.*\) (/scenario: \1 (Rust, /'; \
	for mode in $(SCENARIO_MODES); do d=$${mode%%:*}; p=$${mode##*:}; \
	  for driver in "$(SCENARIO_OUT)/scenario_c $(SCENARIO) $$p" \
	                "$(PYTHON) tests/scenario/driver.py $(SCENARIO) xenapi_rs $$p" \
	                "$(MONO) $(DOTNET_OUT)/ScenarioDriver.exe $(SCENARIO) $$p" \
	                "$(PYTHON) tests/scenario/driver.py $(SCENARIO) XenAPI"; do \
	    case "$$p:$$driver" in jsonrpc:*XenAPI) continue;; esac; \
	    $(DOTNET_ENV) $(SCENARIO_RUN) --dialect $$d -- $$driver > $(SCENARIO_OUT)/last.log 2>&1 \
	      && tail -n 1 $(SCENARIO_OUT)/last.log || { grep FAILED $(SCENARIO_OUT)/last.log || cat $(SCENARIO_OUT)/last.log; failed=1; }; \
	  done; \
	done; exit $$failed
