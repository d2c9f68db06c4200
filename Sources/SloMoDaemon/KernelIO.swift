extension IORegistry {
    /// Registration point for the kernel-device endpoints that live in SloMoV4L2 and SloMoDRM
    /// (branch `kio`). Until that code is merged these kinds exist but refuse with a clear error,
    /// so `--output /dev/video10` says "V4L2 output not built in" instead of "unknown output".
    ///
    /// After the merge, replace the three bodies with (config fields: DaemonConfig):
    ///     registerSource("v4l2") { path, c in V4L2Capture(path: path, <config from c.width, c.height, c.fps, c.pixelFormat>) }
    ///     registerSink("loopback") { path, _ in LoopbackOutput(path: path) }
    ///     registerSink("drm") { path, c in DRMOutput(path: path, connector: c.connector, mode: c.displayMode) }
    func registerKernelIO() {
        registerSource("v4l2") { path, _ in throw EndpointError.notBuiltIn(what: "V4L2 capture", path: path) }
        registerSink("loopback") { path, _ in throw EndpointError.notBuiltIn(what: "V4L2 output", path: path) }
        registerSink("drm") { path, _ in throw EndpointError.notBuiltIn(what: "DRM output", path: path) }
    }
}
