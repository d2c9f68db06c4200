import SloMoCore
@testable import SloMoV4L2
import XCTest

/// Mode choice from what a device enumerates (the VM tests cover the ioctls themselves).
final class NegotiationTests: XCTestCase {
    /// A UVC-like camera: YUYV is slow at large sizes, MJPEG is fast at all of them.
    private let webcam: [FormatOffer] = {
        let sizes = FrameSizes.discrete([FrameSize(width: 640, height: 480), FrameSize(width: 1280, height: 720), FrameSize(width: 1920, height: 1080)])
        let yuyv = FormatOffer(format: .yuyv, sizes: sizes) { size in
            .discrete(size.width == 640 ? [Rational(1, 30), Rational(1, 15)] : [Rational(1, 10), Rational(1, 5)])
        }
        let mjpeg = FormatOffer(format: .mjpeg, sizes: sizes) { _ in .discrete([Rational(1, 30), Rational(1, 60)]) }
        return [yuyv, mjpeg]
    }()

    private func choose(_ offers: [FormatOffer], width: Int? = nil, height: Int? = nil, rate: Rational? = nil,
                        format: V4L2PixelFormat? = nil) -> CaptureMode? {
        negotiate(offers: offers, width: width, height: height, rate: rate, pixelFormat: format,
                  fallbackSize: FrameSize(width: 640, height: 480))
    }

    func testBestIsTheLargestPictureAtAUsableRate() {
        XCTAssertEqual(choose(webcam), CaptureMode(format: .mjpeg, size: FrameSize(width: 1920, height: 1080), rate: Rational(60)))
    }

    func testUncompressedWinsWhenItMatchesTheRequest() {
        XCTAssertEqual(choose(webcam, width: 640, height: 480, rate: Rational(30)),
                       CaptureMode(format: .yuyv, size: FrameSize(width: 640, height: 480), rate: Rational(30)))
    }

    func testRequestedFormatIsRequiredAndTheRateComesClosest() {
        XCTAssertEqual(choose(webcam, width: 1280, height: 720, rate: Rational(25), format: .yuyv),
                       CaptureMode(format: .yuyv, size: FrameSize(width: 1280, height: 720), rate: Rational(10)))
        XCTAssertNil(choose(webcam, format: .nv12))
    }

    func testNearestDiscreteSizeWhenTheRequestedOneIsMissing() {
        XCTAssertEqual(choose(webcam, width: 1300, height: 700, format: .mjpeg)?.size, FrameSize(width: 1280, height: 720))
    }

    func testStepwiseSizesSnapAndContinuousRatesClamp() {
        let card = FormatOffer(format: .uyvy, sizes: .range(width: 64...1920, widthStep: 16, height: 64...1080, heightStep: 8)) { _ in
            .range(shortest: Rational(1, 60), longest: Rational(1, 1))
        }
        XCTAssertEqual(choose([card], width: 1000, height: 563, rate: Rational(120)),
                       CaptureMode(format: .uyvy, size: FrameSize(width: 992, height: 560), rate: Rational(60)))
        XCTAssertEqual(choose([card]), CaptureMode(format: .uyvy, size: FrameSize(width: 1920, height: 1080), rate: nil),
                       "no request on a continuous range keeps the device's rate")
    }

    func testDriversThatDoNotEnumerateUseTheRequestOrTheCurrentSize() {
        let silent = FormatOffer(format: .yuyv, sizes: nil) { _ in nil }
        XCTAssertEqual(choose([silent]), CaptureMode(format: .yuyv, size: FrameSize(width: 640, height: 480), rate: nil))
        XCTAssertEqual(choose([silent], width: 800, height: 600, rate: Rational(25)),
                       CaptureMode(format: .yuyv, size: FrameSize(width: 800, height: 600), rate: nil))
    }

    /// A node that speaks both APIs (as vivid can) is driven through the single-planar one; a
    /// node that offers only the multi-planar API (HDMI capture cards, SoC pipelines) still works.
    func testSinglePlanarIsPreferredAndMultiPlanarOnlyDevicesWork() {
        let sizes = FrameSizes.discrete([FrameSize(width: 1280, height: 720)])
        let rates: (FrameSize) -> FrameIntervals? = { _ in .discrete([Rational(1, 30)]) }
        let single = FormatOffer(format: .nv12, sizes: sizes, intervals: rates)
        let multi = [FormatOffer(format: .nv12, sizes: sizes, multiPlanar: true, intervals: rates),
                     FormatOffer(format: .nv12m, sizes: sizes, multiPlanar: true, intervals: rates)]
        let mode = CaptureMode(format: .nv12, size: FrameSize(width: 1280, height: 720), rate: Rational(30))
        XCTAssertEqual(choose(multi + [single]), mode)
        XCTAssertEqual(choose(multi), CaptureMode(format: .nv12, size: mode.size, rate: Rational(30), multiPlanar: true))
        XCTAssertEqual(choose(multi, format: .nv12m), CaptureMode(format: .nv12m, size: mode.size, rate: Rational(30), multiPlanar: true))
    }

    func testFourccsRoundTrip() {
        for format in V4L2PixelFormat.allCases {
            XCTAssertEqual(V4L2PixelFormat(fourcc: format.fourcc), format)
        }
        XCTAssertEqual(V4L2PixelFormat.name(ofFourcc: V4L2PixelFormat.yuyv.fourcc), "YUYV")
        XCTAssertEqual(V4L2PixelFormat(.yuv420p), .yu12)
        XCTAssertEqual(V4L2PixelFormat(.xrgb8888), .xbgr32)
        XCTAssertNil(V4L2PixelFormat(.yuv444p))
    }

    func testOnlyDeviceTroubleIsTransient() {
        XCTAssertTrue(CaptureError.deviceLost(path: "/dev/video0").isTransient)
        XCTAssertTrue(CaptureError.noSignal(path: "/dev/video0", stalledNanoseconds: 1).isTransient)
        XCTAssertFalse(CaptureError.formatUnavailable("x").isTransient)
        XCTAssertFalse(CaptureError.deviceLost(path: "/dev/video0").description.contains("\n"))
    }
}
