import COpenBLAS
import Foundation

/// The backward counterparts of `Layers`' per-row operations, and the pieces of the
/// training loss, over float32 rows. Each gradient is spelled out beside the forward
/// formula it differentiates.
enum TrainingKernels {
    /// RMSNorm backward. Forward: `y_j = w_j · x_j · s` with `s = 1/√(mean(x²) + ε)`.
    /// Adds `∂L/∂x_j = s · w_j · dy_j − x_j · (s³ / n) · Σ_k w_k · dy_k · x_k` to `dx`.
    static func rmsNormBackward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, scale s: Float, weight: UnsafePointer<Float>, count n: Int,
        addingInto dx: UnsafeMutablePointer<Float>
    ) {
        var dot: Float = 0
        for k in 0..<n { dot += weight[k] * dy[k] * x[k] }
        let correction = s * s * s * dot / Float(n)
        for j in 0..<n { dx[j] += s * weight[j] * dy[j] - x[j] * correction }
    }

    /// SwiGLU backward. Forward: `a = silu(g) · u`, `silu(g) = g · σ(g)`. Given `∂L/∂a` in
    /// `gradient`, writes `∂L/∂g = da · u · σ(g)·(1 + g·(1 − σ(g)))` to `gateGradient` and
    /// replaces `gradient` by `∂L/∂u = da · silu(g)`.
    static func swiGLUBackward(
        _ gradient: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
        gateGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            let g = gate[i], u = up[i], da = gradient[i]
            let sigmoid = 1 / (1 + Foundation.exp(-g))
            gateGradient[i] = da * u * sigmoid * (1 + g * (1 - sigmoid))
            gradient[i] = da * g * sigmoid
        }
    }

    /// Causal attention backward for one sequence of `length` rows and one key/value head
    /// shared by `group` query heads (`queries` and `outputs` point at the first of them,
    /// rows `stride` floats apart; keys and values rows `kvStride` apart).
    ///
    /// Forward, per query head: `S = Q·Kᵀ/√d`, `P = softmax(S)` over the visible positions,
    /// `O = P·V`. Backward, given `dO`: `dV = Σ_heads Pᵀ·dO`, `dP = dO·Vᵀ`,
    /// `dS = P ∘ (dP − rowsum(dO ∘ O))`, `dQ = dS·K/√d`, `dK = Σ_heads dSᵀ·Q/√d`.
    /// `P` is recomputed from Q and K. Writes `dQ` (for the group's heads) and `dK`, `dV`
    /// (overwritten). `scratch` needs `2 · length²` floats.
    static func attentionBackward(
        queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, outputs: UnsafePointer<Float>,
        outputGradients dO: UnsafePointer<Float>, length t: Int, group: Int, headDimension d: Int, stride: Int, kvStride: Int,
        scratch: UnsafeMutablePointer<Float>,
        dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>, dV: UnsafeMutablePointer<Float>
    ) {
        let p = scratch, dP = scratch + t * t, scale = 1 / Float(d).squareRoot()
        let (T, D) = (Int32(t), Int32(d))
        for head in 0..<group {
            let q = queries + head * d, o = outputs + head * d, dOh = dO + head * d, dQh = dQ + head * d
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, q, Int32(stride), keys, Int32(kvStride), 0, p, T)
            for row in 0..<t {
                VectorMath.softmax(p + row * t, count: row + 1)
                (p + row * t + row + 1).initialize(repeating: 0, count: t - row - 1)
            }
            let beta: Float = head == 0 ? 0 : 1
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1, p, T, dOh, Int32(stride), beta, dV, Int32(kvStride))
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1, dOh, Int32(stride), values, Int32(kvStride), 0, dP, T)
            for row in 0..<t {
                var rowDot: Float = 0
                for j in 0..<d { rowDot += dOh[row * stride + j] * o[row * stride + j] }
                let pr = p + row * t, dPr = dP + row * t
                for j in 0...row { dPr[j] = pr[j] * (dPr[j] - rowDot) }
                (dPr + row + 1).initialize(repeating: 0, count: t - row - 1)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, scale, dP, T, keys, Int32(kvStride), 0, dQh, Int32(stride))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, scale, dP, T, q, Int32(stride), beta, dK, Int32(kvStride))
        }
    }

    /// Cross-entropy of one row of logits against `target`, and its gradient: returns
    /// `log Σ exp(z) − z[target]` and replaces `logits` by `weight · (softmax(z) − onehot(target))`.
    static func crossEntropy(_ logits: UnsafeMutablePointer<Float>, count: Int, target: Int, weight: Float) -> Double {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, logits[i]) }
        let targetLogit = logits[target]
        VectorMath.map(logits, count: count) { VectorMath.exp($0 - SIMD8(repeating: maximum)) }
        var total: Double = 0
        for i in 0..<count { total += Double(logits[i]) }
        let factor = weight / Float(total)
        VectorMath.map(logits, count: count) { $0 * factor }
        logits[target] -= weight
        return Double(maximum) + Foundation.log(total) - Double(targetLogit)
    }
}
