// Inverted dropout with a seeded mask: in training each element is kept with
// probability 1 - p and scaled by 1/(1 - p); in evaluation dropout is the
// identity (do not call it). The mask is stored as the multiplier itself
// (0 or 1/(1 - p)), so the backward pass is one multiply.

/// Fills `mask` with dropout multipliers: 0 with probability `probability`
/// (rounded to a multiple of 1/65,536: each element compares a 16-bit uniform),
/// `1 / (1 - probability)` otherwise.
///
/// One 64-bit seed is drawn from `rng`; the mask is then generated in fixed
/// blocks of 4,096 elements, each from its own generator seeded by
/// (seed, block), so it is the same for a seed whatever the number of cores.
public func dropoutMaskFill(_ mask: UnsafeMutablePointer<Float>, count: Int, probability: Float,
                            rng: inout SeededRNG) {
    KernelProfile.timed(.dropout) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1), got \(probability)")
        let seed = rng.next()
        let keep = 1 / (1 - probability)
        // Compare 16-bit uniforms against the threshold: four draws per 64-bit number.
        let threshold = UInt64((probability * 65536).rounded())
        let block = 4096
        Parallel.forEachRange((count + block - 1) / block, workPerItem: block * 4) { range in
            for blockIndex in range {
                var local = SeededRNG(seed: seed ^ (UInt64(blockIndex) &* 0x9E37_79B9_7F4A_7C15))
                let start = blockIndex * block, end = min(count, start + block)
                var i = start
                while i < end {
                    var bits = local.next()
                    for _ in 0..<4 where i < end {
                        mask[i] = (bits & 0xFFFF) < threshold ? 0 : keep
                        bits >>= 16; i += 1
                    }
                }
            }
        }
    }
}

/// `output[i] = input[i] * mask[i]` (training-mode dropout with a mask from
/// `dropoutMaskFill`). `output` may alias `input`.
public func dropoutForward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                           mask: UnsafePointer<Float>, count: Int) {
    KernelProfile.timed(.dropout) {
        let block = 4096
        Parallel.forEachRange((count + block - 1) / block, workPerItem: block) { range in
            let start = range.lowerBound * block, end = min(count, range.upperBound * block)
            multiply(output + start, input + start, mask + start, end - start)
        }
    }
}

/// `dInput[i] (+)= dOutput[i] * mask[i]`: accumulated when `accumulate` is true,
/// overwritten otherwise (then `dInput` may alias `dOutput`).
public func dropoutBackward(dInput: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                            mask: UnsafePointer<Float>, count: Int, accumulate: Bool = false) {
    KernelProfile.timed(.dropout) {
        let block = 4096
        Parallel.forEachRange((count + block - 1) / block, workPerItem: block) { range in
            let start = range.lowerBound * block, end = min(count, range.upperBound * block)
            var i = start
            while i + 16 <= end {
                let g = load16(dOutput + i) * load16(mask + i)
                store16(accumulate ? load16(dInput + i) + g : g, dInput + i)
                i += 16
            }
            while i < end { let g = dOutput[i] * mask[i]; dInput[i] = accumulate ? dInput[i] + g : g; i += 1 }
        }
    }
}
