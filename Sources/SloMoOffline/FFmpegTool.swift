import Foundation

/// The ffmpeg command-line tool, used only by the benchmark to run the CPU anchor
/// (minterpolate) and to prepare resized inputs.
enum FFmpegTool {
    struct Failure: Error, CustomStringConvertible {
        let arguments: [String]
        let message: String
        var description: String { "ffmpeg \(arguments.joined(separator: " ")) failed: \(message)" }
    }

    /// Runs ffmpeg and returns its wall time in seconds.
    @discardableResult
    static func run(_ arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = Date().timeIntervalSince(start)
        guard process.terminationStatus == 0 else {
            throw Failure(arguments: arguments, message: String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return elapsed
    }

    /// The motion-compensated interpolation users reach for today.
    static func minterpolateFilter(rate: String) -> String {
        "minterpolate=fps=\(rate):mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"
    }
}
