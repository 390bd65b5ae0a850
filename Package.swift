// swift-tools-version:6.0
import PackageDescription

// Data flow, as the folders show it:
//   CShims/Preload (recording, plain C, built by scripts/build-preload.sh — not by SwiftPM,
//   so that it never links the Swift runtime)
//   → MemprofTrace (reading) → MemprofSymbolize → MemprofAnalysis (pure model)
//   → MemprofReport (text / JSON) → memprof (CLI)
// Beside it, MemprofKit: the library for in-process checks (leak checks, allocation counts,
// jemalloc statistics, snapshots), MemprofTesting (the same as Swift Testing expectations),
// and MemprofInterposer: the preload's C sources built into a program, so that a test
// binary records without LD_PRELOAD.
let package = Package(
    name: "memprof",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "memprof", targets: ["memprof"]),
        .library(name: "MemprofTrace", targets: ["MemprofTrace"]),
        .library(name: "MemprofAnalysis", targets: ["MemprofAnalysis"]),
        .library(name: "MemprofKit", targets: ["MemprofKit"]),
        .library(name: "MemprofInterposer", targets: ["MemprofInterposer"]),
        .library(name: "MemprofTesting", targets: ["MemprofTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // The trace format: record tags, header layout, varints, CRC — shared by writer and reader.
        .target(name: "CMemprofFormat", path: "CShims/MemprofFormat"),
        .systemLibrary(name: "CZstd", path: "CShims/CZstd"),
        // Thin C wrapper over elfutils libdw for symbolization.
        .target(
            name: "CMemprofDwarf",
            path: "CShims/Dwarf",
            linkerSettings: [.linkedLibrary("dw"), .linkedLibrary("elf")]
        ),
        // jemalloc's mallctl looked up at run time (never linked), and glibc's mallinfo2.
        .target(name: "CMemprofJemalloc", path: "CShims/Jemalloc", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "MemprofTrace", dependencies: ["CMemprofFormat", "CZstd"]),
        .target(name: "MemprofSymbolize", dependencies: ["CMemprofDwarf", "MemprofTrace"]),
        .target(name: "MemprofAnalysis", dependencies: ["MemprofTrace"]),
        .target(name: "MemprofReport", dependencies: ["MemprofAnalysis", "MemprofSymbolize"]),
        // The in-process API between the interposer and MemprofKit (memprof_api.h).
        .target(name: "CMemprofClient", path: "CShims/Client", linkerSettings: [.linkedLibrary("dl")]),
        // The interposer linked into a program (scripts/build-preload.sh builds the same
        // sources as libmemprof.so). Without MEMPROF_OUTPUT it writes no trace.
        .target(
            name: "MemprofInterposer",
            dependencies: ["CMemprofFormat", "CMemprofClient"],
            path: "CShims/Preload",
            cSettings: [.define("MEMPROF_LINKED")],
            linkerSettings: [.linkedLibrary("unwind"), .linkedLibrary("zstd"), .linkedLibrary("dl")]
        ),
        // The public library for in-process checks: leak checks, allocation counts,
        // jemalloc statistics, memory snapshots.
        .target(
            name: "MemprofKit",
            dependencies: [
                "CMemprofJemalloc", "CMemprofClient", "MemprofTrace", "MemprofSymbolize", "MemprofReport",
            ]),
        // Swift Testing expectations over MemprofKit; brings the interposer along.
        .target(name: "MemprofTesting", dependencies: ["MemprofKit", "MemprofInterposer"]),
        .executableTarget(
            name: "memprof",
            dependencies: [
                "MemprofTrace", "MemprofSymbolize", "MemprofAnalysis", "MemprofReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "MemprofTraceTests", dependencies: ["MemprofTrace", "CMemprofFormat"],
            resources: [.copy("Golden")]),
        .testTarget(name: "MemprofSymbolizeTests", dependencies: ["MemprofSymbolize"]),
        .testTarget(name: "MemprofAnalysisTests", dependencies: ["MemprofAnalysis", "MemprofTrace"]),
        .testTarget(
            name: "MemprofReportTests",
            dependencies: ["MemprofReport", "MemprofAnalysis", "MemprofTrace", "MemprofSymbolize"]),
        .testTarget(name: "IntegrationTests", dependencies: ["MemprofTrace"]),
        // Test support: MemprofKitTests runs it under LD_PRELOAD=libjemalloc.so.2.
        .executableTarget(name: "memprof-kit-probe", dependencies: ["MemprofKit"], path: "Tests/MemprofKitProbe"),
        // Test support: in-process leak checks and counts, with the interposer linked in.
        // The test binary itself must not link the interposer (every suite would run
        // recorded, and checks would see the other suites' threads), so these programs
        // are built beside it (scripts/test.sh builds all targets) and run as processes.
        .executableTarget(
            name: "memprof-check-probe", dependencies: ["MemprofKit", "MemprofInterposer"],
            path: "Tests/MemprofCheckProbe"),
        .testTarget(name: "MemprofKitTests", dependencies: ["MemprofKit"]),
    ]
)
