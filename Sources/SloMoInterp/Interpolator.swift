import Foundation
import SloMoCore
import SloMoGPU

/// Turns a stream of frames into intermediate frames on the GPU.
///
/// Frames are appended one at a time; `synthesize(times:)` makes frames at times t in (0, 1) between
/// the last two. The frame path creates no Vulkan objects: buffers live in two arenas made at
/// init, and each kind of submission is recorded once and replayed.
public final class Interpolator: FrameSynthesizer {
    public static let maxStepsLimit = 16
    /// color.glsl's internal word: Y, Cb, Cr in 12, 10 and 10 bits, fixed point over `low ..< low + span`.
    static let internalLow = SIMD3<Float>(-0.08, -0.58, -0.58)
    static let internalSpan = SIMD3<Float>(1.18, 1.16, 1.16)
    static let internalLevels = SIMD3<Float>(4095, 1023, 1023)
    /// Intensity step (0...1) across which flow smoothness halves in the variational refinement.
    static let edgeScale: Float = 0.04

    public let format: FrameFormat
    public let preset: FlowPreset
    public let plan: FlowPlan
    public let maxSteps: Int
    public var mode: InterpolationMode = .flow
    /// When set, flow and visibility pictures replace synthesised frames.
    public var visualization: Visualization?
    /// Forward–backward inconsistency (pixels², beyond Sundaram's tolerance) at which a frame's
    /// visibility weight halves where the two warps disagree. Measured on bikes: stronger occlusion
    /// weighting (smaller values) costs PSNR, because Super SloMo's linear intermediate flows are
    /// least accurate exactly at motion boundaries; this keeps it to clear occlusions.
    public var occlusionSigma: Float = 64
    public var sceneCuts = SceneCutDetector()
    /// Times every dispatch (set before the first frame); `lastProfile` then says where time goes.
    public var profiling = false
    /// Bytes of device and host memory this interpolator holds.
    public var memory: (device: Int, host: Int) { (deviceArena.byteCount, hostArena.byteCount) }

    private let context: GPUContext
    private let deviceArena: BufferArena
    private let hostArena: BufferArena
    private let frames: GPUBuffer, pyramids: GPUBuffer, flow: GPUBuffer, patches: GPUBuffer, consistency: GPUBuffer, linear: GPUBuffer
    /// The patches after spatial propagation (a placeholder when the preset has none), and the
    /// search's cost at each patch, where propagation starts.
    private let propagated: GPUBuffer, patchCosts: GPUBuffer
    /// Per time step at the finest flow level: flow_project.comp's keys, and the intermediate flows.
    private let projectionKeys: GPUBuffer, intermediate: GPUBuffer
    private let staging: GPUBuffer, outputs: GPUBuffer, params: GPUBuffer
    /// Device-local copies of the host-visible buffers the shaders touch. On a discrete GPU host-visible
    /// memory lies across PCIe, where shaders reading input bytes and writing output bytes cost more than
    /// the synthesis itself (H200, 1080p ×2: a blend took 2.9 ms); copy commands move whole frames instead.
    private struct DeviceMirrors { let input: GPUBuffer, outputs: GPUBuffer, params: GPUBuffer }
    private let mirrors: DeviceMirrors?
    private let frameBytes: Int
    private let firstPlane: PlaneLayout
    private let slotStride: Int
    private var sequences: [SequenceKey: GPUSequence] = [:]
    private var thumbnails: [LumaThumbnail?] = [nil, nil]
    /// Where each slot's frame lies: in `staging`, or where `append(resident:)` found it.
    private var inputs: [HostFrame?] = [nil, nil]
    /// `params` holds the times (16 floats), the warm-start flag, then each slot's input offset.
    private static let warmStartByte = 64, inputOffsetsByte = 68
    private var lastSequence: GPUSequence?

    /// Slot of the newest frame; the one before it is in the other slot.
    private var newest = 1
    private var appended = 0
    private var ingestPending = false
    private var lastPairHadFlow = false
    private var lastOutcome: (repeatFrom: [Int]?, steps: Int) = (nil, 0)

    private struct SequenceKey: Hashable {
        enum Work: Hashable { case ingest, blend, flow, visualize(Visualization) }
        var slot: Int
        var work: Work
        var steps: Int
        /// The buffer the slot's frame is unpacked from (its offset is a parameter).
        var input: GPUBuffer
    }

    public convenience init(context: GPUContext, format: FrameFormat, preset: FlowPreset = .quality, maxSteps: Int = 15) throws {
        try self.init(context: context, format: format, preset: preset, parameters: preset.parameters, maxSteps: maxSteps)
    }

    /// A preset with some of its parameters changed (tests compare variants against the reference);
    /// `deviceMirrors` forces the copies through device-local memory on or off (default: on discrete GPUs).
    init(context: GPUContext, format: FrameFormat, preset: FlowPreset, parameters: FlowParameters, maxSteps: Int,
         deviceMirrors: Bool? = nil) throws {
        precondition((1...Interpolator.maxStepsLimit).contains(maxSteps), "maxSteps must be 1...\(Interpolator.maxStepsLimit)")
        precondition(format.width >= 2 && format.height >= 2, "frames must be at least 2×2")
        self.context = context
        self.format = format
        self.preset = preset
        self.maxSteps = maxSteps
        plan = FlowPlan(width: format.width, height: format.height, parameters: parameters)
        frameBytes = format.byteCount
        firstPlane = format.pixelFormat.planes(width: format.width, height: format.height)[0]
        // Slots start on 16-byte boundaries so a slot is a valid place to read words from.
        slotStride = (frameBytes + 15) / 16 * 16
        let pixels = format.width * format.height
        let finest = plan.levels[plan.finest]
        let mirrored = deviceMirrors ?? (context.info.kind == .discrete)
        deviceArena = BufferArena(context: context, placement: .device)
        let device = try deviceArena.allocate([
            ("frames", 2 * pixels * 4),
            ("pyramids", 2 * plan.pyramidSize * 4),
            ("flow", plan.flowSize * 8),
            ("patches", plan.patchSize * 8),
            ("consistency", 2 * finest.width * finest.height * 4),
            // Only the variational refinement uses the linearisation (the fast preset has none).
            ("linearisation", parameters.refinements > 0 ? 2 * finest.width * finest.height * 16 : 16),
            ("propagated", parameters.propagationIterations != nil ? plan.patchSize * 8 : 16),
            ("patch costs", plan.patchSize * 16),
            ("projection keys", maxSteps * finest.width * finest.height * 4),
            ("intermediate flows", maxSteps * finest.width * finest.height * 16),
        ] + (mirrored ? [
            ("input", 2 * slotStride),
            ("outputs", maxSteps * slotStride),
            ("params", 80),
        ] : []))
        (frames, pyramids, flow, patches, consistency, linear) = (device[0], device[1], device[2], device[3], device[4], device[5])
        (propagated, patchCosts, projectionKeys, intermediate) = (device[6], device[7], device[8], device[9])
        mirrors = mirrored ? DeviceMirrors(input: device[10], outputs: device[11], params: device[12]) : nil
        hostArena = BufferArena(context: context, placement: .host)
        let host = try hostArena.allocate([
            ("staging", 2 * slotStride),
            ("outputs", maxSteps * slotStride),
            ("params", 80),
        ])
        (staging, outputs, params) = (host[0], host[1], host[2])
        precondition(plan.projectionIndexBits <= 28, "flow too large for projection keys")
    }

    // MARK: - Input

    /// Lets `fill` write the next frame straight into GPU-visible memory (no copy).
    /// Returns false, appending nothing, when `fill` does.
    public func append(_ fill: (UnsafeMutableRawBufferPointer) throws -> Bool) throws -> Bool {
        if ingestPending { try ingest() }
        let slot = 1 - newest
        let target = HostFrame(buffer: staging, offset: slot * slotStride, byteCount: frameBytes)
        guard try fill(target.bytes) else { return false }
        take(target, into: slot)
        return true
    }

    /// Appends a frame that already lies in host-visible GPU memory (the daemon's frame pool),
    /// unpacking it from there: no copy on a device that reads host memory where it lies (lavapipe,
    /// integrated GPUs). A discrete GPU takes frames through `append(_:)` into its staging, from
    /// where one transfer moves them to device memory. The frame must stay unchanged until the
    /// next `synthesize`, or, when two frames are appended without one, the next `append`; it is
    /// also what `output` returns for a repeated frame.
    public func append(resident frame: HostFrame) throws {
        precondition(frame.byteCount >= frameBytes, "a frame has \(frameBytes) bytes")
        if mirrors != nil {
            try append(UnsafeRawBufferPointer(frame.bytes))
            return
        }
        if ingestPending { try ingest() }
        take(frame, into: 1 - newest)
    }

    private func take(_ frame: HostFrame, into slot: Int) {
        inputs[slot] = frame
        (params.contents! + Interpolator.inputOffsetsByte + 4 * slot).storeBytes(of: UInt32(frame.offset), as: UInt32.self)
        newest = slot
        appended += 1
        ingestPending = true
        let bytes = UnsafeRawBufferPointer(frame.bytes)
        if thumbnails[slot] == nil {
            thumbnails[slot] = LumaThumbnail(frame: bytes, format: format)
        } else {
            thumbnails[slot]!.update(frame: bytes, format: format, plane: firstPlane)
        }
    }

    /// Forgets the previous frame, so the next pair starts without a warm start (after a seek or a gap).
    public func reset() {
        lastPairHadFlow = false
        appended = 0
    }

    // MARK: - Synthesis

    /// Makes one frame for each t in `times` (each in (0, 1)) between the last two appended frames.
    @discardableResult
    public func synthesize(times: [Float]) throws -> Synthesis {
        precondition(appended >= 2, "synthesis needs two frames")
        precondition(!times.isEmpty && times.count <= maxSteps, "1...\(maxSteps) times per pair")
        precondition(times.allSatisfy { $0 > 0 && $0 < 1 }, "times lie in (0, 1)")
        let cut = visualization == nil && sceneCuts.isCut(thumbnails[1 - newest], thumbnails[newest])
        let work: SequenceKey.Work
        if let visualization {
            work = .visualize(visualization)
        } else if cut || mode == .repeat {
            if ingestPending { try ingest() }
            // The nearest real frame, straight from the input slots.
            lastOutcome = (times.map { $0 <= 0.5 ? 1 - newest : newest }, times.count)
            lastPairHadFlow = false
            return Synthesis(count: times.count, sceneCut: cut, gpuMilliseconds: 0)
        } else {
            work = mode == .blend ? .blend : .flow
        }
        let writesFlow = work != .blend
        let parameterWords = params.contents!.bindMemory(to: Float.self, capacity: 20)
        for (index, t) in times.enumerated() { parameterWords[index] = t }
        (params.contents! + Interpolator.warmStartByte).storeBytes(of: Int32(writesFlow && lastPairHadFlow ? 1 : 0), as: Int32.self)
        let sequence = try self.sequence(SequenceKey(slot: newest, work: work, steps: times.count, input: inputs[newest]!.buffer))
        let start = DispatchTime.now().uptimeNanoseconds
        try sequence.run()
        lastSequence = sequence
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        ingestPending = false
        lastPairHadFlow = writesFlow
        lastOutcome = (nil, times.count)
        return Synthesis(count: times.count, sceneCut: false, gpuMilliseconds: elapsed)
    }

    /// GPU milliseconds per shader in the last synthesis, summed over its dispatches (needs `profiling`).
    public func lastProfile() throws -> [(stage: String, milliseconds: Double)] {
        var totals: [(stage: String, milliseconds: Double)] = []
        Interpolator.add(try lastSequence?.stageMilliseconds() ?? [], to: &totals)
        return totals
    }

    /// Adds per-stage times to running totals by stage name, keeping the order stages first came in.
    public static func add(_ times: [(stage: String, milliseconds: Double)], to totals: inout [(stage: String, milliseconds: Double)]) {
        for (stage, milliseconds) in times {
            if let index = totals.firstIndex(where: { $0.stage == stage }) { totals[index].milliseconds += milliseconds }
            else { totals.append((stage, milliseconds)) }
        }
    }

    /// Frame `index` of the last synthesis, in the input's format.
    public func output(_ index: Int) -> UnsafeRawBufferPointer {
        precondition(index < lastOutcome.steps, "output \(index) was not synthesised")
        if let repeated = lastOutcome.repeatFrom?[index], let input = inputs[repeated] {
            return UnsafeRawBufferPointer(rebasing: input.bytes[..<frameBytes])
        }
        return UnsafeRawBufferPointer(start: outputs.contents! + index * slotStride, count: frameBytes)
    }

    // MARK: - Recording

    private func ingest() throws {
        try sequence(SequenceKey(slot: newest, work: .ingest, steps: 0, input: inputs[newest]!.buffer)).run()
        ingestPending = false
        lastPairHadFlow = false
    }

    private func sequence(_ key: SequenceKey) throws -> GPUSequence {
        if let recorded = sequences[key] { return recorded }
        let sequence = try GPUSequence(context: context, profiled: profiling)
        try sequence.record { recorder in try self.record(key, into: &recorder) }
        sequences[key] = sequence
        return sequence
    }

    private var colorPush: [PushValue] {
        let (kr, kb) = format.color.coefficients
        let full = format.pixelFormat.isRGB || format.color.range == .full
        return [.int(format.width), .int(format.height), .int(full ? 1 : 0), .float(kr), .float(kb)]
    }

    private var formatConstant: Int32 { Int32(PixelFormat.allCases.firstIndex(of: format.pixelFormat)!) }

    private func record(_ key: SequenceKey, into recorder: inout Recorder) throws {
        let slot = key.slot, previous = 1 - key.slot
        let pixels = format.width * format.height
        let blocks = (x: groups(half(format.width), 8), y: groups(half(format.height), 8))

        // Ingest: unpack the new frame and build its pyramid (unpacking writes the first levels).
        let unpack = try context.pipeline(.unpack, bindings: 4, specialization: [formatConstant])
        let pyramidBase = slot * plan.pyramidSize
        let level1: [PushValue] = plan.coarsest >= 1
            ? [.int(pyramidBase + plan.levels[1].pyramidOffset!), .int(plan.levels[1].width)] : [.int(-1), .int(0)]
        if let mirrors {
            recorder.copy(from: staging, to: mirrors.input, sourceOffset: slot * slotStride, destinationOffset: slot * slotStride,
                          byteCount: frameBytes)
        }
        try recorder.dispatch(unpack, [.read(mirrors?.input ?? key.input), .write(frames), .write(pyramids), .read(self.params)],
                              push: colorPush + [.int(slot), .int(slot * pixels),
                                                 .int(plan.levels[0].pyramidOffset.map { pyramidBase + $0 } ?? -1)] + level1,
                              groups: (groups(format.width, 32), blocks.y, 1))
        // Levels 2 and coarser, from level 1: up to seven levels a dispatch (downsample.comp).
        let downsample = try context.pipeline(.downsample, bindings: 1)
        let maxLevels = 8
        for source in stride(from: 1, to: plan.coarsest, by: maxLevels - 1) {
            let levels = plan.levels[source...min(plan.coarsest, source + maxLevels - 1)]
            func padded(_ values: [Int]) -> [PushValue] { (values + Array(repeating: 0, count: maxLevels - values.count)).map { .int($0) } }
            try recorder.dispatch(downsample, [.readWrite(pyramids)],
                                  push: [.int(levels.count)] + padded(levels.map { pyramidBase + $0.pyramidOffset! })
                                      + padded(levels.map(\.width)) + padded(levels.map(\.height)),
                                  groups: (groups(levels.last!.width, 8), groups(levels.last!.height, 8), 1))
        }
        if key.work == .ingest { return }

        let finest = plan.levels[plan.finest]
        let params = mirrors?.params ?? self.params, outputs = mirrors?.outputs ?? self.outputs
        if let mirrors { recorder.copy(from: self.params, to: mirrors.params) }
        if key.work != .blend {
            try recordFlow(params: params, frame0Slot: previous, frame1Slot: slot, into: &recorder)
            let project = try context.pipeline(.flow_project, bindings: 4)
            let resolve = try context.pipeline(.flow_resolve, bindings: 5, specialization: [Int32(plan.parameters.resolveNeighbours)])
            let levelPush: [PushValue] = [.int(finest.flowOffset!), .int(finest.width), .int(finest.height), .int(plan.projectionIndexBits)]
            let cells = (groups(half(finest.width), 8), groups(half(finest.height), 8), key.steps)
            recorder.fill(projectionKeys, word: ~0, byteCount: key.steps * finest.width * finest.height * 4)
            try recorder.dispatch(project, [.read(flow), .write(consistency), .read(params), .readWrite(projectionKeys)],
                                  push: levelPush + [.float(plan.flowScale), .int(key.steps)], groups: (cells.0, cells.1, 1))
            try recorder.dispatch(resolve, [.read(flow), .read(params), .read(projectionKeys), .write(intermediate), .read(pyramids)],
                                  push: levelPush + [.float(plan.flowScale), .int(previous * plan.pyramidSize + finest.pyramidOffset!),
                                                     .int(slot * plan.pyramidSize + finest.pyramidOffset!)], groups: cells)
        }
        let flowPush: [PushValue] = [.int(finest.width), .int(finest.height), .float(plan.flowScale)]
        switch key.work {
        case .blend, .flow:
            let fuse = try context.pipeline(.fuse, bindings: 5, specialization: [formatConstant, Int32(plan.fusionBlockWidth)])
            try recorder.dispatch(fuse, [.read(frames), .read(intermediate), .read(consistency), .read(params), .write(outputs)],
                                  push: colorPush + [.int(previous * pixels), .int(slot * pixels)] + flowPush
                                      + [.int(slotStride), .int(key.work == .flow ? 1 : 0), .float(occlusionSigma),
                                         .int(format.width % 4 == 0 && format.height % 2 == 0 ? 1 : 0)],
                                  groups: (groups(format.width, 32), blocks.y, key.steps))
        case let .visualize(kind):
            let visualize = try context.pipeline(.visualize, bindings: 4, specialization: [formatConstant])
            let maxMotion = Float(max(format.width, format.height)) / 20
            try recorder.dispatch(visualize, [.read(intermediate), .read(consistency), .read(params), .write(outputs)],
                                  push: colorPush + flowPush
                                      + [.int(slotStride), .int(kind == .flow ? 0 : 1), .float(occlusionSigma), .float(maxMotion)],
                                  groups: (blocks.x, blocks.y, key.steps))
        case .ingest:
            break
        }
        if let mirrors { recorder.copy(from: mirrors.outputs, to: self.outputs, byteCount: key.steps * slotStride) }
    }

    /// Coarse to fine: patch search, then densification, at each level from the coarsest to the finest.
    private func recordFlow(params: GPUBuffer, frame0Slot: Int, frame1Slot: Int, into recorder: inout Recorder) throws {
        let parameters = plan.parameters
        let search = try context.pipeline(.flow_search, bindings: 6, specialization: [Int32(parameters.patchSize)])
        let densify = try context.pipeline(.flow_densify, bindings: 3, specialization: [Int32(parameters.patchSize)])
        let prepare = try context.pipeline(.flow_refine_prepare, bindings: 3)
        let refine = try context.pipeline(.flow_refine, bindings: 3)
        let finest = plan.levels[plan.finest]
        for index in stride(from: plan.coarsest, through: plan.finest, by: -1) {
            let level = plan.levels[index]
            let base0 = frame0Slot * plan.pyramidSize + level.pyramidOffset!
            let base1 = frame1Slot * plan.pyramidSize + level.pyramidOffset!
            // Each level starts from the coarser one; the coarsest from the previous pair's result.
            let initPush: [PushValue]
            if index == plan.coarsest {
                initPush = [.int(finest.flowOffset!), .int(finest.width), .int(finest.height),
                            .float(Float(level.width) / Float(finest.width)), .int(1)]
            } else {
                let coarser = plan.levels[index + 1]
                initPush = [.int(coarser.flowOffset!), .int(coarser.width), .int(coarser.height),
                            .float(Float(level.width) / Float(coarser.width)), .int(0)]
            }
            // Below the coarsest level the previous pair's flow is a second start (the finest level's flow
            // is only overwritten by its own densification, after every search of this pair).
            let warmPush: [PushValue] = [.int(finest.flowOffset!), .int(index != plan.coarsest ? finest.width : 0), .int(finest.height),
                                         .float(Float(level.width) / Float(finest.width))]
            let grid: [PushValue] = [.int(base0), .int(base1), .int(level.width), .int(level.height),
                                     .int(level.columns), .int(level.rows), .int(parameters.stride)]
            try recorder.dispatch(search, [.read(pyramids), .read(flow), .write(patches), .read(params), .read(propagated), .write(patchCosts)],
                                  push: grid + [.int(parameters.iterations)] + initPush + [.int(0)] + warmPush,
                                  groups: (groups(level.columns * level.rows, 64), 2, 1))
            var found = patches
            if let iterations = parameters.propagationIterations {
                try recorder.dispatch(search, [.read(pyramids), .read(flow), .write(propagated), .read(params), .read(patches), .read(patchCosts)],
                                      push: grid + [.int(iterations)] + initPush + [.int(1)] + warmPush,
                                      groups: (groups(level.columns * level.rows, 64), 2, 1), label: "flow_propagate")
                found = propagated
            }
            try recorder.dispatch(densify, [.read(pyramids), .read(found), .write(flow)],
                                  push: grid + [.int(level.flowOffset!)],
                                  groups: (groups(half(level.width), 8), groups(half(level.height), 8), 2))
            let levelPush: [PushValue] = [.int(base0), .int(base1), .int(level.width), .int(level.height), .int(level.flowOffset!)]
            for _ in 0..<parameters.refinements {
                try recorder.dispatch(prepare, [.read(pyramids), .read(flow), .write(linear)], push: levelPush,
                                      groups: (groups(half(level.width), 8), groups(half(level.height), 8), 2))
                for _ in 0..<parameters.sweeps {
                    for parity in 0..<2 {
                        try recorder.dispatch(refine, [.read(pyramids), .readWrite(flow), .read(linear)],
                                              push: levelPush + [.int(parity), .float(parameters.smoothness), .float(Self.edgeScale)],
                                              groups: (groups(half(level.width), 8), groups(half(level.height), 8), 2))
                    }
                }
            }
        }
    }

    private func half(_ n: Int) -> Int { (n + 1) / 2 }
    private func groups(_ n: Int, _ size: Int) -> Int { (n + size - 1) / size }
}

extension Interpolator {
    /// The engine's working buffers, for tests that check each stage against the CPU reference.
    enum Stage { case frames, pyramids, flow, patches, propagated, consistency, intermediate }

    /// Copies a working buffer to the host. Creates Vulkan objects, so it is kept off the frame path.
    func read(_ stage: Stage) throws -> [Float] {
        let buffer: GPUBuffer
        switch stage {
        case .frames: buffer = frames
        case .pyramids: buffer = pyramids
        case .flow: buffer = flow
        case .patches: buffer = patches
        case .propagated: buffer = propagated
        case .consistency: buffer = consistency
        case .intermediate: buffer = intermediate
        }
        let arena = BufferArena(context: context, placement: .host)
        let host = try arena.allocate([("readback", buffer.byteCount)])[0]
        let sequence = try GPUSequence(context: context)
        try sequence.record { $0.copy(from: buffer, to: host) }
        try sequence.run()
        if stage == .frames {
            // Y, Cb, Cr of each pixel from its word (color.glsl's packInternal), and a zero.
            let words = UnsafeBufferPointer(start: host.contents!.bindMemory(to: UInt32.self, capacity: buffer.byteCount / 4),
                                            count: buffer.byteCount / 4)
            return words.flatMap { word -> [Float] in
                let q = SIMD3<Float>(Float(word & 4095), Float((word >> 12) & 1023), Float(word >> 22))
                let ycc = q * (Self.internalSpan / Self.internalLevels) + Self.internalLow
                return [ycc.x, ycc.y, ycc.z, 0]
            }
        }
        return Array(UnsafeBufferPointer(start: host.contents!.bindMemory(to: Float.self, capacity: buffer.byteCount / 4),
                                         count: buffer.byteCount / 4))
    }
}

extension Interpolator {
    /// The last pair's flow at full resolution, in pixels, row by row: from the earlier frame to the later
    /// one (`backward` false) or back. The finest level's field, bilinearly upsampled at pixel centres as
    /// the synthesis samples it. For `slomo flow`, which scores the estimator apart from the fusion.
    public func fullResolutionFlow(backward: Bool = false) throws -> [SIMD2<Float>] {
        precondition(lastPairHadFlow, "the last pair was not synthesised with flow")
        let level = plan.levels[plan.finest], scale = plan.flowScale
        let flow = try read(.flow)
        let start = level.flowOffset! + (backward ? level.width * level.height : 0)
        func at(_ x: Int, _ y: Int) -> SIMD2<Float> {
            let i = (start + min(max(y, 0), level.height - 1) * level.width + min(max(x, 0), level.width - 1)) * 2
            return SIMD2(flow[i], flow[i + 1])
        }
        var field: [SIMD2<Float>] = []
        field.reserveCapacity(format.width * format.height)
        for y in 0..<format.height {
            let gy = (Float(y) + 0.5) / scale - 0.5, y0 = Int(gy.rounded(.down)), fy = gy - Float(y0)
            for x in 0..<format.width {
                let gx = (Float(x) + 0.5) / scale - 0.5, x0 = Int(gx.rounded(.down)), fx = gx - Float(x0)
                let top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
                let bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
                field.append((top * (1 - fy) + bottom * fy) * scale)
            }
        }
        return field
    }
}
