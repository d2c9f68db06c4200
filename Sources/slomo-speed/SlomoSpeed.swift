import ArgumentParser
import Foundation
import SloMoGPU
import SloMoInterp
import SloMoNeural
import SloMoSpeed

/// The engine's speed on this machine's GPU, on the built-in test pattern: no footage and no
/// FFmpeg needed (`slomo bench` measures quality too, on real clips).
@main
struct SlomoSpeed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slomo-speed",
        abstract: "Milliseconds per synthesised frame of each mode on the test pattern.")

    @Option(name: .long, help: "Vulkan device: an index or part of its name (see `slomo devices`).")
    var device: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Frame sizes, WIDTHxHEIGHT.")
    var sizes: [String] = ["640x360", "1280x720", "1920x1080"]

    @Option(name: .long, help: "Seconds each classical case runs after its warm-up.")
    var seconds: Double = 2

    @Flag(name: .long, help: "Also time RIFE 4.25 and RIFE HD v3 (installed weights) and Super SloMo (untrained weights of its architecture).")
    var networks = false

    @Option(name: .long, parsing: .upToNextOption, help: "With --networks: time only these: rife-4.25, rife-hdv3, super-slomo (default: all).")
    var only: [String] = []

    @Flag(name: .long, help: "With --networks: also print each network's GPU time and GFLOP/s per layer type (a timestamp after every dispatch).")
    var layers = false

    @Option(name: .long, parsing: .upToNextOption, help: "RIFE's weight precisions to time: float16, float32 (default: the device's).")
    var rifePrecision: [String] = []

    func run() throws {
        do {
            // Options are checked before anything is measured.
            let frameSizes = try sizes.map { size in
                let parts = size.split(separator: "x").compactMap { Int($0) }
                guard parts.count == 2, parts.allSatisfy({ $0 >= 16 && $0 <= 8192 }) else {
                    throw UsageError(description: "size '\(size)' is not WIDTHxHEIGHT with sides 16...8192")
                }
                return (width: parts[0], height: parts[1])
            }
            let precisions: [NeuralPrecision?] = try rifePrecision.isEmpty ? [nil] : rifePrecision.map { name in
                switch name {
                case "float16": return .float16
                case "float32": return .float32
                default: throw UsageError(description: "precision '\(name)' is neither float16 nor float32")
                }
            }
            let names = ["rife-4.25", "rife-hdv3", "super-slomo"]
            if let unknown = only.first(where: { !names.contains($0) }) {
                throw UsageError(description: "network '\(unknown)' is none of \(names.joined(separator: ", "))")
            }
            let context = try GPUContext(options: GPUOptions(device: device))
            print("device: \(context.info.description)")
            // Weights are read (RIFE) or made (Super SloMo) once for every size.
            let timedNetworks = networks ? try loadNetworks(precisions: precisions) : []
            for size in frameSizes {
                try measureEngine(context: context, width: size.width, height: size.height)
                try measure(timedNetworks, context: context, width: size.width, height: size.height)
            }
            for message in context.validationLog.messages {
                FileHandle.standardError.write(Data("slomo-speed: Vulkan validation: \(message)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("slomo-speed: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func measureEngine(context: GPUContext, width: Int, height: Int) throws {
        let cases: [(String, InterpolationMode, FlowPreset, Int)] = [
            ("blend", .blend, .fast, 1), ("flow/fast", .flow, .fast, 1), ("flow/quality", .flow, .quality, 1),
            ("flow/fast", .flow, .fast, 7), ("flow/quality", .flow, .quality, 7),
        ]
        for (name, mode, preset, steps) in cases {
            let measured = try SpeedProbe.engine(context: context, width: width, height: height, mode: mode, preset: preset,
                                                 steps: steps, seconds: seconds)
            print(String(format: "%@ %d×%d ×%d: %.2f ms per synthesised frame (median of %d pairs)",
                         name, width, height, steps + 1, measured.median, measured.milliseconds.count))
        }
    }

    private typealias TimedNetwork = (name: String, network: NeuralNetwork, precision: NeuralPrecision?)

    private func loadNetworks(precisions: [NeuralPrecision?]) throws -> [TimedNetwork] {
        let chosen = { (name: String) in only.isEmpty || only.contains(name) }
        let weights = { (precision: NeuralPrecision?) in precision.map { " (\($0) weights)" } ?? "" }
        var timed: [TimedNetwork] = []
        if chosen("rife-4.25") {
            let rife425 = try NeuralNetwork.load(.rife425, checkpoint: ModelStore().require(.rife425))
            timed += precisions.map { ("RIFE 4.25" + weights($0), rife425, $0) }
        }
        if chosen("rife-hdv3") {
            let rife = try NeuralNetwork.load(.rifeHDv3, checkpoint: ModelStore().require(.rifeHDv3))
            timed += precisions.map { ("RIFE HD v3" + weights($0), rife, $0) }
        }
        if chosen("super-slomo") {
            let untrained = SuperSloMo.untrainedStateDicts(seed: 1)
            timed.append(("Super SloMo (untrained weights)", NeuralNetwork(.superSloMo, parameters: [untrained.flow, untrained.interpolation]), nil))
        }
        return timed
    }

    private func measure(_ networks: [TimedNetwork], context: GPUContext, width: Int, height: Int) throws {
        for (name, network, precision) in networks {
            let measured = try SpeedProbe.network(context: context, network: network, width: width, height: height,
                                                  minimumPairs: 3, seconds: seconds, precision: precision, profile: layers)
            let flops = measured.flops ?? 0
            print(String(format: "%@ %d×%d ×2: %.1f ms per synthesised frame, %.1f GFLOP, %.0f GFLOP/s (median of %d pairs)",
                         name, width, height, measured.median, flops / 1e9, flops / 1e9 / (measured.median / 1000),
                         measured.milliseconds.count))
            let profiled = measured.layers.reduce(0) { $0 + $1.milliseconds }
            for layer in measured.layers {
                let share = profiled > 0 ? 100 * layer.milliseconds / profiled : 0
                let arithmetic = layer.flops > 0
                    ? String(format: ", %.2f GFLOP, %.1f GFLOP/s", layer.flops / 1e9, layer.flops / 1e9 / (layer.milliseconds / 1000)) : ""
                print(String(format: "  %@: %.1f ms (%.0f%%)%@, %d dispatches", layer.stage, layer.milliseconds, share, arithmetic, layer.dispatches))
            }
        }
    }
}

/// A bad option value, reported like any other error: one line and a non-zero exit.
struct UsageError: Error, CustomStringConvertible {
    let description: String
}
