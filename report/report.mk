# report/report.mk: bin/dlcm-report, a sweep's Markdown report or a study's README with its figures. It reads the
# store (db) and the fits (fit: the laws and the gnuplot runner); the sweep scheduler does not
# link any of this, so it stays free of GSL and gnuplot.
REPORT_OBJS := $(BUILD)/report/isoflop.o $(BUILD)/report/sweep_report.o\
               $(BUILD)/report/study.o $(BUILD)/report/study_tables.o $(BUILD)/report/domain_ratio.o\
               $(BUILD)/report/paired.o $(BUILD)/report/curve_thin.o\
               $(BUILD)/report/seed_noise.o $(BUILD)/report/wall_time.o
PROGRAMS += $(BIN)/dlcm-report
TEST_OBJS += $(REPORT_OBJS)

REPORT_LINK := $(FIT_LINK) $(CLI_LIB)
$(BIN)/dlcm-report: $(BUILD)/report/report_main.o $(REPORT_OBJS) $(REPORT_LINK)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $(BUILD)/report/report_main.o $(REPORT_OBJS) $(REPORT_LINK) $(FIT_EXT_LIBS)
