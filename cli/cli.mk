# cli/cli.mk: the command-line convention library (libdlcm_cli.a). The commit is baked in: a stamp
# file that changes only when `git describe` does, so a new commit rebuilds cli.o and relinks.
CLI_OBJS := $(BUILD)/cli/cli.o
CLI_LIB  := $(BUILD)/libdlcm_cli.a
PART_LIBS += $(CLI_LIB)
DLCM_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
CLI_STAMP := $(BUILD)/cli/commit.stamp
$(shell mkdir -p $(BUILD)/cli && { [ -f $(CLI_STAMP) ] && [ "$$(cat $(CLI_STAMP))" = "$(DLCM_COMMIT)" ] || echo "$(DLCM_COMMIT)" > $(CLI_STAMP); })
$(BUILD)/cli/cli.o: $(CLI_STAMP)
$(BUILD)/cli/cli.o: CFLAGS += -DDLCM_COMMIT='"$(DLCM_COMMIT)"'
$(BUILD)/libdlcm_cli.a: $(CLI_OBJS)
	rm -f $@ && ar rcs $@ $^
