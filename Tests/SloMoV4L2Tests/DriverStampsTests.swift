import SloMoV4L2
import XCTest

/// vivid's end-of-exposure stamps, as it hands frames over: a frame interval ahead of the clock,
/// less jitter in the handover.
final class DriverStampsTests: XCTestCase {
    func testStampsAheadOfTheClockAreHeldBackAndKeepTheirSpacing() {
        var stamps = DriverStamps()
        let interval: UInt64 = 500_000_000, lead: UInt64 = 450_000_000
        var generator = SystemRandomNumberGenerator()
        var times: [UInt64] = []
        for index in 0..<40 {
            let scheduled = 10_000_000_000 + UInt64(index) * interval
            // Handed over promptly once, by frame 2; late by up to 20 ms otherwise.
            let late: UInt64 = index == 2 ? 0 : index < 2 ? 15_000_000 : UInt64.random(in: 1_000_000..<20_000_000, using: &generator)
            let dequeued = scheduled + late
            let time = stamps.time(stamped: scheduled + lead, dequeuedAt: dequeued)
            XCTAssertLessThanOrEqual(time, dequeued, "frame \(index) stamped after it arrived")
            times.append(time)
        }
        // Once the largest lead is known (the prompt handover), the spacing is the driver's own.
        let spacing = zip(times.dropFirst(2), times.dropFirst(3)).map { $1 - $0 }
        XCTAssertEqual(Set(spacing), [interval])
        XCTAssertEqual(stamps.lead, lead)
    }

    func testStampsBehindTheClockAreTheDriversOwn() {
        var stamps = DriverStamps()
        XCTAssertEqual(stamps.time(stamped: 1_000_000, dequeuedAt: 5_000_000), 1_000_000)
        XCTAssertEqual(stamps.time(stamped: 34_000_000, dequeuedAt: 40_000_000), 34_000_000)
        XCTAssertEqual(stamps.lead, 0)
    }
}
