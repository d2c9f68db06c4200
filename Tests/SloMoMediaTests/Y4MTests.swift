import Foundation
import SloMoCore
import SloMoMedia
import XCTest

final class Y4MTests: XCTestCase {
    func testRoundTripKeepsBytesAndTagsForEveryChromaFormatAtOddSizes() throws {
        let directory = try temporaryDirectory()
        let cases: [(PixelFormat, ChromaSiting?, ColorSpace.Range, String)] = [
            (.yuv420p, .left, .full, "C420mpeg2 XCOLORRANGE=FULL"),
            (.yuv420p, .topLeft, .limited, "C420paldv XCOLORRANGE=LIMITED"),
            (.yuv420p, nil, .limited, "C420jpeg XCOLORRANGE=LIMITED"),
            (.yuv422p, nil, .full, "C422 XCOLORRANGE=FULL"),
            (.yuv444p, nil, .limited, "C444 XCOLORRANGE=LIMITED"),
        ]
        for (index, (pixelFormat, siting, range, tags)) in cases.enumerated() {
            let path = directory.appendingPathComponent("clip\(index).y4m").path
            let format = FrameFormat(width: 33, height: 17, pixelFormat: pixelFormat,
                                     color: ColorSpace(matrix: .bt601, range: range))
            let frames = (0..<3).map { _ in randomBytes(format.byteCount) }
            let writer = try makeVideoWriter(path: path, format: format, frameRate: Rational(30000, 1001),
                                             audioFrom: nil, chromaSiting: siting)
            for frame in frames { try writer.write(frame) }
            try writer.finish()

            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let header = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
            XCTAssertEqual(header, "YUV4MPEG2 W33 H17 F30000:1001 Ip \(tags)")

            let reader = try openVideoReader(path: path)
            XCTAssertTrue(reader is Y4MReader)
            XCTAssertEqual(reader.format, format)
            XCTAssertEqual(reader.frameRate, Rational(30000, 1001))
            XCTAssertEqual(reader.frameCountHint, 3)
            XCTAssertEqual(reader.chromaSiting, pixelFormat == .yuv420p ? siting ?? .center : nil)
            XCTAssertEqual(try reader.readAllFrames(), frames, "\(pixelFormat) \(tags)")
            XCTAssertNil(try reader.readFrame(), "stays at the end")
        }
    }

    func testReadsWhatFFmpegWrites() throws {
        let directory = try temporaryDirectory()
        for pixelFormat in [PixelFormat.yuv420p, .yuv422p, .yuv444p] {
            let path = directory.appendingPathComponent("\(pixelFormat).y4m").path
            let source = ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=35x19:rate=30000/1001", "-frames:v", "4",
                          "-pix_fmt", pixelFormat.rawValue]
            try runTool("ffmpeg", source + ["-y", path])
            let raw = try runTool("ffmpeg", source + ["-f", "rawvideo", "-"])

            let reader = try Y4MReader(path: path)
            XCTAssertEqual(reader.format.width, 35)
            XCTAssertEqual(reader.format.height, 19)
            XCTAssertEqual(reader.format.pixelFormat, pixelFormat)
            XCTAssertEqual(reader.frameRate, Rational(30000, 1001))
            let frames = try reader.readAllFrames()
            XCTAssertEqual(frames.count, 4)
            XCTAssertEqual(Data(frames.joined()), raw, "\(pixelFormat)")
        }
    }

    func testHeaderWithoutColourOrRateTagsMeans420At25() throws {
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("bare.y4m").path
        // 4x2 at 4:2:0: 8 luma + 2 + 2 chroma bytes per frame.
        let frame = Array(0..<12 as Range<UInt8>)
        try Data(Array("YUV4MPEG2 W4 H2 A1:1 XYSCSS=420JPEG\nFRAME\n".utf8) + frame
                 + Array("FRAME Ixyz\n".utf8) + frame).write(to: URL(fileURLWithPath: path))
        let reader = try Y4MReader(path: path)
        XCTAssertEqual(reader.format, FrameFormat(width: 4, height: 2, pixelFormat: .yuv420p,
                                                  color: ColorSpace(matrix: .bt601, range: .limited)))
        XCTAssertEqual(reader.frameRate, Rational(25))
        XCTAssertEqual(try reader.readAllFrames(), [frame, frame], "frame headers may carry parameters")
    }

    func testRGBOutputIsConvertedTo444() throws {
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("rgb.y4m").path
        let format = FrameFormat(width: 2, height: 1, pixelFormat: .rgb24,
                                 color: ColorSpace(matrix: .bt601, range: .limited))
        let writer = try makeVideoWriter(path: path, format: format, frameRate: Rational(24), audioFrom: nil)
        try writer.write([255, 255, 255, 255, 0, 0])  // white, red
        try writer.finish()

        let reader = try Y4MReader(path: path)
        XCTAssertEqual(reader.format.pixelFormat, .yuv444p)
        let yuv = try XCTUnwrap(try reader.readFrame())
        // BT.601 limited range: white is (235, 128, 128), red (81, 90, 240).
        let expected: [UInt8] = [235, 81, 128, 90, 128, 240]
        for (got, want) in zip(yuv, expected) {
            XCTAssertLessThanOrEqual(abs(Int(got) - Int(want)), 1, "\(yuv) vs \(expected)")
        }
    }
}
