import SloMoCore

/// Plain-Swift versions of every shader, written for clarity, used by the tests to check the GPU
/// on random inputs. Each function mirrors one `.comp` file.
public enum CPUReference {
    public struct Plane<T> {
        public var width: Int
        public var height: Int
        public var values: [T]
        public init(width: Int, height: Int, values: [T]) {
            self.width = width
            self.height = height
            self.values = values
        }
        public subscript(x: Int, y: Int) -> T { values[y * width + x] }
    }

    // MARK: color.glsl, unpack.comp, pack.glsl

    static func sampleIndices(_ x: Int, _ y: Int, _ format: FrameFormat) -> (Int, Int, Int) {
        let w = format.width, h = format.height
        let shift = format.pixelFormat.chromaShift
        let cw = (w + (1 << shift.x) - 1) >> shift.x, ch = (h + (1 << shift.y) - 1) >> shift.y
        let qx = x >> shift.x, qy = y >> shift.y
        switch format.pixelFormat {
        case .yuv420p, .yuv422p, .yuv444p:
            let cb = w * h + qy * cw + qx
            return (y * w + x, cb, cb + cw * ch)
        case .nv12:
            let uv = w * h + qy * cw * 2 + qx * 2
            return (y * w + x, uv, uv + 1)
        case .yuyv:
            let base = y * cw * 4 + qx * 4
            return (base + (x & 1) * 2, base + 1, base + 3)
        case .uyvy:
            let base = y * cw * 4 + qx * 4
            return (base + 1 + (x & 1) * 2, base, base + 2)
        case .rgb24:
            let base = (y * w + x) * 3
            return (base, base + 1, base + 2)
        case .bgr24:
            let base = (y * w + x) * 3
            return (base + 2, base + 1, base)
        case .xrgb8888:
            let base = (y * w + x) * 4
            return (base + 2, base + 1, base)
        }
    }

    /// Packed bytes to internal YCbCr (Y in 0...1, chroma centred on 0).
    public static func unpack(_ bytes: [UInt8], _ format: FrameFormat) -> Plane<SIMD3<Float>> {
        let (kr, kb) = format.color.coefficients
        var values: [SIMD3<Float>] = []
        values.reserveCapacity(format.width * format.height)
        for y in 0..<format.height {
            for x in 0..<format.width {
                let (i0, i1, i2) = sampleIndices(x, y, format)
                let s = SIMD3<Float>(Float(bytes[i0]), Float(bytes[i1]), Float(bytes[i2]))
                if format.pixelFormat.isRGB {
                    let rgb = s / 255
                    let luma = kr * rgb.x + (1 - kr - kb) * rgb.y + kb * rgb.z
                    values.append([luma, (rgb.z - luma) / (2 * (1 - kb)), (rgb.x - luma) / (2 * (1 - kr))])
                } else if format.color.range == .full {
                    values.append([s.x / 255, (s.y - 128) / 255, (s.z - 128) / 255])
                } else {
                    values.append([(s.x - 16) / 219, (s.y - 128) / 224, (s.z - 128) / 224])
                }
            }
        }
        return Plane(width: format.width, height: format.height, values: values)
    }

    /// Internal YCbCr to packed bytes; subsampled chroma is the mean over its footprint.
    public static func pack(_ plane: Plane<SIMD3<Float>>, _ format: FrameFormat) -> [UInt8] {
        let (kr, kb) = format.color.coefficients
        func encode(_ v: SIMD3<Float>) -> SIMD3<Float> {
            var s: SIMD3<Float>
            if format.pixelFormat.isRGB {
                let r = v.x + 2 * (1 - kr) * v.z, b = v.x + 2 * (1 - kb) * v.y
                s = SIMD3(r, (v.x - kr * r - kb * b) / (1 - kr - kb), b) * 255
            } else if format.color.range == .full {
                s = [v.x * 255, v.y * 255 + 128, v.z * 255 + 128]
            } else {
                s = [v.x * 219 + 16, v.y * 224 + 128, v.z * 224 + 128]
            }
            return (s + 0.5).rounded(.down).clamped(lowerBound: .zero, upperBound: SIMD3(repeating: 255))
        }
        var bytes = [UInt8](repeating: 0, count: format.byteCount)
        let shift = format.pixelFormat.chromaShift
        for y in 0..<format.height {
            for x in 0..<format.width {
                let (i0, i1, i2) = sampleIndices(x, y, format)
                let s = encode(plane[x, y])
                bytes[i0] = UInt8(s.x)
                if format.pixelFormat == .yuyv || format.pixelFormat == .uyvy, x == format.width - 1, x & 1 == 0 {
                    bytes[i0 + 2] = UInt8(s.x)
                }
                if format.pixelFormat.isRGB {
                    bytes[i1] = UInt8(s.y)
                    bytes[i2] = UInt8(s.z)
                    if format.pixelFormat == .xrgb8888 { bytes[i0 + 1] = 255 }
                    continue
                }
                guard x & ((1 << shift.x) - 1) == 0, y & ((1 << shift.y) - 1) == 0 else { continue }
                var sum = SIMD2<Float>.zero, count: Float = 0
                for qy in y..<min(y + (1 << shift.y), format.height) {
                    for qx in x..<min(x + (1 << shift.x), format.width) {
                        sum += SIMD2(plane[qx, qy].y, plane[qx, qy].z)
                        count += 1
                    }
                }
                let chroma = encode(SIMD3(plane[x, y].x, sum.x / count, sum.y / count))
                bytes[i1] = UInt8(chroma.y)
                bytes[i2] = UInt8(chroma.z)
            }
        }
        return bytes
    }

    // MARK: fit.comp

    /// A frame fitted into another format: scaled bilinearly into `FitGeometry`'s rectangle, black
    /// around it, a change of matrix through RGB.
    public static func fit(_ bytes: [UInt8], from input: FrameFormat, to output: FrameFormat) -> [UInt8] {
        let source = unpack(bytes, input)
        let geometry = FitGeometry(input: (input.width, input.height), output: (output.width, output.height))
        let scale = geometry.scale(input: (input.width, input.height))
        let (ikr, ikb) = input.color.coefficients, (okr, okb) = output.color.coefficients
        var values = [SIMD3<Float>](repeating: .zero, count: output.width * output.height)
        for y in 0..<geometry.height {
            for x in 0..<geometry.width {
                var v = bilinear(source, (Float(x) + 0.5) * scale.x - 0.5, (Float(y) + 0.5) * scale.y - 0.5)
                if (ikr, ikb) != (okr, okb) {
                    let r: Float = v.x + 2 * (1 - ikr) * v.z
                    let b: Float = v.x + 2 * (1 - ikb) * v.y
                    let g: Float = (v.x - ikr * r - ikb * b) / (1 - ikr - ikb)
                    let luma: Float = okr * r + (1 - okr - okb) * g + okb * b
                    let cb: Float = (b - luma) / (2 * (1 - okb)), cr: Float = (r - luma) / (2 * (1 - okr))
                    v = SIMD3(luma, cb, cr)
                }
                values[(geometry.y + y) * output.width + geometry.x + x] = v
            }
        }
        return pack(Plane(width: output.width, height: output.height, values: values), output)
    }

    // MARK: sampling.glsl, downsample.comp

    public static func bilinear<T: SIMDOrFloat>(_ plane: Plane<T>, _ px: Float, _ py: Float) -> T {
        let x = min(max(px, 0), Float(plane.width - 1)), y = min(max(py, 0), Float(plane.height - 1))
        let ax = Int(x.rounded(.down)), ay = Int(y.rounded(.down))
        let bx = min(ax + 1, plane.width - 1), by = min(ay + 1, plane.height - 1)
        let fx = x - Float(ax), fy = y - Float(ay)
        let top = plane[ax, ay].mixed(plane[bx, ay], fx)
        let bottom = plane[ax, by].mixed(plane[bx, by], fx)
        return top.mixed(bottom, fy)
    }

    /// Catmull-Rom interpolation; taps outside the plane take the nearest edge sample.
    public static func catmullRom(_ plane: Plane<SIMD3<Float>>, _ px: Float, _ py: Float) -> SIMD3<Float> {
        let ax = Int(px.rounded(.down)), ay = Int(py.rounded(.down))
        func weights(_ f: Float) -> [Float] {
            [0.5 * (-f + 2 * f * f - f * f * f), 0.5 * (2 - 5 * f * f + 3 * f * f * f),
             0.5 * (f + 4 * f * f - 3 * f * f * f), 0.5 * (f * f * f - f * f)]
        }
        let wx = weights(px - Float(ax)), wy = weights(py - Float(ay))
        var sum = SIMD3<Float>.zero
        for j in 0..<4 {
            let y = min(max(ay - 1 + j, 0), plane.height - 1)
            var row = SIMD3<Float>.zero
            for i in 0..<4 { row += wx[i] * plane[min(max(ax - 1 + i, 0), plane.width - 1), y] }
            sum += wy[j] * row
        }
        return sum
    }

    public static func downsample(_ plane: Plane<Float>, width: Int, height: Int) -> Plane<Float> {
        var values = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let ax = min(2 * x, plane.width - 1), bx = min(2 * x + 1, plane.width - 1)
                let ay = min(2 * y, plane.height - 1), by = min(2 * y + 1, plane.height - 1)
                values[y * width + x] = 0.25 * (plane[ax, ay] + plane[bx, ay] + plane[ax, by] + plane[bx, by])
            }
        }
        return Plane(width: width, height: height, values: values)
    }

    // MARK: flow_search.comp

    static func patchOrigin(_ index: Int, _ stride: Int, _ limit: Int, _ patch: Int) -> Int {
        max(min(index * stride, limit - patch), 0)
    }

    /// One patch's inverse search: `initial` is the flow it starts from. With `neighbours` (the first
    /// pass's results of the patches left, right, above and below that exist) it is the propagation
    /// pass: it starts from whichever of `initial` (its own result) and those fits best. `warm` (the
    /// previous pair's flow at the patch) replaces `initial` as the start where it fits better.
    public static func searchPatch(template: Plane<Float>, image: Plane<Float>, origin: (x: Int, y: Int),
                                   patch: Int, iterations: Int, initial: SIMD2<Float>, compareWithZero: Bool,
                                   neighbours: [SIMD2<Float>]? = nil, warm: SIMD2<Float>? = nil) -> SIMD2<Float> {
        let n = patch * patch
        var templ = [Float](repeating: 0, count: n), grad = [SIMD2<Float>](repeating: .zero, count: n)
        for i in 0..<n {
            let x = origin.x + i % patch, y = origin.y + i / patch
            templ[i] = template[x, y]
            let lx = max(x - 1, 0), hx = min(x + 1, template.width - 1)
            let ly = max(y - 1, 0), hy = min(y + 1, template.height - 1)
            grad[i] = SIMD2(template[hx, y] - template[lx, y], template[x, hy] - template[x, ly]) * 0.5
        }
        let templateMean = templ.reduce(0, +) / Float(n)
        let gradMean = grad.reduce(.zero, +) / Float(n)
        var hxx: Float = 1e-6, hxy: Float = 1e-6, hyy: Float = 1e-6
        var templateEnergy: Float = 0, templateTerm = SIMD2<Float>.zero
        for i in 0..<n {
            templ[i] -= templateMean
            grad[i] -= gradMean
            hxx += grad[i].x * grad[i].x
            hxy += grad[i].x * grad[i].y
            hyy += grad[i].y * grad[i].y
            templateEnergy += templ[i] * templ[i]
            templateTerm += grad[i] * templ[i]
        }
        let det = hxx * hyy - hxy * hxy
        func solve(_ b: SIMD2<Float>) -> SIMD2<Float> {
            det > 1e-12 ? SIMD2(hyy * b.x - hxy * b.y, -hxy * b.x + hxx * b.y) / det : .zero
        }
        func sample(_ i: Int, _ u: SIMD2<Float>) -> Float {
            bilinear(image, Float(origin.x + i % patch) + u.x, Float(origin.y + i / patch) + u.y)
        }
        // Σ((v − v̄) − t')², expanded so it takes one pass, shifted by the template mean, as the shader does.
        func cost(_ u: SIMD2<Float>) -> Float {
            var sum: Float = 0, squares: Float = 0, cross: Float = 0
            for i in 0..<n {
                let d = sample(i, u) - templateMean
                sum += d
                squares += d * d
                cross += d * templ[i]
            }
            return squares - sum * sum / Float(n) - 2 * cross + templateEnergy
        }
        var u = initial
        var startCost: Float?
        if let neighbours {
            startCost = cost(u)
            for candidate in neighbours where candidate != u {
                let c = cost(candidate)
                if c < startCost! { (u, startCost) = (candidate, c) }
            }
        } else if let warm {
            startCost = cost(u)
            let c = cost(warm)
            if c < startCost! { (u, startCost) = (warm, c) }
        } else if compareWithZero && u != .zero {
            startCost = cost(u)
            let still = cost(.zero)
            if still <= startCost! { (u, startCost) = (.zero, still) }
        }
        // Descent that stops where the cost rises, keeping the last point that lowered it.
        var best = u, bestCost = startCost ?? cost(u)
        for _ in 0..<iterations {
            let c = cost(u)
            if c > bestCost {
                u = best
                break
            }
            (best, bestCost) = (u, c)
            // Zero-mean gradients make the image's mean drop out: b = Σ grad·v − Σ grad·t'.
            var b = -templateTerm
            for i in 0..<n { b += grad[i] * sample(i, u) }
            let step = solve(b)
            u -= step
            if (step * step).sum() < 1e-4 { break }
        }
        return u != best && cost(u) > bestCost ? best : u
    }

    // MARK: flow_densify.comp

    public static func densify(template: Plane<Float>, image: Plane<Float>, patches: [SIMD2<Float>],
                               columns: Int, rows: Int, patch: Int, stride: Int) -> Plane<SIMD2<Float>> {
        var values = [SIMD2<Float>](repeating: .zero, count: template.width * template.height)
        for y in 0..<template.height {
            for x in 0..<template.width {
                var sum = SIMD2<Float>.zero, weight: Float = 0
                for j in 0..<rows {
                    let y0 = patchOrigin(j, stride, template.height, patch)
                    guard y >= y0 && y < y0 + patch else { continue }
                    for i in 0..<columns {
                        let x0 = patchOrigin(i, stride, template.width, patch)
                        guard x >= x0 && x < x0 + patch else { continue }
                        let u = patches[j * columns + i]
                        let difference = abs(bilinear(image, Float(x) + u.x, Float(y) + u.y) - template[x, y]) * 255
                        let w = 1 / max(1, difference)
                        sum += w * u
                        weight += w
                    }
                }
                if weight == 0 {
                    let nx = min(x / stride, columns - 1), ny = min(y / stride, rows - 1)
                    sum = patches[ny * columns + nx]
                    weight = 1
                }
                values[y * template.width + x] = sum / weight
            }
        }
        return Plane(width: template.width, height: template.height, values: values)
    }

    // MARK: flow_project.comp's consistency

    public static func consistency(_ forward: Plane<SIMD2<Float>>, _ backward: Plane<SIMD2<Float>>, scale: Float) -> Plane<Float> {
        var values = [Float](repeating: 0, count: forward.width * forward.height)
        for y in 0..<forward.height {
            for x in 0..<forward.width {
                let u = forward[x, y]
                let f = u * scale, b = bilinear(backward, Float(x) + u.x, Float(y) + u.y) * scale
                let excess = ((f + b) * (f + b)).sum() - 0.01 * ((f * f).sum() + (b * b).sum()) - 0.5
                values[y * forward.width + x] = max(excess, 0)
            }
        }
        return Plane(width: forward.width, height: forward.height, values: values)
    }

    // MARK: flow_refine_prepare.comp, flow_refine.comp

    /// The linearisation (∇I1 at x+u, b0) of brightness constancy around `flow`.
    public static func linearise(template: Plane<Float>, image: Plane<Float>, flow: Plane<SIMD2<Float>>) -> [SIMD3<Float>] {
        (0..<template.width * template.height).map { i in
            let x = Float(i % template.width), y = Float(i / template.width), u = flow.values[i]
            let q = SIMD2(x, y) + u
            guard q.x >= 0, q.y >= 0, q.x <= Float(template.width - 1), q.y <= Float(template.height - 1) else { return .zero }
            let gradient = 0.5 * SIMD2(bilinear(image, q.x + 1, q.y) - bilinear(image, q.x - 1, q.y),
                                       bilinear(image, q.x, q.y + 1) - bilinear(image, q.x, q.y - 1))
            let difference = bilinear(image, q.x, q.y) - template.values[i]
            return SIMD3(gradient.x, gradient.y, difference - (gradient * u).sum())
        }
    }

    /// One red–black half-sweep of the refinement, in place.
    public static func refineSweep(template: Plane<Float>, flow: inout Plane<SIMD2<Float>>, linear: [SIMD3<Float>],
                                   parity: Int, alpha: Float, edgeScale: Float) {
        let w = template.width, h = template.height
        for y in 0..<h {
            for x in 0..<w where (x + y) & 1 == parity {
                var neighbours = SIMD2<Float>.zero, weight: Float = 0
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                    let step = (template[nx, ny] - template[x, y]) / edgeScale
                    let nw = alpha / (1 + step * step)
                    neighbours += nw * flow[nx, ny]
                    weight += nw
                }
                let l = linear[y * w + x], u = flow[x, y]
                let residual = l.z + l.x * u.x + l.y * u.y
                let robust = 1 / (residual * residual + 1e-6).squareRoot()
                let a = robust * l.x * l.x + weight, b = robust * l.x * l.y, d = robust * l.y * l.y + weight
                let rhs = neighbours - robust * l.z * SIMD2(l.x, l.y)
                let det = a * d - b * b
                if det > 1e-12 { flow.values[y * w + x] = SIMD2(d * rhs.x - b * rhs.y, -b * rhs.x + a * rhs.y) / det }
            }
        }
    }

    // MARK: flow_project.comp, flow_resolve.comp, projection.glsl

    /// The keys that flow_project.comp leaves at time t: per cell, the least of (depth level, source
    /// index) of the sources that land on it, ~0 where none does.
    public static func projectionKeys(flow01: Plane<SIMD2<Float>>, flow10: Plane<SIMD2<Float>>,
                                      consistency0: Plane<Float>, consistency1: Plane<Float>, t: Float, indexBits: Int) -> [UInt32] {
        let w = flow01.width, h = flow01.height
        var keys = [UInt32](repeating: ~0, count: w * h)
        let levels = Float((UInt32(1) << (32 - indexBits)) - 1)
        for (direction, (flow, consistency)) in [(flow01, consistency0), (flow10, consistency1)].enumerated() {
            let tau = direction == 0 ? t : 1 - t
            for y in 0..<h {
                for x in 0..<w {
                    let c = consistency[x, y]
                    let depth = UInt32(levels * c / (c + 16))
                    let key = depth << UInt32(indexBits) | UInt32(direction * w * h + y * w + x)
                    let q = SIMD2(Float(x), Float(y)) + tau * flow[x, y]
                    let ax = Int(q.x.rounded(.down)), ay = Int(q.y.rounded(.down))
                    for (cx, cy) in [(ax, ay), (ax + 1, ay), (ax, ay + 1), (ax + 1, ay + 1)] where cx >= 0 && cy >= 0 && cx < w && cy < h {
                        keys[cy * w + cx] = min(keys[cy * w + cx], key)
                    }
                }
            }
        }
        return keys
    }

    /// The intermediate flows (F_t→0, F_t→1, full-resolution pixels) flow_resolve.comp chooses from `keys`.
    public static func resolveIntermediate(keys: [UInt32], flow01: Plane<SIMD2<Float>>, flow10: Plane<SIMD2<Float>>,
                                           luma0: Plane<Float>, luma1: Plane<Float>, t: Float, indexBits: Int,
                                           flowScale: Float, neighbours: Int) -> Plane<SIMD4<Float>> {
        let w = flow01.width, h = flow01.height
        func carried(_ source: Int) -> SIMD4<Float> {
            if source < w * h {
                let u = flow01.values[source]
                return SIMD4(-t * u.x, -t * u.y, (1 - t) * u.x, (1 - t) * u.y)
            }
            let u = flow10.values[source - w * h]
            return SIMD4(t * u.x, t * u.y, -(1 - t) * u.x, -(1 - t) * u.y)
        }
        func warpError(_ x: Int, _ y: Int, _ f: SIMD4<Float>) -> Float {
            [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)].reduce(0) { sum, o in
                let qx = Float(x + o.0), qy = Float(y + o.1)
                return sum + abs(bilinear(luma0, qx + f.x, qy + f.y) - bilinear(luma1, qx + f.z, qy + f.w))
            }
        }
        var values: [SIMD4<Float>] = []
        for y in 0..<h {
            for x in 0..<w {
                let f01 = flow01[x, y], f10 = flow10[x, y]
                let ft0 = -(1 - t) * t * f01 + t * t * f10, ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
                var flows = SIMD4(ft0.x, ft0.y, ft1.x, ft1.y), best = warpError(x, y, flows)
                for (ox, oy) in [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, -1), (-1, 1), (1, 1)].prefix(neighbours) {
                    let nx = x + ox, ny = y + oy
                    guard nx >= 0, ny >= 0, nx < w, ny < h, keys[ny * w + nx] != ~0 else { continue }
                    let projected = carried(Int(keys[ny * w + nx] & (UInt32(1) << UInt32(indexBits) - 1)))
                    let e = warpError(x, y, projected)
                    if e <= best { (flows, best) = (projected, e) }
                }
                values.append(flows * flowScale)
            }
        }
        return Plane(width: w, height: h, values: values)
    }

    // MARK: fuse.comp

    /// The `blockWidth`×2 block at `origin` at time t, row by row, from full-resolution frames and the
    /// finest level's intermediate flows at t: one flow and visibility estimate at the block centre,
    /// frame samples per pixel.
    public static func fuseBlock(origin: (x: Int, y: Int), blockWidth: Int, t: Float, frame0: Plane<SIMD3<Float>>,
                                 frame1: Plane<SIMD3<Float>>, intermediate: Plane<SIMD4<Float>>, consistency0: Plane<Float>,
                                 consistency1: Plane<Float>, flowScale: Float, sigma: Float, useFlow: Bool) -> [SIMD3<Float>] {
        let w = frame0.width, h = frame0.height
        let pixels = (0..<2 * blockWidth).map { (min(origin.x + $0 % blockWidth, w - 1), min(origin.y + $0 / blockWidth, h - 1)) }
        if !useFlow { return pixels.map { frame0[$0.0, $0.1] + (frame1[$0.0, $0.1] - frame0[$0.0, $0.1]) * t } }
        func grid(_ p: SIMD2<Float>) -> (Float, Float) { ((p.x + 0.5) / flowScale - 0.5, (p.y + 0.5) / flowScale - 0.5) }
        let center = SIMD2(Float(origin.x) + Float(blockWidth - 1) / 2, Float(origin.y) + 0.5)
        let (gx, gy) = grid(center)
        let flows = bilinear(intermediate, gx, gy)
        let ft0 = SIMD2(flows.x, flows.y), ft1 = SIMD2(flows.z, flows.w)
        let (g0x, g0y) = grid(center + ft0), (g1x, g1y) = grid(center + ft1)
        func nearest(_ plane: Plane<Float>, _ px: Float, _ py: Float) -> Float {
            plane[Int(min(max((px + 0.5).rounded(.down), 0), Float(plane.width - 1))),
                  Int(min(max((py + 0.5).rounded(.down), 0), Float(plane.height - 1)))]
        }
        let c0 = nearest(consistency0, g0x, g0y), c1 = nearest(consistency1, g1x, g1y)
        func inside(_ p: SIMD2<Float>) -> Bool {
            p.x >= -0.5 && p.y >= -0.5 && p.x <= Float(w) - 0.5 && p.y <= Float(h) - 0.5
        }
        return pixels.map { x, y in
            let p0 = SIMD2(Float(x), Float(y)) + ft0, p1 = SIMD2(Float(x), Float(y)) + ft1
            let g0 = catmullRom(frame0, p0.x, p0.y), g1 = catmullRom(frame1, p1.x, p1.y)
            let edge = min(max((abs(g0.x - g1.x) - 0.02) / 0.06, 0), 1)
            let disagreement = edge * edge * (3 - 2 * edge)
            let v0 = 1 / (1 + disagreement * c1 / sigma), v1 = 1 / (1 + disagreement * c0 / sigma)
            let w0 = (1 - t) * v0 * (inside(p0) ? 1 : 0.01), w1 = t * v1 * (inside(p1) ? 1 : 0.01)
            return (w0 * g0 + w1 * g1) / max(w0 + w1, 1e-6)
        }
    }
}

/// Values the reference's bilinear sampler interpolates.
public protocol SIMDOrFloat {
    func mixed(_ other: Self, _ t: Float) -> Self
}
extension Float: SIMDOrFloat {
    public func mixed(_ other: Float, _ t: Float) -> Float { self + (other - self) * t }
}
extension SIMD2: SIMDOrFloat where Scalar == Float {
    public func mixed(_ other: SIMD2<Float>, _ t: Float) -> SIMD2<Float> { self + (other - self) * t }
}
extension SIMD3: SIMDOrFloat where Scalar == Float {
    public func mixed(_ other: SIMD3<Float>, _ t: Float) -> SIMD3<Float> { self + (other - self) * t }
}
extension SIMD4: SIMDOrFloat where Scalar == Float {
    public func mixed(_ other: SIMD4<Float>, _ t: Float) -> SIMD4<Float> { self + (other - self) * t }
}
