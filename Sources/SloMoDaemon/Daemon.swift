import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp

/// slomod: wires the configuration, the endpoints, the GPU, the pipeline, the control socket,
/// systemd notification and signals together, and answers control commands.
public final class Daemon: ControlHandler, @unchecked Sendable {
    public static let version = SloMoVersion.current
    /// 2: snapshot returns the image instead of writing a file the client names.
    public static let protocolVersion = 2

    public let configFile: String?
    private let overrides: [DaemonCommandLine.Override]
    private let registry: IORegistry
    private let logLevel: LogLevelBox
    public let logger: Logger
    private let notifier: SystemdNotifier
    private let started = MonotonicClock.now()

    /// Guards `config`, `settings` and `pipeline`: the control thread and the main thread (SIGHUP) both change them.
    private let lock = NSLock()
    private var config: DaemonConfig
    private var settings: PipelineSettings
    private var pipeline: Pipeline?
    private var context: GPUContext?
    private var server: ControlServer?
    /// The GPU context collects validation messages (reported at stop).
    private var validation = false

    public init(configFile: String?, overrides: [DaemonCommandLine.Override], registry: IORegistry = .standard(),
                notifier: SystemdNotifier = SystemdNotifier(), output: JournalOutput = .standardError) throws {
        self.configFile = configFile
        self.overrides = overrides
        self.registry = registry
        self.notifier = notifier
        config = try DaemonConfig.load(file: configFile, overrides: overrides)
        settings = PipelineSettings(config: config)
        let level = LogLevelBox(config.logLevel)
        logLevel = level
        var logger = Logger(label: "slomod") { _ in JournalLogHandler(level: level, output: output) }
        logger[metadataKey: "instance"] = .string(config.instance)
        self.logger = logger
    }

    /// The GPU in use, once started.
    public var gpuContext: GPUContext? { lock.withLock { context } }

    // MARK: - Running

    /// Binds the control socket, opens the devices and starts the pipeline. Errors leave
    /// nothing behind (socket removed, devices closed).
    public func start() throws {
        let config = lock.withLock { self.config }
        // A neural mode's weights first: missing or unreadable ones stop the start in one line,
        // before any socket or device is touched.
        let weights = try lock.withLock { settings }.neuralSource.map { try NeuralWeights.load($0, mode: config.mode.rawValue) }
        var options = ControlServer.Options(path: config.socketPath)
        options.mode = config.socketMode
        options.group = config.socketGroup
        options.maxClients = config.maxClients
        options.timeoutNanoseconds = UInt64(config.clientTimeoutMilliseconds) * 1_000_000
        // The socket first: a second daemon for the same instance stops here, before it touches a device.
        let server = ControlServer(options: options, handler: self, logger: logger)
        try server.start()
        do {
            let source = try registry.makeSource(try SourceSpec.parse(config.input), config: config)
            let sink = try registry.makeSink(try SinkSpec.parse(config.output), config: config)
            let options = GPUOptions(device: config.device.isEmpty ? nil : config.device,
                                     validation: config.vulkanValidation || GPUOptions().validation)
            let context = try GPUContext(options: options)
            validation = options.validation
            logger.info("GPU: \(context.info)")
            let began = MonotonicClock.now()
            let pipeline = try Pipeline(source: source, sink: sink, context: context, settings: lock.withLock { settings }, logger: logger,
                                        weights: weights)
            if let pattern = source as? TestPatternSource {
                logger.info("test pattern: rendered \(pattern.loopFrames) frames in \(Int(pattern.renderMilliseconds)) ms")
            }
            let snapshot = pipeline.snapshot()
            logger.info("""
                \(config.input) \(pipeline.format.width)x\(pipeline.format.height) \(pipeline.format.pixelFormat.rawValue) \
                at \(pipeline.inputRate) fps → \(config.output) at \(snapshot.outputRate) fps; \
                ready in \((MonotonicClock.now() - began) / 1_000_000) ms
                """)
            pipeline.start(realtimePriority: config.realtimePriority)
            lock.withLock {
                self.context = context
                self.pipeline = pipeline
                self.server = server
            }
        } catch {
            server.stop()
            throw error
        }
    }

    /// Stops serving, drains the pipeline and closes the devices.
    public func stop() {
        let (server, pipeline) = lock.withLock { (self.server, self.pipeline) }
        server?.stop()
        pipeline?.stop()
        if let pipeline {
            let stats = pipeline.snapshot()
            logger.info("stopped: \(stats.captured) captured, \(stats.delivered) delivered, \(stats.synthesised) synthesised, \(stats.late) late, \(stats.dropped) dropped")
        }
        if let context = lock.withLock({ self.context }), validation {
            let messages = context.validationLog.messages
            logger.notice("Vulkan validation: \(messages.count) messages")
            for message in messages.prefix(10) { logger.warning("Vulkan validation: \(message)") }
        }
        lock.withLock {
            self.server = nil
            self.pipeline = nil
        }
    }

    /// Runs until SIGTERM or SIGINT (0) or a pipeline failure (1); SIGHUP reloads. Signals are
    /// taken synchronously with sigtimedwait on this thread, so call this before any other
    /// thread exists (they inherit the blocked mask).
    public func run() -> Int32 {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        Glibc.signal(SIGPIPE, SIG_IGN)

        do {
            try start()
        } catch {
            logger.critical("cannot start: \(error)")
            notifier.notify("STATUS=failed: \(error)")
            return 1
        }
        notifier.notify("READY=1\nSTATUS=\(statusLine())\nMAINPID=\(getpid())")
        logger.notice("running; control socket \(lock.withLock { config.socketPath })")

        var lastPing: UInt64 = 0
        var lastStatus = MonotonicClock.now()
        var exitCode: Int32 = 0
        loop: while true {
            var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            let signal = sigtimedwait(&signals, nil, &timeout)
            switch signal {
            case SIGTERM, SIGINT:
                logger.notice("signal \(signal == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
                break loop
            case SIGHUP:
                notifier.notify("RELOADING=1")
                do {
                    let report = try reload()
                    logger.notice("SIGHUP: configuration reloaded\(report.needsRestart.isEmpty ? "" : "; needs a restart to change: \(report.needsRestart.joined(separator: ", "))")")
                } catch {
                    logger.error("SIGHUP: keeping the running configuration: \(error)")
                }
                notifier.notify("READY=1\nSTATUS=\(statusLine())")
            default:
                break
            }
            let now = MonotonicClock.now()
            guard let pipeline = lock.withLock({ self.pipeline }) else { break }
            if let failure = pipeline.failure {
                logger.critical("stopping after a pipeline failure: \(failure)")
                exitCode = 1
                break
            }
            // Ping only while every pipeline thread is alive: a hung GPU or device gets the
            // service restarted by systemd instead of pinging forever.
            if let interval = notifier.watchdogInterval, now - lastPing >= interval,
               pipeline.isResponsive(within: max(interval, 1_000_000_000)) {
                notifier.notify("WATCHDOG=1")
                lastPing = now
            }
            if now - lastStatus >= 5_000_000_000 {
                notifier.notify("STATUS=\(statusLine())")
                lastStatus = now
            }
        }
        notifier.notify("STOPPING=1")
        stop()
        return exitCode
    }

    private func statusLine() -> String {
        guard let pipeline = lock.withLock({ self.pipeline }) else { return "starting" }
        let stats = pipeline.snapshot()
        let p99 = stats.latencyP99.map { String(format: "%.0f ms", $0) } ?? "-"
        let mode = stats.settings.paused ? "paused" : stats.level.description
        return "\(mode), \(stats.inputRate) → \(stats.outputRate) fps, p99 latency \(p99), \(stats.delivered) delivered, \(stats.late) late, \(stats.dropped) dropped"
    }

    // MARK: - Reload and settings

    public struct ReloadReport: Sendable {
        public var applied: [String]
        public var needsRestart: [String]
    }

    /// Re-reads the configuration file (with the same command-line overrides). An invalid file
    /// changes nothing; live settings apply at the next frame, the others are reported.
    public func reload() throws -> ReloadReport {
        let fresh = try DaemonConfig.load(file: configFile, overrides: overrides)
        return try lock.withLock {
            let changed = fresh.changedKeys(comparedTo: config)
            var next = settings
            let paused = next.paused
            next = PipelineSettings(config: fresh)
            next.paused = paused
            try pipeline?.update(next)
            let restartOnly = changed.filter { !$0.live }
            // Restart-only keys keep their running values, so a later reload reports them again.
            var kept = fresh
            for key in restartOnly {
                try key.set(text: key.show(config), in: &kept, origin: "reload")
            }
            config = kept
            settings = next
            logLevel.level = fresh.logLevel
            return ReloadReport(applied: changed.filter(\.live).map(\.path), needsRestart: restartOnly.map(\.path))
        }
    }

    /// Applies a change from a control client. Returns at once: a network the change needs loads
    /// in the background (the result says so), and nothing here waits for the pipeline.
    private func change(_ body: (inout PipelineSettings, inout DaemonConfig) throws -> Void) throws -> (settings: PipelineSettings, loading: Bool) {
        try lock.withLock {
            var next = settings
            var nextConfig = config
            try body(&next, &nextConfig)
            var loading = false
            do {
                loading = try pipeline?.update(next) ?? false
            } catch let error as NeuralLoadError {
                // Valid settings, but the network cannot run: the running mode stays.
                throw ControlFailure(.failed, "\(error); keeping \(settings.mode.rawValue)")
            } catch {
                throw ControlFailure(.invalidParams, "\(error)")
            }
            settings = next
            config = nextConfig
            logLevel.level = nextConfig.logLevel
            return (next, loading)
        }
    }

    // MARK: - Control commands

    public func handle(_ command: ControlCommand) throws -> JSONValue {
        switch command {
        case .version:
            return .object([("version", .string(Daemon.version)), ("protocol", .number(Double(Daemon.protocolVersion)))])
        case .status:
            return status()
        case .stats:
            guard let pipeline = lock.withLock({ pipeline }) else { throw ControlFailure(.failed, "the pipeline is still starting") }
            return Daemon.json(pipeline.snapshot())
        case .pause, .resume:
            let paused = command == .pause
            _ = try change { settings, _ in settings.paused = paused }
            logger.notice(paused ? "paused: passing frames through" : "resumed")
            return .object([("state", .string(paused ? "paused" : "running"))])
        case let .set(changes):
            var applied: [(String, JSONValue)] = []
            let (settings, loading) = try change { settings, config in
                for change in changes {
                    guard let path = ControlProtocol.settableKeys[change.name], let key = DaemonConfig.key(named: path) else {
                        throw ControlFailure(.invalidParams, "'\(change.name)' cannot be set")
                    }
                    do {
                        try key.set(change.value, in: &config, origin: "set")
                    } catch let error as ConfigError {
                        throw ControlFailure(.invalidParams, "\(change.name): \(error.message)")
                    }
                    applied.append((change.name, .string(key.show(config))))
                }
                do {
                    try config.validate()
                } catch let error as ConfigError {
                    throw ControlFailure(.invalidParams, error.message)
                }
                let paused = settings.paused
                settings = PipelineSettings(config: config)
                settings.paused = paused
            }
            logger.notice("set \(changes.map { "\($0.name)=\($0.value)" }.joined(separator: " "))")
            if loading, let source = settings.neuralSource {
                // The answer does not wait for the network: `status` shows its load.
                applied.append(("network", .string("loading \(source.model.rawValue)")))
            }
            return .object(applied)
        case .reload:
            guard configFile != nil else { throw ControlFailure(.failed, "slomod was started without --config; nothing to reload") }
            do {
                let report = try reload()
                logger.notice("reloaded the configuration")
                return .object([("applied", .array(report.applied.map(JSONValue.string))),
                                ("needs_restart", .array(report.needsRestart.map(JSONValue.string)))])
            } catch {
                throw ControlFailure(.failed, "kept the running configuration: \(error)")
            }
        case .snapshot:
            guard let pipeline = lock.withLock({ pipeline }) else { throw ControlFailure(.failed, "the pipeline is still starting") }
            let format = pipeline.format
            let png: [UInt8]? = try pipeline.withLastFrame { frame in
                do {
                    return try RGBConversion.png(frame, format: format)
                } catch {
                    throw ControlFailure(.failed, "\(error)")
                }
            }
            guard let png else { throw ControlFailure(.failed, "no frame has been delivered yet") }
            return .object([("width", .number(Double(format.width))), ("height", .number(Double(format.height))),
                            ("png_base64", .string(Data(png).base64EncodedString()))])
        }
    }

    private func status() -> JSONValue {
        let (config, pipeline, context) = lock.withLock { (self.config, self.pipeline, self.context) }
        var members: [(String, JSONValue)] = [
            ("version", .string(Daemon.version)),
            ("instance", .string(config.instance)),
            ("config_file", configFile.map(JSONValue.string) ?? .null),
            ("uptime_s", .number(((Double(MonotonicClock.now() - started) / 1e9) * 10).rounded() / 10)),
            ("input", .string(config.input)),
            ("output", .string(config.output)),
            ("socket", .string(config.socketPath)),
            ("device", context.map { .string($0.info.name) } ?? .null),
        ]
        guard let pipeline else { return .object(members + [("state", .string("starting"))]) }
        let stats = pipeline.snapshot()
        let settings = stats.settings
        members += [
            ("state", .string(settings.paused ? "paused" : "running")),
            ("signal", .string(stats.signalLost == nil ? "present" : "lost")),
            ("width", .number(Double(stats.format.width))),
            ("height", .number(Double(stats.format.height))),
            ("pixel_format", .string(stats.format.pixelFormat.rawValue)),
            // What the source sends now; after a source change it is fitted into width x height.
            ("input_width", .number(Double(stats.inputFormat.width))),
            ("input_height", .number(Double(stats.inputFormat.height))),
            ("input_pixel_format", .string(stats.inputFormat.pixelFormat.rawValue)),
            ("source_changes", .number(Double(stats.sourceChanges))),
            ("input_fps", .number(stats.inputRate.doubleValue)),
            ("output_fps", .number(stats.outputRate.doubleValue)),
            ("scale", .number(Double(settings.scale))),
            ("output_rate", .number(settings.outputRate)),
            ("mode", .string(settings.paused ? "repeat" : stats.level.description)),
            ("configured_mode", .string(settings.mode.rawValue)),
            ("preset", .string(settings.preset.rawValue)),
            ("checkpoint", settings.checkpoint.map(JSONValue.string) ?? .null),
            ("adaptive", .bool(settings.adaptive)),
            ("latency_budget_ms", Daemon.budget(settings)),
            ("delay_ms", .number((stats.delayMilliseconds * 1000).rounded() / 1000)),
            ("timestamp", .string(stats.timestamp.rawValue)),
            ("network", Daemon.json(stats.network)),
        ]
        return .object(members)
    }

    /// The configured bound as the user wrote it: a number or "auto".
    static func budget(_ settings: PipelineSettings) -> JSONValue {
        settings.latencyBudgetMilliseconds.map { .number($0) } ?? .string("auto")
    }

    static func json(_ load: NetworkLoad?) -> JSONValue {
        guard let load else { return .null }
        var members: [(String, JSONValue)] = [
            ("model", .string(load.source.model.rawValue)),
            ("checkpoint", load.source.checkpoint.map(JSONValue.string) ?? .null),
            ("state", .string(load.stateName)),
            ("seconds", load.seconds.map { .number(($0 * 10).rounded() / 10) } ?? .null),
        ]
        if case let .failed(reason) = load.state { members.append(("error", .string(reason))) }
        return .object(members)
    }

    static func json(_ stats: PipelineSnapshot) -> JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { .number(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("captured", .number(Double(stats.captured))),
            ("imported", .number(Double(stats.importedFrames))),
            ("synthesised", .number(Double(stats.synthesised))),
            ("synthesised_by_mode", .object(QualityLevel.allCases.dropFirst().map { ($0.description, .number(Double(stats.publishedByLevel[$0.rawValue]))) })),
            ("repeated", .number(Double(stats.repeated))),
            ("delivered", .number(Double(stats.delivered))),
            ("held", .number(Double(stats.held))),
            ("late", .number(Double(stats.late))),
            ("dropped", .number(Double(stats.dropped))),
            ("dropped_input", .number(Double(stats.droppedInput))),
            ("dropped_slots", .number(Double(stats.droppedSlots))),
            ("drained_input", .number(Double(stats.drainedInput))),
            ("scene_cuts", .number(Double(stats.sceneCuts))),
            ("discontinuities", .number(Double(stats.discontinuities))),
            ("capture_errors", .number(Double(stats.captureErrors))),
            ("source_changes", .number(Double(stats.sourceChanges))),
            ("output_errors", .number(Double(stats.outputErrors))),
            ("fill_ratio", number(stats.fillRatio)),
            ("latency_p50_ms", number(stats.latencyP50)),
            ("latency_p99_ms", number(stats.latencyP99)),
            ("latency_max_ms", number(stats.latencyMax)),
            ("latency_budget_ms", budget(stats.settings)),
            ("latency_bound_ms", .number(stats.settings.latencyBoundMilliseconds)),
            ("delay_ms", number(stats.delayMilliseconds)),
            ("latency_floor_ms", number(stats.latencyFloorMilliseconds)),
            ("delay_need_ms", number(stats.delayNeedMilliseconds)),
            ("delay_margin_ms", number(stats.delayNeedMilliseconds.map { stats.delayMilliseconds - $0 })),
            ("gpu_ms_per_frame", number(stats.gpuMillisecondsPerFrame)),
            ("gpu_ms_per_frame_last", number(stats.lastGPUMillisecondsPerFrame)),
            ("gpu_budget_ms", number(stats.gpuBudgetMilliseconds)),
            ("max_delivery_gap_ms", number(stats.maxDeliveryGap)),
            ("mode", .string(stats.settings.paused ? "repeat" : stats.level.description)),
            ("level_changes", .number(Double(stats.levelChanges))),
            ("output_fps", .number(stats.outputRate.doubleValue)),
            ("pool_buffers", .number(Double(stats.poolBuffers))),
            ("rss_kib", residentKibibytes().map { .number(Double($0)) } ?? .null),
        ])
    }

    /// This process's resident memory, from /proc/self/statm.
    static func residentKibibytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }
}
