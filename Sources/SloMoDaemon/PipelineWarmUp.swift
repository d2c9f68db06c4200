import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// Warm-up: compile, record and time every level on real frames before the first pair, so the
/// controller starts at a level this machine can hold.
extension Pipeline {
    /// Compiles the shaders and records the sequences the first frames will replay, so the first
    /// real pair is not late by the time that takes, and times every level on two real frames
    /// from the source (flow costs depend on the picture: blank frames converge at once).
    func warmUp(ratio: SlotRatio) throws {
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
                           budget: nominalBudget(ratio: ratio, delay: Pipeline.boundDelay(for: applied.latencyBoundMilliseconds)))
        }
        controller.restart(budget: nominalBudget(ratio: ratio, delay: Pipeline.boundDelay(for: applied.latencyBoundMilliseconds)))
        stats.level = controller.level
        logger.info("engine warm-up: \(controller.costs.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value.milliseconds)) ms" }.joined(separator: ", ")); starting at \(controller.level)")
    }

    /// Times for the warm-up: as many as a pair at `ratio` makes.
    static func warmTimes(ratio: SlotRatio) -> [Float] {
        let steps = max(1, min(Pipeline.maxSteps, (ratio.slots + ratio.frames - 1) / ratio.frames - 1))
        return (1...steps).map { Float($0) / Float(steps + 1) }
    }

    /// Times one level on a pair of frames and seeds the controller with it (see `measure`).
    func time(_ synthesizer: FrameSynthesizer, as level: QualityLevel,
              frames: (UnsafeRawBufferPointer, UnsafeRawBufferPointer), times: [Float], giveUp: Double = .infinity) throws {
        if let cost = try Pipeline.measure(synthesizer, frames: frames, times: times, giveUp: giveUp) {
            controller.seed(level, milliseconds: cost)
        }
    }

    /// A synthesiser's GPU time for a pair, or nil when the frames read as a scene cut. The first
    /// run records the work (and compiles what it needs), so later pairs run as every pair will:
    /// the quickest of the next two is the figure (a busy machine makes single timings noisy), so
    /// the controller starts at a level this machine can hold instead of failing its way down. A
    /// synthesiser whose first run already takes over `giveUp` ms is given that figure: it will
    /// not fit, and a slow network need not be run three times.
    static func measure(_ synthesizer: FrameSynthesizer, frames: (UnsafeRawBufferPointer, UnsafeRawBufferPointer),
                        times: [Float], giveUp: Double = .infinity) throws -> Double? {
        try synthesizer.append(frames.0)
        try synthesizer.append(frames.1)
        let first = try synthesizer.synthesize(times: times)
        if first.sceneCut { return nil }
        var cost = first.gpuMilliseconds
        if cost <= giveUp {
            cost = .infinity
            for frame in [frames.0, frames.1] {
                try synthesizer.append(frame)
                let synthesis = try synthesizer.synthesize(times: times)
                if !synthesis.sceneCut { cost = min(cost, synthesis.gpuMilliseconds) }
            }
            if cost == .infinity { return nil }
        }
        return cost
    }

    /// Times the network built at start on one frame given twice (its cost does not depend on
    /// the picture, and two equal frames are never a scene cut).
    func timeNeural(frame: UnsafeRawBufferPointer, ratio: SlotRatio, budget: Double) throws {
        guard let neural, let level = QualityLevel.allCases.first(where: { $0.neuralMode == neural.source.model.mode }) else { return }
        controller.forget(level)
        try time(neural.synthesizer, as: level, frames: (frame, frame), times: Pipeline.warmTimes(ratio: ratio), giveUp: 2 * max(budget, 1))
        neural.synthesizer.reset()
        logger.info("\(level) warm-up: \(controller.costs[level].map { String(format: "%.1f ms a pair", $0.milliseconds) } ?? "not measured") for a budget of \(String(format: "%.1f", budget)) ms")
    }
}
