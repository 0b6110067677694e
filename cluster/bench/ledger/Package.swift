// swift-tools-version: 6.2
// Ledger benchmark: pure state machine throughput and PostgreSQL group commit / rebuild. Kept out of the main
// build; run in release mode (see docs/bench/cluster.md).
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory, which differs between the lead's checkout and worktrees.
let rootDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../..").standardized.lastPathComponent

let package = Package(
    name: "ledger-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "ledger-bench",
            dependencies: [
                .product(name: "ClusterCore", package: rootDirectory), .product(name: "ClusterKit", package: rootDirectory),
                .product(name: "PQKit", package: rootDirectory), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        )
    ]
)
