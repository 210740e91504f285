// Types for the sixteen-lane helpers of vmath16_impl.h (clang vector extensions: one AVX-512
// register, two AVX2 ones, or four SSE ones, as the including function's target allows).
#ifndef VITRINE_VMATH16_H
#define VITRINE_VMATH16_H

#include <string.h>

typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int i16 __attribute__((vector_size(64), aligned(4)));

#define ALWAYS static inline __attribute__((always_inline))

// The helpers take and return 64-byte vectors; on the AVX2 copies clang warns that such a call
// would pass them differently from AVX-512 code. Every helper is always inlined into a function
// of its own target, so no such call exists.
#pragma clang diagnostic ignored "-Wpsabi"

#endif
