@testable import SloMoInterp
import SloMoCore
import SloMoGPU
import XCTest

/// Every shader against its CPU reference on random inputs.
final class ShaderReferenceTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    /// Unpack then pack through a cross-fade of a frame with itself returns the same bytes, in every format,
    /// at odd sizes and at one whose yuv420p rows the fusion writes in whole words.
    func testEveryPixelFormatRoundTripsExactly() throws {
        for (index, pixelFormat) in PixelFormat.allCases.enumerated() {
            for (range, size) in [(ColorSpace.Range.limited, (37, 21)), (.full, (37, 21)), (.limited, (40, 22))] {
                let format = FrameFormat(width: size.0, height: size.1, pixelFormat: pixelFormat, color: ColorSpace(matrix: .bt709, range: range))
                var bytes = randomBytes(format.byteCount, seed: UInt64(index))
                if pixelFormat == .xrgb8888 { for i in stride(from: 3, to: bytes.count, by: 4) { bytes[i] = 255 } }
                if pixelFormat == .yuyv || pixelFormat == .uyvy {
                    // The odd width's half pair carries no pixel; its luma byte repeats the last one.
                    let yOffset = pixelFormat == .yuyv ? 0 : 1, stride = (format.width + 1) / 2 * 4
                    for row in 0..<format.height { bytes[row * stride + stride - 4 + yOffset + 2] = bytes[row * stride + stride - 4 + yOffset] }
                }
                let interpolator = try Interpolator(context: sharedContext, format: format, maxSteps: 1)
                interpolator.mode = .blend
                try bytes.withUnsafeBytes { try interpolator.append($0) }
                try bytes.withUnsafeBytes { try interpolator.append($0) }
                try interpolator.synthesize(times: [0.5])
                let output = Array(interpolator.output(0))
                XCTAssertEqual(output, bytes, "\(pixelFormat) \(range) does not round-trip")
            }
        }
    }

    /// The unpacked planes and a blend of two random frames match the CPU reference.
    func testUnpackAndBlendMatchReference() throws {
        for pixelFormat in [PixelFormat.yuv420p, .yuyv, .nv12, .rgb24, .xrgb8888] {
            let format = FrameFormat(width: 30, height: 17, pixelFormat: pixelFormat, color: ColorSpace(matrix: .bt601, range: .limited))
            let a = randomBytes(format.byteCount, seed: 7), b = randomBytes(format.byteCount, seed: 8)
            let interpolator = try Interpolator(context: sharedContext, format: format, maxSteps: 3)
            interpolator.mode = .blend
            interpolator.sceneCuts.enabled = false
            try a.withUnsafeBytes { try interpolator.append($0) }
            try b.withUnsafeBytes { try interpolator.append($0) }
            let times: [Float] = [0.25, 0.5, 0.75]
            try interpolator.synthesize(times: times)

            let frameA = CPUReference.unpack(a, format), frameB = CPUReference.unpack(b, format)
            let gpuFrames = try interpolator.read(.frames)
            let pixels = format.width * format.height
            // Slot 0 holds the first frame, slot 1 the second; each within half a step of the internal
            // word (12-bit luma over 1.18, 10-bit chroma over 1.16; color.glsl).
            let halfStep = Interpolator.internalSpan / Interpolator.internalLevels / 2 + 1e-6
            for i in 0..<pixels {
                for c in 0..<3 {
                    XCTAssertEqual(gpuFrames[i * 4 + c], frameA.values[i][c], accuracy: halfStep[c], "\(pixelFormat) unpack")
                    XCTAssertEqual(gpuFrames[(pixels + i) * 4 + c], frameB.values[i][c], accuracy: halfStep[c], "\(pixelFormat) unpack")
                }
            }
            for (step, t) in times.enumerated() {
                let mixed = CPUReference.Plane(width: format.width, height: format.height,
                                               values: zip(frameA.values, frameB.values).map { $0 + ($1 - $0) * t })
                let expected = CPUReference.pack(mixed, format)
                let actual = Array(interpolator.output(step))
                let worst = zip(expected, actual).map { abs(Int($0) - Int($1)) }.max()!
                XCTAssertLessThanOrEqual(worst, 1, "\(pixelFormat) blend at t=\(t)")
            }
        }
    }

    /// With flow at quarter resolution the full-resolution luma is not kept: unpacking writes pyramid
    /// level 1 directly, which must equal the reference's 2×2 means of the unpacked luma (odd edges
    /// repeat the last row and column), and level 2 is built from it as usual.
    func testUnpackWritesLevelOneWhenFullResolutionLumaIsNotKept() throws {
        let format = FrameFormat(width: 337, height: 63, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .limited))
        let a = randomBytes(format.byteCount, seed: 21), b = randomBytes(format.byteCount, seed: 22)
        let interpolator = try Interpolator(context: sharedContext, format: format, preset: .fast, maxSteps: 1)
        let plan = interpolator.plan
        XCTAssertGreaterThanOrEqual(plan.finest, 1)
        XCTAssertNil(plan.levels[0].pyramidOffset, "level 0 is not kept")
        interpolator.mode = .blend
        interpolator.sceneCuts.enabled = false
        try a.withUnsafeBytes { try interpolator.append($0) }
        try b.withUnsafeBytes { try interpolator.append($0) }
        try interpolator.synthesize(times: [0.5])
        let pyramids = try interpolator.read(.pyramids)
        for (slot, bytes) in [a, b].enumerated() {
            let luma = CPUReference.Plane(width: format.width, height: format.height, values: CPUReference.unpack(bytes, format).values.map { $0.x })
            var below = luma
            for index in 1...plan.coarsest {
                let l = plan.levels[index]
                let expected = CPUReference.downsample(below, width: l.width, height: l.height)
                let start = slot * plan.pyramidSize + l.pyramidOffset!
                let actual = Array(pyramids[start..<start + l.width * l.height])
                let worst = zip(expected.values, actual).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-6, "slot \(slot) level \(index)")
                below = .init(width: l.width, height: l.height, values: actual)
            }
        }
    }

    /// Pyramid, patch search, densification, consistency and fusion, each checked against the
    /// reference fed with the GPU's own inputs to that stage, on a random smooth moving picture.
    func testFlowStagesMatchReference() throws {
        // Large enough for three pyramid levels with the quality preset's 10-pixel patches.
        try checkFlowStages(preset: .quality, parameters: FlowPreset.quality.parameters, width: 192)
        // The fast preset with its flow at quarter resolution (4-pixel-wide fusion blocks) and a coarser level.
        var fast = FlowPreset.fast.parameters
        fast.minimumFlowWidth = nil
        try checkFlowStages(preset: .fast, parameters: fast, width: 256)
    }

    private func checkFlowStages(preset: FlowPreset, parameters: FlowParameters, width: Int) throws {
        let height = 128
        let format = FrameFormat(width: width, height: height, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .full))
        // Smooth luma for the flow; random chroma (flow ignores it), so that a fusion with another filter or
        // other blocks of shared flow differs from the reference by many levels.
        func frame(_ luma: [UInt8], seed: UInt64) -> [UInt8] { luma + randomBytes(format.byteCount - luma.count, seed: seed) }
        let a = frame(smoothPicture(width: width, height: height, seed: 3), seed: 11)
        let b = frame(smoothPicture(width: width, height: height, seed: 3, shift: (2.6, -1.3)), seed: 12)
        let c = frame(smoothPicture(width: width, height: height, seed: 3, shift: (5.2, -2.6)), seed: 13)
        let interpolator = try Interpolator(context: sharedContext, format: format, preset: preset, parameters: parameters, maxSteps: 2)
        let times: [Float] = [0.3, 0.5]
        // Two pairs, so that the second one's search also starts from the first one's flow. Its frame 0
        // (b) is in slot 1 and its frame 1 (c) in slot 0.
        try a.withUnsafeBytes { try interpolator.append($0) }
        try b.withUnsafeBytes { try interpolator.append($0) }
        try interpolator.synthesize(times: times)
        let previousFlow = try interpolator.read(.flow)
        try c.withUnsafeBytes { try interpolator.append($0) }
        try interpolator.synthesize(times: times)
        let slotOf = [1, 0]
        let plan = interpolator.plan
        let pyramids = try interpolator.read(.pyramids)
        func level(_ slot: Int, _ index: Int) -> CPUReference.Plane<Float> {
            let l = plan.levels[index]
            let start = slot * plan.pyramidSize + l.pyramidOffset!
            return .init(width: l.width, height: l.height, values: Array(pyramids[start..<start + l.width * l.height]))
        }
        // Pyramid levels (level 1 from full resolution, where that is not kept, is unpack's: tested above).
        for slot in 0..<2 {
            for index in 1...plan.coarsest where plan.levels[index - 1].pyramidOffset != nil {
                let expected = CPUReference.downsample(level(slot, index - 1), width: plan.levels[index].width, height: plan.levels[index].height)
                XCTAssertEqual(expected.values, level(slot, index).values, "pyramid level \(index)")
            }
        }
        let flow = try interpolator.read(.flow)
        func flowPlane(_ index: Int, _ direction: Int, of flow: [Float] = flow) -> CPUReference.Plane<SIMD2<Float>> {
            let l = plan.levels[index]
            let start = (l.flowOffset! + direction * l.width * l.height) * 2
            let values = (0..<l.width * l.height).map { SIMD2(flow[start + 2 * $0], flow[start + 2 * $0 + 1]) }
            return .init(width: l.width, height: l.height, values: values)
        }
        // Patch search at the finest level, started from the GPU's coarser level or the previous pair's flow.
        let finest = plan.levels[plan.finest], coarser = plan.levels[plan.finest + 1]
        let patches = try interpolator.read(.patches)
        let p = plan.parameters
        var searchErrors: [Float] = []
        for direction in 0..<2 {
            let template = level(slotOf[direction], plan.finest), image = level(slotOf[1 - direction], plan.finest)
            let initial = flowPlane(plan.finest + 1, direction), warm = flowPlane(plan.finest, direction, of: previousFlow)
            let scale = Float(finest.width) / Float(coarser.width)
            for row in 0..<finest.rows {
                for column in 0..<finest.columns {
                    let origin = (CPUReference.patchOrigin(column, p.stride, finest.width, p.patchSize),
                                  CPUReference.patchOrigin(row, p.stride, finest.height, p.patchSize))
                    let center = SIMD2(Float(origin.0), Float(origin.1)) + 0.5 * Float(p.patchSize - 1)
                    let at = (center + 0.5) / scale - 0.5
                    let start = CPUReference.bilinear(initial, at.x, at.y) * scale
                    let expected = CPUReference.searchPatch(template: template, image: image, origin: origin, patch: p.patchSize,
                                                            iterations: p.iterations, initial: start, compareWithZero: false,
                                                            warm: CPUReference.bilinear(warm, center.x, center.y))
                    let index = (direction * finest.rows + row) * finest.columns + column
                    let actual = SIMD2(patches[2 * index], patches[2 * index + 1])
                    let d = expected - actual
                    searchErrors.append((d * d).sum().squareRoot())
                }
            }
        }
        // Iterative search is sensitive to rounding at its stopping test: nearly all patches must agree.
        // Gauss–Newton on an ill-conditioned patch (little texture) amplifies rounding: the GPU and the
        // reference may then stop at different points. Such patches are rare; all others must agree.
        // The descent also stops where the cost rises: near convergence two costs within rounding decide
        // whether one more small step is taken (measured: 95th percentile 0.013 pixels).
        searchErrors.sort()
        XCTAssertLessThan(searchErrors[searchErrors.count / 2], 1e-3, "patch search: median difference from the reference")
        XCTAssertLessThan(searchErrors[searchErrors.count * 95 / 100], 0.02, "patch search: 95th percentile difference")
        XCTAssertLessThan(searchErrors[searchErrors.count * 99 / 100], 0.3, "patch search: 99th percentile difference")

        // Spatial propagation: from the GPU's first-pass patches, each patch's best start among its own
        // and its neighbours', then descent again.
        let propagated = try interpolator.read(.propagated)
        let propagation = try XCTUnwrap(p.propagationIterations, "both presets propagate")
        var propagationErrors: [Float] = []
        let count = finest.columns * finest.rows
        func patchPlane(_ values: [Float], _ direction: Int) -> [SIMD2<Float>] {
            (0..<count).map { i in SIMD2(values[2 * (direction * count + i)], values[2 * (direction * count + i) + 1]) }
        }
        for direction in 0..<2 {
            let first = patchPlane(patches, direction), actual = patchPlane(propagated, direction)
            let template = level(slotOf[direction], plan.finest), image = level(slotOf[1 - direction], plan.finest)
            for row in 0..<finest.rows {
                for column in 0..<finest.columns {
                    let origin = (CPUReference.patchOrigin(column, p.stride, finest.width, p.patchSize),
                                  CPUReference.patchOrigin(row, p.stride, finest.height, p.patchSize))
                    let neighbours = [(column - 1, row), (column + 1, row), (column, row - 1), (column, row + 1)]
                        .filter { $0.0 >= 0 && $0.1 >= 0 && $0.0 < finest.columns && $0.1 < finest.rows }
                        .map { first[$0.1 * finest.columns + $0.0] }
                    let expected = CPUReference.searchPatch(template: template, image: image, origin: origin, patch: p.patchSize,
                                                            iterations: propagation, initial: first[row * finest.columns + column],
                                                            compareWithZero: false, neighbours: neighbours)
                    let d = expected - actual[row * finest.columns + column]
                    propagationErrors.append((d * d).sum().squareRoot())
                }
            }
        }
        propagationErrors.sort()
        XCTAssertLessThan(propagationErrors[propagationErrors.count / 2], 1e-3, "propagation: median difference from the reference")
        XCTAssertLessThan(propagationErrors[propagationErrors.count * 95 / 100], 0.01, "propagation: 95th percentile difference")
        XCTAssertLessThan(propagationErrors[propagationErrors.count * 99 / 100], 0.3, "propagation: 99th percentile difference")

        // Densification from the GPU's propagated patches, then variational refinement.
        for direction in 0..<2 {
            let gpuPatches = patchPlane(propagated, direction)
            let template = level(slotOf[direction], plan.finest), image = level(slotOf[1 - direction], plan.finest)
            var expected = CPUReference.densify(template: template, image: image, patches: gpuPatches, columns: finest.columns,
                                                rows: finest.rows, patch: p.patchSize, stride: p.stride)
            for _ in 0..<p.refinements {
                let linear = CPUReference.linearise(template: template, image: image, flow: expected)
                for _ in 0..<p.sweeps {
                    for parity in 0..<2 {
                        CPUReference.refineSweep(template: template, flow: &expected, linear: linear, parity: parity,
                                                 alpha: p.smoothness, edgeScale: Interpolator.edgeScale)
                    }
                }
            }
            let actual = flowPlane(plan.finest, direction)
            let worst = zip(expected.values, actual.values).map { e, g in max(abs(e.x - g.x), abs(e.y - g.y)) }.max()!
            XCTAssertLessThan(worst, 2e-3, "densify + refinement, direction \(direction)")
        }
        // The recovered motion is the true one (shift 2.6, -1.3 at full resolution) away from the borders.
        let forward = flowPlane(plan.finest, 0)
        var inner: [SIMD2<Float>] = []
        for y in 4..<finest.height - 4 { for x in 4..<finest.width - 4 { inner.append(forward[x, y] * plan.flowScale) } }
        let mean = inner.reduce(.zero, +) / Float(inner.count)
        // Within 0.15 pixels, or 0.3 from a quarter-resolution flow (a tenth of a pixel there).
        let accuracy: Float = plan.finest >= 2 ? 0.3 : 0.15
        XCTAssertEqual(mean.x, 2.6, accuracy: accuracy)
        XCTAssertEqual(mean.y, -1.3, accuracy: accuracy)

        // Consistency.
        let consistency = try interpolator.read(.consistency)
        let plane = finest.width * finest.height
        for direction in 0..<2 {
            let expected = CPUReference.consistency(flowPlane(plan.finest, direction), flowPlane(plan.finest, 1 - direction), scale: plan.flowScale)
            for (i, e) in expected.values.enumerated() {
                XCTAssertEqual(consistency[direction * plane + i], e, accuracy: 1e-3 * max(1, e))
            }
        }
        // Projection to each t and the choice of intermediate flows, from the GPU's flow, consistency and
        // luma. A source landing within rounding of a cell edge may claim other cells on the GPU than
        // here, so nearly all cells must agree.
        let c0 = CPUReference.Plane(width: finest.width, height: finest.height, values: Array(consistency[0..<plane]))
        let c1 = CPUReference.Plane(width: finest.width, height: finest.height, values: Array(consistency[plane..<2 * plane]))
        let flow01 = flowPlane(plan.finest, 0), flow10 = flowPlane(plan.finest, 1)
        let intermediateValues = try interpolator.read(.intermediate)
        for (step, t) in times.enumerated() {
            let keys = CPUReference.projectionKeys(flow01: flow01, flow10: flow10, consistency0: c0, consistency1: c1, t: t,
                                                   indexBits: plan.projectionIndexBits)
            XCTAssertGreaterThan(keys.filter { $0 != ~0 }.count, plane * 9 / 10, "projection covers the frame at t=\(t)")
            let expected = CPUReference.resolveIntermediate(keys: keys, flow01: flow01, flow10: flow10, luma0: level(slotOf[0], plan.finest),
                                                            luma1: level(slotOf[1], plan.finest), t: t, indexBits: plan.projectionIndexBits,
                                                            flowScale: plan.flowScale, neighbours: plan.parameters.resolveNeighbours)
            let actual = CPUReference.Plane(width: finest.width, height: finest.height, values: (0..<plane).map { i in
                let at = 4 * (step * plane + i)
                return SIMD4(intermediateValues[at], intermediateValues[at + 1], intermediateValues[at + 2], intermediateValues[at + 3])
            })
            let agreeing = zip(expected.values, actual.values).filter { e, g in max((e - g).max(), (g - e).max()) < 1e-3 }.count
            XCTAssertGreaterThan(agreeing, plane * 99 / 100, "intermediate flows at t=\(t): \(plane - agreeing) of \(plane) cells differ")
        }
        try checkFusion(interpolator, format: format, times: times, slotOf: slotOf)
    }

    /// Fusion, from the GPU's frames, intermediate flows and consistency, against the reference.
    private func checkFusion(_ interpolator: Interpolator, format: FrameFormat, times: [Float], slotOf: [Int]) throws {
        let width = format.width, height = format.height
        let finest = interpolator.plan.levels[interpolator.plan.finest]
        let plane = finest.width * finest.height
        let consistency = try interpolator.read(.consistency)
        let c0 = CPUReference.Plane(width: finest.width, height: finest.height, values: Array(consistency[0..<plane]))
        let c1 = CPUReference.Plane(width: finest.width, height: finest.height, values: Array(consistency[plane..<2 * plane]))
        let intermediateValues = try interpolator.read(.intermediate)
        let frames = try interpolator.read(.frames)
        func framePlane(_ slot: Int) -> CPUReference.Plane<SIMD3<Float>> {
            let values = (0..<width * height).map { i in SIMD3(frames[(slot * width * height + i) * 4], frames[(slot * width * height + i) * 4 + 1], frames[(slot * width * height + i) * 4 + 2]) }
            return .init(width: width, height: height, values: values)
        }
        let frame0 = framePlane(slotOf[0]), frame1 = framePlane(slotOf[1])
        for (step, t) in times.enumerated() {
            let intermediate = CPUReference.Plane(width: finest.width, height: finest.height, values: (0..<plane).map { i in
                let at = 4 * (step * plane + i)
                return SIMD4(intermediateValues[at], intermediateValues[at + 1], intermediateValues[at + 2], intermediateValues[at + 3])
            })
            var fused = [SIMD3<Float>](repeating: .zero, count: width * height)
            let blockWidth = interpolator.plan.fusionBlockWidth
            for by in stride(from: 0, to: height, by: 2) {
                for bx in stride(from: 0, to: width, by: blockWidth) {
                    let block = CPUReference.fuseBlock(origin: (bx, by), blockWidth: blockWidth, t: t, frame0: frame0, frame1: frame1,
                                                       intermediate: intermediate, consistency0: c0, consistency1: c1,
                                                       flowScale: interpolator.plan.flowScale, sigma: interpolator.occlusionSigma,
                                                       useFlow: true)
                    for (i, value) in block.enumerated() {
                        let (x, y) = (bx + i % blockWidth, by + i / blockWidth)
                        if x < width && y < height { fused[y * width + x] = value }
                    }
                }
            }
            let expected = CPUReference.pack(.init(width: width, height: height, values: fused), format)
            let actual = Array(interpolator.output(step))
            let worst = zip(expected, actual).map { abs(Int($0) - Int($1)) }.max()!
            XCTAssertLessThanOrEqual(worst, 1, "fusion (\(interpolator.plan.fusionBlockWidth)-pixel blocks) at t=\(t)")
        }
    }

    /// A textured square moving against the background uncovers and covers it, so the flows there
    /// are inconsistent and the fusion's visibility weights decide what is shown: they must be the
    /// reference's (a global shift, as above, leaves them all near 1).
    func testFusionWeighsVisibilityAsTheReference() throws {
        // Large enough that the fast preset's quarter-resolution flow sees the square's edges.
        let width = 256, height = 192
        let format = FrameFormat(width: width, height: height, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .full))
        let background = smoothPicture(width: width, height: height, seed: 5)
        func frame(square: (x: Int, y: Int), seed: UInt64) -> [UInt8] {
            let texture = smoothPicture(width: width, height: height, seed: 9, shift: (Double(square.x), Double(square.y)))
            var luma = background
            for y in square.y..<square.y + 80 { for x in square.x..<square.x + 80 { luma[y * width + x] = texture[y * width + x] &+ 60 } }
            return luma + randomBytes(format.byteCount - luma.count, seed: seed)
        }
        let a = frame(square: (60, 60), seed: 21), b = frame(square: (84, 48), seed: 22)
        for preset in FlowPreset.allCases {
            // The fast preset's flow at quarter resolution, as on frames 320 pixels wide or more
            // (4-pixel-wide fusion blocks).
            var parameters = preset.parameters
            if preset == .fast { parameters.minimumFlowWidth = nil }
            let interpolator = try Interpolator(context: sharedContext, format: format, preset: preset, parameters: parameters, maxSteps: 2)
            XCTAssertEqual(interpolator.plan.fusionBlockWidth, preset == .fast ? 4 : 2)
            let times: [Float] = [0.25, 0.5]
            try a.withUnsafeBytes { try interpolator.append($0) }
            try b.withUnsafeBytes { try interpolator.append($0) }
            try interpolator.synthesize(times: times)
            let consistency = try interpolator.read(.consistency)
            let occluded = consistency.filter { $0 > interpolator.occlusionSigma }.count
            XCTAssertGreaterThan(occluded, consistency.count / 50, "\(preset): the square's edges are inconsistent")
            try checkFusion(interpolator, format: format, times: times, slotOf: [0, 1])
        }
    }
}
