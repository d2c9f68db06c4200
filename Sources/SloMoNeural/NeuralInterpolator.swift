import Foundation
import SloMoCore
import SloMoGPU

/// Makes intermediate frames with a neural network on the GPU, behind the same `FrameSynthesizer`
/// contract as the flow engine, so the converter and the daemon drive either.
///
/// Each packed input frame is converted on the GPU, in float and straight from its samples, into the
/// network's zero-padded tensor in its channel order; outputs go back through the flow engine's own
/// colour and packing code. Across a scene cut every slot repeats its nearest real frame, as the engine does.
///
/// The network's description says how it handles time. One that takes t (Super SloMo, RIFE 4.25)
/// runs its per-pair part (Super SloMo's flow U-Net, RIFE 4.25's Head) once per pair and the rest
/// once per time, at the exact times asked for (×3, ×5, 30 → 50 fps included). One that makes only
/// the midpoint (RIFE HD v3) has its times made by recursive midpoints on a grid of eighths: t = 1/2
/// from the pair, 1/4 and 3/4 from the pair and that middle frame, 1/8 … 7/8 one level further. ×2,
/// ×4 and ×8 get their exact times; any other t takes the nearest eighth (×3's 1/3 and 2/3 become
/// 3/8 and 5/8), and only the midpoints a call needs are computed.
/// The frame path creates no Vulkan objects: buffers are planned at init, and each distinct set of
/// grid points, or each count of times (the times themselves are written to a buffer before the
/// run), is recorded once into a sequence and replayed.
public final class NeuralInterpolator: FrameSynthesizer {
    /// The finest time grid: outputs are made at multiples of 1/gridSteps.
    public static let gridSteps = 8
    public static let maxStepsLimit = 16

    public let format: FrameFormat
    public let maxSteps: Int
    public let model: NeuralModel
    /// The network as it runs on the GPU.
    public let runtime: NeuralRuntime
    /// The network's tensor size: the frame's, padded to a multiple of its alignment.
    public let paddedHeight: Int, paddedWidth: Int
    public var sceneCuts = SceneCutDetector()
    /// Network FLOPs of the last synthesis (convolutions' multiply-adds, two each).
    public private(set) var lastFlops: Double = 0
    /// Times every dispatch on the GPU, for `lastProfile`; set before the first synthesis (sequences
    /// are recorded once).
    public var profiling = false
    public var memory: (device: Int, host: Int) {
        (deviceArena.byteCount + runtime.memory, hostArena.byteCount + runtime.hostMemory)
    }

    private let context: GPUContext
    private let deviceArena: BufferArena
    private let hostArena: BufferArena
    /// Tensors of the two input frames, then for a midpoint network one per point of the time grid
    /// (index k for t = k/8), for one that takes t one that each output passes through on its way to packing.
    private let tensors: GPUBuffer
    private let staging: GPUBuffer, outputs: GPUBuffer
    private let frameBytes: Int, slotStride: Int, tensorFloats: Int
    private let firstPlane: PlaneLayout
    private var thumbnails: [LumaThumbnail?] = [nil, nil]
    /// Recorded sequences by key: a marker bit, the newest frame's slot, then each output's grid
    /// point in 3 bits (points are 1 … 7, never 0, so the key also says how many outputs there are).
    /// A network that takes t reads its times from a buffer, so its key puts a 1 for every output: only the count matters.
    private var sequences: [UInt64: Recorded] = [:]
    private typealias Recorded = (sequence: GPUSequence, flops: Double, flopsByLayer: [String: Double])
    private var lastRecorded: Recorded?
    private var newest = 1
    private var appended = 0
    /// Outputs of the last synthesis, and for a scene cut the input slot each one repeats
    /// (kept across calls so the frame path allocates nothing).
    private var steps = 0
    private var repeatsInput = false
    private var repeatSlots: [Int]

    /// Uploads `network`'s weights and plans every buffer for frames of `format`, up to `maxSteps` outputs per pair.
    /// `precision` is the weights' (nil takes NeuralPrecision.default(for:)); Super SloMo runs in float32.
    public init(context: GPUContext, format: FrameFormat, network: NeuralNetwork, maxSteps: Int = 15,
                precision: NeuralPrecision? = nil) throws {
        precondition(format.width >= 2 && format.height >= 2, "frames must be at least 2×2")
        precondition((1...Self.maxStepsLimit).contains(maxSteps), "maxSteps must be 1...\(Self.maxStepsLimit)")
        self.context = context
        self.format = format
        self.maxSteps = maxSteps
        repeatSlots = [Int](repeating: 0, count: maxSteps)
        model = network.model
        let padded = model.paddedSize(height: format.height, width: format.width)
        runtime = try model.build(network.parameters, NeuralShape(context: context, height: padded.height, width: padded.width,
                                                                  maxTimes: maxSteps, precision: precision))
        let outputTensors = model.time == .midpoints ? Self.gridSteps - 1 : 1
        (paddedHeight, paddedWidth) = padded
        frameBytes = format.byteCount
        firstPlane = format.pixelFormat.planes(width: format.width, height: format.height)[0]
        // Slots start on 16-byte boundaries so a slot is a valid place to read words from.
        slotStride = (frameBytes + 15) / 16 * 16
        tensorFloats = 3 * padded.height * padded.width
        deviceArena = BufferArena(context: context, placement: .device)
        tensors = try deviceArena.allocate([("neural frames", (2 + outputTensors) * tensorFloats * 4)])[0]
        hostArena = BufferArena(context: context, placement: .host)
        let host = try hostArena.allocate([("neural staging", 2 * slotStride), ("neural outputs", maxSteps * slotStride)])
        (staging, outputs) = (host[0], host[1])
    }

    public func append(_ fill: (UnsafeMutableRawBufferPointer) throws -> Bool) throws -> Bool {
        let slot = 1 - newest
        let target = UnsafeMutableRawBufferPointer(start: staging.contents! + slot * slotStride, count: frameBytes)
        guard try fill(target) else { return false }
        newest = slot
        appended += 1
        if thumbnails[slot] == nil {
            thumbnails[slot] = LumaThumbnail(frame: UnsafeRawBufferPointer(target), format: format)
        } else {
            thumbnails[slot]!.update(frame: UnsafeRawBufferPointer(target), format: format, plane: firstPlane)
        }
        return true
    }

    public func reset() {
        appended = 0
    }

    /// The grid point (1 … 7 eighths) that stands for time t.
    static func gridPoint(_ t: Float) -> Int {
        min(max(Int((t * Float(gridSteps)).rounded()), 1), gridSteps - 1)
    }

    @discardableResult
    public func synthesize(times: [Float]) throws -> Synthesis {
        precondition(appended >= 2, "synthesis needs two frames")
        precondition(!times.isEmpty && times.count <= maxSteps, "1...\(maxSteps) times per pair")
        precondition(times.allSatisfy { $0 > 0 && $0 < 1 }, "times lie in (0, 1)")
        steps = times.count
        repeatsInput = sceneCuts.isCut(thumbnails[1 - newest], thumbnails[newest])
        if repeatsInput {
            for (index, t) in times.enumerated() { repeatSlots[index] = t <= 0.5 ? 1 - newest : newest }
            return Synthesis(count: times.count, sceneCut: true, gpuMilliseconds: 0)
        }
        var key = UInt64(2 + newest)
        switch model.time {
        case .midpoints:
            for t in times { key = key << 3 | UInt64(Self.gridPoint(t)) }
        case .input:
            for _ in times { key = key << 3 | 1 }
            runtime.setTimes(times)
        }
        let recorded = try sequences[key] ?? sequence(slot: newest, points: times.map(Self.gridPoint), key: key)
        let start = DispatchTime.now().uptimeNanoseconds
        try recorded.sequence.run()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        lastFlops = recorded.flops
        lastRecorded = recorded
        return Synthesis(count: times.count, sceneCut: false, gpuMilliseconds: elapsed)
    }

    public func output(_ index: Int) -> UnsafeRawBufferPointer {
        precondition(index < steps, "output \(index) was not synthesised")
        let base = repeatsInput ? staging.contents! + repeatSlots[index] * slotStride : outputs.contents! + index * slotStride
        return UnsafeRawBufferPointer(start: base, count: frameBytes)
    }

    // MARK: - Recording

    /// Tensor of grid point k: 0 is the earlier frame, gridSteps the later one, others midpoints.
    private func tensor(_ k: Int) -> TensorView {
        let index = k == 0 ? 0 : k == Self.gridSteps ? 1 : k + 1
        return TensorView(buffer: tensors, offset: index * tensorFloats, channels: 3, height: paddedHeight, width: paddedWidth)
    }

    /// The grid points to compute for `points`, each after the two it is the midpoint of.
    static func schedule(_ points: [Int]) -> [Int] {
        var needed = Set<Int>()
        func require(_ k: Int) {
            guard k % gridSteps != 0, needed.insert(k).inserted else { return }
            let step = k & -k
            require(k - step)
            require(k + step)
        }
        points.forEach(require)
        // Coarser levels (larger lowest set bit) first.
        return needed.sorted { ($0 & -$0, $1) > ($1 & -$1, $0) }
    }

    /// Records the work for one slot and set of grid points (a network that takes t: their count), once per key.
    private func sequence(slot: Int, points: [Int], key: UInt64) throws -> Recorded {
        let sequence = try GPUSequence(context: context, profiled: profiling)
        let counted = try NetworkRecorder.recordCounting(sequence, context: context, weights: runtime.recordingWeights.buffer) { recorder in
            try record(slot: slot, points: points, into: &recorder)
        }
        sequences[key] = (sequence, counted.flops, counted.byLayer)
        return sequences[key]!
    }

    /// GPU milliseconds of the last synthesis by layer type (ConvLayer.kind) or, for other
    /// dispatches, shader, with each convolution type's FLOPs and dispatch count (needs `profiling`).
    public func lastProfile() throws -> [(stage: String, milliseconds: Double, flops: Double, dispatches: Int)] {
        guard let lastRecorded else { return [] }
        var totals: [(stage: String, milliseconds: Double, flops: Double, dispatches: Int)] = []
        for (stage, milliseconds) in try lastRecorded.sequence.stageMilliseconds() {
            if let index = totals.firstIndex(where: { $0.stage == stage }) {
                totals[index].milliseconds += milliseconds
                totals[index].dispatches += 1
            } else {
                totals.append((stage, milliseconds, lastRecorded.flopsByLayer[stage] ?? 0, 1))
            }
        }
        return totals
    }

    private var colorPush: [PushValue] {
        let (kr, kb) = format.color.coefficients
        let full = format.pixelFormat.isRGB || format.color.range == .full
        return [.int(format.width), .int(format.height), .int(full ? 1 : 0), .float(kr), .float(kb)]
    }

    private var formatConstant: Int32 { Int32(PixelFormat.allCases.firstIndex(of: format.pixelFormat)!) }

    private var bgrConstant: Int32 { model.channels == .bgr ? 1 : 0 }

    private func record(slot newestSlot: Int, points: [Int], into network: inout NetworkRecorder) throws {
        let (h, w) = (paddedHeight, paddedWidth)
        let unpack = try context.pipeline(.frame_to_tensor, bindings: 2, specialization: [formatConstant, bgrConstant])
        for (slot, k) in [(1 - newestSlot, 0), (newestSlot, Self.gridSteps)] {
            try network.recorder.dispatch(unpack, [.read(staging), .write(tensors)],
                                          push: colorPush + [.int(slot * slotStride), .int(tensor(k).offset), .int(h), .int(w)],
                                          groups: ((w / 2 + 7) / 8, (h / 2 + 7) / 8, 1))
        }
        let packPipeline = try context.pipeline(.tensor_to_frame, bindings: 2, specialization: [formatConstant, bgrConstant])
        func pack(_ tensor: TensorView, into index: Int) throws {
            try network.recorder.dispatch(packPipeline, [.read(tensors), .write(outputs)],
                                          push: colorPush + [.int(tensor.offset), .int(h), .int(w), .int(index * slotStride)],
                                          groups: ((format.width + 15) / 16, (format.height + 15) / 16, 1))
        }
        switch model.time {
        case .midpoints:
            for k in Self.schedule(points) {
                let step = k & -k
                try runtime.recordFrame(&network, frame0: tensor(k - step), frame1: tensor(k + step), timeIndex: 0, output: tensor(k))
            }
            for (index, k) in points.enumerated() { try pack(tensor(k), into: index) }
        case .input:
            // The per-pair part once, then each time through the one output tensor (tensor(1)).
            let (frame0, frame1) = (tensor(0), tensor(Self.gridSteps))
            try runtime.recordPair(&network, frame0: frame0, frame1: frame1)
            for index in points.indices {
                try runtime.recordFrame(&network, frame0: frame0, frame1: frame1, timeIndex: index, output: tensor(1))
                try pack(tensor(1), into: index)
            }
        }
    }
}

extension NeuralInterpolator {
    /// The tensor of grid point k (0: earlier frame, gridSteps: later frame), for tests that check the
    /// conversions against the CPU reference. Creates Vulkan objects, so it is kept off the frame path.
    func readTensor(_ k: Int) throws -> [Float] {
        let view = tensor(k)
        let arena = BufferArena(context: context, placement: .host)
        let host = try arena.allocate([("readback", tensors.byteCount)])[0]
        let sequence = try GPUSequence(context: context)
        try sequence.record { $0.copy(from: tensors, to: host) }
        try sequence.run()
        let floats = host.contents!.bindMemory(to: Float.self, capacity: tensors.byteCount / 4)
        return Array(UnsafeBufferPointer(start: floats + view.offset, count: view.count))
    }
}
