import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// Time per synthesised frame of the engine and the networks on the moving test pattern. Needs
/// neither FFmpeg nor footage, so it runs on any machine with a Vulkan device: `slomo-speed` on a
/// bare GPU box, and the network rows of `slomo bench`.
public enum SpeedProbe {
    public struct Measurement: Sendable {
        public var milliseconds: [Double]
        /// Network arithmetic per synthesised frame; nil for the classical modes.
        public var flops: Double?
        /// With profiling: per layer type (or shader), the median over the timed pairs of its GPU
        /// milliseconds per synthesised frame, its FLOPs and its dispatches, in order of first dispatch.
        public var layers: [(stage: String, milliseconds: Double, flops: Double, dispatches: Int)] = []

        /// Median time per synthesised frame.
        public var median: Double {
            let sorted = milliseconds.sorted()
            return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        }
    }

    /// Runs `synthesizer` on pairs of the test pattern: `warmUp` pairs untimed (pipelines and caches
    /// settle), then at least `minimumPairs` timed pairs and until `seconds` have passed. Each time is
    /// the whole pair's synthesis (upload, conversions, flow, all steps in one submission) over `steps`.
    /// `afterEach` runs after each timed pair's synthesis.
    public static func measure(_ synthesizer: FrameSynthesizer, pattern: TestPattern, steps: Int, warmUp: Int = 2,
                               minimumPairs: Int = 3, seconds: Double = 2, afterEach: () throws -> Void = {}) throws -> Measurement {
        let times = (1...steps).map { Float($0) / Float(steps + 1) }
        // Two rendered frames alternate, so the loop measures the engine, not the renderer.
        var rendered = [[UInt8]](repeating: [UInt8](repeating: 0, count: pattern.format.byteCount), count: 2)
        for i in 0..<2 { rendered[i].withUnsafeMutableBytes { pattern.render(time: Double(i), into: $0) } }
        try rendered[0].withUnsafeBytes { try synthesizer.append($0) }
        var milliseconds: [Double] = []
        let start = Date()
        var pair = 0
        while pair < warmUp + minimumPairs || Date().timeIntervalSince(start) < seconds {
            pair += 1
            try rendered[pair % 2].withUnsafeBytes { try synthesizer.append($0) }
            let synthesis = try synthesizer.synthesize(times: times)
            if pair > warmUp {
                milliseconds.append(synthesis.gpuMilliseconds / Double(steps))
                try afterEach()
            }
        }
        return Measurement(milliseconds: milliseconds, flops: nil)
    }

    /// The classical engine in one mode and preset.
    public static func engine(context: GPUContext, width: Int, height: Int, mode: InterpolationMode, preset: FlowPreset,
                              steps: Int, seconds: Double = 2) throws -> Measurement {
        let pattern = TestPattern(width: width, height: height)
        let interpolator = try Interpolator(context: context, format: pattern.format, preset: preset, maxSteps: steps)
        interpolator.mode = mode
        // The test pattern has no scene cuts, but a detector tuned for footage must not skip work here.
        interpolator.sceneCuts.enabled = false
        return try measure(interpolator, pattern: pattern, steps: steps, seconds: seconds)
    }

    /// A network, ×2, after one warm-up pair; `precision` is RIFE's weights' (nil: the device's default).
    /// `profile` times every dispatch too (a timestamp after each) and fills `layers`.
    public static func network(context: GPUContext, network: NeuralNetwork, width: Int, height: Int,
                               minimumPairs: Int, seconds: Double = 0, precision: NeuralPrecision? = nil,
                               profile: Bool = false) throws -> Measurement {
        let pattern = TestPattern(width: width, height: height)
        let interpolator = try NeuralInterpolator(context: context, format: pattern.format, network: network, maxSteps: 1,
                                                  precision: precision)
        interpolator.profiling = profile
        var profiles: [[(stage: String, milliseconds: Double, flops: Double, dispatches: Int)]] = []
        var measurement = try measure(interpolator, pattern: pattern, steps: 1, warmUp: 1, minimumPairs: minimumPairs, seconds: seconds) {
            if profile { profiles.append(try interpolator.lastProfile()) }
        }
        measurement.flops = interpolator.lastFlops
        // Every pair replays the same recording, so the stages line up pair by pair.
        if let first = profiles.first {
            measurement.layers = first.indices.map { index in
                let times = profiles.map { $0[index].milliseconds }.sorted()
                return (first[index].stage, times[times.count / 2], first[index].flops, first[index].dispatches)
            }
        }
        return measurement
    }
}
