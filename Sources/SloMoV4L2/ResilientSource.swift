import SloMoCore
import SloMoLinux

/// Keeps a capture source going across unplugs, driver errors and stalls, so that the daemon
/// never has to exit for them (ustreamer's approach): on a transient failure it closes
/// everything, reports "no signal" once through `onSignalChange`, and reopens with
/// exponential backoff until the device is back. While the signal is lost `next` returns
/// false after its timeout, as on a quiet stream, and `signal` tells the two apart.
public final class ResilientSource: FrameSource {
    public enum Signal: Equatable {
        case present
        case lost(CaptureError)
    }

    public struct Backoff: Equatable, Sendable {
        public var initialNanoseconds: UInt64
        public var maximumNanoseconds: UInt64
        public init(initialNanoseconds: UInt64 = 250_000_000, maximumNanoseconds: UInt64 = 2_000_000_000) {
            self.initialNanoseconds = initialNanoseconds
            self.maximumNanoseconds = maximumNanoseconds
        }
    }

    public let source: FrameSource
    public let backoff: Backoff
    public private(set) var signal: Signal = .lost(.noDevice(path: "(not opened)"))
    /// Successful reopens after a loss, and attempts that failed (the device still away).
    public private(set) var recoveries = 0
    public private(set) var failedReopens = 0
    /// Called on every change of `signal`, from the thread calling `next` or `open`.
    public var onSignalChange: ((Signal) -> Void)?

    private let fallbackFormat: FrameFormat
    private let fallbackRate: Rational
    private var openedOnce = false
    private var reported = false
    private var nextAttempt: UInt64 = 0
    private var delay: UInt64

    /// `fallbackFormat` and `fallbackRate` stand for the source until it first opens, so a
    /// daemon started while the device is unplugged can still set up its pipeline.
    public init(_ source: FrameSource, fallbackFormat: FrameFormat, fallbackRate: Rational, backoff: Backoff = Backoff()) {
        self.source = source
        self.fallbackFormat = fallbackFormat
        self.fallbackRate = fallbackRate
        self.backoff = backoff
        delay = backoff.initialNanoseconds
    }

    /// The source's format once it has opened, the fallback before. After a reopen the device
    /// may deliver another format: each `LentFrame` carries its own.
    public var format: FrameFormat { openedOnce ? source.format : fallbackFormat }
    public var frameRate: Rational { openedOnce ? source.frameRate : fallbackRate }

    /// Opens the source. A missing or failing device is not an error here (the source starts
    /// without signal and keeps trying); a device that can never work as configured is.
    public func open() throws {
        do {
            try source.open()
            openedOnce = true
            change(to: .present)
        } catch let error as CaptureError where error.isTransient {
            lose(error, at: Sys.monotonicNow())
        }
    }

    public func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        let deadline = Sys.monotonicNow() &+ timeoutNanoseconds
        while true {
            let now = Sys.monotonicNow()
            if signal != .present {
                if now >= nextAttempt { reopen(at: now) }
                if signal != .present {
                    let wake = min(deadline, nextAttempt)
                    if wake > now { Sys.sleep(untilMonotonic: wake) }
                    if Sys.monotonicNow() >= deadline { return false }
                    continue
                }
            }
            var bodyFailed = false
            do {
                return try source.next(timeoutNanoseconds: deadline > now ? deadline - now : 0) { frame in
                    do { try body(frame) } catch {
                        bodyFailed = true
                        throw error
                    }
                }
            } catch let error as CaptureError where !bodyFailed {
                source.close()
                lose(error, at: Sys.monotonicNow())
            }
        }
    }

    public func close() {
        source.close()
    }

    public func pause() throws {
        guard signal == .present else { return }
        do { try source.pause() } catch let error as CaptureError {
            source.close()
            lose(error, at: Sys.monotonicNow())
        }
    }

    public var timestampMeaning: CaptureTimestamp { source.timestampMeaning }
    public var drainedFrames: Int { source.drainedFrames }
    public var sourceChanges: Int { source.sourceChanges }

    private func reopen(at now: UInt64) {
        do {
            try source.open()
            openedOnce = true
            recoveries += 1
            delay = backoff.initialNanoseconds
            change(to: .present)
        } catch {
            // Whatever the device says while it comes back, keep trying: the daemon must not exit.
            source.close()
            failedReopens += 1
            nextAttempt = now + delay
            delay = min(delay * 2, backoff.maximumNanoseconds)
            if let error = error as? CaptureError { change(to: .lost(error)) }
        }
    }

    private func lose(_ error: CaptureError, at now: UInt64) {
        delay = backoff.initialNanoseconds
        nextAttempt = now + delay
        change(to: .lost(error))
    }

    /// Reports each loss and each return once, not every failed retry.
    private func change(to new: Signal) {
        let flipped = (new == .present) != (signal == .present)
        signal = new
        if flipped || !reported {
            reported = true
            onSignalChange?(new)
        }
    }
}
