import Foundation
import SloMoCore
import SloMoDaemon
import SloMoMedia
import XCTest

struct MissingProduct: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) is not built (swift build --build-tests builds it)" }
}

/// A built executable of this package, from the products directory that holds the test bundle.
func product(_ name: String) throws -> String {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let path = directory.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw MissingProduct(path: path)
    }
    return path
}

/// A scratch directory, removed at the end of the test.
func scratchDirectory(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "slomod-test-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// The real slomod binary, run with the given arguments and a socket in `directory`.
final class DaemonProcess {
    let process = Process()
    let socket: String
    let logPath: String

    init(_ arguments: [String], directory: String, environment: [String: String] = [:]) throws {
        socket = directory + "/slomod.sock"
        logPath = directory + "/slomod.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try product("slomod"))
        process.arguments = arguments + ["--socket", socket]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the daemon answers `status` as running.
    func waitUntilRunning(timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { throw ControlClientError(message: "slomod exited early:\n\(log)") }
            if let status = try? request(.object([("command", .string("status"))])), status["state"] == .string("running") {
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw ControlClientError(message: "slomod did not start in \(timeout) s:\n\(log)")
    }

    /// Sends a request object and returns the result (throws on an error reply).
    @discardableResult
    func request(_ request: JSONValue) throws -> JSONValue {
        try ControlClient.result(of: try ControlClient(path: socket).send(request))
    }

    func stats() throws -> JSONValue { try request(.object([("command", .string("stats"))])) }

    /// SIGTERM, then the exit status.
    func stop(timeout: TimeInterval = 30) -> Int32? {
        process.terminate()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }
}

/// Runs a command to the end; returns its exit status and standard output and error.
func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}

extension JSONValue {
    var number: Double? {
        if case let .number(value) = self { return value }
        return nil
    }
}

/// A started daemon whose camera is `source` (made when the daemon opens its input) and whose
/// output is `sink`, with `flags` (fps, scale, mode, ...) and its control socket in a scratch folder.
func startDaemon(_ test: XCTestCase, source: @escaping () -> FrameSource, sink: FrameSink, flags: [(String, String)]) throws -> Daemon {
    let registry = IORegistry()
    registry.registerSource("v4l2") { _, _ in source() }
    registry.registerSink("null") { _, _ in sink }
    let overrides = ([("input", "v4l2:/dev/test-camera"), ("output", "null"), ("socket", try scratchDirectory(test) + "/slomod.sock")] + flags)
        .map { DaemonCommandLine.Override(flag: $0.0, value: $0.1) }
    let daemon = try Daemon(configFile: nil, overrides: overrides, registry: registry)
    try daemon.start()
    return daemon
}

func number(_ value: JSONValue, _ key: String, file: StaticString = #filePath, line: UInt = #line) -> Double {
    guard let result = value[key]?.number else {
        XCTFail("no number \(key) in \(value.serialized)", file: file, line: line)
        return .nan
    }
    return result
}

/// A raw connection for sending malformed bytes.
final class RawClient {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw ControlClientError(message: "connect: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Sends everything it can; false once the daemon has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// The next reply line, or nil at end of stream or timeout.
    func readLine() -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }

    func reply(_ text: String) throws -> JSONValue {
        _ = send(text + "\n")
        guard let line = readLine() else { throw ControlClientError(message: "no reply to \(text)") }
        return try JSONValue.parse(Array(line.utf8))
    }
}

/// Every frame of a Y4M file.
func readFrames(_ path: String) throws -> (format: FrameFormat, frames: [[UInt8]]) {
    let reader = try Y4MReader(path: path)
    var frames: [[UInt8]] = []
    while let frame = try reader.readFrame() { frames.append(frame) }
    return (reader.format, frames)
}

func meanSquaredError(_ a: [UInt8], _ b: [UInt8]) -> Double {
    var sum = 0.0
    for (x, y) in zip(a, b) {
        let d = Double(x) - Double(y)
        sum += d * d
    }
    return sum / Double(a.count)
}

/// The test pattern as the daemon renders it, at any instant.
func patternFrame(width: Int, height: Int, time: Double) -> [UInt8] {
    let pattern = TestPattern(width: width, height: height)
    var frame = [UInt8](repeating: 0, count: pattern.format.byteCount)
    frame.withUnsafeMutableBytes { pattern.render(time: time, into: $0) }
    return frame
}
