import SloMoCore
import XCTest
@testable import SloMoDaemon

/// The packaged documentation is written from the configuration table: every key must be in it.
final class ManualTests: XCTestCase {
    func testPagesAndCompletionsNameEveryKey() throws {
        let daemon = try XCTUnwrap(DaemonManual.page("slomod.8"))
        let file = try XCTUnwrap(DaemonManual.page("slomod.toml.5"))
        XCTAssertTrue(daemon.contains(".TH SLOMOD 8 \"\" \"slomo \(SloMoVersion.current)\""))
        for key in DaemonConfig.keys {
            XCTAssertTrue(daemon.contains("\\fB\\-\\-\(DaemonManual.escape(key.flag))\\fR"), "slomod(8) lacks --\(key.flag)")
            XCTAssertTrue(file.contains("\\fB\(DaemonManual.escape(key.name))\\fR = "), "slomod.toml(5) lacks \(key.path)")
            for shell in DaemonManual.shells {
                XCTAssertTrue(try XCTUnwrap(DaemonManual.completionScript(shell)).contains("\(key.flag)"), "\(shell) lacks --\(key.flag)")
            }
        }
        // roff: no line may start with a stray control character from the help texts.
        for line in (daemon + file).split(separator: "\n") where line.hasPrefix("'") { XCTFail("line starts with ': \(line)") }
        XCTAssertNil(DaemonManual.page("slomod.1"))
        XCTAssertNil(DaemonManual.completionScript("tcsh"))
    }

    func testCommandLineAsksForPagesAndScriptsAndRefusesUnknownOnes() throws {
        XCTAssertEqual(try DaemonCommandLine.parse(["--generate-manual", "slomod.toml.5"]), .manual(page: "slomod.toml.5"))
        XCTAssertEqual(try DaemonCommandLine.parse(["--generate-completion-script", "fish"]), .completionScript(shell: "fish"))
        XCTAssertThrowsError(try DaemonCommandLine.parse(["--generate-manual", "nope"]))
        XCTAssertThrowsError(try DaemonCommandLine.parse(["--generate-completion-script"]))
    }

    func testOneVersionForTheDaemonAndTheProtocol() {
        XCTAssertEqual(Daemon.version, SloMoVersion.current)
    }
}
