/// Every way slomo makes in-between frames: the flow engine's modes and the neural networks.
public enum SynthesisMode: String, CaseIterable, Sendable {
    case `repeat`, blend, flow, rife, superslomo

    /// The network a neural mode runs unless another of its models is chosen: the mode's first
    /// in `NeuralModel.allCases`; nil for the flow engine's modes.
    public var neuralModel: NeuralModel? { models.first }

    /// The networks this mode can run.
    public var models: [NeuralModel] { NeuralModel.allCases.filter { $0.mode == self } }

    /// Runs a network rather than the flow engine.
    public var isNeural: Bool { neuralModel != nil }
}
