// swift-tools-version:6.0
// spoolrun: a secure-webmail delivery portal run as a batch job. See ../shared/DESIGN.md §2
// for the layout: a thin executable, the Spool engine, and one module per concern.
import PackageDescription

let package = Package(
    name: "spoolrun",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "spoolrun", targets: ["spoolrun"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // One system-library target per C library: a module map and a shim header only.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CGMime", path: "Sources/CGMime", pkgConfig: "gmime-3.0",
                       providers: [.apt(["libgmime-3.0-dev"])]),
        .systemLibrary(name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
                       providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CQPDF", path: "Sources/CQPDF", pkgConfig: "libqpdf",
                       providers: [.apt(["libqpdf-dev"])]),
        .systemLibrary(name: "CHaru", path: "Sources/CHaru",
                       providers: [.apt(["libhpdf-dev"])]),
        // The Linux calls Swift's Glibc module does not declare (syncfs, memfd_create, pipe2,
        // posix_spawn_file_actions_addclosefrom_np, mallopt): glibc itself, nothing to link.
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),

        .target(name: "Crypto", dependencies: ["COpenSSL"], path: "Sources/Crypto"),
        .target(name: "Mail", dependencies: ["CGMime"], path: "Sources/Mail"),
        // The shipped mail templates are compiled in (an administrator overrides them from a
        // directory, mail.templates), so the binary never runs without its texts.
        // Render reads mail bodies with Mail's charset decoder and HTML escaper, and makes OTP
        // passwords with Crypto's generator.
        .target(name: "Render", dependencies: ["Mail", "Crypto", "CLibXML2", "CHaru", "CQPDF", .product(name: "Mustache", package: "swift-mustache")],
                path: "Sources/Render", resources: [.embedInCode("Templates")]),
        // The tunnel of DESIGN §4, both sides, end to end: the outer message, CMS decryption and
        // the pinned signature, the signed entity, the payload, the envelope, the intake checks
        // and wrap. It reads MIME and CMS itself (GMime and OpenSSL behind its own types, with
        // Mail's and Crypto's package-level helpers), so no tunnel rule lives elsewhere.
        .target(name: "Tunnel", dependencies: ["Crypto", "Mail", "COpenSSL", "CGMime"], path: "Sources/Tunnel"),
        .target(
            name: "Spool",
            dependencies: [
                "Tunnel", "Crypto", "Mail", "Render", "CSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            // The portal's nginx locations, which deploy/nginx/spoolrun.conf is made from too.
            path: "Sources/Spool", resources: [.embedInCode("Installation/Templates")]),
        .executableTarget(
            name: "spoolrun",
            dependencies: [
                "Spool", "Tunnel", "Crypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/spoolrun"),

        // The in-process floor for `make bench` (scripts/bench.py).
        .executableTarget(
            name: "spoolrun-bench",
            dependencies: ["Crypto", "Mail", "Tunnel", "Spool", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Bench"),

        // Fuzz targets (issue 8): a library the regression tests replay through, and the
        // program libFuzzer drives (scripts/fuzz.sh builds it with -sanitize=fuzzer).
        .target(name: "FuzzTargets", dependencies: ["Spool", "Tunnel", "Mail", "Render", "CLibXML2"], path: "Sources/FuzzTargets"),
        .executableTarget(name: "spoolrun-fuzz", dependencies: ["FuzzTargets"], path: "Sources/Fuzz"),

        .target(name: "TestSupport", dependencies: [], path: "Tests/TestSupport"),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto", "Mail", "TestSupport"]),
        // Proves each C module map and link line works on this machine before the modules
        // that use libxml2, libharu and qpdf (Render) exist.
        .testTarget(name: "CLibraryTests", dependencies: ["COpenSSL", "CGMime", "CLibXML2", "CQPDF", "CHaru"]),
        .testTarget(name: "SpoolTests", dependencies: ["Spool", "Tunnel", "Crypto", "TestSupport", "FuzzTargets"]),
        .testTarget(name: "MailTests", dependencies: ["Mail", "TestSupport"]),
        .testTarget(name: "TunnelTests", dependencies: ["Tunnel", "Crypto", "Mail", "TestSupport"]),
        .testTarget(name: "RenderTests", dependencies: ["Render", "TestSupport", "FuzzTargets"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "Render", "Crypto"]),
    ]
)
