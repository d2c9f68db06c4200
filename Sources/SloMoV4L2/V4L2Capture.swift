import CV4L2
import Glibc
import SloMoCore
import SloMoLinux

/// What a user asks of a capture device: a value, apart from the fds and mappings a reopen
/// rebuilds. Every field but the device is optional; what is left out is chosen by
/// `V4L2Capture` as the best the device offers.
public struct CaptureConfig: Equatable, Sendable {
    /// `/dev/videoN` or a stable name such as `/dev/v4l/by-id/...` (symlinks are resolved).
    public var device: String
    public var width: Int?
    public var height: Int?
    public var frameRate: Rational?
    public var pixelFormat: V4L2PixelFormat?
    /// Buffers in the mmap ring; the driver may grant more.
    public var bufferCount: Int
    /// A stream with no frame for this many frame intervals (at least `minimumStall`) has lost its signal.
    public var stallIntervals: Int
    public var minimumStallNanoseconds: UInt64

    public init(device: String, width: Int? = nil, height: Int? = nil, frameRate: Rational? = nil,
                pixelFormat: V4L2PixelFormat? = nil, bufferCount: Int = 4, stallIntervals: Int = 10,
                minimumStallNanoseconds: UInt64 = 1_000_000_000) {
        self.device = device
        self.width = width
        self.height = height
        self.frameRate = frameRate
        self.pixelFormat = pixelFormat
        self.bufferCount = bufferCount
        self.stallIntervals = stallIntervals
        self.minimumStallNanoseconds = minimumStallNanoseconds
    }
}

/// A V4L2 camera or capture card, streaming through a ring of mmap buffers.
///
/// Each dequeued buffer is lent to the closure given to `next` and queued back to the driver
/// (VIDIOC_QBUF) as soon as the closure returns, so a buffer has one owner at a time and none
/// can leak. Timestamps are the driver's when it stamps CLOCK_MONOTONIC, otherwise taken at
/// dequeue. MJPEG is decoded to yuv420p; every other format is lent as the driver wrote it,
/// repacked only when the driver pads rows.
public final class V4L2Capture: FrameSource {
    public let config: CaptureConfig
    public private(set) var format = FrameFormat(width: 0, height: 0, pixelFormat: .yuyv, color: .guess(height: 0))
    public private(set) var frameRate = Rational(30)
    /// What the device sends (differs from `format.pixelFormat` for MJPEG). Valid after `open`.
    public private(set) var deviceFormat: V4L2PixelFormat = .yuyv
    /// The node actually opened, after resolving symlinks. Valid after `open`.
    public private(set) var devicePath = ""
    /// Whether timestamps come from the driver (V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC).
    public private(set) var driverTimestamps = false
    /// Frames dropped because the driver flagged them or they failed to decode.
    public private(set) var corruptFrames = 0

    private static let type = V4L2_BUF_TYPE_VIDEO_CAPTURE
    private var device: V4L2Device?
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private var decoder: MJPEGDecoder?
    /// Where frames go when the driver pads rows (bytesperline wider than the picture).
    private var repacked: UnsafeMutableRawBufferPointer?
    private var bytesPerLine = 0
    private var lastFrameAt: UInt64 = 0
    private var stallLimit: UInt64 = 0
    private var sequenceHigh: UInt64 = 0
    private var lastSequence: UInt32 = 0

    public init(_ config: CaptureConfig) {
        self.config = config
    }

    deinit { close() }

    public func open() throws(CaptureError) {
        close()
        do {
            try start()
        } catch {
            close()
            throw error
        }
    }

    private func start() throws(CaptureError) {
        let device: V4L2Device
        do {
            device = try V4L2Device(path: config.device)
        } catch {
            throw Self.classify(error, path: config.device, opening: true)
        }
        self.device = device
        devicePath = device.path
        try mapErrors(device.path) {
            let (caps, driver, card) = try device.capabilities()
            guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else {
                throw CaptureError.notACaptureDevice(path: device.path, reason: "\(driver) (\(card)) has no single-planar video capture")
            }
            guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
                throw CaptureError.notACaptureDevice(path: device.path, reason: "\(driver) (\(card)) cannot stream")
            }
            let mode = try chooseMode(device)
            try apply(mode, on: device)
            try startStreaming(device)
        }
    }

    private func chooseMode(_ device: V4L2Device) throws -> CaptureMode {
        var offers: [FormatOffer] = []
        var unknown: [String] = []
        for fourcc in try device.formats(type: Self.type) {
            guard let format = V4L2PixelFormat(fourcc: fourcc) else {
                unknown.append(V4L2PixelFormat.name(ofFourcc: fourcc))
                continue
            }
            let sizes = try device.frameSizes(fourcc: fourcc)
            var intervals: [FrameSize: FrameIntervals?] = [:]
            for size in sizes?.candidates(width: config.width, height: config.height) ?? [] {
                intervals[size] = try device.frameIntervals(fourcc: fourcc, size: size)
            }
            offers.append(FormatOffer(format: format, sizes: sizes, intervals: { intervals[$0] ?? nil }))
        }
        let current = try device.getFormat(type: Self.type).fmt.pix
        let fallback = FrameSize(width: Int(current.width), height: Int(current.height))
        guard let mode = negotiate(offers: offers, width: config.width, height: config.height, rate: config.frameRate,
                                   pixelFormat: config.pixelFormat, fallbackSize: fallback) else {
            let offered = offers.map(\.format.rawValue) + unknown
            throw CaptureError.formatUnavailable("\(device.path) offers \(offered.joined(separator: ", ")), none usable as requested")
        }
        return mode
    }

    private func apply(_ mode: CaptureMode, on device: V4L2Device) throws {
        var requested = v4l2_format()
        requested.type = Self.type.rawValue
        requested.fmt.pix.width = UInt32(mode.size.width)
        requested.fmt.pix.height = UInt32(mode.size.height)
        requested.fmt.pix.pixelformat = mode.format.fourcc
        requested.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        try device.setFormat(&requested)
        let pix = requested.fmt.pix
        guard let got = V4L2PixelFormat(fourcc: pix.pixelformat), got == mode.format else {
            throw CaptureError.formatUnavailable("\(device.path) set \(V4L2PixelFormat.name(ofFourcc: pix.pixelformat)) when asked for \(mode)")
        }
        deviceFormat = got
        let pixelFormat = got.pixelFormat ?? .yuv420p
        format = FrameFormat(width: Int(pix.width), height: Int(pix.height), pixelFormat: pixelFormat,
                             color: colorSpace(of: pix, isRGB: pixelFormat.isRGB, compressed: got.isCompressed))
        bytesPerLine = Int(pix.bytesperline)
        // With no rate to set, keep and report the device's own; 30 fps only where it has none.
        let interval = try mode.rate.map { try device.setFrameInterval(Rational($0.denominator, $0.numerator), type: Self.type) }
            ?? device.frameInterval(type: Self.type)
        frameRate = interval.map { Rational($0.denominator, $0.numerator) } ?? mode.rate ?? Rational(30)
        let intervalNanoseconds = UInt64(1e9 / frameRate.doubleValue)
        stallLimit = max(config.minimumStallNanoseconds, UInt64(config.stallIntervals) * intervalNanoseconds)
    }

    private func startStreaming(_ device: V4L2Device) throws {
        let count = try device.requestBuffers(config.bufferCount, type: Self.type)
        guard count >= 2 else {
            throw CaptureError.driver(SystemError(call: "VIDIOC_REQBUFS on \(device.path) granted \(count) buffers", errno: ENOMEM))
        }
        for index in 0..<count {
            buffers.append(try device.mapBuffer(index, type: Self.type))
            var buffer = Self.emptyBuffer(index)
            try device.queue(&buffer)
        }
        if deviceFormat.isCompressed {
            decoder = try MJPEGDecoder(width: format.width, height: format.height, maxCompressedBytes: buffers.map(\.count).max()!)
        } else if bytesPerLine != format.pixelFormat.planes(width: format.width, height: format.height)[0].stride {
            repacked = .allocate(byteCount: format.byteCount, alignment: 64)
        }
        try device.stream(true, type: Self.type)
        lastFrameAt = Sys.monotonicNow()
        sequenceHigh = 0
        lastSequence = 0
    }

    public func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        guard let device else { preconditionFailure("V4L2Capture.next before open") }
        let deadline = Sys.monotonicNow() &+ timeoutNanoseconds
        while true {
            let now = Sys.monotonicNow()
            if now - lastFrameAt > stallLimit {
                throw CaptureError.noSignal(path: device.path, stalledNanoseconds: now - lastFrameAt)
            }
            // Wake in time to notice a stall even when the caller waits longer.
            let wait = min(deadline > now ? deadline - now : 0, lastFrameAt + stallLimit + 1 - now)
            let events = try mapErrors(device.path) { try Sys.poll(device.fd, events: Int16(POLLIN), timeoutNanoseconds: wait) }
            if events == 0 {
                if Sys.monotonicNow() >= deadline { return false }
                continue
            }
            let dequeued: v4l2_buffer?
            do {
                dequeued = try device.dequeue(type: Self.type)
            } catch {
                throw Self.classify(error, path: device.path, opening: false)
            }
            guard var buffer = dequeued else {
                // POLLERR with nothing to dequeue: videobuf2's sign of a dead queue.
                if events & Int16(POLLERR | POLLHUP) != 0 { throw CaptureError.deviceLost(path: device.path) }
                continue
            }
            if let lent = lend(buffer) {
                var failure: Error?
                do { try body(lent) } catch { failure = error }
                try requeue(&buffer, on: device)
                if let failure { throw failure }
                return true
            }
            corruptFrames += 1
            try requeue(&buffer, on: device)
        }
    }

    /// The frame in a dequeued buffer, or nil when it is unusable (flagged, short, undecodable).
    private func lend(_ buffer: v4l2_buffer) -> LentFrame? {
        let now = Sys.monotonicNow()
        lastFrameAt = now
        let mapping = UnsafeRawBufferPointer(buffers[Int(buffer.index)])
        let used = min(Int(buffer.bytesused), mapping.count)
        guard buffer.flags & UInt32(V4L2_BUF_FLAG_ERROR) == 0 else { return nil }
        var frameFormat = format
        let bytes: UnsafeRawBufferPointer
        if let decoder {
            guard let decoded = decoder.decode(UnsafeRawBufferPointer(rebasing: mapping[0..<used])) else { return nil }
            bytes = decoded.bytes
            frameFormat.color.range = decoded.range
        } else if let repacked {
            guard used >= bytesPerLine * format.height else { return nil }
            repack(mapping, into: repacked)
            bytes = UnsafeRawBufferPointer(repacked)
        } else {
            guard used >= format.byteCount else { return nil }
            bytes = UnsafeRawBufferPointer(rebasing: mapping[0..<format.byteCount])
        }
        driverTimestamps = buffer.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
        let timestamp = driverTimestamps
            ? UInt64(buffer.timestamp.tv_sec) * 1_000_000_000 + UInt64(buffer.timestamp.tv_usec) * 1_000
            : now
        if buffer.sequence < lastSequence { sequenceHigh += 1 << 32 }
        lastSequence = buffer.sequence
        return LentFrame(format: frameFormat, timestamp: timestamp, sequence: sequenceHigh + UInt64(buffer.sequence), bytes: bytes)
    }

    /// Copies a frame whose rows the driver padded into tightly packed planes. V4L2's
    /// single-planar formats pad every plane by the same factor as the first.
    private func repack(_ source: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer) {
        let planes = format.pixelFormat.planes(width: format.width, height: format.height)
        var sourceOffset = 0
        for plane in planes {
            let sourceStride = bytesPerLine * plane.stride / planes[0].stride
            for row in 0..<plane.height {
                (target.baseAddress! + plane.offset + row * plane.stride)
                    .copyMemory(from: source.baseAddress! + sourceOffset + row * sourceStride, byteCount: plane.width)
            }
            sourceOffset += sourceStride * plane.height
        }
    }

    private func requeue(_ buffer: inout v4l2_buffer, on device: V4L2Device) throws(CaptureError) {
        do { try device.queue(&buffer) } catch { throw Self.classify(error, path: device.path, opening: false) }
    }

    public func close() {
        if let device {
            try? device.stream(false, type: Self.type)
        }
        buffers.forEach(Sys.munmap)
        buffers = []
        // The buffers are freed only once unmapped; then the driver can take new ones.
        if let device {
            _ = try? device.requestBuffers(0, type: Self.type)
        }
        device = nil
        decoder = nil
        repacked?.deallocate()
        repacked = nil
    }

    private static func emptyBuffer(_ index: Int) -> v4l2_buffer {
        var buffer = v4l2_buffer()
        buffer.index = UInt32(index)
        buffer.type = type.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        return buffer
    }

    /// Turns errno into the failure it means for a capture device.
    static func classify(_ error: SystemError, path: String, opening: Bool) -> CaptureError {
        switch error.errno {
        case ENOENT, ENXIO: return .noDevice(path: path)
        case ENODEV: return opening ? .noDevice(path: path) : .deviceLost(path: path)
        case EBUSY: return .busy(path: path)
        default: return .driver(error)
        }
    }

    private func mapErrors<T>(_ path: String, _ body: () throws -> T) throws(CaptureError) -> T {
        do {
            return try body()
        } catch let error as CaptureError {
            throw error
        } catch let error as SystemError {
            throw Self.classify(error, path: path, opening: false)
        } catch {
            preconditionFailure("unexpected \(error)")
        }
    }
}
