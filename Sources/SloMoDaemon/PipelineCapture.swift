import Foundation
import Logging
import SloMoCore
import SloMoInterp
import SloMoV4L2

/// The capture thread: takes frames from the source into pool buffers and the capture queue.
/// Frames in another format than the pipeline's (after a source change: an HDMI input's new
/// timings) are fitted into it on the GPU (`FrameFitter`), so the engine and every consumer keep
/// the format they started with. The fitter's shaders are compiled at start (`Pipeline.init`),
/// so making one here, on the first frame of a new format, costs only its buffers and one
/// recording, not a shader build that would freeze the picture for seconds.
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
                    guard frame.bytes.count >= frame.format.byteCount else { return }
                    if frame.format == format {
                        if fitter != nil { logger.notice("the source sends \(Pipeline.describe(format)) again") }
                        fitter = nil
                    } else if fitter?.input != frame.format {
                        let made = try FrameFitter(context: context, input: frame.format, output: format)
                        let g = made.geometry
                        logger.notice("the source now sends \(Pipeline.describe(frame.format)), fitted into \(Pipeline.describe(format)) at \(g.x),\(g.y) size \(g.width)x\(g.height)")
                        fitter = made
                    }
                    state.lock()
                    stats.inputFormat = frame.format
                    stats.sourceChanges = source.sourceChanges
                    let buffer = pool.acquire()
                    if buffer == nil { stats.droppedInput += 1 }
                    state.unlock()
                    guard let buffer else { return }
                    var imported = false
                    if let fitter {
                        do { try fitter.fit(frame.bytes, into: pool[buffer]) } catch {
                            state.withLock { pool.release(buffer) }
                            throw error
                        }
                    } else {
                        imported = copyOnDevice(frame, into: buffer)
                        if !imported { pool[buffer].copyMemory(from: UnsafeRawBufferPointer(rebasing: frame.bytes[..<format.byteCount])) }
                    }
                    state.lock()
                    if inputQueue.count >= Pipeline.inputQueueLimit {
                        // The engine is behind: drop the oldest, so what it works on stays fresh.
                        pool.release(inputQueue.removeFirst().buffer)
                        stats.droppedInput += 1
                    }
                    inputQueue.append(InputFrame(buffer: buffer, timestamp: frame.timestamp, sequence: frame.sequence))
                    stats.captured += 1
                    if imported { stats.importedFrames += 1 }
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

    /// Copies a frame the source lends as a dma-buf into pool buffer `buffer` on the device; false
    /// where it cannot (no dma-buf, no importer), and for good after an import fails (a driver
    /// whose buffers the device cannot map), so the caller copies it on the CPU.
    private func copyOnDevice(_ frame: LentFrame, into buffer: Int) -> Bool {
        guard let slice = frame.dmaBuf, let importer else { return false }
        do {
            try importer.copy(slice, byteCount: format.byteCount, into: pool.frame(buffer))
        } catch {
            logger.warning("cannot import the capture buffers as dma-bufs (\(error)); copying frames on the CPU")
            self.importer = nil
            return false
        }
        return true
    }

    static func describe(_ format: FrameFormat) -> String {
        "\(format.width)x\(format.height) \(format.pixelFormat.rawValue)"
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
