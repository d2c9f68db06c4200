import SloMoGPU
@testable import SloMoNeural
import XCTest

/// The operators Super SloMo added to the runtime, against their CPU reference on random inputs, with
/// OperatorTests' tolerance: align-corners resizing, backWarp, the intermediate flows and the fusion.
final class SuperSloMoOperatorTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    private func run(_ body: (inout NetworkRecorder) throws -> Void) throws {
        let weights = try NetworkWeights(context: sharedContext, packer: WeightPacker(), label: "test weights")
        let sequence = try GPUSequence(context: sharedContext)
        try NetworkRecorder.record(sequence, context: sharedContext, weights: weights.buffer) { try body(&$0) }
        try sequence.run()
    }

    func testAlignCornersResizeMatchesReference() throws {
        var generator = SplitMix64(seed: 31)
        // The decoder's ×2 at every level size of a 64×96 input, and a non-square odd one.
        for (h, w) in [(2, 3), (4, 6), (8, 12), (16, 24), (32, 48), (5, 7)] {
            let x = randomTensor([3, h, w], &generator)
            let expected = NeuralReference.resize(x, scaleFactor: 2, alignCorners: true)
            let tensors = try HostTensors([x.count, expected.count])
            let input = TensorView(buffer: tensors.buffers[0], channels: 3, height: h, width: w)
            let output = TensorView(buffer: tensors.buffers[1], channels: 3, height: 2 * h, width: 2 * w)
            tensors.write(x, to: input)
            try run { try $0.resize(input, output, scaleFactor: 2, alignCorners: true) }
            XCTAssertLessThanOrEqual(relativeError(tensors.read(output), expected), OperatorTests.tolerance, "\(h)×\(w)")
        }
        // Corners map to corners: the output's corner pixels are the input's.
        let x = randomTensor([1, 5, 7], &generator)
        let corners = NeuralReference.resize(x, scaleFactor: 2, alignCorners: true)
        XCTAssertEqual(corners.values[0], x.values[0])
        XCTAssertEqual(corners.values[corners.count - 1], x.values[x.count - 1], accuracy: 1e-6)
    }

    func testBackWarpMatchesReference() throws {
        var generator = SplitMix64(seed: 32)
        let (h, w) = (19, 26)
        let x = randomTensor([3, h, w], &generator)
        // Flow reaching well outside the picture exercises the zero padding.
        let flow = randomTensor([2, h, w], &generator, range: -8...8)
        let expected = NeuralReference.backWarp(x, flow: flow)
        let tensors = try HostTensors([x.count, flow.count, x.count])
        let input = TensorView(buffer: tensors.buffers[0], channels: 3, height: h, width: w)
        let flowView = TensorView(buffer: tensors.buffers[1], channels: 2, height: h, width: w)
        let output = TensorView(buffer: tensors.buffers[2], channels: 3, height: h, width: w)
        tensors.write(x, to: input)
        tensors.write(flow, to: flowView)
        try run { try $0.warp(input, flow: flowView, output, mode: .superSloMo) }
        XCTAssertLessThanOrEqual(relativeError(tensors.read(output), expected), OperatorTests.tolerance)
        // Zero flow samples at x·(w − 1)/w: pixel 0 exactly, the last column between its neighbours.
        let still = NeuralReference.backWarp(x, flow: HostTensor(shape: [2, h, w], values: [Float](repeating: 0, count: 2 * h * w)))
        XCTAssertEqual(still.values[0], x.values[0])
        XCTAssertNotEqual(still.values[w - 1], x.values[w - 1])
    }

    func testIntermediateFlowsAndFusionMatchReferenceAtEveryTime() throws {
        var generator = SplitMix64(seed: 33)
        let (h, w) = (9, 14)
        let plane = h * w
        let flows = randomTensor([4, h, w], &generator, range: -5...5)
        let a = randomTensor([3, h, w], &generator), b = randomTensor([3, h, w], &generator)
        let logit = randomTensor([1, h, w], &generator, range: -6...6)
        let times: [Float] = [0.125, 0.5, 0.9]
        let timesBuffer = try HostTensors([times.count])
        timesBuffer.write(HostTensor(shape: [times.count, 1, 1], values: times),
                          to: TensorView(buffer: timesBuffer.buffers[0], channels: times.count, height: 1, width: 1))
        // One output per time; the results are written at offsets into one buffer, as Super SloMo's concatenation does.
        let tensors = try HostTensors([4 * plane, 3 * plane, 3 * plane, plane] + times.flatMap { _ in [5 * plane, 3 * plane] })
        let view = { (i: Int, channels: Int) in TensorView(buffer: tensors.buffers[i], channels: channels, height: h, width: w) }
        tensors.write(flows, to: view(0, 4))
        tensors.write(a, to: view(1, 3))
        tensors.write(b, to: view(2, 3))
        tensors.write(logit, to: view(3, 1))
        try run { network in
            for step in times.indices {
                let out = view(4 + 2 * step, 5)
                try network.intermediateFlows(f01: view(0, 4).channels(0..<2), f10: view(0, 4).channels(2..<4), times: timesBuffer.buffers[0],
                                              timeIndex: step, ft0: out.channels(3..<5), ft1: out.channels(1..<3))
                try network.visibilityFusion(view(1, 3), view(2, 3), logit: view(3, 1), times: timesBuffer.buffers[0], timeIndex: step,
                                             view(5 + 2 * step, 3))
            }
        }
        for (step, t) in times.enumerated() {
            let (ft0, ft1) = NeuralReference.intermediateFlows(f01: NeuralReference.slice(flows, 0..<2), f10: NeuralReference.slice(flows, 2..<4), t: t)
            let out = tensors.read(view(4 + 2 * step, 5))
            XCTAssertLessThanOrEqual(relativeError(NeuralReference.slice(out, 3..<5), ft0), OperatorTests.tolerance, "F_t→0 at \(t)")
            XCTAssertLessThanOrEqual(relativeError(NeuralReference.slice(out, 1..<3), ft1), OperatorTests.tolerance, "F_t→1 at \(t)")
            let fused = NeuralReference.visibilityFusion(a, b, logit: logit, t: t)
            XCTAssertLessThanOrEqual(relativeError(tensors.read(view(5 + 2 * step, 3)), fused), OperatorTests.tolerance, "fusion at \(t)")
        }
        // At t = 1/2 with equal visibility the fusion is the plain average.
        let even = NeuralReference.visibilityFusion(a, b, logit: HostTensor(shape: [1, h, w], values: [Float](repeating: 0, count: plane)), t: 0.5)
        XCTAssertEqual(even.values[3], (a.values[3] + b.values[3]) / 2, accuracy: 1e-6)
    }
}
