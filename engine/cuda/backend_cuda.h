/* engine/cuda/backend_cuda.h: CUDA-backend controls beyond the Backend table (ops.h): TF32 on
 * or off for fp32 GEMMs, and peak backend memory. Safe to call in builds without CUDA. */
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

#endif
