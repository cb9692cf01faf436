# fit/fit.mk: the scaling-law fitter (libdlcm_fit.a), the programs dlcm-fit and dlcm-query,
# and the Chinchilla reference check (make fit-reference; needs ../shared/data/chinchilla).
FIT_MAINS := fit/fit_main.c fit/query_main.c
FIT_SRCS  := $(filter-out $(FIT_MAINS),$(wildcard fit/*.c))
FIT_OBJS  := $(FIT_SRCS:%.c=$(BUILD)/%.o)
PART_LIBS += $(BUILD)/libdlcm_fit.a
EXT_LIBS  += -lgsl -lgslcblas -ljson-c
PROGRAMS  += $(BIN)/dlcm-fit $(BIN)/dlcm-query

$(BUILD)/libdlcm_fit.a: $(FIT_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BIN)/dlcm-fit: $(BUILD)/fit/fit_main.o $(PART_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< -Wl,--start-group $(PART_LIBS) -Wl,--end-group $(EXT_LIBS)

$(BIN)/dlcm-query: $(BUILD)/fit/query_main.o $(PART_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< -Wl,--start-group $(PART_LIBS) -Wl,--end-group $(EXT_LIBS)

# Fits the 245 digitized Chinchilla points (5 highest losses dropped) and fails unless the
# coefficients match Besiroglu et al. (2024) to three significant figures.
CHINCHILLA_CSV ?= ../shared/data/chinchilla/svg_extracted_data.csv
.PHONY: fit-reference
fit-reference: $(BIN)/dlcm-fit
	@mkdir -p results
	./$(BIN)/dlcm-fit --csv $(CHINCHILLA_CSV) --law chinchilla --drop-top-loss 5 \
	    --json results/chinchilla-reference.json --plots results --plot-prefix chinchilla-reference \
	    --check-reference
