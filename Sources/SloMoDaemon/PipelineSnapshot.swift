import SloMoCore

/// Counters and state, copied out under the lock for `status` and `stats`.
public struct PipelineSnapshot: Sendable {
    public var format: FrameFormat
    /// What the source sends now: `format` until a source change, then what it changed to
    /// (fitted into `format` on the GPU, so the output never changes size).
    public var inputFormat: FrameFormat
    /// Source changes the capture took mid-stream.
    public var sourceChanges = 0
    public var inputRate: Rational
    public var outputRate: Rational
    public var ratio: SlotRatio
    public var settings: PipelineSettings
    public var level: QualityLevel
    public var levelChanges = 0
    /// The delay in effect from a captured instant to its presentation (see `LatencyPlanner`).
    public var delayMilliseconds: Double
    /// The median time from a pair's first in-between instant to its frames being ready: the
    /// least delay that would show half of them (the physical floor), and the planner's
    /// 99th percentile of it, which the delay covers with its margin.
    public var latencyFloorMilliseconds: Double?
    public var delayNeedMilliseconds: Double?
    /// The network the settings asked for, and where its load stands; nil for the flow modes.
    public var network: NetworkLoad?
    /// Frames taken from the source.
    public var captured = 0
    /// Of those, frames the device copied from the capture driver's dma-buf (no CPU copy).
    public var importedFrames = 0
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
    /// Frames the source skipped to hand over its freshest (the capture thread was behind the driver).
    public var drainedInput = 0
    public var dropped: Int { droppedInput + droppedSlots }
    public var sceneCuts = 0
    public var discontinuities = 0
    public var captureErrors = 0
    /// What capture timestamps mark (latency runs from them), as of the last frame.
    public var timestamp = CaptureTimestamp.dequeued
    public var outputErrors = 0
    /// Why capture stopped (the device failed, vanished or went quiet), until a frame arrives
    /// again; nil while frames arrive. The capture loop keeps reopening the device meanwhile.
    public var signalLost: String?
    /// Frames the output clock showed again because no slot came (see `Pipeline.holdTolerance`).
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
