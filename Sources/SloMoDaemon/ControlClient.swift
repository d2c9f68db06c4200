import Foundation

public struct ControlClientError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// One connection to a daemon's control socket: a request line out, a reply line back.
public final class ControlClient {
    /// Replies can carry large objects (a snapshot of a 4K frame), but not unbounded ones.
    static let maxReplyBytes = 64 << 20
    private let fd: Int32
    public let path: String

    public init(path: String, timeoutSeconds: Double = 5) throws {
        self.path = path
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ControlClientError(message: "\(path): too long for a Unix socket path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlClientError(message: "socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds - timeoutSeconds.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ControlClientError(message: "cannot connect to \(path): \(reason) (is slomod running?)")
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends one request object and returns the daemon's reply object.
    public func send(_ request: JSONValue) throws -> JSONValue {
        var line = Array((request.serialized + "\n").utf8)[...]
        while !line.isEmpty {
            let written = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw ControlClientError(message: "\(path): cannot send: \(String(cString: strerror(errno)))") }
            line = line.dropFirst(written)
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var complete = false
        while !complete {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw ControlClientError(message: "\(path): no reply from the daemon in time")
            }
            guard count > 0 else { throw ControlClientError(message: "\(path): the daemon closed the connection without a reply") }
            reply.append(contentsOf: chunk[..<count])
            complete = chunk[..<count].contains(UInt8(ascii: "\n"))
            guard reply.count <= ControlClient.maxReplyBytes else { throw ControlClientError(message: "\(path): reply too long") }
        }
        let end = reply.firstIndex(of: UInt8(ascii: "\n")) ?? reply.endIndex
        do {
            return try JSONValue.parse(reply[..<end])
        } catch {
            throw ControlClientError(message: "\(path): unreadable reply: \(error)")
        }
    }

    /// The request object for a slomoctl command line ("set scale 4", "snapshot /tmp/a.png").
    public static func request(command: String, arguments: [String], workingDirectory: String) throws -> JSONValue {
        func expect(_ count: Int, _ usage: String) throws {
            guard arguments.count == count else { throw ControlClientError(message: "usage: slomoctl \(usage)") }
        }
        switch command {
        case "status", "stats", "pause", "resume", "reload", "version":
            try expect(0, command)
            return .object([("command", .string(command))])
        case "set":
            try expect(2, "set KEY VALUE (keys: \(ControlProtocol.settableKeys.keys.sorted().joined(separator: ", ")))")
            return .object([("command", .string("set")), ("settings", .object([(arguments[0], typed(arguments[1]))]))])
        case "snapshot":
            try expect(1, "snapshot FILE.png")
            guard arguments[0].hasSuffix(".png") else { throw ControlClientError(message: "snapshot: \(arguments[0]) must end in .png") }
            return .object([("command", .string("snapshot"))])
        default:
            throw ControlClientError(message: "unknown command '\(command)' (one of \(ControlProtocol.commands.joined(separator: ", ")))")
        }
    }

    /// What the command line does with a successful result: `snapshot FILE.png` writes the image
    /// the daemon returned, with this process's rights (never the daemon's), and reports the path
    /// in place of the image. Other results pass through.
    public static func finish(command: String, arguments: [String], result: JSONValue, workingDirectory: String) throws -> JSONValue {
        guard command == "snapshot", let name = arguments.first else { return result }
        guard case let .string(encoded)? = result["png_base64"], let png = Data(base64Encoded: encoded) else {
            throw ControlClientError(message: "snapshot: the daemon's reply carries no image")
        }
        let path = name.hasPrefix("/") ? name : workingDirectory + "/" + name
        do {
            try png.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ControlClientError(message: "snapshot: cannot write \(path): \(error.localizedDescription)")
        }
        return .object([("path", .string(path)), ("width", result["width"] ?? .null), ("height", result["height"] ?? .null)])
    }

    /// Command-line text as the JSON type it reads as: numbers, booleans, else a string.
    static func typed(_ text: String) -> JSONValue {
        if let number = Double(text), number.isFinite { return .number(number) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }

    /// The result of a successful reply; an error reply becomes its message.
    public static func result(of reply: JSONValue) throws -> JSONValue {
        guard reply["ok"] == .bool(true) else {
            if case let .string(message)? = reply["error"]?["message"] { throw ControlClientError(message: message) }
            throw ControlClientError(message: "the daemon answered with an error: \(reply.serialized)")
        }
        return reply["result"] ?? .null
    }

    /// A reply's result as "key: value" lines for people.
    public static func humanReadable(_ result: JSONValue) -> String {
        guard case let .object(members) = result else { return result.serialized + "\n" }
        let width = members.map(\.0.count).max() ?? 0
        return members.map { key, value in
            let text: String
            switch value {
            case let .string(string): text = string
            case let .array(items): text = items.map { item in if case let .string(s) = item { return s } else { return item.serialized } }.joined(separator: ", ")
            case .null: text = "-"
            default: text = value.serialized
            }
            return key + ":" + String(repeating: " ", count: width - key.count + 1) + text + "\n"
        }.joined()
    }
}
