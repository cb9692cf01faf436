# engine/train.mk: the run config (libdlcm_runconfig.a: the key table, the YAML reader, the one
# serializer and the run id; it needs shapes, never the model, so the sweep can link it) and the
# trainer library (libdlcm_train.a: schedule, checkpoints, validation sets, the training loop,
# task scoring), and the programs dlcm-train and dlcm-score.
RUNCONFIG_SRCS := engine/train/config.c
RUNCONFIG_LIB  := $(BUILD)/libdlcm_runconfig.a
TRAIN_SRCS := $(filter-out %_main.c $(RUNCONFIG_SRCS),$(wildcard engine/train/*.c))
TRAIN_OBJS := $(TRAIN_SRCS:%.c=$(BUILD)/%.o)
TRAIN_LIB  := $(BUILD)/libdlcm_train.a
PART_LIBS += $(RUNCONFIG_LIB) $(TRAIN_LIB)
EXT_LIBS += -lyaml -ljson-c
PROGRAMS += $(BIN)/dlcm-train $(BIN)/dlcm-score

$(RUNCONFIG_LIB): $(RUNCONFIG_SRCS:%.c=$(BUILD)/%.o)
	rm -f $@ && ar rcs $@ $^
$(TRAIN_LIB): $(TRAIN_OBJS)
	rm -f $@ && ar rcs $@ $^

# The engine and its CUDA backend reference each other (the backend table, the RNG): one group.
TRAIN_LINK := $(TRAIN_LIB) $(RUNCONFIG_LIB) $(DATA_LIB) $(DB_LIB) \
              -Wl,--start-group $(ENGINE_LIB) $(BUILD)/libdlcm_cuda.a -Wl,--end-group $(SHAPE_LIB) $(CLI_LIB) $(UTIL_LIB)
TRAIN_LINK_DEPS := $(TRAIN_LIB) $(RUNCONFIG_LIB) $(DATA_LIB) $(DB_LIB) $(ENGINE_LIB) $(BUILD)/libdlcm_cuda.a \
                   $(SHAPE_LIB) $(CLI_LIB) $(UTIL_LIB)

$(BIN)/dlcm-train: $(BUILD)/engine/train/train_main.o $(TRAIN_LINK_DEPS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< $(TRAIN_LINK) $(EXT_LIBS)
$(BIN)/dlcm-score: $(BUILD)/engine/train/score_main.o $(TRAIN_LINK_DEPS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< $(TRAIN_LINK) $(EXT_LIBS)
