import SloMoCore
import SloMoInterp
import XCTest

/// fit.comp (after unpack.comp) against `CPUReference.fit` on random pictures: odd sizes, both
/// directions of aspect change, up and down, and changes of pixel format, matrix and range.
final class FitTests: XCTestCase {
    func testFitMatchesReference() throws {
        let limited601 = ColorSpace(matrix: .bt601, range: .limited), full709 = ColorSpace(matrix: .bt709, range: .full)
        let cases: [(FrameFormat, FrameFormat)] = [
            // Wider input: letterbox bars above and below (and odd sizes everywhere).
            (FrameFormat(width: 161, height: 45, pixelFormat: .yuyv, color: limited601),
             FrameFormat(width: 97, height: 73, pixelFormat: .yuyv, color: limited601)),
            // Taller input, scaled up: pillarbox bars left and right.
            (FrameFormat(width: 33, height: 57, pixelFormat: .yuv420p, color: limited601),
             FrameFormat(width: 120, height: 67, pixelFormat: .yuv420p, color: limited601)),
            // Another pixel format, matrix and range at once.
            (FrameFormat(width: 64, height: 36, pixelFormat: .nv12, color: full709),
             FrameFormat(width: 91, height: 61, pixelFormat: .uyvy, color: limited601)),
            (FrameFormat(width: 75, height: 75, pixelFormat: .rgb24, color: full709),
             FrameFormat(width: 50, height: 31, pixelFormat: .yuv422p, color: full709)),
            (FrameFormat(width: 40, height: 22, pixelFormat: .yuv444p, color: limited601),
             FrameFormat(width: 59, height: 47, pixelFormat: .xrgb8888, color: limited601)),
            // The same aspect ratio: no bars at all.
            (FrameFormat(width: 64, height: 36, pixelFormat: .yuyv, color: limited601),
             FrameFormat(width: 96, height: 54, pixelFormat: .yuyv, color: limited601)),
        ]
        for (index, (input, output)) in cases.enumerated() {
            let bytes = randomBytes(input.byteCount, seed: UInt64(40 + index))
            let fitter = try FrameFitter(context: sharedContext, input: input, output: output)
            var actual = [UInt8](repeating: 0, count: output.byteCount)
            try bytes.withUnsafeBytes { frame in
                try actual.withUnsafeMutableBytes { try fitter.fit(frame, into: $0) }
            }
            let expected = CPUReference.fit(bytes, from: input, to: output)
            let worst = zip(expected, actual).map { abs(Int($0) - Int($1)) }.max()!
            XCTAssertLessThanOrEqual(worst, 1, "case \(index): \(input) into \(output)")
            let g = fitter.geometry
            XCTAssertTrue(g.x == 0 || g.y == 0, "case \(index): bars on one axis only")
            XCTAssertTrue(g.width == output.width || g.height == output.height, "case \(index): fills one dimension")
        }
        assertNoValidationMessages()
    }

    /// The bars are black in the output's own range (16 for limited luma, 0 for full), chroma neutral.
    func testBarsAreBlackInTheOutputRange() throws {
        for range in [ColorSpace.Range.limited, .full] {
            let input = FrameFormat(width: 64, height: 16, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: range))
            let output = FrameFormat(width: 32, height: 32, pixelFormat: .yuv420p, color: ColorSpace(matrix: .bt601, range: range))
            let fitter = try FrameFitter(context: sharedContext, input: input, output: output)
            XCTAssertEqual(fitter.geometry, FitGeometry(input: (64, 16), output: (32, 32)))
            XCTAssertEqual([fitter.geometry.x, fitter.geometry.y, fitter.geometry.width, fitter.geometry.height], [0, 12, 32, 8])
            let white = [UInt8](repeating: 200, count: input.byteCount)
            var actual = [UInt8](repeating: 7, count: output.byteCount)
            try white.withUnsafeBytes { frame in try actual.withUnsafeMutableBytes { try fitter.fit(frame, into: $0) } }
            let black: UInt8 = range == .limited ? 16 : 0
            XCTAssertEqual(actual[0], black, "\(range) luma in the top bar")
            XCTAssertEqual(actual[31 * 32 + 31], black, "\(range) luma in the bottom bar")
            XCTAssertEqual(actual[16 * 32 + 5], 200, "\(range) luma inside the picture")
            XCTAssertEqual(actual[32 * 32], 128, "\(range) chroma in the bar")
        }
        assertNoValidationMessages()
    }
}
