// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "slomo",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "slomo", targets: ["slomo"]),
        .executable(name: "slomo-speed", targets: ["slomo-speed"]),
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
        // Linux UAPI constants Swift cannot import (ioctl numbers, fourccs), as prefixed static inlines.
        .target(name: "CV4L2"),
        .target(name: "CDRM"),
        // Build tool: compiles each target's Shaders/<folder>/*.comp to SPIR-V and embeds it as Swift source.
        .plugin(name: "ShaderCompiler", capability: .buildTool()),

        // Core: pure Swift, no I/O.
        .target(name: "SloMoCore"),
        // GPU: the only user of Vulkan.
        .target(name: "SloMoGPU", dependencies: ["CVulkan", .product(name: "Logging", package: "swift-log")]),
        // The interpolation engine built on SloMoGPU.
        .target(name: "SloMoInterp", dependencies: ["SloMoCore", "SloMoGPU"], plugins: ["ShaderCompiler"]),
        // Neural tier: PyTorch checkpoints read natively, a network runtime on compute shaders, RIFE and Super SloMo.
        .target(name: "SloMoNeural", dependencies: ["SloMoCore", "SloMoGPU"], plugins: ["ShaderCompiler"]),
        // Files: Y4M natively, everything else through libavformat/libavcodec.
        .target(name: "SloMoMedia", dependencies: ["SloMoCore", "CFFmpeg"]),
        // Kernel I/O: V4L2 capture and loopback output, DRM/KMS output.
        // The syscalls both kernel I/O modules make (open, ioctl, poll, mmap), bound once.
        .target(name: "SloMoLinux"),
        .target(name: "SloMoV4L2", dependencies: ["SloMoCore", "SloMoLinux", "CV4L2", "CFFmpeg"]),
        .target(name: "SloMoDRM", dependencies: ["SloMoCore", "SloMoLinux", "CDRM"]),
        // The service: pipeline, scheduler, budget controller, control socket, systemd integration.
        .target(name: "SloMoDaemon", dependencies: [
            "SloMoCore", "SloMoGPU", "SloMoInterp", "SloMoNeural", "SloMoMedia", "SloMoV4L2", "SloMoDRM", "SloMoLinux",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Speed on the test pattern: no footage and no FFmpeg, so it runs on any machine with a Vulkan device.
        .target(name: "SloMoSpeed", dependencies: ["SloMoCore", "SloMoGPU", "SloMoInterp", "SloMoNeural"]),
        // Offline work on files: the converter loop and the quality/speed benchmark.
        .target(name: "SloMoOffline", dependencies: ["SloMoCore", "SloMoGPU", "SloMoInterp", "SloMoNeural", "SloMoMedia", "SloMoSpeed"]),
        // The tools' command lines: argument parsing and wiring only.
        .target(name: "SloMoCommandLine", dependencies: [
            "SloMoCore", "SloMoGPU", "SloMoInterp", "SloMoNeural", "SloMoOffline", "SloMoDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Executables. `slomo` is all three tools by the name it is started as: what the package
        // installs, with slomod and slomoctl linked to it.
        .executableTarget(name: "slomo", dependencies: ["SloMoCommandLine"]),
        .executableTarget(name: "slomod", dependencies: ["SloMoCommandLine"]),
        .executableTarget(name: "slomoctl", dependencies: ["SloMoCommandLine"]),
        .executableTarget(name: "slomo-speed", dependencies: [
            "SloMoGPU", "SloMoInterp", "SloMoNeural", "SloMoSpeed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SloMoCoreTests", dependencies: ["SloMoCore"]),
        .testTarget(name: "SloMoInterpTests", dependencies: ["SloMoInterp", "SloMoMedia"]),
        .testTarget(name: "SloMoNeuralTests", dependencies: ["SloMoNeural", "SloMoMedia", "SloMoInterp"]),
        .testTarget(name: "SloMoMediaTests", dependencies: ["SloMoMedia"]),
        .testTarget(name: "SloMoOfflineTests", dependencies: ["SloMoOffline", "SloMoMedia", "SloMoInterp"]),
        .testTarget(name: "SlomoCLITests", dependencies: ["SloMoMedia", "slomo", "slomo-speed"]),
        .testTarget(name: "SloMoDaemonTests", dependencies: ["SloMoDaemon", "SloMoV4L2"]),
        // Drives the V4L2 and DRM classes against real drivers inside the test VM (Tests/vm).
        .executableTarget(name: "slomo-kio-probe", dependencies: [
            "SloMoCore", "SloMoV4L2", "SloMoDRM", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Depends on the probe, slomod and slomoctl so that `swift test` builds them for the VM tests to run.
        .testTarget(name: "SloMoV4L2Tests", dependencies: ["SloMoV4L2", "SloMoDRM", "SloMoCore", "slomo-kio-probe", "slomod", "slomoctl"]),
    ],
    swiftLanguageModes: [.v5]
)
