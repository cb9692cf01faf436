# db/db.mk: the SQLite store library (libdlcm_db.a). schema.sql is compiled in as a C string.
# The store depends on nothing of the project above it: db/ includes only db/ and util/.
DB_SRCS := db/db.c $(filter-out db/db.c,$(wildcard db/*.c))
DB_OBJS := $(DB_SRCS:%.c=$(BUILD)/%.o)
DB_LIB  := $(BUILD)/libdlcm_db.a
DB_EXT_LIBS := -lsqlite3
PART_LIBS += $(DB_LIB)
EXT_LIBS += $(DB_EXT_LIBS)

$(BUILD)/db/schema.inc: db/schema.sql
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@
$(BUILD)/db/db.o: $(BUILD)/db/schema.inc
$(BUILD)/db/db.o: CFLAGS += -I$(BUILD)
# The store includes nothing above it: a db/ file that includes engine/, sweep/, fit/ or data/
# fails the build here.
$(DB_LIB): $(DB_OBJS)
	@! grep -n '#include "\(engine\|sweep\|fit\|data\)/' db/*.c db/*.h || \
	  { echo "db/ must not include the parts above it (see the lines above)"; exit 1; }
	rm -f $@ && ar rcs $@ $^
