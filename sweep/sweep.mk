# sweep/sweep.mk: the sweep planner and scheduler (libdlcm_sweep.a), bin/dlcm-sweep, the test
# double of the trainer that the sweep tests drive, and `make demo` (the README's main job).
SWEEP_SRCS := $(filter-out sweep/main.c,$(wildcard sweep/*.c))
SWEEP_OBJS := $(SWEEP_SRCS:%.c=$(BUILD)/%.o)
PART_LIBS += $(BUILD)/libdlcm_sweep.a
EXT_LIBS += -lyaml
PROGRAMS += $(BIN)/dlcm-sweep

$(BUILD)/libdlcm_sweep.a: $(SWEEP_OBJS)
	ar rcs $@ $^

# The libraries of the parts read so far (db, data, engine, cuda, train, sweep): the planner checks
# trainer settings against dlcm-train's own key table (engine/train/config.h).
SWEEP_LINK := $(PART_LIBS)
$(BIN)/dlcm-sweep: $(BUILD)/sweep/main.o $(SWEEP_LINK)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< -Wl,--start-group $(SWEEP_LINK) -Wl,--end-group $(EXT_LIBS)

# The test double of dlcm-train (crashes, hangs, diverges or succeeds on request), for tests only.
SWEEP_FAKE_TRAINER := $(BUILD)/sweep/dlcm-fake-train
TEST_DATA += $(SWEEP_FAKE_TRAINER)
$(SWEEP_FAKE_TRAINER): $(BUILD)/sweep/testing/fake_trainer.o $(BUILD)/libdlcm_db.a
	$(CC) $(CFLAGS) -o $@ $^ -lsqlite3 -lm

# ---- the main job: corpus, demo sweep (CPU backend when there is no GPU), fit, query --------
DEMO_DB ?= results/demo.sqlite
DEMO_BUDGET ?= 1e15
.PHONY: demo
demo: $(PROGRAMS)
	$(MAKE) data
	$(BIN)/dlcm-sweep run configs/sweep-demo.yaml --db $(DEMO_DB)
	$(BIN)/dlcm-sweep status --db $(DEMO_DB) --sweep demo
	$(BIN)/dlcm-sweep export --db $(DEMO_DB) --sweep demo -o results/demo-runs.csv
	@if [ -x $(BIN)/dlcm-fit ]; then \
	  $(BIN)/dlcm-fit --db $(DEMO_DB) --sweep demo --law chinchilla --json results/demo-fit-chinchilla.json && \
	  $(BIN)/dlcm-fit --db $(DEMO_DB) --sweep demo --law dlcm --json results/demo-fit-dlcm.json; \
	else echo "demo: bin/dlcm-fit is not built yet: skipping the fit"; fi
	@if [ -x $(BIN)/dlcm-query ]; then \
	  $(BIN)/dlcm-query --db $(DEMO_DB) --budget $(DEMO_BUDGET); \
	else echo "demo: bin/dlcm-query is not built yet: skipping the query"; fi

# Helpers shared by tests/test_sweep_*.c.
TEST_OBJS += $(BUILD)/sweep/testing/test_util.o
