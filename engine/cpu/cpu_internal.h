/* engine/cpu/cpu_internal.h: the CPU backend's op functions, shared between the files of
 * engine/cpu/ so backend.c can fill the Backend table. Not part of the engine's interface. */
#ifndef DLCM_ENGINE_CPU_INTERNAL_H
#define DLCM_ENGINE_CPU_INTERNAL_H

#include "engine/ops.h"

/* backend.c: the single wrapper over cblas_sgemm (row-major, fp32; counts nothing). */
void cpu_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* layers.c */
void cpu_embedding_forward(Backend *be, void *out, const int32_t *tokens, const void *table,
                           int N, int d);
void cpu_embedding_backward(Backend *be, float *dtable, const void *dout, const int32_t *tokens,
                            int N, int d);
void cpu_rmsnorm_forward(Backend *be, void *y, float *rstd, const void *x, const void *gain,
                         int N, int d, float eps);
void cpu_rmsnorm_backward(Backend *be, void *dx, float *dgain, const void *dy, const void *x,
                          const void *gain, const float *rstd, int N, int d);
void cpu_head_norm_rope_forward(Backend *be, void *out, float *rstd, const void *in,
                                int in_stride, const void *gain, int B, int T, int H,
                                int use_rope, float eps);
void cpu_head_norm_rope_backward(Backend *be, void *din, int din_stride, float *dgain,
                                 const void *dout, const void *in, int in_stride,
                                 const void *gain, const float *rstd, int B, int T, int H,
                                 int use_rope);
void cpu_swiglu_forward(Backend *be, void *h, const void *gate_up, int N, int f);
void cpu_swiglu_backward(Backend *be, void *dgate_up, const void *dh, const void *gate_up,
                         int N, int f);
void cpu_cross_entropy(Backend *be, float *losses, void *dlogits, const void *logits,
                       const int32_t *targets, int N, int V, float logit_scale, float dloss);

/* attention.c */
void cpu_attention_forward(Backend *be, void *out, float *lse, const void *q, const void *k,
                           const void *v, const AttnShape *s);
void cpu_attention_backward(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                            float *dv_null, const void *dout, const void *out, const float *lse,
                            const void *q, const void *k, const void *v, const AttnShape *s);

/* concepts.c */
void cpu_router_forward(Backend *be, float *p, const void *q, const void *k, int B, int T, int d);
void cpu_router_backward(Backend *be, void *dq, void *dk, const float *dp, const void *q,
                         const void *k, int B, int T, int d);
void cpu_boundary_sample(Backend *be, int32_t *b, const float *p, int n, float threshold,
                         float tau, uint64_t seed, uint64_t offset);
void cpu_segment_index(Backend *be, int32_t *seg, int32_t *starts, int32_t *counts,
                       int32_t *key_count, const int32_t *b, int B, int T, int include_own);
void cpu_segment_mean_forward(Backend *be, void *c, const void *h, const int32_t *starts,
                              const int32_t *counts, int B, int T, int M, int d);
void cpu_segment_mean_backward(Backend *be, void *dh, const void *dc, const int32_t *seg,
                               const int32_t *starts, const int32_t *counts, int B, int T, int M,
                               int d);
void cpu_concepts_pack(Backend *be, void *packed, const void *padded, const int32_t *counts, int B,
                       int M, int packed_rows, int width);
void cpu_concepts_pad(Backend *be, void *padded, const void *packed, const int32_t *counts, int B,
                      int M, int width);
void cpu_ema_forward(Backend *be, void *zt, const void *z, const float *p, const int32_t *starts,
                     const int32_t *counts, int B, int T, int M, int d);
void cpu_ema_backward(Backend *be, void *dz, float *dp, const void *dzt, const void *z,
                      const void *zt, const float *p, const int32_t *starts,
                      const int32_t *counts, int B, int T, int M, int d);
void cpu_add_per_row(Backend *be, float *dp, const float *coef_host, int B, int T);

#endif
