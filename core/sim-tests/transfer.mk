# HTTP transfers: `make transfer-bench` imports then exports a disk of TRANSFER_BENCH_MIB MiB
# (1024) through xenapi::transfer against a xenapi-sim process (release builds, one machine) and
# prints MB/s each way and the peak RSS (VmHWM) of the client and of the simulator
# (core/sim-tests/examples/transfer_bench.rs). Not part of `make test`.

TRANSFER_BENCH_MIB ?= 1024
TRANSFER_TARGET := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)

.PHONY: transfer-bench

transfer-bench:
	$(CARGO) build -q --release -p xenapi-sim --bin xenapi-sim -p xenapi-tests --example transfer_bench
	$(TRANSFER_TARGET)/release/xenapi-sim run --task-delay-ms 0 -- \
	  $(TRANSFER_TARGET)/release/examples/transfer_bench $(TRANSFER_BENCH_MIB)
