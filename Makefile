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

# Every part appends to these.
PROGRAMS   :=     # binaries under bin/
TEST_OBJS  :=     # extra objects the unit-test binary links (beyond tests/test_*.c)
PART_LIBS  :=     # static libraries of the project (linked as one group)
EXT_LIBS   := -lm -lpthread

.PHONY: all test deps data bench gpu-test clean help
all:

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

all: $(PROGRAMS)

help:
	@echo "make deps      install the Debian packages the project needs (apt, needs root)"
	@echo "make           build every program into bin/"
	@echo "make data      download, extract and tokenize the corpus into data/out/"
	@echo "make test      build and run the unit tests (CPU only; GPU tests: make gpu-test)"
	@echo "make demo      the main job: corpus, demo sweep, fit, query"
	@echo "make bench     benchmarks (GPU machine)"
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
