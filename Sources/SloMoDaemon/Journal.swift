import Foundation
import Logging

/// Writes log lines to stderr in the form journald reads from a service's stderr: each line
/// starts with `<N>`, its syslog priority, so `journalctl -p warning` works. Multi-line messages
/// become several lines, each with the prefix.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private let levelBox: LogLevelBox
    private let output: JournalOutput

    /// Every handler sharing `level` follows its changes.
    public init(level: LogLevelBox, output: JournalOutput = .standardError) {
        self.levelBox = level
        self.output = output
    }

    public var logLevel: Logger.Level {
        get { levelBox.level }
        set { levelBox.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    public func log(event: LogEvent) {
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        let level = event.level, message = event.message
        let suffix = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let prefix = "<\(JournalLogHandler.priority(level))>"
        let text = "\(message)\(suffix)".split(separator: "\n", omittingEmptySubsequences: false)
            .map { prefix + $0 + "\n" }.joined()
        output.write(text)
    }
}

/// Where journal lines go; one lock so lines from different threads never interleave.
public final class JournalOutput: @unchecked Sendable {
    public static let standardError = JournalOutput(fd: STDERR_FILENO)
    private let fd: Int32
    private let lock = NSLock()

    public init(fd: Int32) { self.fd = fd }

    func write(_ text: String) {
        lock.withLock {
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                bytes = bytes.dropFirst(written)
            }
        }
    }
}

/// The level every logger made by `LoggingSystem` uses; changed live by `reload` and `set`.
public final class LogLevelBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Logger.Level
    public init(_ level: Logger.Level) { stored = level }
    public var level: Logger.Level {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
