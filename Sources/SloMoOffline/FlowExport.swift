import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoMedia

/// `slomo flow`: the engine's optical flow between two images, written as a Middlebury .flo file, so the
/// estimator can be scored on its own (endpoint error against a known field), apart from the fusion.
public enum FlowExport {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Estimates the flow from `first` to `second` (or back, with `backward`) with `preset` and writes it to
    /// `output` (.flo: "PIEH", width, height, then u, v per pixel as little-endian float32, row by row).
    /// Returns the field's size.
    @discardableResult
    public static func run(first: String, second: String, output: String, preset: FlowPreset, backward: Bool,
                           context: GPUContext) throws -> (width: Int, height: Int) {
        guard output.lowercased().hasSuffix(".flo") else { throw MediaError.unsupportedOutputExtension(path: output) }
        let a = try readImage(path: first), b = try readImage(path: second)
        guard (a.width, a.height) == (b.width, b.height) else {
            throw Failure(description: "\(second) is \(b.width)×\(b.height), \(first) is \(a.width)×\(a.height): the two images must be the same size")
        }
        // The same colour handling as the benchmark's Middlebury pairs.
        let format = FrameFormat(width: a.width, height: a.height, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
        let interpolator = try Interpolator(context: context, format: format, preset: preset, maxSteps: 1)
        // A scene-cut guess would skip the flow; the caller asked for it.
        interpolator.sceneCuts.enabled = false
        try a.rgb.withUnsafeBytes { try interpolator.append($0) }
        try b.rgb.withUnsafeBytes { try interpolator.append($0) }
        try interpolator.synthesize(times: [0.5])
        let field = try interpolator.fullResolutionFlow(backward: backward)
        var data = Data("PIEH".utf8)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        append(Int32(a.width))
        append(Int32(a.height))
        data.reserveCapacity(12 + field.count * 8)
        for vector in field {
            append(vector.x.bitPattern)
            append(vector.y.bitPattern)
        }
        do {
            try data.write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw MediaError.ioFailure(path: output, reason: "cannot write: \((error as NSError).localizedDescription)")
        }
        return (a.width, a.height)
    }
}
