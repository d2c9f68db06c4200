import SloMoCore

/// A source of decoded frames, all in one FrameFormat.
public protocol VideoReader: AnyObject {
    var format: FrameFormat { get }
    var frameRate: Rational { get }
    /// The container's idea of the frame count; may be missing or approximate.
    var frameCountHint: Int? { get }
    /// Where 4:2:0 chroma samples sit, when the input says; writers can keep it.
    var chromaSiting: ChromaSiting? { get }
    /// Fills `buffer` (exactly `format.byteCount` bytes, planes tightly packed as
    /// `PixelFormat.planes` lays them out) with the next frame; false at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Bool
}

extension VideoReader {
    public var chromaSiting: ChromaSiting? { nil }

    /// The next frame in a new array, or nil at the end of the stream.
    public func readFrame() throws -> [UInt8]? {
        var frame = [UInt8](repeating: 0, count: format.byteCount)
        let gotFrame = try frame.withUnsafeMutableBytes { try read(into: $0) }
        return gotFrame ? frame : nil
    }
}

/// A sink for frames in the FrameFormat it was made for.
public protocol VideoWriter: AnyObject {
    /// Appends one frame of exactly `format.byteCount` bytes.
    func write(_ frame: UnsafeRawBufferPointer) throws
    /// Completes the file and moves it to its destination. Until then (and forever, if this is
    /// never called or anything fails) nothing exists at the destination path.
    func finish() throws
}

/// Position of 4:2:0 chroma samples relative to luma (Y4M's C420jpeg / C420mpeg2 / C420paldv).
public enum ChromaSiting: String, Sendable {
    /// Between the four luma samples: JPEG, MPEG-1, Y4M's default.
    case center
    /// Vertically between, horizontally co-sited with the left luma column: MPEG-2, H.264.
    case left
    /// Co-sited with the top-left luma sample: PAL DV.
    case topLeft
}

/// Opens `path` for decoding: Y4M natively, anything else through libavformat.
public func openVideoReader(path: String) throws -> VideoReader {
    if fileExtension(of: path) == "y4m" {
        return try Y4MReader(path: path)
    }
    return try LibavReader(path: path)
}

/// Creates a writer chosen by the extension of `path` (.y4m, .mp4, .mkv, .mov).
///
/// - Parameters:
///   - audioFrom: the reader the frames come from, when the output keeps the input's duration:
///     its audio is then copied into .mp4/.mkv/.mov outputs. Pass nil when the timing changes
///     (slow motion), which drops the audio. Attach before reading frames from it.
///   - chromaSiting: kept in the output's metadata (typically the reader's `chromaSiting`).
/// Y4M holds planar YUV only: packed and RGB frames are converted to planar YUV with the same
/// chroma resolution (RGB to 4:4:4), using `format.color` for matrix and range.
public func makeVideoWriter(path: String, format: FrameFormat, frameRate: Rational, audioFrom: VideoReader?,
                            chromaSiting: ChromaSiting? = nil) throws -> VideoWriter {
    switch fileExtension(of: path) {
    case "y4m":
        if format.pixelFormat.isPlanarYUV {
            return try Y4MWriter(path: path, format: format, frameRate: frameRate, chromaSiting: chromaSiting)
        }
        var planar = format
        planar.pixelFormat = format.pixelFormat.planarYUVEquivalent
        let writer = try Y4MWriter(path: path, format: planar, frameRate: frameRate, chromaSiting: chromaSiting)
        return try ConvertingWriter(inner: writer, path: path, from: format, to: planar)
    case "mp4", "mkv", "mov":
        return try LibavWriter(path: path, format: format, frameRate: frameRate, audioFrom: audioFrom,
                               chromaSiting: chromaSiting)
    default:
        throw MediaError.unsupportedOutputExtension(path: path)
    }
}

/// Converts each frame to the format the wrapped writer takes.
final class ConvertingWriter: VideoWriter {
    private let inner: VideoWriter
    private let path: String
    private let source: FrameFormat
    private let target: FrameFormat
    private let transfer: FrameTransfer
    private var converted: [UInt8]

    init(inner: VideoWriter, path: String, from source: FrameFormat, to target: FrameFormat) throws {
        self.inner = inner
        self.path = path
        self.source = source
        self.target = target
        transfer = try FrameTransfer(from: (source.pixelFormat.avPixelFormat, source.width, source.height),
                                     to: (target.pixelFormat.avPixelFormat, target.width, target.height),
                                     color: source.color, path: path)
        converted = [UInt8](repeating: 0, count: target.byteCount)
    }

    func write(_ frame: UnsafeRawBufferPointer) throws {
        guard frame.count == source.byteCount, let input = frame.baseAddress else {
            throw MediaError.wrongBufferSize(path: path, expected: source.byteCount, actual: frame.count)
        }
        let src = PlanePointers(buffer: UnsafeMutableRawPointer(mutating: input), format: source.pixelFormat,
                                width: source.width, height: source.height)
        try converted.withUnsafeMutableBytes { output in
            // Never nil: the buffer has target.byteCount > 0 bytes.
            guard let base = output.baseAddress else { return }
            transfer.run(from: src, to: PlanePointers(buffer: base, format: target.pixelFormat,
                                                      width: target.width, height: target.height))
            try inner.write(UnsafeRawBufferPointer(output))
        }
    }

    func finish() throws { try inner.finish() }
}
