// A dense layer's product for few rows: C = A W^T (+ bias), W in PyTorch's
// [out, in] layout, with AVX-512.
//
// Why: at batch 1 (a caption of 16 tokens) OpenBLAS packs the whole weight
// matrix on every call and reaches ~80 GFLOP/s on this machine's AVX2 path.
// Here each output is a dot product of a row of A with a row of W, computed
// in blocks of 4 x 4 outputs: 16 AVX-512 accumulators, one 64-byte line of
// each of the 4 W rows per step, W read from memory once and reused from L1
// for every block of A's rows, with software prefetch two W blocks ahead.
// The 16 lane-wise partial sums are reduced at the end in a fixed order, so
// an output depends only on its two rows, never on the block it falls in.

#include "ckernels.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq")))
#define INLINE static inline __attribute__((always_inline))

enum { ROWS = 4, COLS = 4, LANES = 16, PREFETCH_BLOCKS = 2 };

// The four lane-wise sums of a, b, c, d, in one fixed order of additions.
AVX512 INLINE __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xEE));
    __m256 half = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
    return _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
}

// One block of mr rows of A by nr rows of W (mr, nr <= 4, constants after inlining).
// `prefetch` names W rows to pull into L1 while this block runs (NULL: none).
AVX512 INLINE void block(const int mr, const int nr, int k,
                         const float *a, int lda, const float *w, int ldw,
                         const float *bias, float *c, int ldc, const float *const *prefetch) {
    __m512 acc[ROWS][COLS];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] = _mm512_setzero_ps();
    int p = 0;
    for (; p + LANES <= k; p += LANES) {
        __m512 wv[COLS];
        for (int j = 0; j < nr; j++) {
            wv[j] = _mm512_loadu_ps(w + (size_t)j * ldw + p);
            if (prefetch) _mm_prefetch((const char *)(prefetch[j] + p), _MM_HINT_T0);
        }
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_loadu_ps(a + (size_t)i * lda + p);
            for (int j = 0; j < nr; j++) acc[i][j] = _mm512_fmadd_ps(av, wv[j], acc[i][j]);
        }
    }
    if (p < k) {
        __mmask16 tail = (__mmask16)((1u << (k - p)) - 1u);
        __m512 wv[COLS];
        for (int j = 0; j < nr; j++) wv[j] = _mm512_maskz_loadu_ps(tail, w + (size_t)j * ldw + p);
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_maskz_loadu_ps(tail, a + (size_t)i * lda + p);
            for (int j = 0; j < nr; j++) acc[i][j] = _mm512_fmadd_ps(av, wv[j], acc[i][j]);
        }
    }
    // Missing columns reduce as zeros, so every output is summed the same way.
    const __m512 zero = _mm512_setzero_ps();
    float b[COLS] = {0, 0, 0, 0};
    if (bias)
        for (int j = 0; j < nr; j++) b[j] = bias[j];
    const __m128 bv = _mm_loadu_ps(b);
    for (int i = 0; i < mr; i++) {
        __m128 s = _mm_add_ps(sum4(acc[i][0], nr > 1 ? acc[i][1] : zero, nr > 2 ? acc[i][2] : zero,
                                   nr > 3 ? acc[i][3] : zero), bv);
        float *out = c + (size_t)i * ldc;
        if (nr == COLS) {
            _mm_storeu_ps(out, s);
        } else {
            float v[COLS];
            _mm_storeu_ps(v, s);
            for (int j = 0; j < nr; j++) out[j] = v[j];
        }
    }
}

// All rows of A against nr rows of W starting at w (one column block of C).
AVX512 INLINE void column_block(const int nr, int m, int k, const float *a, int lda,
                                const float *w, int ldw, const float *bias, float *c, int ldc,
                                const float *const *prefetch) {
    int i = 0;
    // Prefetch the coming W rows during the first row block only: later blocks
    // reuse this W block from L1 and the coming rows are already on their way.
    for (; i + ROWS <= m; i += ROWS)
        block(ROWS, nr, k, a + (size_t)i * lda, lda, w, ldw, bias, c + (size_t)i * ldc, ldc,
              i == 0 ? prefetch : NULL);
    const float *rows_a = a + (size_t)i * lda;
    float *rows_c = c + (size_t)i * ldc;
    switch (m - i) {
    case 3: block(3, nr, k, rows_a, lda, w, ldw, bias, rows_c, ldc, i == 0 ? prefetch : NULL); break;
    case 2: block(2, nr, k, rows_a, lda, w, ldw, bias, rows_c, ldc, i == 0 ? prefetch : NULL); break;
    case 1: block(1, nr, k, rows_a, lda, w, ldw, bias, rows_c, ldc, i == 0 ? prefetch : NULL); break;
    default: break;
    }
}

AVX512 static void rows_gemm_nt_avx512(int m, int n, int k, const float *a, int lda, const float *w, int ldw,
                                       const float *bias, float *c, int ldc) {
    int j = 0;
    for (; j + COLS <= n; j += COLS) {
        // W rows PREFETCH_BLOCKS blocks ahead, clamped to the matrix.
        const float *ahead[COLS];
        for (int r = 0; r < COLS; r++) {
            int row = j + PREFETCH_BLOCKS * COLS + r;
            ahead[r] = w + (size_t)(row < n ? row : n - 1) * ldw;
        }
        column_block(COLS, m, k, a, lda, w + (size_t)j * ldw, ldw, bias ? bias + j : NULL, c + j, ldc, ahead);
    }
    const float *rest_w = w + (size_t)j * ldw;
    const float *rest_bias = bias ? bias + j : NULL;
    switch (n - j) {
    case 3: column_block(3, m, k, a, lda, rest_w, ldw, rest_bias, c + j, ldc, NULL); break;
    case 2: column_block(2, m, k, a, lda, rest_w, ldw, rest_bias, c + j, ldc, NULL); break;
    case 1: column_block(1, m, k, a, lda, rest_w, ldw, rest_bias, c + j, ldc, NULL); break;
    default: break;
    }
}

int vitrine_rows_gemm_nt_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}

void vitrine_rows_gemm_nt(int m, int n, int k, const float *a, int lda, const float *w, int ldw,
                          const float *bias, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    rows_gemm_nt_avx512(m, n, k, a, lda, w, ldw, bias, c, ldc);
}

#else

int vitrine_rows_gemm_nt_available(void) { return 0; }

void vitrine_rows_gemm_nt(int m, int n, int k, const float *a, int lda, const float *w, int ldw,
                          const float *bias, float *c, int ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)w; (void)ldw; (void)bias; (void)c; (void)ldc;
}

#endif
