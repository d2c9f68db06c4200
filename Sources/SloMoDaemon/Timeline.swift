import SloMoCore

/// Output frames per input frame as an exact ratio: `slots` outputs for every `frames` inputs.
public struct SlotRatio: Equatable, Sendable, CustomStringConvertible {
    public static let maxSlotsPerFrame = 16
    public let slots: Int
    public let frames: Int

    public init(scale: Int) {
        precondition((1...SlotRatio.maxSlotsPerFrame).contains(scale), "scale must be 1...16")
        slots = scale
        frames = 1
    }

    /// The ratio that turns `input` into `output`; nil unless 1 ≤ output/input ≤ 16.
    public init?(input: Rational, output: Rational) {
        let ratio = Rational(output.numerator * input.denominator, output.denominator * input.numerator)
        guard ratio.numerator >= ratio.denominator, ratio.numerator <= SlotRatio.maxSlotsPerFrame * ratio.denominator else {
            return nil
        }
        slots = ratio.numerator
        frames = ratio.denominator
    }

    public func outputRate(input: Rational) -> Rational {
        Rational(input.numerator * slots, input.denominator * frames)
    }

    public var description: String { frames == 1 ? "×\(slots)" : "×\(slots)/\(frames)" }
}

/// Where output frames go in time. Slots are spaced evenly between the capture timestamps of
/// consecutive input frames (so the output follows the camera's real clock and cannot drift from
/// it), and each is presented a fixed `delay` after the instant it shows.
///
/// Position is counted in units of 1/`slots` of an input frame; each slot advances it by `frames`
/// units, so any rational ratio is exact. A change of ratio or delay takes effect at the next
/// input frame, which then starts the new spacing with a slot of its own.
public struct OutputTimeline: Sendable {
    public struct Slot: Equatable, Sendable {
        /// When to present it (CLOCK_MONOTONIC ns): `instant` + delay.
        public var time: UInt64
        /// The captured instant it shows.
        public var instant: UInt64
        /// Where it lies between the previous input frame (0) and the new one (1).
        public var fraction: Double
    }

    /// Input frames a pair may span (sequence gaps from dropped frames) and still be interpolated.
    public static let maxSpan: UInt64 = 4

    public private(set) var ratio: SlotRatio
    public private(set) var delay: UInt64
    /// A longer gap between two frames is a discontinuity (a stalled camera), not a pair.
    public var maxInterval: UInt64
    public private(set) var discontinuities = 0
    private var pending: (ratio: SlotRatio, delay: UInt64)?
    private var previous: (timestamp: UInt64, sequence: UInt64)?
    /// Next slot's position after the previous frame, in 1/slots frame units.
    private var phase = 0

    public init(ratio: SlotRatio, delay: UInt64, maxInterval: UInt64) {
        self.ratio = ratio
        self.delay = delay
        self.maxInterval = maxInterval
    }

    /// The ratio and delay from the next input frame on.
    public mutating func change(ratio: SlotRatio, delay: UInt64) {
        pending = ratio == self.ratio && delay == self.delay ? nil : (ratio, delay)
    }

    /// Takes the next input frame. Fills `intermediates` (cleared first, capacity kept) with the
    /// slots strictly between the previous frame and this one, and returns the slot that shows
    /// this frame itself, if the spacing puts one there. `continuous` is false when this frame
    /// does not pair with the previous one (first frame, sequence or time gap, clock going back).
    public mutating func advance(timestamp: UInt64, sequence: UInt64,
                                 intermediates: inout [Slot]) -> (real: Slot?, continuous: Bool) {
        intermediates.removeAll(keepingCapacity: true)
        var continuous = false
        if let previous, sequence > previous.sequence, sequence - previous.sequence <= OutputTimeline.maxSpan,
           timestamp > previous.timestamp, timestamp - previous.timestamp <= maxInterval {
            continuous = true
            let span = Int(sequence - previous.sequence)
            let length = span * ratio.slots
            let interval = Double(timestamp - previous.timestamp)
            while phase < length {
                let fraction = Double(phase) / Double(length)
                let instant = previous.timestamp + UInt64((interval * fraction).rounded())
                intermediates.append(Slot(time: instant + delay, instant: instant, fraction: fraction))
                phase += ratio.frames
            }
            phase -= length
        } else if previous != nil {
            discontinuities += 1
        }
        if !continuous {
            phase = 0
        }
        if let pending {
            (ratio, delay) = pending
            self.pending = nil
            phase = 0
        }
        previous = (timestamp, sequence)
        guard phase == 0 else { return (nil, continuous) }
        phase += ratio.frames
        return (Slot(time: timestamp + delay, instant: timestamp, fraction: 0), continuous)
    }
}
