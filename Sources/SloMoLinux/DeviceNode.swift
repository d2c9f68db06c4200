/// One open device node (a V4L2 video node, a DRM card). Its path is resolved through symlinks
/// first, so stable names (`/dev/v4l/by-id/...`, `/dev/dri/by-path/...`) behave like the node
/// itself; every ioctl on it goes through `ioctl`, and the fd closes when the object goes away,
/// so whoever holds it owns the fd. Each device module adds its own ioctls in an extension.
public final class DeviceNode {
    public let path: String
    public let fd: Int32

    public init(path: String) throws(SystemError) {
        let resolved = try Sys.realpath(path)
        self.path = resolved
        fd = try Sys.open(resolved)
    }

    deinit { Sys.close(fd) }

    public func ioctl<T>(_ request: UInt, _ argument: inout T, _ name: @autoclosure () -> String) throws(SystemError) {
        try Sys.ioctl(fd, request, &argument, "\(name()) on \(path)")
    }
}
