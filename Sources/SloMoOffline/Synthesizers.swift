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

    public init(mode: SynthesisMode = .flow, preset: FlowPreset = .quality, checkpoint: String? = nil) {
        self.mode = mode
        self.preset = preset
        self.checkpoint = checkpoint
    }

    /// What the summary line and the benchmark call it.
    public var label: String {
        switch mode {
        case .flow: return "flow/\(preset.rawValue)"
        default: return mode.rawValue
        }
    }
}

public enum SynthesisError: Error, CustomStringConvertible, Equatable {
    case checkpointWithoutNetwork(SynthesisMode)

    public var description: String {
        switch self {
        case let .checkpointWithoutNetwork(mode): return "--checkpoint applies to the neural modes, not to \(mode.rawValue)"
        }
    }
}

public enum Synthesizers {
    /// A synthesiser for `choice` on frames of `format`, making up to `maxSteps` frames per pair.
    public static func make(_ choice: SynthesisChoice, context: GPUContext, format: FrameFormat, maxSteps: Int) throws -> FrameSynthesizer {
        if choice.checkpoint != nil && !choice.mode.isNeural { throw SynthesisError.checkpointWithoutNetwork(choice.mode) }
        switch choice.mode {
        case .repeat, .blend, .flow:
            let interpolator = try Interpolator(context: context, format: format, preset: choice.preset, maxSteps: maxSteps)
            interpolator.mode = InterpolationMode(rawValue: choice.mode.rawValue)!
            return interpolator
        case .rife, .superslomo:
            let model = choice.mode.neuralModel!
            let network = try NeuralNetwork.load(model, checkpoint: ModelStore().weights(model, checkpoint: choice.checkpoint))
            return try NeuralInterpolator(context: context, format: format, network: network, maxSteps: maxSteps)
        }
    }
}
