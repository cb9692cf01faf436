# engine/train.mk: the trainer library (libdlcm_train.a: run config, schedule, checkpoints,
# validation sets, the training loop, task scoring) and the programs dlcm-train and dlcm-score.
TRAIN_SRCS := $(filter-out %_main.c,$(wildcard engine/train/*.c))
TRAIN_OBJS := $(TRAIN_SRCS:%.c=$(BUILD)/%.o)
PART_LIBS += $(BUILD)/libdlcm_train.a
EXT_LIBS += -lyaml -ljson-c
PROGRAMS += $(BIN)/dlcm-train $(BIN)/dlcm-score
# The libraries of the parts read so far (db, data, engine, cuda, train): what the programs need.
TRAIN_LINK_LIBS := $(PART_LIBS)

$(BUILD)/libdlcm_train.a: $(TRAIN_OBJS)
	rm -f $@
	rm -f $@ && ar rcs $@ $^

$(BIN)/dlcm-train: $(BUILD)/engine/train/train_main.o $(TRAIN_LINK_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< -Wl,--start-group $(TRAIN_LINK_LIBS) -Wl,--end-group $(EXT_LIBS)
$(BIN)/dlcm-score: $(BUILD)/engine/train/score_main.o $(TRAIN_LINK_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< -Wl,--start-group $(TRAIN_LINK_LIBS) -Wl,--end-group $(EXT_LIBS)
