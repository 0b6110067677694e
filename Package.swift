// swift-tools-version: 6.2
import PackageDescription

/// Strict settings applied to every Swift target, as swift-log does.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "webtoon-crawler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "webtoon", targets: ["webtoon"]),
        .library(name: "CompressionKit", targets: ["CompressionKit"]),
        .library(name: "NNGKit", targets: ["NNGKit"]),
        .library(name: "CurlKit", targets: ["CurlKit"]),
        .library(name: "PQKit", targets: ["PQKit"]),
        .library(name: "ParquetKit", targets: ["ParquetKit"]),
        .library(name: "WebtoonCore", targets: ["WebtoonCore"]),
        .library(name: "ClusterCore", targets: ["ClusterCore"]),
        .library(name: "ClusterKit", targets: ["ClusterKit"]),
        .library(name: "CrawlCluster", targets: ["CrawlCluster"]),
        .library(name: "ClusterMonitor", targets: ["ClusterMonitor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // One system-library target per C library (see docs/native.md).
        .systemLibrary(name: "CNNG", path: "Sources/CNNG", providers: [.apt(["libnng-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // Native wrappers: each one concern, none blocks the cooperative pool.
        .target(name: "CompressionKit", dependencies: ["CSnappy", "CZstd"]),
        .target(name: "NNGKit", dependencies: ["CNNG"]),
        .target(name: "CurlKit", dependencies: ["CCurl", .product(name: "Logging", package: "swift-log")]),
        // Day arithmetic shared by every date type (pure).
        .target(name: "CivilCalendar"),
        .target(name: "PQKit", dependencies: ["CLibPQ", "CivilCalendar", .product(name: "Logging", package: "swift-log")]),

        // Columnar storage.
        .target(name: "ParquetKit", dependencies: ["CompressionKit"]),

        // Platforms: pure records, catalogs and parsers; the crawler that runs tasks over HTTP; the simulator.
        .target(name: "WebtoonCore", dependencies: ["CivilCalendar"]),
        .target(
            name: "WebtoonCrawler",
            dependencies: [
                "WebtoonCore", "CurlKit", "CompressionKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "WebtoonSimulator",
            dependencies: [
                "WebtoonCore", "CivilCalendar",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .executableTarget(
            name: "webtoon",
            dependencies: [
                "WebtoonCore", "WebtoonCrawler", "WebtoonSimulator", "CrawlCluster", "CrawlReduce", "ReducerCore", "Warehouse", "ClusterKit", "ClusterCore",
                "ClusterMonitor", "CurlKit", "PQKit", "NNGKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Unit tests run in milliseconds; integration tests talk to real peers.
        .testTarget(name: "CompressionKitTests", dependencies: ["CompressionKit"]),
        .testTarget(name: "WebtoonCoreTests", dependencies: ["WebtoonCore", "CivilCalendar"]),
        // Spawning a child process off the cooperative pool, shared by the tests that run pynng clients.
        .target(name: "ProcessTestSupport", path: "Tests/ProcessTestSupport"),
        // The ground-truth shape and comparison shared by every test that judges a crawl against the simulator.
        .target(name: "WebtoonTestSupport", dependencies: ["WebtoonCore", "WebtoonSimulator"], path: "Tests/WebtoonTestSupport"),
        .testTarget(
            name: "CurlKitTests",
            dependencies: [
                "CurlKit", "CCurl", "CompressionKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "NNGKitTests", dependencies: ["NNGKit"]),
        .testTarget(name: "PQKitTests", dependencies: ["PQKit"]),
        .testTarget(
            name: "PQKitIntegrationTests", dependencies: ["PQKit", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "WebtoonSimulatorTests",
            dependencies: [
                "WebtoonSimulator",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "WebtoonCrawlerTests",
            dependencies: ["WebtoonTestSupport", 
                "WebtoonCrawler", "WebtoonCore", "WebtoonSimulator", "CurlKit", "CompressionKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(name: "ParquetKitTests", dependencies: ["ParquetKit"]),
        // Cluster: pure protocol, ledger state machine and budgets (ClusterCore); tests run in milliseconds.
        .target(name: "ClusterCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ClusterCoreTests", dependencies: ["ClusterCore", .product(name: "Crypto", package: "swift-crypto")]),
        // Cluster I/O: the PostgreSQL ledger store (later the coordinator and worker services).
        .target(name: "ClusterKit", dependencies: ["ClusterCore", "PQKit", "NNGKit", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ClusterKitIntegrationTests", dependencies: ["ProcessTestSupport", "ClusterKit", "ClusterCore", "PQKit", "NNGKit", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")]),
        // Cluster monitoring: HTTP /metrics, /status, /status/history, /healthz; the status client and table.
        .target(
            name: "ClusterMonitor",
            dependencies: [
                "ClusterCore", "NNGKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ClusterMonitorTests",
            dependencies: ["ProcessTestSupport", 
                "ClusterMonitor", "ClusterCore", "ClusterKit", "PQKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The crawl on the cluster: the worker's unit executor (tasks -> Parquet + raw), the planner, table schemas.
        .target(
            name: "CrawlCluster",
            dependencies: [
                "ClusterKit", "ClusterCore", "WebtoonCore", "WebtoonCrawler", "ParquetKit", "CurlKit", "NNGKit",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(
            name: "CrawlClusterIntegrationTests",
            dependencies: ["WebtoonTestSupport", "ProcessTestSupport",
                "CrawlCluster", "ClusterKit", "ClusterCore", "WebtoonCore", "WebtoonSimulator", "ParquetKit", "PQKit", "NNGKit",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "ReducerCore",
            dependencies: ["ParquetKit", "CompressionKit", "CivilCalendar", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Warehouse",
            dependencies: ["PQKit", "ReducerCore", "ParquetKit", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "reducer-memcheck",
            dependencies: ["ReducerCore", "Warehouse", "PQKit", "ParquetKit", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "ReducerCoreTests",
            dependencies: ["ReducerCore", "ParquetKit", "ProcessTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "WarehouseIntegrationTests", dependencies: ["Warehouse", "PQKit", "ReducerCore", "ParquetKit"]
        ),
        // Accepted worker outputs of a run -> processed tables -> warehouse slices -> models.
        .target(
            name: "CrawlReduce",
            dependencies: [
                "CrawlCluster", "ReducerCore", "Warehouse", "ClusterKit", "ClusterCore", "WebtoonCore", "ParquetKit", "PQKit",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(
            name: "CrawlReduceIntegrationTests",
            dependencies: ["WebtoonTestSupport", "ProcessTestSupport",
                "CrawlReduce", "CrawlCluster", "ClusterKit", "ClusterCore", "ReducerCore", "Warehouse", "WebtoonCore",
                "WebtoonSimulator", "WebtoonCrawler", "CurlKit", "ParquetKit", "PQKit",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
