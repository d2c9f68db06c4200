/// Pixel formats the engine converts on the GPU. Names follow FFmpeg's where one exists.
public enum PixelFormat: String, CaseIterable, Sendable, Codable {
    /// Planar 4:2:0 (I420, YU12): Y, then Cb, then Cr.
    case yuv420p
    /// Planar 4:2:2.
    case yuv422p
    /// Planar 4:4:4.
    case yuv444p
    /// Y plane, then interleaved CbCr at 4:2:0.
    case nv12
    /// Packed 4:2:2, bytes Y0 Cb Y1 Cr.
    case yuyv
    /// Packed 4:2:2, bytes Cb Y0 Cr Y1.
    case uyvy
    /// Packed R G B.
    case rgb24
    /// Packed B G R.
    case bgr24
    /// DRM's XRGB8888: a little-endian 32-bit word, so bytes B G R X.
    case xrgb8888

    public var isRGB: Bool { self == .rgb24 || self == .bgr24 || self == .xrgb8888 }

    /// Horizontal and vertical chroma subsampling as powers of two.
    public var chromaShift: (x: Int, y: Int) {
        switch self {
        case .yuv420p, .nv12: return (1, 1)
        case .yuv422p, .yuyv, .uyvy: return (1, 0)
        case .yuv444p, .rgb24, .bgr24, .xrgb8888: return (0, 0)
        }
    }

    /// Tightly packed planes (no row padding) of a frame in this format.
    public func planes(width: Int, height: Int) -> [PlaneLayout] {
        let cw = (width + (1 << chromaShift.x) - 1) >> chromaShift.x
        let ch = (height + (1 << chromaShift.y) - 1) >> chromaShift.y
        switch self {
        case .yuv420p, .yuv422p, .yuv444p:
            let luma = PlaneLayout(offset: 0, stride: width, width: width, height: height)
            let cb = PlaneLayout(offset: width * height, stride: cw, width: cw, height: ch)
            let cr = PlaneLayout(offset: cb.offset + cw * ch, stride: cw, width: cw, height: ch)
            return [luma, cb, cr]
        case .nv12:
            return [PlaneLayout(offset: 0, stride: width, width: width, height: height),
                    PlaneLayout(offset: width * height, stride: cw * 2, width: cw * 2, height: ch)]
        case .yuyv, .uyvy:
            return [PlaneLayout(offset: 0, stride: cw * 4, width: cw * 4, height: height)]
        case .rgb24, .bgr24:
            return [PlaneLayout(offset: 0, stride: width * 3, width: width * 3, height: height)]
        case .xrgb8888:
            return [PlaneLayout(offset: 0, stride: width * 4, width: width * 4, height: height)]
        }
    }

    /// Bytes of one tightly packed frame.
    public func frameByteCount(width: Int, height: Int) -> Int {
        planes(width: width, height: height).reduce(0) { $0 + $1.stride * $1.height }
    }
}

/// Where one plane lies in a tightly packed frame; sizes in bytes.
public struct PlaneLayout: Equatable, Sendable {
    public var offset: Int
    public var stride: Int
    public var width: Int
    public var height: Int
}

/// The YCbCr matrix and range a frame's samples use.
public struct ColorSpace: Equatable, Sendable, Codable {
    public enum Matrix: String, Sendable, Codable { case bt601, bt709 }
    public enum Range: String, Sendable, Codable { case limited, full }
    public var matrix: Matrix
    public var range: Range
    public init(matrix: Matrix, range: Range) {
        self.matrix = matrix
        self.range = range
    }
    /// What untagged video usually is: BT.601 below HD, BT.709 from 720 lines up, limited range.
    public static func guess(height: Int) -> ColorSpace {
        ColorSpace(matrix: height >= 720 ? .bt709 : .bt601, range: .limited)
    }
    /// (kr, kb) of the matrix, for the GPU colour conversions of both engines.
    public var coefficients: (kr: Float, kb: Float) {
        switch matrix {
        case .bt601: return (0.299, 0.114)
        case .bt709: return (0.2126, 0.0722)
        }
    }
}

/// Everything needed to interpret the bytes of one frame.
public struct FrameFormat: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixelFormat: PixelFormat
    public var color: ColorSpace
    public init(width: Int, height: Int, pixelFormat: PixelFormat, color: ColorSpace) {
        self.width = width
        self.height = height
        self.pixelFormat = pixelFormat
        self.color = color
    }
    public var byteCount: Int { pixelFormat.frameByteCount(width: width, height: height) }
}
