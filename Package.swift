// swift-tools-version:6.0
// Vitrine: a terminal explorer for cross-modal, instance-level product retrieval.
// Module layout and import rules: see docs/architecture.md §1 and README.md.
import PackageDescription

// Test code is compiled without optimisation: the code under test (every library module, the
// numeric kernels first) stays optimised as in the release build, while the test modules, which
// only drive it and compare, would cost 110 s of a fresh build's 300 to optimise (measured
// 2026-12-05; -Onone compiles them in about a third of that).
let testCode: [SwiftSetting] = [.unsafeFlags(["-Onone"])]

let package = Package(
    name: "Vitrine",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vitrine", targets: ["vitrine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        // System libraries. Only module maps and small C shims live here.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CNcurses", path: "Sources/CNcurses",
                cSettings: [.define("_XOPEN_SOURCE_EXTENDED", to: "1"), .define("NCURSES_WIDECHAR", to: "1"),
                            .unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("ncursesw")]),
        // -fno-math-errno: sqrt may not set errno, so the AdamW loop vectorises (the result is the same:
        // IEEE square roots are correctly rounded on every path).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2", "-fno-math-errno"])]),
        .target(name: "CSupport", path: "Sources/CSupport", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs",
                cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("z")]),

        // Our modules; arrows point down only (docs/architecture.md §1).
        // Support: what several modules need once (atomic writes, mapped and regular-file reads,
        // hashes, slots, the installation's and the user's folders). Imports nothing of ours.
        .target(name: "Support", dependencies: ["CSupport"]),
        .target(name: "SafeText"),
        .target(name: "Imaging", dependencies: ["CImageCodecs", "Support"]),
        .target(name: "Catalog", dependencies: ["Imaging", "Support", "SafeText"]),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Capture", dependencies: ["Tensor", "Imaging", "SafeText", "Support", "CBLAS"]),
        .target(name: "Retrieval", dependencies: ["Capture", "Catalog", "Tensor", "Imaging", "Support", "SafeText", "CBLAS", "CKernels"]),
        .target(name: "Annotations", dependencies: ["SafeText", "Support", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Training", dependencies: ["Capture", "Catalog", "Annotations", "Tensor", "Imaging", "SafeText", "Support"]),
        // Serve: `vitrine serve`'s private sshd (configuration, host key, admitted keys, seats, log).
        .target(name: "Serve", dependencies: ["Support", "SafeText", "CSupport"]),
        .target(name: "Explorer", dependencies: [
            "Retrieval", "Training", "Annotations", "Capture", "Catalog", "Imaging", "Support", "SafeText", "CNcurses",
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .executableTarget(name: "vitrine", dependencies: [
            "Explorer", "Serve", "Retrieval", "Training", "Annotations", "Capture", "Tensor", "Catalog", "Imaging", "SafeText", "Support", "CBLAS", "CKernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SafeTextTests", dependencies: ["SafeText"], swiftSettings: testCode),
        .testTarget(name: "SupportTests", dependencies: ["Support"], swiftSettings: testCode),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], exclude: ["Fixtures"], swiftSettings: testCode),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Imaging", "Support"], swiftSettings: testCode),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CKernels"], swiftSettings: testCode),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "Tensor", "Imaging", "Support"], exclude: ["Fixtures"], swiftSettings: testCode),
        .testTarget(name: "RetrievalTests", dependencies: ["Retrieval", "Capture", "Catalog", "Imaging", "Tensor", "Support"], swiftSettings: testCode),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Capture", "Catalog", "Tensor", "Annotations"], swiftSettings: testCode),
        .testTarget(name: "AnnotationsTests", dependencies: ["Annotations", .product(name: "GRDB", package: "GRDB.swift")],
                    exclude: ["Fixtures"], swiftSettings: testCode),
        .testTarget(name: "ExplorerTests", dependencies: ["Explorer", "CSupport", "Retrieval", "Training", "Annotations", "Capture", "Catalog", "Imaging"],
                    exclude: ["__Snapshots__"], swiftSettings: testCode),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "Support"], swiftSettings: testCode),
        .testTarget(name: "EndToEndTests", dependencies: ["CSupport"], swiftSettings: testCode),
    ]
)
