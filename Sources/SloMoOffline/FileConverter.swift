import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoMedia
import SloMoNeural

/// What `slomo interpolate` was asked to do.
public struct ConversionOptions: Sendable {
    public static let scales = 2...16
    /// Output frames per input frame.
    public var scale: Int
    public var synthesis = SynthesisChoice()
    /// Output rate; nil means input rate × scale (same duration), unless `slowMotion`.
    public var frameRate: Rational?
    /// Keep the input rate, so the clip lasts `scale` times longer.
    public var slowMotion = false
    public var visualization: Visualization?

    public init(scale: Int) { self.scale = scale }
}

/// What a conversion did, for the summary line.
public struct ConversionSummary: Sendable {
    public var framesIn = 0
    public var framesOut = 0
    public var synthesised = 0
    public var sceneCuts = 0
    /// Time spent in synthesis (GPU submissions, conversions included), in milliseconds.
    public var synthesisMilliseconds = 0.0
    public var seconds = 0.0
    public var outputRate = Rational(0)
    public var keptAudio = false

    public var millisecondsPerSynthesisedFrame: Double { synthesised == 0 ? 0 : synthesisMilliseconds / Double(synthesised) }
}

public enum ConversionError: Error, CustomStringConvertible {
    case scaleOutOfRange(Int)
    case emptyInput(String)
    case tooSmall(String, Int, Int)
    case visualizationNeedsFlow(SynthesisMode)

    public var description: String {
        switch self {
        case let .scaleOutOfRange(scale): return "scale \(scale) is out of range (\(ConversionOptions.scales.lowerBound)...\(ConversionOptions.scales.upperBound))"
        case let .emptyInput(path): return "\(path): the video has no frames"
        case let .tooSmall(path, w, h): return "\(path): frames of \(w)×\(h) are too small to interpolate"
        case let .visualizationNeedsFlow(mode): return "--visualize shows the flow engine's maps; mode \(mode.rawValue) has none"
        }
    }
}

/// Runs the engine over a video file: every input frame, then scale − 1 synthesised frames
/// before the next one. The last frame is held for scale slots so the duration (and any
/// copied audio) stays exactly input frames × scale slots.
public enum FileConverter {
    public static func convert(input: String, output: String, options: ConversionOptions, context: GPUContext,
                               progress: (_ done: Int, _ total: Int?) -> Void = { _, _ in }) throws -> ConversionSummary {
        guard ConversionOptions.scales.contains(options.scale) else { throw ConversionError.scaleOutOfRange(options.scale) }
        if options.visualization != nil && options.synthesis.mode != .flow { throw ConversionError.visualizationNeedsFlow(options.synthesis.mode) }
        let started = Date()
        let reader = try openVideoReader(path: input)
        let format = reader.format
        guard format.width >= 2, format.height >= 2 else { throw ConversionError.tooSmall(input, format.width, format.height) }
        let sameDuration = reader.frameRate * options.scale
        let rate = options.slowMotion ? reader.frameRate : (options.frameRate ?? sameDuration)
        var summary = ConversionSummary()
        summary.outputRate = rate
        let writer = try makeVideoWriter(path: output, format: format, frameRate: rate,
                                         audioFrom: !options.slowMotion && rate == sameDuration ? reader : nil,
                                         chromaSiting: reader.chromaSiting)
        summary.keptAudio = (writer as? LibavWriter)?.copiesAudio ?? false
        let interpolator = try Synthesizers.make(options.synthesis, context: context, format: format, maxSteps: options.scale - 1)
        (interpolator as? Interpolator)?.visualization = options.visualization
        let times = (1..<options.scale).map { Float($0) / Float(options.scale) }

        var frame = [UInt8](repeating: 0, count: format.byteCount)
        guard try frame.withUnsafeMutableBytes({ try reader.read(into: $0) }) else { throw ConversionError.emptyInput(input) }
        try frame.withUnsafeBytes { bytes in
            try interpolator.append(bytes)
            // Visualisations replace every frame, so real frames are not written.
            if options.visualization == nil { try writer.write(bytes) }
        }
        summary.framesIn = 1
        summary.framesOut = options.visualization == nil ? 1 : 0
        progress(1, reader.frameCountHint)
        while try frame.withUnsafeMutableBytes({ try reader.read(into: $0) }) {
            try frame.withUnsafeBytes { try interpolator.append($0) }
            let synthesis = try interpolator.synthesize(times: times)
            for index in 0..<synthesis.count { try writer.write(interpolator.output(index)) }
            if options.visualization == nil { try frame.withUnsafeBytes { try writer.write($0) } }
            summary.framesIn += 1
            summary.framesOut += synthesis.count + (options.visualization == nil ? 1 : 0)
            summary.synthesised += synthesis.count
            summary.sceneCuts += synthesis.sceneCut ? 1 : 0
            summary.synthesisMilliseconds += synthesis.gpuMilliseconds
            progress(summary.framesIn, reader.frameCountHint)
        }
        if options.visualization == nil {
            for _ in 1..<options.scale { try frame.withUnsafeBytes { try writer.write($0) } }
            summary.framesOut += options.scale - 1
        }
        try writer.finish()
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }
}
