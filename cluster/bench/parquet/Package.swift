// swift-tools-version: 6.2
// Benchmark of ParquetKit against pyarrow; out of the main build. See docs/bench/parquet.md.
import PackageDescription

let package = Package(
    name: "parquet-bench",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "webtoon-crawler", path: "../../..")],
    targets: [
        .executableTarget(
            name: "ParquetBench",
            dependencies: [.product(name: "ParquetKit", package: "webtoon-crawler")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        )
    ]
)
