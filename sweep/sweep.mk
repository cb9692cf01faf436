# sweep/sweep.mk: the sweep planner and scheduler (libdlcm_sweep.a) and bin/dlcm-sweep.
SWEEP_SRCS := $(filter-out sweep/main.c,$(wildcard sweep/*.c))
SWEEP_OBJS := $(SWEEP_SRCS:%.c=$(BUILD)/%.o)
SWEEP_LIB  := $(BUILD)/libdlcm_sweep.a
PART_LIBS += $(SWEEP_LIB)
EXT_LIBS += -lyaml -ljson-c
PROGRAMS += $(BIN)/dlcm-sweep

$(SWEEP_LIB): $(SWEEP_OBJS)
	rm -f $@ && ar rcs $@ $^

# The planner checks trainer settings against dlcm-train's own key table and writes run configs
# with its serializer (the run-config library), and counts through engine/shape.h: it never links
# the model, the optimizer or a backend.
SWEEP_LINK := $(SWEEP_LIB) $(RUNCONFIG_LIB) $(DB_LIB) $(SHAPE_LIB) $(CLI_LIB) $(UTIL_LIB)
$(BIN)/dlcm-sweep: $(BUILD)/sweep/main.o $(SWEEP_LINK)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ -lyaml -ljson-c $(DB_EXT_LIBS) -lm
