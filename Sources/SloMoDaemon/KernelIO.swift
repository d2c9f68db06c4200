import SloMoCore
import SloMoDRM
import SloMoV4L2

extension IORegistry {
    /// The kernel-device endpoints: V4L2 capture, v4l2loopback output and DRM/KMS output.
    /// A camera is wrapped in `ResilientSource`, the one path that reopens a failed device; until
    /// it first opens, the configured size and rate stand for it.
    func registerKernelIO() {
        registerSource("v4l2") { path, config in
            var pixelFormat: V4L2PixelFormat?
            if let wanted = config.pixelFormat {
                guard let format = V4L2PixelFormat(wanted) else {
                    throw EndpointError.unsupported("\(path): pixel format \(wanted.rawValue) cannot be asked of a V4L2 device")
                }
                pixelFormat = format
            }
            let rate = Rational.approximating(config.fps)
            let capture = V4L2Capture(CaptureConfig(device: path, width: config.width, height: config.height,
                                                    frameRate: rate, pixelFormat: pixelFormat))
            let fallback = FrameFormat(width: config.width, height: config.height, pixelFormat: config.pixelFormat ?? .yuyv,
                                       color: .guess(height: config.height))
            return ResilientSource(capture, fallbackFormat: fallback, fallbackRate: rate)
        }
        registerSink("loopback") { path, _ in LoopbackOutput(device: path) }
        registerSink("drm") { path, config in
            let mode = try DisplayModeRequest.parse(config.displayMode)
            return DRMOutput(DisplayConfig(card: path, connector: config.connector == "auto" ? nil : config.connector,
                                           width: mode?.width, height: mode?.height, refresh: mode?.refresh))
        }
    }
}

/// `display_mode` as written in the config: "auto" or WIDTHxHEIGHT[@REFRESH].
enum DisplayModeRequest {
    static func parse(_ text: String) throws -> (width: Int, height: Int, refresh: Int?)? {
        if text == "auto" { return nil }
        let parts = text.split(separator: "@", maxSplits: 1)
        let size = parts[0].split(separator: "x").compactMap { Int($0) }
        let refresh = parts.count == 2 ? Int(parts[1]) : nil
        guard size.count == 2, size.allSatisfy({ $0 > 0 }), parts.count == 1 || refresh != nil else {
            throw EndpointError.unsupported("display mode '\(text)' is not auto or WIDTHxHEIGHT[@HZ]")
        }
        return (size[0], size[1], refresh)
    }
}
