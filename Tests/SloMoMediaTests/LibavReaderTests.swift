import Foundation
import SloMoCore
import SloMoMedia
import XCTest

final class LibavReaderTests: XCTestCase {
    func testDecodesBikesLikeTheFFmpegCLI() throws {
        let path = try TestData.path("bikes.mp4")
        let reader = try openVideoReader(path: path)
        XCTAssertTrue(reader is LibavReader)
        XCTAssertEqual(reader.format.width, 640)
        XCTAssertEqual(reader.format.height, 272)
        XCTAssertEqual(reader.format.pixelFormat, .yuv420p)
        XCTAssertEqual(reader.format.byteCount, 640 * 272 * 3 / 2)
        XCTAssertEqual(reader.frameRate, Rational(25))
        XCTAssertEqual(reader.frameCountHint, 250)
        XCTAssertEqual(reader.chromaSiting, .left)
        XCTAssertEqual(reader.format.color, ColorSpace(matrix: .bt601, range: .limited), "untagged: guessed")

        let first = try XCTUnwrap(try reader.readFrame())
        let reference = [UInt8](try runTool("ffmpeg", ["-v", "error", "-i", path, "-frames:v", "1",
                                                       "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]))
        XCTAssertEqual(first.count, reference.count)
        let worst = zip(first, reference).map { abs(Int($0) - Int($1)) }.max() ?? 255
        XCTAssertLessThanOrEqual(worst, 1)

        var count = 1
        while try reader.readFrame() != nil { count += 1 }
        XCTAssertEqual(count, 250)
    }

    func testNTSCRateIsExact() throws {
        let reader = try openVideoReader(path: try TestData.path("carphone_pristine.mp4"))
        XCTAssertEqual(reader.format.width, 176)
        XCTAssertEqual(reader.format.height, 144)
        XCTAssertEqual(reader.frameRate, Rational(30000, 1001))
        XCTAssertEqual(reader.frameCountHint, 120)
        XCTAssertEqual(try reader.readAllFrames().count, 120)
    }

    func testOutputPixelFormatsFollowTheSource() throws {
        let directory = try temporaryDirectory()
        // Encoder options; the expected output format and range; the format ffmpeg's own
        // conversion gives to compare against, and how many levels apart conversions may be.
        let cases: [([String], PixelFormat, ColorSpace.Range, String, Int)] = [
            (["-c:v", "ffv1", "-pix_fmt", "yuv420p"], .yuv420p, .limited, "yuv420p", 0),
            (["-c:v", "ffv1", "-pix_fmt", "yuv422p"], .yuv422p, .limited, "yuv422p", 0),
            (["-c:v", "mjpeg", "-pix_fmt", "yuvj444p"], .yuv444p, .full, "yuvj444p", 0),
            (["-c:v", "png", "-pix_fmt", "rgba"], .rgb24, .limited, "rgb24", 0),
            (["-c:v", "ffv1", "-pix_fmt", "bgr0"], .rgb24, .limited, "rgb24", 0),
            (["-c:v", "png", "-pix_fmt", "pal8"], .rgb24, .limited, "rgb24", 0),
            (["-c:v", "ffv1", "-pix_fmt", "yuv444p10le"], .yuv420p, .limited, "yuv420p", 2),
            // Grey is full range; the conversion keeps it so (ffmpeg's yuvj420p does the same).
            (["-c:v", "ffv1", "-pix_fmt", "gray"], .yuv420p, .full, "yuvj420p", 0),
        ]
        for (index, (options, expected, range, reference, tolerance)) in cases.enumerated() {
            let path = directory.appendingPathComponent("source\(index).mkv").path
            let source = ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=33x17:rate=10", "-frames:v", "3"]
            try runTool("ffmpeg", source + options + ["-y", path])
            let reader = try LibavReader(path: path)
            XCTAssertEqual(reader.format.pixelFormat, expected, "\(options)")
            XCTAssertEqual(reader.format.color.range, range, "\(options)")
            XCTAssertEqual(reader.format.width, 33)
            XCTAssertEqual(reader.format.height, 17)
            XCTAssertEqual(reader.frameRate, Rational(10))
            let decoded = Array(try reader.readAllFrames().joined())
            let raw = [UInt8](try runTool("ffmpeg", ["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", reference, "-"]))
            XCTAssertEqual(decoded.count, raw.count, "3 frames, \(options)")
            let worst = zip(decoded, raw).map { abs(Int($0) - Int($1)) }.max() ?? 255
            XCTAssertLessThanOrEqual(worst, tolerance, "\(options)")
        }
    }

    func testColourTagsAreRead() throws {
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("tagged.mkv").path
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "2",
                               "-c:v", "ffv1", "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_range", "pc",
                               "-y", path])
        let reader = try LibavReader(path: path)
        // 48 lines would guess BT.601, limited: the tags must win.
        XCTAssertEqual(reader.format.color, ColorSpace(matrix: .bt709, range: .full))
    }
}
