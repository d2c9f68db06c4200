import SloMoLinux

/// Why a capture device cannot deliver frames. Each message is one line.
public enum CaptureError: Error, Equatable, CustomStringConvertible {
    /// Nothing at the path (not plugged in, or the driver is not loaded).
    case noDevice(path: String)
    /// The device exists but is not a streaming video capture device.
    case notACaptureDevice(path: String, reason: String)
    /// Another process holds the device.
    case busy(path: String)
    /// The device offers nothing matching the requested format, size or rate.
    case formatUnavailable(String)
    /// The device vanished while open (unplugged, driver unbound): ENODEV or POLLERR.
    case deviceLost(path: String)
    /// The stream stopped: no frame for `stalledNanoseconds`.
    case noSignal(path: String, stalledNanoseconds: UInt64)
    /// The MJPEG decoder could not be set up (a missing libavcodec decoder).
    case decoderUnavailable(String)
    /// Any other failed call to the driver.
    case driver(SystemError)

    public var description: String {
        switch self {
        case .noDevice(let path): return "no capture device at \(path)"
        case .notACaptureDevice(let path, let reason): return "\(path) is not a capture device: \(reason)"
        case .busy(let path): return "\(path) is busy (used by another process)"
        case .formatUnavailable(let what): return "capture format unavailable: \(what)"
        case .deviceLost(let path): return "capture device \(path) was lost"
        case .noSignal(let path, let stalled): return "no signal on \(path): no frame for \(stalled / 1_000_000) ms"
        case .decoderUnavailable(let what): return "MJPEG decoder unavailable: \(what)"
        case .driver(let error): return "capture driver error: \(error)"
        }
    }

    /// True for failures a device coming back can cure: worth reopening with backoff.
    /// Format and capability mismatches are configuration errors and stay fatal.
    public var isTransient: Bool {
        switch self {
        case .noDevice, .busy, .deviceLost, .noSignal, .driver: return true
        case .notACaptureDevice, .formatUnavailable, .decoderUnavailable: return false
        }
    }
}

/// Why a V4L2 output (v4l2loopback) cannot take frames. Each message is one line.
public enum OutputError: Error, Equatable, CustomStringConvertible {
    case noDevice(path: String)
    case notAnOutputDevice(path: String, reason: String)
    /// The driver would not take the format (for v4l2loopback: a consumer holds another size).
    case formatRejected(String)
    /// slomo has no V4L2 code for this pixel format.
    case unsupportedFormat(String)
    /// A frame whose size is not the negotiated format's.
    case wrongFrameSize(expected: Int, got: Int)
    case deviceLost(path: String)
    case driver(SystemError)

    public var description: String {
        switch self {
        case .noDevice(let path): return "no output device at \(path)"
        case .notAnOutputDevice(let path, let reason): return "\(path) is not a video output device: \(reason)"
        case .formatRejected(let what): return "output format rejected: \(what)"
        case .unsupportedFormat(let what): return "no V4L2 output format for \(what)"
        case .wrongFrameSize(let expected, let got): return "frame of \(got) bytes, expected \(expected)"
        case .deviceLost(let path): return "output device \(path) was lost"
        case .driver(let error): return "output driver error: \(error)"
        }
    }
}
