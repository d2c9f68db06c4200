import Foundation
import SloMoCore
import SloMoGPU
import XCTest

/// The read-only sample data beside the package (or where SLOMO_SHARED_DATA points).
func sharedData(_ name: String) throws -> String {
    let base = ProcessInfo.processInfo.environment["SLOMO_SHARED_DATA"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data").path
    let path = base + "/" + name
    guard FileManager.default.fileExists(atPath: path) else {
        throw MissingData(path: path)
    }
    return path
}

struct MissingData: Error, CustomStringConvertible {
    let path: String
    var description: String { "sample data \(path) is missing (set SLOMO_SHARED_DATA)" }
}

/// One validated GPU context for the whole test run; tests assert it logged nothing.
let sharedContext: GPUContext = {
    do { return try GPUContext(options: GPUOptions(validation: true)) } catch { fatalError("no Vulkan device for tests: \(error)") }
}()

func assertNoValidationMessages(file: StaticString = #filePath, line: UInt = #line) {
    let messages = sharedContext.validationLog.messages
    XCTAssertTrue(messages.isEmpty, "validation layer reported:\n" + messages.prefix(5).joined(separator: "\n"), file: file, line: line)
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

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// A smooth random picture (sum of random sinusoids), as planar 8-bit luma; smooth so flow is well defined.
func smoothPicture(width: Int, height: Int, seed: UInt64, shift: (x: Double, y: Double) = (0, 0)) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    let waves = (0..<8).map { _ in
        (fx: Double.random(in: 0.02...0.15, using: &generator), fy: Double.random(in: 0.02...0.15, using: &generator),
         phase: Double.random(in: 0...6.28, using: &generator), amplitude: Double.random(in: 10...25, using: &generator))
    }
    var bytes = [UInt8](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            let sx = Double(x) - shift.x, sy = Double(y) - shift.y
            let value = 128 + waves.reduce(0) { $0 + $1.amplitude * sin($1.fx * sx + $1.fy * sy + $1.phase) }
            bytes[y * width + x] = UInt8(max(0, min(255, value.rounded())))
        }
    }
    return bytes
}

/// PSNR in dB between two byte arrays.
func psnr(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Double {
    precondition(a.count == b.count)
    var sum = 0.0
    for (x, y) in zip(a, b) {
        let d = Double(x) - Double(y)
        sum += d * d
    }
    let mse = sum / Double(a.count)
    return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
}
