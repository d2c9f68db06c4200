import SloMoCore
@testable import SloMoDaemon
import XCTest

/// The auto delay: planned from the level's cost until samples arrive, then the 99th percentile
/// of the window plus the margin, raised at once, lowered only after a steady run, never past the
/// bound; the first pairs after a start only raise it.
final class LatencyPlannerTests: XCTestCase {
    let ms: UInt64 = 1_000_000
    let cold = LatencyPlanner.coldPairs

    func feed(_ planner: inout LatencyPlanner, _ samples: [UInt64]) -> [UInt64] {
        changes(&planner, samples).map(\.delay)
    }

    func changes(_ planner: inout LatencyPlanner, _ samples: [UInt64]) -> [(pair: Int, delay: UInt64)] {
        samples.enumerated().compactMap { index, sample in planner.record(readyAfterInstant: sample).map { (index, $0) } }
    }

    func testStartsFromTheLevelsCostAndTheBound() {
        var planner = LatencyPlanner(bound: 90 * ms)
        XCTAssertEqual(planner.delay, 90 * ms, "nothing known: the bound")
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 10)
        // lead + lag allowance + 1.5 × cost + margin
        XCTAssertEqual(planner.delay, 16 * ms + 2 * ms + 15 * ms + LatencyPlanner.margin)
        planner.restart(bound: 30 * ms, lead: 16 * ms, expectedCost: 10)
        XCTAssertEqual(planner.delay, 30 * ms, "never past the bound")
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: nil)
        XCTAssertEqual(planner.delay, 90 * ms, "a level never measured: the bound")

        // The first evaluation (after the cold pairs) replaces the guess, down as well as up; a
        // new window keeps the delay.
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 10)
        XCTAssertEqual(feed(&planner, Array(repeating: 20 * ms, count: cold + 30)), [20 * ms + LatencyPlanner.margin])
        planner.forgetSamples()
        XCTAssertEqual(planner.delay, 20 * ms + LatencyPlanner.margin)
        XCTAssertEqual(feed(&planner, Array(repeating: 20 * ms, count: 60)), [], "the same need: no change")
    }

    func testColdPairsRaiseTheDelayButAreNotKept() {
        var planner = LatencyPlanner(bound: 90 * ms)
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 10)
        // The first pairs after a start are slow once: each raises the delay at once...
        let slowStart = (0..<cold).map { $0 < 3 ? 47 * ms : 33 * ms }
        XCTAssertEqual(feed(&planner, slowStart), [47 * ms + LatencyPlanner.margin])
        // ...and the first evaluation sees only the pairs after them.
        XCTAssertEqual(feed(&planner, Array(repeating: 33 * ms, count: 30)), [33 * ms + LatencyPlanner.margin])
        XCTAssertEqual(planner.need, 33 * ms)

        // A new level runs cold too: its first pairs do not enter the new window.
        planner.forgetSamples()
        XCTAssertEqual(feed(&planner, [60 * ms] + Array(repeating: 33 * ms, count: cold - 1)), [60 * ms + LatencyPlanner.margin])
        _ = feed(&planner, Array(repeating: 33 * ms, count: 30 * (LatencyPlanner.lowerAfter + 1)))
        XCTAssertEqual(planner.need, 33 * ms)
        XCTAssertEqual(planner.delay, 33 * ms + LatencyPlanner.margin, "lowered again once the window asks for less")
    }

    func testCoversTheQuantileWithTheMarginAndIgnoresARareOutlier() {
        var planner = LatencyPlanner(bound: 90 * ms)
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 20)
        _ = feed(&planner, Array(repeating: 30 * ms, count: cold))
        // A window of pairs ready 25...34 ms after their first slot's instant, and one at 80 ms:
        // once the window holds 100 pairs, one late pair is under the 1 % the quantile leaves out.
        var samples = (0..<(LatencyPlanner.window - 1)).map { 25 * ms + UInt64($0 % 10) * ms }
        samples.insert(80 * ms, at: 150)
        XCTAssertEqual(feed(&planner, samples), [34 * ms + LatencyPlanner.margin], "the guess, then the need")
        XCTAssertEqual(planner.need, 34 * ms)
        XCTAssertEqual(planner.median, 30 * ms)

        // 1 % of pairs at 60 ms is what the quantile leaves out; more than that, the delay covers.
        // (A late pair calls an evaluation at once, so each feed runs an evaluation past the window.)
        _ = feed(&planner, (0..<(LatencyPlanner.window + 30)).map { $0 % 100 == 7 ? 60 * ms : 30 * ms })
        XCTAssertEqual(planner.need, 30 * ms)
        _ = feed(&planner, (0..<(LatencyPlanner.window + 30)).map { $0 % 60 == 7 ? 60 * ms : 30 * ms })
        XCTAssertEqual(planner.delay, 60 * ms + LatencyPlanner.margin)
    }

    func testRisesAtOnceOnAMissAndFallsOnlyAfterASteadyRun() {
        var planner = LatencyPlanner(bound: 90 * ms)
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 5)
        _ = feed(&planner, Array(repeating: 28 * ms, count: cold + 30))
        XCTAssertEqual(planner.delay, 30 * ms)
        // A pair past the delay: raised on that pair, not at the next evaluation.
        XCTAssertEqual(planner.record(readyAfterInstant: 40 * ms), 42 * ms)

        // The machine is quicker now: nothing falls while the slow pair is within the quantile
        // (one in 100 is 1 %), nor before five evaluations in a row ask for less, and then only
        // downwards: to the 28-ms pairs' need while they are 1 % of the window, then below.
        let quicker = changes(&planner, Array(repeating: 20 * ms, count: LatencyPlanner.window + 300))
        XCTAssertGreaterThanOrEqual(quicker.first?.pair ?? 0, 100 - 31, "\(quicker)")
        XCTAssertEqual(quicker.map(\.delay), quicker.map(\.delay).sorted(by: >))
        XCTAssertEqual(quicker.map(\.delay), [30 * ms, 22 * ms])
        XCTAssertEqual(planner.delay, 22 * ms)
        // Within the hysteresis: no change.
        XCTAssertEqual(feed(&planner, Array(repeating: 19 * ms, count: 2 * LatencyPlanner.window)), [])

        // Slower than the bound allows: the bound once 1 % of the window is that slow, and the
        // controller's to step down.
        XCTAssertEqual(feed(&planner, Array(repeating: 120 * ms, count: 30)), [90 * ms])
    }
}
