import SloMoCore
import SloMoMedia

/// Converts one frame to packed RGB on the CPU, for snapshots: off the frame path, so plain
/// per-pixel code is fast enough, and it knows every format the engine carries.
public enum RGBConversion {
    public static func rgb(from frame: UnsafeRawBufferPointer, format: FrameFormat) -> [UInt8] {
        let width = format.width, height = format.height
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        let planes = format.pixelFormat.planes(width: width, height: height)
        let (kr, kb): (Double, Double) = format.color.matrix == .bt709 ? (0.2126, 0.0722) : (0.299, 0.114)
        let kg = 1 - kr - kb
        let full = format.color.range == .full
        let shift = format.pixelFormat.chromaShift
        func clamp(_ value: Double) -> UInt8 { UInt8(max(0, min(255, value.rounded()))) }
        for y in 0..<height {
            for x in 0..<width {
                let out = (y * width + x) * 3
                let cx = x >> shift.x, cy = y >> shift.y
                var sample: (Double, Double, Double)
                switch format.pixelFormat {
                case .rgb24, .bgr24, .xrgb8888:
                    let step = format.pixelFormat == .xrgb8888 ? 4 : 3
                    let at = planes[0].offset + y * planes[0].stride + x * step
                    let (r, g, b) = format.pixelFormat == .rgb24 ? (frame[at], frame[at + 1], frame[at + 2])
                                                                : (frame[at + 2], frame[at + 1], frame[at])
                    rgb[out] = r
                    rgb[out + 1] = g
                    rgb[out + 2] = b
                    continue
                case .yuv420p, .yuv422p, .yuv444p:
                    sample = (Double(frame[planes[0].offset + y * planes[0].stride + x]),
                              Double(frame[planes[1].offset + cy * planes[1].stride + cx]),
                              Double(frame[planes[2].offset + cy * planes[2].stride + cx]))
                case .nv12:
                    let chroma = planes[1].offset + cy * planes[1].stride + cx * 2
                    sample = (Double(frame[planes[0].offset + y * planes[0].stride + x]), Double(frame[chroma]), Double(frame[chroma + 1]))
                case .yuyv, .uyvy:
                    let pair = planes[0].offset + y * planes[0].stride + cx * 4
                    let (luma, cb, cr) = format.pixelFormat == .yuyv ? (pair + (x & 1) * 2, pair + 1, pair + 3)
                                                                     : (pair + 1 + (x & 1) * 2, pair, pair + 2)
                    sample = (Double(frame[luma]), Double(frame[cb]), Double(frame[cr]))
                }
                let luma = full ? sample.0 / 255 : (sample.0 - 16) / 219
                let cb = full ? (sample.1 - 128) / 255 : (sample.1 - 128) / 224
                let cr = full ? (sample.2 - 128) / 255 : (sample.2 - 128) / 224
                let r = luma + 2 * (1 - kr) * cr
                let b = luma + 2 * (1 - kb) * cb
                let g = (luma - kr * r - kb * b) / kg
                rgb[out] = clamp(r * 255)
                rgb[out + 1] = clamp(g * 255)
                rgb[out + 2] = clamp(b * 255)
            }
        }
        return rgb
    }

    /// `frame` as the bytes of a PNG image.
    public static func png(_ frame: UnsafeRawBufferPointer, format: FrameFormat) throws -> [UInt8] {
        try encodePNG(width: format.width, height: format.height, rgb: rgb(from: frame, format: format), naming: "snapshot")
    }
}
