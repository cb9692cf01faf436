# dlcm: top-level build. Each part (data, engine, db, sweep, fit, bench) has its own
# <part>/<part>.mk fragment included below; this file holds only the shared rules.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Wno-unused-parameter -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -I. -MMD -MP
LDLIBS  :=
BUILD   := build
BIN     := bin

# CUDA is optional: detected here, used only by the engine's cuda backend and GPU tests.
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCCFLAGS ?= -O2 -g -lineinfo -gencode arch=compute_90,code=sm_90 -I.

# Every part appends to these. Each program links only the libraries of the parts it uses, in
# dependency order (its fragment names them), so a part that reaches above its layer (db/ into the
# engine, the sweep into the model) fails to link. Only the unit-test binary links them all.
PROGRAMS   :=     # binaries under bin/
TEST_OBJS  :=     # extra objects the unit-test binary links (beyond tests/test_*.c)
TEST_DATA  :=     # programs the tests run besides bin/ (the fake trainer)
PART_LIBS  :=     # every static library of the project (the unit tests link them all)
EXT_LIBS   := -lm -lpthread

.PHONY: all test deps data bench gpu-test clean help
all:

include util/util.mk
include cli/cli.mk
include db/db.mk
include data/data.mk
include engine/engine.mk
-include engine/cuda/cuda.mk
include engine/train.mk
include sweep/sweep.mk
include fit/fit.mk
include report/report.mk
include bench/bench.mk
include tests/tests.mk

all: $(PROGRAMS)

# ---- the main job: corpus, demo sweep (CPU backend when there is no GPU), fit, query, report ----
# Here, after every part's fragment, so that $(PROGRAMS) names dlcm-fit and dlcm-query too. The
# demo database and its run directories are outputs: each demo starts from fresh ones, so it
# trains every run. The demo's dlcm runs vary only R, so its dlcm-law fit is a smoke test
# (reported, never fatal); the query uses the Chinchilla fit of the dense runs. Six dense runs
# cannot identify that law, so the query's answer is a refusal (exit 4), which the demo shows
# rather than fails on.
DEMO_DB ?= results/demo.sqlite
DEMO_RUNS ?= results/runs/demo
DEMO_BUDGET ?= 1e12
DEMO_SHARDS := data/out/bpe4096/train.bin
.PHONY: demo
demo: $(PROGRAMS)
	@[ -f $(DEMO_SHARDS) ] || $(MAKE) data
	rm -rf $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_RUNS)
	$(BIN)/dlcm-sweep run configs/sweep-demo.yaml --db $(DEMO_DB)
	$(BIN)/dlcm-sweep status --db $(DEMO_DB) --sweep demo --runs
	$(BIN)/dlcm-sweep export --db $(DEMO_DB) --sweep demo -o results/demo-runs.csv
	$(BIN)/dlcm-fit --db $(DEMO_DB) --sweep demo --law chinchilla --bootstrap 200 \
	    --json results/demo-fit-chinchilla.json --plots results
	$(BIN)/dlcm-fit --db $(DEMO_DB) --sweep demo --law dlcm --bootstrap 200 \
	    --json results/demo-fit-dlcm.json --no-plots --no-store || \
	  echo "demo: the dlcm law does not fit the demo's few dlcm runs (fine for a demo)"
	$(BIN)/dlcm-query --db $(DEMO_DB) --sweep demo --law chinchilla --budget $(DEMO_BUDGET) || [ $$? -eq 4 ]
	$(BIN)/dlcm-report --db $(DEMO_DB) --sweep demo --out results/demo-report

help:
	@echo "make deps      install the Debian packages the project needs (apt, needs root)"
	@echo "make           build every program into bin/"
	@echo "make data      download, extract and tokenize the corpus into data/out/"
	@echo "make test      build and run the unit tests (CPU only; GPU tests: make gpu-test)"
	@echo "make demo      the main job: corpus, demo sweep, fit, query"
	@echo "make bench     benchmarks (GPU machine)"
	@echo "make bench-ab A=DIR B=DIR  an engine change against its base (GPU machine, bench/ab.sh)"
	@echo "make asan-test the unit tests under ASan+UBSan+LSan (build-asan/, bin-asan/)"
	@echo "make fuzz      each parser's libFuzzer target: regressions, then FUZZ_SECONDS (40) of fuzzing"

deps:
	./scripts/install-deps

# ---- unit tests: one Criterion binary from every tests/test_*.c --------------------------
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BIN  := $(BUILD)/tests/dlcm-tests
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(TEST_BIN): $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%.o) $(TEST_OBJS) $(PART_LIBS)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) -Wl,--start-group $(PART_LIBS) -Wl,--end-group $(EXT_LIBS) -lcriterion
# the GPU tests (engine/cuda/cuda.mk) link every part too; their rule sits here, where PART_LIBS is
# complete, so a fresh parallel build makes each library before the link needs it
$(GPU_TEST_BIN): $(GPU_TEST_SRCS:tests/gpu/%.c=$(BUILD)/tests/gpu/%.o) $(PART_LIBS)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) -Wl,--start-group $(PART_LIBS) -Wl,--end-group $(EXT_LIBS) -lcriterion
test: $(TEST_BIN) $(PROGRAMS) $(TEST_DATA)
	./$(TEST_BIN) --jobs 2 $(TEST_ARGS)

# ---- generic object rule -----------------------------------------------------------------
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Sanitized suite (make asan-test) and the parsers' fuzzers (make fuzz).
include tests/asan.mk
include fuzz/fuzz.mk

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
