# sweep/sweep.mk: the sweep planner and scheduler (libdlcm_sweep.a), bin/dlcm-sweep, the test
# double of the trainer that the sweep tests drive, and `make demo` (the README's main job).
SWEEP_SRCS := $(filter-out sweep/main.c,$(wildcard sweep/*.c))
SWEEP_OBJS := $(SWEEP_SRCS:%.c=$(BUILD)/%.o)
PART_LIBS += $(BUILD)/libdlcm_sweep.a
EXT_LIBS += -lyaml -ljson-c
PROGRAMS += $(BIN)/dlcm-sweep

$(BUILD)/libdlcm_sweep.a: $(SWEEP_OBJS)
	rm -f $@ && ar rcs $@ $^

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
# The demo's dlcm runs vary only R, so its dlcm-law fit is a smoke test (reported, never fatal);
# the query uses the Chinchilla fit of the dense runs. Six dense runs cannot identify that law,
# so the query's answer is a refusal (exit 4), which the demo shows rather than fails on.
DEMO_DB ?= results/demo.sqlite
DEMO_BUDGET ?= 1e12
.PHONY: demo
demo: $(PROGRAMS)
	$(MAKE) data
	$(BIN)/dlcm-sweep run configs/sweep-demo.yaml --db $(DEMO_DB)
	$(BIN)/dlcm-sweep status --db $(DEMO_DB) --sweep demo --runs
	$(BIN)/dlcm-sweep export --db $(DEMO_DB) --sweep demo -o results/demo-runs.csv
	@if [ -x $(BIN)/dlcm-fit ] && [ -x $(BIN)/dlcm-query ]; then \
	  $(BIN)/dlcm-fit --db $(DEMO_DB) --sweep demo --law chinchilla --bootstrap 200 \
	    --json results/demo-fit-chinchilla.json --plots results && \
	  { $(BIN)/dlcm-fit --db $(DEMO_DB) --sweep demo --law dlcm --bootstrap 200 \
	      --json results/demo-fit-dlcm.json --no-plots --no-store || \
	    echo "demo: the dlcm law does not fit the demo's few dlcm runs (fine for a demo)"; } && \
	  { $(BIN)/dlcm-query --db $(DEMO_DB) --sweep demo --law chinchilla --budget $(DEMO_BUDGET) || [ $$? -eq 4 ]; }; \
	else echo "demo: bin/dlcm-fit or bin/dlcm-query is not built: skipping the fit and the query"; fi
	$(BIN)/dlcm-report --db $(DEMO_DB) --sweep demo --out results/demo-report

# Helpers shared by tests/test_sweep_*.c.
TEST_OBJS += $(BUILD)/sweep/testing/test_util.o
