import Foundation
import SloMoCore
import SloMoDaemon
import XCTest

/// A source whose timestamps lie ahead of the clock (vivid's end-of-exposure stamps before
/// `DriverStamps` holds them back; any driver with a skewed schedule): the pipeline must go on
/// interpolating, not trap on a negative wait. CI's VM run crashed this way at 2 fps.
final class FutureStampTests: XCTestCase {
    func testStampsAheadOfTheClockNeitherStopNorStallThePipeline() throws {
        let rate = 20
        let source = ShiftedStampSource(TestPatternSource(width: 160, height: 96, frameRate: Rational(rate), loopFrames: 30),
                                        shift: Int64(0.9e9 / Double(rate)))
        let daemon = try startDaemon(self, source: { source }, sink: RecordingSink(),
                                     flags: [("fps", "\(rate)"), ("scale", "2"), ("mode", "blend")])
        Thread.sleep(forTimeInterval: 2.5)
        let status = try daemon.handle(.status)
        let stats = try daemon.handle(.stats)
        daemon.stop()
        XCTAssertEqual(status["state"], .string("running"), "\(status.serialized)")
        XCTAssertGreaterThan(number(stats, "synthesised"), 20, "\(stats.serialized)")
        XCTAssertGreaterThan(number(stats, "delivered"), 60, "\(stats.serialized)")
    }
}

/// Shifts every timestamp of the source it wraps: ahead of the clock (a skewed driver schedule),
/// or behind it (a camera whose frames reach the daemon some time after their exposure).
final class ShiftedStampSource: FrameSource {
    private let source: FrameSource
    private let shift: Int64

    init(_ source: FrameSource, shift: Int64) {
        self.source = source
        self.shift = shift
    }

    var format: FrameFormat { source.format }
    var frameRate: Rational { source.frameRate }
    func open() throws { try source.open() }
    func close() { source.close() }

    func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        try source.next(timeoutNanoseconds: timeoutNanoseconds) { frame in
            var shifted = frame
            shifted.timestamp = UInt64(Int64(frame.timestamp) + shift)
            try body(shifted)
        }
    }
}
