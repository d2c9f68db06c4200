import Foundation
import SloMoCore

/// YUV4MPEG2 reader for 8-bit planar 4:2:0, 4:2:2 and 4:4:4, without libav: Y4M is the lossless
/// interchange format, so it must work, and work exactly, even where libav is not wanted.
public final class Y4MReader: VideoReader {
    public let path: String
    public let format: FrameFormat
    public let frameRate: Rational
    public let frameCountHint: Int?
    public let chromaSiting: ChromaSiting?
    private let file: UnsafeMutablePointer<FILE>
    private var framesRead = 0

    public init(path: String) throws {
        guard let file = fopen(path, "rb") else {
            throw errno == ENOENT ? MediaError.fileNotFound(path: path)
                                  : MediaError.ioFailure(path: path, reason: "cannot open: \(systemError())")
        }
        self.path = path
        self.file = file
        do {
            guard let line = try Y4MReader.readLine(file, limit: 65536, path: path),
                  line.hasPrefix("YUV4MPEG2 ") else {
                throw MediaError.badHeader(path: path, reason: "missing YUV4MPEG2 signature")
            }
            let header = try Y4MHeader(parsing: line, path: path)
            format = header.format
            frameRate = header.frameRate
            chromaSiting = header.chromaSiting
            let headerLength = line.utf8.count + 1
            var info = stat()
            // Exact when frame headers carry no parameters, which is what every writer produces.
            if fstat(fileno(file), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
                frameCountHint = (Int(info.st_size) - headerLength) / (format.byteCount + 6)
            } else {
                frameCountHint = nil
            }
        } catch {
            fclose(file)
            throw error
        }
    }

    deinit { fclose(file) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard buffer.count == format.byteCount, let base = buffer.baseAddress else {
            throw MediaError.wrongBufferSize(path: path, expected: format.byteCount, actual: buffer.count)
        }
        guard let marker = try Y4MReader.readLine(file, limit: 4096, path: path, partialIsTruncation: framesRead) else {
            return false
        }
        guard marker == "FRAME" || marker.hasPrefix("FRAME ") else {
            throw MediaError.corruptStream(path: path, reason: "expected FRAME marker before frame \(framesRead)")
        }
        guard fread(base, 1, buffer.count, file) == buffer.count else {
            throw MediaError.truncatedFrame(path: path, frameIndex: framesRead)
        }
        framesRead += 1
        return true
    }

    /// Reads up to a newline (not included). Nil at a clean end of file; a line cut short by
    /// the end of file is a truncated frame when `partialIsTruncation` gives its index.
    private static func readLine(_ file: UnsafeMutablePointer<FILE>, limit: Int, path: String,
                                 partialIsTruncation frameIndex: Int? = nil) throws -> String? {
        var bytes: [UInt8] = []
        while true {
            let c = getc(file)
            if c == EOF {
                if bytes.isEmpty { return nil }
                if let frameIndex { throw MediaError.truncatedFrame(path: path, frameIndex: frameIndex) }
                throw MediaError.badHeader(path: path, reason: "header line not terminated")
            }
            if c == 0x0A { break }
            bytes.append(UInt8(c))
            if bytes.count > limit {
                throw MediaError.badHeader(path: path, reason: "header line longer than \(limit) bytes")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Writes YUV4MPEG2 natively; see Y4MReader for why. Tags: W, H, F, Ip, C, XCOLORRANGE.
public final class Y4MWriter: VideoWriter {
    public let path: String
    public let format: FrameFormat
    private let output: TemporaryOutput
    private var file: UnsafeMutablePointer<FILE>?

    /// - Parameter chromaSiting: chooses C420jpeg (center or nil), C420mpeg2 (left) or C420paldv (topLeft).
    public init(path: String, format: FrameFormat, frameRate: Rational, chromaSiting: ChromaSiting? = nil) throws {
        guard format.pixelFormat.isPlanarYUV else {
            throw MediaError.unsupportedFormat(path: path, reason: "Y4M holds planar YUV, not \(format.pixelFormat.rawValue)")
        }
        guard format.hasPlausibleSize, frameRate.numerator > 0 else {
            throw MediaError.unsupportedFormat(path: path, reason: "frame size \(format.width)x\(format.height) at \(frameRate) fps")
        }
        self.path = path
        self.format = format
        output = TemporaryOutput(destination: path)
        // "x": never reuse a file someone else created under the temporary name.
        guard let file = fopen(output.temporaryPath, "wbx") else {
            throw MediaError.ioFailure(path: path, reason: "cannot create file: \(systemError())")
        }
        self.file = file
        let header = Y4MHeader(format: format, frameRate: frameRate, chromaSiting: chromaSiting).line + "\n"
        try put(Array(header.utf8))
    }

    deinit {
        if let file { fclose(file) }
        output.discard()
    }

    public func write(_ frame: UnsafeRawBufferPointer) throws {
        guard frame.count == format.byteCount else {
            throw MediaError.wrongBufferSize(path: path, expected: format.byteCount, actual: frame.count)
        }
        try put(Array("FRAME\n".utf8))
        try put(frame)
    }

    public func finish() throws {
        guard let file else { throw MediaError.writerClosed(path: path) }
        self.file = nil
        guard fclose(file) == 0 else {
            let reason = systemError()
            output.discard()
            throw MediaError.ioFailure(path: path, reason: "cannot write: \(reason)")
        }
        try output.publish()
    }

    private func put(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try put($0) }
    }

    private func put(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { throw MediaError.writerClosed(path: path) }
        guard fwrite(bytes.baseAddress, 1, bytes.count, file) == bytes.count else {
            let reason = systemError()
            fclose(file)
            self.file = nil
            output.discard()
            throw MediaError.ioFailure(path: path, reason: "cannot write: \(reason)")
        }
    }
}

/// The stream header line, parsed or to be written.
struct Y4MHeader {
    var format: FrameFormat
    var frameRate: Rational
    var chromaSiting: ChromaSiting?

    init(format: FrameFormat, frameRate: Rational, chromaSiting: ChromaSiting?) {
        self.format = format
        self.frameRate = frameRate
        self.chromaSiting = chromaSiting
    }

    init(parsing line: String, path: String) throws {
        var width: Int?, height: Int?
        var rate = Rational(25)  // what FFmpeg assumes when F is missing or 0:0
        var chroma = "420jpeg"
        var range: ColorSpace.Range?
        for token in line.split(separator: " ").dropFirst() {
            let value = token.dropFirst()
            switch token.first {
            case "W": width = Int(value)
                guard let w = width, w > 0 else { throw MediaError.badHeader(path: path, reason: "width \(token)") }
            case "H": height = Int(value)
                guard let h = height, h > 0 else { throw MediaError.badHeader(path: path, reason: "height \(token)") }
            case "F":
                let parts = value.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, let n = Int(parts[0]), let d = Int(parts[1]), n >= 0, d >= 0 else {
                    throw MediaError.badHeader(path: path, reason: "frame rate \(token)")
                }
                if n > 0 && d > 0 { rate = Rational(n, d) }
            case "C": chroma = String(value)
            case "X" where value == "COLORRANGE=FULL": range = .full
            case "X" where value == "COLORRANGE=LIMITED": range = .limited
            default: break  // I, A, other X comments: nothing this program uses
            }
        }
        guard let width, let height else {
            throw MediaError.badHeader(path: path, reason: "missing W or H")
        }
        let pixelFormat: PixelFormat
        switch chroma {
        case "420jpeg", "420": pixelFormat = .yuv420p; chromaSiting = .center
        case "420mpeg2": pixelFormat = .yuv420p; chromaSiting = .left
        case "420paldv": pixelFormat = .yuv420p; chromaSiting = .topLeft
        case "422": pixelFormat = .yuv422p; chromaSiting = nil
        case "444": pixelFormat = .yuv444p; chromaSiting = nil
        default:
            throw MediaError.unsupportedFormat(path: path, reason: "Y4M colour tag C\(chroma) (supported: 8-bit 420, 422, 444)")
        }
        var color = ColorSpace.guess(height: height)
        if let range { color.range = range }
        format = FrameFormat(width: width, height: height, pixelFormat: pixelFormat, color: color)
        guard format.hasPlausibleSize else {
            throw MediaError.badHeader(path: path, reason: "implausible frame size \(width)x\(height)")
        }
        frameRate = rate
    }

    var line: String {
        let chroma: String
        switch (format.pixelFormat, chromaSiting) {
        case (.yuv420p, .left): chroma = "420mpeg2"
        case (.yuv420p, .topLeft): chroma = "420paldv"
        case (.yuv420p, _): chroma = "420jpeg"
        case (.yuv422p, _): chroma = "422"
        default: chroma = "444"
        }
        let range = format.color.range == .full ? "FULL" : "LIMITED"
        return "YUV4MPEG2 W\(format.width) H\(format.height) F\(frameRate.numerator):\(frameRate.denominator) Ip C\(chroma) XCOLORRANGE=\(range)"
    }
}
