// swift-tools-version:6.0
// An example of memprof's in-process checks in a package's own tests: the tests
// depend on MemprofTesting, which links memprof's interposer into the test binary
// (no LD_PRELOAD, no `memprof run`). Run them with `swift test` in this folder.
import PackageDescription

let package = Package(
    name: "Inventory",
    platforms: [.macOS(.v15)],
    dependencies: [
        // In your package: .package(url: "https://github.com/<org>/memprof", from: "0.1.0")
        .package(name: "memprof", path: "../..")
    ],
    targets: [
        .target(name: "Inventory"),
        .testTarget(
            name: "InventoryTests",
            dependencies: ["Inventory", .product(name: "MemprofTesting", package: "memprof")]
        ),
    ]
)
