import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// Where a neural mode's weights come from: the network, and a checkpoint file or (nil) the
/// installed model (see `ModelStore`).
public struct NeuralSource: Hashable, Sendable, CustomStringConvertible {
    public var model: NeuralModel
    public var checkpoint: String?

    public init(model: NeuralModel, checkpoint: String?) {
        self.model = model
        self.checkpoint = checkpoint
    }

    public var description: String { "\(model.displayName) from \(checkpoint ?? "the installed model")" }
}

/// Why a neural mode cannot be used, in one line: "mode rife: ... weights are not installed ...".
public struct NeuralLoadError: Error, CustomStringConvertible {
    public var mode: String
    public var reason: String
    public var description: String { "mode \(mode): \(reason)" }
}

/// A network's weights, read on the CPU (off the GPU's thread) and ready to upload.
public struct NeuralWeights: @unchecked Sendable {
    public let source: NeuralSource
    /// The mode that asked for them, for errors.
    public let mode: String
    let network: NeuralNetwork

    /// Finds the weights without reading them (quick enough for a control request); throws a
    /// `NeuralLoadError` when they are missing.
    @discardableResult
    public static func locate(_ source: NeuralSource, mode: String, store: ModelStore = ModelStore()) throws -> URL {
        do {
            return try store.weights(source.model, checkpoint: source.checkpoint)
        } catch {
            throw NeuralLoadError(mode: mode, reason: "\(error)")
        }
    }

    /// Finds and reads the weights; throws a `NeuralLoadError` when they are missing or unreadable.
    public static func load(_ source: NeuralSource, mode: String, store: ModelStore = ModelStore()) throws -> NeuralWeights {
        do {
            let url = try store.weights(source.model, checkpoint: source.checkpoint)
            return NeuralWeights(source: source, mode: mode, network: try .load(source.model, checkpoint: url))
        } catch {
            throw NeuralLoadError(mode: mode, reason: "\(error)")
        }
    }

    /// The network on the GPU, behind the same contract as the flow engine. Uploads the weights and
    /// plans every buffer; the frame path then allocates nothing.
    /// Throws a `NeuralLoadError` when the weights do not fit the network (a missing tensor, a wrong shape).
    func makeSynthesizer(context: GPUContext, format: FrameFormat, maxSteps: Int) throws -> FrameSynthesizer {
        do {
            return try NeuralInterpolator(context: context, format: format, network: network,
                                          maxSteps: min(maxSteps, NeuralInterpolator.maxStepsLimit))
        } catch {
            throw NeuralLoadError(mode: mode, reason: "\(error)")
        }
    }
}
