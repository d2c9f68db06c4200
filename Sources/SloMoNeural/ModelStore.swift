import Foundation

public enum ModelStoreError: Error, CustomStringConvertible, Equatable {
    case notInstalled(model: NeuralModel, searched: [String])

    public var description: String {
        switch self {
        case .notInstalled(let model, let searched):
            return "\(model.displayName) weights are not installed (looked for \(model.weights.file) in \(searched.joined(separator: ", "))); \(model.weights.installHint)"
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
        searchPath.map { $0.appendingPathComponent(model.weights.file) }
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
