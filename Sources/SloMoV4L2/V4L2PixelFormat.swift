import CV4L2
import SloMoCore

/// The V4L2 pixel formats slomo captures and writes. All but MJPEG pass through as a
/// `PixelFormat` the GPU converts; MJPEG is decoded on the CPU first.
public enum V4L2PixelFormat: String, CaseIterable, Sendable {
    case yuyv, uyvy, nv12, yu12, yuv422p, rgb24, bgr24, xbgr32, mjpeg

    public var fourcc: UInt32 {
        switch self {
        case .yuyv: return slomo_v4l2_pix_fmt_yuyv()
        case .uyvy: return slomo_v4l2_pix_fmt_uyvy()
        case .nv12: return slomo_v4l2_pix_fmt_nv12()
        case .yu12: return slomo_v4l2_pix_fmt_yuv420()
        case .yuv422p: return slomo_v4l2_pix_fmt_yuv422p()
        case .rgb24: return slomo_v4l2_pix_fmt_rgb24()
        case .bgr24: return slomo_v4l2_pix_fmt_bgr24()
        case .xbgr32: return slomo_v4l2_pix_fmt_xbgr32()
        case .mjpeg: return slomo_v4l2_pix_fmt_mjpeg()
        }
    }

    /// Also accepts JPEG, which some UVC cameras report for the same stream as MJPEG.
    public init?(fourcc: UInt32) {
        if fourcc == slomo_v4l2_pix_fmt_jpeg() { self = .mjpeg; return }
        guard let match = V4L2PixelFormat.allCases.first(where: { $0.fourcc == fourcc }) else { return nil }
        self = match
    }

    /// The same bytes as a slomo pixel format; nil for MJPEG, which needs decoding.
    public var pixelFormat: PixelFormat? {
        switch self {
        case .yuyv: return .yuyv
        case .uyvy: return .uyvy
        case .nv12: return .nv12
        case .yu12: return .yuv420p
        case .yuv422p: return .yuv422p
        case .rgb24: return .rgb24
        case .bgr24: return .bgr24
        case .xbgr32: return .xrgb8888
        case .mjpeg: return nil
        }
    }

    /// The V4L2 format carrying a slomo pixel format's bytes unchanged; nil for planar 4:4:4,
    /// which single-planar V4L2 has no code for.
    public init?(_ pixelFormat: PixelFormat) {
        guard let match = V4L2PixelFormat.allCases.first(where: { $0.pixelFormat == pixelFormat }) else { return nil }
        self = match
    }

    public var isCompressed: Bool { self == .mjpeg }

    /// The four characters, for messages ("YUYV").
    public static func name(ofFourcc fourcc: UInt32) -> String {
        String(decoding: (0..<4).map { UInt8(truncatingIfNeeded: fourcc >> ($0 * 8)) }, as: UTF8.self)
    }
}
