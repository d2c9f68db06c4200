import Foundation
import XCTest
@testable import SloMoNeural

/// The NumPy references in Tests/reference that the networks are tested against: they must agree with
/// PyTorch (golden frames), speak .npy with Swift, and write checkpoints Swift reads.
final class ReferenceTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private var sharedData: URL {
        if let path = ProcessInfo.processInfo.environment["SLOMO_SHARED_DATA"] { return URL(fileURLWithPath: path) }
        return PythonReference.repositoryRoot.appendingPathComponent("../shared/data").standardized
    }

    private func rifeWeights() throws -> URL {
        try XCTUnwrap(ModelStore().locate(.rifeHDv3), "RIFE HD v3 weights are missing: run scripts/fetch-models.sh (scripts/setup.sh --test does)")
    }

    func testRIFEReferenceReproducesPyTorchGoldenFrame() throws {
        let golden = sharedData.appendingPathComponent("rife-hdv3-reference/Dimetrodon.png")
        guard FileManager.default.fileExists(atPath: golden.path) else { throw XCTSkip("no shared data at \(sharedData.path)") }
        // Exits non-zero when any pixel is more than 2 levels off PyTorch's frame.
        let report = try PythonReference.run("rife_goldens.py", [try rifeWeights().path, sharedData.path, "Dimetrodon", "--tolerance", "2"])
        XCTAssertTrue(report.contains("PSNR 39.97 dB"), report)
    }

    func testNumPyOperationsFollowPyTorchSemantics() throws {
        XCTAssertEqual(try PythonReference.run("nnops_selftest.py", []), "ok\n")
    }

    func testRIFEReferenceReadsAndWritesNumPyFilesWithSwift() throws {
        // Two frames of a diagonal ramp, the second shifted right by 3 pixels.
        let (height, width) = (64, 96)
        func frame(shift: Int) -> HostTensor {
            var values = [Float]()
            for channel in 0..<3 {
                for y in 0..<height {
                    for x in 0..<width { values.append(Float((x - shift + 2 * y + 17 * channel) % 97) / 96) }
                }
            }
            return HostTensor(shape: [3, height, width], values: values)
        }
        let in0 = folder.appendingPathComponent("in0.npy"), in1 = folder.appendingPathComponent("in1.npy")
        try NumPyFile.write(frame(shift: 0), to: in0)
        try NumPyFile.write(frame(shift: 3), to: in1)
        XCTAssertEqual(try NumPyFile.read(in0), frame(shift: 0))

        let out = folder.appendingPathComponent("out.npy"), dump = folder.appendingPathComponent("dump")
        _ = try PythonReference.run("rife_hdv3.py", [try rifeWeights().path, in0.path, in1.path, out.path, "--dump", dump.path])
        let merged = try NumPyFile.read(out)
        XCTAssertEqual(merged.shape, [3, height, width])
        XCTAssertEqual(merged, try NumPyFile.read(dump.appendingPathComponent("block2_merged.npy")))
        XCTAssertEqual(try NumPyFile.read(dump.appendingPathComponent("block0_dir0_input.npy")).shape, [11, height / 4, width / 4])
        XCTAssertEqual(try NumPyFile.read(dump.appendingPathComponent("block0_dir1_convblock3.npy")).shape, [90, height / 16, width / 16])
        XCTAssertEqual(try NumPyFile.read(dump.appendingPathComponent("block2_flow.npy")).shape, [4, height, width])
        // The middle of a 3-pixel shift: the flow towards frame 0 points about 1.5 pixels left.
        let flow = try NumPyFile.read(dump.appendingPathComponent("block2_flow.npy"))
        let inner = (16..<48).flatMap { y in (16..<80).map { x in flow.values[y * width + x] } }
        XCTAssertEqual(inner.reduce(0, +) / Float(inner.count), -1.5, accuracy: 0.5)
    }

    func testSuperSloMoCheckpointsLoadInBothFormats() throws {
        for format in ["zip", "legacy"] {
            let url = folder.appendingPathComponent("superslomo-\(format).ckpt")
            _ = try PythonReference.run("make_superslomo_checkpoint.py", [url.path, "--seed", "3", "--format", format])
            let flow = try TorchCheckpoint.loadStateDict(from: url, key: "state_dictFC")
            let interp = try TorchCheckpoint.loadStateDict(from: url, key: "state_dictAT")
            XCTAssertEqual(flow.count, 46)
            XCTAssertEqual(interp.count, 46)
            XCTAssertNoThrow(try flow.tensor("conv1.weight", shape: [32, 6, 7, 7]))
            XCTAssertNoThrow(try flow.tensor("down1.conv1.weight", shape: [64, 32, 5, 5]))
            XCTAssertNoThrow(try flow.tensor("up1.conv2.weight", shape: [512, 1024, 3, 3]))
            XCTAssertNoThrow(try flow.tensor("conv3.weight", shape: [4, 32, 3, 3]))
            XCTAssertNoThrow(try interp.tensor("conv1.weight", shape: [32, 20, 7, 7]))
            XCTAssertNoThrow(try interp.tensor("conv3.bias", shape: [5]))
            // The same seed gives the same weights in either format.
            if format == "legacy" {
                let zip = try TorchCheckpoint.loadStateDict(from: folder.appendingPathComponent("superslomo-zip.ckpt"), key: "state_dictAT")
                XCTAssertEqual(zip, interp)
            }
        }
    }
}
