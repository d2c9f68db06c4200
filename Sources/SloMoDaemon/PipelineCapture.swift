import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// The capture thread: takes frames from the source into pool buffers and the capture queue.
extension Pipeline {
    func captureLoop() {
        var loggedError = false
        // After a failure the source stays closed until a reopen succeeds: `next` needs it open.
        var closed = false
        while true {
            state.lock()
            beat(0)
            let stopping = captureStopping || failure != nil
            state.unlock()
            if stopping { break }
            do {
                if closed {
                    try source.open()
                    closed = false
                    if source.format != format { fail(PipelineError.formatChanged(format, source.format)) }
                    logger.notice("capture reopened")
                    continue
                }
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
                    state.broadcast()
                    state.unlock()
                }
                loggedError = false
            } catch let error as PipelineError {
                fail(error)
            } catch {
                // The device failed, vanished or went quiet (or is still away): say so once, then
                // try to reopen it every second.
                state.lock()
                stats.captureErrors += 1
                stats.signalLost = "\(error)"
                state.unlock()
                if !loggedError { logger.error("capture failed, reopening every second: \(error)") }
                loggedError = true
                source.close()
                closed = true
                MonotonicClock.sleep(until: MonotonicClock.now() + 1_000_000_000)
            }
        }
        state.lock()
        heartbeats[0] = .max
        state.broadcast()
        state.unlock()
    }
}
