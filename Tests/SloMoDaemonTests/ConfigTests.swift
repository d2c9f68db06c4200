import Foundation
import Logging
import SloMoCore
@testable import SloMoDaemon
import SloMoV4L2
import XCTest

/// Tests that load a configuration file written from a string.
protocol ConfigFileTesting {}

extension ConfigFileTesting {
    func load(_ text: String, overrides: [DaemonCommandLine.Override] = []) throws -> DaemonConfig {
        let path = NSTemporaryDirectory() + "slomod-config-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try DaemonConfig.load(file: path, overrides: overrides)
    }

    /// The error's text with the temporary file's name replaced by "FILE".
    func error(_ text: String, overrides: [DaemonCommandLine.Override] = []) -> String? {
        do {
            _ = try load(text, overrides: overrides)
            return nil
        } catch {
            return "\(error)".replacingOccurrences(of: #"/\S*slomod-config-[0-9A-F-]+\.toml"#, with: "FILE", options: .regularExpression)
        }
    }
}

final class ConfigTests: XCTestCase, ConfigFileTesting {
    func testParsesEveryTable() throws {
        let config = try load("""
            # comment
            instance = "cam0"
            [input]
            source = "testpattern"   # trailing comment
            width = 320
            height = 1_80
            fps = 25
            [output]
            sink = 'file:/tmp/a b.y4m'
            [interpolation]
            scale = 4
            mode = "blend"
            preset = "quality"
            adaptive = false
            latency_budget_ms = 80.5
            [control]
            socket = "/tmp/s.sock"
            mode = "0600"
            max_clients = 0x4
            [log]
            level = "debug"
            """)
        XCTAssertEqual(config.instance, "cam0")
        XCTAssertEqual(config.width, 320)
        XCTAssertEqual(config.height, 180)
        XCTAssertEqual(config.fps, 25)
        XCTAssertEqual(config.output, "file:/tmp/a b.y4m")
        XCTAssertEqual(config.scale, 4)
        XCTAssertEqual(config.mode, .blend)
        XCTAssertEqual(config.preset, .quality)
        XCTAssertFalse(config.adaptive)
        XCTAssertEqual(config.latencyBudgetMilliseconds, 80.5)
        XCTAssertEqual(config.socketPath, "/tmp/s.sock")
        XCTAssertEqual(config.socketMode, 0o600)
        XCTAssertEqual(config.maxClients, 4)
        XCTAssertEqual(config.logLevel, .debug)
    }

    func testErrorsNameFileLineAndKey() {
        XCTAssertEqual(error("[input]\nwidht = 3\n"), "FILE:2: input.widht: unknown key")
        XCTAssertEqual(error("\n\n[interpolation]\nscale = 40"), "FILE:4: interpolation.scale: 40 is out of range (2...16)")
        XCTAssertEqual(error("[interpolation]\nscale = \"4\""), "FILE:2: interpolation.scale: expects an integer, not a string")
        XCTAssertEqual(error("[interpolation]\nmode = \"fancy\""), "FILE:2: interpolation.mode: 'fancy' is not one of repeat, blend, flow, rife, superslomo")
        XCTAssertEqual(error("[interpolation]\nadaptive = yes"), "FILE:2: invalid value 'yes' (strings need quotes)")
        XCTAssertEqual(error("[output]\nsink = \"/tmp/x\"\nsink = \"null\""), "FILE:3: output.sink: defined twice (first at line 2)")
        XCTAssertEqual(error("[input]\n[input]"), "FILE:2: table [input] defined twice (first at line 1)")
        XCTAssertEqual(error("[input\n"), "FILE:1: expected ']' after the table name")
        XCTAssertEqual(error("[input]\nwidth = [1, 2]"), "FILE:2: arrays are not supported")
        XCTAssertEqual(error("input.width = 3"), "FILE:1: dotted keys are not supported; use a [table]")
        XCTAssertEqual(error("[input]\nwidth = 3 4"), "FILE:2: unexpected text after the value")
        XCTAssertEqual(error("[input]\nsource = \"abc"), "FILE:2: unterminated string")
        XCTAssertEqual(error("[input]\nwidth = 007"), "FILE:2: invalid value '007' (strings need quotes)")
        XCTAssertEqual(error("[output]\nsink = \"ftp://x\""),
                       "FILE:2: output.sink: unknown output 'ftp://x' (use null, file:PATH.y4m, /dev/videoN or /dev/dri/cardN)")
        XCTAssertEqual(error("[control]\nmode = \"999\""), "FILE:2: control.mode: must be octal permissions such as \"0660\"")
        XCTAssertEqual(error("[control]\nsocket = \"relative.sock\""), "FILE:2: control.socket: must be an absolute path")
        XCTAssertEqual(error("[interpolation]\noutput_rate = 20"),
                       "configuration: interpolation.output_rate: 20 must lie between the input rate (30) and 16 times it")
        XCTAssertEqual(error("[input]\npixel_format = \"yuyv\""), "configuration: input.pixel_format: the test pattern is yuv420p, not yuyv")
        XCTAssertThrowsError(try DaemonConfig.load(file: "/nonexistent/slomod.toml", overrides: [])) {
            XCTAssertEqual("\($0)", "/nonexistent/slomod.toml: no such configuration file")
        }
        XCTAssertEqual(error("", overrides: [.init(flag: "scale", value: "x")]), "--scale: expects an integer, not 'x'")
        XCTAssertEqual(error("", overrides: [.init(flag: "scale", value: "1")]), "--scale: interpolation.scale: 1 is out of range (2...16)")
    }

    func testCommandLineOverridesTheFile() throws {
        let action = try DaemonCommandLine.parse(["--config", "/etc/x.toml", "--input", "/dev/video0", "--output=/dev/video10",
                                                  "--scale", "3", "--no-adaptive", "--vulkan-validation", "--socket", "/tmp/s.sock"])
        guard case let .run(file, overrides) = action else { return XCTFail("expected run, got \(action)") }
        XCTAssertEqual(file, "/etc/x.toml")
        XCTAssertEqual(overrides.map(\.flag), ["input", "output", "scale", "adaptive", "vulkan-validation", "socket"])
        XCTAssertEqual(overrides.map(\.value), ["/dev/video0", "/dev/video10", "3", "false", "true", "/tmp/s.sock"])
        let config = try load("[interpolation]\nscale = 5\nadaptive = true", overrides: overrides)
        XCTAssertEqual(config.scale, 3)
        XCTAssertFalse(config.adaptive)
        XCTAssertEqual(try SinkSpec.parse(config.output), EndpointSpec(kind: "loopback", path: "/dev/video10"))
        XCTAssertEqual(try DaemonCommandLine.parse(["--help"]), .help)
        XCTAssertEqual(try DaemonCommandLine.parse(["--check-config", "--scale", "2"]),
                       .check(configFile: nil, overrides: [.init(flag: "scale", value: "2")]))
        XCTAssertThrowsError(try DaemonCommandLine.parse(["--bogus", "1"])) { XCTAssertEqual("\($0)", "--bogus: unknown option (see --help)") }
        XCTAssertThrowsError(try DaemonCommandLine.parse(["--scale"])) { XCTAssertEqual("\($0)", "--scale: needs a value") }
        XCTAssertThrowsError(try DaemonCommandLine.parse(["stray"]))
    }

    /// `latency_budget_ms` is "auto" (the default) or a number, from the file, the command line and `set`.
    func testLatencyBudgetIsAutoOrANumber() throws {
        XCTAssertNil(DaemonConfig().latencyBudgetMilliseconds)
        XCTAssertEqual(PipelineSettings(config: DaemonConfig()).latencyBoundMilliseconds, LatencyBudget.autoBound)
        XCTAssertNil(try load("[interpolation]\nlatency_budget_ms = \"auto\"").latencyBudgetMilliseconds)
        XCTAssertEqual(try load("[interpolation]\nlatency_budget_ms = 40").latencyBudgetMilliseconds, 40)
        XCTAssertEqual(try load("", overrides: [.init(flag: "latency-budget", value: "45.5")]).latencyBudgetMilliseconds, 45.5)
        var config = try load("[interpolation]\nlatency_budget_ms = 40", overrides: [.init(flag: "latency-budget", value: "auto")])
        XCTAssertNil(config.latencyBudgetMilliseconds)
        XCTAssertTrue(config.tomlText.contains("latency_budget_ms = \"auto\"\n"), config.tomlText)
        config.latencyBudgetMilliseconds = 60
        XCTAssertTrue(config.tomlText.contains("latency_budget_ms = 60\n"), config.tomlText)
        XCTAssertEqual(try load(config.tomlText), config)
        XCTAssertEqual(PipelineSettings(config: config).latencyBoundMilliseconds, 60)
        let key = try XCTUnwrap(DaemonConfig.key(named: "interpolation.latency_budget_ms"))
        try key.set(.string("auto"), in: &config, origin: "set")
        XCTAssertNil(config.latencyBudgetMilliseconds)
        XCTAssertEqual(error("[interpolation]\nlatency_budget_ms = \"fast\""),
                       "FILE:2: interpolation.latency_budget_ms: expects a number or \"auto\", not a string")
        XCTAssertEqual(error("", overrides: [.init(flag: "latency-budget", value: "soon")]),
                       "--latency-budget: expects a number or \"auto\", not 'soon'")
        XCTAssertEqual(error("[interpolation]\nlatency_budget_ms = 5"), "FILE:2: interpolation.latency_budget_ms: 5 is out of range (10...1000)")
    }

    func testEveryKeyHasAFlagAHelpLineAndRoundTripsThroughTOML() throws {
        let help = DaemonCommandLine.help
        for key in DaemonConfig.keys {
            XCTAssertTrue(help.contains("--\(key.flag) "), "--help lacks --\(key.flag)")
            XCTAssertTrue(help.contains("[\(key.path)]"), "--help lacks [\(key.path)]")
        }
        XCTAssertEqual(Set(DaemonConfig.keys.map(\.flag)).count, DaemonConfig.keys.count, "flags are unique")
        var changed = DaemonConfig()
        changed.instance = "x"
        changed.output = "file:/tmp/\"quoted\".y4m"
        changed.outputRate = 75.5
        changed.socketMode = 0o640
        changed.pixelFormat = .yuv420p
        XCTAssertEqual(try load(changed.tomlText), changed)
        XCTAssertEqual(try load(DaemonConfig().tomlText), DaemonConfig())
    }

    func testShippedConfigurationsLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let files = ["Configs/slomod.toml", "Configs/examples/loopback.toml", "Configs/examples/drm.toml"]
        let sinks = try files.map { try DaemonConfig.load(file: root.appendingPathComponent($0).path, overrides: []).output }
        XCTAssertEqual(try sinks.map { try SinkSpec.parse($0).kind }, ["null", "loopback", "drm"])
        // The documented default file documents every key.
        let text = try String(contentsOf: root.appendingPathComponent("Configs/slomod.toml"), encoding: .utf8)
        for key in DaemonConfig.keys {
            XCTAssertTrue(text.contains("\(key.name) ="), "Configs/slomod.toml does not mention \(key.path)")
        }
    }

    func testEndpointSpecs() throws {
        XCTAssertEqual(try SourceSpec.parse("testpattern"), EndpointSpec(kind: "testpattern", path: ""))
        XCTAssertEqual(try SourceSpec.parse("/dev/video0"), EndpointSpec(kind: "v4l2", path: "/dev/video0"))
        XCTAssertEqual(try SinkSpec.parse("/dev/dri/card0"), EndpointSpec(kind: "drm", path: "/dev/dri/card0"))
        XCTAssertEqual(try SinkSpec.parse("file:/tmp/x.y4m"), EndpointSpec(kind: "file", path: "/tmp/x.y4m"))
        XCTAssertEqual(try SinkSpec.parse("null"), EndpointSpec(kind: "null", path: ""))
        XCTAssertThrowsError(try SinkSpec.parse("file:"))
        // The kernel endpoints are built in (KernelIO.swift); making one opens nothing yet.
        let registry = IORegistry.standard()
        let kinds = [
            try registry.makeSink(try SinkSpec.parse("/dev/video10"), config: DaemonConfig()),
            try registry.makeSink(try SinkSpec.parse("/dev/dri/card0"), config: DaemonConfig()),
        ].map { "\(type(of: $0))" } + ["\(type(of: try registry.makeSource(try SourceSpec.parse("/dev/video0"), config: DaemonConfig())))"]
        // A camera comes wrapped in the one reconnect path.
        XCTAssertEqual(kinds, ["LoopbackOutput", "DRMOutput", "ResilientSource"])
        let camera = try XCTUnwrap(try registry.makeSource(try SourceSpec.parse("/dev/video0"), config: DaemonConfig()) as? ResilientSource)
        XCTAssertTrue(camera.source is V4L2Capture)
        XCTAssertEqual(camera.format.width, 640, "the configured size stands for the camera until it opens")
        var config = DaemonConfig()
        config.displayMode = "big"
        XCTAssertThrowsError(try registry.makeSink(try SinkSpec.parse("/dev/dri/card0"), config: config)) {
            XCTAssertEqual("\($0)", "display mode 'big' is not auto or WIDTHxHEIGHT[@HZ]")
        }
    }
}

final class JSONAndProtocolTests: XCTestCase {
    func parse(_ text: String) -> Result<ControlRequest, ControlRejection> { ControlProtocol.parse(Array(text.utf8)) }

    func failure(_ text: String) -> (String, String)? {
        guard case let .failure(rejection) = parse(text) else { return nil }
        return (rejection.failure.code.rawValue, rejection.failure.message)
    }

    func testJSONValues() throws {
        XCTAssertEqual(try JSONValue.parse(Array(#"{"a":[1,-2.5e3,true,false,null,"x\"\u00e9\ud83d\ude00"]}"#.utf8)),
                       .object([("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("x\"é😀")]))]))
        for bad in ["", "{", "[1,]", "01", "1.", "\"\u{01}\"", "{\"a\" 1}", "tru", "\"\\ud800\"", "1 2", "{'a':1}", "NaN", "1e999"] {
            XCTAssertThrowsError(try JSONValue.parse(Array(bad.utf8)), "accepted \(bad)")
        }
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xFF, 0x22]), "invalid UTF-8")
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertThrowsError(try JSONValue.parse(Array(deep.utf8))) { XCTAssertTrue("\($0)".contains("nesting")) }
        XCTAssertEqual(JSONValue.object([("k", .string("a\nb\u{1}")), ("n", .number(2)), ("f", .number(0.5))]).serialized,
                       #"{"k":"a\nb\u0001","n":2,"f":0.5}"#)
    }

    func testEveryCommandParses() throws {
        let cases: [(String, ControlCommand)] = [
            (#"{"command":"status"}"#, .status), (#"{"command":"stats"}"#, .stats), (#"{"command":"pause"}"#, .pause),
            (#"{"command":"resume"}"#, .resume), (#"{"command":"reload"}"#, .reload), (#"{"command":"version"}"#, .version),
            (#"{"command":"snapshot"}"#, .snapshot),
            (#"{"command":"set","settings":{"scale":4,"mode":"blend","adaptive":false,"latency_budget_ms":80.5}}"#,
             .set([SettingChange(name: "scale", value: .integer(4)), SettingChange(name: "mode", value: .string("blend")),
                   SettingChange(name: "adaptive", value: .bool(false)), SettingChange(name: "latency_budget_ms", value: .float(80.5))])),
        ]
        for (line, command) in cases {
            XCTAssertEqual(try parse(line).get().command, command, line)
        }
        XCTAssertEqual(try parse(#" {"id": "abc", "command": "status"} "#).get().id, .string("abc"))
    }

    func testEveryProtocolError() {
        XCTAssertEqual(failure("not json")?.0, "parse_error")
        XCTAssertEqual(failure("[1]")?.0, "invalid_request")
        XCTAssertEqual(failure(#"{"id":1}"#)?.0, "invalid_request")
        XCTAssertEqual(failure(#"{"command":7}"#)?.0, "invalid_request")
        XCTAssertEqual(failure(#"{"command":"status","id":[1]}"#)?.0, "invalid_request")
        XCTAssertEqual(failure(#"{"command":"explode"}"#)?.0, "unknown_command")
        XCTAssertEqual(failure(#"{"command":"status","extra":1}"#)?.1, "'status' takes no field 'extra'")
        XCTAssertEqual(failure(#"{"command":"set"}"#)?.0, "invalid_params")
        XCTAssertEqual(failure(#"{"command":"set","settings":{}}"#)?.0, "invalid_params")
        XCTAssertEqual(failure(#"{"command":"set","settings":{"width":3}}"#)?.0, "invalid_params")
        XCTAssertEqual(failure(#"{"command":"set","settings":{"scale":[4]}}"#)?.1, "scale: expects a number, a string or a boolean, not array")
        // Protocol 1's snapshot path (a file the daemon wrote with its own rights) is refused.
        XCTAssertEqual(failure(#"{"command":"snapshot","path":"/etc/passwd.png"}"#)?.1, "'snapshot' takes no field 'path'")
        // The id survives into error replies once it has been read.
        guard case let .failure(rejection) = parse(#"{"id":9,"command":"nope"}"#) else { return XCTFail("accepted") }
        XCTAssertEqual(ControlProtocol.reply(id: rejection.id, failure: rejection.failure),
                       #"{"ok":false,"id":9,"error":{"code":"unknown_command","message":"unknown command 'nope' (one of status, stats, set, pause, resume, reload, snapshot, version)"}}"# + "\n")
    }

    func testClientRequestsFromCommandLines() throws {
        XCTAssertEqual(try ControlClient.request(command: "set", arguments: ["scale", "4"], workingDirectory: "/w").serialized,
                       #"{"command":"set","settings":{"scale":4}}"#)
        XCTAssertEqual(try ControlClient.request(command: "set", arguments: ["mode", "blend"], workingDirectory: "/w").serialized,
                       #"{"command":"set","settings":{"mode":"blend"}}"#)
        XCTAssertEqual(try ControlClient.request(command: "snapshot", arguments: ["a.png"], workingDirectory: "/w").serialized,
                       #"{"command":"snapshot"}"#)
        XCTAssertThrowsError(try ControlClient.request(command: "snapshot", arguments: ["a.jpg"], workingDirectory: "/w"))
        XCTAssertThrowsError(try ControlClient.request(command: "set", arguments: ["scale"], workingDirectory: "/"))
        XCTAssertThrowsError(try ControlClient.request(command: "frobnicate", arguments: [], workingDirectory: "/"))
        XCTAssertThrowsError(try ControlClient.result(of: try JSONValue.parse(Array(#"{"ok":false,"error":{"code":"failed","message":"boom"}}"#.utf8)))) {
            XCTAssertEqual("\($0)", "boom")
        }
    }
}

final class SnapshotAndLogTests: XCTestCase {
    func testRGBConversionOfKnownColours() {
        // Limited-range BT.601: white, black and a saturated red, as 2×2 yuv420p frames.
        func convert(_ y: UInt8, _ cb: UInt8, _ cr: UInt8, _ format: PixelFormat = .yuv420p) -> [UInt8] {
            let frameFormat = FrameFormat(width: 2, height: 2, pixelFormat: format, color: ColorSpace(matrix: .bt601, range: .limited))
            let bytes: [UInt8]
            switch format {
            case .yuyv: bytes = [y, cb, y, cr, y, cb, y, cr]
            case .nv12: bytes = [y, y, y, y, cb, cr]
            default: bytes = [y, y, y, y, cb, cr]
            }
            return bytes.withUnsafeBytes { Array(RGBConversion.rgb(from: $0, format: frameFormat).prefix(3)) }
        }
        XCTAssertEqual(convert(235, 128, 128), [255, 255, 255])
        XCTAssertEqual(convert(16, 128, 128), [0, 0, 0])
        // Red's exact samples are 81.5, 90.3, 240: one level of rounding either way.
        func nearRed(_ rgb: [UInt8]) -> Bool { zip(rgb, [255, 0, 0] as [UInt8]).allSatisfy { abs(Int($0) - Int($1)) <= 1 } }
        XCTAssertTrue(nearRed(convert(81, 90, 240)), "\(convert(81, 90, 240))")
        XCTAssertTrue(nearRed(convert(81, 90, 240, .yuyv)))
        XCTAssertTrue(nearRed(convert(81, 90, 240, .nv12)))
        XCTAssertFalse(nearRed(convert(81, 240, 90)), "Cb and Cr in their places")
        let bgr = FrameFormat(width: 1, height: 1, pixelFormat: .xrgb8888, color: ColorSpace(matrix: .bt601, range: .full))
        XCTAssertEqual([UInt8]([3, 2, 1, 0]).withUnsafeBytes { RGBConversion.rgb(from: $0, format: bgr) }, [1, 2, 3])
    }

    func testJournalLinesCarrySyslogPriorities() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let level = LogLevelBox(.info)
        var logger = Logging.Logger(label: "t") { _ in JournalLogHandler(level: level, output: JournalOutput(fd: fds[1])) }
        logger.debug("hidden")
        logger.info("one")
        logger.error("two\nlines", metadata: ["k": "v"])
        level.level = .debug
        logger.debug("shown")
        logger.logLevel = .critical
        logger.warning("hidden too")
        close(fds[1])
        let text = String(decoding: FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(text, "<6>one\n<3>two\n<3>lines k=v\n<7>shown\n")
    }
}
