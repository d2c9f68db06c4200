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
    /// Time every dispatch of the flow engine, for the summary's stage line (costs a little speed).
    public var profile = false

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
    /// Wall time of `convert`, and of its start-up: opening the files, making the engine, the first
    /// two frames and their synthesis (which builds the pipelines).
    public var seconds = 0.0
    public var startupSeconds = 0.0
    /// What the first pair synthesised, and its engine time, so the steady state can leave them out.
    public var startupFrames = 0
    public var startupSynthesisMilliseconds = 0.0
    /// Making the Vulkan instance and device, before `convert` (the caller fills it in).
    public var vulkanSeconds = 0.0
    public var outputRate = Rational(0)
    public var keptAudio = false
    /// With `ConversionOptions.profile`: the engine's GPU milliseconds by shader, summed after start-up.
    public var stageMilliseconds: [(stage: String, milliseconds: Double)] = []

    public var millisecondsPerSynthesisedFrame: Double { synthesised == 0 ? 0 : synthesisMilliseconds / Double(synthesised) }

    /// After start-up: wall time, and engine time, per synthesised frame; nil when only the first pair ran.
    public var steadyState: (milliseconds: Double, engineMilliseconds: Double)? {
        let frames = synthesised - startupFrames
        guard frames > 0 else { return nil }
        return ((seconds - startupSeconds) * 1000 / Double(frames), (synthesisMilliseconds - startupSynthesisMilliseconds) / Double(frames))
    }

    /// The line `slomo interpolate` prints; `label` names the synthesis.
    public func line(label: String) -> String {
        var line = String(format: "%d frames in, %d out (%d synthesised, %d scene cuts) at %@ fps, %.1f ms per synthesised frame (%@), %.1f s%@",
                          framesIn, framesOut, synthesised, sceneCuts, outputRate.description, millisecondsPerSynthesisedFrame, label,
                          vulkanSeconds + seconds, keptAudio ? ", audio kept" : "")
        // The first pair's engine time is synthesis; the rest of its wall time is building pipelines and recording.
        line += String(format: "; start-up %.2f s (Vulkan %.2f s, files, engine and pipelines %.2f s, the first pair %.2f s)",
                       vulkanSeconds + startupSeconds, vulkanSeconds, startupSeconds - startupSynthesisMilliseconds / 1000,
                       startupSynthesisMilliseconds / 1000)
        if let steady = steadyState {
            line += String(format: ", then %.1f ms per synthesised frame", steady.milliseconds)
            if steady.engineMilliseconds > 0 {
                line += String(format: ", %.2f× the engine's %.1f ms", steady.milliseconds / steady.engineMilliseconds, steady.engineMilliseconds)
            }
        }
        return line
    }

    /// Where the engine's time went after start-up, per synthesised frame by shader; nil without a profile.
    public var stageLine: String? {
        let frames = Double(synthesised - startupFrames)
        guard !stageMilliseconds.isEmpty, frames > 0 else { return nil }
        let total = stageMilliseconds.reduce(0) { $0 + $1.milliseconds } / frames
        return String(format: "then GPU ms per synthesised frame by shader, %.1f in all: ", total)
            + stageMilliseconds.map { String(format: "%@ %.2f", $0.stage, $0.milliseconds / frames) }.joined(separator: ", ")
    }
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
///
/// Decoding, synthesis and encoding overlap: a decoder thread reads frames ahead into buffers of
/// its own, the calling thread uploads each into the engine, synthesises and copies the results
/// out, and an encoder thread writes them in order. Every buffer has one owner at a time and moves
/// free list → decoder → engine → encoder → free list; a real frame is written from the buffer it
/// was decoded into, so the only copies are the engine's own upload and download.
public enum FileConverter {
    /// Frames decoded ahead of the engine: enough to hide a slow frame of the decoder, few
    /// enough to hold little memory (1.4 MB a frame at 1280×720).
    static let decodeAhead = 2

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
        let engine = interpolator as? Interpolator
        engine?.visualization = options.visualization
        engine?.profiling = options.profile
        let times = (1..<options.scale).map { Float($0) / Float(options.scale) }
        // Visualisations replace every frame, so real frames are not written.
        let realCopies = options.visualization == nil ? 1 : 0

        let stages = Stages(frameBytes: format.byteCount, inputs: decodeAhead + 3, outputs: 2 * times.count)
        stages.start("slomo-decode") {
            while let buffer = try stages.freeInputs.receive() {
                guard try reader.read(into: buffer) else { return stages.decoded.close() }
                try stages.decoded.send(buffer)
            }
        }
        stages.start("slomo-encode") {
            while let item = try stages.encode.receive() {
                for _ in 0..<item.copies { try writer.write(UnsafeRawBufferPointer(item.buffer)) }
                try item.freeList.send(item.buffer)
            }
        }
        do {
            guard var held = try stages.decoded.receive() else { throw ConversionError.emptyInput(input) }
            try interpolator.append(UnsafeRawBufferPointer(held))
            summary.framesIn = 1
            summary.framesOut = realCopies
            progress(1, reader.frameCountHint)
            while let next = try stages.decoded.receive() {
                try stages.encode.send(Stages.Item(buffer: held, copies: realCopies, freeList: stages.freeInputs))
                try interpolator.append(UnsafeRawBufferPointer(next))
                let synthesis = try interpolator.synthesize(times: times)
                for index in 0..<synthesis.count {
                    // Never nil: free lists are never closed.
                    guard let copy = try stages.freeOutputs.receive() else { break }
                    copy.copyMemory(from: interpolator.output(index))
                    try stages.encode.send(Stages.Item(buffer: copy, copies: 1, freeList: stages.freeOutputs))
                }
                held = next
                summary.framesIn += 1
                summary.framesOut += synthesis.count + realCopies
                summary.synthesised += synthesis.count
                summary.sceneCuts += synthesis.sceneCut ? 1 : 0
                summary.synthesisMilliseconds += synthesis.gpuMilliseconds
                // The first pair builds the pipelines: its time is start-up's. A cut runs no engine.
                if let engine, summary.framesIn > 1 && synthesis.gpuMilliseconds > 0 {
                    Interpolator.add(try engine.lastProfile(), to: &summary.stageMilliseconds)
                }
                if summary.framesIn == 2 {
                    // Pipelines are built during the first synthesis: everything up to here is start-up.
                    summary.startupSeconds = Date().timeIntervalSince(started)
                    summary.startupFrames = synthesis.count
                    summary.startupSynthesisMilliseconds = synthesis.gpuMilliseconds
                }
                progress(summary.framesIn, reader.frameCountHint)
            }
            try stages.encode.send(Stages.Item(buffer: held, copies: options.scale * realCopies, freeList: stages.freeInputs))
            summary.framesOut += (options.scale - 1) * realCopies
            stages.encode.close()
        } catch {
            stages.fail(error)
        }
        if let failure = stages.finish() { throw failure }
        try writer.finish()
        summary.seconds = Date().timeIntervalSince(started)
        if summary.framesIn < 2 { summary.startupSeconds = summary.seconds }
        return summary
    }
}

/// The converter's hand-overs, the frame buffers they pass, and its two threads.
private final class Stages: @unchecked Sendable {
    struct Item {
        var buffer: UnsafeMutableRawBufferPointer
        /// How many times the encoder writes it (the last frame is held for a whole pair's slots).
        var copies: Int
        /// Where the encoder returns it.
        var freeList: HandOff<UnsafeMutableRawBufferPointer>
    }

    let freeInputs: HandOff<UnsafeMutableRawBufferPointer>
    let freeOutputs: HandOff<UnsafeMutableRawBufferPointer>
    let decoded: HandOff<UnsafeMutableRawBufferPointer>
    let encode: HandOff<Item>
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let lock = NSLock()
    private var failure: Error?
    private let running = DispatchGroup()

    /// Inputs and outputs have free lists of their own, so the engine waiting for an output buffer
    /// never waits on the decoder, which may hold every input buffer.
    init(frameBytes: Int, inputs: Int, outputs: Int) {
        let made = (0..<inputs + outputs).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: frameBytes, alignment: 64) }
        buffers = made
        freeInputs = HandOff(capacity: inputs, initial: Array(made[..<inputs]))
        freeOutputs = HandOff(capacity: outputs, initial: Array(made[inputs...]))
        decoded = HandOff(capacity: inputs)
        encode = HandOff(capacity: inputs + outputs)
    }

    deinit { buffers.forEach { $0.deallocate() } }

    /// Runs `body` on a thread of its own. What it captures (the reader, the writer) is released
    /// before `finish` returns, so a writer that never finished has removed its file by then.
    func start(_ name: String, _ body: @escaping () throws -> Void) {
        running.enter()
        let work = Work(body)
        let thread = Thread { [self] in
            work.run(onFailure: fail)
            running.leave()
        }
        thread.name = name
        thread.start()
    }

    private final class Work: @unchecked Sendable {
        private var body: (() throws -> Void)?

        init(_ body: @escaping () throws -> Void) { self.body = body }

        func run(onFailure: (Error) -> Void) {
            let body = self.body
            self.body = nil
            do { try body?() } catch { onFailure(error) }
        }
    }

    /// Keeps the first real error and stops every stage.
    func fail(_ error: Error) {
        lock.withLock { if failure == nil && !(error is HandOffCancelled) { failure = error } }
        for handOff in [freeInputs, freeOutputs, decoded] { handOff.cancel() }
        encode.cancel()
    }

    /// Waits for both threads; the first error any stage met, if one did.
    func finish() -> Error? {
        running.wait()
        return lock.withLock { failure }
    }
}
