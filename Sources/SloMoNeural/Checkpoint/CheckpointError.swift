/// Why a checkpoint could not be read, in one line that names the file or tensor.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case notATorchFile(path: String)
    case truncated(path: String, detail: String)
    case unsupportedOpcode(path: String, opcode: UInt8, offset: Int)
    case unsupportedGlobal(path: String, name: String)
    case unsupported(path: String, detail: String)
    case unexpectedObject(path: String, detail: String)
    case missingKey(path: String, key: String)
    case missingTensor(name: String)
    case wrongShape(name: String, expected: [Int], actual: [Int])

    public var description: String {
        // Names and details come from the file itself, which may hold any byte: escaped, the
        // message stays one line.
        message.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }

    private var message: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read checkpoint \(path): \(reason)"
        case .notATorchFile(let path):
            return "\(path) is not a PyTorch checkpoint (neither a torch.save zip archive nor the legacy pickle format)"
        case .truncated(let path, let detail):
            return "checkpoint \(path) is truncated: \(detail)"
        case .unsupportedOpcode(let path, let opcode, let offset):
            return "checkpoint \(path) uses pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset), which this reader does not support"
        case .unsupportedGlobal(let path, let name):
            return "checkpoint \(path) refers to \(name), which is not a tensor, storage or dict type; refusing to load it"
        case .unsupported(let path, let detail):
            return "checkpoint \(path) is not supported: \(detail)"
        case .unexpectedObject(let path, let detail):
            return "checkpoint \(path) holds an unexpected object: \(detail)"
        case .missingKey(let path, let key):
            return "checkpoint \(path) has no entry '\(key)'"
        case .missingTensor(let name):
            return "the checkpoint has no tensor '\(name)'"
        case .wrongShape(let name, let expected, let actual):
            return "tensor '\(name)' has shape \(actual), expected \(expected)"
        }
    }
}
