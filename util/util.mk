# util/util.mk: the utility layer (libdlcm_util.a): hashing, files, process spawning, time
# formatting, loops split across threads. It depends on nothing else of the project; every part may use it.
UTIL_SRCS := $(wildcard util/*.c)
UTIL_OBJS := $(UTIL_SRCS:%.c=$(BUILD)/%.o)
UTIL_LIB  := $(BUILD)/libdlcm_util.a
PART_LIBS += $(UTIL_LIB)

# util/ includes only util/: a util file that includes another part fails the build here.
$(UTIL_LIB): $(UTIL_OBJS)
	@! grep -n '#include "' util/*.c util/*.h | grep -v '#include "util/' || \
	  { echo "util/ must include only util/ (see the lines above)"; exit 1; }
	rm -f $@ && ar rcs $@ $^
