import Foundation
import SloMoCore
import SloMoMedia
import XCTest

struct TestSetupError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The shared sample clips: `<package root>/../shared/data`, or `$SLOMO_SHARED_DATA`.
enum TestData {
    static let directory: URL = {
        if let override = ProcessInfo.processInfo.environment["SLOMO_SHARED_DATA"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // SloMoMediaTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()

    static func path(_ relative: String) throws -> String {
        let path = directory.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else {
            // Missing data is a broken checkout, not a reason to pass quietly.
            throw TestSetupError(message: "sample data \(path) is missing; set SLOMO_SHARED_DATA")
        }
        return path
    }
}

extension XCTestCase {
    /// A fresh directory, removed when the test ends.
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-media-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

/// Runs an FFmpeg command-line tool and returns its stdout; throws with its stderr on failure.
@discardableResult
func runTool(_ name: String, _ arguments: [String]) throws -> Data {
    let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
    guard let executable = searchPath.split(separator: ":").map({ "\($0)/\(name)" })
        .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TestSetupError(message: "\(name) is not installed (scripts/setup.sh installs it)")
    }
    let errorLog = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-tool-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorLog) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: errorLog)
    try process.run()
    // Read before waiting: a full pipe would block the tool forever.
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let log = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
        struct ToolFailed: Error, CustomStringConvertible { var description: String }
        throw ToolFailed(description: "\(name) \(arguments.joined(separator: " ")) failed: \(log)")
    }
    return data
}

/// The streams ffprobe sees, frames counted by decoding.
func probeStreams(_ path: String) throws -> [[String: Any]] {
    let json = try runTool("ffprobe", ["-v", "error", "-count_frames", "-show_entries",
                                       "stream=codec_type,codec_name,width,height,pix_fmt,avg_frame_rate,r_frame_rate,nb_read_frames,duration,color_space,color_range,chroma_location",
                                       "-of", "json", path])
    let root = try JSONSerialization.jsonObject(with: json) as? [String: Any]
    return root?["streams"] as? [[String: Any]] ?? []
}

func psnr(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Double {
    precondition(a.count == b.count && !a.isEmpty)
    var sum = 0.0
    for (x, y) in zip(a, b) {
        let d = Double(x) - Double(y)
        sum += d * d
    }
    let mse = sum / Double(a.count)
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// Smooth, slowly moving content in any planar YUV or packed RGB format: what a good encoder
/// at CRF 16 should reproduce almost exactly.
func smoothFrame(_ format: FrameFormat, index: Int) -> [UInt8] {
    var frame = [UInt8](repeating: 0, count: format.byteCount)
    let planes = format.pixelFormat.planes(width: format.width, height: format.height)
    let channels = format.pixelFormat.isRGB ? 3 : 1
    for (p, plane) in planes.enumerated() {
        let scale = Double(format.width) / Double(plane.width / channels)
        for y in 0..<plane.height {
            for x in 0..<plane.width {
                let c = x % channels
                let fx = Double(x / channels) * scale + Double(index) * 1.5
                let fy = Double(y) * scale
                let value = 128 + 50 * sin(fx / 23 + Double(p + c)) * cos(fy / 31 - Double(c))
                frame[plane.offset + y * plane.stride + x] = UInt8(value.rounded())
            }
        }
    }
    return frame
}

extension VideoReader {
    func readAllFrames() throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while let frame = try readFrame() { frames.append(frame) }
        return frames
    }
}

extension VideoWriter {
    func write(_ frame: [UInt8]) throws {
        try frame.withUnsafeBytes { try write($0) }
    }
}

/// The error `body` throws, as a MediaError (failing the test otherwise).
func mediaError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> MediaError? {
    do {
        try body()
        XCTFail("expected a MediaError, nothing was thrown", file: file, line: line)
    } catch let error as MediaError {
        return error
    } catch {
        XCTFail("expected a MediaError, got \(error)", file: file, line: line)
    }
    return nil
}

func directoryContents(_ url: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
}
