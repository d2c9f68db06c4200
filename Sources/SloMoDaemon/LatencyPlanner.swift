/// Picks the output delay (capture instant → presentation): the smallest fixed delay that leaves
/// room for at least 99 % of in-between slots, never above the user's bound.
///
/// A pair can only be synthesised once its second frame has arrived, so its first in-between slot,
/// at instant `s`, is ready at `s + lead + lag + cost`: `lead` is the time from that instant to the
/// second frame's capture (half an input interval at ×2), `lag` the driver's and the capture
/// thread's delivery, `cost` the engine's wait, upload, GPU work and publication. Each pair that
/// runs gives one sample of that sum; the delay is the window's `quantile` of those samples plus
/// `margin`. It rises as soon as an evaluation asks for more, and a sample past the delay (a miss
/// shows a repeated frame) calls one at once (until the window has its first evaluation's worth,
/// such a sample is the delay's floor: the plan from the warm-up is only a guess); it falls only
/// after `lowerAfter` evaluations in a row ask for at least `hysteresis` (or 5 %) less (each
/// change costs one stutter or one skipped slot). The first `coldPairs` after a start only raise
/// it: they run cold and are not kept.
///
/// The constants come from replaying the samples of two 300-s runs of the defaults (640×360
/// 30 → 60, lavapipe on 2 cores; BENCHMARKS-daemon.md) through this planner: 0.995 over 300 pairs
/// plus 3 ms held the delay at 43 ms where 99 % of pairs were ready within 38–39 ms, and a few
/// slow pairs raised it for ten seconds at a time (p99 latency 56–60 ms); 0.99 over 1,800 pairs plus
/// 2 ms, without the cold pairs, synthesised 99.6–99.8 % of slots at a p99 of 41–45 ms.
struct LatencyPlanner: Sendable {
    /// Samples the delay must cover: a pair whose first slot has room has room for all of them.
    static let quantile = 0.99
    /// Kept over the quantile for what the window has not seen (the output's own wake-up was
    /// within 0.2 ms of its slot for 99 % of frames in those runs, 2.3 ms at worst).
    static let margin: UInt64 = 2_000_000
    /// A minute at 30 fps: long enough that a spell of slow pairs is a few of its samples, not
    /// its whole tail.
    static let window = 1_800
    static let evaluateEvery = 30
    /// Measured on a loaded 2-core machine, the need swings by tens of milliseconds within seconds:
    /// lowering after 3 evaluations changed the delay every 4.5 s (each change a stutter).
    static let lowerAfter = 5
    static let hysteresis: UInt64 = 2_000_000
    static let hysteresisFraction = 0.05
    /// The first pairs after a start or a new level (caches and the engine's buffers still cold)
    /// were seen 10–15 ms slower than the rest; kept, they set the first evaluation.
    static let coldPairs = 10
    /// Until samples arrive: the warm-up's GPU cost times this, for uploads, copies and scheduling.
    static let costAllowance = 1.5
    static let lagAllowance: UInt64 = 2_000_000

    /// The delay in effect, in nanoseconds.
    private(set) var delay: UInt64
    private(set) var bound: UInt64
    /// The median and the quantile of the window's samples, once there are enough.
    private(set) var median: UInt64?
    private(set) var need: UInt64?
    private var samples: [UInt64]
    private var scratch: [UInt64]
    private var next = 0
    private var count = 0
    private var sinceEvaluation = 0
    private var lowerVotes = 0
    private var coldLeft = LatencyPlanner.coldPairs
    /// The first evaluation after a restart replaces the guess outright, up or down.
    private var evaluated = false

    init(bound: UInt64) {
        self.bound = bound
        delay = bound
        samples = [UInt64](repeating: 0, count: LatencyPlanner.window)
        scratch = samples
    }

    /// Starts again (new level, ratio or bound): forgets the samples and plans from the level's
    /// known GPU cost, or takes the bound while nothing is known.
    mutating func restart(bound: UInt64, lead: UInt64, expectedCost milliseconds: Double?) {
        self.bound = bound
        count = 0
        next = 0
        sinceEvaluation = 0
        lowerVotes = 0
        coldLeft = LatencyPlanner.coldPairs
        median = nil
        need = nil
        evaluated = false
        guard let milliseconds, milliseconds.isFinite else {
            delay = bound
            return
        }
        let cost = UInt64(milliseconds * LatencyPlanner.costAllowance * 1e6)
        delay = min(bound, lead + LatencyPlanner.lagAllowance + cost + LatencyPlanner.margin)
    }

    /// Starts a new window (the level changed) but keeps the delay until the new samples say otherwise.
    mutating func forgetSamples() {
        count = 0
        next = 0
        sinceEvaluation = 0
        lowerVotes = 0
        coldLeft = LatencyPlanner.coldPairs
    }

    /// One pair: the time from its first in-between slot's instant to when its last synthesised
    /// frame was ready. Returns the new delay when it changes.
    mutating func record(readyAfterInstant sample: UInt64) -> UInt64? {
        let cold = coldLeft > 0
        if cold {
            coldLeft -= 1
        } else {
            samples[next] = sample
            next = (next + 1) % samples.count
            count = min(count + 1, samples.count)
            sinceEvaluation += 1
        }
        if sample + LatencyPlanner.margin > delay, cold || count < LatencyPlanner.evaluateEvery, delay < bound {
            delay = min(bound, sample + LatencyPlanner.margin)
            return delay
        }
        guard !cold else { return nil }
        let missed = sample > delay
        guard sinceEvaluation >= LatencyPlanner.evaluateEvery || missed else { return nil }
        sinceEvaluation = 0
        return evaluate()
    }

    private mutating func evaluate() -> UInt64? {
        for index in 0..<count { scratch[index] = samples[index] }
        scratch.withUnsafeMutableBufferPointer { $0[0..<count].sort() }
        let needed = scratch[min(count - 1, Int((LatencyPlanner.quantile * Double(count)).rounded(.up)) - 1)]
        median = scratch[count / 2]
        need = needed
        let target = min(bound, needed + LatencyPlanner.margin)
        if !evaluated {
            evaluated = true
            lowerVotes = 0
            if target != delay {
                delay = target
                return delay
            }
            return nil
        }
        if target > delay {
            lowerVotes = 0
            delay = target
            return delay
        }
        if target + max(LatencyPlanner.hysteresis, UInt64(Double(delay) * LatencyPlanner.hysteresisFraction)) <= delay {
            lowerVotes += 1
            if lowerVotes >= LatencyPlanner.lowerAfter {
                lowerVotes = 0
                delay = target
                return delay
            }
        } else {
            lowerVotes = 0
        }
        return nil
    }
}
