// swift-tools-version: 6.2
// COPY throughput benchmark: PQKit (binary and text) against psql \copy. Kept out of the main build; run in
// release mode (see docs/bench/copy.md).
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory, which differs between the lead's checkout and worktrees.
let rootDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../..").standardized.lastPathComponent

let package = Package(
    name: "copy-bench",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../../..")],
    targets: [
        .executableTarget(
            name: "copy-bench",
            dependencies: [.product(name: "PQKit", package: rootDirectory)],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        )
    ]
)
