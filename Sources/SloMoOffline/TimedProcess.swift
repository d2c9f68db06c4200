import Foundation

/// A tool the benchmark runs as a whole process (an anchor, ffmpeg): its wall time, exit status and
/// standard error (standard output is discarded).
enum TimedProcess {
    static func run(_ executable: String, _ arguments: [String]) throws -> (seconds: Double, status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (Date().timeIntervalSince(start), process.terminationStatus, String(decoding: message, as: UTF8.self))
    }
}
