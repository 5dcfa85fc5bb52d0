/// How the engine multiplies activations with quantized weights.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// Float32 activations against weights decoded in registers (the default; logits agree
    /// with the float32 reference to about 10⁻⁴).
    case float32 = "f32"
    /// Activations quantized to 8 bits per 32-value block (a float scale per block, as
    /// llama.cpp's Q8_1) and multiplied with integer dot products: faster decode of 1–4 and
    /// 9–32 sequences; logits move by up to about 1, so greedy choices can differ from the
    /// reference. Applies to Q4_0, Q4_1 and Q8_0 weights on x86-64; other encodings, other
    /// batch sizes and other architectures use float32.
    case int8
}
