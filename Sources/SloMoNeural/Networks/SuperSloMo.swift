import Foundation
import SloMoGPU

/// Super SloMo (Jiang et al., CVPR 2018) as the public implementation (avinashpaliwal/Super-SloMo,
/// model.py and video_to_slomo.py) runs it, on the Vulkan runtime; Tests/reference/superslomo.py is
/// the NumPy reference it is tested against, and documents the PyTorch 0.4 behaviours kept here.
///
/// A flow-computation U-Net (6 → 4) gives F_0→1 and F_1→0 once per pair; for each t the intermediate
/// flows F_t→0, F_t→1 warp both frames, an arbitrary-time U-Net (20 → 5) refines the flows and gives
/// the visibility logit, and the refined warps are fused with the time and visibility weights.
/// Frames come and go as BGR tensors in [0, 1] like RIFE's (multiples of 32, callers zero-pad right
/// and bottom); inside, the network sees RGB minus the training mean.
public final class SuperSloMo {
    /// The training set's mean, subtracted from RGB inputs (std 1) and added back to the output.
    public static let mean: [Float] = [0.429, 0.431, 0.397]
    /// Five 2×2 poolings: frames are padded to a multiple of this.
    public static let alignment = 32
    static let encoderChannels = [32, 64, 128, 256, 512]

    public let height: Int
    public let width: Int
    /// Most time steps one recording may ask for (the size of the times buffer).
    public let maxSteps: Int
    /// Bytes of device memory for the weights and the working tensors.
    public var memory: Int { flowWeights.byteCount + interpolationWeights.byteCount + arena.byteCount }
    /// Each U-Net's parameters in a buffer of their own: together (157 MB) they exceed what one binding
    /// may cover on lavapipe (128 MiB). The flow U-Net's buffer also holds `normalise`, the other `denormalise`.
    public let flowWeights: NetworkWeights, interpolationWeights: NetworkWeights

    /// One of model.UNet's convolutions with its leaky ReLU 0.1. A block of 16 output channels reads
    /// its weights as one 64 KiB uniform window (conv2d.comp), which holds 113 input channels of a
    /// 3×3 kernel, 40 of a 5×5 and 20 of a 7×7; the runtime gives a bigger layer smaller blocks or
    /// storage-buffer weights. Splitting such a layer over input channels instead keeps full blocks
    /// in the window: the first part adds the bias, each further part adds its sum to the output
    /// through the fused residual, and the activation runs once on the total. Measured at 640×480 on
    /// lavapipe: 44.7 CPU-seconds a frame against 54.5 without the split.
    struct Conv {
        var parts: [(inputs: Range<Int>, layer: ConvLayer)]
    }

    /// model.UNet's convolutions.
    struct UNet {
        var conv1: Conv, conv2: Conv
        var down: [(Conv, Conv)]
        var up: [(Conv, Conv)]
        var conv3: Conv
    }
    private let flowNet: UNet, interpolationNet: UNet
    /// 1×1 convolutions that reorder BGR ↔ RGB and subtract or add the mean, exactly (one tap of 1, the
    /// others 0, then the bias): the mean cannot be folded into the first layer's bias because zero
    /// padding and backWarp's zero taps act on the mean-subtracted frame.
    private let normalise: ConvLayer, denormalise: ConvLayer

    private let arena: BufferArena
    private let hostArena: BufferArena
    /// The arbitrary-time U-Net's input, concatenated in place: I0, I1 (normalised RGB), F_0→1, F_1→0
    /// (written by the flow U-Net, kept for every t of the pair), F_t→1, F_t→0, g(I1, F_t→1), g(I0, F_t→0).
    private let interpolationInput: GPUBuffer
    /// Per level of the U-Net, the decoder's concatenation [up-sampled features, encoder skip].
    private let concatenations: [GPUBuffer]
    /// Two working tensors every layer of both U-Nets and the fusion reuse; the recorder's barriers order the reuse.
    private let scratchA: GPUBuffer, scratchB: GPUBuffer
    /// The arbitrary-time U-Net's output: ΔF_t→0, ΔF_t→1 (refined in place to the flows) and the visibility logit.
    private let interpolationOutput: GPUBuffer
    /// Host-visible: times[i] is the t of a recording's step i, written by `setTimes` before each run.
    public let times: GPUBuffer

    /// Reads both U-Nets from a training checkpoint of the public implementation (`state_dictFC` and `state_dictAT`).
    public static func loadStateDicts(from url: URL) throws -> (flow: StateDict, interpolation: StateDict) {
        (try TorchCheckpoint.loadStateDict(from: url, key: "state_dictFC"), try TorchCheckpoint.loadStateDict(from: url, key: "state_dictAT"))
    }

    /// Both U-Nets with He-initialised random weights (deterministic for a seed): what the
    /// benchmark times when no checkpoint is at hand, since the cost does not depend on the
    /// weights. Scaled so activations stay in range (no overflow, no slow denormals on a CPU).
    public static func untrainedStateDicts(seed: UInt64) -> (flow: StateDict, interpolation: StateDict) {
        var state = seed
        func uniform() -> Float {
            // SplitMix64, mapped to [-1, 1).
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Float((z ^ (z >> 31)) >> 40) / Float(1 << 23) - 1
        }
        func unet(_ inChannels: Int, _ outChannels: Int) -> StateDict {
            var dict: StateDict = [:]
            for (name, a, b, k) in unetLayers(in: inChannels, out: outChannels) {
                let bound = (6 / Float(a * k * k)).squareRoot()
                dict["\(name).weight"] = HostTensor(shape: [b, a, k, k], values: (0..<b * a * k * k).map { _ in bound * uniform() })
                dict["\(name).bias"] = HostTensor(shape: [b], values: (0..<b).map { _ in 0.01 * uniform() })
            }
            return dict
        }
        return (unet(6, 4), unet(20, 5))
    }

    /// (name, in, out, kernel) of every convolution of model.UNet, in state-dict order.
    static func unetLayers(in inChannels: Int, out outChannels: Int) -> [(name: String, inChannels: Int, outChannels: Int, kernel: Int)] {
        var layers = [("conv1", inChannels, 32, 7), ("conv2", 32, 32, 7)]
        for (i, (a, b, k)) in [(32, 64, 5), (64, 128, 3), (128, 256, 3), (256, 512, 3), (512, 512, 3)].enumerated() {
            layers += [("down\(i + 1).conv1", a, b, k), ("down\(i + 1).conv2", b, b, k)]
        }
        for (i, (a, b)) in [(512, 512), (512, 256), (256, 128), (128, 64), (64, 32)].enumerated() {
            layers += [("up\(i + 1).conv1", a, b, 3), ("up\(i + 1).conv2", 2 * b, b, 3)]
        }
        return layers + [("conv3", 32, outChannels, 3)]
    }

    /// Uploads both U-Nets' weights (`flow`: state_dictFC, UNet(6, 4); `interpolation`: state_dictAT,
    /// UNet(20, 5)) and plans the working tensors for inputs of `height` × `width` (multiples of 32).
    public init(context: GPUContext, flow: StateDict, interpolation: StateDict, height: Int, width: Int, maxSteps: Int = 1) throws {
        precondition(height % Self.alignment == 0 && width % Self.alignment == 0, "Super SloMo works on multiples of \(Self.alignment)")
        precondition(maxSteps >= 1, "at least one time step")
        self.height = height
        self.width = width
        self.maxSteps = maxSteps
        func unet(_ state: StateDict, _ inChannels: Int, _ outChannels: Int, into packer: inout WeightPacker) throws -> UNet {
            var layers: [String: Conv] = [:]
            for (name, a, b, k) in Self.unetLayers(in: inChannels, out: outChannels) {
                let weight = try state.tensor(name + ".weight", shape: [b, a, k, k]), bias = try state.tensor(name + ".bias", shape: [b])
                // A block holds a vec4 (16 bytes) per tap, input channel and 4 output channels.
                let maxInputs = WeightPacker.uniformWindowBytes / (16 * WeightPacker.convChannelBlock4 * k * k)
                let partCount = (a + maxInputs - 1) / maxInputs
                if partCount == 1 {
                    layers[name] = Conv(parts: [(0..<a, packer.add(weight: weight, bias: bias, stride: 1, padding: (k - 1) / 2, activation: .leakyReLU(0.1)))])
                    continue
                }
                let parts = (0..<partCount).map { part -> (inputs: Range<Int>, layer: ConvLayer) in
                    let inputs = part * a / partCount..<(part + 1) * a / partCount
                    var values = [Float]()
                    values.reserveCapacity(b * inputs.count * k * k)
                    for o in 0..<b { values += weight.values[(o * a + inputs.lowerBound) * k * k..<(o * a + inputs.upperBound) * k * k] }
                    return (inputs, packer.add(weight: HostTensor(shape: [b, inputs.count, k, k], values: values), bias: part == 0 ? bias : nil,
                                               stride: 1, padding: (k - 1) / 2))
                }
                layers[name] = Conv(parts: parts)
            }
            return UNet(conv1: layers["conv1"]!, conv2: layers["conv2"]!,
                        down: (1...5).map { (layers["down\($0).conv1"]!, layers["down\($0).conv2"]!) },
                        up: (1...5).map { (layers["up\($0).conv1"]!, layers["up\($0).conv2"]!) },
                        conv3: layers["conv3"]!)
        }
        // Output channel c reads input channel 2 − c (BGR ↔ RGB); the bias subtracts or adds the mean.
        let swap = HostTensor(shape: [3, 3, 1, 1], values: (0..<9).map { $0 / 3 + $0 % 3 == 2 ? 1 : 0 })
        var flowPacker = WeightPacker(), interpolationPacker = WeightPacker()
        flowNet = try unet(flow, 6, 4, into: &flowPacker)
        normalise = flowPacker.add(weight: swap, bias: HostTensor(shape: [3], values: Self.mean.map { -$0 }), stride: 1, padding: 0)
        interpolationNet = try unet(interpolation, 20, 5, into: &interpolationPacker)
        denormalise = interpolationPacker.add(weight: swap, bias: HostTensor(shape: [3], values: Self.mean.reversed()), stride: 1, padding: 0)
        flowWeights = try NetworkWeights(context: context, packer: flowPacker, label: "Super SloMo flow weights")
        interpolationWeights = try NetworkWeights(context: context, packer: interpolationPacker, label: "Super SloMo interpolation weights")

        let plane = height * width
        arena = BufferArena(context: context, placement: .device)
        // Largest users: scratch A holds the level-0 features (32 channels), scratch B the decoder's
        // last up-sampled input (64 channels at full size); every other level needs less.
        var sizes = [("Super SloMo interpolation input", 20 * plane * 4), ("Super SloMo scratch A", 32 * plane * 4),
                     ("Super SloMo scratch B", 64 * plane * 4), ("Super SloMo interpolation output", 5 * plane * 4)]
        for (level, channels) in Self.encoderChannels.enumerated() {
            sizes.append(("Super SloMo concatenation \(level)", 2 * channels * (plane >> (2 * level)) * 4))
        }
        let buffers = try arena.allocate(sizes)
        (interpolationInput, scratchA, scratchB, interpolationOutput) = (buffers[0], buffers[1], buffers[2], buffers[3])
        concatenations = Array(buffers[4...])
        hostArena = BufferArena(context: context, placement: .host)
        times = try hostArena.allocate([("Super SloMo times", maxSteps * 4)])[0]
    }

    /// Writes the t of each step (in (0, 1)) for the next run of any recording of this network.
    public func setTimes(_ values: [Float]) {
        precondition(values.count <= maxSteps && values.allSatisfy { $0 > 0 && $0 < 1 }, "1...\(maxSteps) times in (0, 1)")
        let pointer = times.contents!.bindMemory(to: Float.self, capacity: maxSteps)
        for (i, t) in values.enumerated() { pointer[i] = t }
    }

    private func view(_ buffer: GPUBuffer, _ channels: Int, level: Int = 0) -> TensorView {
        TensorView(buffer: buffer, channels: channels, height: height >> level, width: width >> level)
    }

    private func conv(_ conv: Conv, _ network: inout NetworkRecorder, _ input: TensorView, _ output: TensorView) throws {
        guard conv.parts.count > 1 else { return try network.conv(conv.parts[0].layer, input, output) }
        for (index, part) in conv.parts.enumerated() {
            // In place: each output element is read and then written by the same invocation.
            try network.conv(part.layer, input.channels(part.inputs), output, residual: index == 0 ? nil : output)
        }
        try network.activation(.leakyReLU(0.1), output, output)
    }

    /// model.UNet: conv7, conv7; five levels down (average pool 2, two convs); five up (bilinear ×2 with
    /// align_corners=True, conv, concatenate the skip, conv); conv3. Every conv ends in leaky ReLU 0.1.
    private func record(_ net: UNet, _ network: inout NetworkRecorder, input: TensorView, output: TensorView) throws {
        let channels = Self.encoderChannels
        // Encoder skips are written straight into the second half of their level's concatenation.
        func skip(_ level: Int) -> TensorView {
            view(concatenations[level], 2 * channels[level], level: level).channels(channels[level]..<2 * channels[level])
        }
        try conv(net.conv1, &network, input, view(scratchA, 32))
        try conv(net.conv2, &network, view(scratchA, 32), skip(0))
        var features = skip(0)
        for (index, (first, second)) in net.down.enumerated() {
            let level = index + 1
            let outChannels = level < 5 ? channels[level] : 512
            let pooled = view(scratchA, features.channels, level: level)
            try network.averagePool(features, pooled)
            try conv(first, &network, pooled, view(scratchB, outChannels, level: level))
            features = level < 5 ? skip(level) : view(scratchA, 512, level: 5)
            try conv(second, &network, view(scratchB, outChannels, level: level), features)
        }
        for (index, (first, second)) in net.up.enumerated() {
            let level = 4 - index
            let upsampled = view(scratchB, features.channels, level: level)
            try network.resize(features, upsampled, scaleFactor: 2, alignCorners: true)
            let concatenation = view(concatenations[level], 2 * channels[level], level: level)
            try conv(first, &network, upsampled, concatenation.channels(0..<channels[level]))
            features = view(scratchA, channels[level], level: level)
            try conv(second, &network, concatenation, features)
        }
        try conv(net.conv3, &network, features, output)
    }

    /// Records the per-pair part: both frames (BGR in [0, 1], height × width) normalised, and the flow
    /// U-Net's F_0→1, F_1→0. Every `recordFrame` after it, in the same sequence, uses them. Whatever
    /// weights buffer `network` was made with, this and `recordFrame` use their own.
    public func recordFlow(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView) throws {
        precondition([frame0, frame1].allSatisfy { $0.channels == 3 && $0.height == height && $0.width == width }, "Super SloMo frames are 3×\(height)×\(width)")
        let input = view(interpolationInput, 20)
        try network.using(weights: flowWeights.buffer) { network in
            try network.conv(normalise, frame0, input.channels(0..<3))
            try network.conv(normalise, frame1, input.channels(3..<6))
            try record(flowNet, &network, input: input.channels(0..<6), output: input.channels(6..<10))
        }
    }

    /// Records the frame at t = times[`step`] of the pair `recordFlow` recorded, into `output` (BGR, height × width).
    public func recordFrame(_ network: inout NetworkRecorder, step: Int, output: TensorView) throws {
        precondition(step < maxSteps && output.channels == 3 && output.height == height && output.width == width, "step or output shape")
        let input = view(interpolationInput, 20)
        let (i0, i1) = (input.channels(0..<3), input.channels(3..<6))
        let (ft1, ft0) = (input.channels(10..<12), input.channels(12..<14))
        try network.intermediateFlows(f01: input.channels(6..<8), f10: input.channels(8..<10), times: times, timeIndex: step, ft0: ft0, ft1: ft1)
        try network.warp(i1, flow: ft1, input.channels(14..<17), mode: .superSloMo)
        try network.warp(i0, flow: ft0, input.channels(17..<20), mode: .superSloMo)
        let refined = view(interpolationOutput, 5)
        try network.using(weights: interpolationWeights.buffer) { try record(interpolationNet, &$0, input: input, output: refined) }
        // F_t→0_f = ΔF_t→0 + F_t→0 and F_t→1_f = ΔF_t→1 + F_t→1, in place.
        try network.add(ft0, into: refined.channels(0..<2))
        try network.add(ft1, into: refined.channels(2..<4))
        // The U-Nets are done with the scratch tensors: they hold the refined warps and the fused frame.
        let warped = view(scratchB, 6)
        try network.warp(i0, flow: refined.channels(0..<2), warped.channels(0..<3), mode: .superSloMo)
        try network.warp(i1, flow: refined.channels(2..<4), warped.channels(3..<6), mode: .superSloMo)
        let fused = view(scratchA, 3)
        try network.visibilityFusion(warped.channels(0..<3), warped.channels(3..<6), logit: refined.channels(4..<5),
                                     times: times, timeIndex: step, fused)
        try network.using(weights: interpolationWeights.buffer) { try $0.conv(denormalise, fused, output) }
    }
}

extension SynthesisMode {
    public static let superslomo = SynthesisMode(named: "superslomo")
}

extension NeuralModel {
    /// Super SloMo's two U-Nets, from a training checkpoint of the public PyTorch implementation
    /// (a dict with state_dictFC and state_dictAT). No pretrained weights are published under a
    /// licence slomo can fetch, so the user supplies the file.
    public static let superSloMo = NeuralModel(
        "superslomo", mode: .superslomo, displayName: "Super SloMo",
        weights: Weights(file: "superslomo/SuperSloMo.ckpt", wheel: nil,
                         installHint: "pass --checkpoint FILE (a checkpoint of the public Super SloMo implementation) or install it as superslomo/SuperSloMo.ckpt"),
        time: .input, channels: .bgr, alignment: SuperSloMo.alignment, flopsPerPixel: 1_325_814,
        load: { url in
            let (flow, interpolation) = try SuperSloMo.loadStateDicts(from: url)
            return [flow, interpolation]
        },
        build: { try SuperSloMo(context: $1.context, flow: $0[0], interpolation: $0[1], height: $1.height, width: $1.width,
                                maxSteps: $1.maxTimes) })
}

extension SuperSloMo: NeuralRuntime {
    /// Its recordings switch to each U-Net's own weights.
    public var recordingWeights: NetworkWeights { flowWeights }
    public var hostMemory: Int { times.byteCount }

    public func recordPair(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView) throws {
        try recordFlow(&network, frame0: frame0, frame1: frame1)
    }

    public func recordFrame(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView, timeIndex: Int,
                            output: TensorView) throws {
        try recordFrame(&network, step: timeIndex, output: output)
    }
}
