import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// The output thread: shows each slot at its time, or the last frame again while the input is quiet.
extension Pipeline {
    func outputLoop() {
        var consecutiveErrors = 0
        // A new output rate that rode on a slot the clock dropped: set with the next frame written.
        var droppedRate: Rational?
        while true {
            state.lock()
            beat(2)
            var hold = holdTime()
            while slots.isEmpty && !(outputStopping || failure != nil) && hold.map({ $0 > MonotonicClock.now() }) ?? true {
                // Wake for a held frame as for a slot (an enqueue broadcasts).
                let now = MonotonicClock.now()
                let wait = hold.map { $0 > now ? Double($0 - now) / 1e9 : 0 } ?? 0.1
                _ = state.wait(until: Date(timeIntervalSinceNow: min(0.1, wait)))
                beat(2)
                hold = holdTime()
            }
            let now = MonotonicClock.now()
            let holding = hold.map { $0 <= now } ?? false
            guard failure == nil, !slots.isEmpty || holding else {
                state.unlock()
                break
            }
            // What to show: the due slot, else (no slot for a while) the last frame again.
            let slot: ScheduledSlot?
            let content: Int
            if let front = slots.first, front.time <= now {
                slots.removeFirst()
                // Dropped when behind (a later slot is already due: skip this one rather than fall
                // further behind), or when its turn is taken (the last frame was shown again in it,
                // the slot being late).
                if slots.first.map({ $0.time <= now }) ?? false || front.time <= lastShownTime {
                    droppedRate = front.newRate ?? droppedRate
                    release(front)
                    stats.droppedSlots += 1
                    state.unlock()
                    continue
                }
                content = front.synthesised ?? front.real
                if front.isIntermediate {
                    if front.synthesised != nil {
                        stats.synthesised += 1
                    } else {
                        stats.repeated += 1
                        if front.pending { stats.late += 1 }
                    }
                }
                pool.retain(content)
                if let lastDelivered { pool.release(lastDelivered) }
                lastDelivered = content
                lastShownTime = front.time
                slot = front
            } else if let hold, holding, let last = lastDelivered {
                // Only this thread replaces the last frame, so it stays valid through the write.
                content = last
                // In the turn it stands for; late by more than an interval (the sink blocked, the
                // thread starved), from now on instead, not in a burst.
                let turn = hold - holdTolerance(outputInterval)
                lastShownTime = now - turn > outputInterval ? now : turn
                slot = nil
            } else {
                state.unlock()
                // Short naps, so a stop or a rescheduled queue is noticed.
                MonotonicClock.sleep(until: min(slots.first?.time ?? .max, hold ?? .max, now + 20_000_000))
                continue
            }
            if let previous = lastDeliveryStart { maxGap = max(maxGap, now - previous) }
            lastDeliveryStart = now
            let presented = lastShownTime
            state.unlock()

            do {
                if let rate = slot?.newRate ?? droppedRate {
                    try sink.setFrameRate(rate)
                    droppedRate = nil
                }
                try sink.write(UnsafeRawBufferPointer(pool[content]), timestamp: presented)
                consecutiveErrors = 0
            } catch {
                consecutiveErrors += 1
                if consecutiveErrors == 1 { logger.error("output failed: \(error)") }
                if consecutiveErrors >= 50 { fail(PipelineError.sinkFailing("\(error)")) }
            }
            let done = MonotonicClock.now()
            state.lock()
            if consecutiveErrors == 0 {
                stats.delivered += 1
                if let slot {
                    latency.record(nanoseconds: done - slot.instant)
                } else {
                    // A held frame shows no new instant: it has no latency to measure.
                    stats.held += 1
                }
            } else {
                stats.outputErrors += 1
            }
            if let slot { release(slot) }
            state.unlock()
        }
        state.lock()
        heartbeats[2] = .max
        state.broadcast()
        state.unlock()
    }

    /// The output's frame interval now, in nanoseconds. Called under the lock.
    var outputInterval: UInt64 { UInt64(1e9 / stats.outputRate.doubleValue) }

    /// When to show the last frame again, or nil: when the next turn (one output interval after
    /// the last frame shown) is `holdTolerance` overdue and no slot is queued for it. Never before
    /// the first slot or once stopping (the output then only drains its queue). Called under the lock.
    func holdTime() -> UInt64? {
        guard !captureStopping, lastDelivered != nil else { return nil }
        let interval = outputInterval
        let turn = lastShownTime + interval
        // A slot due by then is shown in its own time instead.
        if let front = slots.first, front.time < turn + interval / 2 { return nil }
        return turn + holdTolerance(interval)
    }

    func holdTolerance(_ interval: UInt64) -> UInt64 {
        UInt64(Double(interval) * Pipeline.holdTolerance)
    }
}
