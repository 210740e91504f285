// Vitrine's own numeric kernels in C, for what Swift cannot vectorise well
// without target-specific flags. Each kernel is compiled for the instruction
// set it needs and chosen at run time; callers check availability first.
#ifndef VITRINE_CKERNELS_H
#define VITRINE_CKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when `vitrine_rows_gemm_nt` can run on this processor (AVX-512F and
/// AVX-512DQ), 0 otherwise.
int vitrine_rows_gemm_nt_available(void);

/// C[i, j] = sum_p A[i, p] * W[j, p] (+ bias[j]) for i < m, j < n: a dense
/// layer's forward product with PyTorch's [out, in] weight, for few rows.
///
/// Every output is one dot product of a row of A and a row of W, always
/// summed in the same order, so an output does not depend on m, n, or which
/// other rows or columns are computed with it (a block of columns may be
/// given to each thread). W is streamed once from memory, without packing.
///
/// A: m x k with row stride lda; W: n x k with row stride ldw; C: m x n with
/// row stride ldc (overwritten); bias: n floats, or NULL for none.
/// Only call when `vitrine_rows_gemm_nt_available()` returns 1.
void vitrine_rows_gemm_nt(int m, int n, int k,
                          const float *a, int lda,
                          const float *w, int ldw,
                          const float *bias,
                          float *c, int ldc);

/// A task of a parallel job: `task` runs from 0 to tasks - 1.
typedef void (*vitrine_task_fn)(void *context, int task);

/// Runs fn(context, 0) ... fn(context, tasks - 1) on the calling thread and
/// the pool's workers, and returns when all have finished. Workers poll for
/// the next job for 200 us after one ends, then sleep. Jobs started while the
/// pool is busy (from another thread, or from inside a task) run inline.
void vitrine_pool_run(int tasks, vitrine_task_fn fn, void *context);

/// The pool's worker threads (online cores - 1), started on first use.
int vitrine_pool_workers(void);

/// GELU, exact (erf) form, y = x * Φ(x), over n floats (`out` may alias `in`). gelu.c: the
/// arithmetic of Sources/Tensor/VectorMath.swift without fused multiply-adds, so every
/// instruction set gives the same bits. AVX-512, AVX2 or plain C (VITRINE_SIMD narrows it).
void vitrine_gelu_forward(float *out, const float *in, long n);
/// d_in (+)= d_out * (Φ(x) + x φ(x)), x = in: added when `accumulate` is non-zero.
void vitrine_gelu_backward(float *d_in, const float *d_out, const float *in, long n, int accumulate);
/// For each of `rows` rows of `width`: x = pre + bias (bias NULL: none); out = x Φ(x) and
/// pre = Φ(x) + x φ(x) (GELU's derivative, for the backward pass). `out` must not alias `pre`.
void vitrine_bias_gelu_forward(float *out, float *pre, const float *bias, long rows, long width);
/// The same three on a given path (512, 256 or 0, as `vitrine_simd_width`), for tests that
/// compare the paths; the path must be one the CPU can run.
void vitrine_gelu_forward_on(int simd, float *out, const float *in, long n);
void vitrine_gelu_backward_on(int simd, float *d_in, const float *d_out, const float *in, long n, int accumulate);
void vitrine_bias_gelu_forward_on(int simd, float *out, float *pre, const float *bias, long rows, long width);

/// One (batch item, head) of multi-head attention (attention.c). Pointers address this head's
/// first row and column; query, key, value, output and the gradients share one row stride
/// (`stride`, the packed feature width); probabilities and the dropout arrays are
/// query_length x key_length, contiguous.
typedef struct vitrine_attention_head {
    long query_length, key_length, head_dim, stride;
    float scale;                       // 1/sqrt(head_dim)
    const float *query, *key, *value;
    const float *key_mask;             // key_length values, 1 or 0; NULL for none
    const float *dropout_mask;         // multipliers 0 or 1/(1-p); NULL for none
    float *dropped_probabilities;      // P * dropout_mask (written forward, read backward)
    float *probabilities;              // softmax (written forward, read backward)
    float *output;                     // forward: P' V
    const float *d_output;             // backward: upstream gradient
    float *d_query, *d_key, *d_value;  // backward: gradients (added or overwritten)
} vitrine_attention_head;

/// P = softmax(scale Q Kᵀ with masked keys), output = (P * dropout) V. `scratch`: head_dim x
/// (key_length rounded up to a multiple of 16) floats. Masked keys get exactly 0; a row with every key masked is all zeros.
void vitrine_attention_head_forward(const vitrine_attention_head *head, float *scratch);
/// The gradients of the forward pass for the same head: added to d_query, d_key, d_value when
/// `accumulate` is non-zero, overwritten otherwise. `scratch`: as for the forward pass;
/// `d_scores`: query_length x key_length floats (destroyed).
void vitrine_attention_head_backward(const vitrine_attention_head *head, float *scratch, float *d_scores,
                                     int accumulate);
/// The same two on a given path (512, 256 or 0, as `vitrine_simd_width`), for tests that compare
/// the paths; the path must be one the CPU can run.
void vitrine_attention_head_forward_on(int simd, const vitrine_attention_head *head, float *scratch);
void vitrine_attention_head_backward_on(int simd, const vitrine_attention_head *head, float *scratch,
                                        float *d_scores, int accumulate);

#ifdef __cplusplus
}
#endif

#endif

// AdamW's update of one contiguous run of parameters (docs/model.md §6), in place:
//   g' = g * grad_scale; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'*g';
//   p = p*decay - step*m / (sqrt(v)/root_c2 + eps); g = 0 when zero_grad.
// Every operation is IEEE single precision in this order with no fused multiply-add, so the
// result is bit-identical to the scalar loop, whichever vector width the CPU gives.
void vitrine_adamw(float *p, float *g, float *m, float *v, long n,
                   float beta1, float beta2, float epsilon, float grad_scale,
                   float decay_factor, float step_size, float root_correction2, int zero_grad);
/// The widest vector path Vitrine's C kernels take on this CPU: 512, 256 (AVX2 and FMA) or 0 (plain C).
int vitrine_simd_width(void);

/// Whether the CPU has what OpenBLAS's SkylakeX kernels use (AVX-512 F, DQ, BW, VL).
int vitrine_cpu_has_avx512_blas(void);
/// Whether the CPU has AVX2 and FMA (OpenBLAS's Haswell kernels).
int vitrine_cpu_has_avx2_fma(void);

/// Approximate scores of `count` bfloat16 rows (`dimension` values each, row-major) against a
/// query laid out as Kernels.interleavedQuery lays it out (per block of 16: the 8 even-indexed,
/// then the 8 odd-indexed values; the rest in order), into `out`. Sums run in any order, with
/// fused multiply-adds where the CPU has them: the exact search's error bound covers both.
/// AVX-512 or AVX2 as the CPU allows (VITRINE_SIMD=avx2|scalar narrows it), else plain C.
void vitrine_bf16_dots(const float *query, const unsigned short *rows, long count, long dimension, float *out);
