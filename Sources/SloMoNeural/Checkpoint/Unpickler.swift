/// A Python object as far as torch checkpoints need: plain data, the globals the caller
/// accepted, and whatever the caller's reduce and persistent-load hooks build.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too wide for `Int` (torch's legacy magic number), little-endian two's complement.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    case storage(TorchStorage)
    case tensor(TorchTensor)
    /// Plain data of a whitelisted type the weights do not need (a checkpoint's timestamp), by type name.
    case opaque(String)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let module, let name): return "\(module).\(name)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        case .opaque(let type): return type
        }
    }
}

/// Lists and dicts are shared through the memo and filled after creation (APPEND, SETITEM), so they are references.
final class PickleList {
    var items: [PickleValue] = []
}

final class PickleDict {
    /// In insertion order, as Python keeps them.
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var indexOfString: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let name) = key {
            if let index = indexOfString[name] {
                entries[index].value = value
                return
            }
            indexOfString[name] = entries.count
        }
        entries.append((key, value))
    }

    subscript(name: String) -> PickleValue? {
        indexOfString[name].map { entries[$0].value }
    }
}

/// The hooks through which the torch layer decides what the pickle may build.
struct PickleHooks {
    /// Checks a GLOBAL against the whitelist; throws for anything else.
    var resolveGlobal: (_ module: String, _ name: String) throws -> PickleValue
    /// Calls a whitelisted global (REDUCE, NEWOBJ).
    var call: (_ callable: PickleValue, _ arguments: [PickleValue]) throws -> PickleValue
    /// Applies BUILD's state to an object.
    var build: (_ object: PickleValue, _ state: PickleValue) throws -> PickleValue
    /// Turns a BINPERSID id into the object it names (torch's storages).
    var persistentLoad: (_ id: PickleValue) throws -> PickleValue
}

/// A minimal unpickler for the opcodes torch.save emits (protocol 2 and up, plus the
/// protocol 0/1 forms Python 2 era checkpoints use). It executes nothing: every callable
/// goes through the hooks.
struct Unpickler {
    private let bytes: [UInt8]
    private(set) var position: Int
    private let path: String
    private let hooks: PickleHooks
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], start: Int, path: String, hooks: PickleHooks) {
        self.bytes = bytes
        self.position = start
        self.path = path
        self.hooks = hooks
    }

    /// Runs one pickle to its STOP; `position` is then just past it.
    mutating func load() throws -> PickleValue {
        stack = []
        marks = []
        memo = [:]
        while true {
            let opcodeOffset = position
            let opcode = try byte()
            switch opcode {
            case 0x80: _ = try byte()                                   // PROTO
            case 0x95: _ = try take(8)                                  // FRAME: framing is advisory
            case 0x28: marks.append(stack.count)                        // MARK
            case 0x2e:                                                  // STOP
                guard let result = stack.popLast() else { throw malformed("STOP with an empty stack") }
                return result
            case 0x7d: stack.append(.dict(PickleDict()))                // EMPTY_DICT
            case 0x5d: stack.append(.list(PickleList()))                // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                         // EMPTY_TUPLE
            case 0x85, 0x86, 0x87:                                      // TUPLE1..3
                let count = Int(opcode - 0x84)
                stack.append(.tuple(try pop(count)))
            case 0x74: stack.append(.tuple(try popToMark()))            // TUPLE
            case 0x64:                                                  // DICT
                let items = try popToMark()
                let dict = PickleDict()
                try setItems(dict, items)
                stack.append(.dict(dict))
            case 0x6c:                                                  // LIST
                let list = PickleList()
                list.items = try popToMark()
                stack.append(.list(list))
            case 0x61:                                                  // APPEND
                let item = try pop(1)[0]
                try list(top: "APPEND").items.append(item)
            case 0x65:                                                  // APPENDS
                let items = try popToMark()
                try list(top: "APPENDS").items.append(contentsOf: items)
            case 0x73:                                                  // SETITEM
                let pair = try pop(2)
                try setItems(try dict(top: "SETITEM"), pair)
            case 0x75:                                                  // SETITEMS
                let items = try popToMark()
                try setItems(try dict(top: "SETITEMS"), items)
            case 0x71: try put(Int(try byte()))                         // BINPUT
            case 0x72: try put(Int(try uint32()))                       // LONG_BINPUT
            case 0x94: try put(memo.count)                              // MEMOIZE
            case 0x68: try get(Int(try byte()))                         // BINGET
            case 0x6a: try get(Int(try uint32()))                       // LONG_BINGET
            case 0x4a: stack.append(.int(Int(Int32(bitPattern: try uint32()))))  // BININT
            case 0x4b: stack.append(.int(Int(try byte())))              // BININT1
            case 0x4d: stack.append(.int(Int(try uint(2))))             // BININT2
            case 0x8a: stack.append(try long(Int(try byte())))          // LONG1
            case 0x8b: stack.append(try long(Int(try uint32())))        // LONG4
            case 0x47: stack.append(.float(Double(bitPattern: UInt64(bigEndian: try uint(8)))))  // BINFLOAT
            case 0x4e: stack.append(.none)                              // NONE
            case 0x88: stack.append(.bool(true))                        // NEWTRUE
            case 0x89: stack.append(.bool(false))                       // NEWFALSE
            case 0x58: stack.append(.string(try text(Int(try uint32()))))    // BINUNICODE
            case 0x8c: stack.append(.string(try text(Int(try byte()))))      // SHORT_BINUNICODE
            case 0x8d: stack.append(.string(try text(try length64())))       // BINUNICODE8
            case 0x54: stack.append(.string(try text(Int(try uint32()))))    // BINSTRING (Python 2 str)
            case 0x55: stack.append(.string(try text(Int(try byte()))))      // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try take(Int(try uint32())))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(Int(try byte())))))    // SHORT_BINBYTES
            case 0x8e: stack.append(.bytes(Array(try take(try length64()))))     // BINBYTES8
            case 0x63:                                                  // GLOBAL
                let module = try line()
                let name = try line()
                stack.append(try hooks.resolveGlobal(module, name))
            case 0x93:                                                  // STACK_GLOBAL
                let parts = try pop(2)
                guard case .string(let module) = parts[0], case .string(let name) = parts[1] else {
                    throw malformed("STACK_GLOBAL without two strings")
                }
                stack.append(try hooks.resolveGlobal(module, name))
            case 0x52:                                                  // REDUCE
                let parts = try pop(2)
                guard case .tuple(let arguments) = parts[1] else { throw malformed("REDUCE without an argument tuple") }
                stack.append(try hooks.call(parts[0], arguments))
            case 0x81:                                                  // NEWOBJ
                let parts = try pop(2)
                guard case .tuple(let arguments) = parts[1] else { throw malformed("NEWOBJ without an argument tuple") }
                stack.append(try hooks.call(parts[0], arguments))
            case 0x62:                                                  // BUILD
                let parts = try pop(2)
                stack.append(try hooks.build(parts[0], parts[1]))
            case 0x51:                                                  // BINPERSID
                let id = try pop(1)[0]
                stack.append(try hooks.persistentLoad(id))
            default:
                throw CheckpointError.unsupportedOpcode(path: path, opcode: opcode, offset: opcodeOffset)
            }
        }
    }

    // MARK: - Reading

    private func truncated() -> CheckpointError {
        .truncated(path: path, detail: "a pickle ends at byte \(bytes.count) before its STOP")
    }

    private func malformed(_ detail: String) -> CheckpointError {
        .unexpectedObject(path: path, detail: "malformed pickle (\(detail)) near byte \(position)")
    }

    private mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw truncated() }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else { throw truncated() }
        defer { position += count }
        return bytes[position..<position + count]
    }

    /// An unsigned little-endian integer of `count` bytes (at most 8).
    private mutating func uint(_ count: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try take(count).enumerated() { value |= UInt64(byte) << (8 * shift) }
        return value
    }

    private mutating func uint32() throws -> UInt32 { UInt32(try uint(4)) }

    private mutating func length64() throws -> Int {
        let length = try uint(8)
        guard length <= UInt64(bytes.count) else { throw truncated() }
        return Int(length)
    }

    private mutating func text(_ count: Int) throws -> String {
        let slice = try take(count)
        guard let string = String(validating: slice, as: UTF8.self) else { throw malformed("a string that is not UTF-8") }
        return string
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0a) else { throw truncated() }
        let string = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        return string
    }

    private mutating func long(_ count: Int) throws -> PickleValue {
        let digits = Array(try take(count))
        guard !digits.isEmpty else { return .int(0) }
        guard digits.count <= 8 else { return .bigInt(digits) }
        var value: UInt64 = 0
        for (shift, byte) in digits.enumerated() { value |= UInt64(byte) << (8 * shift) }
        // Sign-extend from the top byte read.
        if digits.count < 8, digits.last! & 0x80 != 0 { value |= ~0 << (8 * digits.count) }
        return .int(Int(Int64(bitPattern: value)))
    }

    // MARK: - Stack and memo

    private mutating func pop(_ count: Int) throws -> [PickleValue] {
        guard stack.count - count >= (marks.last ?? 0) else { throw malformed("stack underflow") }
        defer { stack.removeLast(count) }
        return Array(stack.suffix(count))
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed("no MARK") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private func list(top opcode: String) throws -> PickleList {
        guard case .list(let list)? = stack.last else { throw malformed("\(opcode) on a \(stack.last?.kind ?? "empty stack")") }
        return list
    }

    private func dict(top opcode: String) throws -> PickleDict {
        guard case .dict(let dict)? = stack.last else { throw malformed("\(opcode) on a \(stack.last?.kind ?? "empty stack")") }
        return dict
    }

    private func setItems(_ dict: PickleDict, _ items: [PickleValue]) throws {
        guard items.count % 2 == 0 else { throw malformed("an odd number of dict items") }
        for index in stride(from: 0, to: items.count, by: 2) { dict.set(items[index], items[index + 1]) }
    }

    private mutating func put(_ index: Int) throws {
        guard let top = stack.last else { throw malformed("memoize with an empty stack") }
        memo[index] = top
    }

    private mutating func get(_ index: Int) throws {
        guard let value = memo[index] else { throw malformed("memo entry \(index) read before written") }
        stack.append(value)
    }
}
