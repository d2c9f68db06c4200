import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural
import SloMoSpeed

/// `slomo bench`: every clip of the protocol, Middlebury and the memory figures, printed as
/// they come and written to the report and its chart.
public enum BenchRun {
    public static func run(data: String, report: String, chart: String, quick: Bool, methods: [Benchmark.Method],
                           anchor: String, context: GPUContext, command: String) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-bench-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var benchmark = Benchmark(context: context, scratch: scratch)
        benchmark.anchorCommand = anchor
        let store = ModelStore()
        let methods = methods.filter { method in
            if method == .disMedium, let reason = DISAnchor(command: anchor).unavailableReason() {
                print("slomo bench: skipping \(method.rawValue): \(reason) (see --anchor)")
                return false
            }
            guard let model = method.model, store.locate(model) == nil else { return true }
            print("slomo bench: skipping \(method.rawValue): \(model.displayName) weights are not installed (run scripts/fetch-models.sh)")
            return false
        }
        benchmark.methods = methods
        var clips = [Benchmark.Clip(name: "bikes 640×272", path: "\(data)/bikes.mp4"),
                     Benchmark.Clip(name: "carphone 176×144", path: "\(data)/carphone_pristine.mp4")]
        if !quick { clips.append(Benchmark.Clip(name: "bikes 1280×720", path: "\(data)/bikes.mp4", size: (1280, 720))) }
        var output = BenchmarkReport(command: command, machine: machineDescription(), device: context.info.description)
        for clip in clips {
            output.clips.append(try benchmark.run(clip, log: { print($0) }))
        }
        if !quick {
            let middlebury = try benchmark.runMiddlebury(directory: "\(data)/middlebury", log: { print($0) })
            output.middlebury = middlebury.mean
            output.middleburyPerSequence = middlebury.perSequence
            for result in middlebury.mean { print(String(format: "middlebury mean %@: %.2f dB", result.method.title, result.psnr)) }
        }
        let networks = methods.compactMap(\.model)
        if !quick && !networks.isEmpty {
            output.neuralSpeed = try neuralSpeed(networks, context: context)
            output.neuralSpeed.forEach { print($0) }
        }
        output.memory = try memoryFigures(context: context)
        output.memory.forEach { print($0) }
        let chartURL = URL(fileURLWithPath: chart)
        try FileManager.default.createDirectory(at: chartURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try output.svg().write(to: chartURL, atomically: true, encoding: .utf8)
        let reportURL = URL(fileURLWithPath: report)
        let relativeChart = chartURL.path.hasPrefix(reportURL.deletingLastPathComponent().path + "/")
            ? String(chartURL.path.dropFirst(reportURL.deletingLastPathComponent().path.count + 1)) : chartURL.path
        try output.markdown(chartPath: relativeChart).write(to: reportURL, atomically: true, encoding: .utf8)
        print("slomo bench: wrote \(report) and \(chart)")
    }

    /// The engine's own buffers at 1080p for each scale, and the process's resident memory over a
    /// long run (3000 pairs of the test pattern at 640×360, ×4), which must stay flat once warm.
    static func memoryFigures(context: GPUContext) throws -> [String] {
        var lines: [String] = []
        let format1080 = FrameFormat(width: 1920, height: 1080, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt709, range: .limited))
        for (preset, steps) in [(FlowPreset.fast, 1), (.quality, 1), (.quality, 15)] {
            let interpolator = try Interpolator(context: context, format: format1080, preset: preset, maxSteps: steps)
            let (device, host) = interpolator.memory
            lines.append(String(format: "1920×1080 yuv420p, %@ preset, up to %d frames per pair: %.1f MiB device, %.1f MiB host-visible",
                                preset.rawValue, steps, Double(device) / 1048576, Double(host) / 1048576))
        }
        let pattern = TestPattern(width: 640, height: 360)
        let interpolator = try Interpolator(context: context, format: pattern.format, preset: .fast, maxSteps: 3)
        var frame = [UInt8](repeating: 0, count: pattern.format.byteCount)
        var samples: [(Int, Double)] = []
        // Two rendered frames alternate so the loop measures the engine, not the renderer.
        var rendered = [frame, frame]
        for i in 0..<2 { rendered[i].withUnsafeMutableBytes { pattern.render(time: Double(i), into: $0) } }
        for pair in 0...3000 {
            frame = rendered[pair % 2]
            try frame.withUnsafeBytes { try interpolator.append($0) }
            if pair > 0 { try interpolator.synthesize(times: [0.25, 0.5, 0.75]) }
            if [100, 500, 1000, 2000, 3000].contains(pair) { samples.append((pair, residentMiB())) }
        }
        lines.append("Resident memory over 3000 pairs (640×360, ×4, fast; the first few hundred warm the allocator): " + samples.map { String(format: "%.1f MiB after %d", $0.1, $0.0) }.joined(separator: ", "))
        return lines
    }

    /// The networks on the test pattern, each at 640×360 and 1280×720, and Super SloMo at 640×360
    /// (untrained weights of its architecture: none are published, and the cost does not depend on
    /// them). Time per synthesised frame (×2, conversions included, after one warm-up pair), the
    /// network's GFLOP per frame and GFLOP/s.
    static func neuralSpeed(_ models: [NeuralModel], context: GPUContext) throws -> [String] {
        var cases: [(name: String, network: NeuralNetwork, width: Int, height: Int, pairs: Int)] = []
        for model in models {
            let network = try NeuralNetwork.load(model, checkpoint: ModelStore().require(model))
            cases += [(model.displayName, network, 640, 360, 2), (model.displayName, network, 1280, 720, 2)]
        }
        let untrained = SuperSloMo.untrainedStateDicts(seed: 1)
        cases.append(("Super SloMo (untrained weights)", NeuralNetwork(.superSloMo, parameters: [untrained.flow, untrained.interpolation]),
                      640, 360, 1))
        var lines: [String] = []
        for test in cases {
            let measured = try SpeedProbe.network(context: context, network: test.network, width: test.width, height: test.height,
                                                  minimumPairs: test.pairs)
            let mean = measured.milliseconds.reduce(0, +) / Double(measured.milliseconds.count)
            let flops = measured.flops ?? 0
            let padded = test.network.model.paddedSize(height: test.height, width: test.width)
            lines.append(String(format: "%@, %d×%d (network input padded to %d×%d): %.0f ms per synthesised frame, %.1f GFLOP per frame, %.1f GFLOP/s (mean of %d pair%@ after one warm-up)",
                                test.name, test.width, test.height, padded.width, padded.height, mean, flops / 1e9,
                                flops / 1e9 / (mean / 1000), measured.milliseconds.count, measured.milliseconds.count == 1 ? "" : "s"))
        }
        return lines
    }

    static func residentMiB() -> Double {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1048576
    }

    static func machineDescription() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
