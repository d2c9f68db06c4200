import SloMoCore
import SloMoGPU
@testable import SloMoDaemon
import XCTest

final class TimelineTests: XCTestCase {
    let ms: UInt64 = 1_000_000
    /// 30 fps in nanoseconds, rounded as a driver would stamp it.
    let interval: UInt64 = 33_333_333

    func makeTimeline(scale: Int, delay: UInt64 = 90_000_000) -> OutputTimeline {
        OutputTimeline(ratio: SlotRatio(scale: scale), delay: delay, maxInterval: 300_000_000)
    }

    func testScaleTwoPutsOneSlotHalfwayAndOneOnEachFrame() {
        var timeline = makeTimeline(scale: 2)
        var slots: [OutputTimeline.Slot] = []
        let first = timeline.advance(timestamp: 1_000 * ms, sequence: 0, intermediates: &slots)
        XCTAssertEqual(first.real, OutputTimeline.Slot(time: 1_090 * ms, instant: 1_000 * ms, fraction: 0))
        XCTAssertFalse(first.continuous)
        XCTAssertTrue(slots.isEmpty)

        let second = timeline.advance(timestamp: 1_000 * ms + interval, sequence: 1, intermediates: &slots)
        XCTAssertTrue(second.continuous)
        XCTAssertEqual(slots.count, 1)
        XCTAssertEqual(slots[0].fraction, 0.5)
        XCTAssertEqual(slots[0].instant, 1_000 * ms + interval / 2 + 1, "rounded to the nearest nanosecond")
        XCTAssertEqual(slots[0].time, slots[0].instant + 90 * ms)
        XCTAssertEqual(second.real?.instant, 1_000 * ms + interval)
    }

    func testSlotsFollowTheCaptureClockNotTheNominalRate() {
        var timeline = makeTimeline(scale: 4)
        var slots: [OutputTimeline.Slot] = []
        _ = timeline.advance(timestamp: 0, sequence: 0, intermediates: &slots)
        // A late frame: the in-between slots stretch evenly over the real interval.
        _ = timeline.advance(timestamp: 40 * ms, sequence: 1, intermediates: &slots)
        XCTAssertEqual(slots.map(\.instant), [10 * ms, 20 * ms, 30 * ms])
        XCTAssertEqual(slots.map(\.fraction), [0.25, 0.5, 0.75])
    }

    func testSequenceGapSpansTwoFramesWithTwiceTheSlots() {
        var timeline = makeTimeline(scale: 2)
        var slots: [OutputTimeline.Slot] = []
        _ = timeline.advance(timestamp: 0, sequence: 0, intermediates: &slots)
        let step = timeline.advance(timestamp: 2 * interval, sequence: 2, intermediates: &slots)
        XCTAssertTrue(step.continuous)
        XCTAssertEqual(slots.map(\.fraction), [0.25, 0.5, 0.75], "frame 1 was dropped: its slot and both halves are in-between")
        XCTAssertNotNil(step.real)
    }

    func testDiscontinuitiesScheduleNoInBetweenSlots() {
        var timeline = makeTimeline(scale: 2)
        var slots: [OutputTimeline.Slot] = []
        _ = timeline.advance(timestamp: 1_000 * ms, sequence: 10, intermediates: &slots)
        // Too long a stall.
        var step = timeline.advance(timestamp: 2_000 * ms, sequence: 11, intermediates: &slots)
        XCTAssertFalse(step.continuous)
        XCTAssertTrue(slots.isEmpty)
        XCTAssertEqual(step.real?.instant, 2_000 * ms, "the new frame still gets its own slot")
        // Clock going backwards, and too large a sequence gap.
        step = timeline.advance(timestamp: 1_500 * ms, sequence: 12, intermediates: &slots)
        XCTAssertFalse(step.continuous)
        step = timeline.advance(timestamp: 1_600 * ms, sequence: 20, intermediates: &slots)
        XCTAssertFalse(step.continuous)
        XCTAssertEqual(timeline.discontinuities, 3)
        step = timeline.advance(timestamp: 1_600 * ms + interval, sequence: 21, intermediates: &slots)
        XCTAssertTrue(step.continuous)
        XCTAssertEqual(slots.count, 1)
    }

    func testScaleChangeTakesEffectAtTheNextFrameWithoutAGap() {
        var timeline = makeTimeline(scale: 2)
        var slots: [OutputTimeline.Slot] = []
        var times: [UInt64] = []
        for frame in 0..<3 {
            let step = timeline.advance(timestamp: UInt64(frame) * interval, sequence: UInt64(frame), intermediates: &slots)
            times += slots.map(\.time) + [step.real?.time].compactMap { $0 }
        }
        timeline.change(ratio: SlotRatio(scale: 4), delay: 90 * ms)
        // The pair that was already under way keeps the old spacing.
        var step = timeline.advance(timestamp: 3 * interval, sequence: 3, intermediates: &slots)
        XCTAssertEqual(slots.map(\.fraction), [0.5])
        XCTAssertNotNil(step.real, "the next frame anchors the new spacing")
        times += slots.map(\.time) + [step.real?.time].compactMap { $0 }
        step = timeline.advance(timestamp: 4 * interval, sequence: 4, intermediates: &slots)
        XCTAssertEqual(slots.map(\.fraction), [0.25, 0.5, 0.75])
        times += slots.map(\.time) + [step.real?.time].compactMap { $0 }
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        XCTAssertTrue(gaps.allSatisfy { $0 > 0 }, "strictly increasing")
        XCTAssertLessThanOrEqual(gaps.max() ?? 0, interval / 2 + 1, "no slot gap longer than the old spacing")
        XCTAssertEqual(gaps.suffix(4).max() ?? 0, interval / 4 + 1, "the new spacing after the change")
    }

    func testRationalRatioThirtyToFifty() throws {
        let ratio = try XCTUnwrap(SlotRatio(input: Rational(30), output: Rational(50)))
        XCTAssertEqual(ratio.slots, 5)
        XCTAssertEqual(ratio.frames, 3)
        XCTAssertEqual(ratio.outputRate(input: Rational(30)), Rational(50))
        var timeline = OutputTimeline(ratio: ratio, delay: 0, maxInterval: 300_000_000)
        var slots: [OutputTimeline.Slot] = []
        var fractions: [[Double]] = []
        var reals = 0
        for frame in 0..<7 {
            let step = timeline.advance(timestamp: UInt64(frame) * 30 * ms, sequence: UInt64(frame), intermediates: &slots)
            if frame > 0 { fractions.append(slots.map(\.fraction)) }
            reals += step.real == nil ? 0 : 1
        }
        // Over 6 input frames: 10 output slots, every 0.6 of a frame.
        XCTAssertEqual(fractions.map(\.count).reduce(0, +) + reals - 1, 10)
        XCTAssertEqual(fractions[0], [0.6])
        XCTAssertEqual(fractions[1].map { ($0 * 10).rounded() / 10 }, [0.2, 0.8])
        XCTAssertEqual(fractions[2].map { ($0 * 10).rounded() / 10 }, [0.4])
        XCTAssertEqual(reals, 3, "frames 0, 3 and 6 fall on slots")
        XCTAssertNil(SlotRatio(input: Rational(30), output: Rational(20)), "slower output is not upconversion")
        XCTAssertNil(SlotRatio(input: Rational(30), output: Rational(600)), "more than 16 slots per frame")
    }

    func testDelayChangeAppliesAtTheNextFrame() {
        var timeline = makeTimeline(scale: 2, delay: 90 * ms)
        var slots: [OutputTimeline.Slot] = []
        _ = timeline.advance(timestamp: 0, sequence: 0, intermediates: &slots)
        timeline.change(ratio: SlotRatio(scale: 2), delay: 40 * ms)
        let step = timeline.advance(timestamp: interval, sequence: 1, intermediates: &slots)
        XCTAssertEqual(slots.first.map { $0.time - $0.instant }, 90 * ms)
        XCTAssertEqual(step.real.map { $0.time - $0.instant }, 40 * ms)
        XCTAssertEqual(timeline.delay, 40 * ms)
    }
}

final class BudgetControllerTests: XCTestCase {
    func testDegradesOnlyAfterConsecutiveOverruns() {
        var controller = BudgetController(ceiling: .flowQuality, adaptive: true)
        XCTAssertNil(controller.record(milliseconds: 40, late: false, budget: 30))
        XCTAssertNil(controller.record(milliseconds: 40, late: false, budget: 30))
        XCTAssertNil(controller.record(milliseconds: 10, late: false, budget: 30), "a good pair resets the count")
        XCTAssertNil(controller.record(milliseconds: 40, late: false, budget: 30))
        XCTAssertNil(controller.record(milliseconds: 40, late: false, budget: 30))
        XCTAssertEqual(controller.record(milliseconds: 40, late: false, budget: 30), .flowFast)
        // Late frames count as overruns even when the GPU time looked fine.
        XCTAssertNil(controller.record(milliseconds: 5, late: true, budget: 30))
        XCTAssertNil(controller.record(milliseconds: 5, late: true, budget: 30))
        XCTAssertEqual(controller.record(milliseconds: 5, late: true, budget: 30), .blend)
    }

    func testDegradesAllTheWayToRepeatAndStaysWhenNothingFits() {
        var controller = BudgetController(ceiling: .flowQuality, adaptive: true)
        var levels: [QualityLevel] = []
        for _ in 0..<200 {
            if let level = controller.record(milliseconds: 50, late: true, budget: -5) { levels.append(level) }
        }
        XCTAssertEqual(levels, [.flowFast, .blend, .repeat])
        XCTAssertEqual(controller.level, .repeat)
    }

    func testClimbsBackAfterTheHoldWhenTheNextLevelFits() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 10
        var controller = BudgetController(ceiling: .flowFast, adaptive: true, tuning: tuning)
        for _ in 0..<3 { _ = controller.record(milliseconds: 40, late: false, budget: 30) }
        XCTAssertEqual(controller.level, .blend)
        XCTAssertEqual(controller.hold, 20, "each step down doubles the hold")
        // Blend is cheap, but flow/fast was measured at 40 ms: too dear for 30.
        for _ in 0..<100 { XCTAssertNil(controller.record(milliseconds: 3, late: false, budget: 30)) }
        // More room: flow/fast's 40 ms now fits 85 % of 60 — after the hold, not at once.
        var climbedAfter: Int?
        for pair in 1...100 where climbedAfter == nil {
            if controller.record(milliseconds: 3, late: false, budget: 60) == .flowFast { climbedAfter = pair }
        }
        XCTAssertEqual(climbedAfter, 1, "the hold had already passed at the smaller budget")
        XCTAssertNil(controller.record(milliseconds: 35, late: false, budget: 60), "never above the ceiling")
    }

    func testClimbsOutOfRepeatOnceThereIsABudgetAgain() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        tuning.costLifetime = 40
        var controller = BudgetController(ceiling: .flowFast, adaptive: true, tuning: tuning)
        for _ in 0..<6 { _ = controller.record(milliseconds: 90, late: true, budget: 28) }
        XCTAssertEqual(controller.level, .repeat)
        // Repeat pairs cost nothing; blend was measured at 90 ms, so it waits until that is stale.
        var climbedAt: Int?
        for pair in 1...200 where climbedAt == nil {
            if controller.record(milliseconds: 0, late: false, budget: 28) == .blend { climbedAt = pair }
        }
        XCTAssertNotNil(climbedAt)
        XCTAssertGreaterThan(climbedAt ?? 0, 20, "not before the hold and the stale cost")
    }

    func testDoesNotClimbWhileTheCurrentLevelUsesMostOfTheBudget() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        var controller = BudgetController(ceiling: .flowQuality, adaptive: true, tuning: tuning)
        for _ in 0..<3 { _ = controller.record(milliseconds: 40, late: false, budget: 30) }
        XCTAssertEqual(controller.level, .flowFast)
        // 25 of 30 ms: fits, so no step down, but too close to the budget to try quality.
        for _ in 0..<100 { XCTAssertNil(controller.record(milliseconds: 25, late: false, budget: 30)) }
        XCTAssertEqual(controller.level, .flowFast)
    }

    func testForgetsOldCostsAndProbesAgain() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        tuning.costLifetime = 50
        var controller = BudgetController(ceiling: .flowFast, adaptive: true, tuning: tuning)
        for _ in 0..<3 { _ = controller.record(milliseconds: 40, late: false, budget: 30) }
        XCTAssertEqual(controller.level, .blend)
        var climbed = false
        // Twice the lifetime: flow/fast failed once.
        for _ in 0..<110 where !climbed {
            climbed = controller.record(milliseconds: 2, late: false, budget: 30) == .flowFast
        }
        XCTAssertTrue(climbed, "a cost measured long ago (maybe under load) is probed again")
    }

    func testALevelThatKeepsFailingIsProbedEverMoreRarely() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        tuning.maxHold = 20
        tuning.costLifetime = 50
        tuning.maxBackoff = 2
        var controller = BudgetController(ceiling: .flowFast, adaptive: true, tuning: tuning)
        // flow/fast costs 45 ms a pair against a 33 ms budget, every time it is tried.
        var probes: [Int] = []
        for pair in 1...1_000 {
            let cost = controller.level == .flowFast ? 45.0 : 3.0
            if controller.record(milliseconds: cost, late: false, budget: 33) == .flowFast { probes.append(pair) }
        }
        // Each failure doubles how long the 45 ms is trusted (50 pairs, then 100, 200, and 200 at
        // most): a probe (3 pairs) follows once it is stale. Without the backoff, every 53 pairs.
        XCTAssertEqual(probes.count, 5, "probes at \(probes)")
        let gaps = zip(probes, [0] + probes).map { $0 - $1 }
        for (gap, lifetime) in zip(gaps, [100, 200, 200, 200, 200]) {
            XCTAssertGreaterThan(gap, lifetime, "probes at \(probes)")
            XCTAssertLessThanOrEqual(gap, lifetime + 5, "probes at \(probes)")
        }
        XCTAssertEqual(controller.costLifetime(of: .flowFast), 200)
    }

    func testALevelThatHoldsIsTrustedAgainAfterItsFailures() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        tuning.maxHold = 20
        tuning.costLifetime = 50
        var controller = BudgetController(ceiling: .flowFast, adaptive: true, tuning: tuning)
        for _ in 0..<3 { _ = controller.record(milliseconds: 45, late: false, budget: 33) }
        XCTAssertEqual(controller.costLifetime(of: .flowFast), 100)
        // The load goes away: flow/fast fits when next probed, holds, and its failures are forgiven.
        var pairs = 0
        while controller.level != .flowFast, pairs < 500 {
            _ = controller.record(milliseconds: 3, late: false, budget: 33)
            pairs += 1
        }
        XCTAssertEqual(controller.level, .flowFast)
        for _ in 0..<tuning.maxHold { XCTAssertNil(controller.record(milliseconds: 20, late: false, budget: 33)) }
        XCTAssertEqual(controller.costLifetime(of: .flowFast), 50)
    }

    func testStartsAtTheBestLevelItsSeededCostsFit() {
        var controller = BudgetController(ceiling: .flowQuality, adaptive: true)
        controller.seed(.flowQuality, milliseconds: 60)
        controller.seed(.flowFast, milliseconds: 30)
        controller.seed(.blend, milliseconds: 8)
        controller.restart(budget: 28)
        XCTAssertEqual(controller.level, .blend)
        controller.restart(budget: 40)
        XCTAssertEqual(controller.level, .flowFast)
        controller.restart(budget: 5)
        XCTAssertEqual(controller.level, .repeat)
        controller.configure(ceiling: .flowQuality, adaptive: false)
        controller.restart(budget: 5)
        XCTAssertEqual(controller.level, .flowQuality, "not adaptive: always the configured level")
    }

    func testFixedLevelWhenNotAdaptiveAndUserCeilingResets() {
        var controller = BudgetController(ceiling: .flowQuality, adaptive: false)
        for _ in 0..<10 { XCTAssertNil(controller.record(milliseconds: 100, late: true, budget: 10)) }
        XCTAssertEqual(controller.level, .flowQuality)
        controller.configure(ceiling: .blend, adaptive: true)
        controller.restart(budget: 30)
        XCTAssertEqual(controller.level, .blend)
        XCTAssertEqual(QualityLevel(mode: .flow, preset: .fast), .flowFast)
        XCTAssertEqual(QualityLevel(mode: .repeat, preset: .quality), .repeat)
    }
}

final class FramePoolTests: XCTestCase {
    func testBuffersReturnWhenTheLastHolderReleases() throws {
        let context = try GPUContext(options: GPUOptions())
        let pool = FramePool(frameBytes: 64)
        pool.add(try FramePool.allocate(2, frameBytes: 64, context: context))
        XCTAssertEqual(pool.capacity, 2)
        let a = pool.acquire(), b = pool.acquire()
        XCTAssertNotNil(a)
        XCTAssertNotNil(b)
        XCTAssertNil(pool.acquire(), "all in use: the caller drops the frame instead of allocating")
        guard let a else { return }
        pool.retain(a)
        pool.release(a)
        XCTAssertNil(pool.acquire(), "still held once")
        pool.release(a)
        XCTAssertEqual(pool.acquire(), a)
        XCTAssertEqual(pool[a].count, 64)
        // The bytes the host writes are where the GPU reads them, and no two buffers overlap.
        let (frameA, frameB) = (pool.frame(0), pool.frame(1))
        XCTAssertEqual(pool[0].baseAddress, frameA.buffer.contents.map { UnsafeMutableRawPointer($0) + frameA.offset })
        XCTAssertEqual(frameA.buffer, frameB.buffer)
        XCTAssertGreaterThanOrEqual(abs(frameA.offset - frameB.offset), 64)
        XCTAssertTrue(try FramePool.allocate(-3, frameBytes: 8, context: context).isEmpty)
    }

    func testLatencyPercentiles() {
        let histogram = LatencyHistogram()
        XCTAssertNil(histogram.percentile(0.5))
        for ms in 1...100 { histogram.record(nanoseconds: UInt64(ms) * 1_000_000 - 50_000) }
        XCTAssertEqual(histogram.percentile(0.5), 50)
        XCTAssertEqual(histogram.percentile(0.99), 99)
        histogram.record(nanoseconds: 5_000_000_000)
        XCTAssertEqual(histogram.maximum, 5_000_000_000)
    }
}
