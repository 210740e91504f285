// The GELU kernels' body, included by gelu.c once per instruction set with NAME(x) giving each
// copy its own names and a `#pragma clang attribute` giving its functions their target (so no
// 64-byte vector crosses a function boundary between different targets).
#include "vmath16_impl.h"

#define GELU_FORWARD_BODY                                                          \
    long i = 0;                                                                    \
    for (; i + 16 <= n; i += 16) { v16 x = NAME(load)(in + i); NAME(store)(out + i, x * NAME(normal_cdf)(x)); } \
    if (i < n) { v16 x = NAME(load_partial)(in + i, n - i); NAME(store_partial)(out + i, x * NAME(normal_cdf)(x), n - i); }

#define GELU_BACKWARD_BODY                                                         \
    long i = 0;                                                                    \
    for (; i + 16 <= n; i += 16) {                                                 \
        v16 x = NAME(load)(in + i), cdf, pdf;                                            \
        NAME(normal_cdf_pdf)(x, &cdf, &pdf);                                             \
        v16 g = NAME(load)(d_out + i) * (cdf + x * pdf);                                 \
        NAME(store)(d_in + i, accumulate ? NAME(load)(d_in + i) + g : g);                      \
    }                                                                              \
    if (i < n) {                                                                   \
        long rest = n - i;                                                         \
        v16 x = NAME(load_partial)(in + i, rest), cdf, pdf;                              \
        NAME(normal_cdf_pdf)(x, &cdf, &pdf);                                             \
        v16 g = NAME(load_partial)(d_out + i, rest) * (cdf + x * pdf);                   \
        for (long j = 0; j < rest; j++) d_in[i + j] = accumulate ? d_in[i + j] + g[j] : g[j]; \
    }

#define BIAS_GELU_BODY                                                             \
    for (long r = 0; r < rows; r++) {                                              \
        float *x0 = pre + r * width, *y0 = out + r * width;                        \
        long c = 0;                                                                \
        for (; c + 16 <= width; c += 16) {                                         \
            v16 x = NAME(load)(x0 + c), cdf, pdf;                                        \
            if (bias) x += NAME(load)(bias + c);                                         \
            NAME(normal_cdf_pdf)(x, &cdf, &pdf);                                         \
            NAME(store)(y0 + c, x * cdf);                                                \
            NAME(store)(x0 + c, cdf + x * pdf);                                          \
        }                                                                          \
        if (c < width) {                                                           \
            long rest = width - c;                                                 \
            v16 x = NAME(splat)(0), cdf, pdf;                                            \
            for (long j = 0; j < rest; j++) x[j] = x0[c + j] + (bias ? bias[c + j] : 0); \
            NAME(normal_cdf_pdf)(x, &cdf, &pdf);                                         \
            v16 y = x * cdf, d = cdf + x * pdf;                                    \
            NAME(store_partial)(y0 + c, y, rest);                                        \
            NAME(store_partial)(x0 + c, d, rest);                                        \
        }                                                                          \
    }

static void NAME(gelu_forward)(float *out, const float *in, long n) { GELU_FORWARD_BODY }
static void NAME(gelu_backward)(float *d_in, const float *d_out, const float *in, long n, int accumulate) {
    GELU_BACKWARD_BODY
}
static void NAME(bias_gelu)(float *out, float *pre, const float *bias, long rows, long width) { BIAS_GELU_BODY }

#undef GELU_FORWARD_BODY
#undef GELU_BACKWARD_BODY
#undef BIAS_GELU_BODY
