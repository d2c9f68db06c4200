import Foundation
import Logging
import SloMoCore
@testable import SloMoDaemon
import SloMoGPU
import SloMoNeural
import XCTest

/// The network levels, by their modes, as the ladder derives them from the models.
extension QualityLevel {
    static let rife = QualityLevel(mode: .rife, preset: .fast)
    static let superslomo = QualityLevel(mode: .superslomo, preset: .fast)
}

/// Mode rife in the settings: the TOML file, the command line and the control protocol.
final class NeuralSettingsTests: XCTestCase, ConfigFileTesting {
    func testModeRifeAndTheCheckpointKey() throws {
        let directory = try scratchDirectory(self)
        let weights = directory + "/flownet.pkl"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: weights))
        var config = try load("[interpolation]\nmode = \"rife\"\ncheckpoint = \"\(weights)\"\n")
        XCTAssertEqual(config.mode, .rife)
        XCTAssertEqual(config.checkpoint, weights)
        var settings = PipelineSettings(config: config)
        XCTAssertEqual(settings.ceiling, .rife)
        XCTAssertEqual(settings.neuralSource, NeuralSource(model: .rife425, checkpoint: weights))
        // Default: the installed model; the flow modes need no network at all.
        config = try load("[interpolation]\nmode = \"rife\"\n")
        XCTAssertEqual(config.checkpoint, "")
        XCTAssertEqual(PipelineSettings(config: config).neuralSource, NeuralSource(model: .rife425, checkpoint: nil))
        // The model key picks another network of the mode; one of another mode is not used.
        config = try load("[interpolation]\nmode = \"rife\"\nmodel = \"rife-hdv3\"\n")
        XCTAssertEqual(config.model, "rife-hdv3")
        XCTAssertEqual(PipelineSettings(config: config).neuralSource, NeuralSource(model: .rifeHDv3, checkpoint: nil))
        XCTAssertEqual(try load(config.tomlText), config, "round trip with a model")
        config.model = "superslomo"
        XCTAssertEqual(PipelineSettings(config: config).neuralSource, NeuralSource(model: .rife425, checkpoint: nil))
        XCTAssertThrowsError(try load("[interpolation]\nmodel = \"rife-9\"\n"))
        config.model = ""
        config.mode = .flow
        settings = PipelineSettings(config: config)
        XCTAssertNil(settings.neuralSource)
        XCTAssertEqual(try load(config.tomlText), config, "round trip")

        // Bad values: one line naming file, line and key.
        XCTAssertEqual(error("[interpolation]\nmode = \"RIFE\""), "FILE:2: interpolation.mode: 'RIFE' is not one of repeat, blend, flow, rife, superslomo")
        XCTAssertEqual(error("[interpolation]\nmode = \"rife\"\ncheckpoint = \"/nonexistent/flownet.pkl\""),
                       "FILE:3: interpolation.checkpoint: no readable file at /nonexistent/flownet.pkl")
        XCTAssertEqual(error("[interpolation]\ncheckpoint = \"\(directory)\""),
                       "FILE:2: interpolation.checkpoint: \(directory) is a directory, not a checkpoint file")
        XCTAssertEqual(error("[interpolation]\ncheckpoint = 3"), "FILE:2: interpolation.checkpoint: expects a string, not an integer")

        // The command line.
        guard case let .run(_, overrides) = try DaemonCommandLine.parse(["--mode", "rife", "--checkpoint", weights]) else {
            return XCTFail("expected run")
        }
        XCTAssertEqual(overrides, [.init(flag: "mode", value: "rife"), .init(flag: "checkpoint", value: weights)])
        config = try DaemonConfig.load(file: nil, overrides: overrides)
        XCTAssertEqual(config.mode, .rife)
        XCTAssertEqual(config.checkpoint, weights)
        XCTAssertThrowsError(try DaemonConfig.load(file: nil, overrides: [.init(flag: "mode", value: "neural")])) {
            XCTAssertEqual("\($0)", "--mode: interpolation.mode: 'neural' is not one of repeat, blend, flow, rife, superslomo")
        }
        XCTAssertThrowsError(try DaemonConfig.load(file: nil, overrides: [.init(flag: "checkpoint", value: directory + "/none.pkl")])) {
            XCTAssertEqual("\($0)", "--checkpoint: interpolation.checkpoint: no readable file at \(directory)/none.pkl")
        }
        XCTAssertTrue(DaemonCommandLine.help.contains("--checkpoint FILE"))
        let help = DaemonCommandLine.help.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(help.contains("One of: repeat, blend, flow, rife, superslomo."), help)

        // The protocol: `set mode rife` parses; the checkpoint changes by reload only.
        guard case let .success(request) = ControlProtocol.parse(Array(#"{"command":"set","settings":{"mode":"rife"}}"#.utf8)) else {
            return XCTFail("set mode rife does not parse")
        }
        XCTAssertEqual(request.command, .set([SettingChange(name: "mode", value: .string("rife"))]))
        guard case let .failure(rejection) = ControlProtocol.parse(Array(#"{"command":"set","settings":{"checkpoint":"/x"}}"#.utf8)) else {
            return XCTFail("checkpoint is not settable")
        }
        XCTAssertEqual(rejection.failure.code, .invalidParams)
        XCTAssertTrue(rejection.failure.message.hasPrefix("'checkpoint' cannot be set"), rejection.failure.message)
    }

    func testStatsCountRifeFrames() {
        let format = FrameFormat(width: 64, height: 48, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .limited))
        var snapshot = PipelineSnapshot(format: format, inputFormat: format, inputRate: Rational(30),
                                        outputRate: Rational(60), ratio: SlotRatio(scale: 2), settings: PipelineSettings(config: DaemonConfig()),
                                        level: .rife, delayMilliseconds: 90)
        snapshot.publishedByLevel[QualityLevel.rife.rawValue] = 7
        let json = Daemon.json(snapshot)
        XCTAssertEqual(json["synthesised_by_mode"]?.serialized, #"{"blend":0,"flow/fast":0,"flow/quality":0,"rife":7,"superslomo":0}"#)
        XCTAssertEqual(json["mode"], JSONValue.string("rife"))
    }
}

/// The controller's ladder with the network on top.
final class NeuralLadderTests: XCTestCase {
    func testNetworksAreTheTopLevels() {
        XCTAssertEqual(QualityLevel.allCases.map(\.description), ["repeat", "blend", "flow/fast", "flow/quality", "rife", "superslomo"])
        XCTAssertEqual(QualityLevel.allCases.map(\.rawValue), Array(0..<6), "the counters' indices")
        XCTAssertGreaterThan(QualityLevel.rife, .flowQuality)
        XCTAssertEqual(QualityLevel(mode: .superslomo, preset: .fast), .superslomo)
        XCTAssertEqual(QualityLevel.superslomo.neuralMode, .superslomo)
        XCTAssertEqual(QualityLevel.superslomo.description, "superslomo")
        XCTAssertEqual(QualityLevel(mode: .rife, preset: .fast), .rife)
        XCTAssertEqual(QualityLevel(mode: .rife, preset: .quality), .rife)
        XCTAssertNil(QualityLevel.rife.flowMode)
        XCTAssertNil(QualityLevel.rife.preset)
        XCTAssertEqual(QualityLevel.rife.neuralMode, .rife)
        XCTAssertTrue(QualityLevel.allCases.filter { $0 < .rife }.allSatisfy { $0.neuralMode == nil })
        XCTAssertEqual(QualityLevel.rife.description, "rife")
    }

    func testStartsAtRifeOnlyWhenItsCostFits() {
        var controller = BudgetController(ceiling: .rife, adaptive: true)
        controller.seed(.rife, milliseconds: 2400)
        controller.seed(.flowQuality, milliseconds: 30)
        controller.seed(.flowFast, milliseconds: 12)
        controller.seed(.blend, milliseconds: 2)
        controller.restart(budget: 28)
        XCTAssertEqual(controller.level, .flowFast, "a RIFE pair of 2.4 s does not fit 28 ms (lavapipe at 640×360)")
        controller.restart(budget: 3000)
        XCTAssertEqual(controller.level, .rife, "it fits a budget of seconds")
        controller.configure(ceiling: .rife, adaptive: false)
        controller.restart(budget: 28)
        XCTAssertEqual(controller.level, .rife, "not adaptive: the configured mode, whatever it costs")
        controller.configure(ceiling: .flowQuality, adaptive: true)
        controller.restart(budget: 3000)
        XCTAssertEqual(controller.level, .flowQuality, "never above the ceiling")
    }

    func testDegradesFromRifeStepByStep() {
        var controller = BudgetController(ceiling: .rife, adaptive: true)
        XCTAssertEqual(controller.level, .rife, "never measured: tried")
        var levels: [QualityLevel] = []
        for _ in 0..<400 {
            if let level = controller.record(milliseconds: 500, late: true, budget: -5) { levels.append(level) }
        }
        XCTAssertEqual(levels, [.flowQuality, .flowFast, .blend, .repeat])
    }

    /// Only the chosen network is on the ladder: Super SloMo steps down to flow/quality, never to
    /// RIFE (not loaded), and climbs back straight from flow/quality; RIFE never climbs to Super SloMo.
    func testOnlyTheChosenNetworkIsOnTheLadder() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        var controller = BudgetController(ceiling: .superslomo, adaptive: true, tuning: tuning)
        XCTAssertFalse(controller.usable(.rife))
        for _ in 0..<3 { _ = controller.record(milliseconds: 900, late: false, budget: 300) }
        XCTAssertEqual(controller.level, .flowQuality)
        // The hold doubled with the step down: ten quiet pairs, then a budget the network fits.
        for _ in 0..<9 { XCTAssertNil(controller.record(milliseconds: 20, late: false, budget: 300)) }
        XCTAssertEqual(controller.record(milliseconds: 20, late: false, budget: 2000), .superslomo)
        controller.seed(.rife, milliseconds: 1)
        controller.restart(budget: 300)
        XCTAssertEqual(controller.level, .flowQuality, "a cheap RIFE is still not on a Super SloMo ladder")

        var rife = BudgetController(ceiling: .rife, adaptive: true, tuning: tuning)
        rife.seed(.superslomo, milliseconds: 1)
        rife.restart(budget: 3000)
        XCTAssertEqual(rife.level, .rife, "never above the ceiling")
    }

    func testClimbsBackToRifeWhenItFits() {
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        var controller = BudgetController(ceiling: .rife, adaptive: true, tuning: tuning)
        for _ in 0..<3 { _ = controller.record(milliseconds: 400, late: false, budget: 300) }
        XCTAssertEqual(controller.level, .flowQuality)
        // RIFE measured 400 ms: flow/quality at 20 ms stays while the budget is 300 ms...
        for _ in 0..<100 { XCTAssertNil(controller.record(milliseconds: 20, late: false, budget: 300)) }
        // ...and climbs once 400 fits 85 % of the budget.
        XCTAssertEqual(controller.record(milliseconds: 20, late: false, budget: 500), .rife)
        XCTAssertNil(controller.record(milliseconds: 400, late: false, budget: 500))
        // A new network forgets the old one's cost.
        controller.forget(.rife)
        XCTAssertNil(controller.costs[.rife])
        XCTAssertNil(controller.quickest[.rife])
    }
}

/// The daemon's pipeline with RIFE 4.25 (rife's default) on the real engine (lavapipe), tiny frames: fails when
/// the weights are not installed (scripts/fetch-models.sh, which setup.sh --test runs).
final class NeuralPipelineTests: XCTestCase {
    func requireWeights() throws {
        _ = try ModelStore().require(.rife425)
    }

    func makePipeline(width: Int, height: Int, fps: Int, mode: SynthesisMode, budget: Double, sink: FrameSink,
                      tuning: BudgetController.Tuning = BudgetController.Tuning()) throws -> (Pipeline, PipelineSettings, GPUContext) {
        var config = DaemonConfig()
        config.mode = mode
        config.preset = .fast
        var settings = PipelineSettings(config: config)
        // Past the configuration's 1000 ms: a RIFE pair on lavapipe takes a good part of a second.
        settings.latencyBudgetMilliseconds = budget
        let source = TestPatternSource(width: width, height: height, frameRate: Rational(fps), loopFrames: 8)
        let context = try GPUContext(options: GPUOptions())
        let pipeline = try Pipeline(source: source, sink: sink, context: context, settings: settings, logger: Logger(label: "test"),
                                    tuning: tuning)
        return (pipeline, settings, context)
    }

    /// Seconds waited while the pipeline's network loaded, at most `limit`.
    func waitWhileTheNetworkLoads(_ pipeline: Pipeline, atMost limit: Double) -> Double {
        var waited = 0.0
        while pipeline.snapshot().network?.state == .loading, waited < limit {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 0.1
        }
        return waited
    }

    /// Starts on flow, then `set mode rife` live: `update` returns at once, the loader thread
    /// builds and times the network while flow frames keep coming, and with a budget of seconds
    /// every pair after the hand-over is made by it.
    func testLiveSwitchToRifeWithAGenerousBudget() throws {
        try requireWeights()
        let sink = RecordingSink()
        // 1 fps: a pair may take a second, and RIFE is picked if it takes at most 85 % of
        // that (a 64×48 pair takes 190-350 ms on lavapipe on a loaded 2-core machine).
        let (pipeline, settings, context) = try makePipeline(width: 64, height: 48, fps: 1, mode: .flow, budget: 3000, sink: sink)
        pipeline.start()
        var stopped = false
        defer { if !stopped { pipeline.stop() } }
        Thread.sleep(forTimeInterval: 2)
        let before = pipeline.snapshot()
        XCTAssertEqual(before.publishedByLevel[QualityLevel.rife.rawValue], 0)
        var rife = settings
        rife.mode = .rife
        let began = Date()
        XCTAssertTrue(try pipeline.update(rife), "a load began")
        let answered = Date().timeIntervalSince(began)
        print("update to rife took \(answered) s")
        XCTAssertLessThan(answered, 0.2, "update does not wait for the network")
        let loading = pipeline.snapshot()
        XCTAssertEqual(loading.network?.state, .loading)
        XCTAssertEqual(loading.network?.source.model, .rife425)
        XCTAssertFalse(try pipeline.update(rife), "asked again while it loads: no second load")
        // Reading the weights takes seconds in a debug build; frames keep coming meanwhile.
        let waited = waitWhileTheNetworkLoads(pipeline, atMost: 60)
        let ready = pipeline.snapshot()
        print("network ready after \(waited) s; delivered \(ready.delivered - loading.delivered) meanwhile")
        XCTAssertEqual(ready.network?.state, .ready)
        XCTAssertGreaterThanOrEqual(Double(ready.delivered - loading.delivered), 2 * waited - 3, "2 fps through the load")
        Thread.sleep(forTimeInterval: 7)
        let after = pipeline.snapshot()
        pipeline.stop()
        stopped = true
        print("levels \(after.publishedByLevel), level \(after.level), late \(after.late), synthesised \(after.synthesised), delivered \(after.delivered)")
        XCTAssertEqual(after.level, .rife)
        // Seven pairs in 7 s after the hand-over; the first may be late while the delay settles.
        XCTAssertGreaterThanOrEqual(after.publishedByLevel[QualityLevel.rife.rawValue], 4, "\(after.publishedByLevel)")
        XCTAssertEqual(after.settings.mode, .rife)
        XCTAssertEqual(after.network?.state, .ready)
        // The loader's timing shares the CPU (lavapipe) with the engine: a pair or two may miss.
        XCTAssertLessThanOrEqual(after.late, 3)
        XCTAssertNil(pipeline.failure)
        // The switch did not stop the output: the network was built beside the engine.
        let writes = sink.writes
        let gaps = zip(writes, writes.dropFirst()).map { Double($1.time - $0.time) / 1e6 }
        print("max gap \(gaps.max() ?? 0) ms")
        XCTAssertGreaterThan(writes.count, 10)
        XCTAssertLessThan(gaps.max() ?? .infinity, 1000, "no stall in the output (slots are 500 ms apart)")
        XCTAssertEqual(context.validationLog.messages, [], "Vulkan validation (SLOMO_VULKAN_VALIDATION=1)")
    }

    /// `set mode rife` on a cold shader cache (a fresh Mesa cache folder, as on a new machine):
    /// lavapipe compiles RIFE's shaders when they first run, about a minute on this CPU. The loader
    /// times the network on a twin of the engine's device, so that compile runs on the twin's
    /// queue and the engine goes on making every pair meanwhile (timed on the engine's own queue,
    /// the engine stopped for the whole compile: 964 input frames dropped at 640×360).
    func testColdNetworkLoadDoesNotHoldUpTheEngine() throws {
        try requireWeights()
        let cache = try scratchDirectory(self)
        let variable = "MESA_SHADER_CACHE_DIR"
        let saved = ProcessInfo.processInfo.environment[variable]
        setenv(variable, cache, 1)
        defer { if let saved { setenv(variable, saved, 1) } else { unsetenv(variable) } }
        let (pipeline, settings, context) = try makePipeline(width: 160, height: 96, fps: 30, mode: .flow, budget: 90, sink: NullSink())
        pipeline.start()
        var stopped = false
        defer { if !stopped { pipeline.stop() } }
        Thread.sleep(forTimeInterval: 2)
        var rife = settings
        rife.mode = .rife
        XCTAssertTrue(try pipeline.update(rife), "a load began")
        let loading = pipeline.snapshot()
        let waited = waitWhileTheNetworkLoads(pipeline, atMost: 300)
        let ready = pipeline.snapshot()
        pipeline.stop()
        stopped = true
        let captured = ready.captured - loading.captured, synthesised = ready.synthesised - loading.synthesised
        let dropped = ready.dropped - loading.dropped
        print("cold load: \(waited) s; meanwhile captured \(captured), synthesised \(synthesised), dropped \(dropped), late \(ready.late - loading.late)")
        XCTAssertEqual(ready.network?.state, .ready)
        XCTAssertGreaterThan(waited, 5, "the shaders were compiled (a warm cache loads RIFE 4.25 in about a second)")
        XCTAssertGreaterThan(Double(captured), 20 * waited, "capture went on at about 30 fps")
        XCTAssertGreaterThan(Double(synthesised), 0.8 * Double(captured), "a frame made for nearly every pair")
        XCTAssertLessThan(Double(dropped), 0.05 * Double(captured), "no input frame dropped for an engine held up")
        XCTAssertNil(pipeline.failure)
        XCTAssertEqual(context.validationLog.messages, [], "Vulkan validation (SLOMO_VULKAN_VALIDATION=1)")
    }

    /// Mode rife at start with a frame-rate budget: the warm-up times the network, and the
    /// controller starts (and stays) below it, with nothing piling up late. Costs are forgotten
    /// after 20 pairs here (300 normally), so the controller probes rife again and again: each
    /// probe must step down at once, without running a RIFE pair and without getting stuck at a
    /// level whose slots are all out of reach.
    func testTightBudgetDegradesBelowRife() throws {
        try requireWeights()
        var tuning = BudgetController.Tuning()
        tuning.climbHold = 5
        tuning.maxHold = 20
        tuning.costLifetime = 20
        let (pipeline, _, context) = try makePipeline(width: 64, height: 48, fps: 30, mode: .rife, budget: 100, sink: NullSink(),
                                                      tuning: tuning)
        XCTAssertLessThan(pipeline.snapshot().level, .rife, "the warm-up found RIFE too dear for 28 ms")
        pipeline.start()
        var stopped = false
        defer { if !stopped { pipeline.stop() } }
        Thread.sleep(forTimeInterval: 4)
        let stats = pipeline.snapshot()
        pipeline.stop()
        stopped = true
        print("levels \(stats.publishedByLevel), level \(stats.level), changes \(stats.levelChanges), late \(stats.late), synthesised \(stats.synthesised), repeated \(stats.repeated), delivered \(stats.delivered)")
        XCTAssertEqual(stats.settings.mode, .rife)
        XCTAssertEqual(stats.publishedByLevel[QualityLevel.rife.rawValue], 0)
        XCTAssertGreaterThan(stats.levelChanges, 1, "probes of rife, each stepped down again")
        XCTAssertGreaterThan(stats.delivered, 180, "about 60 fps for 4 s")
        XCTAssertGreaterThan(stats.fillRatio ?? 0, 0.6, "most in-between slots synthesised below rife, not stuck repeating at rife")
        XCTAssertLessThanOrEqual(Double(stats.late), 0.05 * Double(stats.synthesised + stats.repeated) + 3, "late frames do not pile up")
        XCTAssertLessThanOrEqual(stats.gpuMillisecondsPerFrame ?? 0, 28, "no RIFE pair was run")
        XCTAssertNil(pipeline.failure)
        XCTAssertEqual(context.validationLog.messages, [], "Vulkan validation (SLOMO_VULKAN_VALIDATION=1)")
    }
}

/// The real slomod without the weights (every search folder empty): a start with mode rife is
/// refused in one line, and a running daemon answers `set mode rife` and a reload to it with an
/// error and goes on delivering in its mode.
final class NeuralMissingWeightsTests: XCTestCase {
    func testMissingWeightsRefuseStartSetAndReload() throws {
        let directory = try scratchDirectory(self)
        let empty = directory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let environment = ["SLOMO_MODELS_DIR": empty, "XDG_DATA_HOME": empty, "HOME": empty]
        guard ModelStore(environment: environment).locate(.rife425) == nil else {
            throw XCTSkip("RIFE 4.25 is installed system-wide")
        }
        let pattern = ["--input", "testpattern", "--width", "64", "--height", "48", "--loop-frames", "8", "--output", "null"]

        // Start: one line, exit 1, no socket left behind.
        let slomod = try product("slomod")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: slomod)
        process.arguments = pattern + ["--mode", "rife", "--socket", directory + "/refused.sock"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errorText = String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1)
        XCTAssertEqual(errorText.split(separator: "\n").count, 1, errorText)
        XCTAssertTrue(errorText.contains("cannot start: mode rife: RIFE 4.25 (IFNet) weights are not installed (looked for rife-4.25/flownet.pkl in \(empty), "),
                      errorText)
        XCTAssertTrue(errorText.contains("run scripts/fetch-models.sh"), errorText)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/refused.sock"))

        // Super SloMo has no installed model to fall back on: without a checkpoint, one line naming the option.
        let superSloMo = Process()
        superSloMo.executableURL = URL(fileURLWithPath: slomod)
        superSloMo.arguments = pattern + ["--mode", "superslomo", "--socket", directory + "/refused.sock"]
        superSloMo.environment = process.environment
        let superSloMoErrors = Pipe()
        superSloMo.standardError = superSloMoErrors
        superSloMo.standardOutput = FileHandle.nullDevice
        try superSloMo.run()
        let superSloMoText = String(decoding: superSloMoErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        superSloMo.waitUntilExit()
        XCTAssertEqual(superSloMo.terminationStatus, 1)
        XCTAssertEqual(superSloMoText.split(separator: "\n").count, 1, superSloMoText)
        XCTAssertTrue(superSloMoText.contains("cannot start: mode superslomo: Super SloMo weights are not installed")
                      && superSloMoText.contains("pass --checkpoint FILE"), superSloMoText)

        // Running on flow: `set mode rife` fails, the mode stays and frames keep coming.
        let config = directory + "/slomod.toml"
        try "[interpolation]\nmode = \"flow\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(pattern + ["--config", config], directory: directory, environment: environment)
        try daemon.waitUntilRunning()
        let client = try RawClient(path: daemon.socket)
        let reply = try client.reply(#"{"command":"set","settings":{"mode":"rife"}}"#)
        XCTAssertEqual(reply["ok"], .bool(false), reply.serialized)
        XCTAssertEqual(reply["error"]?["code"], .string("failed"))
        guard case let .string(message)? = reply["error"]?["message"] else { return XCTFail(reply.serialized) }
        XCTAssertTrue(message.hasPrefix("mode rife: RIFE 4.25 (IFNet) weights are not installed"), message)
        XCTAssertTrue(message.hasSuffix("; keeping flow"), message)
        var status = try daemon.request(.object([("command", .string("status"))]))
        XCTAssertEqual(status["configured_mode"], .string("flow"))

        // A reload to mode rife is refused as a whole (the scale in the same file too).
        try "[interpolation]\nmode = \"rife\"\nscale = 3\n".write(toFile: config, atomically: true, encoding: .utf8)
        let reload = try client.reply(#"{"command":"reload"}"#)
        XCTAssertEqual(reload["ok"], .bool(false), reload.serialized)
        guard case let .string(reloadMessage)? = reload["error"]?["message"] else { return XCTFail(reload.serialized) }
        XCTAssertTrue(reloadMessage.hasPrefix("kept the running configuration: mode rife: RIFE 4.25 (IFNet) weights are not installed"),
                      reloadMessage)
        status = try daemon.request(.object([("command", .string("status"))]))
        XCTAssertEqual(status["configured_mode"], .string("flow"))
        XCTAssertEqual(status["scale"]?.number, 2)
        XCTAssertEqual(status["network"], .null)

        // An unreadable checkpoint is found (the answer does not wait to read it) and fails on the
        // loader thread: `status` says why, and the daemon runs below the network meanwhile.
        let garbage = directory + "/garbage.pkl"
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: garbage))
        try "[interpolation]\nmode = \"rife\"\ncheckpoint = \"\(garbage)\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let garbled = try client.reply(#"{"command":"reload"}"#)
        XCTAssertEqual(garbled["ok"], .bool(true), garbled.serialized)
        var network = JSONValue.null
        for _ in 0..<50 {
            network = try daemon.request(.object([("command", .string("status"))]))["network"] ?? .null
            if network["state"] != .string("loading") { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(network["state"], .string("failed"), network.serialized)
        XCTAssertEqual(network["checkpoint"], .string(garbage))
        guard case let .string(garbledMessage)? = network["error"] else { return XCTFail(network.serialized) }
        XCTAssertTrue(garbledMessage.contains("mode rife: \(garbage) is not a PyTorch checkpoint"), garbledMessage)
        XCTAssertTrue(daemon.log.split(separator: "\n").contains { $0.contains("\(garbage) is not a PyTorch checkpoint") && $0.contains("staying below it") },
                      daemon.log)
        status = try daemon.request(.object([("command", .string("status"))]))
        XCTAssertEqual(status["configured_mode"], .string("rife"))
        XCTAssertEqual(status["mode"], .string("flow/fast"), "below the network it could not load")
        let before = number(try daemon.stats(), "delivered")
        Thread.sleep(forTimeInterval: 1)
        let stats = try daemon.stats()
        XCTAssertGreaterThan(number(stats, "delivered") - before, 30, "still delivering at about 60 fps")
        XCTAssertEqual(stats["synthesised_by_mode"]?["rife"]?.number, 0)
        XCTAssertEqual(daemon.stop(), 0, daemon.log)
    }
}
