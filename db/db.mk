# db/db.mk: the SQLite store library (libdlcm_db.a). schema.sql is compiled in as a C string.
DB_SRCS := db/db.c $(filter-out db/db.c,$(wildcard db/*.c))
DB_OBJS := $(DB_SRCS:%.c=$(BUILD)/%.o)
PART_LIBS += $(BUILD)/libdlcm_db.a
EXT_LIBS += -lsqlite3

$(BUILD)/db/schema.inc: db/schema.sql
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@
$(BUILD)/db/db.o: $(BUILD)/db/schema.inc
$(BUILD)/db/db.o: CFLAGS += -I$(BUILD)
$(BUILD)/libdlcm_db.a: $(DB_OBJS)
	rm -f $@ && ar rcs $@ $^
