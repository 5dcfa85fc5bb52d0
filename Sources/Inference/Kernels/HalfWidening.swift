#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

// Eight 16-bit floats widened exactly to float32, for weights and LoRA factors stored in
// half precision. On x86-64 these are the conversion instructions themselves (`vcvtph2ps`;
// a zero-extend and shift for bfloat16): the generic SIMD conversions are calls that the
// optimizer does not always inline, which costs more than the arithmetic around them.

/// The eight IEEE half-precision floats at `pointer`.
@inline(__always)
func widenHalves(_ pointer: UnsafeRawPointer) -> SIMD8<Float> {
    #if arch(x86_64)
    _mm256_cvtph_ps(pointer.loadUnaligned(as: SIMD2<Int64>.self))
    #else
    SIMD8<Float>(pointer.loadUnaligned(as: SIMD8<Float16>.self))
    #endif
}

/// The eight bfloat16 values at `pointer`.
@inline(__always)
func widenBrainHalves(_ pointer: UnsafeRawPointer) -> SIMD8<Float> {
    #if arch(x86_64)
    unsafeBitCast(_mm256_slli_epi32(_mm256_cvtepu16_epi32(pointer.loadUnaligned(as: SIMD2<Int64>.self)), 16), to: SIMD8<Float>.self)
    #else
    unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: pointer.loadUnaligned(as: SIMD8<UInt16>.self)) &<< 16, to: SIMD8<Float>.self)
    #endif
}
