import Foundation
import XCTest

/// The VM tests' reading of ffmpeg's showinfo log, on lines as ffmpeg 5.1 writes them.
final class RecordingTests: XCTestCase {
    /// A guest up 1767 s: pts_time shows both first frames as 1767.04, the pts 4 ms apart.
    func testTimesComeFromThePtsAndTimeBaseNotTheRoundedPtsTime() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recording-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let prefix = "[Parsed_showinfo_0 @ 0x564be5dd7b00]"
        let log = """
            \(prefix) config in time_base: 1/1000000, frame_rate: 4/1
            \(prefix) config out time_base: 0/0, frame_rate: 0/0
            \(prefix) n:   0 pts:1767040457 pts_time:1767.04 pos:       -1 fmt:yuv420p sar:0/1 s:4x2 i:P iskey:1 type:I
            \(prefix) n:   1 pts:1767044449 pts_time:1767.04 pos:       -1 fmt:yuv420p sar:0/1 s:4x2 i:P iskey:1 type:I
            \(prefix) n:   2 pts:   296546 pts_time:0.296546 pos:       -1 fmt:yuv420p sar:0/1 s:4x2 i:P iskey:1 type:I

            """
        let logFile = folder.appendingPathComponent("x-ffmpeg.log"), frames = folder.appendingPathComponent("x.gray")
        try log.write(to: logFile, atomically: true, encoding: .utf8)
        try Data(count: 3 * 8).write(to: frames)
        let recording = try Recording(log: logFile, frames: frames, width: 4, height: 2)
        XCTAssertEqual(recording.times.count, 3)
        XCTAssertEqual(recording.times[0], 1767.040457, accuracy: 1e-7)
        XCTAssertEqual(recording.times[1], 1767.044449, accuracy: 1e-7)
        XCTAssertEqual(recording.times[2], 0.296546, accuracy: 1e-7, "a padded pts")
        XCTAssertEqual(recording.backwards, 1, "only the third frame goes back")
        XCTAssertEqual(recording.sizes, ["4x2", "4x2", "4x2"])
    }
}
