import SloMoCore
import SloMoDRM
import XCTest

/// The CPU path of DRMOutput: conversion to XRGB8888, scaling and letterboxing.
final class XRGBConverterTests: XCTestCase {
    private func draw(_ format: FrameFormat, _ bytes: [UInt8], width: Int, height: Int) -> [UInt32] {
        let converter = XRGBConverter(source: format, width: width, height: height)
        var screen = [UInt32](repeating: 0xDEAD_BEEF, count: width * height)
        bytes.withUnsafeBytes { frame in
            screen.withUnsafeMutableBytes { converter.draw(frame, into: $0.baseAddress!, pitch: width * 4) }
        }
        return screen
    }

    private func rgb(_ pixel: UInt32) -> [Int] { [Int(pixel >> 16 & 255), Int(pixel >> 8 & 255), Int(pixel & 255)] }

    func testLimitedRangeBT601PrimariesConvertToFullRGB() {
        // One 2x2 yuv420p frame per colour: red, green, blue, white, black.
        let colours: [([UInt8], [Int])] = [([81, 90, 240], [255, 0, 0]), ([145, 54, 34], [0, 255, 0]),
                                           ([41, 240, 110], [0, 0, 255]), ([235, 128, 128], [255, 255, 255]),
                                           ([16, 128, 128], [0, 0, 0])]
        let format = FrameFormat(width: 2, height: 2, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: .limited))
        for (ycbcr, expected) in colours {
            let frame = [UInt8](repeating: ycbcr[0], count: 4) + [ycbcr[1], ycbcr[2]]
            let got = rgb(draw(format, frame, width: 2, height: 2)[3])
            XCTAssertTrue(zip(got, expected).allSatisfy { abs($0 - $1) <= 2 }, "\(ycbcr) gave \(got), expected \(expected)")
        }
    }

    func testFullRangeBT709() {
        let format = FrameFormat(width: 2, height: 1, pixelFormat: .yuyv, color: ColorSpace(matrix: .bt709, range: .full))
        // Y=128, Cr=255: R = 128 + 1.5748 * 127 clips, G = 128 - 0.4681 * 127 ≈ 69, B = 128.
        let got = rgb(draw(format, [128, 128, 128, 255], width: 2, height: 1)[0])
        XCTAssertEqual(got[0], 255)
        XCTAssertEqual(got[1], 69, accuracy: 1)
        XCTAssertEqual(got[2], 128, accuracy: 1)
    }

    func testEveryLayoutReadsTheSamePicture() {
        // A 4x2 picture: left half one colour, right half another, in every YUV layout.
        let a: [UInt8] = [81, 90, 240], b: [UInt8] = [41, 240, 110]
        let color = ColorSpace(matrix: .bt601, range: .limited)
        let frames: [(PixelFormat, [UInt8])] = [
            (.yuv420p, [a[0], a[0], b[0], b[0], a[0], a[0], b[0], b[0], a[1], b[1], a[2], b[2]]),
            (.yuv422p, [a[0], a[0], b[0], b[0], a[0], a[0], b[0], b[0], a[1], b[1], a[1], b[1], a[2], b[2], a[2], b[2]]),
            (.nv12, [a[0], a[0], b[0], b[0], a[0], a[0], b[0], b[0], a[1], a[2], b[1], b[2]]),
            (.yuyv, [a[0], a[1], a[0], a[2], b[0], b[1], b[0], b[2], a[0], a[1], a[0], a[2], b[0], b[1], b[0], b[2]]),
            (.uyvy, [a[1], a[0], a[2], a[0], b[1], b[0], b[2], b[0], a[1], a[0], a[2], a[0], b[1], b[0], b[2], b[0]]),
            (.rgb24, [255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255]),
            (.bgr24, [0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0]),
            (.xrgb8888, [0, 0, 255, 0, 0, 0, 255, 0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0, 0, 0, 255, 0, 0, 0]),
        ]
        for (pixelFormat, bytes) in frames {
            let format = FrameFormat(width: 4, height: 2, pixelFormat: pixelFormat, color: color)
            XCTAssertEqual(bytes.count, format.byteCount, "\(pixelFormat)")
            // Scaled 2x onto 8x4, exercising the column and row tables.
            let screen = draw(format, bytes, width: 8, height: 4).map(rgb)
            for (index, pixel) in screen.enumerated() {
                let expected = index % 8 < 4 ? [255, 0, 0] : [0, 0, 255]
                XCTAssertTrue(zip(pixel, expected).allSatisfy { abs($0 - $1) <= 2 }, "\(pixelFormat) pixel \(index): \(pixel)")
            }
        }
    }

    func testLetterboxAndPillarbox() {
        let wide = FrameFormat(width: 16, height: 9, pixelFormat: .xrgb8888, color: .guess(height: 9))
        let white = [UInt8](repeating: 255, count: wide.byteCount)
        // 16:9 on 4:3 (32x24): full width, 18 rows tall, 3 black rows above and below.
        let letterbox = XRGBConverter(source: wide, width: 32, height: 24)
        XCTAssertTrue(letterbox.picture == (0, 3, 32, 18))
        let screen = draw(wide, white, width: 32, height: 24)
        XCTAssertEqual(screen[2 * 32 + 16] & 0xFFFFFF, 0)
        XCTAssertEqual(screen[3 * 32 + 16] & 0xFFFFFF, 0xFFFFFF)
        XCTAssertEqual(screen[20 * 32 + 16] & 0xFFFFFF, 0xFFFFFF)
        XCTAssertEqual(screen[21 * 32 + 16] & 0xFFFFFF, 0)
        // 4:3 on 16:9: full height, bars left and right.
        let square = FrameFormat(width: 4, height: 3, pixelFormat: .rgb24, color: .guess(height: 3))
        let pillarbox = XRGBConverter(source: square, width: 32, height: 18)
        XCTAssertTrue(pillarbox.picture == (4, 0, 24, 18))
        let pillared = draw(square, [UInt8](repeating: 255, count: square.byteCount), width: 32, height: 18)
        XCTAssertEqual(pillared[9 * 32 + 3] & 0xFFFFFF, 0)
        XCTAssertEqual(pillared[9 * 32 + 4] & 0xFFFFFF, 0xFFFFFF)
        XCTAssertEqual(pillared[9 * 32 + 27] & 0xFFFFFF, 0xFFFFFF)
        XCTAssertEqual(pillared[9 * 32 + 28] & 0xFFFFFF, 0)
    }

    func testFramesAtTheModeSizeAreCopiedRowByRowIntoPaddedRows() {
        let format = FrameFormat(width: 3, height: 2, pixelFormat: .xrgb8888, color: .guess(height: 2))
        let frame = (0..<UInt8(24)).map { $0 }
        let converter = XRGBConverter(source: format, width: 3, height: 2)
        var screen = [UInt8](repeating: 0xEE, count: 16 * 2)
        frame.withUnsafeBytes { f in screen.withUnsafeMutableBytes { converter.draw(f, into: $0.baseAddress!, pitch: 16) } }
        XCTAssertEqual(Array(screen[0..<12]), Array(frame[0..<12]))
        XCTAssertEqual(Array(screen[12..<16]), [0xEE, 0xEE, 0xEE, 0xEE], "the pitch padding is left alone")
        XCTAssertEqual(Array(screen[16..<28]), Array(frame[12..<24]))
    }
}
