import Foundation
import XCTest

/// V4L2 capture, v4l2loopback output, resilience and DRM output against the real kernel
/// drivers (vivid, v4l2loopback, virtio-gpu) in one VM boot shared by every test here.
/// Nothing is skipped: without the VM tooling (scripts/vm-deps.sh) these tests fail.
final class KernelDriverTests: XCTestCase {
    static let scenarios = ["capture", "loopback", "mjpeg", "stall", "resilient", "drm", "loopback_013"]
    nonisolated(unsafe) private static var booted: Result<VMRun, Error>?

    private func vm() throws -> VMRun {
        if Self.booted == nil { Self.booted = Result { try VMRun.boot(scenarios: Self.scenarios) } }
        return try Self.booted!.get()
    }

    func testCaptureFromVividInEveryFormat() throws {
        let lines = ResultLine.all("CAPTURE", in: try vm().section("capture"))
        let requested = ["yuyv", "uyvy", "nv12", "yu12", "yuv422p", "rgb24", "bgr24", "xbgr32"]
        XCTAssertEqual(lines.count, requested.count + 1, lines.map(\.text).joined(separator: "\n"))
        for (format, line) in zip(requested, lines) {
            XCTAssertNil(line["error"], line.text)
            XCTAssertEqual(line["format"], format, line.text)
            XCTAssertEqual(line["size"], "320x180", line.text)
            XCTAssertEqual(line["rate"], "30", line.text)
            // Two seconds at 30 fps is 61 frames; the VM may lose a few.
            XCTAssertGreaterThanOrEqual(line.int("frames") ?? 0, 45, line.text)
            XCTAssertEqual(line.double("arrivalfps") ?? 0, 30, accuracy: 4, line.text)
            XCTAssertEqual(line.int("backwards"), 0, "timestamps must increase: \(line.text)")
            XCTAssertEqual(line.int("drivertimestamps"), 1, "vivid stamps CLOCK_MONOTONIC: \(line.text)")
            XCTAssertLessThan(line.int("maxskewms") ?? .max, 500, "timestamps on the wrong clock: \(line.text)")
            XCTAssertEqual(line.int("wrongsize"), 0, line.text)
            XCTAssertEqual(line.int("corrupt"), 0, line.text)
            XCTAssertGreaterThan(line.int("rowspread") ?? 0, 50, "a test pattern, not a blank frame: \(line.text)")
        }
        let best = try XCTUnwrap(lines.last)
        XCTAssertEqual(best["resolved"], "/dev/video0", "the by-path name resolves to the node: \(best.text)")
        let size = (best["size"] ?? "0x0").split(separator: "x").compactMap { Int($0) }
        XCTAssertGreaterThanOrEqual(size.reduce(1, *), 640 * 360, "the best mode is a large one: \(best.text)")
        XCTAssertGreaterThanOrEqual(Double(best["rate"] ?? "0") ?? 0, 24, "and reaches 24 fps: \(best.text)")
        XCTAssertGreaterThan(best.int("frames") ?? 0, 20, best.text)
    }

    func testLoopbackFeedsRealConsumersAtTheOutputRate() throws {
        try checkLoopback(section: "loopback", files: "", module: "/updates/dkms/v4l2loopback.ko")
    }

    /// v4l2loopback 0.13 accepts STREAMON only on the handle that called REQBUFS; the write()
    /// path must feed the same consumers just as well.
    func testLoopbackFeedsRealConsumersOnV4L2Loopback013() throws {
        try checkLoopback(section: "loopback_013", files: "v0.13/", module: "/v4l2loopback-0.13.2.ko")
    }

    private func checkLoopback(section: String, files: String, module: String) throws {
        let run = try vm()
        let lines = try run.section(section)
        let loaded = try XCTUnwrap(ResultLine.all("LOOPBACK_MODULE", in: lines).first, lines.joined(separator: "\n"))
        XCTAssertEqual(loaded["loaded"], loaded["built"], "the module from \(module) is the one loaded: \(loaded.text)")
        XCTAssertEqual(loaded["loaded"]?.count, 40, "a 160-bit build ID: \(loaded.text)")
        XCTAssertTrue(loaded["file"]?.contains(module) ?? false, loaded.text)
        let frameBytes = 320 * 240 * 2
        let ffmpeg = try XCTUnwrap(lines.first { $0.hasPrefix("FFMPEG ") }, lines.joined(separator: "\n"))
        XCTAssertTrue(ffmpeg.hasPrefix("FFMPEG rc=0"), ffmpeg)
        XCTAssertTrue(ffmpeg.contains("yuyv422, 320x240"), ffmpeg)
        XCTAssertTrue(ffmpeg.contains("30 fps"), ffmpeg)
        XCTAssertTrue(lines.contains { $0.hasPrefix("V4L2CTL rc=0") }, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("GSTREAMER rc=0") }, lines.joined(separator: "\n"))
        // ffmpeg's v4l2 input hands out the buffers it reads as references to the mapping, not
        // copies, until one buffer of the driver's 8 is left queued: so the packets it reads
        // while probing (up to 7) stay mapped until it writes them, and the writer may refill
        // them meanwhile. The other consumers copy each frame before taking the next.
        for (name, count, heldWhileProbing) in [("ffmpeg.yuv", 50, 7), ("v4l2ctl.raw", 90, 1), ("gstreamer.yuv", 40, 1)] {
            let data = try Data(contentsOf: run.file(files + name))
            XCTAssertEqual(data.count, count * frameBytes, "\(name): whole frames of the negotiated size")
            checkRamp(data, frameBytes: frameBytes, name: name, heldWhileProbing: heldWhileProbing)
        }
        let captures = ResultLine.all("CAPTURE", in: lines)
        XCTAssertEqual(captures.count, 2, lines.joined(separator: "\n"))
        if captures.count == 2 {
            XCTAssertEqual(captures[0]["size"], "320x240", captures[0].text)
            checkDelivery(captures[0], nominal: 30)
            XCTAssertEqual(captures[1]["size"], "320x240", "setFrameRate keeps the size: \(captures[1].text)")
            checkDelivery(captures[1], nominal: 15)
            XCTAssertEqual(captures[1]["rate"], "15", "consumers see the new interval (S_PARM): \(captures[1].text)")
        }
    }

    /// What a consumer saw over its window against what the feeder wrote meanwhile (the frame
    /// numbers it carries advance by one per frame written): every frame (a reader a whole ring
    /// behind may lose one to v4l2loopback), and the feeder at its rate. When the rate fails, the
    /// message tells a starved feeder (few numbers written) from a lossy path (numbers skipped).
    private func checkDelivery(_ capture: ResultLine, nominal: Double) {
        let numbers = capture["numbers"]?.split(separator: ".").compactMap { Int($0) } ?? []
        guard numbers.count == 2, let frames = capture.int("frames"), frames > 1, let arrival = capture.double("arrivalfps") else {
            return XCTFail("no frame numbers or rate: \(capture.text)")
        }
        let written = numbers[1] - numbers[0]
        XCTAssertLessThanOrEqual(frames - 1, written, "no frame arrived twice: \(capture.text)")
        XCTAssertLessThanOrEqual(written - (frames - 1), max(1, written / 20), "at most 5 % lost: \(capture.text)")
        let fed = arrival * Double(written) / Double(frames - 1)
        XCTAssertLessThanOrEqual(fed, nominal * 1.1, "never faster than \(nominal) fps: \(capture.text)")
        XCTAssertGreaterThanOrEqual(fed, nominal * 0.9, "the feeder wrote \(nominal) fps: \(capture.text)")
    }

    /// Each recorded frame must be one the feeder wrote, whole: the frame number in its first
    /// two luma samples, the ramp shifted by that number everywhere else; numbers only rise.
    /// v4l2loopback 0.12 lets the writer reuse a buffer a reader still holds once the reader falls
    /// a ring behind (seen only on a starved guest): such a frame turns, from one row on, into a
    /// newer frame of the ramp. A few of those are the driver's; anything else fails.
    private func checkRamp(_ data: Data, frameBytes: Int, name: String, heldWhileProbing: Int) {
        var previous = -1
        var steps: [Int] = []
        var torn: [String] = [], overwritten: [String] = []
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            func rowMatches(_ base: Int, _ index: Int, _ y: Int) -> Bool {
                ((y == 0 ? 2 : 0)..<320).allSatisfy { x in bytes[base + (y * 320 + x) * 2] == UInt8(16 + (x + index * 4) % 220) }
            }
            let rows = Array(stride(from: 0, to: 240, by: 7))
            for frame in 0..<(data.count / frameBytes) {
                let base = frame * frameBytes
                let index = Int(bytes[base]) << 8 | Int(bytes[base + 2])
                if previous >= 0 { steps.append(index - previous) }
                previous = index
                guard let tear = rows.first(where: { !rowMatches(base, index, $0) }) else { continue }
                // From the tear on, a newer frame (up to two rings of 8 ahead), where the writer has
                // already been, and this frame's rows where it has not.
                let newer = (1...16).contains { ahead in
                    rowMatches(base, index + ahead, tear)
                        && rows.filter { $0 > tear }.allSatisfy { rowMatches(base, index + ahead, $0) || rowMatches(base, index, $0) }
                }
                if newer { overwritten.append("\(frame)#\(index)@row \(tear)") } else { torn.append("\(frame)#\(index)@row \(tear)") }
            }
        }
        XCTAssertEqual(torn, [], "\(name): torn or foreign frames (frame#number@row)")
        XCTAssertLessThanOrEqual(overwritten.count, 3, "\(name): frames overwritten by the driver's ring: \(overwritten)")
        // A reader joining a running stream first gets the latest frame at once, then waits for
        // the next (ffmpeg has been seen to get the joined frame twice: a first step of 0). A
        // frame the consumer still held mapped while probing may have been refilled by the
        // writer (a newer whole frame: a step goes back, -3 seen on 0.13 at the first step and at
        // the third, by no more than the two rings of 8 the writer can be ahead). So those steps
        // may be anything but further back than that; the rest must rise, and steadily.
        let probing = steps.prefix(heldWhileProbing)
        XCTAssertTrue(probing.allSatisfy { $0 >= -16 }, "\(name): frame numbers must not go back more than two rings, got steps \(steps)")
        steps.removeFirst(probing.count)
        XCTAssertTrue(steps.allSatisfy { $0 > 0 }, "\(name): frame numbers must rise, got steps \(steps)")
        let mean = Double(steps.reduce(0, +)) / Double(max(steps.count, 1))
        XCTAssertLessThan(mean, 1.5, "\(name): too many frames dropped, steps \(steps)")
    }

    func testMJPEGFromARealWriterIsDecodedToYUV420() throws {
        let line = try XCTUnwrap(ResultLine.all("CAPTURE", in: try vm().section("mjpeg")).first)
        XCTAssertNil(line["error"], line.text)
        XCTAssertEqual(line["format"], "mjpeg", line.text)
        XCTAssertEqual(line["pixfmt"], "yuv420p", line.text)
        XCTAssertEqual(line["size"], "320x240", line.text)
        XCTAssertEqual(line["range"], "full", "JPEG samples are full range: \(line.text)")
        XCTAssertGreaterThanOrEqual(line.int("frames") ?? 0, 45, "3 s at 30 fps, less ffmpeg's slow start: \(line.text)")
        XCTAssertEqual(line.int("corrupt"), 0, line.text)
        XCTAssertEqual(line.int("wrongsize"), 0, line.text)
        XCTAssertGreaterThan(line.int("rowspread") ?? 0, 100, "testsrc2's colours, not a blank: \(line.text)")
    }

    func testStalledStreamEndsInNoSignal() throws {
        let line = try XCTUnwrap(ResultLine.all("STALL", in: try vm().section("stall")).first)
        XCTAssertGreaterThan(line.int("frames") ?? 0, 20, line.text)
        XCTAssertEqual(line["outcome"], "noSignal", line.text)
        XCTAssertEqual(Double(line.int("stalledms") ?? 0), 1_250, accuracy: 300, "the 1 s stall limit: \(line.text)")
    }

    func testResilientSourceRecoversFromDisconnectAndUnplug() throws {
        let lines = try vm().section("resilient")
        let signals = ResultLine.all("SIGNAL", in: lines)
        let states = signals.map { $0.text.split(separator: " ")[1] }
        XCTAssertEqual(states, ["present", "lost", "present", "lost", "present"], lines.joined(separator: "\n"))
        for lost in signals where lost.text.hasPrefix("SIGNAL lost") {
            XCTAssertEqual(lost["reason"], "capture device /dev/video0 was lost", lost.text)
        }
        if signals.count == 5 {
            // The unbind keeps the device away for 3 s: the source keeps retrying meanwhile.
            let outage = (signals[4].double("t") ?? 0) - (signals[3].double("t") ?? 0)
            XCTAssertGreaterThan(outage, 2.5, lines.joined(separator: "\n"))
            XCTAssertLessThan(outage, 15, "backoff must stay short: \(lines.joined(separator: "\n"))")
        }
        let summary = try XCTUnwrap(ResultLine.all("RESILIENT", in: lines).first)
        XCTAssertEqual(summary.int("recoveries"), 2, summary.text)
        XCTAssertGreaterThanOrEqual(summary.int("failedreopens") ?? 0, 1, summary.text)
        XCTAssertEqual(summary.int("after"), 30, "streams again after coming back: \(summary.text)")
        XCTAssertGreaterThan(summary.int("before") ?? 0, 30, summary.text)
    }

    func testDRMOutputShowsTheFrameLetterboxedAndRestoresTheCRTC() throws {
        let run = try vm()
        let lines = try run.section("drm")
        let open = try XCTUnwrap(ResultLine.all("DRM_OPEN", in: lines).first, lines.joined(separator: "\n"))
        XCTAssertEqual(open["connector"], "Virtual-1", open.text)
        XCTAssertEqual(open.int("master"), 1, open.text)
        let closed = try XCTUnwrap(ResultLine.all("DRM_CLOSED", in: lines).first, lines.joined(separator: "\n"))
        XCTAssertEqual(closed.int("restored"), 1, "the CRTC shows what it showed before: \(closed.text)")
        XCTAssertNotEqual(closed.int("before_fb"), 0, closed.text)
        XCTAssertEqual(closed.int("flips"), 120, "every page flip's event arrived: \(closed.text)")

        let screen = try PPM(contentsOf: run.file("drm.ppm"))
        let mode = try XCTUnwrap(open["mode"]).split(separator: "@")[0].split(separator: "x").compactMap { Int($0) }
        XCTAssertEqual([screen.width, screen.height], mode)
        // A 16:9 picture on the mode: fitted to the width, centred, black above and below.
        let pictureHeight = screen.width * 9 / 16
        let top = (screen.height - pictureHeight) / 2
        XCTAssertGreaterThan(top, 0, "the mode is taller than 16:9, so there are bars")
        let quadrants: [(x: Int, y: Int, rgb: [Int], name: String)] = [
            (screen.width / 4, top + pictureHeight / 4, [255, 0, 0], "red"),
            (screen.width * 3 / 4, top + pictureHeight / 4, [0, 255, 0], "green"),
            (screen.width / 4, top + pictureHeight * 3 / 4, [0, 0, 255], "blue"),
            (screen.width * 3 / 4, top + pictureHeight * 3 / 4, [255, 255, 255], "white"),
            (screen.width / 2, top / 2, [0, 0, 0], "top bar"),
            (screen.width / 2, screen.height - top / 2, [0, 0, 0], "bottom bar"),
        ]
        for q in quadrants {
            let got = screen.pixel(q.x, q.y)
            XCTAssertTrue(zip(got, q.rgb).allSatisfy { abs($0 - $1) <= 12 }, "\(q.name) at \(q.x),\(q.y) is \(got)")
        }
        XCTAssertEqual(screen.pixel(screen.width / 2, top - 2), [0, 0, 0], "bar ends where the picture starts")
        XCTAssertNotEqual(screen.pixel(screen.width / 4, top + 2), [0, 0, 0], "picture starts below the bar")
    }
}

/// A binary PPM (P6), as QEMU's screendump writes it.
struct PPM {
    let width: Int
    let height: Int
    let pixels: [UInt8]

    init(contentsOf url: URL) throws {
        let data = [UInt8](try Data(contentsOf: url))
        var fields: [String] = []
        var i = 0
        while fields.count < 4 && i < data.count {
            while i < data.count && data[i] == UInt8(ascii: " ") || i < data.count && data[i] == UInt8(ascii: "\n") { i += 1 }
            var token = ""
            while i < data.count && data[i] != UInt8(ascii: " ") && data[i] != UInt8(ascii: "\n") {
                token.append(Character(UnicodeScalar(data[i])))
                i += 1
            }
            fields.append(token)
        }
        guard fields.count == 4, fields[0] == "P6", let w = Int(fields[1]), let h = Int(fields[2]), fields[3] == "255",
              data.count >= i + 1 + w * h * 3 else { throw VMError("\(url.path) is not a P6 PPM") }
        width = w
        height = h
        pixels = Array(data[(i + 1)...])
    }

    func pixel(_ x: Int, _ y: Int) -> [Int] {
        let offset = (y * width + x) * 3
        return pixels[offset..<(offset + 3)].map(Int.init)
    }
}
