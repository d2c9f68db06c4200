import Foundation
import Logging
import SloMoCore
import SloMoInterp
import SloMoNeural

/// Everything a user can configure, as a value: built from defaults, a TOML file and the command
/// line (in that order), and compared on reload to see what changed.
public struct DaemonConfig: Equatable, Sendable {
    public var instance = "default"
    // [input]
    public var input = "testpattern"
    public var width = 640
    public var height = 360
    public var fps = 30.0
    /// nil: the driver's choice (the test pattern is always yuv420p).
    public var pixelFormat: PixelFormat?
    public var loopFrames = 60
    // [output]
    public var output = "null"
    public var connector = "auto"
    public var displayMode = "auto"
    public var realtimePriority = 10
    // [interpolation]
    public var scale = 2
    /// Output frames per second; 0 means the input rate × scale.
    public var outputRate = 0.0
    public var mode = SynthesisMode.flow
    public var preset = FlowPreset.fast
    /// Weights for a neural mode; "" takes the installed model (scripts/fetch-models.sh).
    public var checkpoint = ""
    /// The network of a neural mode (a NeuralModel's name); "" takes the mode's default.
    public var model = ""
    public var adaptive = true
    /// The most the output may lag the camera; nil ("auto") means `LatencyBudget.autoBound`. Either
    /// way the delay in effect is as small as keeps 99 % of in-between slots synthesised.
    public var latencyBudgetMilliseconds: Double?
    public var device = ""
    public var vulkanValidation = false
    // [control]
    /// "" means /run/slomod/<instance>.sock.
    public var socket = ""
    public var socketGroup = ""
    public var socketMode = 0o660
    public var maxClients = 16
    public var clientTimeoutMilliseconds = 30_000
    // [log]
    public var logLevel = Logger.Level.info

    public init() {}

    public var socketPath: String { socket.isEmpty ? "/run/slomod/\(instance).sock" : socket }
}

/// A configuration problem, located: "slomod.toml:12: interpolation.scale: must be 2...16".
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// "FILE:LINE", "--flag" or "set".
    public var origin: String
    public var key: String?
    public var message: String
    public var description: String { [origin, key, message].compactMap { $0 }.joined(separator: ": ") }
}

/// What a key's setter throws; the caller adds where the value came from.
struct ValueProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// One setting: its TOML name, its command-line flag, its type, its check and its documentation.
/// Both the file and the command line go through this table, so every setting has a flag.
public struct ConfigKey: Sendable {
    public enum Kind: Sendable, Equatable {
        case string, integer, float, bool
        case choice([String])
        /// A number, or this word (a string) instead of one.
        case floatOr(String)
    }

    /// "interpolation.scale"; top-level keys have no table.
    public let path: String
    public let flag: String
    public let kind: Kind
    public let placeholder: String
    public let help: String
    /// Takes effect on `reload` or `set` while running; the others need a restart.
    public let live: Bool
    let apply: @Sendable (inout DaemonConfig, ConfigValue) throws -> Void
    public let show: @Sendable (DaemonConfig) -> String

    /// The key's name inside its table.
    public var name: String { path.split(separator: ".").last.map(String.init) ?? path }

    /// Sets the key from a typed value (TOML, JSON), checking type and range.
    func set(_ value: ConfigValue, in config: inout DaemonConfig, origin: String) throws {
        let typed: ConfigValue
        switch (kind, value) {
        case (.string, .string), (.choice, .string), (.integer, .integer), (.float, .float), (.bool, .bool):
            typed = value
        case let (.float, .integer(number)), let (.floatOr, .integer(number)):
            typed = .float(Double(number))
        case (.floatOr, .float):
            typed = value
        case let (.floatOr(word), .string(text)) where text == word:
            typed = value
        default:
            throw ConfigError(origin: origin, key: path, message: "expects \(expected), not \(value.typeName)")
        }
        if case let .choice(options) = kind, case let .string(text) = typed, !options.contains(text) {
            throw ConfigError(origin: origin, key: path,
                              message: "'\(text)' is not one of \(options.joined(separator: ", "))")
        }
        do {
            try apply(&config, typed)
        } catch let problem as ValueProblem {
            throw ConfigError(origin: origin, key: path, message: problem.message)
        }
    }

    /// Sets the key from command-line text, converting it to the key's type first.
    func set(text: String, in config: inout DaemonConfig, origin: String) throws {
        let value: ConfigValue
        switch kind {
        case .string, .choice: value = .string(text)
        case .integer:
            guard let number = Int(text) else { throw ConfigError(origin: origin, key: nil, message: "expects an integer, not '\(text)'") }
            value = .integer(number)
        case .float, .floatOr:
            if case let .floatOr(word) = kind, text == word {
                value = .string(text)
            } else if let number = Double(text), number.isFinite {
                value = .float(number)
            } else {
                throw ConfigError(origin: origin, key: nil, message: "expects \(expected), not '\(text)'")
            }
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "on", "1": value = .bool(true)
            case "false", "no", "off", "0": value = .bool(false)
            default: throw ConfigError(origin: origin, key: nil, message: "expects true or false, not '\(text)'")
            }
        }
        try set(value, in: &config, origin: origin)
    }

    var expected: String {
        switch kind {
        case .string, .choice: return "a string"
        case .integer: return "an integer"
        case .float: return "a number"
        case let .floatOr(word): return "a number or \"\(word)\""
        case .bool: return "a boolean"
        }
    }
}

extension DaemonConfig {
    /// Every setting, in the order `--help` and the default file list them.
    public static let keys: [ConfigKey] = [
        key("instance", "instance", .string, "NAME", live: false,
            "Instance name, used in logs and in the default socket path.",
            { c in c.instance }) { c, v in
            let name = try string(v)
            guard (1...64).contains(name.count), name.allSatisfy({ $0.isLetter || $0.isNumber || "_.@-".contains($0) }) else {
                throw ValueProblem("use 1-64 letters, digits, '_', '.', '@' or '-'")
            }
            c.instance = name
        },
        key("input.source", "input", .string, "SOURCE", live: false,
            "Where frames come from: testpattern (built in), a V4L2 device such as /dev/video0, or v4l2:PATH.",
            { c in c.input }) { c, v in
            let text = try string(v)
            _ = try SourceSpec.parse(text)
            c.input = text
        },
        key("input.width", "width", .integer, "PIXELS", live: false,
            "Frame width: the test pattern's, or the one asked of the camera.", { c in String(c.width) }) { c, v in
            c.width = try integer(v, in: 16...7680)
        },
        key("input.height", "height", .integer, "PIXELS", live: false,
            "Frame height.", { c in String(c.height) }) { c, v in
            c.height = try integer(v, in: 16...4320)
        },
        key("input.fps", "fps", .float, "RATE", live: false,
            "Input frames per second: the test pattern's clock, or the rate asked of the camera.",
            { c in format(c.fps) }) { c, v in
            c.fps = try float(v, in: 1...240)
        },
        key("input.pixel_format", "pixel-format", .choice(["auto"] + PixelFormat.allCases.map(\.rawValue)), "FORMAT",
            live: false, "Pixel format asked of the camera; auto takes the driver's (the test pattern is yuv420p).",
            { c in c.pixelFormat?.rawValue ?? "auto" }) { c, v in
            let text = try string(v)
            c.pixelFormat = text == "auto" ? nil : PixelFormat(rawValue: text)
        },
        key("input.loop_frames", "loop-frames", .integer, "N", live: false,
            "Frames the test pattern renders once at start and plays forwards and backwards.",
            { c in String(c.loopFrames) }) { c, v in
            c.loopFrames = try integer(v, in: 2...600)
        },
        key("output.sink", "output", .string, "SINK", live: false,
            "Where frames go: null, file:PATH.y4m, a v4l2loopback device (/dev/video10, loopback:PATH) "
                + "or a DRM card (/dev/dri/card0, drm:PATH).", { c in c.output }) { c, v in
            let text = try string(v)
            _ = try SinkSpec.parse(text)
            c.output = text
        },
        key("output.connector", "connector", .string, "NAME", live: false,
            "DRM connector (HDMI-A-1, ...), or auto for the first connected one.", { c in c.connector }) { c, v in
            c.connector = try nonEmpty(v)
        },
        key("output.display_mode", "display-mode", .string, "WxH[@HZ]", live: false,
            "DRM display mode, or auto for the connector's preferred one.", { c in c.displayMode }) { c, v in
            c.displayMode = try nonEmpty(v)
        },
        key("output.realtime_priority", "realtime-priority", .integer, "N", live: false,
            "SCHED_FIFO priority of the capture and output threads (1...99), so the output keeps its cadence "
                + "while GPU work (lavapipe runs on the CPU) or other processes load every core; 0: normal priority. "
                + "Needs RLIMIT_RTPRIO (the unit's LimitRTPRIO=) or CAP_SYS_NICE; without either the daemon says so once and runs on.",
            { c in String(c.realtimePriority) }) { c, v in
            c.realtimePriority = try integer(v, in: 0...99)
        },
        key("interpolation.scale", "scale", .integer, "N", live: true,
            "Output frames per input frame (2...16).", { c in String(c.scale) }) { c, v in
            c.scale = try integer(v, in: 2...16)
        },
        key("interpolation.output_rate", "output-rate", .float, "RATE", live: true,
            "Output frames per second instead of input rate × scale (0: off); between 1× and 16× the input rate.",
            { c in format(c.outputRate) }) { c, v in
            let rate = try float(v, in: 0...1000)
            guard rate == 0 || rate >= 1 else { throw ValueProblem("must be 0 (off) or at least 1") }
            c.outputRate = rate
        },
        key("interpolation.mode", "mode", .choice(SynthesisMode.allCases.map(\.rawValue)), "MODE", live: true,
            "Best mode to use: a network's (\(SynthesisMode.allCases.filter(\.isNeural).map(\.rawValue).joined(separator: ", ")); see model), flow, blend or repeat; the adaptive controller may step below it.",
            { c in c.mode.rawValue }) { c, v in
            c.mode = SynthesisMode(rawValue: try string(v)) ?? c.mode
        },
        key("interpolation.model", "model", .choice([""] + NeuralModel.allCases.map(\.rawValue)), "MODEL", live: true,
            "The network of a neural mode: \(NeuralModel.helpList); empty takes the mode's default.",
            { c in c.model }) { c, v in
            c.model = try string(v)
        },
        key("interpolation.preset", "preset", .choice(FlowPreset.allCases.map(\.rawValue)), "PRESET", live: true,
            "Flow preset: fast or quality.", { c in c.preset.rawValue }) { c, v in
            c.preset = FlowPreset(rawValue: try string(v)) ?? c.preset
        },
        key("interpolation.checkpoint", "checkpoint", .string, "FILE", live: true,
            "Weights for a neural mode (a PyTorch checkpoint); empty takes the installed model (rife: scripts/fetch-models.sh).",
            { c in c.checkpoint }) { c, v in
            let path = try string(v)
            guard path.isEmpty || FileManager.default.isReadableFile(atPath: path) else {
                throw ValueProblem("no readable file at \(path)")
            }
            var isDirectory: ObjCBool = false
            guard path.isEmpty || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue) else {
                throw ValueProblem("\(path) is a directory, not a checkpoint file")
            }
            c.checkpoint = path.isEmpty ? "" : URL(fileURLWithPath: path).standardizedFileURL.path
        },
        key("interpolation.adaptive", "adaptive", .bool, "BOOL", live: true,
            "Step down (network → flow quality → flow fast → blend → repeat) when GPU time exceeds the budget, and back up.",
            { c in String(c.adaptive) }) { c, v in
            c.adaptive = try bool(v)
        },
        key("interpolation.latency_budget_ms", "latency-budget", .floatOr("auto"), "MS", live: true,
            "Most time from a captured instant to its output (10...1000 ms), or auto (at most \(format(LatencyBudget.autoBound)) ms); "
                + "the delay in effect is the smallest that keeps 99 % of in-between slots synthesised.",
            { c in c.latencyBudgetMilliseconds.map(format) ?? "auto" }) { c, v in
            if case .string = v {
                c.latencyBudgetMilliseconds = nil
            } else {
                c.latencyBudgetMilliseconds = try float(v, in: 10...1000)
            }
        },
        key("interpolation.device", "device", .string, "DEVICE", live: false,
            "Vulkan device: an index or part of its name; empty picks the best.", { c in c.device }) { c, v in
            c.device = try string(v)
        },
        key("interpolation.vulkan_validation", "vulkan-validation", .bool, "BOOL", live: false,
            "Enable the Vulkan validation layer and log what it reports (slow; for debugging).",
            { c in String(c.vulkanValidation) }) { c, v in
            c.vulkanValidation = try bool(v)
        },
        key("control.socket", "socket", .string, "PATH", live: false,
            "Control socket; empty means /run/slomod/<instance>.sock.", { c in c.socket }) { c, v in
            let path = try string(v)
            guard path.isEmpty || path.hasPrefix("/") else { throw ValueProblem("must be an absolute path") }
            guard path.utf8.count < 108 else { throw ValueProblem("longer than a Unix socket path may be (107 bytes)") }
            c.socket = path
        },
        key("control.group", "socket-group", .string, "GROUP", live: false,
            "Group that owns the socket (clients in it may connect); empty keeps the daemon's.",
            { c in c.socketGroup }) { c, v in
            c.socketGroup = try string(v)
        },
        key("control.mode", "socket-mode", .string, "OCTAL", live: false,
            "Permissions of the socket file.", { c in "0" + String(c.socketMode, radix: 8) }) { c, v in
            guard let mode = Int(try string(v), radix: 8), (0...0o777).contains(mode) else {
                throw ValueProblem("must be octal permissions such as \"0660\"")
            }
            c.socketMode = mode
        },
        key("control.max_clients", "max-clients", .integer, "N", live: false,
            "Control connections served at once; more are refused.", { c in String(c.maxClients) }) { c, v in
            c.maxClients = try integer(v, in: 1...256)
        },
        key("control.client_timeout_ms", "client-timeout", .integer, "MS", live: false,
            "A control client that sends nothing, or leaves a line unfinished, this long is disconnected.",
            { c in String(c.clientTimeoutMilliseconds) }) { c, v in
            c.clientTimeoutMilliseconds = try integer(v, in: 100...3_600_000)
        },
        key("log.level", "log-level", .choice(Logger.Level.allCases.map(\.rawValue)), "LEVEL", live: true,
            "Least severe level logged.", { c in c.logLevel.rawValue }) { c, v in
            c.logLevel = Logger.Level(rawValue: try string(v)) ?? c.logLevel
        },
    ]

    public static func key(named path: String) -> ConfigKey? { keys.first { $0.path == path } }

    /// The keys in table order, grouped by their TOML table ("" for the top-level keys): how
    /// `--help` and the manual pages list them.
    static var keyTables: [(table: String, keys: [ConfigKey])] {
        var tables: [(table: String, keys: [ConfigKey])] = []
        for key in keys {
            let table = key.path.contains(".") ? String(key.path.split(separator: ".")[0]) : ""
            if tables.last?.table == table { tables[tables.count - 1].keys.append(key) } else { tables.append((table, [key])) }
        }
        return tables
    }

    /// Defaults, then the file (if any), then command-line overrides.
    public static func load(file: String?, overrides: [DaemonCommandLine.Override]) throws -> DaemonConfig {
        var config = DaemonConfig()
        if let file {
            guard FileManager.default.fileExists(atPath: file) else {
                throw ConfigError(origin: file, key: nil, message: "no such configuration file")
            }
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigError(origin: file, key: nil, message: "cannot read the configuration file (permissions, or not UTF-8)")
            }
            try config.apply(toml: text, file: file)
        }
        for override in overrides {
            guard let key = keys.first(where: { $0.flag == override.flag }) else {
                throw ConfigError(origin: "--\(override.flag)", key: nil, message: "unknown option")
            }
            try key.set(text: override.value, in: &config, origin: "--\(override.flag)")
        }
        try config.validate()
        return config
    }

    mutating func apply(toml text: String, file: String) throws {
        for entry in try TOMLSubset.parse(text, file: file) {
            let path = entry.table.isEmpty ? entry.key : entry.table + "." + entry.key
            guard let key = DaemonConfig.key(named: path) else {
                throw ConfigError(origin: "\(file):\(entry.line)", key: path, message: "unknown key")
            }
            try key.set(entry.value, in: &self, origin: "\(file):\(entry.line)")
        }
    }

    /// Checks that need more than one key.
    func validate() throws {
        if outputRate > 0, outputRate < fps || outputRate > fps * 16 {
            throw ConfigError(origin: "configuration", key: "interpolation.output_rate",
                              message: "\(DaemonConfig.format(outputRate)) must lie between the input rate "
                                  + "(\(DaemonConfig.format(fps))) and 16 times it")
        }
        if (try? SourceSpec.parse(input))?.kind == "testpattern", let pixelFormat, pixelFormat != .yuv420p {
            throw ConfigError(origin: "configuration", key: "input.pixel_format",
                              message: "the test pattern is yuv420p, not \(pixelFormat.rawValue)")
        }
    }

    /// The configuration as a TOML file that loads back to it.
    public var tomlText: String {
        var text = ""
        var table = ""
        for key in DaemonConfig.keys {
            let parts = key.path.split(separator: ".").map(String.init)
            if parts.count == 2, parts[0] != table {
                table = parts[0]
                text += "\n[\(table)]\n"
            }
            let shown = key.show(self)
            let value: String
            switch key.kind {
            case .string, .choice: value = JSONValue.string(shown).serialized
            case .integer, .float, .bool: value = shown
            case let .floatOr(word): value = shown == word ? JSONValue.string(shown).serialized : shown
            }
            text += "\(key.name) = \(value)\n"
        }
        return text
    }

    /// The settings that differ between two configurations.
    public func changedKeys(comparedTo other: DaemonConfig) -> [ConfigKey] {
        DaemonConfig.keys.filter { $0.show(self) != $0.show(other) }
    }

    // MARK: - Helpers for the table

    private static func key(_ path: String, _ flag: String, _ kind: ConfigKey.Kind, _ placeholder: String, live: Bool,
                            _ help: String, _ show: @escaping @Sendable (DaemonConfig) -> String,
                            apply: @escaping @Sendable (inout DaemonConfig, ConfigValue) throws -> Void) -> ConfigKey {
        ConfigKey(path: path, flag: flag, kind: kind, placeholder: placeholder, help: help, live: live, apply: apply, show: show)
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e12 ? String(Int(value)) : String(value)
    }

    private static func string(_ value: ConfigValue) throws -> String {
        guard case let .string(text) = value else { throw ValueProblem("expects a string") }
        return text
    }

    private static func nonEmpty(_ value: ConfigValue) throws -> String {
        let text = try string(value)
        guard !text.isEmpty else { throw ValueProblem("must not be empty") }
        return text
    }

    private static func integer(_ value: ConfigValue, in range: ClosedRange<Int>) throws -> Int {
        guard case let .integer(number) = value else { throw ValueProblem("expects an integer") }
        guard range.contains(number) else { throw ValueProblem("\(number) is out of range (\(range.lowerBound)...\(range.upperBound))") }
        return number
    }

    private static func float(_ value: ConfigValue, in range: ClosedRange<Double>) throws -> Double {
        guard case let .float(number) = value else { throw ValueProblem("expects a number") }
        guard range.contains(number) else {
            throw ValueProblem("\(format(number)) is out of range (\(format(range.lowerBound))...\(format(range.upperBound)))")
        }
        return number
    }

    private static func bool(_ value: ConfigValue) throws -> Bool {
        guard case let .bool(flag) = value else { throw ValueProblem("expects a boolean") }
        return flag
    }
}


/// The bound on the output's delay.
public enum LatencyBudget {
    /// What "auto" allows at most: enough for flow/quality at 1280×720 on lavapipe, and well past
    /// what the audio-video sync threshold (about 45 ms, ITU-R BT.1359) allows, so "auto" is
    /// bounded by what the machine needs, not by this.
    public static let autoBound = 100.0
}
