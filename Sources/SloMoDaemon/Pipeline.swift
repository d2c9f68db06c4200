import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoLinux
import SloMoNeural

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
    /// How far past its turn (in output intervals) the output waits for a slot before it shows
    /// the last frame again in that turn: long enough for a slot queued a little late (a camera
    /// frame's jitter, which the planned delay covers only to its margin) to be shown in time,
    /// short enough that a consumer sees no gap when no slot comes (a lost camera, or an engine
    /// held up: a RIFE pair on lavapipe takes half a second). Waiting two input intervals, as
    /// before, let the output stop for 67 ms at 30 → 60 fps while a network loaded.
    static let holdTolerance = 0.5

    public let format: FrameFormat
    public let inputRate: Rational
    let source: FrameSource
    let sink: FrameSink
    let context: GPUContext
    let logger: Logger
    let interpolators: [FlowPreset: Interpolator]
    /// The network, once a neural mode has asked for it: built at start or by the loader thread
    /// (see PipelineNetwork.swift), then owned by the engine thread and kept, so switching back to
    /// it costs nothing.
    var neural: (source: NeuralSource, synthesizer: FrameSynthesizer)?

    /// The engines a pair can run on: a flow interpolator (by preset) or the network.
    enum Engine: Equatable {
        case flow(FlowPreset)
        case neural
    }

    struct InputFrame {
        var buffer: Int
        var timestamp: UInt64
        var sequence: UInt64
    }

    struct ScheduledSlot {
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

    // Guarded by `state`: everything from here to the engine thread's state.
    let state = NSCondition()
    let pool: FramePool
    var inputQueue: [InputFrame] = []
    var slots: [ScheduledSlot] = []
    var requested: PipelineSettings
    var requestedVersion = 0
    var stats: PipelineSnapshot
    let latency = LatencyHistogram()
    var gpuMillisecondsTotal = 0.0
    var gpuFrames = 0
    var lastDelivered: Int?
    var lastDeliveryStart: UInt64?
    /// Presentation time of the last frame shown (a slot, or a held frame in the turn it took).
    var lastShownTime: UInt64 = 0
    var maxGap: UInt64 = 0
    var captureStopping = false
    /// Owned by the capture thread: fits frames into `format` after a source change.
    var fitter: FrameFitter?
    /// Owned by the capture thread: copies frames the source lends as dma-bufs on the device;
    /// nil where the device cannot import them, or after an import failed.
    var importer: DmaBufImporter?
    var started = false
    /// The network the engine holds, the one the loader has built for it, and where the last
    /// request stands (see PipelineNetwork.swift).
    var neuralLoaded: NeuralSource?
    var networkDelivery: NetworkDelivery?
    var networkStatus: NetworkLoad?
    var networkRequestedAt: UInt64 = 0
    var loaderRunning = false
    let loaderFinished = DispatchGroup()
    /// The planner's figures, for `stats`.
    var plannedFloor: UInt64?
    var plannedNeed: UInt64?
    var engineStopping = false
    var outputStopping = false
    var heartbeats: [UInt64] = [0, 0, 0]
    public private(set) var failure: Error?
    var threads: [Thread] = []
    let finished = DispatchGroup()

    // Owned by the engine thread (and by `init` before it starts).
    var planner: LatencyPlanner
    /// The loader handed over a network: the next pair applies the settings again.
    var networkArrived = false
    var timeline: OutputTimeline
    var controller: BudgetController
    var appliedVersion = 0
    var applied: PipelineSettings
    var nextSlotID: UInt64 = 0
    var previousFrame: InputFrame?
    var active = Engine.flow(.fast)
    /// The active interpolator lacks the previous frame (it sat out repeat-only pairs).
    var interpolatorStale = true
    var intermediates: [OutputTimeline.Slot] = []
    var times: [Float] = []
    var pendingIDs: [UInt64] = []
    var appliedRatio: SlotRatio
    /// A new output rate for the sink, carried by the next real slot.
    var pendingRate: Rational?

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
            // A source change (an HDMI source's new timings) makes a FrameFitter on the capture
            // thread while frames wait. Its shaders are compiled now, before the first frame (on
            // lavapipe under emulation that takes many seconds), so a change costs only the
            // fitter's buffers and one recording.
            try FrameFitter.compileShaders(context: context, input: format.pixelFormat, output: format.pixelFormat)
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
        importer = context.supportsDmaBufImport ? try? DmaBufImporter(context: context) : nil
        pool = FramePool(frameBytes: format.byteCount)
        requested = settings
        applied = settings
        let nominal = UInt64(1e9 / inputRate.doubleValue)
        let bound = Pipeline.boundDelay(for: settings.latencyBoundMilliseconds)
        timeline = OutputTimeline(ratio: ratio, delay: bound, maxInterval: nominal * OutputTimeline.maxSpan * 2)
        planner = LatencyPlanner(bound: bound)
        controller = BudgetController(ceiling: settings.ceiling, adaptive: settings.adaptive, tuning: tuning)
        appliedRatio = ratio
        stats = PipelineSnapshot(format: format, inputFormat: format, inputRate: inputRate, outputRate: ratio.outputRate(input: inputRate),
                                 ratio: ratio, settings: settings, level: controller.level,
                                 delayMilliseconds: Double(bound) / 1e6)
        stats.timestamp = source.timestampMeaning
        inputQueue.reserveCapacity(Pipeline.inputQueueLimit + 1)
        slots.reserveCapacity(1024)
        intermediates.reserveCapacity(64)
        times.reserveCapacity(64)
        pendingIDs.reserveCapacity(64)
        watchSignal(of: source)
        do {
            pool.add(try FramePool.allocate(poolSize(ratio: ratio, budget: settings.latencyBoundMilliseconds), frameBytes: format.byteCount,
                                           context: context))
            try warmUp(ratio: ratio)
            // The warm-up read two frames, then ran for seconds (minutes under emulation): frames
            // made since would come first, with that age.
            try source.pause()
            replan(ratio: ratio)
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

    /// The most delay from a captured instant to its slot: the bound less the output's margin.
    static func boundDelay(for budgetMilliseconds: Double) -> UInt64 {
        let budget = UInt64(budgetMilliseconds * 1e6)
        return budget - min(outputMargin, budget / 4)
    }

    /// The GPU time a pair has when frames arrive on time: from its second frame to its first
    /// in-between slot, and at most a frame interval (see `process`).
    func nominalBudget(ratio: SlotRatio, delay: UInt64) -> Double {
        let interval = 1000 / inputRate.doubleValue
        let firstSlot = Double(ratio.frames) / Double(ratio.slots)
        return min(Double(delay) / 1e6 - interval * (1 - firstSlot) - Pipeline.engineMargin, interval)
    }

    /// Buffers for every frame that can be alive at once: those waiting for their slots over the
    /// delay, the capture queue, the engine's pair, the sink's current one and the last shown.
    func poolSize(ratio: SlotRatio, budget: Double) -> Int {
        let framesInDelay = Int((budget / 1000 * inputRate.doubleValue).rounded(.up)) + Int(OutputTimeline.maxSpan)
        let slotsPerFrame = (ratio.slots + ratio.frames - 1) / ratio.frames
        return framesInDelay * (1 + slotsPerFrame) + Pipeline.inputQueueLimit + 6
    }
    // MARK: - Control

    /// Starts the three threads. Capture and output run at `realtimePriority` (SCHED_FIFO; 0 for
    /// normal): they do little work each but must do it on time, and on a CPU device the engine's
    /// GPU work runs on every core as lavapipe's threads.
    public func start(realtimePriority: Int = 0) {
        state.withLock { started = true }
        let refused = RefusalOnce()
        for (name, body, realtime) in [("slomod-capture", captureLoop, true), ("slomod-engine", engineLoop, false),
                                       ("slomod-output", outputLoop, true)] {
            finished.enter()
            let thread = Thread { [finished, logger] in
                Sys.nameThread(name)
                if realtime, realtimePriority > 0 {
                    do {
                        try Sys.setRealtimePriority(Int32(realtimePriority))
                    } catch {
                        if refused.first() {
                            logger.notice("capture and output at normal priority (\(error)): allow real-time scheduling with LimitRTPRIO=\(realtimePriority) or CAP_SYS_NICE, or set output.realtime_priority = 0")
                        }
                    }
                }
                body()
                finished.leave()
            }
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
        loaderFinished.wait()
        sink.close()
        context.waitIdle()
        state.lock()
        while let slot = slots.first {
            slots.removeFirst()
            release(slot)
        }
        if let lastDelivered { pool.release(lastDelivered) }
        lastDelivered = nil
        networkDelivery = nil
        state.unlock()
    }

    func setFlag(_ change: (Pipeline) -> Void) {
        state.lock()
        change(self)
        state.broadcast()
        state.unlock()
    }

    func waitUntil(_ condition: (Pipeline) -> Bool) {
        state.lock()
        while !condition(self) { state.wait() }
        state.unlock()
    }

    /// Checks the settings against the input and queues them for the next input frame; returns at
    /// once. A network they need and the engine lacks is looked for here (missing weights throw,
    /// and nothing changes) and loaded on the loader thread: the engine runs below it until it is
    /// built, and `status` shows the load. Returns whether a load began.
    @discardableResult
    public func update(_ settings: PipelineSettings) throws -> Bool {
        _ = try Pipeline.ratio(for: settings, input: inputRate)
        if let wanted = settings.neuralSource {
            try NeuralWeights.locate(wanted, mode: settings.mode.rawValue)
        }
        state.lock()
        defer { state.unlock() }
        requested = settings
        requestedVersion += 1
        return requestNetwork(settings.neuralSource)
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
        copy.network = networkStatus
        copy.latencyFloorMilliseconds = plannedFloor.map { Double($0) / 1e6 }
        copy.delayNeedMilliseconds = plannedNeed.map { Double($0) / 1e6 }
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

    func beat(_ thread: Int) {
        heartbeats[thread] = MonotonicClock.now()
    }

    func fail(_ error: Error) {
        state.lock()
        if failure == nil { failure = error }
        state.broadcast()
        state.unlock()
        logger.critical("pipeline failed: \(error)")
    }
}

/// True for the first caller only: two threads that fail alike say so once.
private final class RefusalOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var said = false

    func first() -> Bool {
        lock.withLock {
            defer { said = true }
            return !said
        }
    }
}
