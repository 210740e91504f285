import CBLAS
import CKernels
import Foundation
import Glibc
import Support

/// OpenBLAS's kernel family, chosen from the CPU's own flags (docs/architecture.md §7).
///
/// Debian's OpenBLAS 0.3.21 picks its kernels when the library loads, from the CPU's model
/// number; a CPU newer than its tables (as the virtual Xeons here report) gets the generic
/// "Prescott" kernels: sgemm at 61 GFLOP/s where SkylakeX's reach 307 on the same two cores.
/// When the user has not set `OPENBLAS_CORETYPE` and the library chose a family below what the
/// CPU's flags support, Vitrine sets it (SkylakeX for AVX-512F/DQ/BW/VL, Haswell for AVX2 and
/// FMA) and executes itself again, once, before anything else runs. `VITRINE_OPENBLAS=keep`
/// leaves OpenBLAS's own choice alone.
enum OpenBLASCore {
    /// The environment variable that marks the one re-execution (never loops).
    static let marker = "VITRINE_OPENBLAS_CHOSEN"

    /// The family this CPU should run, or nil when OpenBLAS's own choice is as good.
    static func better(than loaded: String) -> String? {
        let name = loaded.lowercased()
        let avx512 = ["skylakex", "cooperlake", "sapphirerapids"]
        let avx2 = ["haswell", "zen"] + avx512
        if vitrine_cpu_has_avx512_blas() != 0 { return avx512.contains(name) ? nil : "SkylakeX" }
        if vitrine_cpu_has_avx2_fma() != 0 { return avx2.contains(name) ? nil : "Haswell" }
        return nil
    }

    /// The loaded family, as OpenBLAS names it.
    static var loaded: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// Re-executes the program with a better `OPENBLAS_CORETYPE` when there is one (see above);
    /// returns when there is nothing to do or the re-execution is not possible.
    static func chooseAndReexecIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[marker] == nil,
              environment["VITRINE_OPENBLAS"] != "keep", let family = better(than: loaded) else { return }
        setenv("OPENBLAS_CORETYPE", family, 1)
        setenv(marker, family, 1)
        let arguments = CommandLine.arguments
        var argv = arguments.map { strdup($0) } + [nil]
        // The resolved path, not /proc/self/exe, so that the process keeps its name ("vitrine",
        // for ps and pkill) and argv[0] is what the user typed.
        execv(Installation.executablePath() ?? "/proc/self/exe", &argv)
        // Not possible (no /proc): go on with OpenBLAS's own choice; children inherit the fix.
        unsetenv(marker)
    }
}
