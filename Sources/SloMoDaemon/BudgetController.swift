import SloMoInterp
import SloMoNeural

/// The interpolation levels the daemon steps between, cheapest first: the flow engine's, then one
/// per neural mode of `NeuralModel.allCases`. Only the network the user chose is on the ladder
/// (see `BudgetController.usable`).
public struct QualityLevel: CaseIterable, Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The level's place on the ladder, which also indexes its counters.
    public let rawValue: Int
    public let description: String
    /// The flow engine's mode for this level; nil for a network.
    public let flowMode: InterpolationMode?
    /// The interpolator a flow level runs on; blend and repeat need no flow, so either will do.
    public let preset: FlowPreset?
    /// The neural mode of a network level (which of its networks is the configuration's `model`).
    public let neuralMode: SynthesisMode?

    public static let `repeat` = QualityLevel(0, "repeat", flowMode: .repeat)
    public static let blend = QualityLevel(1, "blend", flowMode: .blend)
    public static let flowFast = QualityLevel(2, "flow/fast", flowMode: .flow, preset: .fast)
    public static let flowQuality = QualityLevel(3, "flow/quality", flowMode: .flow, preset: .quality)

    public static let allCases: [QualityLevel] = {
        let flow = [QualityLevel.repeat, .blend, .flowFast, .flowQuality]
        return flow + SynthesisMode.allCases.filter(\.isNeural).enumerated().map { index, mode in
            QualityLevel(flow.count + index, mode.rawValue, neuralMode: mode)
        }
    }()

    private init(_ rawValue: Int, _ description: String, flowMode: InterpolationMode? = nil, preset: FlowPreset? = nil,
                 neuralMode: SynthesisMode? = nil) {
        self.rawValue = rawValue
        self.description = description
        self.flowMode = flowMode
        self.preset = preset
        self.neuralMode = neuralMode
    }

    public init(mode: SynthesisMode, preset: FlowPreset) {
        switch mode {
        case .repeat: self = .repeat
        case .blend: self = .blend
        case .flow: self = preset == .fast ? .flowFast : .flowQuality
        default:
            guard let level = Self.allCases.first(where: { $0.neuralMode == mode }) else { preconditionFailure("a level for every mode") }
            self = level
        }
    }

    public static func < (a: QualityLevel, b: QualityLevel) -> Bool { a.rawValue < b.rawValue }
    public static func == (a: QualityLevel, b: QualityLevel) -> Bool { a.rawValue == b.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}

/// Picks the best level whose measured GPU time fits the budget, with hysteresis: it steps down
/// after `degradeAfter` pairs in a row over budget (or late), and steps up only after a quiet
/// hold, when the current level uses at most `climbFraction` of the budget and the next level's
/// last known cost fits in `fitFraction` of it. Each step down doubles the hold (up to
/// `maxHold`), so a level that keeps failing is not retried every few frames; and each step down
/// from a level doubles how long its cost is trusted, so a level that never fits (flow/fast at
/// 1280×720 on lavapipe: 45 ms a pair against 33) is probed ever more rarely, each probe costing
/// the `degradeAfter` pairs that prove it still does not fit.
public struct BudgetController: Sendable {
    public struct Tuning: Sendable {
        public var degradeAfter = 3
        public var climbHold = 45
        public var maxHold = 600
        public var climbFraction = 0.6
        public var fitFraction = 0.85
        /// Weight of the newest sample in each level's running cost.
        public var smoothing = 0.2
        /// A cost measured longer ago than this (in pairs) is forgotten and probed again; twice as
        /// long for each time the level failed, up to `2^maxBackoff` times as long.
        public var costLifetime = 300
        public var maxBackoff = 4
        public init() {}
    }

    public let tuning: Tuning
    public private(set) var level: QualityLevel
    /// The best level allowed: the configured mode and preset.
    public private(set) var ceiling: QualityLevel
    /// Off: the level stays at the ceiling.
    public private(set) var adaptive: Bool
    /// Running GPU cost per level in milliseconds, and the pair at which it was last measured.
    public private(set) var costs: [QualityLevel: (milliseconds: Double, pair: Int)] = [:]
    public private(set) var hold: Int
    private var overruns = 0
    private var stable = 0
    private var pair = 0
    /// Step downs from each level since it last held for `maxHold` pairs.
    private var failures: [QualityLevel: Int] = [:]

    /// Pairs after which a level's measured cost is forgotten, so that the level is tried again.
    public func costLifetime(of level: QualityLevel) -> Int {
        tuning.costLifetime << min(failures[level] ?? 0, tuning.maxBackoff)
    }

    public init(ceiling: QualityLevel, adaptive: Bool, tuning: Tuning = Tuning()) {
        self.tuning = tuning
        self.ceiling = ceiling
        self.adaptive = adaptive
        level = ceiling
        hold = tuning.climbHold
    }

    /// A level the controller may use: every flow level up to the ceiling, and a network only when
    /// it is the ceiling (the daemon loads just the network the user chose).
    public func usable(_ candidate: QualityLevel) -> Bool {
        candidate <= ceiling && (candidate.neuralMode == nil || candidate == ceiling)
    }

    /// The next usable level below `level`.
    func below(_ level: QualityLevel) -> QualityLevel {
        QualityLevel.allCases.last { $0 < level && usable($0) } ?? .repeat
    }

    /// The next usable level above `level`, if any.
    func above(_ level: QualityLevel) -> QualityLevel? {
        QualityLevel.allCases.first { $0 > level && usable($0) }
    }

    /// A new ceiling or adaptivity from the user; `restart` then picks the level.
    public mutating func configure(ceiling: QualityLevel, adaptive: Bool) {
        self.ceiling = ceiling
        self.adaptive = adaptive
    }

    /// The quickest GPU time seen per level, in milliseconds: what a pair costs at best.
    public private(set) var quickest: [QualityLevel: Double] = [:]

    /// Forgets what a level cost (its engine was replaced, e.g. new weights).
    public mutating func forget(_ level: QualityLevel) {
        costs[level] = nil
        quickest[level] = nil
    }

    /// A cost measured outside the frame path (the engine's warm-up).
    public mutating func seed(_ level: QualityLevel, milliseconds: Double) {
        costs[level] = (milliseconds, pair)
        quickest[level] = min(quickest[level] ?? .infinity, milliseconds)
    }

    /// Starts afresh (at start-up, or when the scale or the budget changes) at the best level up
    /// to the ceiling whose known cost fits the budget; a level never measured is tried.
    public mutating func restart(budget: Double) {
        overruns = 0
        stable = 0
        hold = tuning.climbHold
        guard adaptive else {
            level = ceiling
            return
        }
        level = QualityLevel.allCases.last { candidate in
            usable(candidate) && (candidate == .repeat || costs[candidate].map { $0.milliseconds <= tuning.fitFraction * budget } ?? true)
        } ?? .repeat
    }

    /// Records one pair: the GPU time it took at the current level, whether any of its frames
    /// missed its slot, and the budget (ms) the GPU had. Returns the new level when it changes.
    public mutating func record(milliseconds: Double, late: Bool, budget: Double) -> QualityLevel? {
        pair += 1
        if level != .repeat {
            let previous = costs[level]?.milliseconds ?? milliseconds
            costs[level] = (previous + tuning.smoothing * (milliseconds - previous), pair)
            quickest[level] = min(quickest[level] ?? .infinity, milliseconds)
        }
        guard adaptive else { return nil }
        if (milliseconds > budget || late) && level > .repeat {
            overruns += 1
        } else {
            overruns = 0
        }
        if overruns >= tuning.degradeAfter {
            failures[level, default: 0] += 1
            level = below(level)
            overruns = 0
            stable = 0
            hold = min(hold * 2, tuning.maxHold)
            return level
        }
        stable += 1
        // A level that has held for the longest hold has earned short holds again.
        if stable >= tuning.maxHold {
            hold = tuning.climbHold
            failures[level] = nil
        }
        guard level < ceiling, stable >= hold, let next = above(level) else { return nil }
        let current = level == .repeat ? 0 : costs[level]?.milliseconds ?? 0
        if let known = costs[next], pair - known.pair > costLifetime(of: next) {
            costs[next] = nil
        }
        let nextFits = costs[next].map { $0.milliseconds <= tuning.fitFraction * budget } ?? (budget > 0)
        guard current <= tuning.climbFraction * budget, nextFits else { return nil }
        level = next
        stable = 0
        return level
    }
}
