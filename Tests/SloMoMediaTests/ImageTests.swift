import Foundation
import SloMoMedia
import XCTest

final class ImageTests: XCTestCase {
    func testReadsMiddleburyFrameLikeFFmpeg() throws {
        let path = try TestData.path("middlebury/Beanbags/frame10.png")
        let image = try readImage(path: path)
        XCTAssertEqual(image.width, 640)
        XCTAssertEqual(image.height, 480)
        let reference = [UInt8](try runTool("ffmpeg", ["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]))
        XCTAssertEqual(Array(image.rgb.prefix(3)), Array(reference.prefix(3)), "first pixel")
        XCTAssertEqual(image.rgb, reference)
    }

    func testPNGRoundTrip() throws {
        let path = try temporaryDirectory().appendingPathComponent("noise.png").path
        let rgb = randomBytes(37 * 21 * 3)
        try writePNG(path: path, width: 37, height: 21, rgb: rgb)
        let probed = try XCTUnwrap(try probeStreams(path).first)
        XCTAssertEqual(probed["codec_name"] as? String, "png")
        XCTAssertEqual(probed["pix_fmt"] as? String, "rgb24")
        let image = try readImage(path: path)
        XCTAssertEqual(image.width, 37)
        XCTAssertEqual(image.height, 21)
        XCTAssertEqual(image.rgb, rgb)
    }

    func testJPEGIsConvertedToRGB() throws {
        let path = try temporaryDirectory().appendingPathComponent("grey.jpg").path
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=c=0x808080:size=16x8", "-frames:v", "1", "-y", path])
        let image = try readImage(path: path)
        XCTAssertEqual(image.rgb.count, 16 * 8 * 3)
        XCTAssertTrue(image.rgb.allSatisfy { abs(Int($0) - 128) <= 2 }, "\(image.rgb.prefix(6))")
    }

    func testWritePNGRejectsWrongSize() throws {
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("x.png").path
        XCTAssertEqual(mediaError { try writePNG(path: path, width: 2, height: 2, rgb: [0, 0, 0]) },
                       .wrongBufferSize(path: path, expected: 12, actual: 3))
        XCTAssertEqual(try directoryContents(directory), [])
    }
}
