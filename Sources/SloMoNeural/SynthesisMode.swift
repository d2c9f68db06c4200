/// Every way slomo makes in-between frames: the flow engine's modes and the neural networks.
public enum SynthesisMode: String, CaseIterable, Sendable {
    case `repeat`, blend, flow, rife, superslomo

    /// The network a neural mode runs; nil for the flow engine's modes.
    public var neuralModel: NeuralModel? {
        switch self {
        case .rife: return .rifeHDv3
        case .superslomo: return .superSloMo
        case .repeat, .blend, .flow: return nil
        }
    }

    /// Runs a network rather than the flow engine.
    public var isNeural: Bool { neuralModel != nil }
}
