import CFFmpeg
import SloMoCore

/// libav logs banners, statistics and its own view of errors to stderr; the CLI promises one error
/// line, and everything that matters reaches the caller as a MediaError, so libav stays quiet.
let quietLibavLogging: Void = { av_log_set_level(AV_LOG_QUIET) }()

let averrorEAGAIN = slomo_averror(EAGAIN)
let averrorEOF = slomo_averror_eof()
let noTimestamp = slomo_nopts_value()

func avErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    return String(cString: slomo_av_strerror(code, &buffer, buffer.count))
}

func pixelFormatName(_ format: AVPixelFormat) -> String {
    av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown (\(format.rawValue))"
}

extension PixelFormat {
    var avPixelFormat: AVPixelFormat {
        switch self {
        case .yuv420p: return AV_PIX_FMT_YUV420P
        case .yuv422p: return AV_PIX_FMT_YUV422P
        case .yuv444p: return AV_PIX_FMT_YUV444P
        case .nv12: return AV_PIX_FMT_NV12
        case .yuyv: return AV_PIX_FMT_YUYV422
        case .uyvy: return AV_PIX_FMT_UYVY422
        case .rgb24: return AV_PIX_FMT_RGB24
        case .bgr24: return AV_PIX_FMT_BGR24
        case .xrgb8888: return AV_PIX_FMT_BGR0
        }
    }

    var isPlanarYUV: Bool { self == .yuv420p || self == .yuv422p || self == .yuv444p }

    /// The planar YUV format with the same chroma resolution; RGB has full-resolution chroma.
    var planarYUVEquivalent: PixelFormat {
        switch chromaShift {
        case (1, 1): return .yuv420p
        case (1, 0): return .yuv422p
        default: return .yuv444p
        }
    }
}

extension FrameFormat {
    /// Within what libav's 32-bit size fields and sane allocations allow.
    var hasPlausibleSize: Bool { (1...32768).contains(width) && (1...32768).contains(height) }
}

extension ColorSpace {
    var avColorSpace: AVColorSpace { matrix == .bt709 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M }
    var avColorRange: AVColorRange { range == .full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG }
}

extension Rational {
    var avRational: AVRational { AVRational(num: Int32(clamping: numerator), den: Int32(clamping: denominator)) }
}

/// The plane pointers and line sizes libav functions take, for an AVFrame or a tightly packed buffer.
struct PlanePointers {
    var data: [UnsafeMutablePointer<UInt8>?] = [nil, nil, nil, nil]
    var linesize: [Int32] = [0, 0, 0, 0]

    init(frame: UnsafeMutablePointer<AVFrame>) {
        let d = frame.pointee.data, l = frame.pointee.linesize
        data = [d.0, d.1, d.2, d.3]
        linesize = [l.0, l.1, l.2, l.3]
    }

    /// Planes laid out as SloMoCore's PixelFormat.planes says, which is what readers and writers exchange.
    init(buffer: UnsafeMutableRawPointer, format: PixelFormat, width: Int, height: Int) {
        for (index, plane) in format.planes(width: width, height: height).enumerated() {
            data[index] = (buffer + plane.offset).assumingMemoryBound(to: UInt8.self)
            linesize[index] = Int32(plane.stride)
        }
    }
}

/// Copies or converts pictures between two fixed pixel formats and sizes: a plain copy when the
/// layouts agree, swscale otherwise (with the given matrix and range on both sides).
final class FrameTransfer {
    let source: (format: AVPixelFormat, width: Int, height: Int)
    let destination: (format: AVPixelFormat, width: Int, height: Int)
    private let scaler: OpaquePointer?

    init(from source: (format: AVPixelFormat, width: Int, height: Int),
         to destination: (format: AVPixelFormat, width: Int, height: Int),
         color: ColorSpace, path: String) throws {
        _ = quietLibavLogging
        self.source = source
        self.destination = destination
        if FrameTransfer.sameLayout(source.format, destination.format),
           source.width == destination.width, source.height == destination.height {
            scaler = nil
            return
        }
        guard sws_isSupportedInput(source.format) != 0 else {
            throw MediaError.unsupportedFormat(path: path, reason: "cannot convert from pixel format \(pixelFormatName(source.format))")
        }
        guard sws_isSupportedOutput(destination.format) != 0 else {
            throw MediaError.unsupportedFormat(path: path, reason: "cannot convert to pixel format \(pixelFormatName(destination.format))")
        }
        let flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
        guard let context = sws_getContext(Int32(source.width), Int32(source.height), source.format,
                                           Int32(destination.width), Int32(destination.height), destination.format,
                                           flags, nil, nil, nil) else {
            throw MediaError.unsupportedFormat(path: path, reason: "cannot convert \(pixelFormatName(source.format)) to \(pixelFormatName(destination.format))")
        }
        // Range applies to the YUV side(s); swscale ignores it for RGB.
        let coefficients = sws_getCoefficients(color.matrix == .bt709 ? SWS_CS_ITU709 : SWS_CS_ITU601)
        let full: Int32 = color.range == .full ? 1 : 0
        sws_setColorspaceDetails(context, coefficients, full, coefficients, full, 0, 1 << 16, 1 << 16)
        scaler = context
    }

    deinit { sws_freeContext(scaler) }

    func run(from src: PlanePointers, to dst: PlanePointers) {
        let sourceData = src.data.map { $0.map { UnsafePointer($0) } }
        if let scaler {
            _ = sws_scale(scaler, sourceData, src.linesize, 0, Int32(source.height), dst.data, dst.linesize)
        } else {
            var destinationData = dst.data, destinationLinesize = dst.linesize, mutableSourceData = sourceData
            av_image_copy(&destinationData, &destinationLinesize, &mutableSourceData, src.linesize,
                          destination.format, Int32(destination.width), Int32(destination.height))
        }
    }

    /// yuvj formats are the full-range aliases of the yuv ones: same bytes.
    static func sameLayout(_ a: AVPixelFormat, _ b: AVPixelFormat) -> Bool {
        canonical(a) == canonical(b)
    }

    private static func canonical(_ format: AVPixelFormat) -> AVPixelFormat {
        switch format {
        case AV_PIX_FMT_YUVJ420P: return AV_PIX_FMT_YUV420P
        case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P
        case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P
        default: return format
        }
    }
}
