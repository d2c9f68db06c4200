import CV4L2
import Glibc
import SloMoCore
import SloMoLinux

/// A v4l2loopback device that slomo writes and other programs (ffmpeg, GStreamer, browsers)
/// read as a camera.
///
/// One approach for every v4l2loopback version: mmap OUTPUT streaming on one fd — S_FMT,
/// S_PARM, REQBUFS, QBUF/DQBUF and STREAMON all on the handle that opened it. v4l2loopback
/// 0.13+ accepts STREAMON only from the handle that called REQBUFS and never streams from the
/// write() path, and 0.12 accepts this sequence as well; it is also how GStreamer's v4l2sink
/// feeds it. With exclusive_caps=1 the device offers CAPTURE to consumers from STREAMON on,
/// which `open` issues, so consumers can start as soon as `open` returns.
///
/// v4l2loopback shares its buffers between the writer and every reader, so a reader that
/// holds a buffer for longer than the ring lasts (`bufferCount` frame intervals) can see it
/// overwritten; the default asks for 8, which v4l2loopback grants only when loaded with
/// `max_buffers=8` (0.12 defaults to 2: load it with that option).
///
/// The sink paces itself: `write` holds each frame until its slot on a steady clock at the
/// output rate (so consumers read an even stream even when frames arrive in bursts) and
/// resynchronizes when the producer falls more than one interval behind. The frame size is
/// set once at `open`; `setFrameRate` changes only the frame interval (S_PARM).
public final class LoopbackOutput: FrameSink {
    public let path: String
    public let bufferCount: Int
    public private(set) var frameRate = Rational(30)
    /// Valid after `open`.
    public private(set) var format: FrameFormat?
    /// Frames written since `open`.
    public private(set) var framesWritten = 0
    /// Buffers the driver granted (REQBUFS may give fewer than asked).
    public var grantedBuffers: Int { buffers.count }

    private static let type = V4L2_BUF_TYPE_VIDEO_OUTPUT
    private var device: V4L2Device?
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    /// Buffers not queued to the driver, free to fill.
    private var idle: [Int] = []
    private var interval: UInt64 = 0
    private var nextSlot: UInt64 = 0

    /// `device` is `/dev/videoN` or a symlink to it.
    public init(device: String, bufferCount: Int = 8) {
        path = device
        self.bufferCount = bufferCount
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
            let (caps, driver, card) = try device.capabilities()
            guard caps & UInt32(V4L2_CAP_VIDEO_OUTPUT) != 0, caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
                throw OutputError.notAnOutputDevice(path: device.path, reason: "\(driver) (\(card)) has no streaming video output")
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
            }
            let pix = requested.fmt.pix
            guard pix.width == UInt32(format.width), pix.height == UInt32(format.height), pix.pixelformat == v4l2Format.fourcc else {
                throw OutputError.formatRejected("\(device.path) set \(V4L2PixelFormat.name(ofFourcc: pix.pixelformat)) \(pix.width)x\(pix.height) when asked for \(v4l2Format.rawValue) \(format.width)x\(format.height)")
            }
            let granted = try device.requestBuffers(bufferCount, type: Self.type)
            guard granted >= 1 else {
                throw OutputError.driver(SystemError(call: "VIDIOC_REQBUFS on \(device.path) granted no buffers", errno: ENOMEM))
            }
            for index in 0..<granted {
                let mapping = try device.mapBuffer(index, type: Self.type)
                guard mapping.count >= format.byteCount else {
                    Sys.munmap(mapping)
                    throw OutputError.formatRejected("\(device.path) buffers hold \(mapping.count) bytes, a frame needs \(format.byteCount)")
                }
                buffers.append(mapping)
            }
            idle = Array(0..<granted)
            try device.stream(true, type: Self.type)
        }
        self.format = format
        try setFrameRate(frameRate)
        framesWritten = 0
        nextSlot = Sys.monotonicNow()
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
        try mapErrors {
            let index = try takeIdleBuffer(device)
            buffers[index].copyMemory(from: frame)
            var buffer = v4l2_buffer()
            buffer.index = UInt32(index)
            buffer.type = Self.type.rawValue
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            buffer.bytesused = UInt32(frame.count)
            buffer.field = V4L2_FIELD_NONE.rawValue
            buffer.timestamp = timeval(tv_sec: Int(timestamp / 1_000_000_000), tv_usec: Int(timestamp % 1_000_000_000 / 1_000))
            try device.queue(&buffer)
        }
        framesWritten += 1
    }

    /// A buffer to fill: one never queued, else the oldest the driver has finished with.
    private func takeIdleBuffer(_ device: V4L2Device) throws -> Int {
        if let index = idle.popLast() { return index }
        let deadline = Sys.monotonicNow() + 1_000_000_000
        while Sys.monotonicNow() < deadline {
            if let buffer = try device.dequeue(type: Self.type) { return Int(buffer.index) }
            _ = try Sys.poll(device.fd, events: Int16(POLLOUT), timeoutNanoseconds: 100_000_000)
        }
        throw OutputError.driver(SystemError(call: "VIDIOC_DQBUF on \(device.path): no buffer returned in 1 s", errno: ETIMEDOUT))
    }

    public func close() {
        if let device {
            try? device.stream(false, type: Self.type)
        }
        buffers.forEach(Sys.munmap)
        buffers = []
        idle = []
        if let device {
            _ = try? device.requestBuffers(0, type: Self.type)
        }
        device = nil
        format = nil
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
