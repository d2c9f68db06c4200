import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// The engine thread: schedules every slot of a pair, then synthesises the ones the GPU can still make.
extension Pipeline {
    func engineLoop() {
        while true {
            state.lock()
            beat(1)
            while inputQueue.isEmpty && !engineStopping && failure == nil {
                _ = state.wait(until: Date(timeIntervalSinceNow: 0.1))
                beat(1)
            }
            takeDeliveredNetwork()
            if inputQueue.isEmpty || failure != nil {
                state.unlock()
                break
            }
            let frame = inputQueue.removeFirst()
            let settings = requested, version = requestedVersion
            state.unlock()
            do {
                if version != appliedVersion || networkArrived {
                    try apply(settings, version: version)
                }
                try process(frame)
            } catch {
                state.lock()
                pool.release(frame.buffer)
                state.unlock()
                fail(error)
            }
        }
        state.lock()
        if let previousFrame { pool.release(previousFrame.buffer) }
        previousFrame = nil
        heartbeats[1] = .max
        state.broadcast()
        state.unlock()
    }

    func apply(_ settings: PipelineSettings, version: Int) throws {
        let ratio = try Pipeline.ratio(for: settings, input: inputRate)
        var ceiling = settings.ceiling
        if let model = settings.neuralSource?.model, neural?.source.model != model {
            // The loader is still building the network (or failed to): run below it meanwhile.
            ceiling = min(ceiling, QualityLevel(mode: .flow, preset: settings.preset))
        }
        let bound = Pipeline.boundDelay(for: settings.latencyBoundMilliseconds)
        let replanning = networkArrived || ratio != appliedRatio || settings.latencyBoundMilliseconds != applied.latencyBoundMilliseconds
            || ceiling != controller.ceiling || settings.adaptive != applied.adaptive
        networkArrived = false
        if replanning {
            controller.configure(ceiling: ceiling, adaptive: settings.adaptive)
            controller.restart(budget: nominalBudget(ratio: ratio, delay: bound))
        }
        if ratio != appliedRatio { pendingRate = ratio.outputRate(input: inputRate) }
        appliedRatio = ratio
        // Grow (never shrink) the pool for the new ratio and delay; allocating here, off the lock,
        // is per settings change, not per frame.
        let capacity = state.withLock { pool.capacity }
        let made = try FramePool.allocate(poolSize(ratio: ratio, budget: settings.latencyBoundMilliseconds) - capacity,
                                          frameBytes: format.byteCount, context: context)
        state.lock()
        pool.add(made)
        stats.ratio = ratio
        stats.outputRate = ratio.outputRate(input: inputRate)
        stats.level = controller.level
        state.unlock()
        if settings.paused != applied.paused || settings.ceiling != applied.ceiling || settings.adaptive != applied.adaptive {
            logger.info("interpolation: \(settings.paused ? "paused (pass-through)" : "\(controller.level)"), adaptive \(settings.adaptive)")
        }
        applied = settings
        appliedVersion = version
        if replanning { replan(ratio: ratio) }
    }

    /// Plans the delay afresh for the current level, ratio and bound (see `LatencyPlanner`); it
    /// takes effect at the next input frame.
    func replan(ratio: SlotRatio) {
        let level = applied.paused ? QualityLevel.repeat : controller.level
        let lead = UInt64(1e9 / inputRate.doubleValue * (1 - 1 / Double(ratio.slots)))
        planner.restart(bound: Pipeline.boundDelay(for: applied.latencyBoundMilliseconds), lead: lead,
                        expectedCost: level == .repeat ? 0 : controller.costs[level]?.milliseconds ?? controller.quickest[level])
        timeline.change(ratio: ratio, delay: planner.delay)
        state.lock()
        stats.delayMilliseconds = Double(planner.delay) / 1e6
        plannedFloor = nil
        plannedNeed = nil
        state.unlock()
    }

    func process(_ frame: InputFrame) throws {
        let arrival = MonotonicClock.now()
        let (real, continuous) = timeline.advance(timestamp: frame.timestamp, sequence: frame.sequence,
                                                  intermediates: &intermediates)
        let level = applied.paused ? QualityLevel.repeat : controller.level
        let interpolating = continuous && level != .repeat && !intermediates.isEmpty

        // Schedule every slot before any GPU work, so the output clock knows about them even if
        // the GPU is late.
        pendingIDs.removeAll(keepingCapacity: true)
        times.removeAll(keepingCapacity: true)
        // Only slots the GPU can still make, even at its quickest, are synthesised. When the
        // engine is behind, the rest show real frames at once: more work for a late pair (a
        // dropped frame doubles its slots) would only put it further behind. (The quickest time,
        // not the running one: a slot skipped measures nothing, so a running cost inflated by
        // one slow pair would never come down again.)
        let ready = arrival + UInt64((controller.quickest[level] ?? 0) * 1e6)
        state.lock()
        if let previous = previousFrame, continuous {
            for slot in intermediates {
                let nearest = slot.fraction <= 0.5 ? previous.buffer : frame.buffer
                let pending = interpolating && times.count < Pipeline.maxSteps && slot.time > ready
                if pending {
                    times.append(Float(slot.fraction))
                    pendingIDs.append(nextSlotID)
                }
                enqueue(ScheduledSlot(id: nextSlotID, time: slot.time, instant: slot.instant, real: nearest, synthesised: nil,
                                      isIntermediate: true, pending: pending, newRate: nil))
            }
        }
        if let real {
            enqueue(ScheduledSlot(id: nextSlotID, time: real.time, instant: real.instant, real: frame.buffer, synthesised: nil,
                                  isIntermediate: false, pending: false, newRate: pendingRate))
            pendingRate = nil
        }
        stats.discontinuities = timeline.discontinuities
        state.broadcast()
        state.unlock()

        let synthesizer = try prepareSynthesizer(for: level, frame: frame, continuous: continuous, interpolating: interpolating)
        if continuous, let firstSlot = intermediates.first, let previous = previousFrame {
            // The GPU's budget for this pair: until its first in-between slot, and at most a frame
            // interval, so that pairs do not pile up. The controller climbs to a level only when
            // its cost fits 85 % of this (`fitFraction`) and leaves it when pairs overrun all of
            // it: hysteresis, so a level whose cost sits near the margin does not flap on every
            // scheduling hiccup (measured: flow/fast at 640×360 averages 22 ms, with bursts past
            // 28 ms, against a 33 ms interval).
            // The controller judges levels against the delay's bound, not the delay in effect:
            // the planner shrinks the delay to what the level needs, and that must not read as
            // the level being too slow.
            let interval = Double(frame.timestamp - previous.timestamp) / Double(frame.sequence - previous.sequence) / 1e6
            let slotDelay = firstSlot.time - firstSlot.instant
            let bound = Pipeline.boundDelay(for: applied.latencyBoundMilliseconds)
            let headroom = Double(bound > slotDelay ? bound - slotDelay : 0) / 1e6
            let budget = min(Double(Int64(firstSlot.time) - Int64(arrival)) / 1e6 + headroom - Pipeline.engineMargin, interval)
            state.lock()
            stats.gpuBudgetMilliseconds = budget
            state.unlock()
            // Repeat pairs are recorded too (as free), so the controller can climb out of repeat;
            // a pair whose slots were all out of reach (the engine was behind) says nothing about
            // the level's cost and is not recorded.
            var measured: (milliseconds: Double, late: Bool)? = level == .repeat ? (0, false) : nil
            if !times.isEmpty {
                measured = try synthesize(with: synthesizer, level: level)
                if measured != nil { plan(readyAfterInstant: Pipeline.elapsed(since: firstSlot.instant, at: MonotonicClock.now())) }
            } else if level == .repeat {
                // Real frames only: the pair is ready when its frame is in, so the delay still has
                // to cover the capture's lag (a camera's delivery), which only these samples teach.
                plan(readyAfterInstant: Pipeline.elapsed(since: firstSlot.instant, at: arrival))
            } else if interpolating, (controller.quickest[level] ?? 0) <= budget {
                // Out of reach: the delay was too short for the engine (or the engine is behind).
                // Not when the level is too slow even for the bound: that is the controller's to
                // leave, and planning for it would swing the delay to the bound and back.
                plan(readyAfterInstant: Pipeline.elapsed(since: firstSlot.instant, at: ready))
            }
            if measured == nil, times.isEmpty, interpolating, let quickest = controller.quickest[level], quickest > budget {
                // Every slot was out of reach because the level itself, at its quickest, is too
                // slow for this budget (not only because the engine was behind): that is an
                // overrun. Otherwise a level the controller climbed to on a forgotten cost (a
                // RIFE pair takes seconds on lavapipe) would never run, never be measured and
                // never be left; this way it steps down again without running a pair.
                measured = (quickest, true)
            }
            // A frame late while the delay is below its bound is the planner's to fix.
            if !applied.paused, let measured,
               let changed = controller.record(milliseconds: measured.milliseconds, late: measured.late && slotDelay >= bound, budget: budget) {
                let cost = times.isEmpty && level != .repeat ? "slots out of reach at its quickest" : "GPU"
                logger.notice("adaptive: now \(changed) (\(cost) \(String(format: "%.1f", measured.milliseconds)) ms for a budget of \(String(format: "%.1f", budget)) ms)")
                state.lock()
                stats.level = changed
                stats.levelChanges += 1
                state.unlock()
                // The new level's pairs teach the planner afresh, from the delay in effect: a
                // probe of a level that will not fit must not move the output.
                planner.forgetSamples()
            }
        }
        state.lock()
        if let previous = previousFrame { pool.release(previous.buffer) }
        state.unlock()
        previousFrame = frame
    }

    /// The time from a captured instant to `time`, 0 if the instant is later: a source's stamp
    /// may lie ahead of this clock (a test source, a driver's schedule), and must not trap.
    static func elapsed(since instant: UInt64, at time: UInt64) -> UInt64 {
        time > instant ? time - instant : 0
    }

    /// Gives the planner one pair's need; a changed delay takes effect at the next input frame.
    func plan(readyAfterInstant sample: UInt64) {
        let previousDelay = planner.delay
        let changed = planner.record(readyAfterInstant: sample)
        if let changed {
            timeline.change(ratio: appliedRatio, delay: changed)
            let need = planner.need.map { "\(String(format: "%g", LatencyPlanner.quantile * 100)) % of pairs ready within \(String(format: "%.1f", Double($0) / 1e6)) ms" }
                ?? "a pair ready after \(String(format: "%.1f", Double(sample) / 1e6)) ms"
            // Small steps are routine (a fraction of a frame interval, unseen); large ones are news.
            let step = changed > previousDelay ? changed - previousDelay : previousDelay - changed
            logger.log(level: step >= 5_000_000 ? .info : .debug, "latency: delay \(String(format: "%.1f", Double(changed) / 1e6)) ms (\(need), + \(String(format: "%g", Double(LatencyPlanner.margin) / 1e6)) ms margin; bound \(String(format: "%.0f", Double(planner.bound) / 1e6)) ms)")
        }
        state.lock()
        if let changed { stats.delayMilliseconds = Double(changed) / 1e6 }
        plannedFloor = planner.median
        plannedNeed = planner.need
        state.unlock()
    }

    /// Runs the GPU for the pending slots and publishes what it made. Returns the GPU time and
    /// whether any frame missed its slot, or nil for a scene cut (the slots show real frames).
    func synthesize(with synthesizer: FrameSynthesizer, level: QualityLevel) throws -> (milliseconds: Double, late: Bool)? {
        let synthesis = try synthesizer.synthesize(times: times)
        if synthesis.sceneCut {
            state.lock()
            stats.sceneCuts += 1
            for id in pendingIDs { if let index = slotIndex(id) { slots[index].pending = false } }
            state.unlock()
            return nil
        }
        var published = 0, late = false
        for (index, id) in pendingIDs.enumerated() {
            if publish(synthesizer.output(index), to: id) { published += 1 } else { late = true }
        }
        state.lock()
        stats.publishedByLevel[level.rawValue] += published
        gpuMillisecondsTotal += synthesis.gpuMilliseconds
        gpuFrames += synthesis.count
        stats.lastGPUMillisecondsPerFrame = synthesis.gpuMilliseconds / Double(synthesis.count)
        state.unlock()
        return (synthesis.gpuMilliseconds, late)
    }

    /// The engine for this pair (a flow interpolator set to the level's mode, or the network),
    /// holding the previous and the new frame.
    func prepareSynthesizer(for level: QualityLevel, frame: InputFrame, continuous: Bool,
                                    interpolating: Bool) throws -> FrameSynthesizer {
        let wanted: Engine
        if level.neuralMode != nil, neural != nil {
            wanted = .neural
        } else if let preset = level.preset {
            wanted = .flow(preset)
        } else if case .flow = active {
            // Blend and repeat run on whichever interpolator holds the frames.
            wanted = active
        } else {
            wanted = .flow(.fast)
        }
        if wanted != active {
            active = wanted
            interpolatorStale = true
        }
        let interpolator: FrameSynthesizer
        // The flow engine reads a pool buffer where the capture put it (the frame's one copy);
        // a network takes a copy into its own input.
        let append: (Int) throws -> Void
        switch active {
        case let .flow(preset):
            guard let flow = interpolators[preset] else { preconditionFailure("an interpolator for every preset") }
            flow.mode = level.flowMode ?? .flow
            interpolator = flow
            append = { try flow.append(resident: self.pool.frame($0)) }
        case .neural:
            guard let neural else { preconditionFailure("the network is loaded before a neural level is used") }
            interpolator = neural.synthesizer
            append = { try neural.synthesizer.append(UnsafeRawBufferPointer(self.pool[$0])) }
        }
        if !interpolating {
            // Repeat-only pairs skip the GPU entirely: appending would ingest on it.
            interpolatorStale = true
            return interpolator
        }
        if interpolatorStale || !continuous {
            interpolator.reset()
            if let previous = previousFrame, continuous { try append(previous.buffer) }
            interpolatorStale = false
        }
        try append(frame.buffer)
        return interpolator
    }
}
