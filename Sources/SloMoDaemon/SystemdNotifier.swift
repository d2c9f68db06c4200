import Foundation

/// sd_notify(3) without libsystemd: one datagram per message to the AF_UNIX socket named by
/// NOTIFY_SOCKET (a leading '@' names the abstract namespace). Without NOTIFY_SOCKET every call
/// does nothing, so the daemon runs the same outside systemd.
public final class SystemdNotifier: @unchecked Sendable {
    private let address: sockaddr_un?
    private let addressLength: socklen_t
    private let fd: Int32
    /// How often to send WATCHDOG=1: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises;
    /// nil when systemd wants no pings (or wants them from another process).
    public let watchdogInterval: UInt64?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = usec * 1000 / 2
        } else {
            watchdogInterval = nil
        }
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@"),
              path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            address = nil
            addressLength = 0
            fd = -1
            return
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        self.address = address
        // Abstract names are not NUL-terminated: the length says where they end.
        addressLength = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Sends newline-separated assignments such as "READY=1\nSTATUS=running". Best effort:
    /// systemd not listening is no reason for the daemon to fail.
    @discardableResult
    public func notify(_ message: String) -> Bool {
        guard var address, fd >= 0 else { return false }
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, addressLength) }
            }
        }
        return sent == bytes.count
    }
}
