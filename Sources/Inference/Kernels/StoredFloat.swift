/// A float type values are stored in — LoRA factors in their file's type, keys and values in
/// a `KVCache` — read eight at a time widened exactly to float32. Kernels address stored
/// values through these loads with wrapping arithmetic (`&+`, `&*`): offsets stay inside one
/// allocation, and checked arithmetic in the inner loops costs more instructions than the
/// multiply-adds.
protocol StoredFloat {
    static var byteWidth: Int { get }
    /// The eight values at `pointer`.
    static func load8(_ pointer: UnsafeRawPointer) -> SIMD8<Float>
    /// The value at `pointer`.
    static func load(_ pointer: UnsafeRawPointer) -> Float
}

extension StoredFloat {
    /// Values `index..<index + 8` of the array at `base`.
    @inline(__always) static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> { load8(base + index &* byteWidth) }
    /// Value `index` of the array at `base`.
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ index: Int) -> Float { load(base + index &* byteWidth) }

    /// `x` (`count` floats, a multiple of 8) dotted with the `count` values at `row`.
    @inline(__always) static func dot(_ x: UnsafeRawPointer, _ row: UnsafeRawPointer, count: Int) -> Float {
        var sum = SIMD8<Float>()
        var c = 0
        while c < count {
            sum.addProduct(x.loadUnaligned(fromByteOffset: c &* 4, as: SIMD8<Float>.self), load8(row, c))
            c &+= 8
        }
        return laneSum(sum)
    }

    /// The `count` values at `source` widened into `target`, which it returns.
    static func widen(_ source: UnsafeRawPointer, count: Int, into target: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let out = UnsafeMutableRawPointer(target)
        var i = 0
        while i + 8 <= count {
            out.storeBytes(of: load8(source, i), toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { target[i] = load(source, i); i += 1 }
        return target
    }
}

enum StoredF32: StoredFloat {
    static let byteWidth = 4
    @inline(__always) static func load8(_ pointer: UnsafeRawPointer) -> SIMD8<Float> { pointer.loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) static func load(_ pointer: UnsafeRawPointer) -> Float { pointer.loadUnaligned(as: Float.self) }
}

enum StoredF16: StoredFloat {
    static let byteWidth = 2
    @inline(__always) static func load8(_ pointer: UnsafeRawPointer) -> SIMD8<Float> { widenHalves(pointer) }
    @inline(__always) static func load(_ pointer: UnsafeRawPointer) -> Float { Float(pointer.loadUnaligned(as: Float16.self)) }
}

enum StoredBF16: StoredFloat {
    static let byteWidth = 2
    @inline(__always) static func load8(_ pointer: UnsafeRawPointer) -> SIMD8<Float> { widenBrainHalves(pointer) }
    @inline(__always) static func load(_ pointer: UnsafeRawPointer) -> Float { Float(bitPattern: UInt32(pointer.loadUnaligned(as: UInt16.self)) << 16) }
}
