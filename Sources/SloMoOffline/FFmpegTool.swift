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
        let result = try TimedProcess.run("/usr/bin/env", ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments)
        guard result.status == 0 else {
            throw Failure(arguments: arguments, message: result.errors.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return result.seconds
    }

    /// The motion-compensated interpolation users reach for today.
    static func minterpolateFilter(rate: String) -> String {
        "minterpolate=fps=\(rate):mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"
    }
}
