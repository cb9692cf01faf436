/* engine/cuda/backend_cuda_absent.c: the CUDA backend's entry points in a build without CUDA:
 * they report that no GPU backend exists, so programs fall back to the CPU with a clear message. */
#include <stdio.h>

#include "engine/cuda/backend_cuda.h"
#include "engine/ops.h"

Backend *backend_cuda_create(int device, DType act_dtype, char *err, int errlen)
{
    (void)device;
    (void)act_dtype;
    snprintf(err, errlen, "this build has no CUDA backend (nvcc was not found when it was built)");
    return NULL;
}

int backend_cuda_available(void)
{
    return 0;
}

void backend_cuda_set_tf32(Backend *be, int allow)
{
    (void)be;
    (void)allow;
}

size_t backend_cuda_peak_bytes(Backend *be)
{
    (void)be;
    return 0;
}

size_t backend_cuda_device_bytes_used(Backend *be)
{
    (void)be;
    return 0;
}

void backend_cuda_device_name(Backend *be, char *buf, int buflen)
{
    (void)be;
    snprintf(buf, buflen, "none");
}

void backend_cuda_profile_range(Backend *be, int on)
{
    (void)be;
    (void)on;
}
