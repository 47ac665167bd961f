// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

let package = Package(
    name: "devserve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "devserve", targets: ["devserve"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // The system layer: Glibc only. One Errno, the EINTR-retrying system-call wrapper, path
        // strings. Every other module builds on it.
        .target(name: "DevServeSystem", swiftSettings: strict),
        // HTTP as values: the request and its field table, the response, validators, ranges,
        // dates, media types, the target rules, and the Responder interface. No sockets.
        .target(
            name: "DevServeHTTP",
            dependencies: [
                "DevServeSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Live reload: the change hub (the change log and the waiting polls), the poll protocol,
        // the script tag and its injection, and the browser client.
        .target(
            name: "DevServeLiveReload",
            dependencies: [
                "DevServeSystem",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // The browser client, kept as a real .js file and compiled into the binary.
            resources: [.embedInCode("Resources/client.js")],
            swiftSettings: strict
        ),
        // The site: the request policy (Host, Origin, Sec-Fetch, CORS), path resolution, files,
        // the small-file cache, listings, protected files and private keys, and the
        // /__devserve/* endpoints: FileResponder, a Responder. No sockets.
        .target(
            name: "DevServeSite",
            dependencies: [
                "DevServeSystem",
                "DevServeHTTP",
                "DevServeLiveReload",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The server: listeners, the connection cap, TLS sniffing, the HTTP/1.1 parser and
        // connection, the HTTP/2 connection, file streaming and the wire encoders. It knows a
        // Responder, never the site or live reload.
        .target(
            name: "DevServeServer",
            dependencies: [
                "DevServeSystem",
                "DevServeHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The command line: flags, validation, start-up block. A library so tests can build it.
        .target(
            name: "DevServeCLI",
            dependencies: [
                "DevServeSystem",
                "DevServeHTTP",
                "DevServeLiveReload",
                "DevServeSite",
                "DevServeServer",
                "DevServeTLS",
                "DevServeWatcher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "devserve",
            dependencies: ["DevServeCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        // Raw loopback sockets, shared by the test targets that talk to a real server.
        .target(
            name: "DevServeTestSupport", dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/DevServeTestSupport", swiftSettings: strict),
        .testTarget(
            name: "DevServeCoreTests",
            dependencies: [
                "DevServeSite",
                "DevServeServer",
                "DevServeHTTP",
                "DevServeLiveReload",
                "DevServeTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DevServeCLITests",
            dependencies: ["DevServeCLI", "DevServeHTTP", "DevServeLiveReload", "devserve", "DevServeTestSupport"],
            swiftSettings: strict
        ),
        // libinotifytools (libinotifytools0-dev; no pkg-config file on Debian): a module map that
        // links it by name and a shim header.
        .systemLibrary(name: "CInotifyTools", path: "Sources/CInotifyTools"),
        // The file watcher: the only code calling inotifytools_*, on its own thread. No NIO.
        .target(
            name: "DevServeWatcher",
            dependencies: ["DevServeSystem", "CInotifyTools", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DevServeWatcherTests",
            dependencies: ["DevServeWatcher", "DevServeTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // System OpenSSL 3 (libssl-dev) through pkg-config, with a shim header for its macros.
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // TLS: the only code calling OpenSSL: certificates, the context and the connection handler. Never sees HTTP.
        .target(
            name: "DevServeTLS",
            dependencies: [
                "DevServeSystem",
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DevServeTLSTests",
            dependencies: [
                "DevServeTLS",
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
