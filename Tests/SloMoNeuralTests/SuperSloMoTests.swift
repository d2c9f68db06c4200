import Foundation
import SloMoCore
import SloMoGPU
import SloMoMedia
@testable import SloMoNeural
import XCTest

/// Super SloMo on the GPU against Tests/reference/superslomo.py (the public implementation's forward
/// in NumPy), with random weights in the public checkpoint layout written by make_superslomo_checkpoint.py.
final class SuperSloMoTests: XCTestCase {
    /// Largest |GPU − NumPy| allowed on the output (RGB, [0, 1] scale), under a tenth of an 8-bit level.
    /// fp32 through two 23-layer U-Nets and four warps, with summation orders that differ from NumPy's
    /// matmul; measured 1.5e-5 on a Middlebury crop and up to about 1e-4 on random-noise frames, whose
    /// steep gradients turn the flows' rounding differences into larger warp differences.
    static let tolerance: Float = 3e-4

    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-superslomo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
        assertNoValidationMessages()
    }

    private func checkpoint(format: String, seed: Int = 7, omit: String? = nil) throws -> URL {
        let url = folder.appendingPathComponent("superslomo-\(format)-\(seed).ckpt")
        _ = try PythonReference.run("make_superslomo_checkpoint.py",
                                    [url.path, "--seed", "\(seed)", "--format", format] + (omit.map { ["--omit", $0] } ?? []))
        return url
    }

    /// A crop of a Middlebury frame as a (3, h, w) RGB tensor in [0, 1].
    private func middleburyCrop(_ name: String, frame: Int, top: Int, left: Int, height: Int, width: Int) throws -> HostTensor {
        let image = try readImage(path: try sharedData("middlebury/\(name)/frame\(frame).png"))
        var values = [Float](repeating: 0, count: 3 * height * width)
        for c in 0..<3 {
            for y in 0..<height {
                for x in 0..<width { values[(c * height + y) * width + x] = Float(image.rgb[((top + y) * image.width + left + x) * 3 + c]) / 255 }
            }
        }
        return HostTensor(shape: [3, height, width], values: values)
    }

    private func reversedChannels(_ x: HostTensor) -> HostTensor {
        let plane = x.shape[1] * x.shape[2]
        return HostTensor(shape: x.shape, values: (0..<x.count).map { x.values[(2 - $0 / plane) * plane + $0 % plane] })
    }

    /// Runs the GPU network on one pair for several times in one recording (the flow U-Net once) and
    /// compares each output with superslomo.py's.
    private func compare(state: (flow: StateDict, interpolation: StateDict), checkpoint: URL, rgb0: HostTensor, rgb1: HostTensor,
                         times: [Float], label: String) throws {
        let (h, w) = (rgb0.shape[1], rgb0.shape[2])
        let network = try SuperSloMo(context: sharedContext, flow: state.flow, interpolation: state.interpolation,
                                     height: h, width: w, maxSteps: times.count)
        let plane = 3 * h * w
        let tensors = try HostTensors([plane, plane] + times.map { _ in plane })
        let views = tensors.buffers.map { TensorView(buffer: $0, channels: 3, height: h, width: w) }
        // The network takes BGR, as NeuralInterpolator's tensors are.
        tensors.write(reversedChannels(rgb0), to: views[0])
        tensors.write(reversedChannels(rgb1), to: views[1])
        network.setTimes(times)
        let sequence = try GPUSequence(context: sharedContext)
        let flops = try NetworkRecorder.record(sequence, context: sharedContext, weights: network.flowWeights.buffer) { recorder in
            try network.recordFlow(&recorder, frame0: views[0], frame1: views[1])
            for step in times.indices { try network.recordFrame(&recorder, step: step, output: views[2 + step]) }
        }
        try sequence.run()

        let in0 = folder.appendingPathComponent("in0.npy"), in1 = folder.appendingPathComponent("in1.npy")
        try NumPyFile.write(rgb0, to: in0)
        try NumPyFile.write(rgb1, to: in1)
        for (step, t) in times.enumerated() {
            let out = folder.appendingPathComponent("out.npy")
            _ = try PythonReference.run("superslomo.py", [checkpoint.path, in0.path, in1.path, "\(t)", out.path])
            let expected = try NumPyFile.read(out)
            let actual = reversedChannels(tensors.read(views[2 + step]))
            let differences = zip(actual.values, expected.values).map { abs($0 - $1) }
            let worst = differences.max()!, mean = differences.reduce(0, +) / Float(differences.count)
            // The output must depend on the frames and the time: not a copy of either input.
            let fromInputs = zip(expected.values, rgb0.values).map { abs($0 - $1) }.max()!
            print("Super SloMo \(label) \(w)×\(h) t = \(t): max |GPU − NumPy| \(worst), mean \(mean) "
                + "(output range \(expected.values.min()!)…\(expected.values.max()!), max change from frame 0 \(fromInputs)); "
                + "\(String(format: "%.2f", flops / 1e9)) GFLOP for \(times.count) times")
            XCTAssertLessThanOrEqual(worst, Self.tolerance, "\(label) \(w)×\(h) t = \(t)")
            XCTAssertGreaterThan(fromInputs, 0.05)
        }
    }

    func testRandomWeightsMatchNumPyReferenceInBothCheckpointFormats() throws {
        var generator = SplitMix64(seed: 21)
        for format in ["zip", "legacy"] {
            let url = try checkpoint(format: format)
            let state = try SuperSloMo.loadStateDicts(from: url)
            let (h, w) = format == "zip" ? (64, 64) : (64, 96)
            let rgb0 = randomTensor([3, h, w], &generator, range: 0...1), rgb1 = randomTensor([3, h, w], &generator, range: 0...1)
            try compare(state: state, checkpoint: url, rgb0: rgb0, rgb1: rgb1, times: [0.25, 0.5], label: "\(format), random frames")
        }
    }

    func testMiddleburyCropMatchesNumPyReference() throws {
        let url = try checkpoint(format: "zip", seed: 8)
        let rgb0 = try middleburyCrop("RubberWhale", frame: 10, top: 150, left: 200, height: 64, width: 96)
        let rgb1 = try middleburyCrop("RubberWhale", frame: 11, top: 150, left: 200, height: 64, width: 96)
        try compare(state: try SuperSloMo.loadStateDicts(from: url), checkpoint: url, rgb0: rgb0, rgb1: rgb1,
                    times: [0.25, 0.5], label: "RubberWhale crop")
    }

    func testCheckpointWithoutInterpolationNetIsAOneLineError() throws {
        let url = try checkpoint(format: "zip", omit: "state_dictAT")
        XCTAssertThrowsError(try NeuralNetwork.load(.superSloMo, checkpoint: url)) { error in
            XCTAssertEqual(error as? CheckpointError, .missingKey(path: url.path, key: "state_dictAT"))
            XCTAssertEqual("\(error)", "checkpoint \(url.path) has no entry 'state_dictAT'")
        }
    }

    /// A Super SloMo checkpoint given where RIFE's flownet.pkl is expected (`--mode rife`) is refused in one line.
    func testSuperSloMoCheckpointIsNotTakenForRIFE() throws {
        let url = try checkpoint(format: "zip")
        XCTAssertThrowsError(try NeuralNetwork.load(.rifeHDv3, checkpoint: url)) { error in
            print("RIFE loader on a Super SloMo checkpoint: \(error)")
            XCTAssertTrue(error is CheckpointError)
            XCTAssertTrue("\(error)".contains(url.path))
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    func testSwappedStateDictsNameTheWrongTensor() throws {
        let state = try SuperSloMo.loadStateDicts(from: try checkpoint(format: "legacy"))
        XCTAssertThrowsError(try SuperSloMo(context: sharedContext, flow: state.interpolation, interpolation: state.flow, height: 32, width: 32)) { error in
            XCTAssertEqual(error as? CheckpointError, .wrongShape(name: "conv1.weight", expected: [32, 6, 7, 7], actual: [32, 20, 7, 7]))
        }
        var partial = state.flow
        partial["up3.conv2.bias"] = nil
        XCTAssertThrowsError(try SuperSloMo(context: sharedContext, flow: partial, interpolation: state.interpolation, height: 32, width: 32)) { error in
            XCTAssertEqual("\(error)", "the checkpoint has no tensor 'up3.conv2.bias'")
        }
    }

    /// Through NeuralInterpolator on rgb24 Middlebury frames whose size is not a multiple of 32: the
    /// packed outputs at three times in one call equal superslomo.py's on the zero-padded frames (as the
    /// interpolator pads them) to within one 8-bit level, and a second pair replays the recording with
    /// new times.
    func testInterpolatorMatchesNumPyReferenceOnPaddedFrames() throws {
        let url = try checkpoint(format: "zip", seed: 9)
        let first = try readImage(path: try sharedData("middlebury/RubberWhale/frame10.png"))
        let second = try readImage(path: try sharedData("middlebury/RubberWhale/frame11.png"))
        // A 100×76 crop keeps lavapipe's time down and is padded to 128×96.
        let (w, h, left, top) = (100, 76, 240, 160)
        let format = FrameFormat(width: w, height: h, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
        func crop(_ image: (width: Int, height: Int, rgb: [UInt8])) -> [UInt8] {
            var bytes = [UInt8]()
            for y in top..<top + h {
                let start = (y * image.width + left) * 3
                bytes += image.rgb[start..<start + 3 * w]
            }
            return bytes
        }
        let frames = [crop(first), crop(second)]
        let interpolator = try NeuralInterpolator(context: sharedContext, format: format, network: try .load(.superSloMo, checkpoint: url), maxSteps: 3)
        XCTAssertEqual(interpolator.paddedHeight, 96)
        XCTAssertEqual(interpolator.paddedWidth, 128)
        for frame in frames { try frame.withUnsafeBytes { try interpolator.append($0) } }
        let times: [Float] = [0.2, 0.5, 0.9]
        let result = try interpolator.synthesize(times: times)
        XCTAssertFalse(result.sceneCut)
        let outputs = (0..<3).map { Array(interpolator.output($0)) }
        let flops = interpolator.lastFlops

        func padded(_ bytes: [UInt8]) -> HostTensor {
            var values = [Float](repeating: 0, count: 3 * 96 * 128)
            for c in 0..<3 {
                for y in 0..<h {
                    for x in 0..<w { values[(c * 96 + y) * 128 + x] = Float(bytes[(y * w + x) * 3 + c]) / 255 }
                }
            }
            return HostTensor(shape: [3, 96, 128], values: values)
        }
        let in0 = folder.appendingPathComponent("in0.npy"), in1 = folder.appendingPathComponent("in1.npy")
        try NumPyFile.write(padded(frames[0]), to: in0)
        try NumPyFile.write(padded(frames[1]), to: in1)
        for (index, t) in times.enumerated() {
            let out = folder.appendingPathComponent("out.npy")
            _ = try PythonReference.run("superslomo.py", [url.path, in0.path, in1.path, "\(t)", out.path])
            let expected = try NumPyFile.read(out)
            var worst = 0, moved = 0
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 {
                        let level = Int((min(max(expected.values[(c * 96 + y) * 128 + x], 0), 1) * 255).rounded())
                        let at = (y * w + x) * 3 + c
                        worst = max(worst, abs(Int(outputs[index][at]) - level))
                        moved = max(moved, abs(Int(outputs[index][at]) - Int(frames[0][at])))
                    }
                }
            }
            print("Super SloMo interpolator \(w)×\(h) rgb24 t = \(t): max |output − NumPy| \(worst) levels, "
                + "max change from frame 10 \(moved) levels; \(String(format: "%.2f", flops / 1e9)) GFLOP for 3 times")
            XCTAssertLessThanOrEqual(worst, 1, "t = \(t)")
            XCTAssertGreaterThan(moved, 10, "t = \(t)")
        }

        // The next pair (frames swapped) replays the recording for three times with new t values.
        try frames[0].withUnsafeBytes { try interpolator.append($0) }
        try interpolator.synthesize(times: [0.1, 0.5, 0.8])
        XCTAssertEqual(interpolator.lastFlops, flops)
        XCTAssertNotEqual(Array(interpolator.output(0)), outputs[0])
    }
}
