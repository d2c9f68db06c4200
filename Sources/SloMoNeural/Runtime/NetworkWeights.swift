import SloMoGPU

/// How a network keeps its convolution weights on the device. Inputs, outputs, biases, PReLU slopes
/// and every accumulation stay float32 either way; float16 halves the weights' memory and the bytes
/// each dispatch reads (Shaders/neural/weights.glsl), at a relative rounding of 2⁻¹¹ per weight.
public enum NeuralPrecision: Sendable, CustomStringConvertible {
    case float32, float16

    /// float16 where the device has 16-bit storage and uniform buffers, else float32.
    public static func preferred(for context: GPUContext) -> NeuralPrecision {
        context.supportsFloat16Storage ? .float16 : .float32
    }

    /// What networks use unless told otherwise: float16 where the device has 16-bit storage and is
    /// not a CPU implementation, else float32. On lavapipe float16 weights cost more than they save:
    /// RIFE at 640×480 took 5–11% more CPU time a frame with them (three runs on a shared 2-core
    /// machine, each beside a float32 run; one of them with the weights read as uint through
    /// unpackHalf2x16, which was no faster), because every weight is converted to float32
    /// as it is read, once per 2 (transposed) to 5 (conv2d) vec4 multiply-adds, while 10 MB of float32
    /// weights is no burden on a CPU's caches. A GPU converts for free and gains from weights half the
    /// size: RIFE 11–12% faster on an NVIDIA H200 (1280×720: 24.4 against 27.3 ms; BENCHMARKS-gpu.md).
    public static func `default`(for context: GPUContext) -> NeuralPrecision {
        context.info.kind == .cpu ? .float32 : preferred(for: context)
    }

    public var description: String { self == .float32 ? "float32" : "float16" }
}

/// What follows a convolution's bias, fused into the same shader.
public enum Activation: Equatable {
    case none
    /// PyTorch's nn.PReLU: one learned slope per channel.
    case prelu
    case leakyReLU(Float)
}

/// A convolution or transposed convolution whose parameters live in a `NetworkWeights` buffer.
public struct ConvLayer {
    public let transposed: Bool
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let activation: Activation
    /// How the weights are stored (the shader variant that reads them).
    public let precision: NeuralPrecision
    /// Output channels per shader invocation, in vec4s: the block the weights are padded to.
    let channelBlock4: Int
    /// Whether each block's weights fit the uniform window (else the shader reads them as storage).
    let uniformWeights: Bool
    /// Offsets, in 16-byte units (float32 vec4s, or float16 pairs of f16vec4), of the packed weights,
    /// the bias and the PReLU slopes.
    let weightOffset: Int, biasOffset: Int, slopeOffset: Int
    /// Distance, in 16-byte units, between the weights of consecutive output-channel blocks.
    let blockStride: Int

    /// Output size for an input of the given size (PyTorch's formulas, dilation 1, no output padding).
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        if transposed {
            return ((height - 1) * stride - 2 * padding + kernel, (width - 1) * stride - 2 * padding + kernel)
        }
        return ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    /// The layer's type, as benchmarks group time and FLOPs: "conv 3×3 s1", "deconv 4×4 s2", ...
    public var kind: String { "\(transposed ? "deconv" : "conv") \(kernel)×\(kernel) s\(stride)" }

    /// Floating-point operations (a multiply-add counts two) for an input of the given size.
    public func flops(inputHeight: Int, inputWidth: Int) -> Double {
        let pixels = transposed ? inputHeight * inputWidth : { let o = outputSize(height: inputHeight, width: inputWidth); return o.height * o.width }()
        return 2 * Double(kernel * kernel * inChannels * outChannels * pixels)
    }
}

/// Collects a network's parameters on the host in the layout the shaders read, then uploads them
/// once into one device buffer. Convolution weights become, per block of output channels (one
/// dispatch each, reading its block as a uniform buffer), in float32 [oc/4 in block][ic][ky][kx]
/// vec4s (four output channels per vec4), in float16 [oc/8 in block][ic][ky][kx] pairs of f16vec4
/// (16 bytes: channel groups 2j and 2j+1), zero-padded to whole blocks; each block starts on a
/// 256-byte boundary (the largest uniform-buffer offset alignment Vulkan allows). Biases and PReLU
/// slopes are float32 in both.
public struct WeightPacker {
    /// Output channels per shader invocation, in vec4s, for convolutions and transposed ones.
    /// Convolutions take 16 (with 5 pixels each: 80 accumulators, measured fastest on lavapipe for a
    /// 90-channel 3×3 layer, 1.5× the speed of 8 channels × 4 pixels). Transposed ones take 4: they
    /// already hold 2 cells × 2×2 pixels per channel, and RIFE's last layers have 4 and 1 output
    /// channels, which bigger blocks would mostly pad. Smaller blocks are used where a block's
    /// weights would not fit the 64 KiB uniform window.
    static let convChannelBlock4 = 4, transposedChannelBlock4 = 1
    /// 32-bit words of the buffer (float32 values, or two float16 values each).
    private(set) var words: [UInt32] = []
    public let precision: NeuralPrecision
    /// A block's weights are bound as one 64 KiB uniform window (Shaders/neural/conv2d.comp).
    static let uniformWindowBytes = 65536
    private static let alignment = 64  // floats: 256 bytes

    public init(precision: NeuralPrecision = .float32) {
        self.precision = precision
    }

    /// Bytes of weights per tap and input channel for `channelBlock4` groups of four output channels.
    private func blockBytesPerTap(_ channelBlock4: Int) -> Int {
        precision == .float32 ? 16 * channelBlock4 : 16 * ((channelBlock4 + 1) / 2)
    }

    /// Adds a Conv2d (weight [out, in, k, k]) or ConvTranspose2d (weight [in, out, k, k]) with its
    /// bias and, for `.prelu`, its slopes ([out]).
    public mutating func add(weight: HostTensor, bias: HostTensor?, slopes: HostTensor? = nil, transposed: Bool = false,
                             stride: Int, padding: Int, activation: Activation = .none) -> ConvLayer {
        precondition(weight.shape.count == 4 && weight.shape[2] == weight.shape[3], "square kernels, got \(weight.shape)")
        let (inChannels, outChannels) = transposed ? (weight.shape[0], weight.shape[1]) : (weight.shape[1], weight.shape[0])
        let k = weight.shape[2]
        precondition(!transposed || k % stride == 0, "transposed convolutions need the kernel a multiple of the stride")
        precondition(bias == nil || bias!.count == outChannels, "bias of \(outChannels) channels")
        precondition((activation == .prelu) == (slopes != nil) && (slopes == nil || slopes!.count == outChannels),
                     "PReLU needs one slope per output channel")
        var channelBlock4 = transposed ? Self.transposedChannelBlock4 : Self.convChannelBlock4
        while channelBlock4 > 1 && blockBytesPerTap(channelBlock4) * inChannels * k * k > Self.uniformWindowBytes { channelBlock4 -= 1 }
        // A layer too big for even four channels in the window reads its weights as a storage buffer.
        let uniformWeights = blockBytesPerTap(channelBlock4) * inChannels * k * k <= Self.uniformWindowBytes
        let blockChannels = 4 * channelBlock4
        let paddedOut = (outChannels + blockChannels - 1) / blockChannels * blockChannels
        let blockWords = blockBytesPerTap(channelBlock4) * inChannels * k * k / 4
        let blockStride = (blockWords + Self.alignment - 1) / Self.alignment * Self.alignment
        align()
        let weightOffset = words.count / 4
        let blocks = paddedOut / blockChannels
        weight.values.withUnsafeBufferPointer { w in
            func source(_ oc: Int, _ ic: Int) -> Int { transposed ? (ic * outChannels + oc) * k * k : (oc * inChannels + ic) * k * k }
            switch precision {
            case .float32:
                var packed = [Float](repeating: 0, count: blocks * blockStride)
                for oc in 0..<outChannels {
                    for ic in 0..<inChannels {
                        let target = (oc / blockChannels) * blockStride + (((oc % blockChannels) / 4 * inChannels + ic) * k * k) * 4 + oc % 4
                        for tap in 0..<k * k { packed[target + tap * 4] = w[source(oc, ic) + tap] }
                    }
                }
                words += packed.map(\.bitPattern)
            case .float16:
                // Halves: a pair is 8 of them, group g of the block in half g % 2 of pair g / 2.
                var packed = [UInt16](repeating: 0, count: 2 * blocks * blockStride)
                for oc in 0..<outChannels {
                    let group = (oc % blockChannels) / 4
                    for ic in 0..<inChannels {
                        let target = (oc / blockChannels) * 2 * blockStride + ((group / 2 * inChannels + ic) * k * k) * 8 + group % 2 * 4 + oc % 4
                        for tap in 0..<k * k { packed[target + tap * 8] = Float16(w[source(oc, ic) + tap]).bitPattern }
                    }
                }
                // Little-endian words: the first half is the low 16 bits.
                words += (0..<packed.count / 2).map { UInt32(packed[2 * $0]) | UInt32(packed[2 * $0 + 1]) << 16 }
            }
        }
        let biasOffset = words.count / 4
        words += pad(bias?.values ?? [], to: paddedOut)
        var slopeOffset = 0
        if let slopes {
            slopeOffset = words.count / 4
            words += pad(slopes.values, to: paddedOut)
        }
        return ConvLayer(transposed: transposed, inChannels: inChannels, outChannels: outChannels, kernel: k, stride: stride,
                         padding: padding, activation: activation, precision: precision, channelBlock4: channelBlock4, uniformWeights: uniformWeights, weightOffset: weightOffset, biasOffset: biasOffset, slopeOffset: slopeOffset,
                         blockStride: blockStride / 4)
    }

    /// Adds a standalone PReLU's slopes; returns their offset in floats.
    public mutating func add(slopes: HostTensor) -> Int {
        let offset = words.count
        words += pad(slopes.values, to: (slopes.count + 3) / 4 * 4)
        return offset
    }

    /// Starts the next entry on a 256-byte boundary.
    private mutating func align() {
        words += [UInt32](repeating: 0, count: (Self.alignment - words.count % Self.alignment) % Self.alignment)
    }

    private func pad(_ values: [Float], to count: Int) -> [UInt32] {
        (values + [Float](repeating: 0, count: count - values.count)).map(\.bitPattern)
    }
}

/// A network's parameters in one device buffer, uploaded once at init through a temporary host buffer.
public final class NetworkWeights {
    public let buffer: GPUBuffer
    private let arena: BufferArena
    public var byteCount: Int { arena.byteCount }

    public init(context: GPUContext, packer: WeightPacker, label: String) throws {
        // The last block's 64 KiB uniform window must lie inside the buffer too.
        let bytes = packer.words.count * 4 + WeightPacker.uniformWindowBytes
        arena = BufferArena(context: context, placement: .device)
        buffer = try arena.allocate([(label, bytes)])[0]
        let staging = BufferArena(context: context, placement: .host)
        let host = try staging.allocate([("\(label) upload", bytes)])[0]
        packer.words.withUnsafeBytes { if let base = $0.baseAddress { host.contents!.copyMemory(from: base, byteCount: $0.count) } }
        let upload = try GPUSequence(context: context)
        try upload.record { $0.copy(from: host, to: buffer) }
        try upload.run()
    }
}
