import Foundation
import SloMoGPU
import SloMoMedia
@testable import SloMoNeural
import XCTest

/// RIFE HD v3's random-weight state dict: IFNet's keys and shapes, weights scaled by 1/√fan-in so
/// activations stay in the range the trained network sees.
func randomRIFEState(seed: UInt64) -> StateDict {
    var generator = SplitMix64(seed: seed)
    var state = StateDict()
    let c = RIFE.channels
    func add(_ name: String, _ shape: [Int], scale: Float) {
        state[name] = randomTensor(shape, &generator, range: -scale...scale)
    }
    for block in 0..<3 {
        let prefix = "block\(block)."
        func conv(_ name: String, _ i: Int, _ o: Int) {
            add(prefix + name + ".0.weight", [o, i, 3, 3], scale: (3 / Float(i * 9)).squareRoot())
            add(prefix + name + ".0.bias", [o], scale: 0.1)
            add(prefix + name + ".1.weight", [o], scale: 0.25)
        }
        conv("conv0.0", 11, c / 2)
        conv("conv0.1", c / 2, c)
        for j in 0..<4 {
            conv("convblock\(j).0", c, c)
            conv("convblock\(j).1", c, c)
        }
        for (name, out) in [("conv1", 4), ("conv2", 1)] {
            add(prefix + name + ".0.weight", [c, c / 2, 4, 4], scale: (3 / Float(c * 4)).squareRoot())
            add(prefix + name + ".0.bias", [c / 2], scale: 0.1)
            add(prefix + name + ".1.weight", [c / 2], scale: 0.25)
            add(prefix + name + ".2.weight", [c / 2, out, 4, 4], scale: (3 / Float(c / 2 * 4)).squareRoot())
            add(prefix + name + ".2.bias", [out], scale: 0.1)
        }
    }
    return state
}

final class RIFETests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    /// The GPU network against the same network composed from the CPU reference operators.
    func testRandomWeightsMatchCPUComposition() throws {
        // The same fp32 tolerance as each operator's: measured 4e-6 through 3 blocks × 14 layers and the warps.
        try checkRandomWeights(.float32, tolerance: OperatorTests.tolerance)
    }

    /// With float16 weights against the float32 CPU composition: the rounding of every weight,
    /// through 42 layers, three warps and the sigmoid mask, on an output in [0, 1]. Measured: max
    /// 5.2e-4, mean 5.6e-5; the tolerance, 2e-3, is half an 8-bit level.
    func testFloat16RandomWeightsMatchCPUComposition() throws {
        try XCTSkipUnless(sharedContext.supportsFloat16Storage, "no 16-bit storage on \(sharedContext.info.name)")
        try checkRandomWeights(.float16, tolerance: 2e-3)
    }

    /// A device opened without 16-bit storage (as one that lacks it) runs networks in float32, with
    /// the same result as a device that has it, and the validation layer sees no 16-bit use.
    func testDeviceWithoutFloat16StorageRunsFloat32() throws {
        var options = GPUOptions(validation: true)
        options.float16 = false
        let context = try GPUContext(options: options)
        XCTAssertFalse(context.supportsFloat16Storage)
        XCTAssertEqual(NeuralPrecision.preferred(for: context), .float32)
        XCTAssertEqual(NeuralPrecision.default(for: context), .float32)
        let (h, w) = (32, 64)
        let state = randomRIFEState(seed: 13)
        var generator = SplitMix64(seed: 14)
        let frames = (0..<2).map { _ in randomTensor([3, h, w], &generator, range: 0...1) }
        func run(_ context: GPUContext, _ precision: NeuralPrecision?) throws -> [Float] {
            let network = try RIFE(context: context, state: state, height: h, width: w, precision: precision)
            XCTAssertEqual(network.precision, .float32)
            let arena = BufferArena(context: context, placement: .host)
            let buffers = try arena.allocate((0..<3).map { ("tensor \($0)", 3 * h * w * 4) })
            let views = buffers.map { TensorView(buffer: $0, channels: 3, height: h, width: w) }
            for (frame, buffer) in zip(frames, buffers) {
                frame.values.withUnsafeBytes { buffer.contents!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            let sequence = try GPUSequence(context: context)
            try NetworkRecorder.record(sequence, context: context, weights: network.weights.buffer) {
                try network.record(&$0, frame0: views[0], frame1: views[1], output: views[2])
            }
            try sequence.run()
            return Array(UnsafeBufferPointer(start: buffers[2].contents!.bindMemory(to: Float.self, capacity: 3 * h * w), count: 3 * h * w))
        }
        XCTAssertEqual(try run(context, nil), try run(sharedContext, .float32))
        XCTAssertTrue(context.validationLog.messages.isEmpty, context.validationLog.messages.prefix(3).joined(separator: "\n"))
    }

    private func checkRandomWeights(_ precision: NeuralPrecision, tolerance: Float) throws {
        let (h, w) = (64, 96)
        let state = randomRIFEState(seed: 11)
        var generator = SplitMix64(seed: 12)
        let frame0 = randomTensor([3, h, w], &generator, range: 0...1), frame1 = randomTensor([3, h, w], &generator, range: 0...1)
        let expected = try RIFE.reference(state: state, frame0: frame0, frame1: frame1)

        let network = try RIFE(context: sharedContext, state: state, height: h, width: w, precision: precision)
        let tensors = try HostTensors([3 * h * w, 3 * h * w, 3 * h * w])
        let views = tensors.buffers.map { TensorView(buffer: $0, channels: 3, height: h, width: w) }
        tensors.write(frame0, to: views[0])
        tensors.write(frame1, to: views[1])
        let sequence = try GPUSequence(context: sharedContext)
        let flops = try NetworkRecorder.record(sequence, context: sharedContext, weights: network.weights.buffer) { recorder in
            try network.record(&recorder, frame0: views[0], frame1: views[1], output: views[2])
        }
        try sequence.run()
        let actual = tensors.read(views[2])
        let error = relativeError(actual, expected)
        let mean = zip(actual.values, expected.values).map { abs($0 - $1) }.reduce(0, +) / Float(actual.count)
        print("RIFE \(w)×\(h) random weights, \(precision) weights: \(flops / 1e9) GFLOP, max error \(error), mean \(mean)")
        XCTAssertLessThanOrEqual(error, tolerance, "\(precision)")
    }

    /// Speed at 640×480 (printed, not asserted: it depends on the device and its load), with the time
    /// per shader from GPU timestamps; float32 and, where the device has 16-bit storage, float16 weights.
    func testSpeedAt640x480() throws {
        for precision in sharedContext.supportsFloat16Storage ? [NeuralPrecision.float32, .float16] : [.float32] {
            try measureSpeed(precision)
        }
    }

    private func measureSpeed(_ precision: NeuralPrecision) throws {
        let (h, w) = (480, 640)
        let network = try RIFE(context: sharedContext, state: randomRIFEState(seed: 1), height: h, width: w, precision: precision)
        let arena = BufferArena(context: sharedContext, placement: .device)
        let views = try arena.allocate((0..<3).map { ("frame \($0)", 3 * h * w * 4) }).map { TensorView(buffer: $0, channels: 3, height: h, width: w) }
        let sequence = try GPUSequence(context: sharedContext, profiled: true)
        let flops = try NetworkRecorder.record(sequence, context: sharedContext, weights: network.weights.buffer) {
            try network.record(&$0, frame0: views[0], frame1: views[1], output: views[2])
        }
        try sequence.run()  // compiles the pipelines
        // CPU time too: on lavapipe it is the work done, while wall time depends on the machine's load.
        func cpuMilliseconds() -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3
        }
        let start = DispatchTime.now().uptimeNanoseconds, startCPU = cpuMilliseconds()
        try sequence.run()
        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6, cpu = cpuMilliseconds() - startCPU
        var perShader: [String: Double] = [:]
        for (stage, time) in try sequence.stageMilliseconds() { perShader[stage, default: 0] += time }
        print(String(format: "RIFE HD v3 %d×%d, %@ weights (%.1f MB) on %@: %.0f ms/frame (%.0f ms of CPU), %.1f GFLOP, %.2f GFLOP/s (%.2f per CPU-second)",
                     w, h, precision.description, Double(network.weights.byteCount) / 1e6, sharedContext.info.name, milliseconds, cpu, flops / 1e9, flops / milliseconds / 1e6, flops / cpu / 1e6))
        print(perShader.sorted { $0.value > $1.value }.map { String(format: "  %@ %.0f ms", $0.key, $0.value) }.joined(separator: "\n"))
    }

    /// The pretrained network on a 64×96 crop of a Middlebury pair against the NumPy port of
    /// IFNet_HDv3.py (Tests/reference/rife_hdv3.py).
    func testPretrainedMatchesNumPyReference() throws {
        let weights = try rifeWeightsURL()
        let (h, w) = (64, 96)
        let crops = try ["frame10", "frame11"].map { name -> HostTensor in
            let image = try readImage(path: try sharedData("middlebury/RubberWhale/\(name).png"))
            // BGR in [0, 1], from a crop with motion near the wheel's centre.
            let (top, left) = (150, 200)
            var values = [Float](repeating: 0, count: 3 * h * w)
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 { values[(c * h + y) * w + x] = Float(image.rgb[((top + y) * image.width + left + x) * 3 + 2 - c]) / 255 }
                }
            }
            return HostTensor(shape: [3, h, w], values: values)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-rife-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = [folder.appendingPathComponent("in0.npy"), folder.appendingPathComponent("in1.npy")]
        let outputURL = folder.appendingPathComponent("out.npy")
        for (crop, url) in zip(crops, inputs) { try NumPyFile.write(crop, to: url) }
        _ = try PythonReference.run("rife_hdv3.py", [weights.path, inputs[0].path, inputs[1].path, outputURL.path])
        let expected = try NumPyFile.read(outputURL)

        let network = try RIFE(context: sharedContext, state: try TorchCheckpoint.loadStateDict(from: weights), height: h, width: w,
                               precision: .float32)
        let tensors = try HostTensors([3 * h * w, 3 * h * w, 3 * h * w])
        let views = tensors.buffers.map { TensorView(buffer: $0, channels: 3, height: h, width: w) }
        tensors.write(crops[0], to: views[0])
        tensors.write(crops[1], to: views[1])
        let sequence = try GPUSequence(context: sharedContext)
        try NetworkRecorder.record(sequence, context: sharedContext, weights: network.weights.buffer) {
            try network.record(&$0, frame0: views[0], frame1: views[1], output: views[2])
        }
        try sequence.run()
        let actual = tensors.read(views[2])
        let differences = zip(actual.values, expected.values.map { $0 }).map { abs($0 - $1) }
        let worst = differences.max()!, mean = differences.reduce(0, +) / Float(differences.count)
        print("RIFE pretrained 96×64 vs NumPy: max |diff| \(worst), mean \(mean)")
        // fp32 in both, summed in different orders through 42 layers and three warps: measured 1e-6.
        XCTAssertLessThanOrEqual(worst, OperatorTests.tolerance)
    }
}
