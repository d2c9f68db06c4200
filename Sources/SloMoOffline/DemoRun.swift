import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoMedia

/// The embedded default job: interpolate the built-in test pattern, whose true in-between frames
/// are known, and score flow, blend and repeat against them.
public enum DemoRun {
    public struct Result: Sendable {
        public var framesOut: Int
        public var width: Int
        public var height: Int
        public var device: String
        public var flowPSNR: Double
        public var blendPSNR: Double
        public var repeatPSNR: Double
        public var millisecondsPerFrame: Double
    }

    public static func run(output: String, scale: Int, frames: Int, preset: FlowPreset, context: GPUContext,
                           pattern: TestPattern = TestPattern(width: 640, height: 360)) throws -> Result {
        let format = pattern.format
        let rate = Rational(12)
        let writer = try makeVideoWriter(path: output, format: format, frameRate: rate * scale, audioFrom: nil)
        let times = (1..<scale).map { Float($0) / Float(scale) }
        var interpolators: [InterpolationMode: Interpolator] = [:]
        for mode in [InterpolationMode.flow, .blend, .repeat] {
            let interpolator = try Interpolator(context: context, format: format, preset: preset, maxSteps: scale - 1)
            interpolator.mode = mode
            interpolators[mode] = interpolator
        }
        var frame = [UInt8](repeating: 0, count: format.byteCount), truth = frame
        var psnr: [InterpolationMode: Double] = [:]
        var framesOut = 0, synthesisMilliseconds = 0.0
        let luma = format.width * format.height
        for index in 0..<frames {
            frame.withUnsafeMutableBytes { pattern.render(time: Double(index), into: $0) }
            for (mode, interpolator) in interpolators {
                try frame.withUnsafeBytes { try interpolator.append($0) }
                guard index > 0 else { continue }
                let synthesis = try interpolator.synthesize(times: times)
                if mode == .flow { synthesisMilliseconds += synthesis.gpuMilliseconds }
                for (step, t) in times.enumerated() {
                    truth.withUnsafeMutableBytes { pattern.render(time: Double(index - 1) + Double(t), into: $0) }
                    let made = interpolator.output(step)
                    psnr[mode, default: 0] += truth.withUnsafeBytes {
                        Quality.psnr(UnsafeRawBufferPointer(rebasing: made[..<luma]), UnsafeRawBufferPointer(rebasing: $0[..<luma]))
                    }
                    if mode == .flow {
                        try writer.write(made)
                        framesOut += 1
                    }
                }
            }
            try frame.withUnsafeBytes { try writer.write($0) }
            framesOut += 1
        }
        try writer.finish()
        let synthesised = Double((frames - 1) * (scale - 1))
        return Result(framesOut: framesOut, width: format.width, height: format.height, device: context.info.name,
                      flowPSNR: psnr[.flow, default: 0] / synthesised, blendPSNR: psnr[.blend, default: 0] / synthesised,
                      repeatPSNR: psnr[.repeat, default: 0] / synthesised, millisecondsPerFrame: synthesisMilliseconds / synthesised)
    }
}
