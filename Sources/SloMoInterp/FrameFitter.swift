import SloMoCore
import SloMoGPU

/// Where a frame of one size lands in a frame of another: scaled by the same factor both ways
/// (the aspect ratio kept) as large as fits, centred; the rest is letterbox or pillarbox bars.
public struct FitGeometry: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int

    public init(input: (width: Int, height: Int), output: (width: Int, height: Int)) {
        // Compared in integers, so both sides agree on which dimension binds.
        if input.width * output.height >= input.height * output.width {
            width = output.width
            height = max(1, min(output.height, (input.height * output.width * 2 + input.width) / (input.width * 2)))
        } else {
            height = output.height
            width = max(1, min(output.width, (input.width * output.height * 2 + input.height) / (input.height * 2)))
        }
        x = (output.width - width) / 2
        y = (output.height - height) / 2
    }

    /// Input pixels per output pixel, horizontally and vertically.
    public func scale(input: (width: Int, height: Int)) -> (x: Float, y: Float) {
        (Float(input.width) / Float(width), Float(input.height) / Float(height))
    }
}

/// Fits frames of one format into another on the GPU (unpack.comp, then fit.comp): another size,
/// pixel format, matrix or range. The capture thread uses one after a source change, so the
/// pipeline's format, and the consumers', never change. Buffers and the recorded work are made
/// once per pair of formats.
public final class FrameFitter {
    public let input: FrameFormat
    public let output: FrameFormat
    public let geometry: FitGeometry
    private let deviceArena: BufferArena
    private let hostArena: BufferArena
    private let staging: GPUBuffer, packed: GPUBuffer
    private let sequence: GPUSequence

    public init(context: GPUContext, input: FrameFormat, output: FrameFormat) throws {
        precondition(input.width >= 1 && input.height >= 1 && output.width >= 1 && output.height >= 1, "empty frames")
        self.input = input
        self.output = output
        geometry = FitGeometry(input: (input.width, input.height), output: (output.width, output.height))
        deviceArena = BufferArena(context: context, placement: .device)
        let device = try deviceArena.allocate([("fit frame", input.width * input.height * 4), ("fit pyramid", 16)])
        hostArena = BufferArena(context: context, placement: .host)
        // unpack.comp reads its input's offset from the engine's parameter layout: 0 for slot 0.
        let host = try hostArena.allocate([("fit input", input.byteCount), ("fit output", output.byteCount), ("fit params", 80)])
        (staging, packed) = (host[0], host[1])
        host[2].contents!.initializeMemory(as: UInt8.self, repeating: 0, count: 80)
        sequence = try GPUSequence(context: context)
        let (unpack, fit) = try Self.compileShaders(context: context, input: input.pixelFormat, output: output.pixelFormat)
        let (input, output, geometry) = (input, output, geometry)
        let scale = geometry.scale(input: (input.width, input.height))
        let (inKr, inKb) = input.color.coefficients
        try sequence.record { recorder in
            // Neither pyramid level is wanted: offsets of -1.
            try recorder.dispatch(unpack, [.read(host[0]), .write(device[0]), .write(device[1]), .read(host[2])],
                                  push: Self.colorPush(input) + [.int(0), .int(0), .int(-1), .int(-1), .int(0)],
                                  groups: ((input.width + 15) / 16, (input.height + 15) / 16, 1))
            try recorder.dispatch(fit, [.read(device[0]), .write(host[1])],
                                  push: Self.colorPush(output) + [.int(input.width), .int(input.height), .float(inKr), .float(inKb),
                                                                  .int(geometry.x), .int(geometry.y), .int(geometry.width),
                                                                  .int(geometry.height), .float(scale.x), .float(scale.y)],
                                  groups: ((output.width + 15) / 16, (output.height + 15) / 16, 1))
        }
    }

    /// Builds the two pipelines a fitter between these pixel formats runs; the context caches
    /// them, so a caller can compile them ahead of the first fitter.
    @discardableResult
    public static func compileShaders(context: GPUContext, input: PixelFormat, output: PixelFormat) throws
        -> (unpack: ComputePipeline, fit: ComputePipeline) {
        (try context.pipeline(.unpack, bindings: 4, specialization: [constant(input)]),
         try context.pipeline(.fit, bindings: 2, specialization: [constant(output)]))
    }

    /// Fits one frame (`input.byteCount` bytes) into `target` (`output.byteCount` bytes).
    public func fit(_ frame: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer) throws {
        precondition(frame.count >= input.byteCount && target.count >= output.byteCount, "fit: short buffers")
        staging.contents!.copyMemory(from: frame.baseAddress!, byteCount: input.byteCount)
        try sequence.run()
        target.baseAddress!.copyMemory(from: packed.contents!, byteCount: output.byteCount)
    }

    static func colorPush(_ format: FrameFormat) -> [PushValue] {
        let (kr, kb) = format.color.coefficients
        let full = format.pixelFormat.isRGB || format.color.range == .full
        return [.int(format.width), .int(format.height), .int(full ? 1 : 0), .float(kr), .float(kb)]
    }

    static func constant(_ format: PixelFormat) -> Int32 { Int32(PixelFormat.allCases.firstIndex(of: format)!) }
}
