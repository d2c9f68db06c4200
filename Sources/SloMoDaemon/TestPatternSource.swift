import Foundation
import SloMoCore

/// CLOCK_MONOTONIC, the clock capture timestamps and output slots share.
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Sleeps until `deadline` (absolute), resuming after signals.
    public static func sleep(until deadline: UInt64) {
        var spec = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &spec, nil) == EINTR {}
    }
}

/// The built-in camera: SloMoCore's TestPattern on its own clock. The pattern moves without end,
/// so a loop of frames is rendered once at open and played forwards then backwards (positions
/// stay continuous at the turns); each tick then lends a ready frame and costs no rendering.
/// Frames are stamped with their tick time, as a driver stamps the start of exposure.
public final class TestPatternSource: FrameSource {
    public let format: FrameFormat
    public let frameRate: Rational
    public let loopFrames: Int
    private let pattern: TestPattern
    private var frames: UnsafeMutableRawBufferPointer?
    private var start: UInt64 = 0
    private var tick: UInt64 = 0
    /// Wall time the loop took to render at open, in milliseconds.
    public private(set) var renderMilliseconds = 0.0

    public init(width: Int, height: Int, frameRate: Rational, loopFrames: Int) {
        pattern = TestPattern(width: width, height: height)
        format = pattern.format
        self.frameRate = frameRate
        self.loopFrames = max(2, loopFrames)
    }

    deinit { frames?.deallocate() }

    /// The loop frame shown at tick `sequence`: 0, 1, ..., n−1, n−2, ..., 1, 0, 1, ...
    public static func loopIndex(sequence: UInt64, loopFrames: Int) -> Int {
        let period = UInt64(2 * (loopFrames - 1))
        let phase = Int(sequence % period)
        return phase < loopFrames ? phase : 2 * (loopFrames - 1) - phase
    }

    public func open() throws {
        if frames == nil {
            let bytes = format.byteCount
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes * loopFrames, alignment: 64)
            let began = MonotonicClock.now()
            let pattern = self.pattern
            // Frames are independent: render them on every core.
            DispatchQueue.concurrentPerform(iterations: loopFrames) { index in
                pattern.render(time: Double(index), into: UnsafeMutableRawBufferPointer(rebasing: storage[index * bytes..<(index + 1) * bytes]))
            }
            renderMilliseconds = Double(MonotonicClock.now() - began) / 1e6
            frames = storage
        }
        start = MonotonicClock.now()
        tick = 0
    }

    /// Tick `index`'s time, exact for rates such as 30000/1001.
    private func tickTime(_ index: UInt64) -> UInt64 {
        let product = index.multipliedFullWidth(by: 1_000_000_000 * UInt64(frameRate.denominator))
        return start + UInt64(frameRate.numerator).dividingFullWidth(product).quotient
    }

    public var timestampMeaning: CaptureTimestamp { .scheduled }

    public func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        guard let frames else { throw EndpointError.unsupported("test pattern: next() before open()") }
        let deadline = MonotonicClock.now() + timeoutNanoseconds
        var due = tickTime(tick)
        if due > deadline {
            MonotonicClock.sleep(until: deadline)
            return false
        }
        MonotonicClock.sleep(until: due)
        // Like a camera, skip the ticks that passed while nobody was asking.
        let now = MonotonicClock.now()
        while tickTime(tick + 1) <= now {
            tick += 1
            due = tickTime(tick)
        }
        let bytes = format.byteCount
        let index = TestPatternSource.loopIndex(sequence: tick, loopFrames: loopFrames)
        let frame = UnsafeRawBufferPointer(rebasing: frames[index * bytes..<(index + 1) * bytes])
        try body(LentFrame(format: format, timestamp: due, sequence: tick, bytes: frame))
        tick += 1
        return true
    }

    public func close() {}
}
