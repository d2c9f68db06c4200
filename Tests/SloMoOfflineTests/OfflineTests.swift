import Foundation
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoMedia
@testable import SloMoOffline
import XCTest

private let context: GPUContext = {
    do { return try GPUContext(options: GPUOptions(validation: true)) } catch { fatalError("no Vulkan device for tests: \(error)") }
}()

private func sharedData(_ name: String) throws -> String {
    let base = ProcessInfo.processInfo.environment["SLOMO_SHARED_DATA"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data").path
    let path = base + "/" + name
    guard FileManager.default.fileExists(atPath: path) else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
    return path
}

final class OfflineTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-offline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
        XCTAssertEqual(context.validationLog.messages, [], "validation layer messages")
    }

    /// The benchmark protocol on real footage. The blend row is the evaluator's
    /// (../shared/bench/vfi_eval.py): a plain rounded average, also across bikes' hard cut at
    /// frame 30, where slomo's own modes repeat a frame instead. The fast preset has a floor
    /// well under its target, so it does not flake.
    func testRealClipBlendIsThePlainAverageFlowBeatsItAndCutsAreReported() throws {
        var benchmark = Benchmark(context: context, scratch: scratch)
        benchmark.methods = [.blend, .flowFast]
        benchmark.frameCount = 31
        let clip = Benchmark.Clip(name: "bikes", path: try sharedData("bikes.mp4"))
        let results = try benchmark.run(clip)
        let frames = try benchmark.loadFrames(clip).frames
        let lumaCount = 640 * 272
        var psnrSum = 0.0
        for slot in 0..<15 {
            let a = frames[2 * slot], b = frames[2 * slot + 2], truth = frames[2 * slot + 1]
            let blend = (0..<lumaCount).map { UInt8((Int(a[$0]) + Int(b[$0]) + 1) / 2) }
            psnrSum += blend.withUnsafeBytes { made in truth.withUnsafeBytes { Quality.psnr(made, UnsafeRawBufferPointer(rebasing: $0[..<lumaCount])) } }
        }
        let blend = try XCTUnwrap(results.first { $0.method == .blend }), flow = try XCTUnwrap(results.first { $0.method == .flowFast })
        XCTAssertEqual(blend.psnr, psnrSum / 15, accuracy: 0.02, "the blend row is the plain average")
        XCTAssertEqual(blend.sceneCutSlots, [], "baselines do not handle cuts")
        XCTAssertEqual(flow.sceneCutSlots, [14], "the cut between frames 28 and 30")
        XCTAssertTrue(BenchmarkReport.cutNote(results)?.contains("slot 14") ?? false)
        XCTAssertGreaterThan(flow.psnr, 31.5, "bikes, fast preset")
        XCTAssertGreaterThan(flow.psnr, blend.psnr + 3, "flow must beat blending clearly")
        XCTAssertGreaterThan(flow.ssim ?? 0, blend.ssim ?? 1)
    }

    /// ×3 of a Y4M clip: every input frame is kept in place, the duration is kept, slow motion keeps the rate.
    func testConversionFrameCountsRatesAndKeptInputs() throws {
        let pattern = TestPattern(width: 96, height: 64)
        let input = scratch.appendingPathComponent("in.y4m").path
        let writer = try makeVideoWriter(path: input, format: pattern.format, frameRate: Rational(10), audioFrom: nil)
        var frames: [[UInt8]] = []
        for index in 0..<5 {
            var frame = [UInt8](repeating: 0, count: pattern.format.byteCount)
            frame.withUnsafeMutableBytes { pattern.render(time: Double(index), into: $0) }
            try frame.withUnsafeBytes { try writer.write($0) }
            frames.append(frame)
        }
        try writer.finish()

        let output = scratch.appendingPathComponent("out.y4m").path
        let summary = try FileConverter.convert(input: input, output: output, options: ConversionOptions(scale: 3), context: context)
        XCTAssertEqual(summary.framesIn, 5)
        XCTAssertEqual(summary.synthesised, 4 * 2)
        XCTAssertEqual(summary.framesOut, 15)
        let reader = try openVideoReader(path: output)
        XCTAssertEqual(reader.frameRate, Rational(30))
        var written: [[UInt8]] = []
        while let frame = try reader.readFrame() { written.append(frame) }
        XCTAssertEqual(written.count, 15)
        for (index, frame) in frames.enumerated() { XCTAssertEqual(written[index * 3], frame, "input frame \(index) kept") }
        // The last frame is held so the clip lasts 5 × 3 slots.
        XCTAssertEqual(written[13], frames[4])
        XCTAssertEqual(written[14], frames[4])

        var slow = ConversionOptions(scale: 4)
        slow.slowMotion = true
        let slowOutput = scratch.appendingPathComponent("slow.y4m").path
        let slowSummary = try FileConverter.convert(input: input, output: slowOutput, options: slow, context: context)
        XCTAssertEqual(try openVideoReader(path: slowOutput).frameRate, Rational(10))
        XCTAssertEqual(slowSummary.framesOut, 20)
        XCTAssertFalse(slowSummary.keptAudio)
    }

    /// The converter's threads write exactly what the engine makes, in order: the same bytes as driving
    /// the engine by hand, pair by pair, on real footage with two scene cuts in it (their slots come
    /// from the input frames) and a pair of flat frames, ×3 so each pair hands over two frames; and
    /// with --visualize, where the real frames are left out.
    func testConverterWritesTheEnginesFramesInOrder() throws {
        let footage = try openVideoReader(path: try sharedData("bikes.mp4"))
        let format = footage.format
        var frames: [[UInt8]] = []
        while frames.count < 10, let frame = try footage.readFrame() { frames.append(frame) }
        let flat = [UInt8](repeating: 16, count: format.byteCount)
        frames += [flat, flat]
        while frames.count < 14, let frame = try footage.readFrame() { frames.append(frame) }
        let input = scratch.appendingPathComponent("cuts.y4m").path
        let writer = try makeVideoWriter(path: input, format: format, frameRate: Rational(25), audioFrom: nil)
        for frame in frames { try frame.withUnsafeBytes { try writer.write($0) } }
        try writer.finish()

        for visualization in [nil, Visualization.flow] {
            var options = ConversionOptions(scale: 3)
            options.synthesis = SynthesisChoice(mode: .flow, preset: .fast)
            options.visualization = visualization
            let times = (1..<options.scale).map { Float($0) / Float(options.scale) }
            let engine = try Synthesizers.make(options.synthesis, context: context, format: format, maxSteps: times.count)
            (engine as? Interpolator)?.visualization = visualization
            var expected: [[UInt8]] = []
            for (index, frame) in frames.enumerated() {
                try frame.withUnsafeBytes { try engine.append($0) }
                if index > 0 {
                    let synthesis = try engine.synthesize(times: times)
                    expected += (0..<synthesis.count).map { Array(engine.output($0)) }
                }
                if visualization == nil { expected.append(frame) }
            }
            if visualization == nil { expected += [frames[13], frames[13]] }

            let output = scratch.appendingPathComponent("out.y4m").path
            let summary = try FileConverter.convert(input: input, output: output, options: options, context: context)
            XCTAssertEqual(summary.framesOut, expected.count)
            XCTAssertEqual(summary.sceneCuts, visualization == nil ? 2 : 0)
            let reader = try openVideoReader(path: output)
            var written: [[UInt8]] = []
            while let frame = try reader.readFrame() { written.append(frame) }
            XCTAssertEqual(written.count, expected.count)
            for index in 0..<min(written.count, expected.count) where written[index] != expected[index] {
                XCTFail("output frame \(index) differs from the engine's (visualization \(String(describing: visualization)))")
                break
            }
            try FileManager.default.removeItem(atPath: output)
        }
    }

    /// The encoder thread copies the audio the decoder thread demuxes: the packets arrive whole.
    func testAudioIsCopiedThroughTheThreads() throws {
        let input = scratch.appendingPathComponent("tone.mp4").path
        let ffmpeg = { (arguments: [String]) throws -> Data in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ffmpeg", "-nostdin", "-v", "error", "-y"] + arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "ffmpeg \(arguments)")
            return data
        }
        let decodeAudio = { (path: String) in try ffmpeg(["-i", path, "-map", "0:a", "-f", "s16le", "-ac", "1", "-"]) }
        _ = try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=160x96:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                        "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", input])
        let output = scratch.appendingPathComponent("out.mp4").path
        var options = ConversionOptions(scale: 2)
        options.synthesis = SynthesisChoice(mode: .flow, preset: .fast)
        let summary = try FileConverter.convert(input: input, output: output, options: options, context: context)
        XCTAssertTrue(summary.keptAudio)
        XCTAssertEqual(summary.framesOut, 100)
        XCTAssertEqual(try decodeAudio(output), try decodeAudio(input), "a remux: the same packets decode to the same samples")
    }

    /// A failure part-way leaves no output file behind, and bad input fails with a message naming it.
    func testFailuresLeaveNoOutput() throws {
        let truncated = scratch.appendingPathComponent("cut.y4m").path
        let pattern = TestPattern(width: 64, height: 48)
        let writer = try makeVideoWriter(path: truncated, format: pattern.format, frameRate: Rational(25), audioFrom: nil)
        let frame = [UInt8](repeating: 100, count: pattern.format.byteCount)
        for _ in 0..<3 { try frame.withUnsafeBytes { try writer.write($0) } }
        try writer.finish()
        let data = try Data(contentsOf: URL(fileURLWithPath: truncated))
        try data.prefix(data.count - 500).write(to: URL(fileURLWithPath: truncated))
        let output = scratch.appendingPathComponent("never.mkv").path
        XCTAssertThrowsError(try FileConverter.convert(input: truncated, output: output, options: ConversionOptions(scale: 2), context: context)) {
            XCTAssertTrue("\($0)".contains("cut.y4m"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), ["cut.y4m"])
        XCTAssertThrowsError(try FileConverter.convert(input: truncated, output: output, options: ConversionOptions(scale: 17), context: context)) {
            XCTAssertTrue("\($0)".contains("scale 17"), "\($0)")
        }
    }

    /// The DIS-medium + fusion anchor (../shared/bench/dis_slomo.py, with the Python that setup.sh gives
    /// OpenCV) runs as a whole process on the same inputs as slomo's modes and scores well above blending;
    /// an anchor that cannot run says why in one line.
    func testDISAnchorRowOnARealClip() throws {
        let script = URL(fileURLWithPath: try sharedData("bikes.mp4")).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/dis_slomo.py").path
        var benchmark = Benchmark(context: context, scratch: scratch)
        benchmark.anchorCommand = "/usr/bin/python3 \(script)"
        XCTAssertNil(DISAnchor(command: benchmark.anchorCommand).unavailableReason(), "run scripts/setup.sh --test")
        benchmark.methods = [.blend, .disMedium]
        benchmark.frameCount = 13
        let results = try benchmark.run(Benchmark.Clip(name: "bikes", path: try sharedData("bikes.mp4")))
        let blend = try XCTUnwrap(results.first { $0.method == .blend }), dis = try XCTUnwrap(results.first { $0.method == .disMedium })
        XCTAssertGreaterThan(dis.psnr, blend.psnr + 3, "DIS flow with fusion against blending, bikes")
        XCTAssertGreaterThan(dis.millisecondsPerFrame, 0)
        let missing = DISAnchor(command: "/usr/bin/python3 \(scratch.path)/missing.py").unavailableReason() ?? ""
        XCTAssertTrue(missing.contains("missing.py") && !missing.contains("\n"), missing)
    }

    /// The report and chart carry every result.
    func testReportListsEveryMethodAndChartIsSVG() {
        var report = BenchmarkReport(command: "slomo bench", machine: "test CPU", device: "test device")
        report.clips = [[Benchmark.Result(clip: "clip", method: .blend, psnr: 30, ssim: 0.9, millisecondsPerFrame: 2),
                         Benchmark.Result(clip: "clip", method: .minterpolate, psnr: 31, ssim: 0.91, millisecondsPerFrame: 80),
                         Benchmark.Result(clip: "clip", method: .flowFast, psnr: 33, ssim: 0.95, millisecondsPerFrame: 8),
                         Benchmark.Result(clip: "clip", method: Benchmark.Method(rawValue: "rife-4.25")!, psnr: 35, ssim: 0.97,
                                          millisecondsPerFrame: 1600)]]
        let markdown = report.markdown(chartPath: "chart.svg")
        XCTAssertTrue(markdown.contains("| slomo flow (fast) | 33.00 | 0.9500 | 8.0 | 10.0× |"), markdown)
        XCTAssertTrue(markdown.contains("![PSNR against time per frame](chart.svg)"))
        let svg = report.svg()
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(markdown.contains("| slomo RIFE 4.25 (IFNet) | 35.00 | 0.9700 | 1600.0 | 0.050× |"), markdown)
        // A point per result (the first clip's marker is a circle), one per method run in the legend, one for the clip.
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 4 + 4 + 1)
        XCTAssertTrue(svg.contains("fill=\"#9467bd\""), "the first network has its colour")
    }
}
