import Foundation
import SloMoCore
import SloMoGPU
import SloMoMedia
@testable import SloMoNeural
import XCTest

/// RIFE 4.25's random-weight state dict: IFNet's inference keys and shapes, weights scaled by
/// 1/√fan-in so activations stay in the range the trained network sees, β in [0, 0.6] (the trained
/// ones lie in [−0.48, 1.2], median |β| 0.31).
func randomRIFE425State(seed: UInt64) -> StateDict {
    var generator = SplitMix64(seed: seed)
    var state = StateDict()
    func add(_ name: String, _ shape: [Int], scale: Float, centre: Float = 0) {
        state[name] = randomTensor(shape, &generator, range: centre - scale...centre + scale)
    }
    func conv(_ name: String, _ i: Int, _ o: Int) {
        add(name + ".weight", [o, i, 3, 3], scale: (3 / Float(i * 9)).squareRoot())
        add(name + ".bias", [o], scale: 0.1)
    }
    func deconv(_ name: String, _ i: Int, _ o: Int) {
        add(name + ".weight", [i, o, 4, 4], scale: (3 / Float(i * 4)).squareRoot())
        add(name + ".bias", [o], scale: 0.1)
    }
    conv("encode.cnn0", 3, 16)
    conv("encode.cnn1", 16, 16)
    conv("encode.cnn2", 16, 16)
    deconv("encode.cnn3", 16, 4)
    for (index, c) in RIFE425.channels.enumerated() {
        let prefix = "block\(index)."
        conv(prefix + "conv0.0.0", RIFE425.inputChannels(index), c / 2)
        conv(prefix + "conv0.1.0", c / 2, c)
        for k in 0..<8 {
            conv(prefix + "convblock.\(k).conv", c, c)
            add(prefix + "convblock.\(k).beta", [1, c, 1, 1], scale: 0.3, centre: 0.3)
        }
        deconv(prefix + "lastconv.0", c, 52)
    }
    return state
}

func rife425WeightsURL() throws -> URL {
    try ModelStore().require(.rife425)
}

final class RIFE425Tests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    /// Runs the network on two frames at `times` (one recording, one Head pass) and returns the outputs.
    static func run(_ network: RIFE425, _ frame0: HostTensor, _ frame1: HostTensor, times: [Float]) throws -> (outputs: [HostTensor], flops: Double) {
        let (h, w) = (network.height, network.width)
        let tensors = try HostTensors([Int](repeating: 3 * h * w, count: 2 + times.count))
        let views = tensors.buffers.map { TensorView(buffer: $0, channels: 3, height: h, width: w) }
        tensors.write(frame0, to: views[0])
        tensors.write(frame1, to: views[1])
        network.setTimes(times)
        let sequence = try GPUSequence(context: sharedContext)
        let flops = try NetworkRecorder.record(sequence, context: sharedContext, weights: network.weights.buffer) { recorder in
            try network.recordFeatures(&recorder, frame0: views[0], frame1: views[1])
            for index in times.indices {
                try network.recordFrame(&recorder, frame0: views[0], frame1: views[1], timeIndex: index, output: views[2 + index])
            }
        }
        try sequence.run()
        return (times.indices.map { tensors.read(views[2 + $0]) }, flops)
    }

    /// The GPU network against the same network composed from the CPU reference operators, at two
    /// times in one recording (the time plane, and the state reused between times).
    func testRandomWeightsMatchCPUComposition() throws {
        let (h, w) = (128, 256)
        let state = randomRIFE425State(seed: 31)
        var generator = SplitMix64(seed: 32)
        let frame0 = randomTensor([3, h, w], &generator, range: 0...1), frame1 = randomTensor([3, h, w], &generator, range: 0...1)
        let network = try RIFE425(context: sharedContext, state: state, height: h, width: w, maxTimes: 2, precision: .float32)
        let times: [Float] = [0.3, 0.5]
        let (outputs, flops) = try Self.run(network, frame0, frame1, times: times)
        for (t, actual) in zip(times, outputs) {
            let expected = try RIFE425.reference(state: state, frame0: frame0, frame1: frame1, t: t)
            let error = relativeError(actual, expected)
            let mean = zip(actual.values, expected.values).map { abs($0 - $1) }.reduce(0, +) / Float(actual.count)
            print("RIFE 4.25 \(w)×\(h) random weights at t = \(t): \(flops / 1e9) GFLOP for both, max error \(error), mean \(mean)")
            XCTAssertLessThanOrEqual(error, OperatorTests.tolerance, "t = \(t)")
        }
        XCTAssertNotEqual(outputs[0], outputs[1], "t changes the output")
    }

    /// Every inference tensor is required, with its shape; the training-only ones are not.
    /// A profiled interpolator reports every dispatch under its layer type (ConvLayer.kind for the
    /// convolutions), with each type's FLOPs as counted by hand and adding up to the whole, and
    /// makes the same frame as an unprofiled one.
    func testProfileGroupsDispatchesByLayerType() throws {
        let (h, w) = (128, 128)
        let network = NeuralNetwork(.rife425, parameters: [randomRIFE425State(seed: 41)])
        let format = FrameFormat(width: w, height: h, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
        var generator = SplitMix64(seed: 42)
        let frames = (0..<2).map { _ in (0..<format.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        func synthesize(profiling: Bool) throws -> (NeuralInterpolator, [UInt8]) {
            let interpolator = try NeuralInterpolator(context: sharedContext, format: format, network: network, maxSteps: 1, precision: .float32)
            interpolator.profiling = profiling
            for frame in frames { try frame.withUnsafeBytes { try interpolator.append($0) } }
            try interpolator.synthesize(times: [0.5])
            return (interpolator, Array(interpolator.output(0)))
        }
        let (profiled, output) = try synthesize(profiling: true)
        XCTAssertEqual(output, try synthesize(profiling: false).1, "timestamps change nothing")
        let profile = try profiled.lastProfile()
        func stage(_ name: String) -> (milliseconds: Double, flops: Double, dispatches: Int)? {
            profile.first { $0.stage == name }.map { ($0.milliseconds, $0.flops, $0.dispatches) }
        }
        // 3×3 stride 1: the Head's cnn1 and cnn2 on both frames at half size, 8 ResConvs per block at 1/(4·scale).
        var stride1 = 2.0 * 2 * 2 * 9 * 16 * 16 * Double(h / 2 * w / 2)
        for (c, scale) in zip(RIFE425.channels, RIFE425.scales) { stride1 += 8 * 2 * 9 * Double(c * c) * Double(h / scale / 4 * (w / scale / 4)) }
        XCTAssertEqual(stage("conv 3×3 s1")?.flops ?? 0, stride1, accuracy: 1)
        // One dispatch a layer: on GPUs all blocks of output channels along z reading storage; on
        // lavapipe each workgroup reads its block from its own uniform window, and no layer has more
        // blocks than a dispatch has windows (c = 192: 24 blocks of 8 channels).
        XCTAssertLessThanOrEqual(192 / 8, NetworkRecorder.maxWindowsPerDispatch)
        XCTAssertEqual(stage("conv 3×3 s1")?.dispatches, 4 + 8 * 5)
        XCTAssertEqual(Set(profile.map(\.stage)), ["frame_to_tensor", "conv 3×3 s2", "conv 3×3 s1", "deconv 4×4 s2", "time_plane", "resize",
                                                   "block_input", "warp", "add", "mask_blend", "tensor_to_frame"])
        XCTAssertEqual(profile.reduce(0) { $0 + $1.flops }, profiled.lastFlops, accuracy: 1)
        XCTAssertTrue(profile.allSatisfy { $0.milliseconds >= 0 && $0.dispatches > 0 })
        XCTAssertTrue(try synthesize(profiling: false).0.lastProfile().isEmpty, "no timestamps unless profiling")
    }

    func testLoaderRefusesAFileMissingAnInferenceTensor() throws {
        let state = randomRIFE425State(seed: 33)
        XCTAssertEqual(state.count, 4 * 2 + 5 * (4 + 8 * 3 + 2))
        for name in ["encode.cnn3.bias", "block0.conv0.0.0.weight", "block2.convblock.7.beta", "block4.lastconv.0.weight"] {
            var missing = state
            missing[name] = nil
            XCTAssertThrowsError(try RIFE425(context: sharedContext, state: missing, height: 128, width: 128)) { error in
                XCTAssertEqual(error as? CheckpointError, .missingTensor(name: name))
            }
        }
        var misshapen = state
        misshapen["block1.convblock.0.beta"] = HostTensor(shape: [128], values: [Float](repeating: 1, count: 128))
        XCTAssertThrowsError(try RIFE425(context: sharedContext, state: misshapen, height: 128, width: 128)) { error in
            XCTAssertEqual(error as? CheckpointError, .wrongShape(name: "block1.convblock.0.beta", expected: [1, 128, 1, 1], actual: [128]))
        }
        var training = state
        training["teacher.conv0.0.0.weight"] = HostTensor(shape: [1], values: [0])
        training["caltime.0.weight"] = HostTensor(shape: [1], values: [0])
        XCTAssertNoThrow(try RIFE425(context: sharedContext, state: training, height: 128, width: 128))
    }

    /// The pretrained network on a 128×128 crop of a Middlebury pair at t = 0.3 against the NumPy
    /// port of ifnet.py (Tests/reference/rife_v425.py).
    func testPretrainedMatchesNumPyReference() throws {
        let weights = try rife425WeightsURL()
        let (h, w) = (128, 128)
        let crops = try ["frame10", "frame11"].map { name -> HostTensor in
            let image = try readImage(path: try sharedData("middlebury/RubberWhale/\(name).png"))
            // RGB in [0, 1], from a crop with motion near the wheel's centre.
            let (top, left) = (120, 180)
            var values = [Float](repeating: 0, count: 3 * h * w)
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 { values[(c * h + y) * w + x] = Float(image.rgb[((top + y) * image.width + left + x) * 3 + c]) / 255 }
                }
            }
            return HostTensor(shape: [3, h, w], values: values)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-rife425-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = [folder.appendingPathComponent("in0.npy"), folder.appendingPathComponent("in1.npy")]
        let outputURL = folder.appendingPathComponent("out.npy")
        for (crop, url) in zip(crops, inputs) { try NumPyFile.write(crop, to: url) }
        _ = try PythonReference.run("rife_v425.py", [weights.path, inputs[0].path, inputs[1].path, outputURL.path, "--time", "0.3"])
        let expected = try NumPyFile.read(outputURL)

        let network = try RIFE425(context: sharedContext, state: try TorchCheckpoint.loadStateDict(from: weights), height: h, width: w,
                                  maxTimes: 1, precision: .float32)
        let actual = try Self.run(network, crops[0], crops[1], times: [0.3]).outputs[0]
        let differences = zip(actual.values, expected.values).map { abs($0 - $1) }
        let worst = differences.max()!, mean = differences.reduce(0, +) / Float(differences.count)
        print("RIFE 4.25 pretrained 128×128 at t = 0.3 vs NumPy: max |diff| \(worst), mean \(mean)")
        XCTAssertLessThanOrEqual(worst, OperatorTests.tolerance)
    }
}
