import Foundation
import SloMoLinux
import Logging

public enum ControlServerError: Error, CustomStringConvertible {
    case alreadyRunning(String)
    case notASocket(String)
    case system(String, String)
    case unknownGroup(String)

    public var description: String {
        switch self {
        case let .alreadyRunning(path): return "\(path): another slomod is already listening there"
        case let .notASocket(path): return "\(path): exists and is not a socket; not replacing it"
        case let .system(what, reason): return "\(what): \(reason)"
        case let .unknownGroup(group): return "socket group '\(group)' does not exist"
        }
    }
}

private func systemError() -> String { String(cString: strerror(errno)) }

/// The control socket's server: one thread, poll(2), nonblocking sockets, a client limit, and per
/// client a bounded input buffer (one line of at most `ControlProtocol.maxLineBytes`) and a
/// bounded output buffer. A client that sends an oversized line, stops reading its replies, or
/// stays silent (or mid-line) past the timeout is disconnected. Requests are served in order on
/// this thread; handlers read pipeline state through its lock and never wait on frames.
public final class ControlServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var path: String
        public var mode: Int = 0o660
        public var group = ""
        public var maxClients = 16
        public var timeoutNanoseconds: UInt64 = 30_000_000_000
        /// Unread replies a client may leave queued when the next one is ready; beyond this it is
        /// cut off. One reply (a snapshot's image) may be larger.
        public var maxPendingOutput = 1 << 20
        public init(path: String) { self.path = path }
    }

    private final class Client {
        let fd: Int32
        let peer: String
        var input: [UInt8] = []
        var output: [UInt8] = []
        /// How much of `output` the socket has taken: sent bytes are dropped once all are.
        var outputSent = 0
        var pendingOutput: Int { output.count - outputSent }
        var lastActivity: UInt64
        var partialSince: UInt64?
        /// Close once the output is flushed.
        var closing = false
        var closed = false

        init(fd: Int32, peer: String, now: UInt64) {
            self.fd = fd
            self.peer = peer
            lastActivity = now
            input.reserveCapacity(4096)
        }
    }

    public let options: Options
    private weak var handler: ControlHandler?
    private let logger: Logger
    private var listener: Int32 = -1
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1
    private var clients: [Client] = []
    private let done = DispatchSemaphore(value: 0)
    private var running = false

    public init(options: Options, handler: ControlHandler, logger: Logger) {
        self.options = options
        self.handler = handler
        self.logger = logger
    }

    deinit {
        if listener >= 0 { close(listener) }
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
    }

    /// Binds the socket (replacing a stale one, refusing a live one) and starts serving.
    public func start() throws {
        try replaceStaleSocket()
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ControlServerError.system("socket", systemError()) }
        var address = try ControlServer.address(options.path)
        // Created private, then opened up to the configured mode: never briefly too open.
        let previousMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previousMask)
        guard bound == 0 else {
            let reason = systemError()
            close(fd)
            throw ControlServerError.system(options.path, "cannot bind: \(reason)")
        }
        do {
            if !options.group.isEmpty {
                guard let group = getgrnam(options.group) else { throw ControlServerError.unknownGroup(options.group) }
                guard chown(options.path, uid_t.max, group.pointee.gr_gid) == 0 else {
                    throw ControlServerError.system(options.path, "cannot give the socket to group \(options.group): \(systemError())")
                }
            }
            guard chmod(options.path, mode_t(options.mode)) == 0 else {
                throw ControlServerError.system(options.path, "cannot set its mode: \(systemError())")
            }
            guard listen(fd, 64) == 0 else { throw ControlServerError.system(options.path, "cannot listen: \(systemError())") }
            var pipeFDs: [Int32] = [-1, -1]
            guard pipe(&pipeFDs) == 0 else { throw ControlServerError.system("pipe", systemError()) }
            pipeFDs.forEach(ControlServer.makeNonblocking)
            (wakeRead, wakeWrite) = (pipeFDs[0], pipeFDs[1])
        } catch {
            close(fd)
            unlink(options.path)
            throw error
        }
        listener = fd
        running = true
        let thread = Thread { [self] in
            Sys.nameThread("slomod-control")
            // Below the pipeline's threads: a flood of requests must not take their CPU. On Linux
            // the nice value is per thread, and who = 0 names the calling thread.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            serve()
            done.signal()
        }
        thread.start()
    }

    /// Stops serving, closes every client and removes the socket file.
    public func stop() {
        guard running else { return }
        running = false
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        done.wait()
    }

    /// Nonblocking and close-on-exec (Glibc's accept4 and pipe2 are GNU extensions Swift does not see).
    private static func makeNonblocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    private static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ControlServerError.system(path, "too long for a Unix socket path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }

    /// A socket file left by a daemon that died is removed; one a live daemon answers on is not.
    private func replaceStaleSocket() throws {
        var info = stat()
        guard lstat(options.path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw ControlServerError.notASocket(options.path) }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw ControlServerError.system("socket", systemError()) }
        defer { close(probe) }
        var address = try ControlServer.address(options.path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected == 0 { throw ControlServerError.alreadyRunning(options.path) }
        guard errno == ECONNREFUSED else {
            throw ControlServerError.system(options.path, "cannot tell whether a daemon owns it: \(systemError())")
        }
        logger.notice("removing stale control socket \(options.path)")
        guard unlink(options.path) == 0 || errno == ENOENT else {
            throw ControlServerError.system(options.path, "cannot remove the stale socket: \(systemError())")
        }
    }

    // MARK: - The loop

    private func serve() {
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        var pollFDs: [pollfd] = []
        while true {
            pollFDs.removeAll(keepingCapacity: true)
            pollFDs.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            pollFDs.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            for client in clients {
                var events = client.closing ? 0 : Int16(POLLIN)
                if client.pendingOutput > 0 { events |= Int16(POLLOUT) }
                pollFDs.append(pollfd(fd: client.fd, events: events, revents: 0))
            }
            let ready = poll(&pollFDs, nfds_t(pollFDs.count), 200)
            if ready < 0 && errno != EINTR {
                logger.error("control: poll failed: \(systemError())")
                break
            }
            if pollFDs[0].revents != 0 { break }
            if pollFDs[1].revents & Int16(POLLIN) != 0 { acceptClients() }
            let now = MonotonicClock.now()
            for (index, client) in zip(pollFDs.indices.dropFirst(2), clients) where !client.closed {
                let events = pollFDs[index].revents
                if events & Int16(POLLIN) != 0 {
                    read(client, into: &scratch, now: now)
                } else if events & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                    drop(client, reason: nil)
                    continue
                }
                if events & Int16(POLLOUT) != 0 { flush(client) }
            }
            for client in clients where !client.closed {
                let idle = now > client.lastActivity && now - client.lastActivity > options.timeoutNanoseconds
                let stalled = client.partialSince.map { now > $0 && now - $0 > options.timeoutNanoseconds } ?? false
                if idle || stalled {
                    send(ControlProtocol.reply(id: nil, failure: ControlFailure(.timeout, stalled ? "line not finished in time" : "idle too long")), to: client)
                    drop(client, reason: "timed out")
                } else if client.closing && client.pendingOutput == 0 {
                    drop(client, reason: nil)
                }
            }
            clients.removeAll { $0.closed }
        }
        for client in clients where !client.closed { drop(client, reason: nil) }
        clients.removeAll()
        close(listener)
        listener = -1
        unlink(options.path)
    }

    private func acceptClients() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            ControlServer.makeNonblocking(fd)
            // struct ucred: pid, uid, gid.
            var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
            var length = socklen_t(MemoryLayout.size(ofValue: credentials))
            let peer = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0
                ? "pid=\(credentials.0) uid=\(credentials.1) gid=\(credentials.2)" : "unknown peer"
            guard clients.count < options.maxClients else {
                logger.warning("control: refusing client \(peer): \(options.maxClients) clients already connected")
                let line = Array(ControlProtocol.reply(id: nil, failure: ControlFailure(.tooManyClients, "the daemon serves \(options.maxClients) clients at once")).utf8)
                _ = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(fd)
                continue
            }
            logger.info("control: client connected, \(peer)")
            clients.append(Client(fd: fd, peer: peer, now: MonotonicClock.now()))
        }
    }

    private func read(_ client: Client, into scratch: inout [UInt8], now: UInt64) {
        let count = scratch.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
        if count == 0 {
            // End of requests: answer what came, then close.
            client.closing = true
            return
        }
        guard count > 0 else {
            if errno != EAGAIN && errno != EINTR { drop(client, reason: "read failed: \(systemError())") }
            return
        }
        client.lastActivity = now
        client.input.append(contentsOf: scratch[..<count])
        var start = 0
        while !client.closing, let newline = client.input[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var line = client.input[start..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            start = newline + 1
            if line.count > ControlProtocol.maxLineBytes {
                tooLong(client)
            } else if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                serve(line, for: client)
            }
        }
        client.input.removeFirst(start)
        if client.input.count > ControlProtocol.maxLineBytes { tooLong(client) }
        if client.closing { client.input.removeAll() }
        client.partialSince = client.input.isEmpty ? nil : (client.partialSince ?? now)
    }

    private func tooLong(_ client: Client) {
        send(ControlProtocol.reply(id: nil, failure: ControlFailure(.lineTooLong, "request longer than \(ControlProtocol.maxLineBytes) bytes")), to: client)
        client.closing = true
    }

    private func serve(_ line: ArraySlice<UInt8>, for client: Client) {
        switch ControlProtocol.parse(line) {
        case let .failure(rejection):
            send(ControlProtocol.reply(id: rejection.id, failure: rejection.failure), to: client)
        case let .success(request):
            guard let handler else { return }
            do {
                let result = try handler.handle(request.command)
                send(ControlProtocol.reply(id: request.id, result: result), to: client)
            } catch let failure as ControlFailure {
                send(ControlProtocol.reply(id: request.id, failure: failure), to: client)
            } catch {
                send(ControlProtocol.reply(id: request.id, failure: ControlFailure(.failed, "\(error)")), to: client)
            }
        }
    }

    private func send(_ text: String, to client: Client) {
        guard client.pendingOutput <= options.maxPendingOutput else {
            drop(client, reason: "not reading its replies")
            return
        }
        client.output.append(contentsOf: text.utf8)
        flush(client)
    }

    private func flush(_ client: Client) {
        while client.pendingOutput > 0 && !client.closed {
            let written = client.output.withUnsafeBytes {
                Glibc.send(client.fd, $0.baseAddress! + client.outputSent, client.pendingOutput, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                client.outputSent += written
                if client.outputSent == client.output.count {
                    client.output.removeAll(keepingCapacity: client.output.count <= 1 << 16)
                    client.outputSent = 0
                }
            } else {
                if written < 0 && errno != EAGAIN && errno != EINTR { drop(client, reason: nil) }
                return
            }
        }
    }

    private func drop(_ client: Client, reason: String?) {
        guard !client.closed else { return }
        if let reason { logger.info("control: disconnecting \(client.peer): \(reason)") }
        client.closed = true
        close(client.fd)
    }
}
