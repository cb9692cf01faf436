# fuzz/fuzz.mk: `make fuzz`: a libFuzzer target per parser (fuzz/fuzz_*.c), built with clang and
# ASan+UBSan in build-fuzz/ (the project's libraries instrumented too). Each target first runs
# its regression inputs (fuzz/regressions/TARGET: every input that ever crashed it or broke one
# of its checks, e.g. a checkpoint whose parameter count times 12 wraps to 0), then fuzzes for
# FUZZ_SECONDS from its seed corpus (fuzz/corpus/TARGET). fuzz/run says what to do on a crash.
FUZZ_TARGETS := run_config sweep_config fit_csv fit_json checkpoint shard tasks
FUZZ_SECONDS ?= 40
FUZZ_BUILD   := build-fuzz
FUZZ_CC      := clang -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

# Linked against every part library, as the unit tests are; only this rule adds libFuzzer's main.
$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_input.h $(PART_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D_GNU_SOURCE -fsanitize=fuzzer -o $@ $< -Wl,--start-group $(PART_LIBS) -Wl,--end-group $(EXT_LIBS)

# Every `make test` compiles the targets (without libFuzzer), so a changed reader API breaks the
# test build, not the next `make fuzz`.
$(BUILD)/fuzz/%.o: CFLAGS += -D_GNU_SOURCE
TEST_DATA += $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%.o)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) BIN=bin-fuzz NVCC= CC="$(FUZZ_CC)" fuzz-build
	fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
