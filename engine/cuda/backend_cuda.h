/* engine/cuda/backend_cuda.h: CUDA-backend controls beyond the Backend table (ops.h): TF32 on
 * or off for fp32 GEMMs, peak backend memory, the device's name and the profiled range. Safe to
 * call in builds without CUDA. */
#ifndef DLCM_ENGINE_CUDA_BACKEND_CUDA_H
#define DLCM_ENGINE_CUDA_BACKEND_CUDA_H

#include <stddef.h>

#include "engine/ops.h"

/* fp32 mode: allow (1, the default) or forbid (0) TF32 tensor cores in GEMMs. Tests forbid them
 * to compare with the CPU at fp32 tolerance. No effect on a bf16 backend or a non-CUDA one. */
void backend_cuda_set_tf32(Backend *be, int allow);

/* Bytes allocated through be->alloc (plus cuBLAS's workspace) at their peak; 0 off CUDA. */
size_t backend_cuda_peak_bytes(Backend *be);

/* Device memory in use on the whole GPU as the driver reports it (total - free), 0 off CUDA. */
size_t backend_cuda_device_bytes_used(Backend *be);

/* The GPU's name (e.g. "NVIDIA H100 80GB HBM3") into buf; "none" off CUDA. */
void backend_cuda_device_name(Backend *be, char *buf, int buflen);

/* Opens (on 1) or closes (on 0) the profiled range after the stream's work so far is done, for
 * `ncu --profile-from-start off` and `nsys --capture-range=cudaProfilerApi`: a profile of the
 * steps that matter, not of start-up and warm-up. No effect off CUDA. */
void backend_cuda_profile_range(Backend *be, int on);

#endif
