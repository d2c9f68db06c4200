import CDRM
import Glibc
import SloMoLinux

/// A display mode as the connector offers it.
public struct DisplayMode: Equatable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public var refresh: Int
    public var name: String
    public var isPreferred: Bool
    let info: slomo_drm_mode_modeinfo

    public var description: String { "\(width)x\(height)@\(refresh)" }

    init(_ info: slomo_drm_mode_modeinfo) {
        self.info = info
        width = Int(info.hdisplay)
        height = Int(info.vdisplay)
        refresh = Int(info.vrefresh)
        name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        isPreferred = info.type & UInt32(SLOMO_DRM_MODE_TYPE_PREFERRED) != 0
    }

    public static func == (a: DisplayMode, b: DisplayMode) -> Bool {
        withUnsafeBytes(of: a.info) { x in withUnsafeBytes(of: b.info) { y in x.elementsEqual(y) } }
    }
}

struct Connector {
    var id: UInt32
    var name: String
    var connected: Bool
    var encoderID: UInt32
    var encoders: [UInt32]
    var modes: [DisplayMode]
}

/// An open DRM card. Every DRM_IOCTL_* slomo issues goes through these methods.
typealias DRMCard = DeviceNode

extension DeviceNode {
    func capability(_ capability: UInt64) throws(SystemError) -> UInt64 {
        var cap = slomo_drm_get_cap(capability: capability, value: 0)
        try ioctl(slomo_drm_ioctl_get_cap(), &cap, "DRM_IOCTL_GET_CAP")
        return cap.value
    }

    /// Becomes DRM master; false when another client is (EBUSY, or EACCES without CAP_SYS_ADMIN).
    func becomeMaster() throws(SystemError) -> Bool {
        var unused: Int32 = 0
        do throws(SystemError) {
            try ioctl(slomo_drm_ioctl_set_master(), &unused, "DRM_IOCTL_SET_MASTER")
            return true
        } catch let error where error.errno == EBUSY || error.errno == EACCES || error.errno == EPERM {
            return false
        }
    }

    func dropMaster() {
        var unused: Int32 = 0
        try? ioctl(slomo_drm_ioctl_drop_master(), &unused, "DRM_IOCTL_DROP_MASTER")
    }

    /// CRTC and connector ids (DRM_IOCTL_MODE_GETRESOURCES: one call for the counts, one for the ids).
    func resources() throws(SystemError) -> (crtcs: [UInt32], connectors: [UInt32]) {
        while true {
            var counts = slomo_drm_mode_card_res()
            try ioctl(slomo_drm_ioctl_mode_getresources(), &counts, "DRM_IOCTL_MODE_GETRESOURCES")
            var crtcs = [UInt32](repeating: 0, count: Int(counts.count_crtcs))
            var connectors = [UInt32](repeating: 0, count: Int(counts.count_connectors))
            var filled = slomo_drm_mode_card_res()
            filled.count_crtcs = counts.count_crtcs
            filled.count_connectors = counts.count_connectors
            try crtcs.withUnsafeMutableBufferPointer { c throws(SystemError) in
                try connectors.withUnsafeMutableBufferPointer { k throws(SystemError) in
                    filled.crtc_id_ptr = UInt64(UInt(bitPattern: c.baseAddress))
                    filled.connector_id_ptr = UInt64(UInt(bitPattern: k.baseAddress))
                    try ioctl(slomo_drm_ioctl_mode_getresources(), &filled, "DRM_IOCTL_MODE_GETRESOURCES")
                }
            }
            // A hotplug between the calls can change the counts: ask again.
            if filled.count_crtcs == counts.count_crtcs && filled.count_connectors == counts.count_connectors {
                return (crtcs, connectors)
            }
        }
    }

    func connector(_ id: UInt32) throws(SystemError) -> Connector {
        while true {
            var counts = slomo_drm_mode_get_connector()
            counts.connector_id = id
            try ioctl(slomo_drm_ioctl_mode_getconnector(), &counts, "DRM_IOCTL_MODE_GETCONNECTOR")
            var modes = [slomo_drm_mode_modeinfo](repeating: slomo_drm_mode_modeinfo(), count: Int(counts.count_modes))
            var encoders = [UInt32](repeating: 0, count: Int(counts.count_encoders))
            var filled = slomo_drm_mode_get_connector()
            filled.connector_id = id
            filled.count_modes = counts.count_modes
            filled.count_encoders = counts.count_encoders
            try modes.withUnsafeMutableBufferPointer { m throws(SystemError) in
                try encoders.withUnsafeMutableBufferPointer { e throws(SystemError) in
                    filled.modes_ptr = UInt64(UInt(bitPattern: m.baseAddress))
                    filled.encoders_ptr = UInt64(UInt(bitPattern: e.baseAddress))
                    try ioctl(slomo_drm_ioctl_mode_getconnector(), &filled, "DRM_IOCTL_MODE_GETCONNECTOR")
                }
            }
            guard filled.count_modes == counts.count_modes && filled.count_encoders == counts.count_encoders else { continue }
            return Connector(id: id, name: Self.connectorName(type: filled.connector_type, index: filled.connector_type_id),
                             connected: filled.connection == UInt32(SLOMO_DRM_MODE_CONNECTED), encoderID: filled.encoder_id,
                             encoders: encoders, modes: modes.map(DisplayMode.init))
        }
    }

    func encoder(_ id: UInt32) throws(SystemError) -> slomo_drm_mode_get_encoder {
        var encoder = slomo_drm_mode_get_encoder()
        encoder.encoder_id = id
        try ioctl(slomo_drm_ioctl_mode_getencoder(), &encoder, "DRM_IOCTL_MODE_GETENCODER")
        return encoder
    }

    func crtc(_ id: UInt32) throws(SystemError) -> slomo_drm_mode_crtc {
        var crtc = slomo_drm_mode_crtc()
        crtc.crtc_id = id
        try ioctl(slomo_drm_ioctl_mode_getcrtc(), &crtc, "DRM_IOCTL_MODE_GETCRTC")
        return crtc
    }

    /// Shows `framebuffer` on `crtc` through `connectors` in `mode` (nil mode with framebuffer 0 turns the CRTC off).
    func setCRTC(_ crtcID: UInt32, framebuffer: UInt32, x: UInt32 = 0, y: UInt32 = 0,
                 connectors: [UInt32], mode: slomo_drm_mode_modeinfo?) throws(SystemError) {
        var ids = connectors
        var crtc = slomo_drm_mode_crtc()
        crtc.crtc_id = crtcID
        crtc.fb_id = framebuffer
        crtc.x = x
        crtc.y = y
        if let mode {
            crtc.mode = mode
            crtc.mode_valid = 1
        }
        try ids.withUnsafeMutableBufferPointer { list throws(SystemError) in
            crtc.set_connectors_ptr = UInt64(UInt(bitPattern: list.baseAddress))
            crtc.count_connectors = UInt32(list.count)
            try ioctl(slomo_drm_ioctl_mode_setcrtc(), &crtc, "DRM_IOCTL_MODE_SETCRTC")
        }
    }

    /// A CPU-mappable XRGB8888 scanout buffer: (handle, pitch, size).
    func createDumb(width: Int, height: Int) throws(SystemError) -> (handle: UInt32, pitch: Int, size: Int) {
        var create = slomo_drm_mode_create_dumb()
        create.width = UInt32(width)
        create.height = UInt32(height)
        create.bpp = 32
        try ioctl(slomo_drm_ioctl_mode_create_dumb(), &create, "DRM_IOCTL_MODE_CREATE_DUMB")
        return (create.handle, Int(create.pitch), Int(create.size))
    }

    func mapDumb(handle: UInt32, size: Int) throws(SystemError) -> UnsafeMutableRawBufferPointer {
        var map = slomo_drm_mode_map_dumb()
        map.handle = handle
        try ioctl(slomo_drm_ioctl_mode_map_dumb(), &map, "DRM_IOCTL_MODE_MAP_DUMB")
        return try Sys.mmap(fd, length: size, offset: Int64(map.offset), "mmap dumb buffer on \(path)")
    }

    func destroyDumb(handle: UInt32) {
        var destroy = slomo_drm_mode_destroy_dumb(handle: handle)
        try? ioctl(slomo_drm_ioctl_mode_destroy_dumb(), &destroy, "DRM_IOCTL_MODE_DESTROY_DUMB")
    }

    func addFramebuffer(handle: UInt32, width: Int, height: Int, pitch: Int) throws(SystemError) -> UInt32 {
        var command = slomo_drm_mode_fb_cmd2()
        command.width = UInt32(width)
        command.height = UInt32(height)
        command.pixel_format = slomo_drm_format_xrgb8888()
        command.handles.0 = handle
        command.pitches.0 = UInt32(pitch)
        try ioctl(slomo_drm_ioctl_mode_addfb2(), &command, "DRM_IOCTL_MODE_ADDFB2")
        return command.fb_id
    }

    func removeFramebuffer(_ id: UInt32) {
        var fb = id
        try? ioctl(slomo_drm_ioctl_mode_rmfb(), &fb, "DRM_IOCTL_MODE_RMFB")
    }

    /// Queues `framebuffer` for the next vblank; its completion event carries `userData`.
    func pageFlip(crtc: UInt32, framebuffer: UInt32, userData: UInt64) throws(SystemError) {
        var flip = slomo_drm_mode_crtc_page_flip(crtc_id: crtc, fb_id: framebuffer,
                                                 flags: UInt32(SLOMO_DRM_MODE_PAGE_FLIP_EVENT), reserved: 0, user_data: userData)
        try ioctl(slomo_drm_ioctl_mode_page_flip(), &flip, "DRM_IOCTL_MODE_PAGE_FLIP")
    }

    /// Reads pending events and returns the completed flips (user data, vblank time in ns).
    func readFlipEvents(into scratch: UnsafeMutableRawBufferPointer) throws(SystemError) -> [(userData: UInt64, time: UInt64)] {
        let count = try Sys.read(fd, into: scratch)
        var flips: [(UInt64, UInt64)] = []
        var offset = 0
        while offset + MemoryLayout<slomo_drm_event>.size <= count {
            let header = scratch.loadUnaligned(fromByteOffset: offset, as: slomo_drm_event.self)
            guard header.length >= UInt32(MemoryLayout<slomo_drm_event>.size) else { break }
            if header.type == UInt32(SLOMO_DRM_EVENT_FLIP_COMPLETE),
               offset + MemoryLayout<slomo_drm_event_vblank>.size <= count {
                let event = scratch.loadUnaligned(fromByteOffset: offset, as: slomo_drm_event_vblank.self)
                flips.append((event.user_data, UInt64(event.tv_sec) * 1_000_000_000 + UInt64(event.tv_usec) * 1_000))
            }
            offset += Int(header.length)
        }
        return flips
    }

    /// The kernel's connector names (drm_connector_enum_list), so configs can say "HDMI-A-1".
    static func connectorName(type: UInt32, index: UInt32) -> String {
        let names = ["Unknown", "VGA", "DVI-I", "DVI-D", "DVI-A", "Composite", "SVIDEO", "LVDS", "Component",
                     "DIN", "DP", "HDMI-A", "HDMI-B", "TV", "eDP", "Virtual", "DSI", "DPI", "Writeback", "SPI", "USB"]
        return "\(type < names.count ? names[Int(type)] : "Unknown")-\(index)"
    }
}
