// The attention kernels' body, included by attention.c once per instruction set (NAME(x) gives
// each copy its own names, the including file's `#pragma clang attribute` its target).
#include "vmath16_impl.h"

/// In place: softmax of one row of n scores; masked entries (mask 0) become exactly 0 and a row
/// whose entries are all masked becomes all zeros. The sum runs in sixteen lanes, then a tree.
ALWAYS void NAME(softmax_row)(float *row, const float *mask, long n) {
    const v16 minus_infinity = NAME(splat)(-__builtin_inff());
    v16 top = minus_infinity;
    for (long j = 0; j < n; j += 16) {
        v16 x = minus_infinity, keep = NAME(splat)(1);
        if (j + 16 <= n) {
            x = NAME(load)(row + j);
            if (mask) keep = NAME(load)(mask + j);
        } else {
            for (long l = 0; l < n - j; l++) { x[l] = row[j + l]; keep[l] = mask ? mask[j + l] : 1; }
        }
        top = NAME(vmax)(top, NAME(select)(keep == 0, minus_infinity, x));
    }
    float max_value = top[0];
    for (int l = 1; l < 16; l++)
        if (top[l] > max_value) max_value = top[l];
    if (max_value == -__builtin_inff()) {
        for (long j = 0; j < n; j++) row[j] = 0;
        return;
    }
    v16 acc = NAME(splat)(0), mv = NAME(splat)(max_value);
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        v16 e = NAME(vexp)(NAME(load)(row + j) - mv);
        if (mask) e *= NAME(load)(mask + j);
        NAME(store)(row + j, e);
        acc += e;
    }
    if (j < n) {
        long rest = n - j;
        v16 x = mv, keep = NAME(splat)(0);
        for (long l = 0; l < rest; l++) { x[l] = row[j + l]; keep[l] = mask ? mask[j + l] : 1; }
        v16 e = NAME(vexp)(x - mv) * keep;
        NAME(store_partial)(row + j, e, rest);
        acc += e;
    }
    float total = 0;
    {
        float lanes[16];
        memcpy(lanes, &acc, sizeof lanes);
        for (int w = 8; w >= 1; w /= 2)
            for (int l = 0; l < w; l++) lanes[l] += lanes[l + w];
        total = lanes[0];
    }
    float inv = 1 / total;
    for (long l = 0; l < n; l++) row[l] *= inv;
}

// The small products below keep their sums in registers: R rows by NV 16-lane vectors (R and
// NV known at compile time, R * NV <= 8), so no sum goes through memory between steps and enough
// independent sums are in flight to hide the latency of a fused multiply-add.

/// Rows [t0, t0 + R) and columns [c0, c0 + 16 NV) of s[t, :] = scale * sum_d a[t, d] * bt[d, :],
/// bt with row stride ldbt (a multiple of 16, zero-padded); columns at or past `cols` are not stored.
ALWAYS void NAME(scores_block)(float *s, const float *a, long lda, const float *bt, long ldbt, long t0,
                               long cols, long depth, float scale, long c0, const int R, const int NV) {
    v16 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int u = 0; u < NV; u++) acc[r][u] = NAME(splat)(0);
    for (long d = 0; d < depth; d++) {
        const float *b = bt + d * ldbt + c0;
        v16 bv[4];
        for (int u = 0; u < NV; u++) bv[u] = NAME(load)(b + 16 * u);
        for (int r = 0; r < R; r++) {
            v16 x = NAME(splat)(a[(t0 + r) * lda + d]);
            for (int u = 0; u < NV; u++) acc[r][u] += x * bv[u];
        }
    }
    for (int r = 0; r < R; r++)
        for (int u = 0; u < NV; u++) {
            long c = c0 + 16 * u;
            if (c >= cols) break;
            v16 y = acc[r][u] * scale;
            float *o = s + (t0 + r) * cols + c;
            if (c + 16 <= cols) NAME(store)(o, y);
            else NAME(store_partial)(o, y, cols - c);
        }
}

#define VITRINE_ROW_BLOCKS(CALL, NVV)                                                  \
    do {                                                                                \
        const int rb = (NVV) <= 2 ? 4 : 2;                                              \
        long t = 0;                                                                     \
        if (rb == 4) for (; t + 4 <= rows; t += 4) CALL(t, 4, NVV);                     \
        else for (; t + 2 <= rows; t += 2) CALL(t, 2, NVV);                             \
        for (; t < rows; t++) CALL(t, 1, NVV);                                          \
    } while (0)

/// s[t, j] = scale * sum_d a[t, d] * bt[d, j] for t < rows, j < cols (s: rows x cols, contiguous).
ALWAYS void NAME(scores)(float *s, const float *a, long lda, const float *bt, long ldbt, long rows, long cols,
                         long depth, float scale) {
    for (long c0 = 0; c0 < cols; c0 += 64) {
        long left = (cols - c0 + 15) / 16;
#define SCORES_CALL(t, R, NV) NAME(scores_block)(s, a, lda, bt, ldbt, t, cols, depth, scale, c0, R, NV)
        if (left >= 4) VITRINE_ROW_BLOCKS(SCORES_CALL, 4);
        else if (left == 3) VITRINE_ROW_BLOCKS(SCORES_CALL, 3);
        else if (left == 2) VITRINE_ROW_BLOCKS(SCORES_CALL, 2);
        else VITRINE_ROW_BLOCKS(SCORES_CALL, 1);
#undef SCORES_CALL
    }
}

/// bt[d, j] = b[j, d] for j < cols, d < depth, with row stride ldbt = cols rounded up to 16;
/// the padding columns are zero. b has row stride ldb.
ALWAYS void NAME(transpose)(float *restrict bt, long ldbt, const float *restrict b, long ldb, long cols, long depth) {
    for (long d = 0; d < depth; d++)
        for (long j = cols; j < ldbt; j++) bt[d * ldbt + j] = 0;
    for (long j = 0; j < cols; j++)
        for (long d = 0; d < depth; d++) bt[d * ldbt + j] = b[j * ldb + d];
}

/// Rows [r0, r0 + R) and columns [d0, d0 + 16 NV) of out[r, :] (+)= sum_i w(r, i) * v[i, :],
/// i < inner, with w(r, i) = w[r * wr + i * wi] (so the same code serves w and its transpose).
ALWAYS void NAME(weighted_block)(float *out, long ldo, const float *w, long wr, long wi, const float *v, long ldv,
                                 long r0, long inner, int accumulate, long d0, const int R, const int NV) {
    v16 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int u = 0; u < NV; u++) acc[r][u] = NAME(splat)(0);
    for (long i = 0; i < inner; i++) {
        const float *vi = v + i * ldv + d0;
        v16 vv[4];
        for (int u = 0; u < NV; u++) vv[u] = NAME(load)(vi + 16 * u);
        for (int r = 0; r < R; r++) {
            v16 x = NAME(splat)(w[(r0 + r) * wr + i * wi]);
            for (int u = 0; u < NV; u++) acc[r][u] += x * vv[u];
        }
    }
    for (int r = 0; r < R; r++) {
        float *o = out + (r0 + r) * ldo + d0;
        for (int u = 0; u < NV; u++) NAME(store)(o + 16 * u, accumulate ? NAME(load)(o + 16 * u) + acc[r][u] : acc[r][u]);
    }
}

/// out[r, :] (+)= sum_i w(r, i) * v[i, :] over `depth` columns (see weighted_block): registers
/// for the whole sixteens of depth, a plain loop for the rest.
ALWAYS void NAME(weighted)(float *out, long ldo, const float *w, long wr, long wi, const float *v, long ldv,
                           long rows, long inner, long depth, int accumulate) {
    long d0 = 0;
#define WEIGHTED_CALL(t, R, NV) NAME(weighted_block)(out, ldo, w, wr, wi, v, ldv, t, inner, accumulate, d0, R, NV)
    while (d0 + 16 <= depth) {
        long left = (depth - d0) / 16;
        if (left >= 4) { VITRINE_ROW_BLOCKS(WEIGHTED_CALL, 4); d0 += 64; }
        else if (left == 3) { VITRINE_ROW_BLOCKS(WEIGHTED_CALL, 3); d0 += 48; }
        else if (left == 2) { VITRINE_ROW_BLOCKS(WEIGHTED_CALL, 2); d0 += 32; }
        else { VITRINE_ROW_BLOCKS(WEIGHTED_CALL, 1); d0 += 16; }
    }
#undef WEIGHTED_CALL
    if (d0 >= depth) return;
    for (long r = 0; r < rows; r++) {
        float *o = out + r * ldo;
        for (long d = d0; d < depth; d++) {
            float sum = 0;
            for (long i = 0; i < inner; i++) sum += w[r * wr + i * wi] * v[i * ldv + d];
            o[d] = accumulate ? o[d] + sum : sum;
        }
    }
}

static void NAME(attention_forward)(const vitrine_attention_head *h, float *scratch) {
    const long tq = h->query_length, tk = h->key_length, dd = h->head_dim;
    const long ldt = (tk + 15) / 16 * 16;
    NAME(transpose)(scratch, ldt, h->key, h->stride, tk, dd);
    NAME(scores)(h->probabilities, h->query, h->stride, scratch, ldt, tq, tk, dd, h->scale);
    for (long t = 0; t < tq; t++) NAME(softmax_row)(h->probabilities + t * tk, h->key_mask, tk);
    const float *weights = h->probabilities;
    if (h->dropout_mask) {
        for (long i = 0; i < tq * tk; i++) h->dropped_probabilities[i] = h->probabilities[i] * h->dropout_mask[i];
        weights = h->dropped_probabilities;
    }
    NAME(weighted)(h->output, h->stride, weights, tk, 1, h->value, h->stride, tq, tk, dd, 0);
}

static void NAME(attention_backward)(const vitrine_attention_head *h, float *scratch, float *ds, int accumulate) {
    const long tq = h->query_length, tk = h->key_length, dd = h->head_dim;
    const float *p = h->probabilities;
    const float *weights = h->dropout_mask ? h->dropped_probabilities : p;
    // dV = P'ᵀ dO
    NAME(weighted)(h->d_value, h->stride, weights, 1, tk, h->d_output, h->stride, tk, tq, dd, accumulate);
    // dP' = dO Vᵀ, then through the dropout mask
    const long ldt = (tk + 15) / 16 * 16;
    NAME(transpose)(scratch, ldt, h->value, h->stride, tk, dd);
    NAME(scores)(ds, h->d_output, h->stride, scratch, ldt, tq, tk, dd, 1);
    if (h->dropout_mask)
        for (long i = 0; i < tq * tk; i++) ds[i] *= h->dropout_mask[i];
    // softmax backward with the scores' scale folded in: ds = scale * p * (ds - <ds, p>)
    for (long t = 0; t < tq; t++) {
        float *restrict d = ds + t * tk;
        const float *restrict pt = p + t * tk;
        float dot = 0;
        for (long j = 0; j < tk; j++) dot += d[j] * pt[j];
        for (long j = 0; j < tk; j++) d[j] = pt[j] * (d[j] - dot) * h->scale;
    }
    // dQ = dS K, dK = dSᵀ Q
    NAME(weighted)(h->d_query, h->stride, ds, tk, 1, h->key, h->stride, tq, tk, dd, accumulate);
    NAME(weighted)(h->d_key, h->stride, ds, 1, tk, h->query, h->stride, tk, tq, dd, accumulate);
}

#undef VITRINE_ROW_BLOCKS
