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
        let source = FutureStampedSource(TestPatternSource(width: 160, height: 96, frameRate: Rational(rate), loopFrames: 30),
                                         lead: UInt64(0.9e9 / Double(rate)))
        let registry = IORegistry()
        registry.registerSource("v4l2") { _, _ in source }
        registry.registerSink("null") { _, _ in RecordingSink() }
        let directory = try scratchDirectory(self)
        let overrides = [("input", "v4l2:/dev/ahead"), ("output", "null"), ("fps", "\(rate)"), ("scale", "2"), ("mode", "blend"),
                         ("socket", directory + "/slomod.sock")].map { DaemonCommandLine.Override(flag: $0.0, value: $0.1) }
        let daemon = try Daemon(configFile: nil, overrides: overrides, registry: registry)
        try daemon.start()
        Thread.sleep(forTimeInterval: 2.5)
        let status = try daemon.handle(.status)
        let stats = try daemon.handle(.stats)
        daemon.stop()
        XCTAssertEqual(status["state"], .string("running"), "\(status.serialized)")
        XCTAssertGreaterThan(number(stats, "synthesised"), 20, "\(stats.serialized)")
        XCTAssertGreaterThan(number(stats, "delivered"), 60, "\(stats.serialized)")
    }
}

/// Adds a fixed lead to every timestamp of the source it wraps.
final class FutureStampedSource: FrameSource {
    private let source: FrameSource
    private let lead: UInt64

    init(_ source: FrameSource, lead: UInt64) {
        self.source = source
        self.lead = lead
    }

    var format: FrameFormat { source.format }
    var frameRate: Rational { source.frameRate }
    func open() throws { try source.open() }
    func close() { source.close() }

    func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        try source.next(timeoutNanoseconds: timeoutNanoseconds) { frame in
            var ahead = frame
            ahead.timestamp += lead
            try body(ahead)
        }
    }
}
