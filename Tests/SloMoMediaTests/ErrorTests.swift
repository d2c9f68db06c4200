import Foundation
import SloMoCore
import SloMoMedia
import XCTest

final class ErrorTests: XCTestCase {
    private let smallFormat = FrameFormat(width: 4, height: 2, pixelFormat: .yuv420p,
                                          color: ColorSpace(matrix: .bt601, range: .limited))

    func testMissingFile() throws {
        let directory = try temporaryDirectory()
        for name in ["nope.mp4", "nope.y4m"] {
            let path = directory.appendingPathComponent(name).path
            let error = mediaError { _ = try openVideoReader(path: path) }
            XCTAssertEqual(error, .fileNotFound(path: path))
            XCTAssertEqual(error?.description, "\(path): no such file")
        }
        let png = directory.appendingPathComponent("nope.png").path
        XCTAssertEqual(mediaError { _ = try readImage(path: png) }, .fileNotFound(path: png))
    }

    func testTextFileNamedMP4IsNotAVideo() throws {
        let path = try temporaryDirectory().appendingPathComponent("notes.mp4").path
        try "just some notes, certainly not a movie\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = try XCTUnwrap(mediaError { _ = try openVideoReader(path: path) })
        guard case .notAVideo = error else { return XCTFail("got \(error)") }
        XCTAssertTrue(error.description.hasPrefix("\(path): not a video"), error.description)
    }

    func testAudioOnlyFileHasNoVideoStream() throws {
        let path = try temporaryDirectory().appendingPathComponent("tone.wav").path
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "sine", "-t", "0.2", "-y", path])
        XCTAssertEqual(mediaError { _ = try openVideoReader(path: path) }, .notAVideo(path: path, reason: "no video stream"))
    }

    func testCorruptVideoStream() throws {
        let directory = try temporaryDirectory()
        let good = directory.appendingPathComponent("good.mkv").path
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "3",
                               "-c:v", "ffv1", "-y", good])
        // Overwrite everything after the container's headers with garbage.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        for index in 600..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: index &* 7919) }
        let bad = directory.appendingPathComponent("bad.mkv").path
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        let error = try XCTUnwrap(mediaError {
            let reader = try openVideoReader(path: bad)
            _ = try reader.readAllFrames()
        })
        guard case .corruptStream = error else { return XCTFail("got \(error)") }
        XCTAssertTrue(error.description.contains(bad), error.description)
    }

    func testTruncatedY4M() throws {
        let directory = try temporaryDirectory()
        let frame = [UInt8](repeating: 100, count: 12)
        let header = Array("YUV4MPEG2 W4 H2 F25:1 C420jpeg\n".utf8)
        for (name, tail) in [("cut-data.y4m", Array("FRAME\n".utf8) + frame.prefix(7)), ("cut-marker.y4m", Array("FRA".utf8))] {
            let path = directory.appendingPathComponent(name).path
            try Data(header + Array("FRAME\n".utf8) + frame + tail).write(to: URL(fileURLWithPath: path))
            let reader = try Y4MReader(path: path)
            XCTAssertEqual(try reader.readFrame(), frame)
            let error = mediaError { _ = try reader.readFrame() }
            XCTAssertEqual(error, .truncatedFrame(path: path, frameIndex: 1))
            XCTAssertEqual(error?.description, "\(path): truncated frame 1 (file ends mid-frame)")
        }
    }

    func testUnsupportedY4MColourTags() throws {
        let directory = try temporaryDirectory()
        for tag in ["C420p10", "Cmono", "C444alpha"] {
            let path = directory.appendingPathComponent("\(tag).y4m").path
            try Data("YUV4MPEG2 W4 H2 F25:1 \(tag)\n".utf8).write(to: URL(fileURLWithPath: path))
            let error = try XCTUnwrap(mediaError { _ = try openVideoReader(path: path) })
            guard case .unsupportedFormat = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(error.description.contains(path) && error.description.contains(tag), error.description)
        }
    }

    func testBadY4MHeaders() throws {
        let directory = try temporaryDirectory()
        for (index, header) in ["YUV4MPEG3 W4 H2\n", "YUV4MPEG2 H2 F25:1\n", "YUV4MPEG2 W0 H2\n", "YUV4MPEG2 W4 H2 Fx\n",
                                "YUV4MPEG2 W4 H2", ""].enumerated() {
            let path = directory.appendingPathComponent("bad\(index).y4m").path
            try Data(header.utf8).write(to: URL(fileURLWithPath: path))
            let error = try XCTUnwrap(mediaError { _ = try openVideoReader(path: path) }, header)
            guard case .badHeader = error else { return XCTFail("\(header): got \(error)") }
            XCTAssertTrue(error.description.hasPrefix("\(path): bad Y4M header"), error.description)
        }
    }

    func testUnsupportedOutputExtensionCreatesNothing() throws {
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("out.avi").path
        let error = mediaError {
            _ = try makeVideoWriter(path: path, format: smallFormat, frameRate: Rational(25), audioFrom: nil)
        }
        XCTAssertEqual(error, .unsupportedOutputExtension(path: path))
        XCTAssertTrue(error?.description.contains("unsupported output extension") ?? false)
        XCTAssertEqual(try directoryContents(directory), [])
    }

    func testAbandonedWritersLeaveNoFile() throws {
        let directory = try temporaryDirectory()
        for name in ["a.y4m", "a.mp4", "a.mkv", "a.mov"] {
            var writer: VideoWriter? = try makeVideoWriter(path: directory.appendingPathComponent(name).path,
                                                           format: smallFormat, frameRate: Rational(25), audioFrom: nil)
            try writer?.write([UInt8](repeating: 0, count: smallFormat.byteCount))
            XCTAssertEqual(try directoryContents(directory).filter { !$0.hasPrefix(".") }, [],
                           "nothing visible before finish()")
            writer = nil
            XCTAssertEqual(try directoryContents(directory), [], name)
        }
    }

    func testFailedWritersLeaveNoFile() throws {
        let directory = try temporaryDirectory()
        for name in ["b.y4m", "b.mkv"] {
            // A non-empty directory in the way makes the final rename fail.
            let path = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: path.appendingPathComponent("occupied"), withIntermediateDirectories: true)
            let writer = try makeVideoWriter(path: path.path, format: smallFormat, frameRate: Rational(25), audioFrom: nil)
            try writer.write([UInt8](repeating: 0, count: smallFormat.byteCount))
            let error = try XCTUnwrap(mediaError { try writer.finish() })
            guard case .ioFailure = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(error.description.hasPrefix(path.path), error.description)
            XCTAssertEqual(try directoryContents(directory), [name], "only the obstacle")
            XCTAssertEqual(mediaError { try writer.finish() }, .writerClosed(path: path.path))
            try FileManager.default.removeItem(at: path)
        }
        let missing = directory.appendingPathComponent("no/such/dir/c.mp4").path
        let error = try XCTUnwrap(mediaError {
            _ = try makeVideoWriter(path: missing, format: smallFormat, frameRate: Rational(25), audioFrom: nil)
        })
        XCTAssertTrue(error.description.hasPrefix(missing), error.description)
        XCTAssertEqual(try directoryContents(directory), [])
    }

    func testWrongFrameSizeIsAnErrorNotACrash() throws {
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("d.y4m").path
        let writer = try makeVideoWriter(path: path, format: smallFormat, frameRate: Rational(25), audioFrom: nil)
        XCTAssertEqual(mediaError { try writer.write([1, 2, 3]) },
                       .wrongBufferSize(path: path, expected: 12, actual: 3))
        try writer.write([UInt8](repeating: 0, count: 12))
        try writer.finish()
        let reader = try openVideoReader(path: path)
        var small = [UInt8](repeating: 0, count: 5)
        XCTAssertEqual(mediaError { _ = try small.withUnsafeMutableBytes { try reader.read(into: $0) } },
                       .wrongBufferSize(path: path, expected: 12, actual: 5))
    }
}
