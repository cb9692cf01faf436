# engine/cuda/cuda.mk: the CUDA backend (libdlcm_cuda.a). Until the kernels land, every build
# links the "no CUDA" entry points, so programs report that no GPU backend is built.
CUDA_OBJS := $(BUILD)/engine/cuda/backend_cuda_absent.o
PART_LIBS += $(BUILD)/libdlcm_cuda.a
$(BUILD)/libdlcm_cuda.a: $(CUDA_OBJS)
	ar rcs $@ $^
