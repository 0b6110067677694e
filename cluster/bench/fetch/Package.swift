// swift-tools-version: 6.2
// Benchmark only: kept out of the root package so its build never slows the project's build or tests.
import PackageDescription

let package = Package(
    name: "fetch-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "webtoon-crawler", path: "../../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "fetch-bench",
            dependencies: [
                .product(name: "CurlKit", package: "webtoon-crawler"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        )
    ]
)
