# tests/asan.mk: `make asan-test`, the whole unit-test suite under AddressSanitizer, UBSan and
# LeakSanitizer, in its own build-asan/ and bin-asan/ so the normal build is left alone.
# The tests start the programs as ./bin/... and build/..., so they run from build-asan/root,
# a tree of links to the checkout whose bin/ and build/ are the sanitized ones.
ASAN_BUILD := build-asan
ASAN_BIN   := bin-asan
# No CUDA: the sanitizers cannot see into the device, and the GPU tests are not in this suite.
ASAN_CC    := $(CC) -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_ENV   := ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
.PHONY: asan-test
asan-test:
	$(MAKE) BUILD=$(ASAN_BUILD) BIN=$(ASAN_BIN) NVCC= CC="$(ASAN_CC)" \
	    $(ASAN_BUILD)/tests/dlcm-tests all asan-test-data
	rm -rf $(ASAN_BUILD)/root && mkdir -p $(ASAN_BUILD)/root
	for entry in $$(ls -A | grep -v -x -e .git -e $(BUILD) -e $(BIN) -e $(ASAN_BUILD) -e $(ASAN_BIN)); do \
	    ln -s ../../$$entry $(ASAN_BUILD)/root/$$entry; done
	ln -s ../../$(ASAN_BIN) $(ASAN_BUILD)/root/bin
	ln -s .. $(ASAN_BUILD)/root/build
	cd $(ASAN_BUILD)/root && $(ASAN_ENV) ./build/tests/dlcm-tests --jobs 2 $(TEST_ARGS) > ../test.log 2>&1 || true
	cat $(ASAN_BUILD)/test.log
	@# The runner's own exit code counts Criterion's few bytes kept to exit as a leak: the verdict
	@# is the synthesis line (no failure, no crash) and the scan of every report.
	grep -q 'Synthesis: .*| Failing: 0 | Crashing: 0' $(ASAN_BUILD)/test.log
	tests/asan-scan $(ASAN_BUILD)/test.log
.PHONY: asan-test-data
asan-test-data: $(TEST_DATA)
