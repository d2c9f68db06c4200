import SloMoCore
import XCTest

final class PixelFormatTests: XCTestCase {
    func testPlaneLayoutsMatchFFmpegSizes() {
        // Sizes as `ffmpeg -pix_fmt X -f rawvideo` writes them for a 5×3 frame.
        let expected: [PixelFormat: Int] = [.yuv420p: 15 + 2 * 6, .yuv422p: 15 + 2 * 9, .yuv444p: 45, .nv12: 15 + 12,
                                            .yuyv: 3 * 12, .uyvy: 3 * 12, .rgb24: 45, .bgr24: 45, .xrgb8888: 60]
        for (format, bytes) in expected {
            XCTAssertEqual(format.frameByteCount(width: 5, height: 3), bytes, "\(format)")
        }
    }

    func testRationalApproximatesBroadcastRates() {
        XCTAssertEqual(Rational.approximating(29.97), Rational(30000, 1001))
        XCTAssertEqual(Rational.approximating(25), Rational(25))
        XCTAssertEqual(Rational(50, 2) * 2, Rational(50))
        XCTAssertEqual(Rational(30000, 1001).description, "30000/1001")
    }
}

final class QualityTests: XCTestCase {
    func testPSNRMatchesTheDefinition() {
        let a = [UInt8](repeating: 100, count: 64), b = [UInt8](repeating: 110, count: 64)
        // MSE 100 → 10·log10(255²/100) = 28.13 dB.
        let value = a.withUnsafeBytes { x in b.withUnsafeBytes { y in Quality.psnr(x, y) } }
        XCTAssertEqual(value, 28.1308, accuracy: 1e-3)
        XCTAssertEqual(a.withUnsafeBytes { x in a.withUnsafeBytes { y in Quality.psnr(x, y) } }, .infinity)
    }

    func testSSIMIsOneForIdenticalAndFallsWithNoise() {
        var generator = SystemRandomNumberGenerator()
        let w = 48, h = 32
        let picture = (0..<w * h).map { UInt8(truncatingIfNeeded: ($0 % w) * 5 + ($0 / w) * 3) }
        let noisy = picture.map { UInt8(clamping: Int($0) + Int.random(in: -20...20, using: &generator)) }
        let same = picture.withUnsafeBytes { x in picture.withUnsafeBytes { y in Quality.ssim(x, y, width: w, height: h) } }
        let worse = picture.withUnsafeBytes { x in noisy.withUnsafeBytes { y in Quality.ssim(x, y, width: w, height: h) } }
        XCTAssertEqual(same, 1, accuracy: 1e-9)
        XCTAssertLessThan(worse, 0.9)
        XCTAssertGreaterThan(worse, 0)
    }
}
