import Foundation

/// Full-reference picture quality on 8-bit samples, as frame interpolation papers report it.
public enum Quality {
    /// Peak signal-to-noise ratio in dB; identical inputs give +infinity.
    public static func psnr(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Double {
        precondition(a.count == b.count, "PSNR compares equal-sized pictures")
        var sum = 0
        for i in 0..<a.count {
            let d = Int(a[i]) - Int(b[i])
            sum += d * d
        }
        guard sum > 0 else { return .infinity }
        return 10 * log10(255.0 * 255.0 * Double(a.count) / Double(sum))
    }

    /// Structural similarity (Wang et al. 2004): 11×11 Gaussian window, σ = 1.5, K1 = 0.01,
    /// K2 = 0.03, averaged over every window that fits inside the picture.
    public static func ssim(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, width: Int, height: Int) -> Double {
        precondition(a.count >= width * height && b.count >= width * height, "SSIM needs width × height samples")
        let radius = 5
        guard width > 2 * radius, height > 2 * radius else { return psnr(a, b).isInfinite ? 1 : 0 }
        let kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * 1.5 * 1.5)) }
        let total = kernel.reduce(0, +)
        let weights = kernel.map { $0 / total }
        // Separable filtering of x, y, x², y², xy: first along rows, then along columns.
        let outWidth = width - 2 * radius, outHeight = height - 2 * radius
        var rows = [[Double]](repeating: [Double](repeating: 0, count: outWidth * height), count: 5)
        for y in 0..<height {
            for x in 0..<outWidth {
                var s = (0.0, 0.0, 0.0, 0.0, 0.0)
                for k in 0..<weights.count {
                    let i = y * width + x + k
                    let p = Double(a[i]), q = Double(b[i]), w = weights[k]
                    s.0 += w * p
                    s.1 += w * q
                    s.2 += w * p * p
                    s.3 += w * q * q
                    s.4 += w * p * q
                }
                let o = y * outWidth + x
                rows[0][o] = s.0
                rows[1][o] = s.1
                rows[2][o] = s.2
                rows[3][o] = s.3
                rows[4][o] = s.4
            }
        }
        let c1: Double = 0.01 * 255 * 0.01 * 255, c2: Double = 0.03 * 255 * 0.03 * 255
        var sum = 0.0
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                var m = (0.0, 0.0, 0.0, 0.0, 0.0)
                for k in 0..<weights.count {
                    let o = (y + k) * outWidth + x, w = weights[k]
                    m.0 += w * rows[0][o]
                    m.1 += w * rows[1][o]
                    m.2 += w * rows[2][o]
                    m.3 += w * rows[3][o]
                    m.4 += w * rows[4][o]
                }
                let varA = m.2 - m.0 * m.0, varB = m.3 - m.1 * m.1, cov = m.4 - m.0 * m.1
                sum += ((2 * m.0 * m.1 + c1) * (2 * cov + c2)) / ((m.0 * m.0 + m.1 * m.1 + c1) * (varA + varB + c2))
            }
        }
        return sum / Double(outWidth * outHeight)
    }
}
