# bench/bench.mk: dlcm-bench (training throughput on the CUDA backend; --dump for the PyTorch
# loss check) and `make bench`, which runs it and the PyTorch reference bench/torch_ref.py.
BENCH_BIN := $(BUILD)/bench/dlcm-bench
$(BENCH_BIN): $(BUILD)/bench/bench.o $(PART_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) -Wl,--start-group $(PART_LIBS) -Wl,--end-group $(EXT_LIBS)

BENCH_ARGS ?=
BENCH_OUT  ?= $(BUILD)/bench/out
bench: $(BENCH_BIN)
	BENCH_BIN=$(BENCH_BIN) BENCH_OUT=$(BENCH_OUT) bench/run-bench.sh $(BENCH_ARGS)
