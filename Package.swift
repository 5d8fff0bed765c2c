// swift-tools-version: 6.0
// Layers, bottom to top (docs/architecture.md): CLibPQ (libpq binding) →
// PostgresClient (data layer) → JobQueue (queue engine, domain-free) →
// CleaningPlatform (the platform's jobs) → DemoData → executables. Beside them, leaf
// utilities with no project dependency: Metrics (Prometheus text), HTTPServer,
// SeededRandom (the one deterministic generator: demo data, benchmarks, rate-limit snoozes);
// BenchSupport (what every benchmark shares) serves the `bench` executable;
// Console (the web console, on HTTPServer and the engine and platform) serves
// jobsctl console. CommandLineInterface (argument parsing, commands) and WorkerRuntime (a worker
// process: flags, signals, metrics endpoint) serve the executables. A target only
// depends on targets below it.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "cleaning-queue",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
        .library(name: "JobQueue", targets: ["JobQueue"]),
        .executable(name: "jobsctl", targets: ["jobsctl"]),
        .executable(name: "queue-worker", targets: ["queue-worker"]),
        .executable(name: "bench", targets: ["bench"]),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(name: "PostgresClient", dependencies: ["CLibPQ"], swiftSettings: strict),
        .target(name: "Metrics", swiftSettings: strict),
        .target(name: "HTTPServer", swiftSettings: strict),
        .target(name: "JobQueue", dependencies: ["PostgresClient", "Metrics", "SeededRandom"], swiftSettings: strict),
        .target(name: "CleaningPlatform", dependencies: ["JobQueue", "PostgresClient"], swiftSettings: strict),
        .target(name: "SeededRandom", swiftSettings: strict),
        .target(
            name: "Console", dependencies: ["JobQueue", "CleaningPlatform", "PostgresClient", "HTTPServer"],
            swiftSettings: strict),
        .target(name: "DemoData", dependencies: ["CleaningPlatform", "PostgresClient", "SeededRandom"], swiftSettings: strict),
        .target(name: "CommandLineInterface", dependencies: ["PostgresClient"], swiftSettings: strict),
        .target(
            name: "WorkerRuntime", dependencies: ["JobQueue", "HTTPServer", "CommandLineInterface"],
            swiftSettings: strict),
        .executableTarget(
            name: "queue-testbed",
            dependencies: ["JobQueue", "PostgresClient", "CommandLineInterface", "WorkerRuntime"],
            swiftSettings: strict),
        .executableTarget(
            name: "jobsctl",
            dependencies: ["JobQueue", "CleaningPlatform", "DemoData", "PostgresClient", "CommandLineInterface", "Console"],
            swiftSettings: strict),
        .executableTarget(
            name: "queue-worker",
            dependencies: ["JobQueue", "CleaningPlatform", "PostgresClient", "CommandLineInterface", "WorkerRuntime"],
            swiftSettings: strict),
        .target(name: "BenchSupport", dependencies: ["CommandLineInterface", "PostgresClient", "SeededRandom"], swiftSettings: strict),
        .executableTarget(
            name: "bench",
            dependencies: [
                "BenchSupport", "CleaningPlatform", "JobQueue", "Metrics", "PostgresClient", "CommandLineInterface",
                "SeededRandom", "Console",
            ],
            swiftSettings: strict),
        .target(name: "TestSupport", dependencies: ["PostgresClient"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "PostgresClientTests", dependencies: ["PostgresClient", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "CleaningPlatformTests", dependencies: ["CleaningPlatform", "DemoData", "JobQueue", "PostgresClient", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "JobQueueTests", dependencies: ["JobQueue", "HTTPServer", "PostgresClient", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ConsoleTests", dependencies: ["Console", "JobQueue", "PostgresClient", "HTTPServer", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Metrics", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "BenchTests", dependencies: ["bench", "BenchSupport"], swiftSettings: strict),
        .testTarget(
            name: "CommandLineInterfaceTests", dependencies: ["CommandLineInterface", "PostgresClient", "TestSupport"],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
