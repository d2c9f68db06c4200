import CV4L2
import Glibc
import SloMoCore
import SloMoLinux

/// A v4l2loopback device that slomo writes and other programs (ffmpeg, GStreamer, browsers)
/// read as a camera.
///
/// One approach for every v4l2loopback version: S_FMT and S_PARM on the OUTPUT type, then
/// frames through write(2). v4l2loopback 0.13+ accepts STREAMON only on the handle that called
/// REQBUFS and streams write() without it; 0.12 streams write() too. The mmap OUTPUT path was
/// tried and dropped: 0.12's VIDIOC_DQBUF on OUTPUT hands back the buffer just queued, so a
/// writer refills the very frame readers are copying and they see it torn. write() copies into
/// the next slot of the driver's ring instead, the oldest one. One wrinkle: 0.12 counts a
/// handle as its writer only after STREAMON, and unless a writer closes, a device with
/// exclusive_caps=1 never offers OUTPUT again; so `open` also calls STREAMON, ignoring the
/// refusal 0.13+ gives a handle without REQBUFS.
/// With exclusive_caps=1 the device offers CAPTURE to consumers only after a first write, so
/// `open` writes a black frame: consumers can start as soon as it returns.
///
/// Readers share the driver's ring, so one that holds a buffer for longer than the ring lasts
/// can still see it overwritten; load v4l2loopback with `max_buffers=8` (0.12 defaults to 2).
///
/// The sink paces itself: `write` holds each frame until its slot on a steady clock at the
/// output rate (so consumers read an even stream even when frames arrive in bursts) and
/// resynchronizes when the producer falls more than one interval behind. The frame size is
/// set once at `open`; `setFrameRate` changes only the frame interval (S_PARM).
public final class LoopbackOutput: FrameSink {
    public let path: String
    public private(set) var frameRate = Rational(30)
    /// Valid after `open`.
    public private(set) var format: FrameFormat?
    /// Frames written since `open`, the black one included.
    public private(set) var framesWritten = 0

    private static let type = V4L2_BUF_TYPE_VIDEO_OUTPUT
    private var device: V4L2Device?
    private var interval: UInt64 = 0
    private var nextSlot: UInt64 = 0

    /// `device` is `/dev/videoN` or a symlink to it.
    public init(device: String) {
        path = device
    }

    deinit { close() }

    public func open(format: FrameFormat, frameRate: Rational) throws(OutputError) {
        close()
        do {
            try start(format: format, frameRate: frameRate)
        } catch {
            close()
            throw error
        }
    }

    private func start(format: FrameFormat, frameRate: Rational) throws(OutputError) {
        guard let v4l2Format = V4L2PixelFormat(format.pixelFormat) else {
            throw .unsupportedFormat(format.pixelFormat.rawValue)
        }
        let device: V4L2Device
        do {
            device = try V4L2Device(path: path)
        } catch {
            throw error.errno == ENOENT || error.errno == ENODEV || error.errno == ENXIO ? .noDevice(path: path) : .driver(error)
        }
        self.device = device
        try mapErrors {
            // Not a capability check: with exclusive_caps=1, v4l2loopback stops announcing OUTPUT
            // once a writer has streamed, even to the next writer. S_FMT on OUTPUT tells instead.
            let (caps, driver, card) = try device.capabilities()
            guard caps & UInt32(V4L2_CAP_READWRITE) != 0 else {
                throw OutputError.notAnOutputDevice(path: device.path, reason: "\(driver) (\(card)) takes no frames through write()")
            }
            var requested = v4l2_format()
            requested.type = Self.type.rawValue
            requested.fmt.pix.width = UInt32(format.width)
            requested.fmt.pix.height = UInt32(format.height)
            requested.fmt.pix.pixelformat = v4l2Format.fourcc
            requested.fmt.pix.field = V4L2_FIELD_NONE.rawValue
            requested.fmt.pix.bytesperline = UInt32(format.pixelFormat.planes(width: format.width, height: format.height)[0].stride)
            requested.fmt.pix.sizeimage = UInt32(format.byteCount)
            Self.describe(format, in: &requested.fmt.pix)
            do {
                try device.setFormat(&requested)
            } catch let error as SystemError where error.errno == EBUSY {
                throw OutputError.formatRejected("\(device.path) is busy with another format (a consumer is reading it)")
            } catch let error as SystemError where error.errno == EINVAL {
                throw OutputError.notAnOutputDevice(path: device.path, reason: "\(driver) (\(card)) has no video output")
            }
            let pix = requested.fmt.pix
            // The driver may round sizeimage up (v4l2loopback 0.12 to whole pages): a write of
            // one frame fills its start.
            guard pix.width == UInt32(format.width), pix.height == UInt32(format.height), pix.pixelformat == v4l2Format.fourcc,
                  pix.sizeimage >= UInt32(format.byteCount) else {
                throw OutputError.formatRejected("\(device.path) set \(V4L2PixelFormat.name(ofFourcc: pix.pixelformat)) \(pix.width)x\(pix.height) (\(pix.sizeimage) bytes) when asked for \(v4l2Format.rawValue) \(format.width)x\(format.height) (\(format.byteCount) bytes)")
            }
            // Only for 0.12's bookkeeping (see above); 0.13+ refuses it without REQBUFS, harmlessly.
            try? device.stream(true, type: Self.type)
        }
        self.format = format
        try setFrameRate(frameRate)
        framesWritten = 0
        nextSlot = Sys.monotonicNow()
        let black = UnsafeMutableRawBufferPointer.allocate(byteCount: format.byteCount, alignment: 64)
        defer { black.deallocate() }
        Self.fillBlack(black, format: format)
        try write(UnsafeRawBufferPointer(black), timestamp: nextSlot)
    }

    public func setFrameRate(_ frameRate: Rational) throws(OutputError) {
        guard let device else { preconditionFailure("LoopbackOutput.setFrameRate before open") }
        precondition(frameRate.numerator > 0, "a frame rate must be positive")
        try mapErrors {
            _ = try device.setFrameInterval(Rational(frameRate.denominator, frameRate.numerator), type: Self.type)
        }
        self.frameRate = frameRate
        interval = UInt64(1e9 / frameRate.doubleValue)
    }

    public func write(_ frame: UnsafeRawBufferPointer, timestamp: UInt64) throws(OutputError) {
        guard let device, let format else { preconditionFailure("LoopbackOutput.write before open") }
        guard frame.count == format.byteCount else { throw .wrongFrameSize(expected: format.byteCount, got: frame.count) }
        let now = Sys.monotonicNow()
        if now > nextSlot + interval { nextSlot = now }
        Sys.sleep(untilMonotonic: nextSlot)
        nextSlot += interval
        // v4l2loopback stamps the frame itself (at this write, its presentation time).
        let written = try mapErrors { try Sys.write(device.fd, frame) }
        guard written == frame.count else {
            throw .driver(SystemError(call: "write to \(device.path) took \(written) of \(frame.count) bytes", errno: EIO))
        }
        framesWritten += 1
    }

    public func close() {
        device = nil
        format = nil
    }

    /// Black in the frame's own format and range.
    private static func fillBlack(_ frame: UnsafeMutableRawBufferPointer, format: FrameFormat) {
        let luma: UInt8 = format.color.range == .full ? 0 : 16
        switch format.pixelFormat {
        case .rgb24, .bgr24, .xrgb8888:
            frame.initializeMemory(as: UInt8.self, repeating: 0)
        case .yuyv:
            for i in stride(from: 0, to: frame.count, by: 2) { frame[i] = luma; frame[i + 1] = 128 }
        case .uyvy:
            for i in stride(from: 0, to: frame.count, by: 2) { frame[i] = 128; frame[i + 1] = luma }
        case .yuv420p, .yuv422p, .yuv444p, .nv12:
            let lumaBytes = format.width * format.height
            frame[0..<lumaBytes].initializeMemory(as: UInt8.self, repeating: luma)
            frame[lumaBytes...].initializeMemory(as: UInt8.self, repeating: 128)
        }
    }

    /// Tells consumers how to read the samples (v4l2loopback passes this on to them).
    private static func describe(_ format: FrameFormat, in pix: inout v4l2_pix_format) {
        if format.pixelFormat.isRGB {
            pix.colorspace = V4L2_COLORSPACE_SRGB.rawValue
            return
        }
        pix.colorspace = (format.color.matrix == .bt709 ? V4L2_COLORSPACE_REC709 : V4L2_COLORSPACE_SMPTE170M).rawValue
        pix.ycbcr_enc = UInt32((format.color.matrix == .bt709 ? V4L2_YCBCR_ENC_709 : V4L2_YCBCR_ENC_601).rawValue)
        pix.quantization = UInt32((format.color.range == .full ? V4L2_QUANTIZATION_FULL_RANGE : V4L2_QUANTIZATION_LIM_RANGE).rawValue)
    }

    private func mapErrors<T>(_ body: () throws -> T) throws(OutputError) -> T {
        do {
            return try body()
        } catch let error as OutputError {
            throw error
        } catch let error as SystemError {
            throw error.errno == ENODEV ? .deviceLost(path: path) : .driver(error)
        } catch {
            preconditionFailure("unexpected \(error)")
        }
    }
}
