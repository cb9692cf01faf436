# data/data.mk: the corpus part: libdlcm_data.a (shards, loader, tokenizers, corpus extraction)
# and bin/dlcm-data; `make data` fetches, extracts and tokenizes the corpus into data/out/.
DATA_MAIN := data/dlcm_data_main.c
DATA_SRCS := $(filter-out $(DATA_MAIN),$(wildcard data/*.c))
DATA_OBJS := $(DATA_SRCS:%.c=$(BUILD)/%.o)
DATA_LIB := $(BUILD)/libdlcm_data.a
PART_LIBS += $(DATA_LIB)
DATA_EXT_LIBS := -larchive -lxml2 -ljson-c -lz
EXT_LIBS += $(DATA_EXT_LIBS)
PROGRAMS += $(BIN)/dlcm-data

$(BUILD)/data/%.o: CFLAGS += $(shell pkg-config --cflags libxml-2.0)

$(BUILD)/libdlcm_data.a: $(DATA_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BIN)/dlcm-data: $(BUILD)/data/dlcm_data_main.o $(DATA_LIB) $(CLI_LIB) $(UTIL_LIB)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(DATA_EXT_LIBS) -lm

# The corpus: byte and bpe4096 tokenizers by default (DATA_BPE=4096,8192 for more).
DATA_BPE ?= 4096
data: $(BIN)/dlcm-data
	./$(BIN)/dlcm-data build --bpe $(DATA_BPE)
