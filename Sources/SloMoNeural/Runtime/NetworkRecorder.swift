import SloMoGPU

/// Records a network's layers into a GPUSequence: one dispatch per layer (convolutions with more
/// blocks of output channels than a dispatch has uniform windows take more on lavapipe, see
/// ConvDispatch), barriers derived by the Recorder from each layer's declared reads and writes, and
/// a count of the work for benchmarks.
public struct NetworkRecorder {
    /// How a convolution's blocks of output channels are dispatched.
    public enum ConvDispatch: CaseIterable, Sendable {
        /// Each block's weights read from a uniform window of its own, up to `windowsPerDispatch`
        /// blocks a dispatch, 10 output pixels (6 transposed cells) per invocation: lavapipe pays per
        /// invocation and per weight gathered across SIMD lanes.
        case perBlock
        /// One dispatch per layer, blocks along z, weights from storage, one pixel (cell) per
        /// invocation: a GPU needs the parallelism; per block, a 40×24 layer of RIFE's coarsest
        /// level ran on 192 threads each doing 173k multiply-adds (H200: 72 ms for RIFE at 640×360).
        case perLayer

        public static func preferred(for context: GPUContext) -> ConvDispatch { context.info.kind == .cpu ? .perBlock : .perLayer }

        /// Output pixels per conv2d invocation along x, and cells per conv_transpose2d invocation.
        /// On lavapipe 10 pixels: RIFE 4.25 at 640×360 took 503 ms a frame against 554 with 8 and 661
        /// with 5 (medians of 5 interleaved runs; 12 no better). Each weight read then serves 10
        /// multiply-adds, and lavapipe reads a uniform weight with a bounds check and a branch.
        var pixelsPerInvocation: Int { self == .perBlock ? 10 : 1 }
        /// 6 cells: the transposed convolutions of RIFE 4.25 at 640×360 took 98–104 ms a frame
        /// against 130–156 with 2 (4 and 5 close behind, 8 slower; 3 interleaved runs each).
        var cellsPerInvocation: Int { self == .perBlock ? 6 : 1 }
    }

    public var recorder: Recorder
    public let context: GPUContext
    /// The buffer every ConvLayer's offsets point into (see `using(weights:_:)`).
    public private(set) var weights: GPUBuffer
    /// Floating-point operations recorded so far, counting the convolutions' multiply-adds (two each);
    /// the element-wise layers are memory traffic, not arithmetic, and are left out.
    public private(set) var flops: Double = 0
    /// The same FLOPs by layer type (ConvLayer.kind), the labels a profiled sequence reports them under.
    public private(set) var flopsByLayer: [String: Double] = [:]
    public var convDispatch: ConvDispatch
    /// Blocks a `.perBlock` convolution dispatch computes, each from its own uniform window: up to
    /// `maxWindowsPerDispatch`, or one where the device cannot index arrays of uniform buffers.
    var windowsPerDispatch: Int

    public init(recorder: Recorder, context: GPUContext, weights: GPUBuffer) {
        self.recorder = recorder
        self.context = context
        self.weights = weights
        convDispatch = .preferred(for: context)
        windowsPerDispatch = context.supportsUniformBufferArrays ? Self.maxWindowsPerDispatch : 1
    }

    /// Records `body` into `sequence` (replacing its recording) and returns the FLOPs it recorded.
    @discardableResult
    public static func record(_ sequence: GPUSequence, context: GPUContext, weights: GPUBuffer,
                              _ body: (inout NetworkRecorder) throws -> Void) throws -> Double {
        try recordCounting(sequence, context: context, weights: weights, body).flops
    }

    /// `record`, also returning the FLOPs by layer type.
    public static func recordCounting(_ sequence: GPUSequence, context: GPUContext, weights: GPUBuffer,
                                      _ body: (inout NetworkRecorder) throws -> Void) throws -> (flops: Double, byLayer: [String: Double]) {
        var counted = (flops: 0.0, byLayer: [String: Double]())
        try sequence.record { recorder in
            var network = NetworkRecorder(recorder: recorder, context: context, weights: weights)
            try body(&network)
            recorder = network.recorder
            counted = (network.flops, network.flopsByLayer)
        }
        return counted
    }

    func groups(_ n: Int, _ size: Int) -> Int { (n + size - 1) / size }

    /// Most blocks of output channels a convolution dispatch computes on lavapipe, each from its own
    /// uniform window: the coarse levels' layers then run as one dispatch (192 channels in 24 blocks)
    /// on both cores, where a dispatch per block left one core waiting at each of ~20 barriers a layer.
    static let maxWindowsPerDispatch = 32

    /// Workgroups of 64 for `invocations` numbered row after row (conv2d, conv_transpose2d): along x,
    /// wrapping into y past 4096 groups so that no count exceeds the 65535 every device allows.
    func rowMajorGroups(_ invocations: Int, z: Int) -> (x: Int, y: Int, z: Int) {
        let needed = groups(invocations, 64)
        let x = min(needed, 4096)
        return (x, groups(needed, x), z)
    }

    /// Records `body` with its layers' offsets pointing into `other`: a network whose parameters exceed
    /// what one storage-buffer binding may cover (maxStorageBufferRange, 128 MiB on lavapipe) keeps
    /// them in several buffers.
    public mutating func using(weights other: GPUBuffer, _ body: (inout NetworkRecorder) throws -> Void) rethrows {
        let saved = weights
        weights = other
        defer { weights = saved }
        try body(&self)
    }

    private func activationConstant(_ activation: Activation) -> (Int32, Float) {
        switch activation {
        case .none: return (0, 0)
        case .prelu: return (1, 0)
        case let .leakyReLU(slope): return (2, slope)
        }
    }

    /// Where a convolution adds its residual tensor: after the activation (RIFE HD v3's residual
    /// pairs), or before it (RIFE 4.x's ResConv: act(conv(x)·β + x), with β in the layer's weights).
    public enum ResidualOrder: Int32 {
        case afterActivation = 1, beforeActivation = 2
    }

    /// Conv2d or ConvTranspose2d with bias and the layer's activation, and (conv2d only) `residual`
    /// added where `order` says. A transposed convolution may store through nn.PixelShuffle(`pixelShuffle`):
    /// `output` is then the shuffled tensor (channels / r², r times the size).
    public mutating func conv(_ layer: ConvLayer, _ input: TensorView, _ output: TensorView, residual: TensorView? = nil,
                              order: ResidualOrder = .afterActivation, pixelShuffle: Int = 1) throws {
        let r = pixelShuffle
        precondition(r == 1 || (layer.transposed && layer.outChannels % (r * r) == 0), "pixel shuffle follows a transposed convolution")
        precondition(input.channels == layer.inChannels && output.channels * r * r == layer.outChannels, "channel counts")
        let size = layer.outputSize(height: input.height, width: input.width)
        precondition(size == (output.height / r, output.width / r) && output.height % r == 0 && output.width % r == 0,
                     "output of \(layer) is \(size)")
        let (act, leak) = activationConstant(layer.activation)
        let block = layer.channelBlock4
        let channelBlocks = groups(layer.outChannels, 4 * block)
        let perLayer = convDispatch == .perLayer
        let pixels = convDispatch.pixelsPerInvocation, cells = convDispatch.cellsPerInvocation
        // Per layer: one dispatch with the blocks along z, reading weights from storage. Per block:
        // each workgroup reads its block's weights from a uniform window of its own, up to
        // `windowsPerDispatch` blocks a dispatch.
        let uniformWindow = layer.uniformWeights && !perLayer
        let uniform: Int32 = uniformWindow ? 1 : 0
        let windows = perLayer ? 1 : windowsPerDispatch
        let blocksPerDispatch = perLayer ? channelBlocks : windows
        // float16 weights: the *_f16 shader variants, which also read the weights buffer as
        // pairs of f16vec4 through one more storage binding (for blocks too big for the window).
        let half = layer.precision == .float16
        precondition(!half || context.supportsFloat16Storage, "float16 weights need 16-bit storage buffers")
        let halfBinding: [BufferUse] = half ? [.read(weights)] : []
        for firstBlock in stride(from: 0, to: channelBlocks, by: blocksPerDispatch) {
            let blocks = min(blocksPerDispatch, channelBlocks - firstBlock)
            let blockBase = layer.weightOffset + firstBlock * layer.blockStride
            // Without uniform windows the layer binds any valid window there and reads binding 4;
            // windows past the last block repeat it.
            let offsets = (0..<windows).map { window in
                uniformWindow ? (blockBase + min(window, blocks - 1) * layer.blockStride) * 16 : 0
            }
            let blockWeights = BufferUse.uniform(weights, offsets: offsets, byteCount: WeightPacker.uniformWindowBytes)
            // The convolution's own output shape; a pixel shuffle is the shader's store.
            let shape: [PushValue] = [.int(input.offset), .int(input.channels), .int(input.height), .int(input.width),
                                      .int(output.offset), .int(layer.outChannels), .int(size.height), .int(size.width),
                                      .int(firstBlock), .int(layer.biasOffset), .int(layer.slopeOffset), .int(blockBase)]
            if layer.transposed {
                precondition(residual == nil, "transposed convolutions fuse no residual")
                let pipeline = try context.pipeline(half ? .conv_transpose2d_f16 : .conv_transpose2d, bindings: half ? 5 : 4, uniformBindings: [1],
                                                    uniformArrayLength: windows,
                                                    specialization: [Int32(layer.kernel), Int32(layer.stride), Int32(layer.padding), Int32(block), act,
                                                                     Int32(cells), uniform, Int32(r), Int32(windows)])
                try recorder.dispatch(pipeline, [.read(input.buffer), blockWeights, .write(output.buffer), .read(weights)] + halfBinding,
                                      push: shape + [.float(leak), .int(layer.blockStride)],
                                      groups: rowMajorGroups(groups(groups(size.width, layer.stride), cells) * groups(size.height, layer.stride), z: blocks),
                                      label: layer.kind)
            } else {
                if let residual { precondition(residual.channels == output.channels && residual.plane == output.plane, "residual shape") }
                let pipeline = try context.pipeline(half ? .conv2d_f16 : .conv2d, bindings: half ? 6 : 5, uniformBindings: [1],
                                                    uniformArrayLength: windows,
                                                    specialization: [Int32(layer.kernel), Int32(layer.stride), Int32(pixels),
                                                                     Int32(block), act, residual == nil ? 0 : order.rawValue, uniform, Int32(windows)])
                // Without a residual the input stands in for binding 3, which the shader then never reads.
                let residualView = residual ?? input
                try recorder.dispatch(pipeline, [.read(input.buffer), blockWeights, .write(output.buffer), .read(residualView.buffer), .read(weights)] + halfBinding,
                                      push: shape + [.int(residualView.offset), .int(layer.padding), .float(leak), .int(layer.blockStride)],
                                      groups: rowMajorGroups(groups(output.width, pixels) * output.height, z: blocks), label: layer.kind)
            }
        }
        let layerFlops = layer.flops(inputHeight: input.height, inputWidth: input.width)
        flops += layerFlops
        flopsByLayer[layer.kind, default: 0] += layerFlops
    }

    /// Bilinear resize with F.interpolate(mode="bilinear") semantics, times `multiplier`.
    /// With `scaleFactor` the output must be floor(input·scaleFactor). With align_corners=False source
    /// coordinates are mapped with 1/scaleFactor (recompute_scale_factor=False), or input/output without
    /// a scale factor; with `alignCorners` corners map to corners, ratio (input − 1)/(output − 1).
    public mutating func resize(_ input: TensorView, _ output: TensorView, scaleFactor: Double? = nil, multiplier: Float = 1,
                                alignCorners: Bool = false) throws {
        precondition(input.channels == output.channels, "resize keeps channels")
        if let scaleFactor {
            precondition(output.height == Int((Double(input.height) * scaleFactor).rounded(.down))
                && output.width == Int((Double(input.width) * scaleFactor).rounded(.down)), "output size is floor(input × scale factor)")
        }
        let ratio: (y: Float, x: Float)
        if alignCorners {
            func aligned(_ input: Int, _ output: Int) -> Float { output > 1 ? Float(Double(input - 1) / Double(output - 1)) : 0 }
            ratio = (aligned(input.height, output.height), aligned(input.width, output.width))
        } else if let scaleFactor {
            ratio = (Float(1 / scaleFactor), Float(1 / scaleFactor))
        } else {
            ratio = (Float(input.height) / Float(output.height), Float(input.width) / Float(output.width))
        }
        let pipeline = try context.pipeline(.resize, bindings: 2)
        try recorder.dispatch(pipeline, [.read(input.buffer), .write(output.buffer)],
                              push: [.int(input.offset), .int(input.height), .int(input.width),
                                     .int(output.offset), .int(output.height), .int(output.width),
                                     .float(ratio.y), .float(ratio.x), .float(multiplier), .float(alignCorners ? 0 : 0.5)],
                              groups: (groups(output.width, 64), groups(output.height, 4), output.channels))
    }

    /// How `warp` samples: RIFE's warplayer or Super SloMo's backWarp (see warp.comp).
    public enum WarpMode: Int32 {
        /// grid_sample(align_corners=True, padding_mode="border") at pixel + flow.
        case border = 0
        /// backWarp: the point scaled by (size − 1)/size, taps outside the picture read 0.
        case superSloMo = 1
    }

    /// Backward warp of `input` by a two-channel `flow`.
    public mutating func warp(_ input: TensorView, flow: TensorView, _ output: TensorView, mode: WarpMode = .border) throws {
        precondition(flow.channels == 2 && flow.plane == input.plane && output.channels == input.channels && output.plane == input.plane,
                     "warp shapes")
        let pipeline = try context.pipeline(.warp, bindings: 3, specialization: [mode.rawValue])
        try recorder.dispatch(pipeline, [.read(input.buffer), .read(flow.buffer), .write(output.buffer)],
                              push: [.int(input.offset), .int(flow.offset), .int(output.offset), .int(input.height), .int(input.width),
                                     .int(input.channels)],
                              groups: (groups(input.width, 64), groups(input.height, 4), 1))
    }

    /// target += alpha · source, element-wise.
    public mutating func add(_ source: TensorView, into target: TensorView, alpha: Float = 1) throws {
        precondition(source.count == target.count, "add needs equal sizes")
        let pipeline = try context.pipeline(.add, bindings: 2)
        try recorder.dispatch(pipeline, [.readWrite(target.buffer), .read(source.buffer)],
                              push: [.int(target.offset), .int(source.offset), .int(target.count), .float(alpha)],
                              groups: (groups(target.count, 256), 1, 1))
    }

    /// A standalone activation.
    public enum Elementwise {
        /// PReLU with slopes at `slopeOffset` floats into the weights buffer (see WeightPacker.add(slopes:)).
        case prelu(slopeOffset: Int)
        case leakyReLU(Float)
        case sigmoid
    }

    public mutating func activation(_ kind: Elementwise, _ input: TensorView, _ output: TensorView) throws {
        precondition(input.channels == output.channels && input.plane == output.plane, "activation keeps the shape")
        let (mode, slopeOffset, leak): (Int32, Int, Float)
        switch kind {
        case let .prelu(offset): (mode, slopeOffset, leak) = (0, offset, 0)
        case let .leakyReLU(slope): (mode, slopeOffset, leak) = (1, 0, slope)
        case .sigmoid: (mode, slopeOffset, leak) = (2, 0, 0)
        }
        let pipeline = try context.pipeline(.activation, bindings: 3, specialization: [mode])
        try recorder.dispatch(pipeline, [.read(input.buffer), .read(weights), .write(output.buffer)],
                              push: [.int(input.offset), .int(output.offset), .int(input.plane), .int(slopeOffset), .float(leak)],
                              groups: (groups(input.plane, 256), input.channels, 1))
    }

    /// 2×2 average pooling, stride 2.
    public mutating func averagePool(_ input: TensorView, _ output: TensorView) throws {
        precondition(output.channels == input.channels && output.height == input.height / 2 && output.width == input.width / 2, "pool shapes")
        let pipeline = try context.pipeline(.avgpool, bindings: 2)
        try recorder.dispatch(pipeline, [.read(input.buffer), .write(output.buffer)],
                              push: [.int(input.offset), .int(input.height), .int(input.width), .int(output.offset)],
                              groups: (groups(output.width, 64), groups(output.height, 4), output.channels))
    }

    /// output = a·σ(mask) + b·(1 − σ(mask)), one mask channel for all channels (RIFE's fusion).
    public mutating func maskBlend(_ a: TensorView, _ b: TensorView, mask: TensorView, _ output: TensorView) throws {
        precondition(a.count == b.count && a.count == output.count && mask.channels == 1 && mask.plane == a.plane, "blend shapes")
        let pipeline = try context.pipeline(.mask_blend, bindings: 4)
        try recorder.dispatch(pipeline, [.read(a.buffer), .read(b.buffer), .read(mask.buffer), .write(output.buffer)],
                              push: [.int(a.offset), .int(b.offset), .int(mask.offset), .int(output.offset), .int(a.plane)],
                              groups: (groups(a.plane, 256), a.channels, 1))
    }

    /// Sets a whole buffer to zero.
    public mutating func clear(_ buffer: GPUBuffer) {
        recorder.fill(buffer)
    }
}
