import SloMoCore

/// Draws frames of one format into an XRGB8888 scanout buffer on the CPU: scaled
/// (nearest neighbour) to fit the screen with the aspect kept, black bars around it, and
/// converted from YCbCr with the frame's matrix and range.
///
/// Every lookup is precomputed at init, so drawing allocates nothing. All formats are
/// read through the same tables: for each screen column the byte offset of its source
/// sample within a row, for each screen row the offsets of its source rows; packed and
/// planar layouts differ only in those offsets.
public struct XRGBConverter {
    public let source: FrameFormat
    public let width: Int
    public let height: Int
    /// The picture's place on screen: the rest is black.
    public let picture: (x: Int, y: Int, width: Int, height: Int)

    private enum Kind { case copy, rgb, yuv }
    private let kind: Kind
    /// Per screen column within the picture: offset of the pixel (RGB, luma) and of its chroma.
    private let columnOffset: [Int]
    private let chromaColumnOffset: [Int]
    /// Per screen row within the picture: offsets of the luma (or RGB) row, Cb row and Cr row.
    private let rowOffset: [Int]
    private let cbRowOffset: [Int]
    private let crRowOffset: [Int]
    /// For RGB sources: where R, G and B sit within a pixel.
    private let rgbOrder: (r: Int, g: Int, b: Int)
    /// YCbCr to RGB in 16.16 fixed point, range expansion included.
    private let yScale: Int, yBias: Int, crToR: Int, cbToG: Int, crToG: Int, cbToB: Int

    public init(source: FrameFormat, width: Int, height: Int) {
        self.source = source
        self.width = width
        self.height = height
        // Fit inside the screen with square pixels.
        let fitWidth = source.width * height >= width * source.height
        let w = fitWidth ? width : max(1, source.width * height / source.height)
        let h = fitWidth ? max(1, source.height * width / source.width) : height
        picture = ((width - w) / 2, (height - h) / 2, w, h)
        let sourceX = (0..<w).map { min(source.width - 1, ($0 * source.width + source.width / 2) / w) }
        let sourceY = (0..<h).map { min(source.height - 1, ($0 * source.height + source.height / 2) / h) }

        let f = source.pixelFormat
        let planes = f.planes(width: source.width, height: source.height)
        let shift = f.chromaShift
        switch f {
        case .xrgb8888 where w == source.width && h == source.height:
            kind = .copy
        case .rgb24, .bgr24, .xrgb8888:
            kind = .rgb
        default:
            kind = .yuv
        }
        let rowStride = planes[0].stride
        rowOffset = sourceY.map { $0 * rowStride }
        switch f {
        case .rgb24: columnOffset = sourceX.map { $0 * 3 }; rgbOrder = (0, 1, 2)
        case .bgr24: columnOffset = sourceX.map { $0 * 3 }; rgbOrder = (2, 1, 0)
        case .xrgb8888: columnOffset = sourceX.map { $0 * 4 }; rgbOrder = (2, 1, 0)
        case .yuyv: columnOffset = sourceX.map { $0 * 2 }; rgbOrder = (0, 0, 0)
        case .uyvy: columnOffset = sourceX.map { $0 * 2 + 1 }; rgbOrder = (0, 0, 0)
        default: columnOffset = sourceX; rgbOrder = (0, 0, 0)
        }
        switch f {
        case .yuyv:
            chromaColumnOffset = sourceX.map { ($0 >> 1) * 4 + 1 }
            cbRowOffset = rowOffset
            crRowOffset = rowOffset.map { $0 + 2 }
        case .uyvy:
            chromaColumnOffset = sourceX.map { ($0 >> 1) * 4 }
            cbRowOffset = rowOffset
            crRowOffset = rowOffset.map { $0 + 2 }
        case .nv12:
            chromaColumnOffset = sourceX.map { ($0 >> 1) * 2 }
            cbRowOffset = sourceY.map { planes[1].offset + ($0 >> 1) * planes[1].stride }
            crRowOffset = cbRowOffset.map { $0 + 1 }
        case .yuv420p, .yuv422p, .yuv444p:
            chromaColumnOffset = sourceX.map { $0 >> shift.x }
            cbRowOffset = sourceY.map { planes[1].offset + ($0 >> shift.y) * planes[1].stride }
            crRowOffset = sourceY.map { planes[2].offset + ($0 >> shift.y) * planes[2].stride }
        case .rgb24, .bgr24, .xrgb8888:
            chromaColumnOffset = []
            cbRowOffset = []
            crRowOffset = []
        }
        let (kr, kb): (Double, Double) = source.color.matrix == .bt709 ? (0.2126, 0.0722) : (0.299, 0.114)
        let kg = 1 - kr - kb
        let full = source.color.range == .full
        let ys = full ? 1.0 : 255.0 / 219.0
        let cs = full ? 1.0 : 255.0 / 224.0
        let one = 65536.0
        yScale = Int((ys * one).rounded())
        yBias = full ? 0 : 16
        crToR = Int((2 * (1 - kr) * cs * one).rounded())
        cbToB = Int((2 * (1 - kb) * cs * one).rounded())
        cbToG = Int((2 * kb * (1 - kb) / kg * cs * one).rounded())
        crToG = Int((2 * kr * (1 - kr) / kg * cs * one).rounded())
    }

    /// Draws `frame` (exactly `source.byteCount` bytes) into `target`, rows `pitch` bytes apart.
    public func draw(_ frame: UnsafeRawBufferPointer, into target: UnsafeMutableRawPointer, pitch: Int) {
        precondition(frame.count >= source.byteCount, "frame smaller than its format")
        let src = frame.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for y in 0..<height {
            let row = (target + y * pitch).assumingMemoryBound(to: UInt32.self)
            let inside = y >= picture.y && y < picture.y + picture.height
            guard inside else {
                row.update(repeating: 0, count: width)
                continue
            }
            let py = y - picture.y
            if picture.x > 0 {
                row.update(repeating: 0, count: picture.x)
                (row + picture.x + picture.width).update(repeating: 0, count: width - picture.x - picture.width)
            }
            let out = row + picture.x
            switch kind {
            case .copy:
                UnsafeMutableRawPointer(out).copyMemory(from: src + rowOffset[py], byteCount: picture.width * 4)
            case .rgb:
                let line = src + rowOffset[py]
                for x in 0..<picture.width {
                    let p = line + columnOffset[x]
                    out[x] = UInt32(p[rgbOrder.r]) << 16 | UInt32(p[rgbOrder.g]) << 8 | UInt32(p[rgbOrder.b])
                }
            case .yuv:
                let luma = src + rowOffset[py]
                let cbLine = src + cbRowOffset[py]
                let crLine = src + crRowOffset[py]
                for x in 0..<picture.width {
                    let yy = (Int(luma[columnOffset[x]]) - yBias) * yScale
                    let cb = Int(cbLine[chromaColumnOffset[x]]) - 128
                    let cr = Int(crLine[chromaColumnOffset[x]]) - 128
                    let r = (yy + crToR * cr + 32768) >> 16
                    let g = (yy - cbToG * cb - crToG * cr + 32768) >> 16
                    let b = (yy + cbToB * cb + 32768) >> 16
                    out[x] = UInt32(clamping: min(max(r, 0), 255)) << 16
                        | UInt32(clamping: min(max(g, 0), 255)) << 8
                        | UInt32(clamping: min(max(b, 0), 255))
                }
            }
        }
    }
}
