import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// What the user can change while frames flow.
public struct PipelineSettings: Equatable, Sendable {
    public var scale: Int
    /// Output frames per second; 0 means input rate × scale.
    public var outputRate: Double
    public var mode: SynthesisMode
    public var preset: FlowPreset
    /// Weights for a neural mode; nil takes the installed model.
    public var checkpoint: String?
    /// The network of a neural mode; nil (or one of another mode) takes the mode's default.
    public var model: NeuralModel?
    public var adaptive: Bool
    /// The user's bound on the delay; nil is "auto".
    public var latencyBudgetMilliseconds: Double?
    /// Pass-through: real frames only, each held for its slots, no GPU work.
    public var paused = false

    public init(config: DaemonConfig) {
        scale = config.scale
        outputRate = config.outputRate
        mode = config.mode
        preset = config.preset
        checkpoint = config.checkpoint.isEmpty ? nil : config.checkpoint
        model = NeuralModel(rawValue: config.model)
        adaptive = config.adaptive
        latencyBudgetMilliseconds = config.latencyBudgetMilliseconds
    }

    var ceiling: QualityLevel { QualityLevel(mode: mode, preset: preset) }

    /// The most the delay may be: the user's bound, or auto's.
    public var latencyBoundMilliseconds: Double { latencyBudgetMilliseconds ?? LatencyBudget.autoBound }

    /// The network and weights the mode needs, or nil for the flow engine's modes.
    public var neuralSource: NeuralSource? {
        (model.flatMap { $0.mode == mode ? $0 : nil } ?? mode.neuralModel).map { NeuralSource(model: $0, checkpoint: checkpoint) }
    }
}

public enum PipelineError: Error, CustomStringConvertible {
    case rateOutOfRange(output: Double, input: Rational)
    case tooSmall(FrameFormat)
    case sinkFailing(String)
    case stopped

    public var description: String {
        switch self {
        case let .rateOutOfRange(output, input):
            return "output rate \(DaemonConfig.format(output)) must lie between the input rate (\(input)) and 16 times it"
        case let .tooSmall(format):
            return "frames of \(format.width)x\(format.height) are too small to interpolate"
        case let .sinkFailing(reason):
            return "the output keeps failing: \(reason)"
        case .stopped:
            return "the pipeline has stopped"
        }
    }
}

