import Foundation
import XCTest
@testable import SloMoNeural

final class ModelStoreTests: XCTestCase {
    func testSearchOrderAndMissingModelError() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-models-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let explicit = root.appendingPathComponent("explicit")
        let dataHome = root.appendingPathComponent("data")
        let store = ModelStore(environment: ["SLOMO_MODELS_DIR": explicit.path, "XDG_DATA_HOME": dataHome.path, "HOME": root.path])
        XCTAssertEqual(store.searchPath.map(\.path), [explicit.path, dataHome.path + "/slomo/models",
                                                      "/usr/local/share/slomo/models", "/usr/share/slomo/models"])
        XCTAssertEqual(ModelStore(environment: ["HOME": "/home/someone"]).searchPath.first?.path, "/home/someone/.local/share/slomo/models")

        if FileManager.default.fileExists(atPath: "/usr/local/share/slomo/models/rife-hdv3") || FileManager.default.fileExists(atPath: "/usr/share/slomo/models/rife-hdv3") {
            throw XCTSkip("a system-wide copy of the weights would be found")
        }
        XCTAssertThrowsError(try store.require(.rifeHDv3)) { error in
            XCTAssertTrue("\(error)".contains("scripts/fetch-models.sh"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }

        let inDataHome = dataHome.appendingPathComponent("slomo/models/rife-hdv3/flownet.pkl")
        try FileManager.default.createDirectory(at: inDataHome.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data([1]).write(to: inDataHome)
        XCTAssertEqual(store.locate(.rifeHDv3)?.path, inDataHome.path)

        let inExplicit = explicit.appendingPathComponent("rife-hdv3/flownet.pkl")
        try FileManager.default.createDirectory(at: inExplicit.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data([1]).write(to: inExplicit)
        XCTAssertEqual(try store.require(.rifeHDv3).path, inExplicit.path)
    }
}
