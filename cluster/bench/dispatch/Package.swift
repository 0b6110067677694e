// swift-tools-version: 6.2
// Dispatch benchmark: a real CoordinatorService (PostgreSQL ledger) in its own process and no-op worker clients over
// nng tcp on loopback. Kept out of the main build; run in release mode (see docs/bench/dispatch.md).
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory, which differs between the lead's checkout and worktrees.
let rootDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../..").standardized.lastPathComponent

let package = Package(
    name: "dispatch-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "dispatch-bench",
            dependencies: [
                .product(name: "ClusterCore", package: rootDirectory), .product(name: "ClusterKit", package: rootDirectory),
                .product(name: "NNGKit", package: rootDirectory), .product(name: "PQKit", package: rootDirectory),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        )
    ]
)
