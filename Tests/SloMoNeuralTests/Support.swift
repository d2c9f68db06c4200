import Foundation
import SloMoGPU
@testable import SloMoNeural
import XCTest

/// One validated GPU context for the whole test run; tests assert it logged nothing.
let sharedContext: GPUContext = {
    do { return try GPUContext(options: GPUOptions(validation: true)) } catch { fatalError("no Vulkan device for tests: \(error)") }
}()

func assertNoValidationMessages(file: StaticString = #filePath, line: UInt = #line) {
    let messages = sharedContext.validationLog.messages
    XCTAssertTrue(messages.isEmpty, "validation layer reported:\n" + messages.prefix(5).joined(separator: "\n"), file: file, line: line)
}

/// The read-only sample data beside the package (or where SLOMO_SHARED_DATA points).
func sharedData(_ name: String) throws -> String {
    let base = ProcessInfo.processInfo.environment["SLOMO_SHARED_DATA"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data").path
    let path = base + "/" + name
    guard FileManager.default.fileExists(atPath: path) else { throw MissingPrerequisite("sample data \(path) is missing (set SLOMO_SHARED_DATA)") }
    return path
}

/// A seeded generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomTensor(_ shape: [Int], _ generator: inout SplitMix64, range: ClosedRange<Float> = -1...1) -> HostTensor {
    HostTensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &generator) })
}

/// Tensors in host-visible memory (valid storage buffers too), so tests fill and read them directly.
final class HostTensors {
    let arena: BufferArena
    let buffers: [GPUBuffer]
    init(_ sizes: [Int]) throws {
        arena = BufferArena(context: sharedContext, placement: .host)
        buffers = try arena.allocate(sizes.enumerated().map { ("test tensor \($0.offset)", $0.element * 4) })
    }
    func write(_ tensor: HostTensor, to view: TensorView) {
        let pointer = view.buffer.contents!.bindMemory(to: Float.self, capacity: view.buffer.byteCount / 4) + view.offset
        for (i, v) in tensor.values.enumerated() { pointer[i] = v }
    }
    func read(_ view: TensorView) -> HostTensor {
        let pointer = view.buffer.contents!.bindMemory(to: Float.self, capacity: view.buffer.byteCount / 4) + view.offset
        return HostTensor(shape: [view.channels, view.height, view.width], values: Array(UnsafeBufferPointer(start: pointer, count: view.count)))
    }
}

/// Largest |a − b| / max(1, |b|) over two tensors of equal shape.
func relativeError(_ a: HostTensor, _ b: HostTensor) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
    return zip(a.values, b.values).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
}

/// Something a test needs that this machine lacks: the test fails and says what to install.
struct MissingPrerequisite: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
