// Multi-head attention for one (batch item, head) at a time, for the short sequences of
// CAPTURE's streams (tens of tokens, head width 32), where a BLAS call per small product costs
// more than the product. AVX-512, AVX2 or plain C, chosen at run time (VITRINE_SIMD narrows
// it); sums may use fused multiply-adds, so paths agree to rounding, not bit for bit.
#include "ckernels.h"

#include "vmath16.h"

#define NAME(x) x##_avx512
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,fma"))), apply_to = function)
#include "attention_impl.h"
#pragma clang attribute pop
#undef NAME

#define NAME(x) x##_avx2
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "attention_impl.h"
#pragma clang attribute pop
#undef NAME

#define NAME(x) x##_generic
#include "attention_impl.h"
#undef NAME

void vitrine_attention_head_forward_on(int simd, const vitrine_attention_head *head, float *scratch) {
    switch (simd) {
    case 512: attention_forward_avx512(head, scratch); break;
    case 256: attention_forward_avx2(head, scratch); break;
    default: attention_forward_generic(head, scratch);
    }
}

void vitrine_attention_head_backward_on(int simd, const vitrine_attention_head *head, float *scratch,
                                        float *d_scores, int accumulate) {
    switch (simd) {
    case 512: attention_backward_avx512(head, scratch, d_scores, accumulate); break;
    case 256: attention_backward_avx2(head, scratch, d_scores, accumulate); break;
    default: attention_backward_generic(head, scratch, d_scores, accumulate);
    }
}

void vitrine_attention_head_forward(const vitrine_attention_head *head, float *scratch) {
    vitrine_attention_head_forward_on(vitrine_simd_width(), head, scratch);
}

void vitrine_attention_head_backward(const vitrine_attention_head *head, float *scratch, float *d_scores,
                                     int accumulate) {
    vitrine_attention_head_backward_on(vitrine_simd_width(), head, scratch, d_scores, accumulate);
}
