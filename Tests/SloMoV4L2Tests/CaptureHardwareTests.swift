import Foundation
import XCTest

/// Capture as hardware presents it, against the real drivers in one VM boot (Tests/vm/guest.sh):
/// vivid as a multi-planar camera (`multiplanar=2`, a node that speaks only the MPLANE API)
/// through V4L2Capture in every format slomo knows, and through slomod into a loopback that
/// ffmpeg reads; an MJPEG camera (ffmpeg writing MJPEG into a second v4l2loopback device)
/// through slomod into the output loopback; vivid's HDMI input as a capture card whose source
/// changes timings mid-stream, through V4L2Capture and through slomod. Without the VM tooling
/// (scripts/vm-deps.sh) these tests fail.
final class CaptureHardwareTests: XCTestCase {
    static let scenarios = ["capture_mplane", "daemon_mplane", "daemon_mjpeg", "capture_source_change", "daemon_source_change"]
    static let width = 320, height = 180
    static let inputRate = 2.0
    nonisolated(unsafe) private static var booted: Result<VMRun, Error>?

    private func vm() throws -> VMRun {
        if Self.booted == nil {
            Self.booted = Result {
                for name in ["slomod", "slomoctl"] {
                    let path = VMRun.probe.deletingLastPathComponent().appendingPathComponent(name).path
                    guard FileManager.default.isExecutableFile(atPath: path) else { throw VMError("\(name) not built at \(path)") }
                }
                return try VMRun.boot(scenarios: Self.scenarios)
            }
        }
        return try Self.booted!.get()
    }

    /// Y/Cb/Cr at the middle of each of the eight bars, as the probe reports them.
    private func bars(_ line: ResultLine) -> [[Int]] {
        (line["bars"] ?? "").split(separator: ",").map { $0.split(separator: "/").compactMap { Int($0) } }
    }

    // MARK: - V4L2Capture on a multi-planar camera

    func testMultiPlanarCameraDeliversTheSamePictureInEveryFormat() throws {
        let lines = try vm().section("capture_mplane")
        let caps = lines.filter { $0.hasPrefix("CAPS multiplanar=2 ") }
        XCTAssertTrue(caps.contains { $0.hasSuffix("Video Capture Multiplanar") }, "vivid speaks MPLANE: \(caps)")
        XCTAssertFalse(caps.contains { $0.hasSuffix("Video Capture") }, "and no single-planar capture: \(caps)")
        let captures = ResultLine.all("CAPTURE", in: lines)
        let requested = ["nv12m", "nv21m", "yu12m", "yv12m", "nv16m", "nv61m", "yuv422m",
                         "yuyv", "nv12", "yu12", "yv12", "nv16", "nv61", "yuv422p"]
        XCTAssertEqual(captures.map { $0["format"] ?? "?" }, requested, captures.map(\.text).joined(separator: "\n"))
        // NV12 is lent in place (vivid puts no header before it): the picture as the driver drew it.
        let reference = try XCTUnwrap(captures.first { $0["format"] == "nv12" }, "no nv12 capture")
        let expected = bars(reference)
        print("mplane: bars (Y/Cb/Cr) \(reference["bars"] ?? "")")
        XCTAssertEqual(expected.count, 8, reference.text)
        XCTAssertTrue(expected.allSatisfy { $0.count == 3 }, reference.text)
        if expected.count == 8 && expected.allSatisfy({ $0.count == 3 }) {
            // 75 % colour bars: white, yellow, cyan, green, magenta, red, blue, black. Luma falls
            // from left to right; yellow's Cb and cyan's Cr are low, blue's Cb and red's Cr high,
            // white and black are neutral: a swapped or misplaced chroma plane breaks these.
            let luma = expected.map { $0[0] }
            XCTAssertEqual(luma, luma.sorted(by: >), "luma falls across the bars: \(luma)")
            XCTAssertLessThan(expected[1][1], 100, "yellow's Cb: \(expected)")
            XCTAssertGreaterThan(expected[6][1], 156, "blue's Cb: \(expected)")
            XCTAssertLessThan(expected[2][2], 100, "cyan's Cr: \(expected)")
            XCTAssertGreaterThan(expected[5][2], 156, "red's Cr: \(expected)")
            for neutral in [0, 7] {
                XCTAssertEqual(Double(expected[neutral][1]), 128, accuracy: 6, "\(expected)")
                XCTAssertEqual(Double(expected[neutral][2]), 128, accuracy: 6, "\(expected)")
            }
        }
        for line in captures {
            XCTAssertNil(line["error"], line.text)
            XCTAssertEqual(line["api"], "mplane", line.text)
            XCTAssertEqual(line["size"], "320x180", line.text)
            XCTAssertEqual(line["rate"], "30", line.text)
            XCTAssertGreaterThanOrEqual(line.int("frames") ?? 0, 45, "2 s at 30 fps: \(line.text)")
            XCTAssertEqual(line.double("arrivalfps") ?? 0, 30, accuracy: 4, line.text)
            XCTAssertEqual(line.int("backwards"), 0, line.text)
            XCTAssertEqual(line.int("drivertimestamps"), 1, line.text)
            XCTAssertEqual(line.int("wrongsize"), 0, line.text)
            XCTAssertEqual(line.int("corrupt"), 0, line.text)
            // Every format repacked into the engine's frame shows the same picture, sample for
            // sample up to vivid's own rounding of each format's chroma.
            let got = bars(line)
            XCTAssertEqual(got.count, 8, line.text)
            for (bar, (a, b)) in zip(got, expected).enumerated() where a.count == 3 && b.count == 3 {
                XCTAssertTrue(zip(a, b).allSatisfy { abs($0 - $1) <= 3 }, "\(line["format"] ?? "?") bar \(bar): \(a), nv12 has \(b)")
            }
        }
        let best = try XCTUnwrap(ResultLine.all("BEST", in: lines).first, lines.joined(separator: "\n"))
        XCTAssertEqual(best["api"], "mplane", best.text)
        let size = (best["size"] ?? "0x0").split(separator: "x").compactMap { Int($0) }
        XCTAssertGreaterThanOrEqual(size.reduce(1, *), 640 * 360, "the best mode is a large one: \(best.text)")
        XCTAssertGreaterThanOrEqual(Double(best["rate"] ?? "0") ?? 0, 24, best.text)
        XCTAssertGreaterThan(best.int("frames") ?? 0, 20, best.text)
    }

    /// A consumer holding each frame 100 ms (three intervals at 30 fps) gets the newest frame
    /// each time: the older ones go back to the driver (drained), and the driver's sequence
    /// numbers show the gap.
    func testACaptureThatFallsBehindGetsTheFreshestFrame() throws {
        let lines = try vm().section("capture_mplane")
        let held = try XCTUnwrap(ResultLine.all("HELD", in: lines).first, lines.joined(separator: "\n"))
        print("drain: \(held.text)")
        XCTAssertNil(held["error"], held.text)
        let frames = held.int("frames") ?? 0, drained = held.int("drained") ?? 0
        XCTAssertGreaterThanOrEqual(frames, 15, "3 s at one frame per 100 ms and more: \(held.text)")
        XCTAssertGreaterThanOrEqual(drained, frames, "about two frames drained for each one lent: \(held.text)")
        XCTAssertGreaterThanOrEqual(held.int("skipped") ?? 0, drained, "every drained frame is a gap in the sequence: \(held.text)")
        // Without draining, each lent frame would be the oldest waiting one, three intervals old.
        XCTAssertLessThan(held.int("medianagems") ?? .max, 67, "the newest frame, under two intervals old: \(held.text)")
        XCTAssertEqual(held.int("backwards"), 0, held.text)
    }

    // MARK: - Through slomod

    func testMultiPlanarCameraThroughSlomodIntoALoopbackThatFFmpegReads() throws {
        let run = try vm()
        let lines = try run.section("daemon_mplane")
        XCTAssertTrue(lines.contains { $0.hasPrefix("FMT") && $0.contains("Multiplanar") }, "slomod set an MPLANE format: \(lines.joined(separator: "\n"))")
        let recording = try checkDaemonRun(run, lines: lines, name: "mplane")
        let stats = try daemonStats(lines)
        XCTAssertEqual(stats["imported"] as? NSNumber, stats["captured"] as? NSNumber, "vivid's buffers imported as dma-bufs: \(stats)")
        // vivid's bars as the probe read them (limited range), as ffmpeg's gray shows them (full).
        let probed = try XCTUnwrap(ResultLine.all("CAPTURE", in: try run.section("capture_mplane")).first { $0["format"] == "nv12" })
        let levels = bars(probed).compactMap(\.first).map { (Double($0) - 16) * 255 / 219 }
        XCTAssertEqual(levels.count, 8, probed.text)
        // The bars move 6 pixels a frame; each of the eight, 40 pixels wide, shows in every
        // frame along a row below vivid's text, real or synthesised.
        let row = Self.height * 19 / 20
        var missing: [String] = []
        for frame in recording.window {
            let pixels = (0..<Self.width).map { Double(recording.recording.luma[frame * recording.recording.frameBytes + row * Self.width + $0]) }
            for level in levels where pixels.filter({ abs($0 - level) <= 6 }).count < 20 { missing.append("\(frame): \(Int(level))") }
        }
        XCTAssertEqual(missing, [], "bars missing from frames (frame: luma); levels \(levels.map { Int($0) })")
    }

    func testMJPEGCameraThroughSlomodIntoALoopbackThatFFmpegReads() throws {
        let run = try vm()
        let lines = try run.section("daemon_mjpeg")
        XCTAssertTrue(lines.contains { $0.hasPrefix("PARM") && $0.contains("2.000") }, "the camera runs at 2 fps: \(lines.joined(separator: "\n"))")
        let recording = try checkDaemonRun(run, lines: lines, name: "mjpeg")
        // Decoded on the CPU, so nothing to import.
        XCTAssertEqual((try daemonStats(lines)["imported"] as? NSNumber)?.intValue, 0)
        // testsrc2 keeps about a third of its pixels the same in every frame: those must show in
        // every output frame. slomod writes JPEG's full-range samples and ffmpeg reads the
        // loopback as limited range (it ignores V4L2's quantization field), so the source is
        // compared as it is and as that expansion makes it; the better of the two must match.
        let source = [UInt8](try Data(contentsOf: run.file("testsrc2.gray")))
        let frameBytes = Self.width * Self.height
        let count = source.count / frameBytes
        XCTAssertGreaterThanOrEqual(count, 20)
        let fixed = (0..<frameBytes).filter { i in (1..<count).allSatisfy { source[$0 * frameBytes + i] == source[i] } }
        XCTAssertGreaterThan(fixed.count, frameBytes / 5, "testsrc2 has fixed parts")
        let errors = recording.window.map { frame -> (frame: Int, error: Double) in
            let base = frame * recording.recording.frameBytes
            var same = 0.0, expanded = 0.0
            for i in fixed {
                let got = Double(recording.recording.luma[base + i]), want = Double(source[i])
                same += abs(got - want)
                expanded += abs(got - ((want - 16) * 255 / 219).clamped(0, 255))
            }
            return (frame, min(same, expanded) / Double(fixed.count))
        }
        // At ×2 the camera's frames and the synthesised ones alternate. The camera's show its fixed
        // parts as they are (JPEG's loss only: about 1 level); a motion-compensated frame may lay a
        // moving part over them on its way (testsrc2 at 2 fps moves its band by a third of the
        // picture a frame: measured up to 12 levels with flow/fast), so it gets a looser bound
        // that a wrong picture or range still fails.
        let phases = [errors.filter { $0.frame % 2 == 0 }, errors.filter { $0.frame % 2 == 1 }]
        let worst = phases.map { $0.map(\.error).max() ?? 0 }
        let camera = worst[0] <= worst[1] ? 0 : 1
        func far(_ phase: Int, _ limit: Double) -> [String] {
            phases[phase].filter { $0.error > limit }.map { "\($0.frame): \(String(format: "%.1f", $0.error))" }
        }
        XCTAssertEqual(far(camera, 4), [], "camera frames whose fixed parts differ from testsrc2's (frame: mean absolute luma difference)")
        XCTAssertEqual(far(1 - camera, 16), [], "synthesised frames far from testsrc2's fixed parts (frame: mean absolute luma difference)")
    }

    // MARK: - An HDMI source that changes timings

    /// vivid's HDMI source switches from 640x480p59 to 720x480p59 mid-stream: V4L2Capture takes
    /// the change up once, in place, and lends every frame in its own format.
    func testHDMISourceChangeIsTakenUpMidStream() throws {
        let lines = try vm().section("capture_source_change")
        let capture = try XCTUnwrap(ResultLine.all("CAPTURE", in: lines).first, lines.joined(separator: "\n"))
        print("source change: \(capture.text)")
        XCTAssertNil(capture["error"], capture.text)
        XCTAssertEqual(capture.int("changes"), 1, capture.text)
        XCTAssertEqual(capture["timings"], "720x480p59.94", capture.text)
        XCTAssertEqual(capture["size"], "720x480", capture.text)
        XCTAssertEqual(capture.int("wrongsize"), 0, "frames whose size is not their format's, or not the capture's: \(capture.text)")
        XCTAssertEqual(capture.int("corrupt"), 0, capture.text)
        XCTAssertEqual(capture.int("backwards"), 0, capture.text)
        // The old size, then the new one, each for a while (at about 60 fps).
        let runs = (capture["sizes"] ?? "").split(separator: ",").map { $0.split(separator: ":").map(String.init) }
        XCTAssertEqual(runs.map { $0.first ?? "" }, ["640x480", "720x480"], capture.text)
        XCTAssertTrue(runs.allSatisfy { (Int($0.last ?? "") ?? 0) >= 30 }, capture.text)
    }

    /// The same change through slomod: the output ffmpeg reads keeps its size and its cadence
    /// across the change, slomod stays up and keeps capturing, and `status` shows the source's
    /// new size. (Under TCG each new frame's fit takes about a second, past any latency bound, so
    /// the output holds its last frame: the fitted picture is checked on the host, in
    /// SloMoDaemonTests.SourceChangeTests.)
    func testHDMISourceChangeThroughSlomodKeepsTheOutputGoing() throws {
        let run = try vm()
        let lines = try run.section("daemon_source_change")
        let text = lines.joined(separator: "\n")
        XCTAssertTrue(lines.contains("DAEMON_EXIT rc=0"), "SIGTERM: a clean exit\n\(text)")
        let before = try reply("STATUS_BEFORE", in: lines), after = try reply("STATUS_AFTER", in: lines)
        XCTAssertEqual(number(before, "input_width"), 640)
        XCTAssertEqual(number(before, "source_changes"), 0)
        XCTAssertEqual(after["signal"] as? String, "present")
        XCTAssertEqual([number(after, "input_width"), number(after, "input_height")], [720, 480], "\(after)")
        XCTAssertGreaterThanOrEqual(number(after, "source_changes"), 1)
        XCTAssertEqual([number(after, "width"), number(after, "height")], [640, 480], "the pipeline keeps its size: \(after)")
        // From the first frame of the new size on (the fitter made), frames of it keep coming in:
        // under TCG about one a second, each fit taking that long.
        let capturedAtChange = number(try reply("STATS_TAKEN_UP", in: lines), "captured")
        let stats = try reply("STATS", in: lines)
        XCTAssertEqual(number(stats, "source_changes"), 1, "\(stats)")
        XCTAssertGreaterThanOrEqual(number(stats, "captured") - capturedAtChange, 5, "the capture goes on after the change: \(stats)")

        let events = ResultLine.all("EVENT", in: run.output.components(separatedBy: "\n"))
        func event(_ key: String) throws -> Double {
            try XCTUnwrap(events.first { $0.text.hasPrefix("EVENT \(key) ") }?.double("t"), "no EVENT \(key)")
        }
        let (change, takenUp, end) = (try event("hdmi_change"), try event("hdmi_taken_up"), try event("hdmi_end"))
        let frames = try Recording.frames(log: run.file("hdmi-ffmpeg.log"))
        XCTAssertEqual(Set(frames.map(\.size)), ["640x480"], "one output size throughout")
        let times = frames.map(\.time).filter { $0 >= change && $0 < end }
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        let longest = gaps.max() ?? .infinity
        print("hdmi: \(times.count) frames from the change to the end (\(String(format: "%.1f", end - change)) s), "
              + "\(times.filter { $0 >= takenUp }.count) after slomod took it up, longest gap \(Int(longest * 1000)) ms")
        XCTAssertEqual(zip(frames, frames.dropFirst()).filter { $1.time <= $0.time }.count, 0, "timestamps rise through the whole recording")
        XCTAssertGreaterThan(times.filter { $0 >= takenUp }.count, 50, "frames keep coming after the change")
        XCTAssertLessThan(longest, 1.0, "the output keeps its cadence across the change (held frames fill the restart)")
    }

    /// slomod ran from `NAME_steady` to `NAME_end` at ×2 over a 2 fps camera: the consumer saw 4
    /// fps, evenly spaced, one size, a picture that moves. Returns the recording and that window.
    /// The daemon's `stats` reply, as the scenario took it before stopping the daemon.
    private func daemonStats(_ lines: [String]) throws -> [String: Any] {
        let statsLine = try XCTUnwrap(lines.first { $0.hasPrefix("STATS ") }, lines.joined(separator: "\n"))
        let json = try JSONSerialization.jsonObject(with: Data(statsLine.dropFirst(6).utf8)) as? [String: Any]
        return try XCTUnwrap(json?["result"] as? [String: Any], statsLine)
    }

    private func checkDaemonRun(_ run: VMRun, lines: [String], name: String) throws -> (recording: Recording, window: Range<Int>) {
        let text = lines.joined(separator: "\n")
        XCTAssertTrue(lines.contains("DAEMON_EXIT rc=0"), "SIGTERM: a clean exit\n\(text)")
        XCTAssertTrue(lines.contains { $0 == "CONSUMER rc=255" || $0 == "CONSUMER rc=0" }, text)
        let stats = try daemonStats(lines)
        let captured = (stats["captured"] as? NSNumber)?.doubleValue ?? 0
        let delivered = (stats["delivered"] as? NSNumber)?.doubleValue ?? 0
        XCTAssertGreaterThan(captured, 20, "\(stats)")
        XCTAssertEqual(delivered / max(captured, 1), 2, accuracy: 0.2, "\(stats)")
        XCTAssertEqual((stats["output_fps"] as? NSNumber)?.doubleValue, 4, "\(stats)")

        let events = ResultLine.all("EVENT", in: run.output.components(separatedBy: "\n"))
        func event(_ key: String) throws -> Double {
            try XCTUnwrap(events.first { $0.text.hasPrefix("EVENT \(key) ") }?.double("t"), "no EVENT \(key)")
        }
        let (start, end) = (try event("\(name)_steady"), try event("\(name)_end"))
        let recording = try Recording(log: run.file("\(name)-ffmpeg.log"), frames: run.file("\(name).gray"), width: Self.width, height: Self.height)
        let window = recording.frames(from: start, to: end)
        let rate = Double(window.count) / (end - start)
        let intervals = recording.intervals(window)
        print("\(name): \(window.count) frames in \(String(format: "%.1f", end - start)) s = \(String(format: "%.2f", rate)) fps, intervals (ms) \(intervals)")
        XCTAssertEqual(rate, 2 * Self.inputRate, accuracy: 0.4, "scale 2 × the camera's 2 fps")
        XCTAssertEqual(intervals.sorted()[intervals.count / 2], 250, accuracy: 25, "median interval: \(intervals)")
        XCTAssertEqual(recording.backwards, 0, "timestamps rise through the whole recording")
        XCTAssertEqual(Set(recording.sizes), ["\(Self.width)x\(Self.height)"], "one frame size throughout")

        let frames = Array(window)
        XCTAssertGreaterThan(frames.count, 20, name)
        let moving = zip(frames, frames.dropFirst()).filter { recording.meanSquaredDifference($0, $1) > 0 }.count
        XCTAssertGreaterThanOrEqual(Double(moving), 0.8 * Double(max(frames.count - 1, 1)), "\(name): the picture moves")
        return (recording, window)
    }
}

private extension Double {
    func clamped(_ low: Double, _ high: Double) -> Double { Swift.min(Swift.max(self, low), high) }
}
