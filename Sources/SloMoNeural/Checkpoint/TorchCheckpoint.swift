import Foundation

/// Reads the tensors of files written by `torch.save`, in both of its formats, without Python:
/// the zip archive (PyTorch 1.6 and later) and the legacy sequence of pickles followed by raw storages.
public enum TorchCheckpoint {
    /// The state dict stored at the top level, or under `key` (e.g. "state_dictFC") when the file holds a dict of dicts.
    /// A leading "module." is stripped from every name.
    public static func loadStateDict(from url: URL, key: String? = nil) throws -> StateDict {
        try CheckpointFile(url: url).stateDict(key: key)
    }
}

extension Dictionary where Key == String, Value == HostTensor {
    /// The tensor `name`, checked to have `shape`; throws a one-line error naming the tensor otherwise (missing or wrong shape).
    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        guard let tensor = self[name] else { throw CheckpointError.missingTensor(name: name) }
        guard tensor.shape == shape else { throw CheckpointError.wrongShape(name: name, expected: shape, actual: tensor.shape) }
        return tensor
    }
}

/// The element types of torch's typed storages; all load as Float.
enum TorchDType {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    init?(storageName: String) {
        switch storageName {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }
}

/// A storage named by a persistent id; its bytes are found after unpickling (legacy storages follow the pickle).
final class TorchStorage {
    let key: String
    let dtype: TorchDType
    let count: Int

    init(key: String, dtype: TorchDType, count: Int) {
        self.key = key
        self.dtype = dtype
        self.count = count
    }
}

/// `_rebuild_tensor_v2`'s arguments: a strided view of a storage.
struct TorchTensor {
    let storage: TorchStorage
    let offset: Int
    let size: [Int]
    let stride: [Int]
}

/// A parsed checkpoint: its object tree and where each storage's bytes lie in the file.
struct CheckpointFile {
    private static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]  // 0x1950a86a20f9469cfc6c
    private static let legacyProtocolVersion = 1001
    private static let rebuilders: Set<String> = ["_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter", "_rebuild_parameter_with_state"]
    /// Training checkpoints (Super SloMo's) carry a timestamp; these build inert values, never run code.
    private static let dataTypes: Set<String> = ["datetime", "date", "time", "timedelta"]

    let path: String
    private let bytes: [UInt8]
    private var root: PickleValue = .none
    private var storageBytes: [String: Range<Int>] = [:]

    init(url: URL) throws {
        path = url.path
        do {
            bytes = Array(try Data(contentsOf: url))
        } catch {
            throw CheckpointError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        if bytes.starts(with: [0x50, 0x4b, 0x03, 0x04]) {
            try readZip()
        } else if bytes.first == 0x80 {
            try readLegacy()
        } else {
            throw CheckpointError.notATorchFile(path: path)
        }
    }

    // MARK: - Formats

    private mutating func readZip() throws {
        let archive = try ZipArchive(bytes: bytes, path: path)
        // Every record sits under one folder named after the file ("archive" for buffers).
        guard let pickleName = archive.entries.keys.filter({ $0.hasSuffix("/data.pkl") && $0.split(separator: "/").count == 2 }).min(),
              let pickleRange = archive.entries[pickleName] else {
            throw CheckpointError.notATorchFile(path: path)
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = archive.entries[prefix + "byteorder"], String(decoding: bytes[order], as: UTF8.self) != "little" {
            throw CheckpointError.unsupported(path: path, detail: "big-endian storages")
        }
        let storages = StorageTable()
        var unpickler = Unpickler(bytes: Array(bytes[pickleRange]), start: 0, path: path, hooks: hooks(storages))
        root = try unpickler.load()
        for (key, storage) in storages.byKey {
            guard let range = archive.entries[prefix + "data/" + key] else {
                throw CheckpointError.truncated(path: path, detail: "storage '\(key)' has no record \(prefix)data/\(key)")
            }
            guard range.count >= storage.count * storage.dtype.size else {
                throw CheckpointError.truncated(path: path, detail: "storage '\(key)' holds \(range.count) bytes, needs \(storage.count * storage.dtype.size)")
            }
            storageBytes[key] = range
        }
    }

    private mutating func readLegacy() throws {
        // The header pickles need nothing from the whitelist; any failure there means this is some other pickle.
        let plain = PickleHooks(
            resolveGlobal: { [path] module, name in throw CheckpointError.unsupportedGlobal(path: path, name: "\(module).\(name)") },
            call: { [path] _, _ in throw CheckpointError.notATorchFile(path: path) },
            build: { [path] _, _ in throw CheckpointError.notATorchFile(path: path) },
            persistentLoad: { [path] _ in throw CheckpointError.notATorchFile(path: path) })
        var header = Unpickler(bytes: bytes, start: 0, path: path, hooks: plain)
        guard case .bigInt(let magic)? = try? header.load(), magic == Self.legacyMagic else {
            throw CheckpointError.notATorchFile(path: path)
        }
        guard case .int(let version) = try header.load(), version == Self.legacyProtocolVersion else {
            throw CheckpointError.unsupported(path: path, detail: "legacy protocol version other than \(Self.legacyProtocolVersion)")
        }
        guard case .dict(let systemInfo) = try header.load() else {
            throw CheckpointError.unexpectedObject(path: path, detail: "the legacy system-info record is not a dict")
        }
        if case .bool(false)? = systemInfo["little_endian"] {
            throw CheckpointError.unsupported(path: path, detail: "big-endian storages")
        }

        let storages = StorageTable()
        var main = Unpickler(bytes: bytes, start: header.position, path: path, hooks: hooks(storages))
        root = try main.load()
        var keyList = Unpickler(bytes: bytes, start: main.position, path: path, hooks: plain)
        guard case .list(let keys) = try keyList.load() else {
            throw CheckpointError.unexpectedObject(path: path, detail: "the legacy storage key record is not a list")
        }

        // Each storage: its element count (8 bytes, little-endian), then its raw elements.
        var position = keyList.position
        for item in keys.items {
            guard case .string(let key) = item, let storage = storages.byKey[key] else {
                throw CheckpointError.unexpectedObject(path: path, detail: "legacy storage key \(item.kind) names no storage of the pickle")
            }
            guard position + 8 <= bytes.count else {
                throw CheckpointError.truncated(path: path, detail: "storage '\(key)' starts past the end of the file")
            }
            var count = 0
            for index in 0..<8 { count |= Int(bytes[position + index]) << (8 * index) }
            guard count <= bytes.count else {
                throw CheckpointError.truncated(path: path, detail: "storage '\(key)' claims \(count) elements, more than the file holds")
            }
            guard count >= storage.count else {
                throw CheckpointError.unexpectedObject(path: path, detail: "legacy storage '\(key)' holds \(count) elements, its tensors need \(storage.count)")
            }
            let length = count * storage.dtype.size
            guard length <= bytes.count - position - 8 else {
                throw CheckpointError.truncated(path: path, detail: "storage '\(key)' needs \(length) bytes, the file ends first")
            }
            storageBytes[key] = (position + 8)..<(position + 8 + length)
            position += 8 + length
        }
    }

    // MARK: - The whitelist

    private final class StorageTable {
        var byKey: [String: TorchStorage] = [:]
    }

    private func hooks(_ storages: StorageTable) -> PickleHooks {
        let path = self.path
        let fileSize = bytes.count
        func unexpected(_ detail: String) -> CheckpointError { .unexpectedObject(path: path, detail: detail) }
        func ints(_ value: PickleValue, _ what: String) throws -> [Int] {
            guard case .tuple(let items) = value else { throw unexpected("tensor \(what) is a \(value.kind), not a tuple") }
            return try items.map {
                guard case .int(let number) = $0, number >= 0 else { throw unexpected("tensor \(what) holds a \($0.kind)") }
                return number
            }
        }

        return PickleHooks(
            resolveGlobal: { module, name in
                switch (module, name) {
                case ("torch._utils", _) where Self.rebuilders.contains(name),
                     ("collections", "OrderedDict"),
                     ("datetime", _) where Self.dataTypes.contains(name),
                     ("_codecs", "encode"),
                     ("torch", _) where TorchDType(storageName: name) != nil:
                    return .global(module: module, name: name)
                default:
                    throw CheckpointError.unsupportedGlobal(path: path, name: "\(module).\(name)")
                }
            },
            call: { callable, arguments in
                guard case .global(let module, let name) = callable else { throw unexpected("a call of a \(callable.kind)") }
                switch (module, name) {
                case ("collections", "OrderedDict"):
                    guard arguments.isEmpty else { throw unexpected("OrderedDict built from arguments") }
                    return .dict(PickleDict())
                case ("_codecs", "encode"):  // how protocol 2 writes Python 3 bytes: (text, "latin1")
                    guard arguments.count == 2, case .string(let text) = arguments[0], case .string("latin1") = arguments[1] else {
                        throw unexpected("_codecs.encode of something other than latin-1 text")
                    }
                    return .bytes(text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
                case ("datetime", _):
                    return .opaque("datetime.\(name)")
                case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
                    guard arguments.count >= 4, case .storage(let storage) = arguments[0], case .int(let offset) = arguments[1] else {
                        throw unexpected("\(name) without (storage, offset, size, stride)")
                    }
                    let size = try ints(arguments[2], "size")
                    let stride = try ints(arguments[3], "stride")
                    guard size.count == stride.count else { throw unexpected("tensor size \(size) and stride \(stride) differ in rank") }
                    // Checked arithmetic: a corrupt file must not overflow its way past the bounds check.
                    var count = 1, last = offset
                    for (extent, step) in zip(size, stride) {
                        let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                        let (reach, reachOverflow) = (extent == 0 ? 0 : extent - 1).multipliedReportingOverflow(by: step)
                        let (sum, sumOverflow) = last.addingReportingOverflow(reach)
                        guard !overflow, !reachOverflow, !sumOverflow, product <= Int(Int32.max) else {
                            throw unexpected("a tensor of size \(size), stride \(stride) is too large")
                        }
                        count = product
                        last = sum
                    }
                    guard offset >= 0, count == 0 || last < storage.count else {
                        throw unexpected("a tensor of size \(size), stride \(stride), offset \(offset) reaches past its storage of \(storage.count) elements")
                    }
                    return .tensor(TorchTensor(storage: storage, offset: offset, size: size, stride: stride))
                case ("torch._utils", _):  // _rebuild_parameter(_with_state): the data is all a state dict needs
                    guard case .tensor? = arguments.first else { throw unexpected("\(name) without a tensor") }
                    return arguments[0]
                default:
                    throw unexpected("a call of \(module).\(name)")
                }
            },
            build: { object, _ in
                // Attribute state (a state dict's `_metadata`, a parameter's hooks) carries no weights.
                switch object {
                case .dict, .tensor: return object
                default: throw unexpected("BUILD on a \(object.kind)")
                }
            },
            persistentLoad: { id in
                guard case .tuple(let fields) = id, fields.count >= 5, case .string("storage") = fields[0],
                      case .global(_, let typeName) = fields[1], let dtype = TorchDType(storageName: typeName),
                      case .string(let key) = fields[2], case .int(let count) = fields[4], count >= 0 else {
                    throw unexpected("a persistent id that is not a typed storage")
                }
                guard count <= fileSize else {
                    throw CheckpointError.truncated(path: path, detail: "storage '\(key)' claims \(count) elements, more than the file holds")
                }
                // Only files from before PyTorch 0.4 saved storage views (a sixth field other than None).
                if fields.count > 5, case .tuple = fields[5] {
                    throw CheckpointError.unsupported(path: path, detail: "storage views (PyTorch before 0.4)")
                }
                if let known = storages.byKey[key] { return .storage(known) }
                let storage = TorchStorage(key: key, dtype: dtype, count: count)
                storages.byKey[key] = storage
                return .storage(storage)
            })
    }

    // MARK: - State dicts

    func stateDict(key: String?) throws -> StateDict {
        guard case .dict(let top) = root else {
            throw CheckpointError.unexpectedObject(path: path, detail: "the top level is a \(root.kind), not a dict")
        }
        var dict = top
        if let key {
            guard let entry = top[key] else { throw CheckpointError.missingKey(path: path, key: key) }
            guard case .dict(let inner) = entry else {
                throw CheckpointError.unexpectedObject(path: path, detail: "'\(key)' is a \(entry.kind), not a state dict")
            }
            dict = inner
        } else {
            let nested = top.entries.compactMap { entry -> String? in
                if case .string(let name) = entry.key, case .dict = entry.value { return name }
                return nil
            }
            if !nested.isEmpty {
                throw CheckpointError.unexpectedObject(path: path, detail: "it holds several dicts (\(nested.joined(separator: ", "))); name the state dict to load")
            }
        }

        var result: StateDict = [:]
        for (name, value) in dict.entries {
            guard case .string(var name) = name else {
                throw CheckpointError.unexpectedObject(path: path, detail: "a state dict key is a \(name.kind), not a string")
            }
            guard case .tensor(let tensor) = value else {
                throw CheckpointError.unexpectedObject(path: path, detail: "'\(name)' is a \(value.kind), not a tensor")
            }
            if name.hasPrefix("module.") { name.removeFirst("module.".count) }
            result[name] = try materialize(tensor)
        }
        return result
    }

    /// Gathers a strided view into a contiguous Float tensor.
    private func materialize(_ tensor: TorchTensor) throws -> HostTensor {
        let storage = tensor.storage
        guard let range = storageBytes[storage.key] else {
            throw CheckpointError.truncated(path: path, detail: "storage '\(storage.key)' was never written")
        }
        let count = tensor.size.reduce(1, *)
        guard count > 0 else { return HostTensor(shape: tensor.size, values: []) }
        let first = tensor.offset
        let span = zip(tensor.size, tensor.stride).map { ($0 - 1) * $1 }.reduce(0, +) + 1
        let elements = decode(range.lowerBound + first * storage.dtype.size, count: span, as: storage.dtype)

        var contiguousStride = 1
        var isContiguous = true
        for (size, stride) in zip(tensor.size, tensor.stride).reversed() {
            if size > 1, stride != contiguousStride { isContiguous = false }
            contiguousStride *= size
        }
        if isContiguous { return HostTensor(shape: tensor.size, values: Array(elements[0..<count])) }

        // Walk the indices in row-major order, like an odometer.
        var values = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: tensor.size.count)
        var source = 0
        for destination in 0..<count {
            values[destination] = elements[source]
            var axis = tensor.size.count - 1
            while axis >= 0 {
                index[axis] += 1
                source += tensor.stride[axis]
                if index[axis] < tensor.size[axis] { break }
                source -= tensor.stride[axis] * index[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return HostTensor(shape: tensor.size, values: values)
    }

    /// `count` little-endian elements starting at byte `start`, converted to Float.
    private func decode(_ start: Int, count: Int, as dtype: TorchDType) -> [Float] {
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            func load<T>(_ type: T.Type, _ index: Int) -> T { (base + index * MemoryLayout<T>.size).loadUnaligned(as: T.self) }
            switch dtype {
            case .float32:
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    memcpy(buffer.baseAddress!, base, count * 4)
                    initialized = count
                }
            case .float16: return (0..<count).map { Self.halfToFloat(UInt16(littleEndian: load(UInt16.self, $0))) }
            case .bfloat16: return (0..<count).map { Float(bitPattern: UInt32(UInt16(littleEndian: load(UInt16.self, $0))) << 16) }
            case .float64: return (0..<count).map { Float(Double(bitPattern: UInt64(littleEndian: load(UInt64.self, $0)))) }
            case .int64: return (0..<count).map { Float(Int64(littleEndian: load(Int64.self, $0))) }
            case .int32: return (0..<count).map { Float(Int32(littleEndian: load(Int32.self, $0))) }
            case .int16: return (0..<count).map { Float(Int16(littleEndian: load(Int16.self, $0))) }
            case .int8: return (0..<count).map { Float(load(Int8.self, $0)) }
            case .uint8, .bool: return (0..<count).map { Float(load(UInt8.self, $0)) }
            }
        }
    }

    /// IEEE half to single precision, exactly (Float16 is missing on some platforms Swift targets).
    static func halfToFloat(_ half: UInt16) -> Float {
        let sign: Float = half & 0x8000 != 0 ? -1 : 1
        let exponent = Int(half >> 10) & 0x1f
        let mantissa = UInt32(half & 0x3ff)
        switch exponent {
        case 0: return sign * Float(mantissa) * 0x1p-24
        case 31: return Float(bitPattern: UInt32(half & 0x8000) << 16 | 0x7f80_0000 | mantissa << 13)
        default: return Float(bitPattern: UInt32(half & 0x8000) << 16 | UInt32(exponent + 112) << 23 | mantissa << 13)
        }
    }
}
