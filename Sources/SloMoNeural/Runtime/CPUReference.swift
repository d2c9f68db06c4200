import Foundation

/// Plain CPU implementations of every runtime operator on CHW host tensors (shape [C, H, W]),
/// written from PyTorch's definitions; the shaders are tested against these.
public enum NeuralReference {
    /// Conv2d (weight [out, in, k, k]), bias, activation (slopes for PReLU), and an optional residual
    /// added after the activation or, with `order` .beforeActivation, before it.
    public static func conv2d(_ x: HostTensor, weight: HostTensor, bias: HostTensor?, stride: Int, padding: Int,
                              activation: Activation = .none, slopes: HostTensor? = nil, residual: HostTensor? = nil,
                              order: NetworkRecorder.ResidualOrder = .afterActivation) -> HostTensor {
        let (ic, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (oc, k) = (weight.shape[0], weight.shape[2])
        let oh = (h + 2 * padding - k) / stride + 1, ow = (w + 2 * padding - k) / stride + 1
        var out = [Float](repeating: 0, count: oc * oh * ow)
        x.values.withUnsafeBufferPointer { src in
            weight.values.withUnsafeBufferPointer { wt in
                for o in 0..<oc {
                    for i in 0..<ic {
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let tap = wt[((o * ic + i) * k + ky) * k + kx]
                                for y in 0..<oh {
                                    let iy = y * stride - padding + ky
                                    if iy < 0 || iy >= h { continue }
                                    for xo in 0..<ow {
                                        let ix = xo * stride - padding + kx
                                        if ix < 0 || ix >= w { continue }
                                        out[(o * oh + y) * ow + xo] += tap * src[(i * h + iy) * w + ix]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return epilogue(out, channels: oc, plane: oh * ow, bias: bias, activation: activation, slopes: slopes,
                        residual: residual, order: order, shape: [oc, oh, ow])
    }

    /// ConvTranspose2d (weight [in, out, k, k]), bias and activation.
    public static func convTranspose2d(_ x: HostTensor, weight: HostTensor, bias: HostTensor?, stride: Int, padding: Int,
                                       activation: Activation = .none, slopes: HostTensor? = nil) -> HostTensor {
        let (ic, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (oc, k) = (weight.shape[1], weight.shape[2])
        let oh = (h - 1) * stride - 2 * padding + k, ow = (w - 1) * stride - 2 * padding + k
        var out = [Float](repeating: 0, count: oc * oh * ow)
        x.values.withUnsafeBufferPointer { src in
            weight.values.withUnsafeBufferPointer { wt in
                for i in 0..<ic {
                    for o in 0..<oc {
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let tap = wt[((i * oc + o) * k + ky) * k + kx]
                                for y in 0..<h {
                                    let oy = y * stride - padding + ky
                                    if oy < 0 || oy >= oh { continue }
                                    for xi in 0..<w {
                                        let ox = xi * stride - padding + kx
                                        if ox < 0 || ox >= ow { continue }
                                        out[(o * oh + oy) * ow + ox] += tap * src[(i * h + y) * w + xi]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return epilogue(out, channels: oc, plane: oh * ow, bias: bias, activation: activation, slopes: slopes,
                        residual: nil, order: .afterActivation, shape: [oc, oh, ow])
    }

    private static func epilogue(_ values: [Float], channels: Int, plane: Int, bias: HostTensor?, activation: Activation,
                                 slopes: HostTensor?, residual: HostTensor?, order: NetworkRecorder.ResidualOrder, shape: [Int]) -> HostTensor {
        var out = values
        for c in 0..<channels {
            for i in 0..<plane {
                var v = out[c * plane + i] + (bias?.values[c] ?? 0)
                if let residual, order == .beforeActivation { v += residual.values[c * plane + i] }
                switch activation {
                case .none: break
                case .prelu: if v < 0 { v *= slopes!.values[c] }
                case let .leakyReLU(slope): if v < 0 { v *= slope }
                }
                if let residual, order == .afterActivation { v += residual.values[c * plane + i] }
                out[c * plane + i] = v
            }
        }
        return HostTensor(shape: shape, values: out)
    }

    /// F.interpolate(mode="bilinear"), times `multiplier`. With `scaleFactor` (recompute_scale_factor=False)
    /// the output is floor(size·s) and, with align_corners=False, coordinates map with 1/s; with
    /// `alignCorners` they map corners to corners, d·(in − 1)/(out − 1).
    public static func resize(_ x: HostTensor, height: Int? = nil, width: Int? = nil, scaleFactor: Double? = nil,
                              multiplier: Float = 1, alignCorners: Bool = false) -> HostTensor {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let oh = scaleFactor.map { Int((Double(h) * $0).rounded(.down)) } ?? height!
        let ow = scaleFactor.map { Int((Double(w) * $0).rounded(.down)) } ?? width!
        let ratioY = scaleFactor.map { Float(1 / $0) } ?? Float(h) / Float(oh)
        let ratioX = scaleFactor.map { Float(1 / $0) } ?? Float(w) / Float(ow)
        func source(_ d: Int, _ ratio: Float, _ size: Int, _ outSize: Int) -> (Int, Int, Float) {
            let s: Float
            if alignCorners {
                s = Float(d) * (outSize > 1 ? Float(Double(size - 1) / Double(outSize - 1)) : 0)
            } else {
                s = max((Float(d) + 0.5) * ratio - 0.5, 0)
            }
            let i0 = min(Int(s), size - 1)
            return (i0, min(i0 + 1, size - 1), s - Float(i0))
        }
        var out = [Float](repeating: 0, count: c * oh * ow)
        for ch in 0..<c {
            for y in 0..<oh {
                let (y0, y1, fy) = source(y, ratioY, h, oh)
                for xo in 0..<ow {
                    let (x0, x1, fx) = source(xo, ratioX, w, ow)
                    let at = { (yy: Int, xx: Int) in x.values[(ch * h + yy) * w + xx] }
                    let top = (1 - fx) * at(y0, x0) + fx * at(y0, x1)
                    let bottom = (1 - fx) * at(y1, x0) + fx * at(y1, x1)
                    out[(ch * oh + y) * ow + xo] = ((1 - fy) * top + fy * bottom) * multiplier
                }
            }
        }
        return HostTensor(shape: [c, oh, ow], values: out)
    }

    /// grid_sample(mode="bilinear", padding_mode="border", align_corners=True) at pixel + flow (flow [2, H, W]).
    public static func warp(_ x: HostTensor, flow: HostTensor) -> HostTensor {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        var out = [Float](repeating: 0, count: x.count)
        for y in 0..<h {
            for xo in 0..<w {
                let px = min(max(Float(xo) + flow.values[y * w + xo], 0), Float(w - 1))
                let py = min(max(Float(y) + flow.values[h * w + y * w + xo], 0), Float(h - 1))
                let x0 = Int(px.rounded(.down)), y0 = Int(py.rounded(.down))
                let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                let fx = px - Float(x0), fy = py - Float(y0)
                for ch in 0..<c {
                    let at = { (yy: Int, xx: Int) in x.values[(ch * h + yy) * w + xx] }
                    let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx
                    let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx
                    out[(ch * h + y) * w + xo] = top + (bottom - top) * fy
                }
            }
        }
        return HostTensor(shape: x.shape, values: out)
    }

    /// Super SloMo's backWarp: grid_sample(mode="bilinear", padding_mode="zeros", align_corners=True) at
    /// the grid 2·((pixel + flow)/size − 0.5), i.e. at (pixel + flow)·(size − 1)/size; taps outside read 0.
    public static func backWarp(_ x: HostTensor, flow: HostTensor) -> HostTensor {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        func unnormalise(_ p: Float, _ size: Int) -> Float { (2 * (p / Float(size) - 0.5) + 1) / 2 * Float(size - 1) }
        var out = [Float](repeating: 0, count: x.count)
        for y in 0..<h {
            for xo in 0..<w {
                let px = unnormalise(Float(xo) + flow.values[y * w + xo], w)
                let py = unnormalise(Float(y) + flow.values[h * w + y * w + xo], h)
                let x0 = Int(px.rounded(.down)), y0 = Int(py.rounded(.down))
                for ch in 0..<c {
                    var sum: Float = 0
                    for (tx, ty) in [(x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)] where tx >= 0 && tx < w && ty >= 0 && ty < h {
                        sum += (1 - abs(px - Float(tx))) * (1 - abs(py - Float(ty))) * x.values[(ch * h + ty) * w + tx]
                    }
                    out[(ch * h + y) * w + xo] = sum
                }
            }
        }
        return HostTensor(shape: x.shape, values: out)
    }

    /// Super SloMo's intermediate flows at t from F_0→1 and F_1→0: (F_t→0, F_t→1).
    public static func intermediateFlows(f01: HostTensor, f10: HostTensor, t: Float) -> (ft0: HostTensor, ft1: HostTensor) {
        let cross = -t * (1 - t)
        return (HostTensor(shape: f01.shape, values: zip(f01.values, f10.values).map { cross * $0 + t * t * $1 }),
                HostTensor(shape: f01.shape, values: zip(f01.values, f10.values).map { (1 - t) * (1 - t) * $0 + cross * $1 }))
    }

    /// Super SloMo's fusion ((1 − t)·V·a + t·(1 − V)·b) / ((1 − t)·V + t·(1 − V)), V = σ(logit [1, H, W]).
    public static func visibilityFusion(_ a: HostTensor, _ b: HostTensor, logit: HostTensor, t: Float) -> HostTensor {
        let plane = logit.count
        return HostTensor(shape: a.shape, values: (0..<a.count).map { i in
            let v = 1 / (1 + exp(-logit.values[i % plane]))
            let w0 = (1 - t) * v, w1 = t * (1 - v)
            return (w0 * a.values[i] + w1 * b.values[i]) / (w0 + w1)
        })
    }

    /// nn.PixelShuffle(r): [C·r², H, W] → [C, H·r, W·r], out[c, y·r + i, x·r + j] = in[c·r² + i·r + j, y, x].
    public static func pixelShuffle(_ x: HostTensor, _ r: Int) -> HostTensor {
        let (c, h, w) = (x.shape[0] / (r * r), x.shape[1], x.shape[2])
        var out = [Float](repeating: 0, count: x.count)
        for ch in 0..<c * r * r {
            let (o, i, j) = (ch / (r * r), ch % (r * r) / r, ch % r)
            for y in 0..<h {
                for xo in 0..<w { out[(o * h * r + y * r + i) * w * r + xo * r + j] = x.values[(ch * h + y) * w + xo] }
            }
        }
        return HostTensor(shape: [c, h * r, w * r], values: out)
    }

    /// x times a per-channel factor (RIFE 4.x's ResConv β).
    public static func scaleChannels(_ x: HostTensor, _ factors: HostTensor) -> HostTensor {
        let plane = x.shape[1] * x.shape[2]
        return HostTensor(shape: x.shape, values: x.values.enumerated().map { $1 * factors.values[$0 / plane] })
    }

    /// A constant plane [1, H, W].
    public static func plane(_ value: Float, height: Int, width: Int) -> HostTensor {
        HostTensor(shape: [1, height, width], values: [Float](repeating: value, count: height * width))
    }

    /// y + alpha·x.
    public static func add(_ y: HostTensor, _ x: HostTensor, alpha: Float = 1) -> HostTensor {
        HostTensor(shape: y.shape, values: zip(y.values, x.values).map { $0 + alpha * $1 })
    }

    public static func prelu(_ x: HostTensor, slopes: HostTensor) -> HostTensor {
        let plane = x.shape[1] * x.shape[2]
        return HostTensor(shape: x.shape, values: x.values.enumerated().map { $1 >= 0 ? $1 : $1 * slopes.values[$0 / plane] })
    }

    public static func leakyReLU(_ x: HostTensor, slope: Float) -> HostTensor {
        HostTensor(shape: x.shape, values: x.values.map { $0 >= 0 ? $0 : $0 * slope })
    }

    public static func sigmoid(_ x: HostTensor) -> HostTensor {
        HostTensor(shape: x.shape, values: x.values.map { 1 / (1 + exp(-$0)) })
    }

    /// F.avg_pool2d(x, 2).
    public static func averagePool(_ x: HostTensor) -> HostTensor {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let oh = h / 2, ow = w / 2
        var out = [Float](repeating: 0, count: c * oh * ow)
        for ch in 0..<c {
            for y in 0..<oh {
                for xo in 0..<ow {
                    let at = { (yy: Int, xx: Int) in x.values[(ch * h + yy) * w + xx] }
                    out[(ch * oh + y) * ow + xo] = 0.25 * (at(2 * y, 2 * xo) + at(2 * y, 2 * xo + 1) + at(2 * y + 1, 2 * xo) + at(2 * y + 1, 2 * xo + 1))
                }
            }
        }
        return HostTensor(shape: [c, oh, ow], values: out)
    }

    /// a·σ(m) + b·(1 − σ(m)) with one mask channel (m [1, H, W]).
    public static func maskBlend(_ a: HostTensor, _ b: HostTensor, mask: HostTensor) -> HostTensor {
        let plane = mask.count
        return HostTensor(shape: a.shape, values: (0..<a.count).map { i in
            let m = 1 / (1 + exp(-mask.values[i % plane]))
            return a.values[i] * m + b.values[i] * (1 - m)
        })
    }

    /// Channels `range` of x.
    public static func slice(_ x: HostTensor, _ range: Range<Int>) -> HostTensor {
        let plane = x.shape[1] * x.shape[2]
        return HostTensor(shape: [range.count, x.shape[1], x.shape[2]], values: Array(x.values[range.lowerBound * plane..<range.upperBound * plane]))
    }

    /// torch.cat along channels.
    public static func concat(_ parts: [HostTensor]) -> HostTensor {
        HostTensor(shape: [parts.map { $0.shape[0] }.reduce(0, +), parts[0].shape[1], parts[0].shape[2]], values: parts.flatMap(\.values))
    }
}
