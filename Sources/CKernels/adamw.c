// AdamW's element-wise update, vectorised for the CPU at hand (AVX-512, AVX2, or plain C).
// Built without floating-point contraction so that every path rounds exactly as the scalar
// loop does: see ckernels.h.
#pragma clang fp contract(off)
#include "ckernels.h"

#include <stdlib.h>
#include <string.h>

#define ADAMW_BODY                                                                  \
    for (long i = 0; i < n; i++) {                                                  \
        float gi = g[i] * grad_scale;                                               \
        if (zero_grad) g[i] = 0;                                                    \
        float mi = beta1 * m[i] + one_minus_beta1 * gi;                             \
        float vi = beta2 * v[i] + one_minus_beta2 * gi * gi;                        \
        m[i] = mi;                                                                  \
        v[i] = vi;                                                                  \
        float denominator = __builtin_sqrtf(vi) / root_correction2 + epsilon;       \
        p[i] = p[i] * decay_factor - step_size * mi / denominator;                  \
    }

#define ADAMW_SIGNATURE(name)                                                        \
    static void name(float *restrict p, float *restrict g, float *restrict m,       \
                     float *restrict v, long n, float beta1, float beta2,           \
                     float epsilon, float grad_scale, float decay_factor,           \
                     float step_size, float root_correction2, int zero_grad)

__attribute__((target("avx512f"))) ADAMW_SIGNATURE(adamw_avx512) {
    const float one_minus_beta1 = 1 - beta1, one_minus_beta2 = 1 - beta2;
#pragma clang loop vectorize(enable) interleave(enable)
    ADAMW_BODY
}

__attribute__((target("avx2"))) ADAMW_SIGNATURE(adamw_avx2) {
    const float one_minus_beta1 = 1 - beta1, one_minus_beta2 = 1 - beta2;
#pragma clang loop vectorize(enable) interleave(enable)
    ADAMW_BODY
}

ADAMW_SIGNATURE(adamw_generic) {
    const float one_minus_beta1 = 1 - beta1, one_minus_beta2 = 1 - beta2;
    ADAMW_BODY
}

int vitrine_simd_width(void) {
    static int width = -1;
    if (width < 0) {
        const char *forced = getenv("VITRINE_SIMD");  // "avx2" or "scalar": for comparisons and tests
        if (forced && strcmp(forced, "scalar") == 0) width = 0;
        else if (forced && strcmp(forced, "avx2") == 0) width = vitrine_cpu_has_avx2_fma() ? 256 : 0;
        else if (__builtin_cpu_supports("avx512f")) width = 512;
        else if (vitrine_cpu_has_avx2_fma()) width = 256;
        else width = 0;
    }
    return width;
}

void vitrine_adamw(float *p, float *g, float *m, float *v, long n,
                   float beta1, float beta2, float epsilon, float grad_scale,
                   float decay_factor, float step_size, float root_correction2, int zero_grad) {
    switch (vitrine_simd_width()) {
    case 512: adamw_avx512(p, g, m, v, n, beta1, beta2, epsilon, grad_scale, decay_factor, step_size, root_correction2, zero_grad); break;
    case 256: adamw_avx2(p, g, m, v, n, beta1, beta2, epsilon, grad_scale, decay_factor, step_size, root_correction2, zero_grad); break;
    default: adamw_generic(p, g, m, v, n, beta1, beta2, epsilon, grad_scale, decay_factor, step_size, root_correction2, zero_grad); break;
    }
}

int vitrine_cpu_has_avx512_blas(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

int vitrine_cpu_has_avx2_fma(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
