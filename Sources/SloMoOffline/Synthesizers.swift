import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// A mode with what it needs: the flow preset, or the network's weights.
public struct SynthesisChoice: Sendable {
    public var mode: SynthesisMode
    public var preset: FlowPreset
    /// Weights file; nil takes the installed model (see `ModelStore`).
    public var checkpoint: String?
    /// The network of a neural mode; nil takes the mode's default.
    public var model: NeuralModel?

    public init(mode: SynthesisMode = .flow, preset: FlowPreset = .quality, checkpoint: String? = nil, model: NeuralModel? = nil) {
        self.mode = mode
        self.preset = preset
        self.checkpoint = checkpoint
        self.model = model
    }

    /// The network this choice runs, nil for the flow engine's modes.
    public var network: NeuralModel? { model ?? mode.neuralModel }

    /// What the summary line and the benchmark call it.
    public var label: String {
        switch mode {
        case .flow: return "flow/\(preset.rawValue)"
        // A mode with several networks is named by the one it runs.
        default: return mode.models.count > 1 ? network?.rawValue ?? mode.rawValue : mode.rawValue
        }
    }
}

public enum SynthesisError: Error, CustomStringConvertible, Equatable {
    case checkpointWithoutNetwork(SynthesisMode)
    case modelOutsideMode(NeuralModel, SynthesisMode)

    public var description: String {
        switch self {
        case let .checkpointWithoutNetwork(mode): return "--checkpoint applies to the neural modes, not to \(mode.rawValue)"
        case let .modelOutsideMode(model, mode):
            return "--model \(model.rawValue) is a network of --mode \(model.mode.rawValue), not of \(mode.rawValue)"
        }
    }
}

public enum Synthesizers {
    /// A synthesiser for `choice` on frames of `format`, making up to `maxSteps` frames per pair.
    public static func make(_ choice: SynthesisChoice, context: GPUContext, format: FrameFormat, maxSteps: Int) throws -> FrameSynthesizer {
        if choice.checkpoint != nil && !choice.mode.isNeural { throw SynthesisError.checkpointWithoutNetwork(choice.mode) }
        if let model = choice.model, model.mode != choice.mode { throw SynthesisError.modelOutsideMode(model, choice.mode) }
        if let model = choice.network {
            let network = try NeuralNetwork.load(model, checkpoint: ModelStore().weights(model, checkpoint: choice.checkpoint))
            return try NeuralInterpolator(context: context, format: format, network: network, maxSteps: maxSteps)
        }
        let interpolator = try Interpolator(context: context, format: format, preset: choice.preset, maxSteps: maxSteps)
        guard let mode = InterpolationMode(rawValue: choice.mode.rawValue) else { preconditionFailure("every mode is a network's or the engine's") }
        interpolator.mode = mode
        return interpolator
    }
}
