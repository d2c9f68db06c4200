import Foundation
import SloMoCore
import SloMoDaemon
import XCTest

/// A camera's frames reach the daemon some time after the instant they show (USB transfer, the
/// driver's queue). Real frames alone (repeat, or paused) need no GPU, but the slots still have
/// to wait out that lag, or each pair's slots are due before its frame is in and are dropped.
final class CaptureLagTests: XCTestCase {
    func testRepeatModeLearnsTheCaptureLag() throws {
        let rate = 20, lag: Int64 = 40_000_000
        let source = ShiftedStampSource(TestPatternSource(width: 160, height: 96, frameRate: Rational(rate), loopFrames: 30),
                                        shift: -lag)
        let daemon = try startDaemon(self, source: { source }, sink: RecordingSink(),
                                     flags: [("fps", "\(rate)"), ("scale", "2"), ("mode", "repeat")])
        Thread.sleep(forTimeInterval: 3)
        let stats = try daemon.handle(.stats)
        daemon.stop()
        // A pair's slots are scheduled when its second frame is in: its first in-between slot
        // needs the lead (half the 50 ms interval) plus the lag behind its instant.
        XCTAssertGreaterThanOrEqual(number(stats, "delay_ms"), 25 + 40, "\(stats.serialized)")
        XCTAssertLessThanOrEqual(number(stats, "delay_ms"), 90, "\(stats.serialized)")
        XCTAssertGreaterThan(number(stats, "captured"), 40, "\(stats.serialized)")
        XCTAssertLessThanOrEqual(number(stats, "dropped_slots"), 3, "only while the planner learns: \(stats.serialized)")
        XCTAssertGreaterThan(number(stats, "repeated"), 30, "\(stats.serialized)")
    }
}
