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

/// A V4L2 camera or capture card, streaming through a ring of mmap buffers, through the
/// single-planar API or the multi-planar one (`V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE`, which HDMI
/// capture cards and SoC camera pipelines speak), preferring single-planar where a node has both.
///
/// Each dequeued buffer is lent to the closure given to `next` and queued back to the driver
/// (VIDIOC_QBUF) as soon as the closure returns, so a buffer has one owner at a time and none
/// can leak. When frames wait (the consumer fell behind), only the newest is lent and the older
/// ones go straight back to the driver, counted in `drainedFrames`; sequence numbers stay the
/// driver's, so the gap shows. Timestamps are the driver's when it stamps CLOCK_MONOTONIC,
/// otherwise taken at dequeue; a driver whose stamps run ahead of the clock is held back to it
/// (`DriverStamps`). MJPEG is decoded to yuv420p; every other format is lent as the
/// driver wrote it where that is the engine's packed layout, with the buffer as a dma-buf where
/// the driver exports it (a GPU can then copy the frame itself), otherwise copied into it once
/// (`FramePlanes`: padded rows, planes in buffers of their own, interleaved chroma).
///
/// A source that changes mid-stream (V4L2_EVENT_SOURCE_CHANGE: an HDMI source switching
/// timings) is taken up in place: the stream stops, the format is negotiated again (for an
/// HDMI-like input after setting the timings the receiver detects), the buffers are made anew
/// and the stream restarts. Each frame carries its own format, so no frame is lent in a format
/// that is not its own.
public final class V4L2Capture: FrameSource {
    public let config: CaptureConfig
    public private(set) var format = FrameFormat(width: 0, height: 0, pixelFormat: .yuyv, color: .guess(height: 0))
    public private(set) var frameRate = Rational(30)
    /// What the device sends (differs from `format.pixelFormat` for MJPEG). Valid after `open`.
    public private(set) var deviceFormat: V4L2PixelFormat = .yuyv
    /// Whether the device streams through the multi-planar API. Valid after `open`.
    public private(set) var multiPlanar = false
    /// The node actually opened, after resolving symlinks. Valid after `open`.
    public private(set) var devicePath = ""
    /// Whether timestamps come from the driver (V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC).
    public private(set) var driverTimestamps = false
    public private(set) var timestampMeaning = CaptureTimestamp.dequeued
    /// Frames dropped because the driver flagged them or they failed to decode.
    public private(set) var corruptFrames = 0
    /// Frames handed straight back to the driver because a newer one was already waiting.
    public private(set) var drainedFrames = 0
    /// Times the source changed mid-stream and the stream was renegotiated and restarted.
    public private(set) var sourceChanges = 0
    /// The timings set on an HDMI-like input (one that takes DV timings); nil for other inputs.
    public private(set) var dvTimings: DVTimings?

    private var bufferType = V4L2_BUF_TYPE_VIDEO_CAPTURE
    /// The buffer types the node offers, for negotiating again after a source change.
    private var captureTypes: [v4l2_buf_type] = []
    private var dvInput = false
    /// Whether the driver sends this input's source changes (then poll waits for POLLPRI too).
    private var watchingSourceChanges = false
    /// Entries in each v4l2_buffer's plane array: 0 for the single-planar API.
    private var apiPlanes = 0
    private var device: V4L2Device?
    /// Per buffer, one mapping per buffer plane.
    private var buffers: [[UnsafeMutableRawBufferPointer]] = []
    private var decoder: MJPEGDecoder?
    /// Where the planes lie, for every format but MJPEG.
    private var planes: FramePlanes?
    /// Where frames go when the driver's layout is not the engine's.
    private var repacked: UnsafeMutableRawBufferPointer?
    /// Per buffer, plane 0 as a dma-buf (VIDIOC_EXPBUF), where frames are lent as the driver
    /// wrote them and the driver exports its buffers; empty otherwise.
    private var exported: [Int32] = []
    /// Counts the rings made, so that a dma-buf's descriptor number names one buffer (DmaBufSlice.ring).
    private var ring: UInt64 = 0
    /// When the stall clock started: the last frame's (or source change's) arrival while waiting,
    /// or the consumer's return to `next`. 0 until that return, after `open` and after each lent
    /// frame: a consumer that spends a while before its next read (the daemon's warm-up) is not stalled.
    private var lastFrameAt: UInt64 = 0
    /// Whether VIDIOC_STREAMON was issued for the current ring (see `makeBuffers`).
    private var streaming = false
    private var stamps = DriverStamps()
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
            var types: [v4l2_buf_type] = []
            if caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 { types.append(V4L2_BUF_TYPE_VIDEO_CAPTURE) }
            if caps & UInt32(V4L2_CAP_VIDEO_CAPTURE_MPLANE) != 0 { types.append(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE) }
            guard !types.isEmpty else {
                throw CaptureError.notACaptureDevice(path: device.path, reason: "\(driver) (\(card)) has no video capture")
            }
            guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
                throw CaptureError.notACaptureDevice(path: device.path, reason: "\(driver) (\(card)) cannot stream")
            }
            captureTypes = types
            try prepareInput(device)
            let mode = try chooseMode(device, types: types)
            try apply(mode, on: device)
            try makeBuffers(device)
        }
    }

    /// Finds the input the node captures from; for an HDMI-like one sets the timings the receiver
    /// detects (it keeps the last ones set, which need not be the signal's), and subscribes to the
    /// input's source changes (their id is the input's index: vivid's HDMI input is 3).
    private func prepareInput(_ device: V4L2Device) throws {
        let input = try device.currentInput()
        dvInput = try input.map(device.inputTakesDVTimings) ?? false
        dvTimings = nil
        if dvInput {
            let set = DVTimings(try device.dvTimings())
            let detected = try device.queryDVTimings()
            if let detected, let wanted = SourceChangeResponse.timingsToSet(current: set, detected: DVTimings(detected)) {
                try device.setDVTimings(detected)
                dvTimings = wanted
            } else {
                dvTimings = set
            }
        }
        watchingSourceChanges = try device.subscribeSourceChanges(input: input ?? 0)
    }

    /// Takes the pending events; on a source change that calls for it, stops the stream,
    /// negotiates the new format, makes new buffers and streams again. Returns whether it did.
    private func takeSourceChanges(_ device: V4L2Device) throws -> Bool {
        var changes: UInt32 = 0
        var changed = false
        while let event = try device.dequeueEvent() {
            guard event.type == UInt32(V4L2_EVENT_SOURCE_CHANGE) else { continue }
            changes |= event.u.src_change.changes
            changed = true
        }
        guard changed else { return false }
        let detected = dvInput ? try device.queryDVTimings() : nil
        let response = SourceChangeResponse.decide(changes: changes, dvInput: dvInput, current: dvTimings,
                                                   detected: detected.map(DVTimings.init))
        guard case let .renegotiate(timings) = response else { return false }
        try device.stream(false, type: bufferType)
        releaseBuffers(device)
        if let detected, timings != nil {
            try device.setDVTimings(detected)
            dvTimings = timings
        }
        let mode = try chooseMode(device, types: captureTypes)
        try apply(mode, on: device)
        try makeBuffers(device)
        sourceChanges += 1
        return true
    }

    private func chooseMode(_ device: V4L2Device, types: [v4l2_buf_type]) throws -> CaptureMode {
        var offers: [FormatOffer] = []
        var unknown: [String] = []
        for type in types {
            for fourcc in try device.formats(type: type) {
                guard let format = V4L2PixelFormat(fourcc: fourcc) else {
                    unknown.append(V4L2PixelFormat.name(ofFourcc: fourcc))
                    continue
                }
                let sizes = try device.frameSizes(fourcc: fourcc)
                var intervals: [FrameSize: FrameIntervals?] = [:]
                for size in sizes?.candidates(width: config.width, height: config.height) ?? [] {
                    intervals[size] = try device.frameIntervals(fourcc: fourcc, size: size)
                }
                offers.append(FormatOffer(format: format, sizes: sizes, multiPlanar: type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
                                          intervals: { intervals[$0] ?? nil }))
            }
        }
        let current = try device.getFormat(type: types[0]).fmt
        let fallback = types[0] == V4L2_BUF_TYPE_VIDEO_CAPTURE
            ? FrameSize(width: Int(current.pix.width), height: Int(current.pix.height))
            : FrameSize(width: Int(current.pix_mp.width), height: Int(current.pix_mp.height))
        guard let mode = negotiate(offers: offers, width: config.width, height: config.height, rate: config.frameRate,
                                   pixelFormat: config.pixelFormat, fallbackSize: fallback) else {
            let offered = offers.map(\.format.rawValue) + unknown
            throw CaptureError.formatUnavailable("\(device.path) offers \(offered.joined(separator: ", ")), none usable as requested")
        }
        return mode
    }

    private func apply(_ mode: CaptureMode, on device: V4L2Device) throws {
        let layout = mode.format.layout
        multiPlanar = mode.multiPlanar
        bufferType = multiPlanar ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE
        var requested = v4l2_format()
        requested.type = bufferType.rawValue
        if multiPlanar {
            requested.fmt.pix_mp.width = UInt32(mode.size.width)
            requested.fmt.pix_mp.height = UInt32(mode.size.height)
            requested.fmt.pix_mp.pixelformat = mode.format.fourcc
            requested.fmt.pix_mp.field = V4L2_FIELD_NONE.rawValue
            requested.fmt.pix_mp.num_planes = UInt8(layout.memoryPlanes)
        } else {
            requested.fmt.pix.width = UInt32(mode.size.width)
            requested.fmt.pix.height = UInt32(mode.size.height)
            requested.fmt.pix.pixelformat = mode.format.fourcc
            requested.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        }
        try device.setFormat(&requested)
        // What the driver set, from whichever half of the union the API uses.
        let fourcc: UInt32, width: Int, height: Int, bytesPerLine: [Int], color: (UInt32, UInt32, UInt32)
        if multiPlanar {
            let mp = requested.fmt.pix_mp
            (fourcc, width, height) = (mp.pixelformat, Int(mp.width), Int(mp.height))
            bytesPerLine = withUnsafePointer(to: mp) { pointer in
                (0..<Int(mp.num_planes)).map { Int(slomo_pix_mp_bytesperline(pointer, UInt32($0))) }
            }
            color = (mp.colorspace, UInt32(mp.ycbcr_enc), UInt32(mp.quantization))
        } else {
            let pix = requested.fmt.pix
            (fourcc, width, height) = (pix.pixelformat, Int(pix.width), Int(pix.height))
            bytesPerLine = [Int(pix.bytesperline)]
            color = (pix.colorspace, pix.ycbcr_enc, pix.quantization)
        }
        guard let got = V4L2PixelFormat(fourcc: fourcc), got == mode.format else {
            throw CaptureError.formatUnavailable("\(device.path) set \(V4L2PixelFormat.name(ofFourcc: fourcc)) when asked for \(mode)")
        }
        guard !multiPlanar || bytesPerLine.count == layout.memoryPlanes else {
            throw CaptureError.formatUnavailable("\(device.path) set \(got.rawValue) in \(bytesPerLine.count) buffer planes, not \(layout.memoryPlanes)")
        }
        deviceFormat = got
        apiPlanes = multiPlanar ? bytesPerLine.count : 0
        let pixelFormat = got.pixelFormat ?? .yuv420p
        format = FrameFormat(width: width, height: height, pixelFormat: pixelFormat,
                             color: colorSpace(colorspace: color.0, encoding: color.1, quantization: color.2,
                                               isRGB: pixelFormat.isRGB, compressed: got.isCompressed))
        if !got.isCompressed {
            guard let placed = FramePlanes(format: format, planes: layout.planes, bytesPerLine: bytesPerLine) else {
                throw CaptureError.formatUnavailable("\(device.path) set \(got.rawValue) \(width)x\(height) with rows of \(bytesPerLine) bytes, too short")
            }
            planes = placed
        }
        // With no rate to set, keep and report the device's own; 30 fps only where it has none.
        let interval = try mode.rate.map { try device.setFrameInterval(Rational($0.denominator, $0.numerator), type: bufferType) }
            ?? device.frameInterval(type: bufferType)
        frameRate = interval.map { Rational($0.denominator, $0.numerator) } ?? mode.rate ?? Rational(30)
        let intervalNanoseconds = UInt64(1e9 / frameRate.doubleValue)
        stallLimit = max(config.minimumStallNanoseconds, UInt64(config.stallIntervals) * intervalNanoseconds)
    }

    /// Maps and queues the ring. The stream starts on the next read (`next`), not here: a consumer
    /// that sets up for long after opening (the daemon's warm-up: seconds on a GPU, minutes under
    /// emulation) would otherwise find the ring full of frames made meanwhile, the newest of them
    /// as old as the set-up, and show it.
    private func makeBuffers(_ device: V4L2Device) throws {
        let count = try device.requestBuffers(config.bufferCount, type: bufferType)
        guard count >= 2 else {
            throw CaptureError.driver(SystemError(call: "VIDIOC_REQBUFS on \(device.path) granted \(count) buffers", errno: ENOMEM))
        }
        for index in 0..<count {
            buffers.append(try device.mapBuffer(index, type: bufferType, planes: apiPlanes))
        }
        try queueAll(device)
        if deviceFormat.isCompressed {
            decoder = try MJPEGDecoder(width: format.width, height: format.height, maxCompressedBytes: buffers.map { $0[0].count }.max()!)
        } else if planes?.inPlace == false {
            repacked = .allocate(byteCount: format.byteCount, alignment: 64)
        } else {
            exportBuffers(device)
        }
        streaming = false
    }

    /// Exports every buffer of the ring as a dma-buf, or none: a driver that cannot (EINVAL,
    /// ENOTTY) lends its frames as bytes only.
    private func exportBuffers(_ device: V4L2Device) {
        ring += 1
        do throws(SystemError) {
            for index in buffers.indices { exported.append(try device.exportBuffer(index, plane: 0, type: bufferType)) }
        } catch {
            exported.forEach(Sys.close)
            exported = []
        }
    }

    /// Hands every buffer of the ring to the driver (after REQBUFS or STREAMOFF, which takes them all back).
    private func queueAll(_ device: V4L2Device) throws {
        for index in buffers.indices {
            var buffer = V4L2Buffer(index: index, type: bufferType, planes: apiPlanes)
            try device.queue(&buffer)
        }
    }

    /// Stops the stream and requeues the ring, so the next read starts it afresh (see `FrameSource.pause`).
    public func pause() throws {
        guard let device, streaming else { return }
        try mapErrors(device.path) {
            try device.stream(false, type: bufferType)
            try queueAll(device)
        }
        streaming = false
    }

    public func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool {
        guard let device else { preconditionFailure("V4L2Capture.next before open") }
        let deadline = Sys.monotonicNow() &+ timeoutNanoseconds
        if lastFrameAt == 0 { lastFrameAt = Sys.monotonicNow() }
        let waitFor = Int16(POLLIN) | (watchingSourceChanges ? Int16(POLLPRI) : 0)
        while true {
            if !streaming {
                try mapErrors(device.path) { try device.stream(true, type: bufferType) }
                streaming = true
                lastFrameAt = Sys.monotonicNow()
                // A new stream counts its frames from 0 again.
                stamps = DriverStamps()
                sequenceHigh = 0
                lastSequence = 0
            }
            let now = Sys.monotonicNow()
            if now - lastFrameAt > stallLimit {
                throw CaptureError.noSignal(path: device.path, stalledNanoseconds: now - lastFrameAt)
            }
            // Wake in time to notice a stall even when the caller waits longer.
            let wait = min(deadline > now ? deadline - now : 0, lastFrameAt + stallLimit + 1 - now)
            let events = try mapErrors(device.path) { try Sys.poll(device.fd, events: waitFor, timeoutNanoseconds: wait) }
            if events == 0 {
                if Sys.monotonicNow() >= deadline { return false }
                continue
            }
            // An event first: frames still queued were made before the change and go with the old buffers.
            if events & Int16(POLLPRI) != 0, try mapErrors(device.path, { try takeSourceChanges(device) }) {
                lastFrameAt = Sys.monotonicNow()
                continue
            }
            guard var buffer = try dequeue(device) else {
                // POLLERR with nothing to dequeue: videobuf2's sign of a dead queue.
                if events & Int16(POLLERR | POLLHUP) != 0 { throw CaptureError.deviceLost(path: device.path) }
                continue
            }
            // Drain to the freshest frame, as ustreamer does: the node is non-blocking, so DQBUF
            // is itself the zero-timeout poll for another done buffer.
            while let newer = try dequeue(device) {
                try requeue(&buffer, on: device)
                drainedFrames += 1
                buffer = newer
            }
            if let lent = lend(buffer) {
                var failure: Error?
                do { try body(lent) } catch { failure = error }
                // The stall clock restarts when the consumer next waits: the time it keeps a frame
                // or spends before its next read (a GPU set-up, the daemon's warm-up) is not the
                // device's silence.
                lastFrameAt = 0
                try requeue(&buffer, on: device)
                if let failure { throw failure }
                return true
            }
            corruptFrames += 1
            try requeue(&buffer, on: device)
        }
    }

    private func dequeue(_ device: V4L2Device) throws(CaptureError) -> V4L2Buffer? {
        do { return try device.dequeue(type: bufferType, planes: apiPlanes) } catch { throw Self.classify(error, path: device.path, opening: false) }
    }

    /// The frame in a dequeued buffer, or nil when it is unusable (flagged, short, undecodable).
    private func lend(_ buffer: V4L2Buffer) -> LentFrame? {
        let now = Sys.monotonicNow()
        lastFrameAt = now
        let mappings = buffers[buffer.index]
        guard buffer.buffer.flags & UInt32(V4L2_BUF_FLAG_ERROR) == 0 else { return nil }
        // Each buffer plane's data as the driver says it wrote it, within the mapping.
        let data = mappings.indices.map { plane -> UnsafeRawBufferPointer in
            let (offset, used) = buffer.payload(plane)
            let mapping = UnsafeRawBufferPointer(mappings[plane])
            let end = min(used, mapping.count)
            return UnsafeRawBufferPointer(rebasing: mapping[min(offset, end)..<end])
        }
        var frameFormat = format
        let bytes: UnsafeRawBufferPointer
        if let decoder {
            guard let decoded = decoder.decode(data[0]) else { return nil }
            bytes = decoded.bytes
            frameFormat.color.range = decoded.range
        } else if let planes {
            guard zip(data, planes.needed).allSatisfy({ $0.count >= $1 }) else { return nil }
            if let repacked {
                planes.repack(data.map { $0.baseAddress! }, into: repacked.baseAddress!)
                bytes = UnsafeRawBufferPointer(repacked)
            } else {
                bytes = UnsafeRawBufferPointer(rebasing: data[0][0..<format.byteCount])
            }
        } else {
            preconditionFailure("a raw format without its plane layout")
        }
        let flags = buffer.buffer.flags
        driverTimestamps = flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
        timestampMeaning = !driverTimestamps ? .dequeued
            : flags & UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_MASK) == UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_SOE) ? .startOfExposure : .endOfExposure
        let stamp = buffer.buffer.timestamp
        let timestamp = driverTimestamps
            ? stamps.time(stamped: UInt64(stamp.tv_sec) * 1_000_000_000 + UInt64(stamp.tv_usec) * 1_000, dequeuedAt: now)
            : now
        let sequence = buffer.buffer.sequence
        if sequence < lastSequence { sequenceHigh += 1 << 32 }
        lastSequence = sequence
        // Exported only where frames are lent in place (makeBuffers).
        let dmaBuf = exported.isEmpty ? nil
            : DmaBufSlice(fd: exported[buffer.index], bufferBytes: mappings[0].count,
                          offset: bytes.baseAddress! - UnsafeRawPointer(mappings[0].baseAddress!), ring: ring)
        return LentFrame(format: frameFormat, timestamp: timestamp, sequence: sequenceHigh + UInt64(sequence), bytes: bytes, dmaBuf: dmaBuf)
    }

    private func requeue(_ buffer: inout V4L2Buffer, on device: V4L2Device) throws(CaptureError) {
        do { try device.queue(&buffer) } catch { throw Self.classify(error, path: device.path, opening: false) }
    }

    public func close() {
        if let device {
            try? device.stream(false, type: bufferType)
            releaseBuffers(device)
        }
        streaming = false
        device = nil
        dvTimings = nil
        watchingSourceChanges = false
    }

    /// Unmaps and frees the buffer ring and what was sized for the format (stream stopped first).
    private func releaseBuffers(_ device: V4L2Device) {
        buffers.joined().forEach(Sys.munmap)
        buffers = []
        exported.forEach(Sys.close)
        exported = []
        // The buffers are freed only once unmapped; then the driver can take new ones (and new timings).
        _ = try? device.requestBuffers(0, type: bufferType)
        decoder = nil
        planes = nil
        repacked?.deallocate()
        repacked = nil
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

/// A driver's timestamps, held back to the clock. vivid stamps the end of an exposure by its
/// schedule when it hands the frame over, up to a frame interval early; a frame cannot have been
/// exposed after it arrived, and everything downstream measures from the stamp. Subtracting the
/// largest lead seen this stream keeps the driver's even spacing while no stamp lies in the future.
public struct DriverStamps: Sendable {
    public private(set) var lead: UInt64 = 0

    public init() {}

    public mutating func time(stamped: UInt64, dequeuedAt now: UInt64) -> UInt64 {
        if stamped > now { lead = max(lead, stamped - now) }
        return min(now, stamped &- lead)
    }
}
