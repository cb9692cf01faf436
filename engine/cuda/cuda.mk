# engine/cuda/cuda.mk: the CUDA backend (libdlcm_cuda.a) and the GPU test binary. With nvcc,
# the kernels of engine/cuda/*.cu are built for sm_90 and cudart/cuBLAS are linked; without it,
# backend_cuda_absent.c provides entry points that report that no GPU backend was built.
PART_LIBS += $(BUILD)/libdlcm_cuda.a

ifneq ($(strip $(NVCC)),)
CUDA_SRCS := $(wildcard engine/cuda/*.cu)
CUDA_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/%.o)
EXT_LIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
$(BUILD)/engine/cuda/%.o: engine/cuda/%.cu engine/cuda/cuda_internal.h engine/ops.h engine/rng.h util/mix64.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -std=c++17 -Xcompiler -Wall -c $< -o $@
$(BUILD)/engine/cuda/attention.o: engine/cuda/attention_common.h
else
CUDA_OBJS := $(BUILD)/engine/cuda/backend_cuda_absent.o
endif

$(BUILD)/libdlcm_cuda.a: $(CUDA_OBJS)
	rm -f $@ && ar rcs $@ $^

# ---- GPU tests: CUDA backend against the CPU backend; they skip when no GPU is present ------
GPU_TEST_SRCS := $(wildcard tests/gpu/*.c)
GPU_TEST_BIN  := $(BUILD)/tests/dlcm-gpu-tests
# --verbose lists every test, so a machine without a GPU shows each one skipped with its reason.
GPU_TEST_ARGS ?= --verbose
$(BUILD)/tests/gpu/%.o: tests/gpu/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
# its link rule is in the top Makefile, after every part has added its library to PART_LIBS

ifneq ($(strip $(NVCC)),)
# then two runs of configs/tiny-dlcm.yaml, and runs killed and resumed, must end identical
gpu-test: $(GPU_TEST_BIN) $(BIN)/dlcm-train
	./$(GPU_TEST_BIN) $(GPU_TEST_ARGS)
	tests/gpu/determinism.sh $(BIN)/dlcm-train configs/tiny-dlcm.yaml
else
gpu-test:
	@echo "gpu-test: skipped: this build has no CUDA backend (nvcc was not found)"
endif
