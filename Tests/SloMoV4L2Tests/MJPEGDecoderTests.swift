import Foundation
import SloMoCore
@testable import SloMoV4L2
import XCTest

/// MJPEG decoding as V4L2Capture does it, on JPEGs that ffmpeg encodes from known pictures.
final class MJPEGDecoderTests: XCTestCase {
    /// Encodes a raw picture in `pixelFormat` (a yuvj* format) to one JPEG with the ffmpeg tool.
    private func jpeg(_ raw: [UInt8], pixelFormat: String, width: Int, height: Int) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slomo-mjpeg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.raw"), output = directory.appendingPathComponent("out.jpg")
        try Data(raw).write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", pixelFormat,
                             "-s", "\(width)x\(height)", "-i", input.path, "-q:v", "1", "-f", "mjpeg", "-y", output.path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "ffmpeg failed")
        return [UInt8](try Data(contentsOf: output))
    }

    /// Left half one colour, right half another: planes of a yuv4xxp picture.
    private func halves(width: Int, height: Int, chromaHeight: Int) -> [UInt8] {
        let luma = (0..<height).flatMap { _ in (0..<width).map { $0 < width / 2 ? UInt8(60) : UInt8(200) } }
        let cb = (0..<chromaHeight).flatMap { _ in (0..<width / 2).map { $0 < width / 4 ? UInt8(90) : UInt8(160) } }
        let cr = (0..<chromaHeight).flatMap { _ in (0..<width / 2).map { $0 < width / 4 ? UInt8(200) : UInt8(100) } }
        return luma + cb + cr
    }

    private func checkHalves(_ bytes: UnsafeRawBufferPointer, width: Int, height: Int, file: StaticString = #filePath, line: UInt = #line) {
        let planes = PixelFormat.yuv420p.planes(width: width, height: height)
        let expected: [[UInt8]] = [[60, 200], [90, 160], [200, 100]]
        for (index, plane) in planes.enumerated() {
            for y in [1, plane.height / 2, plane.height - 2] {
                for (side, x) in [plane.width / 4, plane.width * 3 / 4].enumerated() {
                    let got = Int(bytes[plane.offset + y * plane.stride + x])
                    XCTAssertEqual(got, Int(expected[index][side]), accuracy: 4, "plane \(index) at \(x),\(y)", file: file, line: line)
                }
            }
        }
    }

    func testDecodes420IntoTightPlanesKeepingFullRange() throws {
        let (width, height) = (64, 48)
        let data = try jpeg(halves(width: width, height: height, chromaHeight: height / 2), pixelFormat: "yuvj420p", width: width, height: height)
        let decoder = try MJPEGDecoder(width: width, height: height, maxCompressedBytes: data.count)
        let decoded = try XCTUnwrap(data.withUnsafeBytes { decoder.decode($0) })
        XCTAssertEqual(decoded.bytes.count, width * height * 3 / 2)
        XCTAssertEqual(decoded.range, .full)
        checkHalves(decoded.bytes, width: width, height: height)
    }

    func testDecodes422ThroughSwscaleWithoutRangeConversion() throws {
        let (width, height) = (64, 48)
        let data = try jpeg(halves(width: width, height: height, chromaHeight: height), pixelFormat: "yuvj422p", width: width, height: height)
        let decoder = try MJPEGDecoder(width: width, height: height, maxCompressedBytes: data.count)
        // Twice: the second frame reuses the buffers and the cached scaler.
        for _ in 0..<2 {
            let decoded = try XCTUnwrap(data.withUnsafeBytes { decoder.decode($0) })
            XCTAssertEqual(decoded.range, .full)
            checkHalves(decoded.bytes, width: width, height: height)
        }
    }

    func testCorruptOrMisSizedFramesAreRejected() throws {
        let data = try jpeg(halves(width: 64, height: 48, chromaHeight: 24), pixelFormat: "yuvj420p", width: 64, height: 48)
        let wrongSize = try MJPEGDecoder(width: 32, height: 32, maxCompressedBytes: data.count)
        XCTAssertNil(data.withUnsafeBytes { wrongSize.decode($0) })
        let decoder = try MJPEGDecoder(width: 64, height: 48, maxCompressedBytes: data.count)
        let garbage = [UInt8](repeating: 0x55, count: 500)
        XCTAssertNil(garbage.withUnsafeBytes { decoder.decode($0) })
        XCTAssertNotNil(data.withUnsafeBytes { decoder.decode($0) }, "a good frame after a bad one still decodes")
    }
}
