# fit/fit.mk: the scaling-law fitter (libdlcm_fit.a), the programs dlcm-fit and dlcm-query,
# and the Chinchilla reference check (make fit-reference; needs ../shared/data/chinchilla).
FIT_MAINS := fit/fit_main.c fit/query_main.c
FIT_SRCS  := $(filter-out $(FIT_MAINS),$(wildcard fit/*.c))
FIT_OBJS  := $(FIT_SRCS:%.c=$(BUILD)/%.o)
FIT_LIB   := $(BUILD)/libdlcm_fit.a
PART_LIBS += $(FIT_LIB)
EXT_LIBS  += -lgsl -lgslcblas -ljson-c
PROGRAMS  += $(BIN)/dlcm-fit $(BIN)/dlcm-query

$(BUILD)/libdlcm_fit.a: $(FIT_OBJS)
	rm -f $@ && ar rcs $@ $^

# The fitter reads the store and counts through engine/shape.h; it never links the model.
FIT_LINK := $(FIT_LIB) $(DB_LIB) $(SHAPE_LIB) $(CLI_LIB) $(UTIL_LIB)
FIT_EXT_LIBS := -lgsl -lgslcblas -ljson-c $(DB_EXT_LIBS) -lm
$(BIN)/dlcm-fit: $(BUILD)/fit/fit_main.o $(FIT_LINK)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(FIT_EXT_LIBS)

$(BIN)/dlcm-query: $(BUILD)/fit/query_main.o $(FIT_LINK)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(FIT_EXT_LIBS)

# Fits the 245 digitized Chinchilla points (5 highest losses dropped) and fails unless the
# coefficients match Besiroglu et al. (2024) to three significant figures.
CHINCHILLA_CSV ?= ../shared/data/chinchilla/svg_extracted_data.csv
.PHONY: fit-reference
fit-reference: $(BIN)/dlcm-fit
	@mkdir -p results
	./$(BIN)/dlcm-fit --csv $(CHINCHILLA_CSV) --law chinchilla --drop-top-loss 5 \
	    --json results/chinchilla-reference.json --plots results --plot-prefix chinchilla-reference \
	    --check-reference
