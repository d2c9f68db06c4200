import SloMoLinux

/// Why a DRM/KMS display cannot show frames. Each message is one line.
public enum DisplayError: Error, Equatable, CustomStringConvertible {
    case noDevice(path: String)
    /// The card cannot do what a scanout needs (no KMS resources, no dumb buffers).
    case unsupported(path: String, reason: String)
    /// No connector matches (none connected, or not the one named).
    case noConnector(String)
    /// The connector offers no mode matching the request.
    case noMode(String)
    case noCRTC(String)
    /// Another process is DRM master (a compositor or X server): setting modes is refused.
    case notMaster(path: String)
    case wrongFrameSize(expected: Int, got: Int)
    /// A page flip's completion event did not come.
    case flipTimeout(path: String)
    case deviceLost(path: String)
    case driver(SystemError)

    public var description: String {
        switch self {
        case .noDevice(let path): return "no DRM card at \(path)"
        case .unsupported(let path, let reason): return "\(path) cannot drive a display: \(reason)"
        case .noConnector(let what): return "no display connector: \(what)"
        case .noMode(let what): return "no display mode: \(what)"
        case .noCRTC(let what): return "no CRTC: \(what)"
        case .notMaster(let path): return "\(path) is in use by another DRM master (a compositor or X server)"
        case .wrongFrameSize(let expected, let got): return "frame of \(got) bytes, expected \(expected)"
        case .flipTimeout(let path): return "page flip on \(path) did not complete within 1 s"
        case .deviceLost(let path): return "DRM card \(path) was lost"
        case .driver(let error): return "DRM driver error: \(error)"
        }
    }
}
