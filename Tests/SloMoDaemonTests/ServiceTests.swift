import Foundation
import XCTest

/// The systemd unit as shipped, checked by systemd itself.
final class ServiceTests: XCTestCase {
    func testUnitFileVerifiesClean() throws {
        let analyze = "/usr/bin/systemd-analyze"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: analyze), "systemd-analyze is not installed (apt-get install systemd; setup.sh --test does)")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let unit = try String(contentsOf: root.appendingPathComponent("systemd/slomod@.service"), encoding: .utf8)
        // As scripts/install.sh installs it, pointing at the binary built beside these tests.
        let binaries = URL(fileURLWithPath: try product("slomod")).deletingLastPathComponent().path
        let directory = try scratchDirectory(self)
        let path = directory + "/slomod@test.service"
        let installed = unit.replacingOccurrences(of: "@BINDIR@", with: binaries)
            .replacingOccurrences(of: "@DOCDIR@", with: directory)
        try installed.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runTool(analyze, ["verify", "--man=no", path])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(result.output + result.error, "", "systemd-analyze verify has remarks")

        for line in ["Type=notify", "Restart=on-failure", "RuntimeDirectory=slomod", "DeviceAllow=char-video4linux rw",
                     "DeviceAllow=char-drm rw", "ProtectSystem=strict", "NoNewPrivileges=yes", "ProtectHome=yes",
                     "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX", "WatchdogSec=10s",
                     "ExecStart=@BINDIR@/slomod --config /etc/slomod/%i.toml --instance %i"] {
            XCTAssertTrue(unit.contains("\n" + line + "\n"), "the unit lacks \(line)")
        }
    }
}
