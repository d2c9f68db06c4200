import Foundation
import SloMoCore
import SloMoDaemon
import SloMoV4L2
import XCTest

/// A source that changes size mid-stream, through the daemon's own pipeline (the real engine and
/// the fit shader on lavapipe): the output keeps its size and its frames, the new picture is
/// fitted into it with black bars, and `status` reports the new input. The VM test
/// (SourceChangeHardwareTests) does the same with vivid's HDMI input; this one runs anywhere.
final class SourceChangeTests: XCTestCase {
    func testOutputKeepsItsSizeAcrossASourceChange() throws {
        // 160x96 (5:3), then 64x64: pillarboxed into the middle 96 columns.
        let source = ResizingSource(TestPatternSource(width: 160, height: 96, frameRate: Rational(20), loopFrames: 30),
                                    then: TestPatternSource(width: 64, height: 64, frameRate: Rational(20), loopFrames: 30))
        let sink = RecordingSink()
        let daemon = try startDaemon(self, source: { source }, sink: sink, flags: [("fps", "20"), ("scale", "2")])
        Thread.sleep(forTimeInterval: 1.5)
        let before = try daemon.handle(.status)
        let changedAt = MonotonicClock.now()
        source.change()
        Thread.sleep(forTimeInterval: 2.5)
        let after = try daemon.handle(.status)
        let stats = try daemon.handle(.stats)
        daemon.stop()

        XCTAssertEqual(number(before, "input_width"), 160, "\(before.serialized)")
        XCTAssertEqual(number(before, "source_changes"), 0)
        XCTAssertEqual(after["state"], .string("running"), "the daemon keeps running: \(after.serialized)")
        XCTAssertEqual([number(after, "width"), number(after, "height")], [160, 96], "the output keeps its size")
        XCTAssertEqual([number(after, "input_width"), number(after, "input_height")], [64, 64], "\(after.serialized)")
        XCTAssertEqual(after["input_pixel_format"], before["pixel_format"])
        XCTAssertEqual(number(after, "source_changes"), 1)
        XCTAssertEqual(number(stats, "source_changes"), 1)

        let pattern = TestPatternSource(width: 160, height: 96, frameRate: Rational(20), loopFrames: 2).format
        let writes = sink.writes
        XCTAssertTrue(writes.allSatisfy { $0.bytes.count == pattern.byteCount }, "every frame at the first size")
        // Past the queued slots (the delay) and the fitter's start: fitted frames only.
        let fitted = writes.filter { $0.time > changedAt + 500_000_000 }
        XCTAssertGreaterThan(fitted.count, 40, "frames keep coming at the output rate (40 fps) after the change")
        let gaps = zip(writes, writes.dropFirst()).map { Double($1.time - $0.time) / 1e6 }
        XCTAssertLessThan(gaps.max() ?? .infinity, 300, "no long pause in the output")
        // 64x64 scaled to 96x96, at x = 32; yuv420p limited range (the pattern's format).
        XCTAssertEqual(pattern.pixelFormat, .yuv420p)
        for frame in fitted {
            // The bars' luma (well clear of the picture's edge, where flow may reach) is black in
            // the output's range; the picture between them is not.
            for (y, x) in [(0, 0), (40, 10), (95, 20), (50, 140), (10, 159)] {
                XCTAssertEqual(frame.bytes[y * 160 + x], 16, "bar at (\(x), \(y))")
            }
        }
        let middle = fitted.map { frame in (40..<56).map { frame.bytes[$0 * 160 + 80] } }
        XCTAssertGreaterThan(Set(middle.map { $0.description }).count, 10, "the picture inside moves")
        XCTAssertTrue(fitted.allSatisfy { frame in (32..<128).contains { frame.bytes[48 * 160 + $0] != 16 } }, "a picture between the bars")
    }
}

/// Two test patterns of different sizes as one camera that switches from the first to the
/// second mid-stream, as a capture card does when its HDMI source changes timings.
final class ResizingSource: FrameSource {
    private let first: TestPatternSource, second: TestPatternSource
    private let lock = NSLock()
    private var changed = false

    init(_ first: TestPatternSource, then second: TestPatternSource) {
        self.first = first
        self.second = second
    }

    private var current: TestPatternSource { lock.withLock { changed ? second : first } }
    var format: FrameFormat { current.format }
    var frameRate: Rational { current.frameRate }
    var sourceChanges: Int { lock.withLock { changed ? 1 : 0 } }

    func change() {
        lock.withLock { changed = true }
    }

    func open() throws {
        try first.open()
        try second.open()
    }

    func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        try current.next(timeoutNanoseconds: timeoutNanoseconds, body)
    }

    func close() {
        first.close()
        second.close()
    }
}
