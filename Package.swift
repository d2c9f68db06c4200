// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "slomo",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "slomo", targets: ["slomo"]),
        .library(name: "SloMoInterp", targets: ["SloMoInterp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C access: system libraries through module maps, macros through static inlines.
        .systemLibrary(name: "CVulkan", pkgConfig: "vulkan", providers: [.apt(["libvulkan-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        // Build tool: compiles Shaders/*.comp to SPIR-V and embeds it as Swift source.
        .plugin(name: "ShaderCompiler", capability: .buildTool()),

        // Core: pure Swift, no I/O.
        .target(name: "SloMoCore"),
        // GPU: the only user of Vulkan.
        .target(name: "SloMoGPU", dependencies: ["CVulkan", .product(name: "Logging", package: "swift-log")]),
        // The interpolation engine built on SloMoGPU.
        .target(name: "SloMoInterp", dependencies: ["SloMoCore", "SloMoGPU"], plugins: ["ShaderCompiler"]),
        // Files: Y4M natively, everything else through libavformat/libavcodec.
        .target(name: "SloMoMedia", dependencies: ["SloMoCore", "CFFmpeg"]),
        // Offline work on files: the converter loop and the quality/speed benchmark.
        .target(name: "SloMoOffline", dependencies: ["SloMoCore", "SloMoGPU", "SloMoInterp", "SloMoMedia"]),
        // Executables: argument parsing and wiring only.
        .executableTarget(name: "slomo", dependencies: [
            "SloMoCore", "SloMoGPU", "SloMoInterp", "SloMoOffline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SloMoCoreTests", dependencies: ["SloMoCore"]),
        .testTarget(name: "SloMoInterpTests", dependencies: ["SloMoInterp", "SloMoMedia"]),
        .testTarget(name: "SloMoMediaTests", dependencies: ["SloMoMedia"]),
        .testTarget(name: "SloMoOfflineTests", dependencies: ["SloMoOffline", "SloMoMedia", "SloMoInterp"]),
        .testTarget(name: "SlomoCLITests", dependencies: ["SloMoMedia"]),
    ],
    swiftLanguageModes: [.v5]
)
