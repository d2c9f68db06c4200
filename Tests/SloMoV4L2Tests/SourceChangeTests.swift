import CV4L2
@testable import SloMoV4L2
import XCTest

/// What the capture does on V4L2_EVENT_SOURCE_CHANGE (the VM's capture_source_change scenario
/// drives the ioctls themselves on vivid's HDMI input).
final class SourceChangeDecisionTests: XCTestCase {
    // CEA-861 / DMT timings as the kernel's v4l2-dv-timings.h defines them.
    static let vga = DVTimings(width: 640, height: 480, pixelClock: 25_175_000, totalWidth: 800, totalHeight: 525)
    static let ntsc = DVTimings(width: 720, height: 480, pixelClock: 27_000_000, totalWidth: 858, totalHeight: 525)
    static let resolution = UInt32(V4L2_EVENT_SRC_CH_RESOLUTION)

    func testAnHDMIInputIsRenegotiatedOnlyWhenItDetectsOtherTimings() {
        XCTAssertEqual(SourceChangeResponse.decide(changes: Self.resolution, dvInput: true, current: Self.vga, detected: Self.ntsc),
                       .renegotiate(timings: Self.ntsc))
        // The event also comes for a hotplug or a signal back as it was: nothing to restart.
        XCTAssertEqual(SourceChangeResponse.decide(changes: Self.resolution, dvInput: true, current: Self.vga, detected: Self.vga), .keep)
        // Only the rate differs (same size, another pixel clock): still a new stream.
        var faster = Self.vga
        faster.pixelClock = 31_500_000
        XCTAssertEqual(SourceChangeResponse.decide(changes: Self.resolution, dvInput: true, current: Self.vga, detected: faster),
                       .renegotiate(timings: faster))
    }

    func testAnHDMIInputWithoutALockedSignalIsLeftToTheStallPath() {
        XCTAssertEqual(SourceChangeResponse.decide(changes: Self.resolution, dvInput: true, current: Self.vga, detected: nil), .keep)
    }

    func testOtherInputsFollowTheDriversResolutionFlag() {
        XCTAssertEqual(SourceChangeResponse.decide(changes: Self.resolution, dvInput: false, current: nil, detected: nil),
                       .renegotiate(timings: nil))
        XCTAssertEqual(SourceChangeResponse.decide(changes: 0, dvInput: false, current: nil, detected: nil), .keep)
    }

    func testTimingsReadFromTheDriversStructure() {
        var timings = v4l2_dv_timings()
        timings.type = UInt32(V4L2_DV_BT_656_1120)
        timings.bt.width = 720
        timings.bt.height = 480
        timings.bt.pixelclock = 27_000_000
        (timings.bt.hfrontporch, timings.bt.hsync, timings.bt.hbackporch) = (16, 62, 60)
        (timings.bt.vfrontporch, timings.bt.vsync, timings.bt.vbackporch) = (9, 6, 30)
        let read = DVTimings(timings)
        XCTAssertEqual(read, Self.ntsc)
        XCTAssertEqual(read.description, "720x480p59.94")
        XCTAssertEqual(Self.vga.description, "640x480p59.94")
    }
}
