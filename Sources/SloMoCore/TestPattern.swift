import Foundation

/// A built-in moving picture, defined at any instant, so interpolated frames can be checked
/// against the truth: a panning textured background, a disc moving right and a textured square moving
/// diagonally, each carrying its own texture. Rendered as limited-range BT.601 yuv420p.
public struct TestPattern: Sendable {
    public let width: Int
    public let height: Int
    /// Speeds in pixels per time unit (one input frame).
    public var panSpeed = 1.5
    public var discSpeed = 7.0
    public var squareSpeed = (x: -4.0, y: 3.0)

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var format: FrameFormat {
        FrameFormat(width: width, height: height, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .limited))
    }

    /// Colour (Y, Cb, Cr as 0...1, chroma centred on 0.5) of the scene point at (x, y) at time t.
    func sample(_ x: Double, _ y: Double, _ t: Double) -> (Double, Double, Double) {
        let w = Double(width), h = Double(height)
        let disc = (x: w * 0.2 + discSpeed * t, y: h * 0.45, r: h * 0.16)
        let dx = x - disc.x, dy = y - disc.y
        if dx * dx + dy * dy < disc.r * disc.r {
            let rings = 0.5 + 0.4 * sin(sqrt(dx * dx + dy * dy) * 0.5) * cos(atan2(dy, dx) * 3)
            return (rings, 0.3, 0.7)
        }
        let square = (x: w * 0.7 + squareSpeed.x * t, y: h * 0.3 + squareSpeed.y * t, size: h * 0.25)
        let sx = x - square.x, sy = y - square.y
        if abs(sx) < square.size / 2 && abs(sy) < square.size / 2 {
            // A non-periodic texture: a repeating one (a checkerboard) would make motion ambiguous.
            let texture = 0.5 + 0.25 * sin(sx * 0.21 + sy * 0.05) * cos(sy * 0.17 - sx * 0.03) + 0.15 * sin(sx * sy * 0.002)
            return (texture, 0.65, 0.4)
        }
        let bx = x - panSpeed * t
        let texture = 0.45 + 0.15 * sin(bx * 0.07) * sin(y * 0.09) + 0.1 * sin((bx + y) * 0.031) + 0.08 * cos(bx * 0.19 - y * 0.05)
        return (texture, 0.5 + 0.1 * sin(bx * 0.01), 0.5 + 0.1 * cos(y * 0.013))
    }

    /// Renders the instant t into `buffer` (format.byteCount bytes), averaging 2×2 samples per pixel.
    public func render(time t: Double, into buffer: UnsafeMutableRawBufferPointer) {
        let planes = format.pixelFormat.planes(width: width, height: height)
        var chroma = [(Double, Double)](repeating: (0, 0), count: planes[1].width * planes[1].height)
        for y in 0..<height {
            for x in 0..<width {
                var sum = (0.0, 0.0, 0.0)
                for sub in 0..<4 {
                    let s = sample(Double(x) + 0.25 + 0.5 * Double(sub & 1), Double(y) + 0.25 + 0.5 * Double(sub >> 1), t)
                    sum = (sum.0 + s.0, sum.1 + s.1, sum.2 + s.2)
                }
                buffer[y * width + x] = UInt8(max(16, min(235, (16 + 219 * sum.0 / 4).rounded())))
                let c = (y / 2) * planes[1].width + x / 2
                chroma[c] = (chroma[c].0 + sum.1 / 4, chroma[c].1 + sum.2 / 4)
            }
        }
        for (index, value) in chroma.enumerated() {
            let x = index % planes[1].width, y = index / planes[1].width
            let count = Double(min(2, width - 2 * x) * min(2, height - 2 * y))
            buffer[planes[1].offset + index] = UInt8(max(16, min(240, (16 + 224 * value.0 / count).rounded())))
            buffer[planes[2].offset + index] = UInt8(max(16, min(240, (16 + 224 * value.1 / count).rounded())))
        }
    }
}
