import Foundation

/// One trainable tensor of a model: its checkpoint name, shape, values and
/// gradient, and whether weight decay applies to it.
///
/// Layers create their parameters with full checkpoint names (docs/model.md
/// §8.2, e.g. `text.encoder.layer.0.attention.self.query.weight`) and read
/// and write `value` and `grad` through their pointers. Gradients are always
/// accumulated by the backward kernels; `ParameterSet.zeroGradients()` clears
/// them once per optimiser step.
public final class Parameter: @unchecked Sendable {
    /// The checkpoint name.
    public let name: String
    /// The shape, outermost first (`[out, in]` for a linear weight).
    public let shape: [Int]
    public let value: FloatBuffer
    public let grad: FloatBuffer
    /// Whether AdamW's decoupled weight decay applies (false for biases,
    /// LayerNorm weights and biases).
    public let decays: Bool
    /// Frozen parameters (false) are skipped by the optimiser, by gradient
    /// clipping, and by layers that check it before computing their gradient.
    public var isTrainable: Bool
    /// This parameter's learning rate as a fraction of the schedule's (pretrained layers can
    /// learn more slowly than layers trained from scratch); 1 unless set.
    public var learningRateScale: Float = 1

    public init(name: String, shape: [Int], decays: Bool, isTrainable: Bool = true) {
        precondition(shape.allSatisfy { $0 >= 0 }, "parameter \(name): negative dimension in \(shape)")
        self.name = name
        self.shape = shape
        let count = shape.reduce(1, *)
        value = FloatBuffer(count: count)
        grad = FloatBuffer(count: count)
        self.decays = decays
        self.isTrainable = isTrainable
    }

    /// Number of floats.
    public var count: Int { value.count }

    /// Fills the values from N(0, std²), BERT's initialisation for weights (std 0.02).
    public func initializeNormal(std: Float, rng: inout SeededRNG) {
        let p = value.pointer
        for i in 0..<count { p[i] = rng.normal() * std }
    }

    /// Sets every value to `constant` (0 for biases, 1 for LayerNorm weights).
    public func initialize(to constant: Float) { value.fill(constant) }
}

/// An error in matching parameters by name and shape.
public enum ParameterError: Error, CustomStringConvertible, Equatable {
    case duplicateName(String)
    case missing(String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .duplicateName(let name):
            return "parameter name \"\(name)\" is used twice; every tensor of a model needs its own name"
        case .missing(let name):
            return "no parameter named \"\(name)\""
        case .shapeMismatch(let name, let expected, let found):
            return "parameter \"\(name)\" has shape \(expected) but the source has \(found)"
        }
    }
}

/// The parameters of a model (or of part of one) in a fixed order, found by name.
///
/// A value type holding references: copying a set does not copy the tensors.
public struct ParameterSet: Sendable, Sequence {
    public private(set) var parameters: [Parameter] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// A set of `parameters`; names must be unique.
    public init(_ parameters: [Parameter]) throws {
        for p in parameters { try append(p) }
    }

    /// Adds a parameter; fails if its name is taken.
    public mutating func append(_ parameter: Parameter) throws {
        guard index[parameter.name] == nil else { throw ParameterError.duplicateName(parameter.name) }
        index[parameter.name] = parameters.count
        parameters.append(parameter)
    }

    /// Adds every parameter of `other`; fails on the first name already taken.
    public mutating func append(contentsOf other: ParameterSet) throws {
        for p in other.parameters { try append(p) }
    }

    public subscript(name: String) -> Parameter? { index[name].map { parameters[$0] } }

    /// The parameter called `name` with shape `shape`, or a clear error.
    public func require(_ name: String, shape: [Int]) throws -> Parameter {
        guard let p = self[name] else { throw ParameterError.missing(name) }
        guard p.shape == shape else { throw ParameterError.shapeMismatch(name: name, expected: p.shape, found: shape) }
        return p
    }

    public var count: Int { parameters.count }
    public var names: [String] { parameters.map(\.name) }
    /// Total number of floats.
    public var scalarCount: Int { parameters.reduce(0) { $0 + $1.count } }
    public var trainable: [Parameter] { parameters.filter(\.isTrainable) }

    public func makeIterator() -> IndexingIterator<[Parameter]> { parameters.makeIterator() }

    /// Zeroes every gradient (trainable or not).
    public func zeroGradients() {
        // A frozen parameter's gradient is never written: leaving it alone keeps its pages
        // untouched (FloatBuffer maps large zero buffers lazily), e.g. e5's word table.
        for p in parameters where p.isTrainable { p.grad.zero() }
    }

    /// Marks every parameter whose name starts with `prefix` as frozen or trainable.
    public func setTrainable(_ trainable: Bool, prefix: String) {
        for p in parameters where p.name.hasPrefix(prefix) { p.isTrainable = trainable }
    }

    /// The L2 norm of all trainable gradients together (accumulated in Double).
    public func gradientNorm() -> Float {
        // Float sums over blocks of 65,536 elements, added up in Double in a fixed order, so
        // the result does not depend on how the blocks are spread over the cores.
        let block = 65_536
        var total: Double = 0
        var blockSums: [Double] = []
        for p in parameters where p.isTrainable {
            let g = p.grad.pointer
            let n = p.count, vectorEnd = n - n % 16
            let blocks = Swift.max(1, (vectorEnd + block - 1) / block)
            blockSums = Array(repeating: 0, count: blocks)
            blockSums.withUnsafeMutableBufferPointer { sums in
                let out = sums.baseAddress!
                Parallel.forEachRange(blocks, workPerItem: block * 2) { range in
                    for b in range {
                        var acc = F16(), i = b * block
                        let end = Swift.min(vectorEnd, i + block)
                        while i < end { let v = load16(g + i); acc += v * v; i += 16 }
                        out[b] = Double(hsum(acc))
                    }
                }
            }
            var partial: Double = 0
            for s in blockSums { partial += s }
            var i = vectorEnd
            while i < n { partial += Double(g[i] * g[i]); i += 1 }
            total += partial
        }
        return Float(total.squareRoot())
    }

    /// Global gradient-norm clipping (PyTorch's `clip_grad_norm_`): when the
    /// norm of all trainable gradients exceeds `maxNorm`, scales them by
    /// `maxNorm / (norm + 1e-6)`. Returns the norm before clipping.
    @discardableResult
    public func clipGradientNorm(maxNorm: Float) -> Float {
        precondition(maxNorm > 0, "clipGradientNorm: maxNorm must be positive, got \(maxNorm)")
        let norm = gradientNorm()
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            for p in parameters where p.isTrainable { scale(p.grad.pointer, by: coefficient, count: p.count) }
        }
        return norm
    }
}
