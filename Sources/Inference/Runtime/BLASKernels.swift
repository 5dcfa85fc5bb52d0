import COpenBLAS
import Foundation

/// Which of OpenBLAS's kernel sets this process runs.
///
/// Debian's OpenBLAS (0.3.21, built for every x86-64 core) picks its kernels from the CPU
/// model when it loads, and falls back to its SSE3 "Prescott" kernels for models it does not
/// know — newer Xeons (Sapphire Rapids) among them, whose AVX-512 kernels are four times
/// faster on training's matrix products. The choice can only be made before the library
/// loads, through `OPENBLAS_CORETYPE`, so the executable restarts itself with it set.
public enum BLASKernels {
    /// The kernel set OpenBLAS chose.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The kernel set this CPU's instruction-set flags (from /proc/cpuinfo) support: SkylakeX
    /// with AVX-512 (F, BW, VL, DQ), Haswell with AVX2 and FMA, else nil.
    public static var supportedCore: String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// When OpenBLAS fell back to its generic kernels on a CPU that runs better ones and the
    /// caller has not chosen (`OPENBLAS_CORETYPE` unset), replaces this process by itself
    /// with `OPENBLAS_CORETYPE` naming them; otherwise returns. Call first thing in `main`.
    public static func restartWithNativeKernelsIfNeeded() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, coreName == "Prescott", let core = supportedCore else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let arguments = CommandLine.unsafeArgv
        execv("/proc/self/exe", arguments)
        // exec failed: carry on with the generic kernels.
    }
}
