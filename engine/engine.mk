# engine/engine.mk: the engine: libdlcm_shape.a (shapes, parameter counts and FLOPs: what the
# planner and the query need without a model) and libdlcm_engine.a (the model, the optimizer and
# the CPU backend). The CUDA backend is added when nvcc is found (engine/cuda).
SHAPE_SRCS  := engine/shape.c
SHAPE_LIB   := $(BUILD)/libdlcm_shape.a
ENGINE_SRCS := $(filter-out $(SHAPE_SRCS),$(wildcard engine/*.c)) $(wildcard engine/cpu/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(BUILD)/%.o)
ENGINE_LIB  := $(BUILD)/libdlcm_engine.a
PART_LIBS += $(SHAPE_LIB) $(ENGINE_LIB)
EXT_LIBS += -lopenblas

$(SHAPE_LIB): $(SHAPE_SRCS:%.c=$(BUILD)/%.o)
	rm -f $@ && ar rcs $@ $^
$(ENGINE_LIB): $(ENGINE_OBJS)
	rm -f $@ && ar rcs $@ $^
