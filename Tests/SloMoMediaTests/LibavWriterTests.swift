import Foundation
import SloMoCore
@testable import SloMoMedia
import XCTest

final class LibavWriterTests: XCTestCase {
    private func writeSmoothClip(_ path: String, _ format: FrameFormat, rate: Rational, frames: Int = 30,
                                 lossless: Bool = false) throws -> [[UInt8]] {
        let source = (0..<frames).map { smoothFrame(format, index: $0) }
        let writer = try LibavWriter(path: path, format: format, frameRate: rate, audioFrom: nil,
                                     chromaSiting: nil, lossless: lossless)
        for frame in source { try writer.write(frame) }
        try writer.finish()
        return source
    }

    private func videoStream(_ path: String) throws -> [String: Any] {
        try XCTUnwrap(try probeStreams(path).first { $0["codec_type"] as? String == "video" })
    }

    func testH264InMP4AndMKVKeepsSizeRateCountAndQuality() throws {
        let directory = try temporaryDirectory()
        let format = FrameFormat(width: 320, height: 176, pixelFormat: .yuv420p,
                                 color: ColorSpace(matrix: .bt709, range: .limited))
        for (name, rate) in [("clip.mp4", Rational(25)), ("clip.mkv", Rational(30000, 1001)), ("clip.mov", Rational(50))] {
            let path = directory.appendingPathComponent(name).path
            let source = try writeSmoothClip(path, format, rate: rate)

            let probed = try videoStream(path)
            XCTAssertEqual(probed["codec_name"] as? String, "h264", name)
            XCTAssertEqual(probed["width"] as? Int, 320, name)
            XCTAssertEqual(probed["height"] as? Int, 176, name)
            XCTAssertEqual(probed["pix_fmt"] as? String, "yuv420p", name)
            XCTAssertEqual(probed["r_frame_rate"] as? String, "\(rate.numerator)/\(rate.denominator)", name)
            XCTAssertEqual(probed["nb_read_frames"] as? String, "30", name)
            XCTAssertEqual(probed["color_space"] as? String, "bt709", name)
            XCTAssertEqual(probed["color_range"] as? String, "tv", name)

            let reader = try LibavReader(path: path)
            XCTAssertEqual(reader.format, format, name)
            XCTAssertEqual(reader.frameRate, rate, name)
            let decoded = try reader.readAllFrames()
            XCTAssertEqual(decoded.count, 30, name)
            let lumaBytes = format.width * format.height
            for (original, roundTripped) in zip(source, decoded) {
                XCTAssertGreaterThan(psnr(original[..<lumaBytes], roundTripped[..<lumaBytes]), 40, name)
            }
        }
    }

    func testChromaResolutionIsKeptAndRGBBecomes444() throws {
        let directory = try temporaryDirectory()
        let cases: [(PixelFormat, Int, Int, String)] = [
            (.yuv422p, 96, 64, "yuv422p"),
            (.yuv444p, 96, 64, "yuv444p"),
            (.rgb24, 96, 64, "yuv444p"),
            // x264 cannot subsample odd sizes: 4:4:4 instead of failing.
            (.yuv420p, 65, 33, "yuv444p"),
        ]
        for (pixelFormat, width, height, encoded) in cases {
            let path = directory.appendingPathComponent("\(pixelFormat)-\(width).mp4").path
            let format = FrameFormat(width: width, height: height, pixelFormat: pixelFormat,
                                     color: ColorSpace(matrix: .bt601, range: .limited))
            let source = try writeSmoothClip(path, format, rate: Rational(25), frames: 5)
            let probed = try videoStream(path)
            XCTAssertEqual(probed["pix_fmt"] as? String, encoded, "\(pixelFormat)")
            XCTAssertEqual(probed["color_space"] as? String, "smpte170m", "\(pixelFormat)")
            XCTAssertEqual(probed["color_range"] as? String, "tv", "\(pixelFormat)")
            XCTAssertEqual(probed["width"] as? Int, width)
            XCTAssertEqual(probed["height"] as? Int, height)

            // Reading RGB back through the tagged matrix and range must give the RGB written;
            // YUV is compared on luma, which every encoded layout keeps whole.
            let reader = try LibavReader(path: path, outputFormat: pixelFormat == .rgb24 ? .rgb24 : nil)
            XCTAssertEqual(reader.format.pixelFormat.rawValue, pixelFormat == .rgb24 ? "rgb24" : encoded)
            let decoded = try reader.readAllFrames()
            XCTAssertEqual(decoded.count, 5)
            let compared = pixelFormat == .rgb24 ? format.byteCount : width * height
            for (a, b) in zip(source, decoded) {
                XCTAssertGreaterThan(psnr(a[..<compared], b[..<compared]), 40, "\(pixelFormat)")
            }
        }
    }

    func testChromaSitingSurvivesConversions() throws {
        let directory = try temporaryDirectory()
        let y4m = directory.appendingPathComponent("bikes.y4m").path
        let mkv = directory.appendingPathComponent("bikes.mkv").path
        for (input, output) in [(try TestData.path("bikes.mp4"), y4m), (y4m, mkv)] {
            let reader = try openVideoReader(path: input)
            XCTAssertEqual(reader.chromaSiting, .left, input)
            let writer = try makeVideoWriter(path: output, format: reader.format, frameRate: reader.frameRate,
                                             audioFrom: nil, chromaSiting: reader.chromaSiting)
            for _ in 0..<2 { try writer.write(try XCTUnwrap(try reader.readFrame())) }
            try writer.finish()
        }
        let header = String(decoding: try Data(contentsOf: URL(fileURLWithPath: y4m)).prefix { $0 != 0x0A }, as: UTF8.self)
        XCTAssertEqual(header, "YUV4MPEG2 W640 H272 F25:1 Ip C420mpeg2 XCOLORRANGE=LIMITED")
        XCTAssertEqual(try videoStream(mkv)["chroma_location"] as? String, "left")
    }

    func testLosslessFallbackIsExact() throws {
        let directory = try temporaryDirectory()
        let cases: [(String, PixelFormat, String)] = [
            ("yuv.mkv", .yuv420p, "ffv1"), ("rgb.mkv", .rgb24, "ffv1"),
            ("yuv.mp4", .yuv422p, "jpeg2000"), ("rgb.mp4", .rgb24, "jpeg2000"), ("yuv.mov", .yuv444p, "jpeg2000"),
        ]
        for (name, pixelFormat, codec) in cases {
            let path = directory.appendingPathComponent(name).path
            let format = FrameFormat(width: 35, height: 19, pixelFormat: pixelFormat,
                                     color: ColorSpace(matrix: .bt601, range: .limited))
            let source = (0..<3).map { _ in randomBytes(format.byteCount) }
            let writer = try LibavWriter(path: path, format: format, frameRate: Rational(24), audioFrom: nil,
                                         chromaSiting: nil, lossless: true)
            for frame in source { try writer.write(frame) }
            try writer.finish()

            XCTAssertEqual(try videoStream(path)["codec_name"] as? String, codec, name)
            let reader = try LibavReader(path: path)
            XCTAssertEqual(reader.format.pixelFormat, pixelFormat, name)
            XCTAssertEqual(try reader.readAllFrames(), source, name)
        }
    }

    func testAudioIsCopiedWhenTheDurationIsKeptAndDroppedOtherwise() throws {
        let directory = try temporaryDirectory()
        let input = directory.appendingPathComponent("input.mp4").path
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x96:rate=25",
                               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2",
                               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-y", input])
        let decodeAudio = { (path: String) in
            try runTool("ffmpeg", ["-v", "error", "-i", path, "-map", "0:a", "-f", "s16le", "-ac", "1", "-"])
        }
        let inputAudio = try decodeAudio(input)
        for (name, keepAudio) in [("copied.mp4", true), ("copied.mkv", true), ("slowmo.mp4", false)] {
            let output = directory.appendingPathComponent(name).path
            let reader = try LibavReader(path: input)
            XCTAssertTrue(reader.hasAudio)
            // Slow motion: same frames at half the rate, so the audio no longer fits.
            let writer = try makeVideoWriter(path: output, format: reader.format,
                                             frameRate: keepAudio ? reader.frameRate : reader.frameRate / 2,
                                             audioFrom: keepAudio ? reader : nil)
            XCTAssertEqual((writer as? LibavWriter)?.copiesAudio, keepAudio, name)
            while let frame = try reader.readFrame() { try writer.write(frame) }
            try writer.finish()

            let audio = try probeStreams(output).filter { $0["codec_type"] as? String == "audio" }
            XCTAssertEqual(audio.count, keepAudio ? 1 : 0, name)
            XCTAssertEqual(try videoStream(output)["nb_read_frames"] as? String, "50", name)
            guard keepAudio else { continue }
            XCTAssertEqual(audio.first?["codec_name"] as? String, "aac", name)
            let outputAudio = try decodeAudio(output)
            XCTAssertEqual(Double(outputAudio.count / 2) / 48000, 2.0, accuracy: 0.05, name)
            if name.hasSuffix(".mp4") {
                // A remux, not a re-encode: the same packets decode to the same samples.
                XCTAssertEqual(outputAudio, inputAudio, name)
            }
        }
    }

    func testAudioIsNotCopiedFromAReaderAlreadyRead() throws {
        let directory = try temporaryDirectory()
        let input = directory.appendingPathComponent("input.mkv").path
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
                               "-f", "lavfi", "-i", "sine", "-t", "1", "-c:v", "ffv1", "-c:a", "flac", "-y", input])
        let reader = try LibavReader(path: input)
        _ = try reader.readFrame()
        let writer = try LibavWriter(path: directory.appendingPathComponent("out.mkv").path, format: reader.format,
                                     frameRate: reader.frameRate, audioFrom: reader)
        // Its packets so far were dropped once reading began; a partial copy would be wrong.
        XCTAssertFalse(writer.copiesAudio)
    }
}
