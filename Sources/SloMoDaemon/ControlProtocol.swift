/// The control protocol: one JSON object per line each way (docs/control-protocol.md).
public enum ControlCommand: Equatable, Sendable {
    case status, stats, pause, resume, reload, version
    /// Settings by their `set` names (see `ControlProtocol.settableKeys`), applied together or not at all.
    case set([SettingChange])
    /// The frame on the output now, returned as a PNG in the reply: the daemon writes no file, so a
    /// client can do no more than read what the output shows.
    case snapshot
}

public struct SettingChange: Equatable, Sendable {
    public var name: String
    public var value: ConfigValue
    public init(name: String, value: ConfigValue) {
        self.name = name
        self.value = value
    }
}

/// A request that could not be served; `code` is stable for scripts, `message` is for people.
public struct ControlFailure: Error, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case parseError = "parse_error"
        case invalidRequest = "invalid_request"
        case unknownCommand = "unknown_command"
        case invalidParams = "invalid_params"
        case lineTooLong = "line_too_long"
        case tooManyClients = "too_many_clients"
        case timeout
        case failed
    }

    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code.rawValue): \(message)" }
}

public struct ControlRequest: Equatable, Sendable {
    /// Echoed in the reply, so clients can match replies to requests.
    public var id: JSONValue?
    public var command: ControlCommand
}

public enum ControlProtocol {
    /// Longest request line accepted, newline excluded.
    public static let maxLineBytes = 64 * 1024
    public static let commands = ["status", "stats", "set", "pause", "resume", "reload", "snapshot", "version"]
    /// `set` names and the configuration keys they change.
    public static let settableKeys: [String: String] = [
        "scale": "interpolation.scale",
        "output_rate": "interpolation.output_rate",
        "mode": "interpolation.mode",
        "preset": "interpolation.preset",
        "adaptive": "interpolation.adaptive",
        "latency_budget_ms": "interpolation.latency_budget_ms",
        "log_level": "log.level",
    ]

    /// Parses one request line (without its newline). On failure returns the id, if one could be
    /// read, so the error reply can carry it.
    public static func parse(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlRejection> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(line)
        } catch {
            return .failure(ControlRejection(id: nil, failure: ControlFailure(.parseError, "malformed JSON: \(error)")))
        }
        guard case let .object(members) = value else {
            return .failure(ControlRejection(id: nil, failure: ControlFailure(.invalidRequest, "a request is a JSON object")))
        }
        var id: JSONValue?
        if let given = value["id"] {
            switch given {
            case .string, .number, .null: id = given
            default:
                return .failure(ControlRejection(id: nil, failure: ControlFailure(.invalidRequest, "\"id\" must be a string, a number or null")))
            }
        }
        func reject(_ code: ControlFailure.Code, _ message: String) -> Result<ControlRequest, ControlRejection> {
            .failure(ControlRejection(id: id, failure: ControlFailure(code, message)))
        }
        guard let commandValue = value["command"] else { return reject(.invalidRequest, "missing \"command\"") }
        guard case let .string(name) = commandValue else { return reject(.invalidRequest, "\"command\" must be a string") }
        guard commands.contains(name) else {
            return reject(.unknownCommand, "unknown command '\(name)' (one of \(commands.joined(separator: ", ")))")
        }
        let allowed: Set<String> = Set(["command", "id"]).union(name == "set" ? ["settings"] : [])
        if let extra = members.first(where: { !allowed.contains($0.0) }) {
            return reject(.invalidParams, "'\(name)' takes no field '\(extra.0)'")
        }
        switch name {
        case "status": return .success(ControlRequest(id: id, command: .status))
        case "stats": return .success(ControlRequest(id: id, command: .stats))
        case "pause": return .success(ControlRequest(id: id, command: .pause))
        case "resume": return .success(ControlRequest(id: id, command: .resume))
        case "reload": return .success(ControlRequest(id: id, command: .reload))
        case "version": return .success(ControlRequest(id: id, command: .version))
        case "snapshot": return .success(ControlRequest(id: id, command: .snapshot))
        default:
            guard case let .object(settings)? = value["settings"], !settings.isEmpty else {
                return reject(.invalidParams, "set needs \"settings\": an object such as {\"scale\": 4}")
            }
            var changes: [SettingChange] = []
            for (key, raw) in settings {
                guard settableKeys[key] != nil else {
                    return reject(.invalidParams, "'\(key)' cannot be set (one of \(settableKeys.keys.sorted().joined(separator: ", ")))")
                }
                let typed: ConfigValue
                switch raw {
                case let .number(number):
                    typed = number == number.rounded() && abs(number) < 9e15 ? .integer(Int(number)) : .float(number)
                case let .string(text): typed = .string(text)
                case let .bool(flag): typed = .bool(flag)
                default: return reject(.invalidParams, "\(key): expects a number, a string or a boolean, not \(raw.typeName)")
                }
                changes.append(SettingChange(name: key, value: typed))
            }
            return .success(ControlRequest(id: id, command: .set(changes)))
        }
    }

    public static func reply(id: JSONValue?, result: JSONValue) -> String {
        JSONValue.object([("ok", .bool(true))] + (id.map { [("id", $0)] } ?? []) + [("result", result)]).serialized + "\n"
    }

    public static func reply(id: JSONValue?, failure: ControlFailure) -> String {
        JSONValue.object([("ok", .bool(false))] + (id.map { [("id", $0)] } ?? [])
            + [("error", .object([("code", .string(failure.code.rawValue)), ("message", .string(failure.message))]))]).serialized + "\n"
    }
}

public struct ControlRejection: Error, Equatable {
    public var id: JSONValue?
    public var failure: ControlFailure
}

/// Serves parsed commands; the daemon is one, tests may bring others.
public protocol ControlHandler: AnyObject {
    /// The result object, or a ControlFailure.
    func handle(_ command: ControlCommand) throws -> JSONValue
}
