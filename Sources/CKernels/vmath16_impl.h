// Sixteen-lane float helpers shared by Vitrine's C kernels (gelu.c, attention.c): loads, stores,
// selects, and exp with the arithmetic of Sources/Tensor/VectorMath.swift. Included once per
// instruction set by a kernel file, with NAME(x) giving each copy its own names and the
// including file's `#pragma clang attribute` its target; needs the v16/i16 types and ALWAYS of
// vmath16.h.
ALWAYS v16 NAME(splat)(float x) { return (v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
ALWAYS v16 NAME(load)(const float *p) { v16 v; memcpy(&v, p, sizeof v); return v; }
ALWAYS void NAME(store)(float *p, v16 v) { memcpy(p, &v, sizeof v); }
ALWAYS i16 NAME(bits)(v16 v) { i16 i; memcpy(&i, &v, sizeof i); return i; }
ALWAYS v16 NAME(floats)(i16 i) { v16 v; memcpy(&v, &i, sizeof v); return v; }
/// mask ? b : a, lane by lane (mask lanes are all ones or all zeros).
ALWAYS v16 NAME(select)(i16 mask, v16 b, v16 a) { return NAME(floats)((mask & NAME(bits)(b)) | (~mask & NAME(bits)(a))); }
/// VectorMath.swift's vmin/vmax: the other operand where it compares less/greater.
ALWAYS v16 NAME(vmin)(v16 a, v16 b) { return NAME(select)(b < a, b, a); }
ALWAYS v16 NAME(vmax)(v16 a, v16 b) { return NAME(select)(b > a, b, a); }

/// VectorMath.swift's vexp: Cephes' polynomial with Cody-Waite reduction.
ALWAYS v16 NAME(vexp)(v16 x) {
    v16 clamped = NAME(vmin)(NAME(vmax)(x, NAME(splat)(-87)), NAME(splat)(88));
    v16 shifted = clamped * 1.44269504f + 12582912.0f;
    v16 n = shifted - 12582912.0f;
    v16 r = clamped - n * 0.693359375f + n * 2.1219444e-4f;
    v16 p = NAME(splat)(1.98756915e-4f);
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 1.66666555e-1f;
    p = p * r + 5.00000012e-1f;
    p = p * (r * r) + r + 1;
    i16 n_bits = NAME(bits)(shifted) - 0x4B400000;
    v16 scale = NAME(floats)((n_bits + 127) << 23);
    return p * scale;
}

/// Φ(-|x|) = erfc(|x|/√2)/2 (Numerical Recipes' erfcc); also |x|.
ALWAYS v16 NAME(half_erfc)(v16 x, v16 *ax_out) {
    v16 ax = NAME(floats)(NAME(bits)(x) & 0x7FFFFFFF);
    v16 z = ax * 0.7071067811865475f;
    v16 t = 1 / (1 + 0.5f * z);
    v16 p = NAME(splat)(0.17087277f);
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    *ax_out = ax;
    return 0.5f * t * NAME(vexp)(p - z * z);
}

ALWAYS v16 NAME(normal_cdf)(v16 x) {
    v16 ax;
    v16 h = NAME(half_erfc)(x, &ax);
    return NAME(select)(x < 0, h, 1 - h);
}

ALWAYS void NAME(normal_cdf_pdf)(v16 x, v16 *cdf, v16 *pdf) {
    v16 ax;
    v16 h = NAME(half_erfc)(x, &ax);
    *cdf = NAME(select)(x < 0, h, 1 - h);
    *pdf = NAME(vexp)(-0.5f * ax * ax) * 0.3989422804014327f;
}

/// The first n (< 16) floats of p, zeros in the other lanes.
ALWAYS v16 NAME(load_partial)(const float *p, long n) {
    v16 v = NAME(splat)(0);
    for (long j = 0; j < n; j++) v[j] = p[j];
    return v;
}
ALWAYS void NAME(store_partial)(float *p, v16 v, long n) {
    for (long j = 0; j < n; j++) p[j] = v[j];
}

// Bodies, instantiated once per instruction set.

