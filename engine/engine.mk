# engine/engine.mk: the engine library (libdlcm_engine.a): shapes and FLOPs, the model, the
# optimizer and the CPU backend. The CUDA backend is added when nvcc is found (engine/cuda).
ENGINE_SRCS := $(wildcard engine/*.c) $(wildcard engine/cpu/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(BUILD)/%.o)
PART_LIBS += $(BUILD)/libdlcm_engine.a
EXT_LIBS += -lopenblas

$(BUILD)/libdlcm_engine.a: $(ENGINE_OBJS)
	rm -f $@ && ar rcs $@ $^
