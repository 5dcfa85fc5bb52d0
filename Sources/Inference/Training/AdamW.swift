/// AdamW (Loshchilov & Hutter), as PyTorch's `torch.optim.AdamW` computes it: decoupled
/// weight decay `θ ← θ − lr·λ·θ`, then `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, and
/// `θ ← θ − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)`.
public struct AdamW: Sendable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float
    /// Steps taken (`t`).
    public private(set) var step = 0
    public private(set) var firstMoment: [Float]
    public private(set) var secondMoment: [Float]

    /// A fresh optimizer for `count` parameters.
    public init(count: Int, weightDecay: Float) {
        self.weightDecay = weightDecay
        firstMoment = [Float](repeating: 0, count: count)
        secondMoment = [Float](repeating: 0, count: count)
    }

    /// An optimizer resumed from a checkpoint's moments after `step` steps.
    public init(step: Int, firstMoment: [Float], secondMoment: [Float], weightDecay: Float) {
        precondition(step >= 0 && firstMoment.count == secondMoment.count, "inconsistent optimizer state")
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.weightDecay = weightDecay
    }

    /// One update of `values` by `gradient` at `learningRate`.
    public mutating func update(_ values: inout [Float], gradient: [Float], learningRate: Float) {
        precondition(values.count == gradient.count && values.count == firstMoment.count, "gradient and parameters differ in size")
        step += 1
        let correction1 = 1 - Float(Double(beta1).power(step)), correction2 = 1 - Float(Double(beta2).power(step))
        let (b1, b2, eps, decay) = (beta1, beta2, epsilon, 1 - learningRate * weightDecay)
        let stepSize = learningRate / correction1, rootCorrection2 = correction2.squareRoot()
        for i in values.indices {
            let g = gradient[i]
            let m = b1 * firstMoment[i] + (1 - b1) * g
            let v = b2 * secondMoment[i] + (1 - b2) * g * g
            firstMoment[i] = m
            secondMoment[i] = v
            values[i] = values[i] * decay - stepSize * m / (v.squareRoot() / rootCorrection2 + eps)
        }
    }
}

private extension Double {
    /// `self` raised to a non-negative integer power by repeated squaring.
    func power(_ exponent: Int) -> Double {
        var result = 1.0, base = self, e = exponent
        while e > 0 {
            if e & 1 == 1 { result *= base }
            base *= base
            e >>= 1
        }
        return result
    }
}

/// Gradient clipping by global norm: scales `gradient` so its L2 norm is at most
/// `maximum` and returns the norm before clipping (summed in float64, in index order).
@discardableResult
public func clipGradientNorm(_ gradient: inout [Float], maximum: Float) -> Float {
    var squares = 0.0
    for g in gradient { squares += Double(g) * Double(g) }
    let norm = Float(squares.squareRoot())
    if norm > maximum, norm > 0 {
        let factor = maximum / (norm + 1e-6)
        for i in gradient.indices { gradient[i] *= factor }
    }
    return norm
}
