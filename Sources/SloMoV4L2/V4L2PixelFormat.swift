import CV4L2
import SloMoCore

/// The V4L2 pixel formats slomo captures and writes. All but MJPEG reach the engine as a
/// `PixelFormat` the GPU converts, copied in at most once (`FramePlanes`); MJPEG is decoded
/// on the CPU first. What each format is lies in one table, `layout`.
public enum V4L2PixelFormat: String, CaseIterable, Sendable {
    case yuyv, uyvy, nv12, yu12, yuv422p, rgb24, bgr24, xbgr32, mjpeg
    // Formats the engine has no code for whose planes a copy rearranges into one it has.
    case yv12, nv21, nv16, nv61
    // Multi-planar: each colour plane in a buffer of its own (V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE only).
    case nv12m, nv21m, yu12m, yv12m, nv16m, nv61m, yuv422m

    /// How the driver lays the format out, as a table: its code, the engine format it becomes,
    /// and its planes in the driver's order.
    var layout: Layout {
        // Engine plane indices each V4L2 plane fills (see SourcePlane.targets).
        let packed = [SourcePlane(memoryPlane: 0, targets: [0])]
        let planes3 = (0..<3).map { SourcePlane(memoryPlane: 0, targets: [$0]) }
        let swapped3 = [0, 2, 1].map { SourcePlane(memoryPlane: 0, targets: [$0]) }
        func semi(_ chroma: [Int]) -> [SourcePlane] { [SourcePlane(memoryPlane: 0, targets: [0]), SourcePlane(memoryPlane: 0, targets: chroma)] }
        func separate(_ planes: [SourcePlane]) -> [SourcePlane] {
            planes.enumerated().map { SourcePlane(memoryPlane: $0.offset, targets: $0.element.targets) }
        }
        switch self {
        case .yuyv: return Layout(fourcc: slomo_v4l2_pix_fmt_yuyv(), pixelFormat: .yuyv, planes: packed)
        case .uyvy: return Layout(fourcc: slomo_v4l2_pix_fmt_uyvy(), pixelFormat: .uyvy, planes: packed)
        case .nv12: return Layout(fourcc: slomo_v4l2_pix_fmt_nv12(), pixelFormat: .nv12, planes: semi([1]))
        case .yu12: return Layout(fourcc: slomo_v4l2_pix_fmt_yuv420(), pixelFormat: .yuv420p, planes: planes3)
        case .yuv422p: return Layout(fourcc: slomo_v4l2_pix_fmt_yuv422p(), pixelFormat: .yuv422p, planes: planes3)
        case .rgb24: return Layout(fourcc: slomo_v4l2_pix_fmt_rgb24(), pixelFormat: .rgb24, planes: packed)
        case .bgr24: return Layout(fourcc: slomo_v4l2_pix_fmt_bgr24(), pixelFormat: .bgr24, planes: packed)
        case .xbgr32: return Layout(fourcc: slomo_v4l2_pix_fmt_xbgr32(), pixelFormat: .xrgb8888, planes: packed)
        case .mjpeg: return Layout(fourcc: slomo_v4l2_pix_fmt_mjpeg(), pixelFormat: nil, planes: packed)
        case .yv12: return Layout(fourcc: slomo_v4l2_pix_fmt_yvu420(), pixelFormat: .yuv420p, planes: swapped3)
        case .nv21: return Layout(fourcc: slomo_v4l2_pix_fmt_nv21(), pixelFormat: .yuv420p, planes: semi([2, 1]))
        case .nv16: return Layout(fourcc: slomo_v4l2_pix_fmt_nv16(), pixelFormat: .yuv422p, planes: semi([1, 2]))
        case .nv61: return Layout(fourcc: slomo_v4l2_pix_fmt_nv61(), pixelFormat: .yuv422p, planes: semi([2, 1]))
        case .nv12m: return Layout(fourcc: slomo_v4l2_pix_fmt_nv12m(), pixelFormat: .nv12, planes: separate(semi([1])))
        case .nv21m: return Layout(fourcc: slomo_v4l2_pix_fmt_nv21m(), pixelFormat: .yuv420p, planes: separate(semi([2, 1])))
        case .yu12m: return Layout(fourcc: slomo_v4l2_pix_fmt_yuv420m(), pixelFormat: .yuv420p, planes: separate(planes3))
        case .yv12m: return Layout(fourcc: slomo_v4l2_pix_fmt_yvu420m(), pixelFormat: .yuv420p, planes: separate(swapped3))
        case .nv16m: return Layout(fourcc: slomo_v4l2_pix_fmt_nv16m(), pixelFormat: .yuv422p, planes: separate(semi([1, 2])))
        case .nv61m: return Layout(fourcc: slomo_v4l2_pix_fmt_nv61m(), pixelFormat: .yuv422p, planes: separate(semi([2, 1])))
        case .yuv422m: return Layout(fourcc: slomo_v4l2_pix_fmt_yuv422m(), pixelFormat: .yuv422p, planes: separate(planes3))
        }
    }

    public var fourcc: UInt32 { layout.fourcc }

    /// Also accepts JPEG, which some UVC cameras report for the same stream as MJPEG.
    public init?(fourcc: UInt32) {
        if fourcc == slomo_v4l2_pix_fmt_jpeg() { self = .mjpeg; return }
        guard let match = V4L2PixelFormat.allCases.first(where: { $0.fourcc == fourcc }) else { return nil }
        self = match
    }

    /// The slomo pixel format the engine is handed; nil for MJPEG, which needs decoding.
    public var pixelFormat: PixelFormat? { layout.pixelFormat }

    /// The single-planar V4L2 format carrying a slomo pixel format's bytes unchanged (what an
    /// output writes); nil for planar 4:4:4, which single-planar V4L2 has no code for.
    public init?(_ pixelFormat: PixelFormat) {
        guard let match = V4L2PixelFormat.allCases.first(where: { $0.pixelFormat == pixelFormat && $0.layout.isEnginePacked }) else { return nil }
        self = match
    }

    public var isCompressed: Bool { self == .mjpeg }

    /// Whether each colour plane needs a buffer of its own: only the multi-planar API carries it.
    public var isMultiPlanar: Bool { layout.memoryPlanes > 1 }

    /// The four characters, for messages ("YUYV").
    public static func name(ofFourcc fourcc: UInt32) -> String {
        String(decoding: (0..<4).map { UInt8(truncatingIfNeeded: fourcc >> ($0 * 8)) }, as: UTF8.self)
    }

    struct Layout {
        var fourcc: UInt32
        var pixelFormat: PixelFormat?
        var planes: [SourcePlane]

        /// Buffer planes a frame takes (VIDIOC's `num_planes`).
        var memoryPlanes: Int { (planes.map(\.memoryPlane).max() ?? 0) + 1 }

        /// True when the driver's bytes are the engine's packed frame, padding aside: one buffer,
        /// each plane filling the engine plane of its index whole.
        var isEnginePacked: Bool {
            memoryPlanes == 1 && planes.enumerated().allSatisfy { $0.element.targets == [$0.offset] }
        }
    }
}

/// One colour plane of a V4L2 format as the driver lays it out.
struct SourcePlane: Equatable, Sendable {
    /// The buffer plane holding it: 0 for every plane of a single-buffer format, where the planes
    /// follow each other in the driver's order.
    var memoryPlane: Int
    /// The engine planes its samples go to. Byte `x` of a row goes to plane `targets[x % n]` at
    /// column `x / n` (n = targets.count): one target copies the row whole, two split a plane of
    /// interleaved chroma (NV16's CbCr into yuv422p's Cb and Cr).
    var targets: [Int]
}
