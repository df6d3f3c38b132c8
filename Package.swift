// swift-tools-version: 6.2
import PackageDescription

/// CI (and anyone who sets REGISTRAR_STRICT) builds with every warning as an error.
let strict = Context.environment["CI"] == "true" || Context.environment["REGISTRAR_STRICT"] != nil
let settings: [SwiftSetting] = strict ? [.treatAllWarnings(as: .error)] : []

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

/// One service: a `<Name>Core` library with its handlers and rules, and a thin executable.
func service(_ name: String, executable: String) -> [Target] {
    [
        .target(
            name: "\(name)Core",
            dependencies: ["Messaging", "Directory", "Contract", "Platform", "Postgres", log, metrics, lifecycle],
            path: "Services/\(name)/\(name)Core", swiftSettings: settings),
        .executableTarget(
            name: executable,
            dependencies: [.target(name: "\(name)Core"), "Messaging", "Contract", "Platform", log, lifecycle],
            path: "Services/\(name)/Main", swiftSettings: settings),
    ]
}

let package = Package(
    name: "Registrar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "registrar-identity", targets: ["registrar-identity"]),
        .executable(name: "registrar-permissions", targets: ["registrar-permissions"]),
        .executable(name: "registrar-binding", targets: ["registrar-binding"]),
        .executable(name: "registrar-deregistration", targets: ["registrar-deregistration"]),
        .executable(name: "registrar", targets: ["registrar"]),
        .executable(name: "registrar-bench", targets: ["registrar-bench"]),
        .executable(name: "registrar-gateway", targets: ["registrar-gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // The gateway's HTTP/1.1 server (issue 19): NIOPosix and NIOHTTP1 only, no framework.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CRdKafka", path: "Shared/CRdKafka", pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(
            name: "CLibPQ", path: "Shared/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CSodium", path: "Shared/CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(
            name: "CMaxMindDB", path: "Shared/CMaxMindDB", pkgConfig: "libmaxminddb",
            providers: [.apt(["libmaxminddb-dev"])]),
        .target(name: "GeoIP", dependencies: ["CMaxMindDB"], path: "Shared/GeoIP", swiftSettings: settings),
        .target(
            name: "GatewayCore",
            dependencies: [
                "Messaging", "Contract", "Platform", "Kafka", "GeoIP", log, metrics, lifecycle,
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Services/Gateway/GatewayCore", swiftSettings: settings),
        .executableTarget(
            name: "registrar-gateway",
            dependencies: ["GatewayCore", "Messaging", "Contract", "Platform", "Kafka", "GeoIP", log, lifecycle],
            path: "Services/Gateway/Main", swiftSettings: settings),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["GatewayCore", "GeoIP", "Messaging", "Contract", "Platform", "Kafka", "TestSupport"],
            path: "Tests/GatewayTests", swiftSettings: settings),
        .target(name: "Kafka", dependencies: ["CRdKafka", log], path: "Shared/Kafka", swiftSettings: settings),
        .target(name: "Postgres", dependencies: ["CLibPQ", log], path: "Shared/Postgres", swiftSettings: settings),
        .target(
            name: "Platform", dependencies: ["CSodium", log, metrics], path: "Shared/Platform",
            swiftSettings: settings),
        .target(name: "Contract", path: "Shared/Contract", swiftSettings: settings),
        .target(
            name: "Messaging", dependencies: ["Contract", "Kafka", "Postgres", "Platform", log, metrics, lifecycle],
            path: "Shared/Messaging", swiftSettings: settings),
        .target(
            name: "Directory", dependencies: ["Contract", "Messaging", "Postgres", "Platform"],
            path: "Shared/Directory", swiftSettings: settings),
        .executableTarget(
            name: "registrar",
            dependencies: [
                "Messaging", "Contract", "Directory", "Platform", "Postgres", "Kafka", log,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/CLI", swiftSettings: settings),
        .executableTarget(
            name: "registrar-bench",
            dependencies: [
                "Messaging", "Contract", "Directory", "Platform", "Postgres", "Kafka", log,
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Services/Bench", swiftSettings: settings),
        .target(
            name: "TestSupport",
            dependencies: ["Messaging", "Contract", "Directory", "Platform", "Postgres", "Kafka", log],
            path: "Tests/Support", swiftSettings: settings),
        .testTarget(
            name: "SharedTests",
            dependencies: ["Messaging", "Contract", "Directory", "Platform", "Postgres", "Kafka", "TestSupport"],
            path: "Tests/SharedTests", swiftSettings: settings),
        .testTarget(
            name: "IdentityTests", dependencies: ["IdentityCore", "Contract", "Messaging", "Platform", "TestSupport"],
            path: "Tests/IdentityTests", swiftSettings: settings),
        .testTarget(
            name: "PermissionsTests", dependencies: ["PermissionsCore", "Contract", "Platform"],
            path: "Tests/PermissionsTests", swiftSettings: settings),
        .testTarget(
            name: "BindingTests", dependencies: ["BindingCore", "Contract", "Platform"], path: "Tests/BindingTests",
            swiftSettings: settings),
        .testTarget(
            name: "DeregistrationTests", dependencies: ["DeregistrationCore", "Contract", "Platform"],
            path: "Tests/DeregistrationTests", swiftSettings: settings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Messaging", "Contract", "Directory", "Platform", "Postgres", "Kafka", "TestSupport", "IdentityCore",
            ],
            path: "Tests/IntegrationTests", swiftSettings: settings),
    ]
        + service("Identity", executable: "registrar-identity")
        + service("Permissions", executable: "registrar-permissions")
        + service("Binding", executable: "registrar-binding")
        + service("Deregistration", executable: "registrar-deregistration")
)
