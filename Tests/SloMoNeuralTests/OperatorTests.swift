import SloMoGPU
@testable import SloMoNeural
import XCTest

/// Every runtime operator against its CPU reference (NeuralReference) on random inputs.
/// Tolerance: fp32 with a different summation order, 1e-4 relative (to max(1, |reference|)).
/// Convolutions with float16 weights are checked twice: against the reference on the same weights
/// rounded to float16 within the fp32 tolerance (the packing and float32 accumulation), and against
/// the reference on the float32 weights within the float16 tolerance (what the rounding costs).
final class OperatorTests: XCTestCase {
    static let tolerance: Float = 1e-4
    /// float16 tolerance, relative to Σ|w·x| of each output (the sum of its terms' magnitudes), on
    /// top of the fp32 tolerance: rounding a weight to float16 moves it by at most 2⁻¹¹ of itself,
    /// so no output can move by more than 2⁻¹¹·Σ|w·x| (PReLU slopes ≤ 1 and residuals add no more).
    /// A plain relative tolerance would not do: the terms' errors cancel in large sums, not in
    /// outputs that are small because their terms cancel.
    static let float16Tolerance: Float = 1 / 2048
    override func tearDown() { assertNoValidationMessages() }

    /// Runs `body` once on a fresh sequence, with `packer`'s weights uploaded, convolutions dispatched
    /// as `dispatch` says (default: as this device prefers).
    private func run(_ packer: WeightPacker, dispatch: ConvDispatchCase? = nil,
                     _ body: (inout NetworkRecorder) throws -> Void) throws {
        let weights = try NetworkWeights(context: sharedContext, packer: packer, label: "test weights")
        let sequence = try GPUSequence(context: sharedContext)
        try NetworkRecorder.record(sequence, context: sharedContext, weights: weights.buffer) { network in
            if let dispatch {
                network.convDispatch = dispatch.dispatch
                if let windows = dispatch.windows { network.windowsPerDispatch = windows }
            }
            try body(&network)
        }
        try sequence.run()
    }

    /// Every way a convolution may be dispatched: per layer, per block with as many uniform windows as
    /// the device allows, and per block one window a dispatch (devices that cannot index them).
    struct ConvDispatchCase: CustomStringConvertible {
        var dispatch: NetworkRecorder.ConvDispatch
        var windows: Int?
        static let all = NetworkRecorder.ConvDispatch.allCases.map { ConvDispatchCase(dispatch: $0) }
            + [ConvDispatchCase(dispatch: .perBlock, windows: 1)]
        var description: String { "\(dispatch)" + (windows.map { " with \($0) window a dispatch" } ?? "") }
    }

    func testConv2dMatchesReference() throws { try checkConv2d(.float32) }

    func testConv2dFloat16WeightsMatchReference() throws {
        try XCTSkipUnless(sharedContext.supportsFloat16Storage, "no 16-bit storage on \(sharedContext.info.name)")
        try checkConv2d(.float16)
    }

    func testConvTranspose2dMatchesReference() throws { try checkConvTranspose2d(.float32) }

    func testConvTranspose2dFloat16WeightsMatchReference() throws {
        try XCTSkipUnless(sharedContext.supportsFloat16Storage, "no 16-bit storage on \(sharedContext.info.name)")
        try checkConvTranspose2d(.float16)
    }

    /// The weights as the device holds them: rounded to float16 for .float16.
    private func stored(_ weight: HostTensor, _ precision: NeuralPrecision) -> HostTensor {
        precision == .float32 ? weight : HostTensor(shape: weight.shape, values: weight.values.map { Float(Float16($0)) })
    }

    /// Checks a convolution's output: the reference on the weights as stored within the fp32
    /// tolerance, and for float16 the float32 weights' reference within the float16 tolerance of
    /// `magnitude` (Σ|w·x|, the convolution of |x| by |w|).
    private func check(_ actual: HostTensor, rounded: HostTensor, exact: HostTensor, magnitude: HostTensor,
                       _ precision: NeuralPrecision, _ label: String) {
        XCTAssertLessThanOrEqual(relativeError(actual, rounded), Self.tolerance, "\(label) \(precision)")
        guard precision == .float16 else { return }
        var worst: Float = 0, worstRelative: Float = 0
        for i in actual.values.indices {
            let error = abs(actual.values[i] - exact.values[i])
            worst = max(worst, (error - Self.tolerance * max(1, abs(exact.values[i]))) / max(magnitude.values[i], .leastNormalMagnitude))
            worstRelative = max(worstRelative, error / max(1, abs(exact.values[i])))
        }
        print("\(label) float16 weights: error ≤ \(worst)·Σ|w·x| (bound \(Self.float16Tolerance)), \(worstRelative) relative to max(1, |y|)")
        XCTAssertLessThanOrEqual(worst, Self.float16Tolerance, "\(label) \(precision) against float32 weights")
    }

    private func absolute(_ x: HostTensor) -> HostTensor { HostTensor(shape: x.shape, values: x.values.map(abs)) }

    private func checkConv2d(_ precision: NeuralPrecision) throws {
        var generator = SplitMix64(seed: 1)
        // (in, out, kernel, stride, padding, height, width, activation, residual)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Activation, NetworkRecorder.ResidualOrder?)] = [
            (5, 11, 3, 1, 1, 13, 19, .prelu, .afterActivation),
            // RIFE 4.x's ResConv: the residual before the activation, 10 channels leaving a vec4 half full.
            (10, 10, 3, 1, 1, 9, 14, .leakyReLU(0.2), .beforeActivation),
            (4, 8, 3, 2, 1, 16, 21, .leakyReLU(0.1), nil),
            (3, 9, 5, 1, 2, 11, 10, .none, nil),
            (6, 5, 7, 2, 3, 17, 23, .prelu, nil),
            (2, 3, 1, 1, 0, 5, 6, .none, .afterActivation),
            // 90 inputs × 7×7: even four output channels' weights exceed the 64 KiB uniform window.
            (90, 5, 7, 1, 3, 6, 7, .prelu, nil),
            // 90 inputs × 5×5: float32 fits one vec4 of channels in the window, float16 two (one pair),
            // and 13 channels leave the second block's pair half empty.
            (90, 13, 5, 1, 2, 5, 6, .leakyReLU(0.1), nil),
            // 517 outputs: 33 blocks of 16 channels, more than one dispatch's uniform windows hold
            // (NetworkRecorder.maxWindowsPerDispatch), so the layer takes two dispatches on lavapipe.
            (2, 517, 3, 1, 1, 4, 5, .prelu, nil),
        ]
        for (ic, oc, k, s, p, h, w, activation, order) in cases {
            let hasResidual = order != nil
            let x = randomTensor([ic, h, w], &generator)
            let weight = randomTensor([oc, ic, k, k], &generator), bias = randomTensor([oc], &generator)
            let slopes = activation == .prelu ? randomTensor([oc], &generator, range: 0...0.5) : nil
            let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
            let residual = hasResidual ? randomTensor([oc, oh, ow], &generator) : nil
            let exact = NeuralReference.conv2d(x, weight: weight, bias: bias, stride: s, padding: p, activation: activation,
                                               slopes: slopes, residual: residual, order: order ?? .afterActivation)
            let expected = NeuralReference.conv2d(x, weight: stored(weight, precision), bias: bias, stride: s, padding: p, activation: activation,
                                                  slopes: slopes, residual: residual, order: order ?? .afterActivation)
            var packer = WeightPacker(precision: precision)
            let layer = packer.add(weight: weight, bias: bias, slopes: slopes, stride: s, padding: p, activation: activation)
            // The output is written at a channel offset of a bigger tensor, as concatenation does.
            let tensors = try HostTensors([ic * h * w + 7, (oc + 2) * oh * ow, oc * oh * ow])
            let input = TensorView(buffer: tensors.buffers[0], offset: 7, channels: ic, height: h, width: w)
            let output = TensorView(buffer: tensors.buffers[1], channels: oc + 2, height: oh, width: ow).channels(1..<oc + 1)
            let residualView = TensorView(buffer: tensors.buffers[2], channels: oc, height: oh, width: ow)
            tensors.write(x, to: input)
            if let residual { tensors.write(residual, to: residualView) }
            let magnitude = NeuralReference.conv2d(absolute(x), weight: absolute(weight), bias: nil, stride: s, padding: p)
            for dispatch in ConvDispatchCase.all {
                tensors.write(HostTensor(shape: [oc, oh, ow], values: [Float](repeating: .nan, count: oc * oh * ow)), to: output)
                try run(packer, dispatch: dispatch) {
                    try $0.conv(layer, input, output, residual: hasResidual ? residualView : nil, order: order ?? .afterActivation)
                }
                check(tensors.read(output), rounded: expected, exact: exact, magnitude: magnitude, precision,
                      "conv \(ic)→\(oc) k\(k) s\(s) p\(p) \(activation) \(String(describing: order)) \(dispatch)")
            }
        }
    }

    private func checkConvTranspose2d(_ precision: NeuralPrecision) throws {
        var generator = SplitMix64(seed: 2)
        // (in, out, kernel, stride, padding, height, width, prelu, pixel shuffle)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Bool, Int)] = [
            (6, 5, 4, 2, 1, 7, 9, true, 1),
            (9, 1, 4, 2, 1, 4, 6, false, 1),
            (3, 4, 2, 2, 0, 5, 3, false, 1),
            (4, 6, 6, 3, 2, 5, 4, true, 1),
            // 300 inputs × 4×4: four output channels' weights exceed the 64 KiB uniform window.
            (300, 2, 4, 2, 1, 3, 4, false, 1),
            // RIFE 4.x's IFBlock head: 52 channels stored through PixelShuffle(2) as 13; and a factor 3.
            (12, 52, 4, 2, 1, 5, 7, false, 2),
            (5, 18, 4, 2, 1, 3, 4, false, 3),
            // 131 outputs: 33 blocks of 4 channels, two dispatches' worth of uniform windows.
            (3, 131, 4, 2, 1, 3, 4, true, 1),
        ]
        for (ic, oc, k, s, p, h, w, prelu, r) in cases {
            let x = randomTensor([ic, h, w], &generator)
            let weight = randomTensor([ic, oc, k, k], &generator), bias = randomTensor([oc], &generator)
            let slopes = prelu ? randomTensor([oc], &generator, range: 0...0.5) : nil
            let exact = NeuralReference.convTranspose2d(x, weight: weight, bias: bias, stride: s, padding: p,
                                                        activation: prelu ? .prelu : .none, slopes: slopes)
            let expected = NeuralReference.convTranspose2d(x, weight: stored(weight, precision), bias: bias, stride: s, padding: p,
                                                           activation: prelu ? .prelu : .none, slopes: slopes)
            var packer = WeightPacker(precision: precision)
            let layer = packer.add(weight: weight, bias: bias, slopes: slopes, transposed: true, stride: s, padding: p,
                                   activation: prelu ? .prelu : .none)
            let shuffle = { (x: HostTensor) in r == 1 ? x : NeuralReference.pixelShuffle(x, r) }
            let (oh, ow) = (expected.shape[1] * r, expected.shape[2] * r)
            let tensors = try HostTensors([ic * h * w, oc * oh * ow / (r * r)])
            let input = TensorView(buffer: tensors.buffers[0], channels: ic, height: h, width: w)
            let output = TensorView(buffer: tensors.buffers[1], channels: oc / (r * r), height: oh, width: ow)
            tensors.write(x, to: input)
            let magnitude = NeuralReference.convTranspose2d(absolute(x), weight: absolute(weight), bias: nil, stride: s, padding: p)
            for dispatch in ConvDispatchCase.all {
                tensors.write(HostTensor(shape: [output.channels, oh, ow], values: [Float](repeating: .nan, count: output.count)), to: output)
                try run(packer, dispatch: dispatch) { try $0.conv(layer, input, output, pixelShuffle: r) }
                check(tensors.read(output), rounded: shuffle(expected), exact: shuffle(exact), magnitude: shuffle(magnitude), precision,
                      "deconv \(ic)→\(oc) k\(k) s\(s) p\(p) shuffle \(r) \(dispatch)")
            }
        }
    }

    func testResizeMatchesReference() throws {
        var generator = SplitMix64(seed: 3)
        // Scale factors as RIFE uses them (1/4, 1/2, 1, 2, 4), a non-integer one whose output size
        // rounds down, and a resize to a given size.
        let cases: [(Int, Int, Double?, (Int, Int)?)] = [
            (32, 48, 0.25, nil), (32, 48, 0.5, nil), (8, 12, 4, nil), (16, 24, 2, nil), (9, 7, 1, nil), (13, 17, 0.7, nil), (10, 9, nil, (15, 4)),
        ]
        for (h, w, scale, size) in cases {
            let x = randomTensor([3, h, w], &generator)
            let expected = NeuralReference.resize(x, height: size?.0, width: size?.1, scaleFactor: scale, multiplier: 1.5)
            let tensors = try HostTensors([x.count, expected.count])
            let input = TensorView(buffer: tensors.buffers[0], channels: 3, height: h, width: w)
            let output = TensorView(buffer: tensors.buffers[1], channels: 3, height: expected.shape[1], width: expected.shape[2])
            tensors.write(x, to: input)
            try run(WeightPacker()) { network in try network.resize(input, output, scaleFactor: scale, multiplier: 1.5) }
            XCTAssertLessThanOrEqual(relativeError(tensors.read(output), expected), Self.tolerance, "resize \(h)×\(w) by \(String(describing: scale))")
        }
    }

    func testWarpMatchesReference() throws {
        var generator = SplitMix64(seed: 4)
        let (h, w) = (19, 26)
        let x = randomTensor([3, h, w], &generator)
        // Flow reaching well outside the picture exercises the border clamping.
        let flow = randomTensor([2, h, w], &generator, range: -8...8)
        let expected = NeuralReference.warp(x, flow: flow)
        let tensors = try HostTensors([x.count, flow.count, x.count])
        let input = TensorView(buffer: tensors.buffers[0], channels: 3, height: h, width: w)
        let flowView = TensorView(buffer: tensors.buffers[1], channels: 2, height: h, width: w)
        let output = TensorView(buffer: tensors.buffers[2], channels: 3, height: h, width: w)
        tensors.write(x, to: input)
        tensors.write(flow, to: flowView)
        try run(WeightPacker()) { network in try network.warp(input, flow: flowView, output) }
        XCTAssertLessThanOrEqual(relativeError(tensors.read(output), expected), Self.tolerance)
    }

    /// RIFE 4.x's block input made in one pass against the reference's warps, upsampling, concat and
    /// resizes, at RIFE's scale pairs and on a frame size that is not square.
    func testBlockInputMatchesWarpsAndResizes() throws {
        typealias R = NeuralReference
        var generator = SplitMix64(seed: 5)
        let (h, w) = (32, 48)
        for (scale, previousScale) in [(8, 16), (4, 8), (2, 4)] {
            let frame0 = randomTensor([3, h, w], &generator), frame1 = randomTensor([3, h, w], &generator)
            let features = randomTensor([8, h, w], &generator)
            let previous = randomTensor([13, h / previousScale, w / previousScale], &generator)
            // Flow reaching well outside the picture exercises the border clamping.
            let flow = randomTensor([4, h, w], &generator, range: -9...9)
            let t: Float = 0.3
            let warped = R.concat([R.warp(frame0, flow: R.slice(flow, 0..<2)), R.warp(frame1, flow: R.slice(flow, 2..<4)),
                                   R.warp(R.slice(features, 0..<4), flow: R.slice(flow, 0..<2)),
                                   R.warp(R.slice(features, 4..<8), flow: R.slice(flow, 2..<4)), R.plane(t, height: h, width: w),
                                   R.resize(R.slice(previous, 4..<13), scaleFactor: Double(previousScale))])
            let down = 1 / Double(scale)
            let expected = R.concat([R.resize(warped, scaleFactor: down), R.resize(flow, scaleFactor: down, multiplier: Float(down))])

            let plane = h * w
            let tensors = try HostTensors([3 * plane, 3 * plane, 8 * plane, previous.count, 5 * plane, expected.count])
            let frame0View = TensorView(buffer: tensors.buffers[0], channels: 3, height: h, width: w)
            let frame1View = TensorView(buffer: tensors.buffers[1], channels: 3, height: h, width: w)
            let featureView = TensorView(buffer: tensors.buffers[2], channels: 8, height: h, width: w)
            let previousView = TensorView(buffer: tensors.buffers[3], channels: 13, height: h / previousScale, width: w / previousScale)
            let state = TensorView(buffer: tensors.buffers[4], channels: 5, height: h, width: w)
            let output = TensorView(buffer: tensors.buffers[5], channels: 28, height: h / scale, width: w / scale)
            tensors.write(frame0, to: frame0View)
            tensors.write(frame1, to: frame1View)
            tensors.write(features, to: featureView)
            tensors.write(previous, to: previousView)
            tensors.write(R.plane(t, height: h, width: w), to: state.channels(0..<1))
            tensors.write(flow, to: state.channels(1..<5))
            try run(WeightPacker()) { network in
                try network.blockInput(frame0: frame0View, frame1: frame1View, features: featureView, previous: previousView,
                                       previousScale: previousScale, flow: state.channels(1..<5), time: state.channels(0..<1),
                                       scale: scale, output)
            }
            XCTAssertLessThanOrEqual(relativeError(tensors.read(output), expected), Self.tolerance, "block input at scale \(scale)")
        }
    }

    func testPixelShuffleReferenceFollowsPyTorch() {
        // nn.PixelShuffle(2) on channels 0…7 of one pixel: channel c·4 + i·2 + j lands in channel c at (i, j).
        let shuffled = NeuralReference.pixelShuffle(HostTensor(shape: [8, 1, 1], values: (0..<8).map(Float.init)), 2)
        XCTAssertEqual(shuffled.shape, [2, 2, 2])
        XCTAssertEqual(shuffled.values, [0, 1, 2, 3, 4, 5, 6, 7])
        let wide = NeuralReference.pixelShuffle(HostTensor(shape: [4, 1, 2], values: [0, 1, 2, 3, 4, 5, 6, 7]), 2)
        XCTAssertEqual(wide.values, [0, 2, 1, 3, 4, 6, 5, 7])
    }

    /// The time plane reads t from the times buffer at its index, so one recording serves any t.
    func testTimePlaneReadsItsTime() throws {
        let (h, w) = (7, 13)
        let tensors = try HostTensors([4, 3 * h * w])
        let times = tensors.buffers[0]
        let pointer = times.contents!.bindMemory(to: Float.self, capacity: 4)
        for (i, t) in [0.125, 0.4, 0.9, 0.6].enumerated() { pointer[i] = Float(t) }
        let planes = TensorView(buffer: tensors.buffers[1], channels: 3, height: h, width: w)
        tensors.write(HostTensor(shape: [3, h, w], values: [Float](repeating: -1, count: 3 * h * w)), to: planes)
        try run(WeightPacker()) { network in try network.timePlane(planes.channels(1..<2), times: times, timeIndex: 2) }
        XCTAssertEqual(tensors.read(planes.channels(1..<2)), NeuralReference.plane(0.9, height: h, width: w))
        XCTAssertEqual(Set(tensors.read(planes.channels(0..<1)).values + tensors.read(planes.channels(2..<3)).values), [-1], "other channels untouched")
    }

    func testElementwiseOperatorsMatchReference() throws {
        var generator = SplitMix64(seed: 5)
        let (c, h, w) = (5, 9, 11)
        let x = randomTensor([c, h, w], &generator, range: -4...4), y = randomTensor([c, h, w], &generator)
        let m = randomTensor([1, h, w], &generator, range: -4...4)
        let slopes = randomTensor([c], &generator, range: 0...0.5)
        var packer = WeightPacker()
        let slopeOffset = packer.add(slopes: slopes)
        let tensors = try HostTensors([x.count, y.count, m.count, x.count, x.count, x.count, x.count, x.count, c * (h / 2) * (w / 2)])
        let view = { (i: Int, channels: Int) in TensorView(buffer: tensors.buffers[i], channels: channels, height: h, width: w) }
        tensors.write(x, to: view(0, c))
        tensors.write(y, to: view(1, c))
        tensors.write(m, to: view(2, 1))
        tensors.write(y, to: view(3, c))
        let pooled = TensorView(buffer: tensors.buffers[8], channels: c, height: h / 2, width: w / 2)
        try run(packer) { network in
            try network.add(view(0, c), into: view(3, c), alpha: -0.75)
            try network.activation(.prelu(slopeOffset: slopeOffset), view(0, c), view(4, c))
            try network.activation(.leakyReLU(0.2), view(0, c), view(5, c))
            try network.activation(.sigmoid, view(0, c), view(6, c))
            try network.maskBlend(view(0, c), view(1, c), mask: view(2, 1), view(7, c))
            try network.averagePool(view(0, c), pooled)
        }
        let checks: [(String, HostTensor, HostTensor)] = [
            ("add", tensors.read(view(3, c)), NeuralReference.add(y, x, alpha: -0.75)),
            ("prelu", tensors.read(view(4, c)), NeuralReference.prelu(x, slopes: slopes)),
            ("leaky", tensors.read(view(5, c)), NeuralReference.leakyReLU(x, slope: 0.2)),
            ("sigmoid", tensors.read(view(6, c)), NeuralReference.sigmoid(x)),
            ("mask blend", tensors.read(view(7, c)), NeuralReference.maskBlend(x, y, mask: m)),
            ("average pool", tensors.read(pooled), NeuralReference.averagePool(x)),
        ]
        for (name, actual, expected) in checks {
            XCTAssertLessThanOrEqual(relativeError(actual, expected), Self.tolerance, name)
        }
    }
}
