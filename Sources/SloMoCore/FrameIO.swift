/// A frame lent by a source: its bytes are valid only inside the closure it is passed to,
/// after which the buffer goes back to its owner (for V4L2, a QBUF to the driver).
public struct LentFrame {
    public var format: FrameFormat
    /// Capture time on CLOCK_MONOTONIC, in nanoseconds (from the driver where it provides one).
    public var timestamp: UInt64
    /// Driver sequence number, or a running count; gaps reveal dropped frames.
    public var sequence: UInt64
    public var bytes: UnsafeRawBufferPointer
    /// The same bytes in a dma-buf, where the source exported its buffer: a device can import it
    /// and copy the frame itself, with no CPU copy.
    public var dmaBuf: DmaBufSlice?

    public init(format: FrameFormat, timestamp: UInt64, sequence: UInt64, bytes: UnsafeRawBufferPointer, dmaBuf: DmaBufSlice? = nil) {
        self.format = format
        self.timestamp = timestamp
        self.sequence = sequence
        self.bytes = bytes
        self.dmaBuf = dmaBuf
    }
}

/// Where a lent frame's bytes lie in a dma-buf (a capture buffer exported with VIDIOC_EXPBUF).
/// The descriptor stays the source's, valid while its ring lasts: `ring` changes whenever the
/// source makes its buffers anew, so an importer knows when a descriptor number means a new buffer.
public struct DmaBufSlice: Equatable, Sendable {
    public var fd: Int32
    /// The whole buffer's size, and where the frame starts in it.
    public var bufferBytes: Int
    public var offset: Int
    public var ring: UInt64

    public init(fd: Int32, bufferBytes: Int, offset: Int, ring: UInt64) {
        self.fd = fd
        self.bufferBytes = bufferBytes
        self.offset = offset
        self.ring = ring
    }
}

/// Where frames come from: a camera, a capture card, a file or the built-in test pattern.
public protocol FrameSource: AnyObject {
    /// Valid after `open`.
    var format: FrameFormat { get }
    /// Nominal input rate (frames per second), valid after `open`.
    var frameRate: Rational { get }
    func open() throws
    /// Waits up to `timeoutNanoseconds` for the next frame and lends it to `body`.
    /// Returns false on timeout; throws when the device fails or disappears.
    func next(timeoutNanoseconds: UInt64, _ body: (LentFrame) throws -> Void) throws -> Bool
    func close()
    /// Stops until the next read, dropping the frames made meanwhile: a consumer that will not
    /// read for long (the daemon's warm-up) would otherwise find them waiting, the newest as old
    /// as its pause.
    func pause() throws
    /// What the last frame's timestamp marks: latency is measured from it.
    var timestampMeaning: CaptureTimestamp { get }
    /// Frames the source skipped to lend the freshest one (the consumer was behind).
    var drainedFrames: Int { get }
    /// Times the source changed what it sends mid-stream (size, timings) and was taken up again.
    var sourceChanges: Int { get }
}

extension FrameSource {
    /// Sources that make frames on demand keep none waiting.
    public func pause() throws {}
    public var timestampMeaning: CaptureTimestamp { .dequeued }
    public var drainedFrames: Int { 0 }
    public var sourceChanges: Int { 0 }
}

/// The instant a capture timestamp stands for. V4L2 drivers flag which end of the exposure they
/// stamp (V4L2_BUF_FLAG_TSTAMP_SRC_*); without a driver timestamp the daemon stamps the dequeue,
/// which is later than either end by the driver's delivery.
public enum CaptureTimestamp: String, Sendable {
    case endOfExposure = "end of exposure"
    case startOfExposure = "start of exposure"
    case dequeued = "dequeue by the daemon"
    case scheduled = "the test pattern's schedule"
}

/// Where frames go: v4l2loopback, a DRM/KMS display, a Y4M file or nowhere.
public protocol FrameSink: AnyObject {
    /// Prepares for frames of `format` at `frameRate`; the format never changes while open.
    func open(format: FrameFormat, frameRate: Rational) throws
    /// Delivers one frame of exactly `format.byteCount` bytes, presented at `timestamp` (CLOCK_MONOTONIC ns).
    func write(_ frame: UnsafeRawBufferPointer, timestamp: UInt64) throws
    /// Changes the rate without reopening (a live scale change); sinks that pace themselves use it.
    func setFrameRate(_ frameRate: Rational) throws
    func close()
}
