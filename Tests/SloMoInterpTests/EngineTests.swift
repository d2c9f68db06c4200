@testable import SloMoInterp
import SloMoCore
import SloMoGPU
import SloMoMedia
import XCTest

/// The engine end to end: known synthetic motion, rotations of a real image, scene cuts.
final class EngineTests: XCTestCase {
    override func tearDown() { assertNoValidationMessages() }

    private func lumaPSNR(_ a: UnsafeRawBufferPointer, _ b: [UInt8], _ count: Int) -> Double {
        b.withUnsafeBytes { Quality.psnr(UnsafeRawBufferPointer(rebasing: a[..<count]), UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }

    /// The moving test pattern at ×4: every in-between frame is checked against the true one.
    func testSyntheticMotionBeatsBlendByFarAtEveryTime() throws {
        let pattern = TestPattern(width: 320, height: 180)
        let format = pattern.format
        let times: [Float] = [0.25, 0.5, 0.75]
        for preset in FlowPreset.allCases {
            let flow = try Interpolator(context: sharedContext, format: format, preset: preset, maxSteps: 3)
            let blend = try Interpolator(context: sharedContext, format: format, preset: preset, maxSteps: 3)
            blend.mode = .blend
            var frame = [UInt8](repeating: 0, count: format.byteCount), truth = frame
            var flowScores: [Double] = [], blendScores: [Double] = []
            for index in 0..<5 {
                frame.withUnsafeMutableBytes { pattern.render(time: Double(index), into: $0) }
                for interpolator in [flow, blend] { try frame.withUnsafeBytes { try interpolator.append($0) } }
                guard index > 0 else { continue }
                try flow.synthesize(times: times)
                try blend.synthesize(times: times)
                for (step, t) in times.enumerated() {
                    truth.withUnsafeMutableBytes { pattern.render(time: Double(index - 1) + Double(t), into: $0) }
                    flowScores.append(lumaPSNR(flow.output(step), truth, format.width * format.height))
                    blendScores.append(lumaPSNR(blend.output(step), truth, format.width * format.height))
                }
            }
            let flowMean = flowScores.reduce(0, +) / Double(flowScores.count)
            let blendMean = blendScores.reduce(0, +) / Double(blendScores.count)
            XCTAssertGreaterThan(flowScores.min()!, 30, "\(preset): worst in-between frame")
            XCTAssertGreaterThan(flowMean, blendMean + 6, "\(preset): flow \(flowMean) dB against blend \(blendMean) dB")
        }
    }

    /// Flow recovers sub-pixel translations and a small rotation of a real photograph.
    func testFlowRecoversTranslationAndRotationOfARealImage() throws {
        let image = try readImage(path: try sharedData("middlebury/RubberWhale/frame10.png"))
        let width = image.width, height = image.height
        let gray: [Float] = (0..<width * height).map { i in
            let r = Float(image.rgb[3 * i]), g = Float(image.rgb[3 * i + 1]), b = Float(image.rgb[3 * i + 2])
            return r * 0.299 + g * 0.587 + b * 0.114
        }
        let source = CPUReference.Plane<Float>(width: width, height: height, values: gray)
        let format = FrameFormat(width: width, height: height, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .full))
        let chroma = [UInt8](repeating: 128, count: format.byteCount - width * height)
        // Frame 1 samples frame 0 along the inverse motion, so the true flow 0→1 at x is motion(x).
        func moved(_ motion: (Float, Float) -> SIMD2<Float>) -> [UInt8] {
            var luma = [UInt8](repeating: 0, count: width * height)
            for y in 0..<height {
                for x in 0..<width {
                    let m = motion(Float(x), Float(y))
                    luma[y * width + x] = UInt8(CPUReference.bilinear(source, Float(x) - m.x, Float(y) - m.y).rounded())
                }
            }
            return luma + chroma
        }
        let original = gray.map { UInt8($0.rounded()) } + chroma
        let angle: Float = 0.02, cx = Float(width) / 2, cy = Float(height) / 2
        let cases: [(String, (Float, Float) -> SIMD2<Float>)] = [
            ("translation (3.3, -2.6)", { _, _ in SIMD2(3.3, -2.6) }),
            ("translation (-7.75, 5.5)", { _, _ in SIMD2(-7.75, 5.5) }),
            ("rotation 0.02 rad", { x, y in
                let dx = x - cx, dy = y - cy
                return SIMD2(cos(angle) * dx - sin(angle) * dy - dx, sin(angle) * dx + cos(angle) * dy - dy)
            }),
        ]
        for (name, motion) in cases {
            let interpolator = try Interpolator(context: sharedContext, format: format, preset: .quality, maxSteps: 1)
            try original.withUnsafeBytes { try interpolator.append($0) }
            try moved(motion).withUnsafeBytes { try interpolator.append($0) }
            try interpolator.synthesize(times: [0.5])
            let plan = interpolator.plan, level = plan.levels[plan.finest]
            let flow = try interpolator.read(.flow)
            var errors: [Float] = []
            // Away from the borders, where content leaves the frame.
            let margin = 24 / (1 << plan.finest)
            for y in margin..<level.height - margin {
                for x in margin..<level.width - margin {
                    let i = (level.flowOffset! + y * level.width + x) * 2
                    let estimate = SIMD2(flow[i], flow[i + 1]) * plan.flowScale
                    let fullX = (Float(x) + 0.5) * plan.flowScale - 0.5, fullY = (Float(y) + 0.5) * plan.flowScale - 0.5
                    let d = estimate - motion(fullX, fullY)
                    errors.append((d * d).sum().squareRoot())
                }
            }
            errors.sort()
            let median = errors[errors.count / 2], p90 = errors[errors.count * 9 / 10]
            XCTAssertLessThan(median, 0.25, "\(name): median endpoint error \(median) px")
            XCTAssertLessThan(p90, 1.0, "\(name): 90th percentile endpoint error \(p90) px")
        }
    }

    /// Staging through device-local mirrors (the default on discrete GPUs) copies frames, parameters and
    /// outputs with transfer commands instead of letting shaders touch host memory: the frames that come
    /// out must be the same bytes, for every kind of work, over consecutive pairs (warm starts included).
    func testDeviceMirrorsGiveTheSameFrames() throws {
        let pattern = TestPattern(width: 96, height: 64)
        var rendered: [[UInt8]] = []
        for i in 0..<4 {
            var frame = [UInt8](repeating: 0, count: pattern.format.byteCount)
            frame.withUnsafeMutableBytes { pattern.render(time: Double(i), into: $0) }
            rendered.append(frame)
        }
        func run(mirrored: Bool, preset: FlowPreset, mode: InterpolationMode, visualization: Visualization?) throws -> [[UInt8]] {
            let interpolator = try Interpolator(context: sharedContext, format: pattern.format, preset: preset,
                                                parameters: preset.parameters, maxSteps: 3, deviceMirrors: mirrored)
            interpolator.mode = mode
            interpolator.visualization = visualization
            interpolator.sceneCuts.enabled = false
            var outputs: [[UInt8]] = []
            for (index, frame) in rendered.enumerated() {
                try frame.withUnsafeBytes { try interpolator.append($0) }
                guard index > 0 else { continue }
                try interpolator.synthesize(times: [0.25, 0.5, 0.75])
                outputs += (0..<3).map { Array(interpolator.output($0)) }
            }
            return outputs
        }
        for (preset, mode, visualization) in [(FlowPreset.fast, InterpolationMode.flow, nil as Visualization?),
                                              (.quality, .flow, nil), (.fast, .blend, nil), (.fast, .flow, .flow)] {
            let direct = try run(mirrored: false, preset: preset, mode: mode, visualization: visualization)
            let mirrored = try run(mirrored: true, preset: preset, mode: mode, visualization: visualization)
            XCTAssertEqual(direct, mirrored, "\(preset) \(mode) \(visualization.map { "\($0)" } ?? "frames")")
            XCTAssertGreaterThan(Set(direct.flatMap { $0 }).count, 10, "frames were produced")
        }
    }

    /// Frames appended where they lie (the daemon's pool: host-visible buffers, at offsets, in more
    /// than one buffer) give the same frames as frames copied into staging: for every kind of work,
    /// with two frames appended without a synthesis between them, and through device mirrors.
    /// A repeated frame is the appended frame itself, not a copy.
    func testFramesAppendedWhereTheyLieGiveTheSameFrames() throws {
        let pattern = TestPattern(width: 96, height: 64)
        let bytes = pattern.format.byteCount
        // Two pools of three frames, so the frames lie at several offsets in two buffers.
        let pools = try (0..<2).map { _ in try HostFrame.allocate(3, byteCount: bytes, context: sharedContext) }
        let resident = pools.flatMap(\.frames)
        for (i, frame) in resident.enumerated() { pattern.render(time: Double(i), into: frame.bytes) }
        let order = [0, 4, 1, 2, 5, 3, 0]
        func run(resident appendResident: Bool, mirrored: Bool, mode: InterpolationMode) throws -> [[UInt8]] {
            let interpolator = try Interpolator(context: sharedContext, format: pattern.format, preset: .fast,
                                                parameters: FlowPreset.fast.parameters, maxSteps: 3, deviceMirrors: mirrored)
            interpolator.mode = mode
            interpolator.sceneCuts.enabled = false
            var outputs: [[UInt8]] = []
            for (step, index) in order.enumerated() {
                if appendResident {
                    try interpolator.append(resident: resident[index])
                } else {
                    try interpolator.append(UnsafeRawBufferPointer(resident[index].bytes))
                }
                // The third frame comes straight after the second: the second is ingested on its own.
                guard step > 0, step != 2 else { continue }
                try interpolator.synthesize(times: [0.25, 0.5, 0.75])
                outputs += (0..<3).map { Array(interpolator.output($0)) }
                if mode == .repeat, appendResident, !mirrored {
                    XCTAssertEqual(interpolator.output(0).baseAddress, UnsafeRawPointer(resident[order[step - 1]].bytes.baseAddress))
                    XCTAssertEqual(interpolator.output(2).baseAddress, UnsafeRawPointer(resident[index].bytes.baseAddress))
                }
            }
            return outputs
        }
        func differing(_ a: [[UInt8]], _ b: [[UInt8]]) -> Int {
            zip(a.joined(), b.joined()).filter { $0 != $1 }.count + abs(a.joined().count - b.joined().count)
        }
        for mode in [InterpolationMode.flow, .blend, .repeat] {
            let copied = try run(resident: false, mirrored: false, mode: mode)
            XCTAssertEqual(differing(try run(resident: true, mirrored: false, mode: mode), copied), 0, "\(mode): bytes differ")
            XCTAssertEqual(differing(try run(resident: true, mirrored: true, mode: mode), copied), 0, "\(mode) through mirrors: bytes differ")
            XCTAssertGreaterThan(Set(copied.flatMap { $0 }).count, 10, "frames were produced")
        }
    }

    /// Across a cut nothing is warped or blended: every slot repeats its nearest real frame.
    func testSceneCutsRepeatInsteadOfGhosting() throws {
        let pattern = TestPattern(width: 176, height: 144)
        let format = pattern.format
        var shot = [UInt8](repeating: 0, count: format.byteCount)
        shot.withUnsafeMutableBytes { pattern.render(time: 0, into: $0) }
        // The next shot: a different picture entirely (dark on the left, bright on the right, other colours).
        let other = (0..<format.byteCount).map { i -> UInt8 in
            i < format.width * format.height ? (i % format.width < format.width / 2 ? 30 : 220) : 90
        }
        let interpolator = try Interpolator(context: sharedContext, format: format, maxSteps: 3)
        try shot.withUnsafeBytes { try interpolator.append($0) }
        try other.withUnsafeBytes { try interpolator.append($0) }
        let synthesis = try interpolator.synthesize(times: [0.25, 0.5, 0.75])
        XCTAssertTrue(synthesis.sceneCut)
        XCTAssertEqual(Array(interpolator.output(0)), shot)
        XCTAssertEqual(Array(interpolator.output(1)), shot)
        XCTAssertEqual(Array(interpolator.output(2)), other)
        // The same shot moving on is not a cut.
        var next = shot
        next.withUnsafeMutableBytes { pattern.render(time: 1, into: $0) }
        try next.withUnsafeBytes { try interpolator.append($0) }
        try next.withUnsafeBytes { try interpolator.append($0) }
        XCTAssertFalse(try interpolator.synthesize(times: [0.5]).sceneCut)
    }

    /// Visualisations are pictures: a still pair shows white (no motion) and full visibility.
    func testVisualisationsOfAStillPair() throws {
        let pattern = TestPattern(width: 64, height: 48)
        let format = FrameFormat(width: 64, height: 48, pixelFormat: .rgb24, color: ColorSpace(matrix: .bt601, range: .full))
        var yuv = [UInt8](repeating: 0, count: pattern.format.byteCount)
        yuv.withUnsafeMutableBytes { pattern.render(time: 0, into: $0) }
        let rgb = (0..<64 * 48).flatMap { i in [yuv[i], yuv[i], yuv[i]] }
        for (kind, expected) in [(Visualization.flow, [UInt8](arrayLiteral: 255, 255, 255)), (.visibility, [255, 255, 0])] {
            let interpolator = try Interpolator(context: sharedContext, format: format, maxSteps: 1)
            interpolator.visualization = kind
            try rgb.withUnsafeBytes { try interpolator.append($0) }
            try rgb.withUnsafeBytes { try interpolator.append($0) }
            try interpolator.synthesize(times: [0.5])
            let picture = Array(interpolator.output(0))
            for pixel in stride(from: 0, to: picture.count, by: 3) {
                for c in 0..<3 { XCTAssertEqual(Int(picture[pixel + c]), Int(expected[c]), accuracy: 1, "\(kind)") }
            }
        }
    }

    /// Any t in (0, 1) works, and a frame's warm start from the previous pair does not change the result much.
    func testArbitraryTimesAndWarmStart() throws {
        let pattern = TestPattern(width: 160, height: 96)
        let format = pattern.format
        let interpolator = try Interpolator(context: sharedContext, format: format, maxSteps: 5)
        var frame = [UInt8](repeating: 0, count: format.byteCount), truth = frame
        let times: [Float] = [0.1, 0.33, 0.5, 0.61, 0.97]
        for index in 0..<4 {
            frame.withUnsafeMutableBytes { pattern.render(time: Double(index), into: $0) }
            try frame.withUnsafeBytes { try interpolator.append($0) }
            guard index > 0 else { continue }
            try interpolator.synthesize(times: times)
            for (step, t) in times.enumerated() {
                truth.withUnsafeMutableBytes { pattern.render(time: Double(index - 1) + Double(t), into: $0) }
                XCTAssertGreaterThan(lumaPSNR(interpolator.output(step), truth, format.width * format.height), 28, "t = \(t), pair \(index)")
            }
        }
    }
}
