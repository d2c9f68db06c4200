import ArgumentParser
import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural
import SloMoOffline

/// `slomo`: the offline converter, its demo, benchmark and device and model listings.
public struct Slomo: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Frame-rate upconversion and slow motion on Vulkan compute.",
        version: SloMoVersion.current,
        subcommands: [Interpolate.self, FlowCommand.self, Demo.self, Bench.self, Devices.self, Models.self])

    public init() {}
}

extension SynthesisMode: ExpressibleByArgument {}
extension NeuralModel: ExpressibleByArgument {}
extension FlowPreset: ExpressibleByArgument {}
extension Visualization: ExpressibleByArgument {}
extension Benchmark.Method: ExpressibleByArgument {}

/// Options every GPU command shares.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "Vulkan device: an index or part of its name (see `slomo devices`).")
    var device: String?

    func context() throws -> GPUContext { try GPUContext(options: GPUOptions(device: device)) }
}

/// With SLOMO_VULKAN_VALIDATION=1, whatever the validation layer said goes to stderr, so the
/// tests that run this binary see it.
func reportValidation(_ context: GPUContext) {
    for message in context.validationLog.messages {
        FileHandle.standardError.write(Data("slomo: Vulkan validation: \(message)\n".utf8))
    }
}

/// Runs `body`, turning any error into one line on stderr and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("slomo: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// A bad option value, reported like any other error.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A one-line progress bar on a terminal; silent otherwise.
final class ProgressBar {
    private let enabled = isatty(STDERR_FILENO) != 0
    private var last = Date.distantPast

    func update(_ done: Int, _ total: Int?) {
        guard enabled, Date().timeIntervalSince(last) > 0.1 else { return }
        last = Date()
        if let total, total > 0 {
            let width = 30, filled = min(width, done * width / total)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) frames".utf8))
        } else {
            FileHandle.standardError.write(Data("\r\(done) frames".utf8))
        }
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interpolate a video file.",
        discussion: """
            Writes scale − 1 synthesised frames between every pair of input frames. By default the frame rate \
            rises by the scale and the duration (and audio) is kept; --slowmo keeps the input rate, so the \
            clip plays scale times slower (`--scale 4 --slowmo` is Super SloMo's `eval.py --scale 4`).
            Output by extension: .y4m, .mp4, .mkv, .mov.
            """)

    @Argument(help: "Input video (Y4M, or anything FFmpeg's libraries decode).") var input: String
    @Argument(help: "Output video (.y4m, .mp4, .mkv, .mov).") var output: String
    @Option(help: "Output frames per input frame (2...16).") var scale: Int
    @Option(help: "repeat, blend, flow, or a network's mode: \(SynthesisMode.allCases.filter(\.isNeural).map(\.rawValue).joined(separator: ", ")) (see --model).") var mode: SynthesisMode = .flow
    @Option(help: "The network of a neural mode: \(NeuralModel.helpList); see `slomo models`.") var model: NeuralModel?
    @Option(help: "fast or quality (flow mode).") var preset: FlowPreset = .quality
    @Option(help: "Network weights for a neural mode (default: the installed model).") var checkpoint: String?
    @Option(help: "Output frame rate (default: input rate × scale).") var fps: Double?
    @Flag(help: "Keep the input frame rate: slow motion.") var slowmo = false
    @Option(help: "Write pictures of the flow or visibility maps instead of frames.") var visualize: Visualization?
    @Flag(help: "Also print the flow engine's GPU time per synthesised frame by shader.") var profile = false
    @OptionGroup var deviceOptions: DeviceOptions

    /// Checked in `run`, so a bad value gets the same one-line error as any other failure.
    func checkValues() throws {
        guard ConversionOptions.scales.contains(scale) else {
            throw UsageError("--scale must be between \(ConversionOptions.scales.lowerBound) and \(ConversionOptions.scales.upperBound)")
        }
        if fps != nil && slowmo { throw UsageError("--fps and --slowmo exclude each other") }
        if let fps, !(fps > 0 && fps <= 1000) { throw UsageError("--fps must be between 0 and 1000") }
    }

    func run() throws {
        try reportingErrors { try checkValues() }
        var options = ConversionOptions(scale: scale)
        options.synthesis = SynthesisChoice(mode: mode, preset: preset, checkpoint: checkpoint, model: model)
        options.slowMotion = slowmo
        options.frameRate = fps.map(Rational.approximating)
        options.visualization = visualize
        options.profile = profile
        let progress = ProgressBar()
        let summary = try reportingErrors {
            let vulkanStarted = Date()
            let context = try deviceOptions.context()
            let vulkanSeconds = Date().timeIntervalSince(vulkanStarted)
            defer {
                progress.finish()
                reportValidation(context)
            }
            var summary = try FileConverter.convert(input: input, output: output, options: options, context: context, progress: progress.update)
            summary.vulkanSeconds = vulkanSeconds
            return summary
        }
        print("slomo: " + summary.line(label: options.synthesis.label))
        if let stages = summary.stageLine { print("slomo: " + stages) }
    }
}

struct FlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Write the flow engine's optical flow between two images as a Middlebury .flo file.",
        discussion: "The flow from the first image to the second (--backward: back), in pixels at full resolution, "
            + "as the flow mode estimates it for the pair: for scoring the estimator (endpoint error) apart from the synthesis.")

    @Argument(help: "First image (PNG, or anything FFmpeg's libraries decode).") var first: String
    @Argument(help: "Second image, the same size.") var second: String
    @Argument(help: "Output flow (.flo).") var output: String
    @Option(help: "fast or quality.") var preset: FlowPreset = .quality
    @Flag(help: "The flow from the second image to the first.") var backward = false
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        let size = try reportingErrors {
            let context = try deviceOptions.context()
            defer { reportValidation(context) }
            return try FlowExport.run(first: first, second: second, output: output, preset: preset, backward: backward, context: context)
        }
        print("slomo flow: wrote \(size.width)×\(size.height) flow (\(preset.rawValue) preset) to \(output)")
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interpolate the built-in moving test pattern and score it against the true in-between frames.")

    @Argument(help: "Where to write the interpolated pattern (.y4m, .mp4, .mkv).") var output = "slomo-demo.y4m"
    @Option(help: "Output frames per input frame (2...16).") var scale = 4
    @Option(help: "Input frames to render.") var frames = 24
    @Option(help: "fast or quality.") var preset: FlowPreset = .quality
    @Option(help: "Pattern size, WIDTHxHEIGHT.") var size = "640x360"
    @OptionGroup var deviceOptions: DeviceOptions

    var dimensions: (width: Int, height: Int)? {
        let parts = size.split(separator: "x").compactMap { Int($0) }
        return parts.count == 2 && parts.allSatisfy({ (16...7680).contains($0) }) ? (parts[0], parts[1]) : nil
    }

    func run() throws {
        let result = try reportingErrors {
            guard dimensions != nil else { throw UsageError("--size must be WIDTHxHEIGHT, each 16...7680") }
            guard ConversionOptions.scales.contains(scale) else { throw UsageError("--scale must be between 2 and 16") }
            guard frames >= 2 else { throw UsageError("--frames must be at least 2") }
            let context = try deviceOptions.context()
            defer { reportValidation(context) }
            return try DemoRun.run(output: output, scale: scale, frames: frames, preset: preset, context: context,
                                   pattern: TestPattern(width: dimensions!.width, height: dimensions!.height))
        }
        print(String(format: "slomo demo: wrote %d frames (%dx%d, %d× of %d rendered frames) to %@ on %@",
                     result.framesOut, result.width, result.height, scale, frames, output, result.device))
        print(String(format: "slomo demo: in-between frames against the true pattern: flow %.2f dB, blend %.2f dB, repeat %.2f dB (PSNR-Y); %.1f ms per synthesised frame",
                     result.flowPSNR, result.blendPSNR, result.repeatPSNR, result.millisecondsPerFrame))
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quality and speed against repeat, blend, FFmpeg's minterpolate and DIS-medium + fusion; writes BENCHMARKS.md and its chart.")

    @Option(help: "Folder with bikes.mp4, carphone_pristine.mp4 and middlebury/.") var data = "../shared/data"
    @Option(help: "Report to write.") var report = "BENCHMARKS.md"
    @Option(help: "Chart to write, referenced from the report.") var chart = "benchmarks/quality-speed.svg"
    @Flag(help: "Skip the 1280×720 speed case and Middlebury.") var quick = false
    @Option(parsing: .upToNextOption, help: "Methods to run (default: all): \(Benchmark.Method.allCases.map(\.rawValue).joined(separator: ", ")).")
    var methods: [Benchmark.Method] = Benchmark.Method.allCases
    @Option(help: "The DIS-medium + fusion anchor: a Python with NumPy and OpenCV, and ../shared/bench/dis_slomo.py (skipped if it cannot run).")
    var anchor = Benchmark.defaultAnchorCommand
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        try reportingErrors {
            try BenchRun.run(data: data, report: report, chart: chart, quick: quick, methods: methods, anchor: anchor,
                             context: try deviceOptions.context(),
                             command: (["slomo"] + CommandLine.arguments.dropFirst()).joined(separator: " "))
        }
    }
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the Vulkan devices, the one chosen by default first.")

    func run() throws {
        let devices = try reportingErrors { try GPUContext.availableDevices() }
        if devices.isEmpty {
            FileHandle.standardError.write(Data("slomo: error: \(GPUError.noDevice)\n".utf8))
            throw ExitCode.failure
        }
        for device in devices.sorted(by: { ($0.kind, $0.index) < ($1.kind, $1.index) }) { print(device) }
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the neural models, where their weights were found, and their parameter counts.")

    func run() throws {
        let store = ModelStore()
        var failed = false
        for model in NeuralModel.allCases {
            let padded = model.paddedSize(height: 720, width: 1280)
            let cost = String(format: "%.1f GFLOP a frame at 1280×720", model.flopsPerPixel * Double(padded.height * padded.width) / 1e9)
            guard let url = store.locate(model) else {
                print("\(model.rawValue)  \(model.displayName)  not installed (\(model.weights.installHint))  \(cost)")
                continue
            }
            // Loading the weights proves they are usable, not merely present.
            do {
                let parameters = try NeuralNetwork.load(model, checkpoint: url).parameterCount
                print("\(model.rawValue)  \(model.displayName)  \(parameters) parameters  \(url.path)  \(cost)")
            } catch {
                FileHandle.standardError.write(Data("slomo: error: \(error)\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }
}
