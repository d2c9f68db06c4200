import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// What the user can change while frames flow.
public struct PipelineSettings: Equatable, Sendable {
    public var scale: Int
    /// Output frames per second; 0 means input rate × scale.
    public var outputRate: Double
    public var mode: SynthesisMode
    public var preset: FlowPreset
    /// Weights for a neural mode; nil takes the installed model.
    public var checkpoint: String?
    /// The network of a neural mode; nil (or one of another mode) takes the mode's default.
    public var model: NeuralModel?
    public var adaptive: Bool
    public var latencyBudgetMilliseconds: Double
    /// Pass-through: real frames only, each held for its slots, no GPU work.
    public var paused = false

    public init(config: DaemonConfig) {
        scale = config.scale
        outputRate = config.outputRate
        mode = config.mode
        preset = config.preset
        checkpoint = config.checkpoint.isEmpty ? nil : config.checkpoint
        model = NeuralModel(rawValue: config.model)
        adaptive = config.adaptive
        latencyBudgetMilliseconds = config.latencyBudgetMilliseconds
    }

    var ceiling: QualityLevel { QualityLevel(mode: mode, preset: preset) }

    /// The network and weights the mode needs, or nil for the flow engine's modes.
    public var neuralSource: NeuralSource? {
        (model.flatMap { $0.mode == mode ? $0 : nil } ?? mode.neuralModel).map { NeuralSource(model: $0, checkpoint: checkpoint) }
    }
}

public enum PipelineError: Error, CustomStringConvertible {
    case rateOutOfRange(output: Double, input: Rational)
    case formatChanged(FrameFormat, FrameFormat)
    case tooSmall(FrameFormat)
    case sinkFailing(String)
    case stopped

    public var description: String {
        switch self {
        case let .rateOutOfRange(output, input):
            return "output rate \(DaemonConfig.format(output)) must lie between the input rate (\(input)) and 16 times it"
        case let .formatChanged(old, new):
            return "the source changed format from \(old.width)x\(old.height) \(old.pixelFormat.rawValue) to \(new.width)x\(new.height) \(new.pixelFormat.rawValue)"
        case let .tooSmall(format):
            return "frames of \(format.width)x\(format.height) are too small to interpolate"
        case let .sinkFailing(reason):
            return "the output keeps failing: \(reason)"
        case .stopped:
            return "the pipeline has stopped"
        }
    }
}

/// Counters and state, copied out under the lock for `status` and `stats`.
public struct PipelineSnapshot: Sendable {
    public var format: FrameFormat
    public var inputRate: Rational
    public var outputRate: Rational
    public var ratio: SlotRatio
    public var settings: PipelineSettings
    public var level: QualityLevel
    public var levelChanges = 0
    public var delayMilliseconds: Double
    /// Frames taken from the source.
    public var captured = 0
    /// Synthesised frames delivered in their slots.
    public var synthesised = 0
    /// Synthesised frames ready in time for their slots, by the QualityLevel that made them.
    public var publishedByLevel = [Int](repeating: 0, count: QualityLevel.allCases.count)
    /// In-between slots that showed their nearest real frame (repeat mode, pause, scene cut, late).
    public var repeated = 0
    /// Frames written to the sink.
    public var delivered = 0
    /// Synthesised frames that missed their slot (which showed the nearest real frame instead).
    public var late = 0
    /// Input frames dropped because the engine was behind, plus slots skipped because the output was.
    public var droppedInput = 0
    public var droppedSlots = 0
    public var dropped: Int { droppedInput + droppedSlots }
    public var sceneCuts = 0
    public var discontinuities = 0
    public var captureErrors = 0
    public var outputErrors = 0
    /// Why capture stopped (the device failed, vanished or went quiet), until a frame arrives
    /// again; nil while frames arrive. The capture loop keeps reopening the device meanwhile.
    public var signalLost: String?
    /// Frames the output clock showed again because no slot came (see `Pipeline.holdAfter`).
    public var held = 0
    public var latencyP50: Double?
    public var latencyP99: Double?
    public var latencyMax: Double?
    /// Mean GPU time per synthesised frame over the run, and over the last pair.
    public var gpuMillisecondsPerFrame: Double?
    public var lastGPUMillisecondsPerFrame: Double?
    /// The GPU budget of the last pair, in milliseconds.
    public var gpuBudgetMilliseconds: Double?
    /// Longest time between two consecutive deliveries, in milliseconds.
    public var maxDeliveryGap: Double?
    public var poolBuffers = 0

    /// Share of in-between slots that showed a synthesised frame.
    public var fillRatio: Double? {
        synthesised + repeated == 0 ? nil : Double(synthesised) / Double(synthesised + repeated)
    }
}

/// Capture → engine → output on three threads. Frames move between them by index into one
/// FramePool, under one lock, through bounded queues: the capture queue holds at most
/// `inputQueueLimit` frames (the oldest is dropped when it is full), and the slot queue holds
/// what the output clock has yet to show. Nothing on the frame path allocates.
public final class Pipeline: @unchecked Sendable {
    static let inputQueueLimit = 2
    /// Time the output keeps between a slot's presentation and the end of the budget, for its own
    /// wake-up and the sink's write (a quarter of the budget at most). Measured on a loaded
    /// 2-core machine, wake-ups there run up to ~10 ms late.
    static let outputMargin: UInt64 = 10_000_000
    /// Synthesised frames per pair; more in-between slots (large sequence gaps) show real frames.
    static let maxSteps = Interpolator.maxStepsLimit - 1
    /// Time the engine keeps between finishing a frame and its slot.
    static let engineMargin = 2.0
    /// Input frame intervals without a slot after which the input counts as gone quiet (a lost
    /// camera, not a late frame: slots are queued when their frame arrives, at most one
    /// interval after the last one shown) and the output repeats its last frame at the output
    /// rate, so a consumer keeps its cadence through a disconnect.
    static let holdAfter = 2.0

    public let format: FrameFormat
    public let inputRate: Rational
    private let source: FrameSource
    private let sink: FrameSink
    private let context: GPUContext
    private let logger: Logger
    private let interpolators: [FlowPreset: Interpolator]
    /// The network, once a neural mode has asked for it: built once (at start, or on the engine
    /// thread when `update` asks for it) and kept, so switching back to it costs nothing.
    private var neural: (source: NeuralSource, synthesizer: FrameSynthesizer)?
    /// The network's cost has been measured since it was built.
    private var neuralTimed = false

    /// The engines a pair can run on: a flow interpolator (by preset) or the network.
    private enum Engine: Equatable {
        case flow(FlowPreset)
        case neural
    }

    private struct InputFrame {
        var buffer: Int
        var timestamp: UInt64
        var sequence: UInt64
    }

    private struct ScheduledSlot {
        var id: UInt64
        var time: UInt64
        var instant: UInt64
        /// Nearest real frame: the content of a real slot, the stand-in for an in-between one.
        var real: Int
        /// The synthesised frame, once published.
        var synthesised: Int?
        var isIntermediate: Bool
        /// A synthesised frame is on its way.
        var pending: Bool
        /// Tell the sink about a new rate before writing this slot.
        var newRate: Rational?
    }

    // Everything below is guarded by `state`.
    private let state = NSCondition()
    private let pool: FramePool
    private var inputQueue: [InputFrame] = []
    private var slots: [ScheduledSlot] = []
    private var requested: PipelineSettings
    private var requestedVersion = 0
    private var stats: PipelineSnapshot
    private let latency = LatencyHistogram()
    private var gpuMillisecondsTotal = 0.0
    private var gpuFrames = 0
    private var lastDelivered: Int?
    private var lastDeliveryStart: UInt64?
    /// Presentation time of the last slot shown, and of the last frame shown (a slot or a held one).
    private var lastSlotTime: UInt64?
    private var lastShownTime: UInt64 = 0
    private var maxGap: UInt64 = 0
    private var captureStopping = false
    private var started = false
    /// Weights `update` hands the engine thread to build, its answer, and what the engine holds.
    private var neuralRequest: NeuralWeights?
    private var neuralResult: Result<Void, Error>?
    private var neuralLoaded: NeuralSource?
    private var engineStopping = false
    private var outputStopping = false
    private var heartbeats: [UInt64] = [0, 0, 0]
    public private(set) var failure: Error?
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    // Engine-thread state.
    private var timeline: OutputTimeline
    private var controller: BudgetController
    private var appliedVersion = 0
    private var applied: PipelineSettings
    private var nextSlotID: UInt64 = 0
    private var previousFrame: InputFrame?
    private var active = Engine.flow(.fast)
    /// The active interpolator lacks the previous frame (it sat out repeat-only pairs).
    private var interpolatorStale = true
    private var intermediates: [OutputTimeline.Slot] = []
    private var times: [Float] = []
    private var pendingIDs: [UInt64] = []
    private var appliedRatio: SlotRatio
    /// A new output rate for the sink, carried by the next real slot.
    private var pendingRate: Rational?

    /// Opens the source and the sink and readies the engine (shaders compiled, first frames recorded).
    /// A neural mode's network is built here too, from `weights` when they are the ones it needs
    /// (the daemon reads them before it opens any device) or else from where the settings say.
    public init(source: FrameSource, sink: FrameSink, context: GPUContext, settings: PipelineSettings, logger: Logger,
                weights: NeuralWeights? = nil, tuning: BudgetController.Tuning = BudgetController.Tuning()) throws {
        self.source = source
        self.sink = sink
        self.context = context
        self.logger = logger
        try source.open()
        format = source.format
        inputRate = source.frameRate
        guard format.width >= 16, format.height >= 16 else {
            source.close()
            throw PipelineError.tooSmall(format)
        }
        let ratio: SlotRatio
        do {
            ratio = try Pipeline.ratio(for: settings, input: inputRate)
        } catch {
            source.close()
            throw error
        }
        var made: [FlowPreset: Interpolator] = [:]
        do {
            for preset in FlowPreset.allCases {
                made[preset] = try Interpolator(context: context, format: format, preset: preset, maxSteps: Pipeline.maxSteps)
            }
            if let wanted = settings.neuralSource {
                let loaded = try weights.flatMap { $0.source == wanted ? $0 : nil } ?? NeuralWeights.load(wanted, mode: settings.mode.rawValue)
                neural = (wanted, try loaded.makeSynthesizer(context: context, format: format, maxSteps: Pipeline.maxSteps))
                neuralLoaded = wanted
                logger.info("loaded \(wanted)")
            }
        } catch {
            source.close()
            throw error
        }
        interpolators = made
        pool = FramePool(frameBytes: format.byteCount)
        requested = settings
        applied = settings
        let nominal = UInt64(1e9 / inputRate.doubleValue)
        timeline = OutputTimeline(ratio: ratio, delay: Pipeline.delay(for: settings.latencyBudgetMilliseconds),
                                  maxInterval: nominal * OutputTimeline.maxSpan * 2)
        controller = BudgetController(ceiling: settings.ceiling, adaptive: settings.adaptive, tuning: tuning)
        appliedRatio = ratio
        stats = PipelineSnapshot(format: format, inputRate: inputRate, outputRate: ratio.outputRate(input: inputRate),
                                 ratio: ratio, settings: settings, level: controller.level,
                                 delayMilliseconds: Double(timeline.delay) / 1e6)
        inputQueue.reserveCapacity(Pipeline.inputQueueLimit + 1)
        slots.reserveCapacity(1024)
        intermediates.reserveCapacity(64)
        times.reserveCapacity(64)
        pendingIDs.reserveCapacity(64)
        pool.add(FramePool.allocate(poolSize(ratio: ratio, budget: settings.latencyBudgetMilliseconds), frameBytes: format.byteCount))
        do {
            try warmUp(ratio: ratio)
            try sink.open(format: format, frameRate: ratio.outputRate(input: inputRate))
        } catch {
            source.close()
            throw error
        }
    }

    static func ratio(for settings: PipelineSettings, input: Rational) throws -> SlotRatio {
        guard settings.outputRate > 0 else { return SlotRatio(scale: settings.scale) }
        guard let ratio = SlotRatio(input: input, output: Rational.approximating(settings.outputRate)) else {
            throw PipelineError.rateOutOfRange(output: settings.outputRate, input: input)
        }
        return ratio
    }

    /// The fixed delay from a captured instant to its slot: the budget less the output's margin.
    static func delay(for budgetMilliseconds: Double) -> UInt64 {
        let budget = UInt64(budgetMilliseconds * 1e6)
        return budget - min(outputMargin, budget / 4)
    }

    /// The GPU time a pair has when frames arrive on time: from its second frame to its first
    /// in-between slot, and at most a frame interval (see `process`).
    private func nominalBudget(ratio: SlotRatio, delay: UInt64) -> Double {
        let interval = 1000 / inputRate.doubleValue
        let firstSlot = Double(ratio.frames) / Double(ratio.slots)
        return min(Double(delay) / 1e6 - interval * (1 - firstSlot) - Pipeline.engineMargin, interval)
    }

    /// Buffers for every frame that can be alive at once: those waiting for their slots over the
    /// delay, the capture queue, the engine's pair, the sink's current one and the last shown.
    private func poolSize(ratio: SlotRatio, budget: Double) -> Int {
        let framesInDelay = Int((budget / 1000 * inputRate.doubleValue).rounded(.up)) + Int(OutputTimeline.maxSpan)
        let slotsPerFrame = (ratio.slots + ratio.frames - 1) / ratio.frames
        return framesInDelay * (1 + slotsPerFrame) + Pipeline.inputQueueLimit + 6
    }

    /// Compiles the shaders and records the sequences the first frames will replay, so the first
    /// real pair is not late by the time that takes, and times every level on two real frames
    /// from the source (flow costs depend on the picture: blank frames converge at once).
    private func warmUp(ratio: SlotRatio) throws {
        guard let first = pool.acquire(), let second = pool.acquire() else { return }
        defer {
            pool.release(first)
            pool.release(second)
        }
        for buffer in [first, second] {
            let lent = try source.next(timeoutNanoseconds: 2_000_000_000) { frame in
                guard frame.format == format, frame.bytes.count >= format.byteCount else { return }
                pool[buffer].copyMemory(from: UnsafeRawBufferPointer(rebasing: frame.bytes[..<format.byteCount]))
            }
            if !lent { pool[buffer].initializeMemory(as: UInt8.self, repeating: 128) }
        }
        let warmTimes = Pipeline.warmTimes(ratio: ratio)
        for (preset, interpolator) in interpolators {
            for mode in [InterpolationMode.flow, .blend] {
                interpolator.mode = mode
                try time(interpolator, as: QualityLevel(mode: mode == .flow ? .flow : .blend, preset: preset),
                         frames: (UnsafeRawBufferPointer(pool[first]), UnsafeRawBufferPointer(pool[second])), times: warmTimes)
            }
            interpolator.reset()
        }
        if neural != nil {
            try timeNeural(frame: UnsafeRawBufferPointer(pool[first]), ratio: ratio,
                           budget: nominalBudget(ratio: ratio, delay: timeline.delay))
        }
        controller.restart(budget: nominalBudget(ratio: ratio, delay: timeline.delay))
        stats.level = controller.level
        logger.info("engine warm-up: \(controller.costs.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value.milliseconds)) ms" }.joined(separator: ", ")); starting at \(controller.level)")
    }

    /// Times for the warm-up: as many as a pair at `ratio` makes.
    static func warmTimes(ratio: SlotRatio) -> [Float] {
        let steps = max(1, min(Pipeline.maxSteps, (ratio.slots + ratio.frames - 1) / ratio.frames - 1))
        return (1...steps).map { Float($0) / Float(steps + 1) }
    }

    /// Times one level on a pair of frames and seeds the controller with it. The first run
    /// records the work (and compiles what it needs), so later pairs run as every pair will: the
    /// quickest of two seeds the controller (a busy machine makes single timings noisy), so it
    /// starts at a level this machine can hold instead of failing its way down. A level whose
    /// first run already takes over `giveUp` ms is seeded with that: it will not fit, and a slow
    /// network need not be run three times.
    private func time(_ synthesizer: FrameSynthesizer, as level: QualityLevel,
                      frames: (UnsafeRawBufferPointer, UnsafeRawBufferPointer), times: [Float], giveUp: Double = .infinity) throws {
        try synthesizer.append(frames.0)
        try synthesizer.append(frames.1)
        let first = try synthesizer.synthesize(times: times)
        if first.sceneCut { return }
        var cost = first.gpuMilliseconds
        if cost <= giveUp {
            cost = .infinity
            for frame in [frames.0, frames.1] {
                try synthesizer.append(frame)
                let synthesis = try synthesizer.synthesize(times: times)
                if !synthesis.sceneCut { cost = min(cost, synthesis.gpuMilliseconds) }
            }
            if cost == .infinity { return }
        }
        controller.seed(level, milliseconds: cost)
    }

    /// Times the network on one frame given twice (its cost does not depend on the picture, and
    /// two equal frames are never a scene cut). At start, and on the engine thread when a neural
    /// mode becomes the ceiling: there it holds the engine for a few pairs' time, once per network.
    private func timeNeural(frame: UnsafeRawBufferPointer, ratio: SlotRatio, budget: Double) throws {
        guard let neural, let level = QualityLevel.allCases.first(where: { $0.neuralMode == neural.source.model.mode }) else { return }
        controller.forget(level)
        try time(neural.synthesizer, as: level, frames: (frame, frame), times: Pipeline.warmTimes(ratio: ratio), giveUp: 2 * max(budget, 1))
        neural.synthesizer.reset()
        if case .neural = active { interpolatorStale = true }
        neuralTimed = true
        logger.info("\(level) warm-up: \(controller.costs[level].map { String(format: "%.1f ms a pair", $0.milliseconds) } ?? "not measured") for a budget of \(String(format: "%.1f", budget)) ms")
    }

    /// Builds the network from weights read by `update`; on the engine thread (the only one that
    /// records GPU work once the pipeline runs). The old network, if any, is replaced.
    private func buildNeural(_ weights: NeuralWeights) throws {
        let synthesizer = try weights.makeSynthesizer(context: context, format: format, maxSteps: Pipeline.maxSteps)
        if case .neural = active { interpolatorStale = true }
        neural = (weights.source, synthesizer)
        neuralTimed = false
        logger.info("loaded \(weights.source)")
    }

    // MARK: - Control

    public func start() {
        state.withLock { started = true }
        for (name, body) in [("slomod-capture", captureLoop), ("slomod-engine", engineLoop), ("slomod-output", outputLoop)] {
            finished.enter()
            let thread = Thread { [finished] in
                body()
                finished.leave()
            }
            thread.name = name
            threads.append(thread)
            thread.start()
        }
    }

    /// Stops capture, lets the engine finish the frames it has and the output show every slot it
    /// has (at most the delay), then closes the sink. The source is closed first, so the device
    /// is released as soon as possible.
    public func stop() {
        setFlag { $0.captureStopping = true }
        waitUntil { $0.heartbeats[0] == .max }
        source.close()
        setFlag { $0.engineStopping = true }
        waitUntil { $0.heartbeats[1] == .max }
        setFlag { $0.outputStopping = true }
        finished.wait()
        sink.close()
        context.waitIdle()
        state.lock()
        while let slot = slots.first {
            slots.removeFirst()
            release(slot)
        }
        if let lastDelivered { pool.release(lastDelivered) }
        lastDelivered = nil
        state.unlock()
    }

    private func setFlag(_ change: (Pipeline) -> Void) {
        state.lock()
        change(self)
        state.broadcast()
        state.unlock()
    }

    private func waitUntil(_ condition: (Pipeline) -> Bool) {
        state.lock()
        while !condition(self) { state.wait() }
        state.unlock()
    }

    /// Checks the settings against the input and queues them for the next input frame. A neural
    /// mode's network is read here (off the frame path) and built by the engine thread between
    /// two pairs, before this returns: missing or unreadable weights throw, and nothing changes.
    public func update(_ settings: PipelineSettings) throws {
        _ = try Pipeline.ratio(for: settings, input: inputRate)
        if let wanted = settings.neuralSource, state.withLock({ neuralLoaded }) != wanted {
            try load(NeuralWeights.load(wanted, mode: settings.mode.rawValue))
        }
        state.lock()
        requested = settings
        requestedVersion += 1
        state.unlock()
    }

    /// Has the engine thread build the network, and waits for it.
    private func load(_ weights: NeuralWeights) throws {
        state.lock()
        defer { state.unlock() }
        if !started {
            try buildNeural(weights)
            neuralLoaded = weights.source
            return
        }
        neuralRequest = weights
        neuralResult = nil
        state.broadcast()
        while neuralResult == nil {
            guard heartbeats[1] != .max, failure == nil else {
                neuralRequest = nil
                throw PipelineError.stopped
            }
            state.wait()
        }
        let result = neuralResult!
        neuralResult = nil
        do {
            try result.get()
        } catch let error as NeuralLoadError {
            throw error
        } catch {
            throw NeuralLoadError(mode: weights.mode, reason: "\(error)")
        }
        neuralLoaded = weights.source
    }

    public func snapshot() -> PipelineSnapshot {
        state.lock()
        defer { state.unlock() }
        var copy = stats
        copy.settings = requested
        copy.latencyP50 = latency.percentile(0.5)
        copy.latencyP99 = latency.percentile(0.99)
        copy.latencyMax = latency.count > 0 ? Double(latency.maximum) / 1e6 : nil
        copy.gpuMillisecondsPerFrame = gpuFrames > 0 ? gpuMillisecondsTotal / Double(gpuFrames) : nil
        copy.maxDeliveryGap = lastDeliveryStart == nil ? nil : Double(maxGap) / 1e6
        copy.poolBuffers = pool.capacity
        return copy
    }

    /// Lends the frame last written to the sink, or returns nil before the first one.
    public func withLastFrame<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        state.lock()
        guard let index = lastDelivered else {
            state.unlock()
            return nil
        }
        pool.retain(index)
        state.unlock()
        defer {
            state.lock()
            pool.release(index)
            state.unlock()
        }
        return try body(UnsafeRawBufferPointer(pool[index]))
    }

    /// True when every running thread has gone round its loop within `nanoseconds`: the watchdog's test.
    public func isResponsive(within nanoseconds: UInt64) -> Bool {
        state.lock()
        defer { state.unlock() }
        let now = MonotonicClock.now()
        return failure == nil && heartbeats.allSatisfy { $0 == .max || now &- $0 < nanoseconds }
    }

    private func beat(_ thread: Int) {
        heartbeats[thread] = MonotonicClock.now()
    }

    private func fail(_ error: Error) {
        state.lock()
        if failure == nil { failure = error }
        state.broadcast()
        state.unlock()
        logger.critical("pipeline failed: \(error)")
    }

    // MARK: - Capture

    private func captureLoop() {
        var loggedError = false
        // After a failure the source stays closed until a reopen succeeds: `next` needs it open.
        var closed = false
        while true {
            state.lock()
            beat(0)
            let stopping = captureStopping || failure != nil
            state.unlock()
            if stopping { break }
            do {
                if closed {
                    try source.open()
                    closed = false
                    if source.format != format { fail(PipelineError.formatChanged(format, source.format)) }
                    logger.notice("capture reopened")
                    continue
                }
                _ = try source.next(timeoutNanoseconds: 100_000_000) { frame in
                    guard frame.format == format, frame.bytes.count >= format.byteCount else {
                        throw PipelineError.formatChanged(format, frame.format)
                    }
                    state.lock()
                    let buffer = pool.acquire()
                    if buffer == nil { stats.droppedInput += 1 }
                    state.unlock()
                    guard let buffer else { return }
                    pool[buffer].copyMemory(from: UnsafeRawBufferPointer(rebasing: frame.bytes[..<format.byteCount]))
                    state.lock()
                    if inputQueue.count >= Pipeline.inputQueueLimit {
                        // The engine is behind: drop the oldest, so what it works on stays fresh.
                        pool.release(inputQueue.removeFirst().buffer)
                        stats.droppedInput += 1
                    }
                    inputQueue.append(InputFrame(buffer: buffer, timestamp: frame.timestamp, sequence: frame.sequence))
                    stats.captured += 1
                    stats.signalLost = nil
                    state.broadcast()
                    state.unlock()
                }
                loggedError = false
            } catch let error as PipelineError {
                fail(error)
            } catch {
                // The device failed, vanished or went quiet (or is still away): say so once, then
                // try to reopen it every second.
                state.lock()
                stats.captureErrors += 1
                stats.signalLost = "\(error)"
                state.unlock()
                if !loggedError { logger.error("capture failed, reopening every second: \(error)") }
                loggedError = true
                source.close()
                closed = true
                MonotonicClock.sleep(until: MonotonicClock.now() + 1_000_000_000)
            }
        }
        state.lock()
        heartbeats[0] = .max
        state.broadcast()
        state.unlock()
    }

    // MARK: - Engine

    private func engineLoop() {
        while true {
            state.lock()
            beat(1)
            while inputQueue.isEmpty && neuralRequest == nil && !engineStopping && failure == nil {
                _ = state.wait(until: Date(timeIntervalSinceNow: 0.1))
                beat(1)
            }
            if let weights = neuralRequest, failure == nil {
                neuralRequest = nil
                state.unlock()
                let result = Result { try buildNeural(weights) }
                state.lock()
                neuralResult = result
                state.broadcast()
                state.unlock()
                continue
            }
            if inputQueue.isEmpty || failure != nil {
                state.unlock()
                break
            }
            let frame = inputQueue.removeFirst()
            let settings = requested, version = requestedVersion
            state.unlock()
            do {
                if version != appliedVersion {
                    try apply(settings, version: version, frame: frame)
                }
                try process(frame)
            } catch {
                state.lock()
                pool.release(frame.buffer)
                state.unlock()
                fail(error)
            }
        }
        state.lock()
        if let previousFrame { pool.release(previousFrame.buffer) }
        previousFrame = nil
        heartbeats[1] = .max
        state.broadcast()
        state.unlock()
    }

    private func apply(_ settings: PipelineSettings, version: Int, frame: InputFrame) throws {
        let ratio = try Pipeline.ratio(for: settings, input: inputRate)
        timeline.change(ratio: ratio, delay: Pipeline.delay(for: settings.latencyBudgetMilliseconds))
        var ceiling = settings.ceiling
        var timed = false
        if let model = settings.neuralSource?.model {
            if let neural, neural.source.model == model {
                if !neuralTimed {
                    // The first pair at a neural ceiling: measure the network (once) so the
                    // controller starts at a level that fits instead of failing its way down.
                    try timeNeural(frame: UnsafeRawBufferPointer(pool[frame.buffer]), ratio: ratio,
                                   budget: nominalBudget(ratio: ratio, delay: Pipeline.delay(for: settings.latencyBudgetMilliseconds)))
                    timed = true
                }
            } else {
                // `update` builds the network before it queues such settings; never run without it.
                logger.error("no \(model.displayName) network loaded; using flow/quality")
                ceiling = .flowQuality
            }
        }
        if timed || ratio != appliedRatio || settings.latencyBudgetMilliseconds != applied.latencyBudgetMilliseconds
            || settings.ceiling != applied.ceiling || settings.adaptive != applied.adaptive {
            controller.configure(ceiling: ceiling, adaptive: settings.adaptive)
            controller.restart(budget: nominalBudget(ratio: ratio, delay: Pipeline.delay(for: settings.latencyBudgetMilliseconds)))
        }
        if ratio != appliedRatio { pendingRate = ratio.outputRate(input: inputRate) }
        appliedRatio = ratio
        // Grow (never shrink) the pool for the new ratio and delay; allocating here, off the lock,
        // is per settings change, not per frame.
        let capacity = state.withLock { pool.capacity }
        let made = FramePool.allocate(poolSize(ratio: ratio, budget: settings.latencyBudgetMilliseconds) - capacity,
                                      frameBytes: format.byteCount)
        state.lock()
        pool.add(made)
        stats.ratio = ratio
        stats.outputRate = ratio.outputRate(input: inputRate)
        stats.delayMilliseconds = Double(Pipeline.delay(for: settings.latencyBudgetMilliseconds)) / 1e6
        stats.level = controller.level
        state.unlock()
        if settings.paused != applied.paused || settings.ceiling != applied.ceiling || settings.adaptive != applied.adaptive {
            logger.info("interpolation: \(settings.paused ? "paused (pass-through)" : "\(controller.level)"), adaptive \(settings.adaptive)")
        }
        applied = settings
        appliedVersion = version
    }

    private func process(_ frame: InputFrame) throws {
        let arrival = MonotonicClock.now()
        let (real, continuous) = timeline.advance(timestamp: frame.timestamp, sequence: frame.sequence,
                                                  intermediates: &intermediates)
        let level = applied.paused ? QualityLevel.repeat : controller.level
        let interpolating = continuous && level != .repeat && !intermediates.isEmpty

        // Schedule every slot before any GPU work, so the output clock knows about them even if
        // the GPU is late.
        pendingIDs.removeAll(keepingCapacity: true)
        times.removeAll(keepingCapacity: true)
        // Only slots the GPU can still make, even at its quickest, are synthesised. When the
        // engine is behind, the rest show real frames at once: more work for a late pair (a
        // dropped frame doubles its slots) would only put it further behind. (The quickest time,
        // not the running one: a slot skipped measures nothing, so a running cost inflated by
        // one slow pair would never come down again.)
        let ready = arrival + UInt64((controller.quickest[level] ?? 0) * 1e6)
        state.lock()
        if let previous = previousFrame, continuous {
            for slot in intermediates {
                let nearest = slot.fraction <= 0.5 ? previous.buffer : frame.buffer
                let pending = interpolating && times.count < Pipeline.maxSteps && slot.time > ready
                if pending {
                    times.append(Float(slot.fraction))
                    pendingIDs.append(nextSlotID)
                }
                enqueue(ScheduledSlot(id: nextSlotID, time: slot.time, instant: slot.instant, real: nearest, synthesised: nil,
                                      isIntermediate: true, pending: pending, newRate: nil))
            }
        }
        if let real {
            enqueue(ScheduledSlot(id: nextSlotID, time: real.time, instant: real.instant, real: frame.buffer, synthesised: nil,
                                  isIntermediate: false, pending: false, newRate: pendingRate))
            pendingRate = nil
        }
        stats.discontinuities = timeline.discontinuities
        state.broadcast()
        state.unlock()

        let synthesizer = try prepareSynthesizer(for: level, frame: frame, continuous: continuous, interpolating: interpolating)
        if continuous, let firstSlot = intermediates.first, let previous = previousFrame {
            // The GPU's budget for this pair: until its first in-between slot, and at most a frame
            // interval, so that pairs do not pile up. The controller climbs to a level only when
            // its cost fits 85 % of this (`fitFraction`) and leaves it when pairs overrun all of
            // it: hysteresis, so a level whose cost sits near the margin does not flap on every
            // scheduling hiccup (measured: flow/fast at 640×360 averages 22 ms, with bursts past
            // 28 ms, against a 33 ms interval).
            let interval = Double(frame.timestamp - previous.timestamp) / Double(frame.sequence - previous.sequence) / 1e6
            let budget = min(Double(Int64(firstSlot.time) - Int64(arrival)) / 1e6 - Pipeline.engineMargin, interval)
            state.lock()
            stats.gpuBudgetMilliseconds = budget
            state.unlock()
            // Repeat pairs are recorded too (as free), so the controller can climb out of repeat;
            // a pair whose slots were all out of reach (the engine was behind) says nothing about
            // the level's cost and is not recorded.
            var measured: (milliseconds: Double, late: Bool)? = level == .repeat ? (0, false) : nil
            if !times.isEmpty {
                measured = try synthesize(with: synthesizer, level: level)
            } else if interpolating, let quickest = controller.quickest[level], quickest > budget {
                // Every slot was out of reach because the level itself, at its quickest, is too
                // slow for this budget (not only because the engine was behind): that is an
                // overrun. Otherwise a level the controller climbed to on a forgotten cost (a
                // RIFE pair takes seconds on lavapipe) would never run, never be measured and
                // never be left; this way it steps down again without running a pair.
                measured = (quickest, true)
            }
            if !applied.paused, let measured,
               let changed = controller.record(milliseconds: measured.milliseconds, late: measured.late, budget: budget) {
                let cost = times.isEmpty && level != .repeat ? "slots out of reach at its quickest" : "GPU"
                logger.notice("adaptive: now \(changed) (\(cost) \(String(format: "%.1f", measured.milliseconds)) ms for a budget of \(String(format: "%.1f", budget)) ms)")
                state.lock()
                stats.level = changed
                stats.levelChanges += 1
                state.unlock()
            }
        }
        state.lock()
        if let previous = previousFrame { pool.release(previous.buffer) }
        state.unlock()
        previousFrame = frame
    }

    /// Runs the GPU for the pending slots and publishes what it made. Returns the GPU time and
    /// whether any frame missed its slot, or nil for a scene cut (the slots show real frames).
    private func synthesize(with synthesizer: FrameSynthesizer, level: QualityLevel) throws -> (milliseconds: Double, late: Bool)? {
        let synthesis = try synthesizer.synthesize(times: times)
        if synthesis.sceneCut {
            state.lock()
            stats.sceneCuts += 1
            for id in pendingIDs { if let index = slotIndex(id) { slots[index].pending = false } }
            state.unlock()
            return nil
        }
        var published = 0, late = false
        for (index, id) in pendingIDs.enumerated() {
            if publish(synthesizer.output(index), to: id) { published += 1 } else { late = true }
        }
        state.lock()
        stats.publishedByLevel[level.rawValue] += published
        gpuMillisecondsTotal += synthesis.gpuMilliseconds
        gpuFrames += synthesis.count
        stats.lastGPUMillisecondsPerFrame = synthesis.gpuMilliseconds / Double(synthesis.count)
        state.unlock()
        return (synthesis.gpuMilliseconds, late)
    }

    /// The engine for this pair (a flow interpolator set to the level's mode, or the network),
    /// holding the previous and the new frame.
    private func prepareSynthesizer(for level: QualityLevel, frame: InputFrame, continuous: Bool,
                                    interpolating: Bool) throws -> FrameSynthesizer {
        let wanted: Engine
        if level.neuralMode != nil, neural != nil {
            wanted = .neural
        } else if let preset = level.preset {
            wanted = .flow(preset)
        } else if case .flow = active {
            // Blend and repeat run on whichever interpolator holds the frames.
            wanted = active
        } else {
            wanted = .flow(.fast)
        }
        if wanted != active {
            active = wanted
            interpolatorStale = true
        }
        let interpolator: FrameSynthesizer
        switch active {
        case let .flow(preset):
            guard let flow = interpolators[preset] else { preconditionFailure("an interpolator for every preset") }
            flow.mode = level.flowMode ?? .flow
            interpolator = flow
        case .neural:
            guard let neural else { preconditionFailure("the network is loaded before a neural level is used") }
            interpolator = neural.synthesizer
        }
        if !interpolating {
            // Repeat-only pairs skip the GPU entirely: appending would ingest on it.
            interpolatorStale = true
            return interpolator
        }
        if interpolatorStale || !continuous {
            interpolator.reset()
            if let previous = previousFrame, continuous {
                try interpolator.append(UnsafeRawBufferPointer(pool[previous.buffer]))
            }
            interpolatorStale = false
        }
        try interpolator.append(UnsafeRawBufferPointer(pool[frame.buffer]))
        return interpolator
    }

    /// Adds a slot, dropping queued slots it overtakes (the delay shrank). Called under the lock.
    private func enqueue(_ slot: ScheduledSlot) {
        while let last = slots.last, last.time >= slot.time {
            slots.removeLast()
            release(last)
            stats.droppedSlots += 1
        }
        pool.retain(slot.real)
        slots.append(slot)
        nextSlotID += 1
    }

    private func slotIndex(_ id: UInt64) -> Int? {
        slots.lastIndex { $0.id == id }
    }

    /// Copies a synthesised frame into a pool buffer and hands it to its slot. False when the
    /// slot has already been shown (the frame is late) or no buffer was free.
    private func publish(_ frame: UnsafeRawBufferPointer, to id: UInt64) -> Bool {
        state.lock()
        guard slotIndex(id) != nil, let buffer = pool.acquire() else {
            if let index = slotIndex(id) { slots[index].pending = false }
            state.unlock()
            return false
        }
        state.unlock()
        pool[buffer].copyMemory(from: frame)
        state.lock()
        defer { state.unlock() }
        guard let index = slotIndex(id) else {
            pool.release(buffer)
            return false
        }
        slots[index].synthesised = buffer
        state.broadcast()
        return true
    }

    private func release(_ slot: ScheduledSlot) {
        pool.release(slot.real)
        if let synthesised = slot.synthesised { pool.release(synthesised) }
    }

    // MARK: - Output

    private func outputLoop() {
        var consecutiveErrors = 0
        while true {
            state.lock()
            beat(2)
            var hold = holdTime()
            while slots.isEmpty && !(outputStopping || failure != nil) && hold.map({ $0 > MonotonicClock.now() }) ?? true {
                // Wake for a held frame as for a slot (an enqueue broadcasts).
                let now = MonotonicClock.now()
                let wait = hold.map { $0 > now ? Double($0 - now) / 1e9 : 0 } ?? 0.1
                _ = state.wait(until: Date(timeIntervalSinceNow: min(0.1, wait)))
                beat(2)
                hold = holdTime()
            }
            let now = MonotonicClock.now()
            let holding = hold.map { $0 <= now } ?? false
            guard failure == nil, !slots.isEmpty || holding else {
                state.unlock()
                break
            }
            // What to show: the due slot, else (no slot for a while) the last frame again.
            let slot: ScheduledSlot?
            let content: Int
            if let front = slots.first, front.time <= now {
                slots.removeFirst()
                if let next = slots.first, next.time <= now {
                    // Behind: a later slot is already due, so skip this one rather than fall further behind.
                    release(front)
                    stats.droppedSlots += 1
                    state.unlock()
                    continue
                }
                content = front.synthesised ?? front.real
                if front.isIntermediate {
                    if front.synthesised != nil {
                        stats.synthesised += 1
                    } else {
                        stats.repeated += 1
                        if front.pending { stats.late += 1 }
                    }
                }
                pool.retain(content)
                if let lastDelivered { pool.release(lastDelivered) }
                lastDelivered = content
                lastSlotTime = front.time
                lastShownTime = front.time
                slot = front
            } else if let hold, holding, let last = lastDelivered {
                // Only this thread replaces the last frame, so it stays valid through the write.
                content = last
                // Late by more than an interval (the sink blocked): go on from now, not in a burst.
                lastShownTime = now - hold > outputInterval ? now : hold
                slot = nil
            } else {
                state.unlock()
                // Short naps, so a stop or a rescheduled queue is noticed.
                MonotonicClock.sleep(until: min(slots.first?.time ?? .max, hold ?? .max, now + 20_000_000))
                continue
            }
            if let previous = lastDeliveryStart { maxGap = max(maxGap, now - previous) }
            lastDeliveryStart = now
            let presented = lastShownTime
            state.unlock()

            do {
                if let rate = slot?.newRate { try sink.setFrameRate(rate) }
                try sink.write(UnsafeRawBufferPointer(pool[content]), timestamp: presented)
                consecutiveErrors = 0
            } catch {
                consecutiveErrors += 1
                if consecutiveErrors == 1 { logger.error("output failed: \(error)") }
                if consecutiveErrors >= 50 { fail(PipelineError.sinkFailing("\(error)")) }
            }
            let done = MonotonicClock.now()
            state.lock()
            if consecutiveErrors == 0 {
                stats.delivered += 1
                if let slot {
                    latency.record(nanoseconds: done - slot.instant)
                } else {
                    // A held frame shows no new instant: it has no latency to measure.
                    stats.held += 1
                }
            } else {
                stats.outputErrors += 1
            }
            if let slot { release(slot) }
            state.unlock()
        }
        state.lock()
        heartbeats[2] = .max
        state.broadcast()
        state.unlock()
    }

    /// The output's frame interval now, in nanoseconds. Called under the lock.
    private var outputInterval: UInt64 { UInt64(1e9 / stats.outputRate.doubleValue) }

    /// When to show the last frame again, or nil: while no slot is queued near its turn, one
    /// output interval after the last frame shown, once `holdAfter` input intervals have passed
    /// since the last slot. Never before the first slot or once stopping (the output then only
    /// drains its queue). Called under the lock.
    private func holdTime() -> UInt64? {
        guard !captureStopping, lastDelivered != nil, let lastSlotTime else { return nil }
        let interval = outputInterval
        let quiet = UInt64(Pipeline.holdAfter * 1e9 / inputRate.doubleValue)
        let next = max(lastShownTime + interval, lastSlotTime + quiet)
        // A slot due by then (the input is back) is shown in its own time instead.
        if let front = slots.first, front.time < next + interval / 2 { return nil }
        return next
    }
}
