// GELU (exact, erf form) for the CPU at hand: AVX-512, AVX2, or plain C vectors.
//
// The arithmetic is that of Sources/Tensor/VectorMath.swift (vexp, vHalfErfc) operation for
// operation, in IEEE single precision without fused multiply-adds, so every path (and the
// Swift fallback) gives the same bits for the same input: see ckernels.h. Swift's SIMD16
// compiles to baseline SSE; these are the same sixteen lanes in one AVX-512 register or two
// AVX2 ones.
#pragma clang fp contract(off)
#include "ckernels.h"

#include "vmath16.h"

#define NAME(x) x##_avx512
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#include "gelu_impl.h"
#pragma clang attribute pop
#undef NAME

#define NAME(x) x##_avx2
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "gelu_impl.h"
#pragma clang attribute pop
#undef NAME

#define NAME(x) x##_generic
#include "gelu_impl.h"
#undef NAME

void vitrine_gelu_forward_on(int simd, float *out, const float *in, long n) {
    switch (simd) {
    case 512: gelu_forward_avx512(out, in, n); break;
    case 256: gelu_forward_avx2(out, in, n); break;
    default: gelu_forward_generic(out, in, n);
    }
}

void vitrine_gelu_backward_on(int simd, float *d_in, const float *d_out, const float *in, long n, int accumulate) {
    switch (simd) {
    case 512: gelu_backward_avx512(d_in, d_out, in, n, accumulate); break;
    case 256: gelu_backward_avx2(d_in, d_out, in, n, accumulate); break;
    default: gelu_backward_generic(d_in, d_out, in, n, accumulate);
    }
}

void vitrine_bias_gelu_forward_on(int simd, float *out, float *pre, const float *bias, long rows, long width) {
    switch (simd) {
    case 512: bias_gelu_avx512(out, pre, bias, rows, width); break;
    case 256: bias_gelu_avx2(out, pre, bias, rows, width); break;
    default: bias_gelu_generic(out, pre, bias, rows, width);
    }
}

void vitrine_gelu_forward(float *out, const float *in, long n) {
    vitrine_gelu_forward_on(vitrine_simd_width(), out, in, n);
}

void vitrine_gelu_backward(float *d_in, const float *d_out, const float *in, long n, int accumulate) {
    vitrine_gelu_backward_on(vitrine_simd_width(), d_in, d_out, in, n, accumulate);
}

void vitrine_bias_gelu_forward(float *out, float *pre, const float *bias, long rows, long width) {
    vitrine_bias_gelu_forward_on(vitrine_simd_width(), out, pre, bias, rows, width);
}
