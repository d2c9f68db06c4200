import Foundation
import XCTest

/// One boot of the test VM (Tests/vm/run-vm.sh) running a list of guest scenarios, and the
/// parsed output: each scenario's lines between its BEGIN and END markers.
/// Reusable by any test that needs the real drivers: name the scenarios, read the sections.
struct VMRun {
    let output: String
    /// Shared with the guest; recordings and screendumps land here.
    let directory: URL
    let exitStatus: Int32
    let seconds: Double

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The probe built beside the test bundle (the test target depends on it, so it is there).
    static var probe: URL {
        // On Linux the bundle URL is the products folder itself; elsewhere it is the .xctest in it.
        let bundle = Bundle(for: VMMarker.self).bundleURL
        let products = bundle.pathExtension == "xctest" ? bundle.deletingLastPathComponent() : bundle
        return products.appendingPathComponent("slomo-kio-probe")
    }

    /// Boots the VM, runs `scenarios` in it, and returns what it printed. Under TCG a boot
    /// costs about 25 s and everything inside runs slowly (a first slomod start took 465 s on a busy host), hence the generous limit.
    static func boot(scenarios: [String], timeout: TimeInterval = 2400) throws -> VMRun {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            // One folder per boot (named by its first scenario), so a later boot in the same
            // test run leaves an earlier one's recordings and log in place.
            .appendingPathComponent("slomo-vm-\(ProcessInfo.processInfo.processIdentifier)-\(scenarios.first ?? "none")")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard FileManager.default.isExecutableFile(atPath: probe.path) else {
            throw VMError("probe not built at \(probe.path)")
        }
        let log = directory.appendingPathComponent("vm.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("Tests/vm/run-vm.sh")
        process.arguments = [directory.path, probe.path] + scenarios
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        while process.isRunning && Date().timeIntervalSince(start) < timeout { Thread.sleep(forTimeInterval: 0.5) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let seconds = Date().timeIntervalSince(start)
        print("VM run: \(scenarios.joined(separator: " ")) in \(Int(seconds)) s, output in \(log.path)")
        return VMRun(output: output, directory: directory, exitStatus: process.terminationStatus, seconds: seconds)
    }

    /// The lines a scenario printed; fails the test when it did not run or did not succeed.
    func section(_ scenario: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let begin = lines.firstIndex(of: "=== BEGIN \(scenario)"),
              let end = lines[begin...].firstIndex(where: { $0.hasPrefix("=== END \(scenario) ") }) else {
            let kernel = (try? String(contentsOf: self.file("dmesg.log"), encoding: .utf8)).map { "\nkernel log:\n\($0.suffix(3000))" } ?? ""
            throw VMError("scenario \(scenario) did not run to its end; VM output:\n\(output.suffix(6000))\(kernel)")
        }
        let body = Array(lines[(begin + 1)..<end])
        XCTAssertTrue(lines[end].contains(" rc=0 "), "scenario \(scenario) failed: \(lines[end])\n\(body.joined(separator: "\n"))",
                      file: file, line: line)
        return body
    }

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// A result line `KEY a=1 b="x y"` as its key and fields.
struct ResultLine {
    let key: String
    let fields: [String: String]
    let text: String

    init?(_ line: String) {
        guard let space = line.firstIndex(of: " ") else { return nil }
        key = String(line[..<space])
        text = line
        var fields: [String: String] = [:]
        var rest = line[line.index(after: space)...]
        while let equals = rest.firstIndex(of: "=") {
            // Bare words before a field (`SIGNAL lost t=1`) are not part of its name.
            let name = String(rest[..<equals].split(separator: " ").last ?? "")
            var value = rest[rest.index(after: equals)...]
            let end: Substring.Index
            if value.first == "\"" {
                value = value.dropFirst()
                end = value.firstIndex(of: "\"") ?? value.endIndex
                fields[name] = String(value[..<end])
                rest = end < value.endIndex ? value[value.index(after: end)...] : value[end...]
            } else {
                end = value.firstIndex(of: " ") ?? value.endIndex
                fields[name] = String(value[..<end])
                rest = value[end...]
            }
        }
        self.fields = fields
    }

    subscript(_ name: String) -> String? { fields[name] }
    func int(_ name: String) -> Int? { fields[name].flatMap { Int($0) } }
    func double(_ name: String) -> Double? { fields[name].flatMap { Double($0) } }

    static func all(_ key: String, in lines: [String]) -> [ResultLine] {
        lines.compactMap(ResultLine.init).filter { $0.key == key }
    }
}

/// slomoctl's replies as the guest prints them (`control KEY ...`: KEY and the JSON on one line).
extension XCTestCase {
    /// The result of slomoctl's JSON reply on the line starting with `key`.
    func reply(_ key: String, in lines: [String]) throws -> [String: Any] {
        let line = try XCTUnwrap(lines.first { $0.hasPrefix(key + " ") }, "no \(key) line in:\n\(lines.joined(separator: "\n"))")
        let json = try JSONSerialization.jsonObject(with: Data(line.dropFirst(key.count + 1).utf8)) as? [String: Any]
        XCTAssertEqual(json?["ok"] as? Bool, true, line)
        return try XCTUnwrap(json?["result"] as? [String: Any], line)
    }

    func number(_ reply: [String: Any], _ key: String) -> Double {
        guard let value = reply[key] as? NSNumber else {
            XCTFail("no number \(key) in \(reply)")
            return .nan
        }
        return value.doubleValue
    }
}

struct VMError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class VMMarker {}
