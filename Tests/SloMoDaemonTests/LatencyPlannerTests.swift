import SloMoCore
@testable import SloMoDaemon
import XCTest

/// The auto delay: planned from the level's cost until samples arrive, then the 99.5th percentile
/// of the window plus the margin, raised at once, lowered only after a steady run, never past the bound.
final class LatencyPlannerTests: XCTestCase {
    let ms: UInt64 = 1_000_000

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
        XCTAssertEqual(planner.delay, 16 * ms + 2 * ms + 15 * ms + 3 * ms)
        planner.restart(bound: 30 * ms, lead: 16 * ms, expectedCost: 10)
        XCTAssertEqual(planner.delay, 30 * ms, "never past the bound")
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: nil)
        XCTAssertEqual(planner.delay, 90 * ms, "a level never measured: the bound")

        // The first evaluation replaces the guess, down as well as up; a new window keeps the delay.
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 10)
        XCTAssertEqual(feed(&planner, Array(repeating: 20 * ms, count: 30)), [23 * ms])
        planner.forgetSamples()
        XCTAssertEqual(planner.delay, 23 * ms)
        XCTAssertEqual(feed(&planner, Array(repeating: 20 * ms, count: 60)), [], "the same need: no change")
    }

    func testCoversTheQuantileWithTheMarginAndIgnoresARareOutlier() {
        var planner = LatencyPlanner(bound: 90 * ms)
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 20)
        // 360 pairs ready 25...34 ms after their first slot's instant, and one at 80 ms: it raises
        // the delay at once, which falls back after five evaluations once it is under 0.5 %.
        var samples = (0..<359).map { 25 * ms + UInt64($0 % 10) * ms }
        samples.insert(80 * ms, at: 150)
        _ = feed(&planner, samples)
        XCTAssertEqual(planner.delay, 34 * ms + LatencyPlanner.margin, "one pair in 300 is under the 0.5 % the quantile leaves out")
        XCTAssertEqual(planner.need, 34 * ms)
        XCTAssertEqual(planner.median, 30 * ms)

        // 1 % of pairs at 60 ms: the delay covers them.
        _ = feed(&planner, (0..<300).map { $0 % 100 == 7 ? 60 * ms : 30 * ms })
        XCTAssertEqual(planner.delay, 60 * ms + LatencyPlanner.margin)
    }

    func testRisesAtOnceOnAMissAndFallsOnlyAfterASteadyRun() {
        var planner = LatencyPlanner(bound: 90 * ms)
        planner.restart(bound: 90 * ms, lead: 16 * ms, expectedCost: 5)
        _ = feed(&planner, Array(repeating: 28 * ms, count: 30))
        XCTAssertEqual(planner.delay, 31 * ms)
        // A pair past the delay: raised on that pair, not at the next evaluation.
        XCTAssertEqual(planner.record(readyAfterInstant: 40 * ms), 43 * ms)

        // The machine is quicker now: nothing falls while the slow pair is within the quantile,
        // nor before five evaluations in a row ask for less, and then only downwards.
        let quicker = changes(&planner, Array(repeating: 20 * ms, count: 600))
        XCTAssertGreaterThanOrEqual(quicker.first?.pair ?? 0, 200 - 31, "one pair in 200 is 0.5 %: \(quicker)")
        XCTAssertEqual(quicker.map(\.delay), quicker.map(\.delay).sorted(by: >))
        XCTAssertEqual(quicker.last?.delay, 23 * ms)
        XCTAssertEqual(planner.delay, 23 * ms)
        // Within the hysteresis: no change.
        XCTAssertEqual(feed(&planner, Array(repeating: 19 * ms, count: 600)), [])

        // Slower than the bound allows: the bound, and the controller's to step down.
        XCTAssertEqual(feed(&planner, Array(repeating: 120 * ms, count: 30)), [90 * ms])
    }
}
