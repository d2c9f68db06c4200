import Foundation
import XCTest
@testable import SloMoNeural

final class CheckpointTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    // MARK: - The real RIFE weights

    func testRIFEWeightsLoadAsTheNumPyReaderReadsThem() throws {
        let url = try XCTUnwrap(ModelStore().locate(.rifeHDv3),
                                "RIFE HD v3 weights are missing: run scripts/fetch-models.sh (scripts/setup.sh --test does)")
        let weights = try TorchCheckpoint.loadStateDict(from: url)
        // Four IFBlocks (three used at inference, plus the training-only teacher) of 40 tensors each.
        XCTAssertEqual(weights.count, 160)
        XCTAssertEqual(try weights.tensor("block0.conv0.0.0.weight", shape: [45, 11, 3, 3]).count, 45 * 11 * 9)
        XCTAssertNoThrow(try weights.tensor("block2.conv1.0.weight", shape: [90, 45, 4, 4]))
        XCTAssertNoThrow(try weights.tensor("block_tea.conv0.0.0.weight", shape: [45, 14, 3, 3]))
        XCTAssertFalse(weights.keys.contains { $0.hasPrefix("module.") })

        let lines = try PythonReference.run("torch_pickle.py", ["checksums", url.path]).split(separator: "\n")
        XCTAssertEqual(lines.count, weights.count)
        for line in lines {
            let fields = line.split(separator: " ")
            let name = String(fields[0])
            let tensor = try XCTUnwrap(weights[name], "NumPy reads \(name), Swift does not")
            XCTAssertEqual("[" + tensor.shape.map(String.init).joined(separator: ",") + "]", String(fields[1]), name)
            XCTAssertEqual(String(checksum(tensor)), String(fields[2]), "values of \(name) differ")
        }
    }

    /// The checksum torch_pickle.py prints: the sum of (float32 bits of element i) × (i + 1), modulo 2⁶⁴.
    private func checksum(_ tensor: HostTensor) -> UInt64 {
        var sum: UInt64 = 0
        for (index, value) in tensor.values.enumerated() { sum &+= UInt64(value.bitPattern) &* UInt64(index + 1) }
        return sum
    }

    // MARK: - Fixtures written like torch.save

    private struct Expected: Decodable {
        let shape: [Int]
        let values: [Double]
    }

    private func fixture(_ format: String, nested: Bool = false) throws -> (URL, [String: Expected]) {
        let url = folder.appendingPathComponent("fixture-\(format)\(nested ? "-nested" : "").pt")
        let json = try PythonReference.run("torch_pickle.py", ["fixture", url.path, "--format", format, "--seed", "7"] + (nested ? ["--nested"] : []))
        return (url, try JSONDecoder().decode([String: Expected].self, from: Data(json.utf8)))
    }

    private func assertMatches(_ weights: StateDict, _ expected: [String: Expected], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(weights.keys), Set(expected.keys), file: file, line: line)
        for (name, want) in expected {
            guard let tensor = weights[name] else { continue }
            XCTAssertEqual(tensor.shape, want.shape, name, file: file, line: line)
            XCTAssertEqual(tensor.values, want.values.map { Float($0) }, name, file: file, line: line)
        }
    }

    func testZipFixtureRoundTripsExactly() throws {
        let (url, expected) = try fixture("zip")
        let weights = try TorchCheckpoint.loadStateDict(from: url)
        assertMatches(weights, expected)
        // The transposed view, gathered: element (row, column) of the transpose is the storage's (column, row).
        XCTAssertEqual(weights["fc.weight_t"]?.shape, [7, 5])
        XCTAssertEqual(weights["half"]?.shape, [2, 3, 4])
        XCTAssertEqual(weights["bn.num_batches_tracked"]?.values, [12345])
    }

    func testLegacyFixtureRoundTripsExactly() throws {
        let (url, expected) = try fixture("legacy")
        assertMatches(try TorchCheckpoint.loadStateDict(from: url), expected)
    }

    func testNestedStateDictsLoadByKey() throws {
        for format in ["zip", "legacy"] {
            let (url, expected) = try fixture(format, nested: true)
            // One is saved with "module." prefixes, the other without; both load under the bare names.
            assertMatches(try TorchCheckpoint.loadStateDict(from: url, key: "state_dictFC"), expected)
            assertMatches(try TorchCheckpoint.loadStateDict(from: url, key: "state_dictAT"), expected)
            assertThrows(try TorchCheckpoint.loadStateDict(from: url), containing: "state_dictFC, state_dictAT") {
                if case .unexpectedObject = $0 { return true } else { return false }
            }
            assertThrows(try TorchCheckpoint.loadStateDict(from: url, key: "state_dictXY"), containing: "'state_dictXY'") {
                $0 == .missingKey(path: url.path, key: "state_dictXY")
            }
            // Laid out like Super SloMo's training checkpoints, timestamp (a datetime) and loss lists included.
            assertThrows(try TorchCheckpoint.loadStateDict(from: url, key: "timestamp"), containing: "'timestamp' is a datetime.datetime") {
                if case .unexpectedObject = $0 { return true } else { return false }
            }
        }
    }

    // MARK: - Bad input

    private func assertThrows<T>(_ expression: @autoclosure () throws -> T, containing text: String,
                                 file: StaticString = #filePath, line: UInt = #line, _ matches: (CheckpointError) -> Bool) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let error = error as? CheckpointError else { return XCTFail("threw \(error), not a CheckpointError", file: file, line: line) }
            XCTAssertTrue(matches(error), "wrong error: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(text), "'\(error)' does not mention \(text)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "not one line: \(error)", file: file, line: line)
        }
    }

    func testTruncatedFilesThrow() throws {
        for format in ["zip", "legacy"] {
            let (url, _) = try fixture(format)
            let bytes = try Data(contentsOf: url)
            for length in [bytes.count - 10, bytes.count / 2, 40] {
                let cut = folder.appendingPathComponent("cut-\(format)-\(length).pt")
                try bytes.prefix(length).write(to: cut)
                assertThrows(try TorchCheckpoint.loadStateDict(from: cut), containing: cut.lastPathComponent) {
                    if case .truncated = $0 { return true } else { return false }
                }
            }
        }
    }

    func testFilesThatAreNotCheckpointsThrow() throws {
        let text = folder.appendingPathComponent("notes.txt")
        try Data("just some text\n".utf8).write(to: text)
        assertThrows(try TorchCheckpoint.loadStateDict(from: text), containing: "not a PyTorch checkpoint") { $0 == .notATorchFile(path: text.path) }

        // A well-formed pickle of an empty dict, without torch's magic number in front.
        let plainPickle = folder.appendingPathComponent("plain.pkl")
        try Data([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]).write(to: plainPickle)
        assertThrows(try TorchCheckpoint.loadStateDict(from: plainPickle), containing: "plain.pkl") { $0 == .notATorchFile(path: plainPickle.path) }

        let missing = folder.appendingPathComponent("absent.pt")
        assertThrows(try TorchCheckpoint.loadStateDict(from: missing), containing: "absent.pt") {
            if case .unreadable = $0 { return true } else { return false }
        }
    }

    func testNamesFromTheFileCannotBreakTheOneLineMessage() {
        // A damaged record name once carried a newline into the message (the fuzz test below found it).
        let error = CheckpointError.truncated(path: "/tmp/x.pt", detail: "storage '4' has no record f\nxture/data/4\u{7F}")
        XCTAssertEqual(error.description, "checkpoint /tmp/x.pt is truncated: storage '4' has no record f\\u{a}xture/data/4\\u{7f}")
    }

    func testCorruptedFilesThrowInsteadOfCrashing() throws {
        // Every kind of damage must end in a CheckpointError (or, where the damage misses what is read, a load).
        var generator = SystemRandomNumberGenerator()
        for (format, nested) in [("zip", false), ("legacy", false), ("zip", true), ("legacy", true)] {
            let (url, _) = try fixture(format, nested: nested)
            let original = Array(try Data(contentsOf: url))
            for trial in 0..<100 {
                var bytes = original
                for _ in 0..<(1 + trial % 4) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] = trial % 3 == 0 ? 0xFF : UInt8.random(in: 0...255, using: &generator)
                }
                let damaged = folder.appendingPathComponent("damaged-\(format)-\(nested)-\(trial).pt")
                try Data(bytes).write(to: damaged)
                do {
                    _ = try TorchCheckpoint.loadStateDict(from: damaged, key: nested ? "state_dictAT" : nil)
                } catch let error as CheckpointError {
                    XCTAssertFalse(error.description.contains("\n"), "not one line: \(error)")
                }
            }
        }
    }

    func testArbitraryGlobalsAreRefused() throws {
        // Legacy header pickles, then a main pickle that would call posix.system("true").
        var bytes: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        bytes += [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]
        bytes += [0x80, 0x02, 0x7d, 0x2e]
        bytes += [0x80, 0x02, 0x63] + Array("posix\nsystem\n".utf8) + [0x8c, 0x04] + Array("true".utf8) + [0x85, 0x52, 0x2e]
        let url = folder.appendingPathComponent("evil.pt")
        try Data(bytes).write(to: url)
        assertThrows(try TorchCheckpoint.loadStateDict(from: url), containing: "posix.system") {
            $0 == .unsupportedGlobal(path: url.path, name: "posix.system")
        }
    }

    func testWrongShapeAndMissingTensorThrow() throws {
        let (url, _) = try fixture("zip")
        let weights = try TorchCheckpoint.loadStateDict(from: url)
        XCTAssertNoThrow(try weights.tensor("conv.weight", shape: [4, 3, 3, 3]))
        assertThrows(try weights.tensor("conv.weight", shape: [4, 3, 1, 1]), containing: "'conv.weight' has shape [4, 3, 3, 3], expected [4, 3, 1, 1]") {
            $0 == .wrongShape(name: "conv.weight", expected: [4, 3, 1, 1], actual: [4, 3, 3, 3])
        }
        assertThrows(try weights.tensor("conv.scale", shape: [4]), containing: "'conv.scale'") { $0 == .missingTensor(name: "conv.scale") }
    }

    func testHalfPrecisionConvertsExactly() {
        XCTAssertEqual(CheckpointFile.halfToFloat(0x3c00), 1)
        XCTAssertEqual(CheckpointFile.halfToFloat(0xc000), -2)
        XCTAssertEqual(CheckpointFile.halfToFloat(0x7bff), 65504)
        XCTAssertEqual(CheckpointFile.halfToFloat(0x0001), 0x1p-24)  // smallest subnormal
        XCTAssertEqual(CheckpointFile.halfToFloat(0x7c00), .infinity)
        XCTAssertTrue(CheckpointFile.halfToFloat(0x7e00).isNaN)
    }
}
