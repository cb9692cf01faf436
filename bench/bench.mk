# bench/bench.mk: dlcm-bench (training throughput on the CUDA backend; --dump for the PyTorch
# loss check) and `make bench`, which runs it and the PyTorch reference bench/torch_ref.py, then
# the sweep-throughput benchmark (bench/sweep-bench.sh: packed runs with and without MPS beside
# torch.compile one run after another).
BENCH_BIN := $(BUILD)/bench/dlcm-bench
$(BENCH_BIN): $(BUILD)/bench/bench.o $(TRAIN_LINK_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TRAIN_LINK) $(EXT_LIBS)
# the unit tests run its option handling (tests/test_bench_cli.c)
TEST_DATA += $(BENCH_BIN)

BENCH_ARGS ?=
BENCH_OUT  ?= $(BUILD)/bench/out
SWEEP_BENCH_FILE ?= configs/sweep-byte-h100.yaml
bench: $(BENCH_BIN) $(BIN)/dlcm-sweep $(BIN)/dlcm-train
	BENCH_BIN=$(BENCH_BIN) BENCH_OUT=$(BENCH_OUT) bench/run-bench.sh $(BENCH_ARGS)
	BIN=$(BIN) BENCH_BIN=$(BENCH_BIN) OUT=$(BENCH_OUT)/sweep bench/sweep-bench.sh $(SWEEP_BENCH_FILE)

# Engine changes against their base, in one GPU session: `make bench-ab A=DIR B=DIR [C=DIR D=DIR]`
# with folders made by tests/gpu/make-devbuild.sh (bench/ab.sh: each change's GPU tests, then every
# build's dlcm-bench interleaved, medians and the ratios to A).
.PHONY: bench-ab
bench-ab:
	OUT=$(BENCH_OUT)/ab bench/ab.sh $(A) $(B) $(C) $(D)
