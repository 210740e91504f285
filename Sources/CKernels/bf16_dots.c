// The bfloat16 scan of the exact search (ckernels.h), for the vector units the CPU has. A
// little-endian 32-bit word of two bfloat16 values holds the even element in its low half and
// the odd one in its high half: `word << 16` and `word & 0xFFFF0000` are the two as exact floats.
#include "ckernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline float widen(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// Elements past the last whole block of 16, one by one.
static inline float tail(const float *query, const uint16_t *row, long from, long dimension) {
    float sum = 0;
    for (long j = from; j < dimension; j++) sum += query[j] * widen(row[j]);
    return sum;
}

__attribute__((target("avx2,fma")))
static inline __m256 block16_avx2(__m256 acc, const float *q, const uint16_t *row) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256i w = _mm256_loadu_si256((const __m256i *)row);
    __m256 even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    __m256 odd = _mm256_castsi256_ps(_mm256_and_si256(w, high));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q), even, acc);
    return _mm256_fmadd_ps(_mm256_loadu_ps(q + 8), odd, acc);
}

__attribute__((target("avx2,fma")))
static inline float sum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static void dots_avx2(const float *query, const uint16_t *rows, long count, long dimension, float *out) {
    const long blocks = dimension / 16;
    long r = 0;
    for (; r + 4 <= count; r += 4) {
        const uint16_t *g0 = rows + r * dimension, *g1 = g0 + dimension, *g2 = g1 + dimension, *g3 = g2 + dimension;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (long b = 0; b < blocks; b++) {
            const float *q = query + b * 16;
            a0 = block16_avx2(a0, q, g0 + b * 16);
            a1 = block16_avx2(a1, q, g1 + b * 16);
            a2 = block16_avx2(a2, q, g2 + b * 16);
            a3 = block16_avx2(a3, q, g3 + b * 16);
        }
        out[r] = sum256(a0) + tail(query, g0, blocks * 16, dimension);
        out[r + 1] = sum256(a1) + tail(query, g1, blocks * 16, dimension);
        out[r + 2] = sum256(a2) + tail(query, g2, blocks * 16, dimension);
        out[r + 3] = sum256(a3) + tail(query, g3, blocks * 16, dimension);
    }
    for (; r < count; r++) {
        const uint16_t *g = rows + r * dimension;
        __m256 a = _mm256_setzero_ps();
        for (long b = 0; b < blocks; b++) a = block16_avx2(a, query + b * 16, g + b * 16);
        out[r] = sum256(a) + tail(query, g, blocks * 16, dimension);
    }
}

/// Two blocks of 16 (32 values, 64 bytes) at once. `q32` is the query re-laid per pair of
/// blocks: the 16 even-indexed values of both blocks, then their 16 odd-indexed values.
__attribute__((target("avx512f")))
static inline __m512 block32_avx512(__m512 acc, const float *q32, const uint16_t *row) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512i w = _mm512_loadu_si512((const void *)row);
    __m512 even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    __m512 odd = _mm512_castsi512_ps(_mm512_and_si512(w, high));
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(q32), even, acc);
    return _mm512_fmadd_ps(_mm512_loadu_ps(q32 + 16), odd, acc);
}

__attribute__((target("avx512f")))
static void dots_avx512(const float *query, const uint16_t *rows, long count, long dimension, float *out) {
    const long pairs = dimension / 32, blocks = dimension / 16;
    // The query per pair of blocks: evens of both, then odds of both (at most 4,096 values here;
    // longer rows take the AVX2 path).
    float q32[4096];
    if (dimension > 4096) { dots_avx2(query, rows, count, dimension, out); return; }
    for (long p = 0; p < pairs; p++) {
        const float *b0 = query + p * 32, *b1 = b0 + 16;
        memcpy(q32 + p * 32, b0, 8 * sizeof(float));
        memcpy(q32 + p * 32 + 8, b1, 8 * sizeof(float));
        memcpy(q32 + p * 32 + 16, b0 + 8, 8 * sizeof(float));
        memcpy(q32 + p * 32 + 24, b1 + 8, 8 * sizeof(float));
    }
    const int odd_block = blocks > pairs * 2;  // one block of 16 left after the pairs
    long r = 0;
    for (; r + 4 <= count; r += 4) {
        const uint16_t *g0 = rows + r * dimension, *g1 = g0 + dimension, *g2 = g1 + dimension, *g3 = g2 + dimension;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (long p = 0; p < pairs; p++) {
            const float *q = q32 + p * 32;
            a0 = block32_avx512(a0, q, g0 + p * 32);
            a1 = block32_avx512(a1, q, g1 + p * 32);
            a2 = block32_avx512(a2, q, g2 + p * 32);
            a3 = block32_avx512(a3, q, g3 + p * 32);
        }
        float s0 = _mm512_reduce_add_ps(a0), s1 = _mm512_reduce_add_ps(a1);
        float s2 = _mm512_reduce_add_ps(a2), s3 = _mm512_reduce_add_ps(a3);
        if (odd_block) {
            const long b = pairs * 2;
            s0 += sum256(block16_avx2(_mm256_setzero_ps(), query + b * 16, g0 + b * 16));
            s1 += sum256(block16_avx2(_mm256_setzero_ps(), query + b * 16, g1 + b * 16));
            s2 += sum256(block16_avx2(_mm256_setzero_ps(), query + b * 16, g2 + b * 16));
            s3 += sum256(block16_avx2(_mm256_setzero_ps(), query + b * 16, g3 + b * 16));
        }
        out[r] = s0 + tail(query, g0, blocks * 16, dimension);
        out[r + 1] = s1 + tail(query, g1, blocks * 16, dimension);
        out[r + 2] = s2 + tail(query, g2, blocks * 16, dimension);
        out[r + 3] = s3 + tail(query, g3, blocks * 16, dimension);
    }
    if (r < count) dots_avx2(query, rows + r * dimension, count - r, dimension, out + r);
}

static void dots_generic(const float *query, const uint16_t *rows, long count, long dimension, float *out) {
    const long blocks = dimension / 16;
    for (long r = 0; r < count; r++) {
        const uint16_t *g = rows + r * dimension;
        float sum = 0;
        for (long b = 0; b < blocks; b++) {
            for (int i = 0; i < 8; i++) {
                sum += query[b * 16 + i] * widen(g[b * 16 + 2 * i]);
                sum += query[b * 16 + 8 + i] * widen(g[b * 16 + 2 * i + 1]);
            }
        }
        out[r] = sum + tail(query, g, blocks * 16, dimension);
    }
}

void vitrine_bf16_dots(const float *query, const unsigned short *rows, long count, long dimension, float *out) {
    switch (vitrine_simd_width()) {
    case 512: dots_avx512(query, rows, count, dimension, out); break;
    case 256: dots_avx2(query, rows, count, dimension, out); break;
    default: dots_generic(query, rows, count, dimension, out); break;
    }
}
