import XCTest
@testable import SloMoNeural

/// The unpickler on the newer protocols' opcodes (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE, SHORT_BINBYTES),
/// which torch.save emits when given pickle_protocol=4 or 5.
final class UnpicklerTests: XCTestCase {
    /// Python's pickle.dumps({'a': [1, 2.5, 'x', True, None, (1, 2), -3, 300, 70000, 2**40, -2**40, b'\x00\xff'],
    /// 'od': collections.OrderedDict([('k', 'é')])}, protocol=4).
    private let protocol4 = "80049576000000000000007d94288c0161945d94284b014740040000000000008c017894884e4b014b0286944afdffffff4d2c014a701101008a060000000000018a060000000000ff430200ff94658c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c016b948c02c3a99473752e"

    private func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    /// Accepts only OrderedDict, as the checkpoint whitelist does for plain containers.
    private func hooks() -> PickleHooks {
        PickleHooks(
            resolveGlobal: { module, name in
                guard module == "collections", name == "OrderedDict" else {
                    throw CheckpointError.unsupportedGlobal(path: "test", name: "\(module).\(name)")
                }
                return .global(module: module, name: name)
            },
            call: { _, _ in .dict(PickleDict()) },
            build: { object, _ in object },
            persistentLoad: { _ in .none })
    }

    func testProtocol4PlainData() throws {
        var unpickler = Unpickler(bytes: bytes(protocol4), start: 0, path: "test", hooks: hooks())
        guard case .dict(let top) = try unpickler.load() else { return XCTFail("not a dict") }
        XCTAssertEqual(unpickler.position, protocol4.count / 2)
        guard case .list(let list)? = top["a"] else { return XCTFail("no list") }
        let items = list.items
        XCTAssertEqual(items.count, 12)
        guard case .int(1) = items[0], case .float(2.5) = items[1], case .string("x") = items[2], case .bool(true) = items[3],
              case .none = items[4], case .tuple(let pair) = items[5], case .int(1) = pair[0], case .int(2) = pair[1],
              case .int(-3) = items[6], case .int(300) = items[7], case .int(70000) = items[8],
              case .int(1 << 40) = items[9], case .int(-(1 << 40)) = items[10], case .bytes([0x00, 0xff]) = items[11] else {
            return XCTFail("decoded \(items.map(\.kind))")
        }
        guard case .dict(let ordered)? = top["od"], case .string("é")? = ordered["k"] else { return XCTFail("OrderedDict lost") }
    }

    func testTruncatedPickleThrows() {
        let cut = Array(bytes(protocol4).prefix(60))
        var unpickler = Unpickler(bytes: cut, start: 0, path: "cut.pkl", hooks: hooks())
        XCTAssertThrowsError(try unpickler.load()) { error in
            guard case .truncated(path: "cut.pkl", _)? = error as? CheckpointError else { return XCTFail("\(error)") }
        }
    }
}
