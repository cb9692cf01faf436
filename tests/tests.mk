# tests/tests.mk: what the unit tests need besides tests/test_*.c: the helpers of the sweep tests
# and the test double of dlcm-train (crashes, hangs, diverges or succeeds on request).
TEST_OBJS += $(BUILD)/tests/sweep_test_util.o

TEST_FAKE_TRAINER := $(BUILD)/tests/dlcm-fake-train
TEST_DATA += $(TEST_FAKE_TRAINER)
$(TEST_FAKE_TRAINER): $(BUILD)/tests/fake_trainer.o $(RUNCONFIG_LIB) $(DB_LIB) $(SHAPE_LIB) $(UTIL_LIB)
	$(CC) $(CFLAGS) -o $@ $^ -lyaml -lsqlite3 -lm
