/// Everything that can go wrong reading or writing media. Each case names the file, so a
/// message can be shown to the user as it is.
public enum MediaError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    /// The file is not a container libavformat understands, or it has no video stream.
    case notAVideo(path: String, reason: String)
    /// The stream is there but cannot be demuxed or decoded.
    case corruptStream(path: String, reason: String)
    /// A Y4M header that does not parse.
    case badHeader(path: String, reason: String)
    /// A pixel format, Y4M colour tag or codec this program cannot handle.
    case unsupportedFormat(path: String, reason: String)
    /// The file ends in the middle of a frame.
    case truncatedFrame(path: String, frameIndex: Int)
    case unsupportedOutputExtension(path: String)
    /// A buffer handed to a reader or writer does not hold exactly one frame.
    case wrongBufferSize(path: String, expected: Int, actual: Int)
    case encoderFailure(path: String, reason: String)
    /// The file system refused: cannot create, write or rename.
    case ioFailure(path: String, reason: String)
    /// write() or finish() after finish() or after an earlier failure.
    case writerClosed(path: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .notAVideo(let path, let reason):
            return "\(path): not a video (\(reason))"
        case .corruptStream(let path, let reason):
            return "\(path): corrupt or undecodable stream (\(reason))"
        case .badHeader(let path, let reason):
            return "\(path): bad Y4M header (\(reason))"
        case .unsupportedFormat(let path, let reason):
            return "\(path): unsupported format (\(reason))"
        case .truncatedFrame(let path, let frameIndex):
            return "\(path): truncated frame \(frameIndex) (file ends mid-frame)"
        case .unsupportedOutputExtension(let path):
            return "\(path): unsupported output extension (use .y4m, .mp4, .mkv or .mov)"
        case .wrongBufferSize(let path, let expected, let actual):
            return "\(path): frame buffer holds \(actual) bytes, a frame needs \(expected)"
        case .encoderFailure(let path, let reason):
            return "\(path): encoder failure (\(reason))"
        case .ioFailure(let path, let reason):
            return "\(path): \(reason)"
        case .writerClosed(let path):
            return "\(path): writer already finished or failed"
        }
    }
}
