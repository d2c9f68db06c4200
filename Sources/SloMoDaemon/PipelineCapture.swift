import Foundation
import Logging
import SloMoCore
import SloMoV4L2

/// The capture thread: takes frames from the source into pool buffers and the capture queue.
/// A camera that fails, vanishes or goes quiet is `ResilientSource`'s to reopen (the one
/// reconnect path, with backoff); an error that reaches this loop is one no reopen can mend, and
/// stops the pipeline.
extension Pipeline {
    func captureLoop() {
        while true {
            state.lock()
            beat(0)
            let stopping = captureStopping || failure != nil
            state.unlock()
            if stopping { break }
            do {
                _ = try source.next(timeoutNanoseconds: 100_000_000) { frame in
                    guard frame.format == format, frame.bytes.count >= format.byteCount else {
                        throw PipelineError.formatChanged(format, frame.format)
                    }
                    state.lock()
                    let buffer = pool.acquire()
                    if buffer == nil { stats.droppedInput += 1 }
                    state.unlock()
                    guard let buffer else { return }
                    pool[buffer].copyMemory(from: UnsafeRawBufferPointer(rebasing: frame.bytes[..<format.byteCount]))
                    state.lock()
                    if inputQueue.count >= Pipeline.inputQueueLimit {
                        // The engine is behind: drop the oldest, so what it works on stays fresh.
                        pool.release(inputQueue.removeFirst().buffer)
                        stats.droppedInput += 1
                    }
                    inputQueue.append(InputFrame(buffer: buffer, timestamp: frame.timestamp, sequence: frame.sequence))
                    stats.captured += 1
                    stats.signalLost = nil
                    stats.timestamp = source.timestampMeaning
                    stats.drainedInput = source.drainedFrames
                    state.broadcast()
                    state.unlock()
                }
            } catch {
                fail(error)
            }
        }
        state.lock()
        heartbeats[0] = .max
        state.broadcast()
        state.unlock()
    }

    /// Follows a resilient source's signal: each loss counts as a capture error and shows in
    /// `status` until frames arrive again. From the capture thread (inside `next` or `open`).
    func watchSignal(of source: FrameSource) {
        guard let resilient = source as? ResilientSource else { return }
        if case let .lost(error) = resilient.signal {
            // Absent since the start: the warm-up runs on grey and the source keeps trying.
            stats.captureErrors += 1
            stats.signalLost = "\(error)"
            logger.error("no signal from the camera at start: \(error); reopening with backoff")
        }
        resilient.onSignalChange = { [weak self] signal in
            guard let self else { return }
            switch signal {
            case let .lost(error):
                state.withLock {
                    self.stats.captureErrors += 1
                    self.stats.signalLost = "\(error)"
                }
                logger.error("capture lost: \(error); reopening with backoff")
            case .present:
                let wasLost = state.withLock { () -> Bool in
                    defer { self.stats.signalLost = nil }
                    return self.stats.signalLost != nil
                }
                if wasLost { logger.notice("capture reopened") }
            }
        }
    }
}
