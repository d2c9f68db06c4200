import CV4L2
import Glibc
import SloMoCore
import SloMoLinux

/// An open V4L2 device node. Every VIDIOC_* slomo issues goes through these methods.
typealias V4L2Device = DeviceNode

extension DeviceNode {
    /// One step of a VIDIOC_ENUM_* walk: false past the last index (EINVAL), or when the
    /// driver does not enumerate at all (ENOTTY).
    private func enumerate<T>(_ request: UInt, _ argument: inout T, _ name: String) throws(SystemError) -> Bool {
        do throws(SystemError) {
            try ioctl(request, &argument, name)
            return true
        } catch let error where error.errno == EINVAL || error.errno == ENOTTY {
            return false
        }
    }

    /// The capabilities of this node (device_caps where the driver reports them: the
    /// top-level field describes the whole physical device, not this node).
    func capabilities() throws(SystemError) -> (caps: UInt32, driver: String, card: String) {
        var cap = v4l2_capability()
        try ioctl(UInt(slomo_vidioc_querycap()), &cap, "VIDIOC_QUERYCAP")
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        return (caps, cString(cap.driver), cString(cap.card))
    }

    /// Pixel formats the node offers for `type`, in the driver's order (VIDIOC_ENUM_FMT).
    func formats(type: v4l2_buf_type) throws(SystemError) -> [UInt32] {
        var result: [UInt32] = []
        for index in 0... {
            var desc = v4l2_fmtdesc()
            desc.index = UInt32(index)
            desc.type = type.rawValue
            guard try enumerate(UInt(slomo_vidioc_enum_fmt()), &desc, "VIDIOC_ENUM_FMT") else { break }
            result.append(desc.pixelformat)
        }
        return result
    }

    /// Frame sizes for `fourcc` (VIDIOC_ENUM_FRAMESIZES); nil when the driver does not enumerate.
    func frameSizes(fourcc: UInt32) throws(SystemError) -> FrameSizes? {
        var sizes: [FrameSize] = []
        for index in 0... {
            var entry = v4l2_frmsizeenum()
            entry.index = UInt32(index)
            entry.pixel_format = fourcc
            guard try enumerate(UInt(slomo_vidioc_enum_framesizes()), &entry, "VIDIOC_ENUM_FRAMESIZES") else { break }
            if entry.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                sizes.append(FrameSize(width: Int(entry.discrete.width), height: Int(entry.discrete.height)))
            } else {
                let s = entry.stepwise
                return .range(width: Int(s.min_width)...Int(s.max_width), widthStep: max(Int(s.step_width), 1),
                              height: Int(s.min_height)...Int(s.max_height), heightStep: max(Int(s.step_height), 1))
            }
        }
        return sizes.isEmpty ? nil : .discrete(sizes)
    }

    /// Frame intervals at one size (VIDIOC_ENUM_FRAMEINTERVALS); nil when the driver does not enumerate.
    func frameIntervals(fourcc: UInt32, size: FrameSize) throws(SystemError) -> FrameIntervals? {
        var intervals: [Rational] = []
        for index in 0... {
            var entry = v4l2_frmivalenum()
            entry.index = UInt32(index)
            entry.pixel_format = fourcc
            entry.width = UInt32(size.width)
            entry.height = UInt32(size.height)
            guard try enumerate(UInt(slomo_vidioc_enum_frameintervals()), &entry, "VIDIOC_ENUM_FRAMEINTERVALS") else { break }
            if entry.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue {
                let d = entry.discrete
                if d.numerator > 0 && d.denominator > 0 { intervals.append(Rational(Int(d.numerator), Int(d.denominator))) }
            } else {
                let s = entry.stepwise
                guard s.min.numerator > 0, s.min.denominator > 0, s.max.numerator > 0, s.max.denominator > 0 else { break }
                return .range(shortest: Rational(Int(s.min.numerator), Int(s.min.denominator)),
                              longest: Rational(Int(s.max.numerator), Int(s.max.denominator)))
            }
        }
        return intervals.isEmpty ? nil : .discrete(intervals)
    }

    func setFormat(_ format: inout v4l2_format) throws(SystemError) {
        try ioctl(UInt(slomo_vidioc_s_fmt()), &format, "VIDIOC_S_FMT")
    }

    func getFormat(type: v4l2_buf_type) throws(SystemError) -> v4l2_format {
        var format = v4l2_format()
        format.type = type.rawValue
        try ioctl(UInt(slomo_vidioc_g_fmt()), &format, "VIDIOC_G_FMT")
        return format
    }

    /// The current seconds per frame (VIDIOC_G_PARM); nil where the driver reports none.
    func frameInterval(type: v4l2_buf_type) throws(SystemError) -> Rational? {
        var parm = v4l2_streamparm()
        parm.type = type.rawValue
        try ioctl(UInt(slomo_vidioc_g_parm()), &parm, "VIDIOC_G_PARM")
        let current = type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? parm.parm.capture.timeperframe : parm.parm.output.timeperframe
        return current.numerator > 0 && current.denominator > 0 ? Rational(Int(current.numerator), Int(current.denominator)) : nil
    }

    /// Asks for `interval` seconds per frame (VIDIOC_S_PARM) and returns what the driver set;
    /// nil where the driver has no frame-interval control. S_PARM is tried whatever the
    /// V4L2_CAP_TIMEPERFRAME flag says: v4l2loopback honours it without setting the flag.
    func setFrameInterval(_ interval: Rational, type: v4l2_buf_type) throws(SystemError) -> Rational? {
        var parm = v4l2_streamparm()
        parm.type = type.rawValue
        let perFrame = v4l2_fract(numerator: UInt32(interval.numerator), denominator: UInt32(interval.denominator))
        let isCapture = type == V4L2_BUF_TYPE_VIDEO_CAPTURE
        if isCapture { parm.parm.capture.timeperframe = perFrame } else { parm.parm.output.timeperframe = perFrame }
        do throws(SystemError) {
            try ioctl(UInt(slomo_vidioc_s_parm()), &parm, "VIDIOC_S_PARM")
        } catch let error where error.errno == ENOTTY || error.errno == EINVAL {
            return nil
        }
        let set = isCapture ? parm.parm.capture.timeperframe : parm.parm.output.timeperframe
        return set.numerator > 0 && set.denominator > 0 ? Rational(Int(set.numerator), Int(set.denominator)) : nil
    }

    /// Asks for `count` mmap buffers (VIDIOC_REQBUFS) and returns how many the driver gave.
    func requestBuffers(_ count: Int, type: v4l2_buf_type) throws(SystemError) -> Int {
        var request = v4l2_requestbuffers()
        request.count = UInt32(count)
        request.type = type.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        try ioctl(UInt(slomo_vidioc_reqbufs()), &request, "VIDIOC_REQBUFS")
        return Int(request.count)
    }

    /// Maps buffer `index` (VIDIOC_QUERYBUF, then mmap at the offset the driver gives).
    func mapBuffer(_ index: Int, type: v4l2_buf_type) throws(SystemError) -> UnsafeMutableRawBufferPointer {
        var buffer = v4l2_buffer()
        buffer.index = UInt32(index)
        buffer.type = type.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        try ioctl(UInt(slomo_vidioc_querybuf()), &buffer, "VIDIOC_QUERYBUF")
        return try Sys.mmap(fd, length: Int(buffer.length), offset: Int64(buffer.m.offset), "mmap buffer \(index) of \(path)")
    }

    func queue(_ buffer: inout v4l2_buffer) throws(SystemError) {
        try ioctl(UInt(slomo_vidioc_qbuf()), &buffer, "VIDIOC_QBUF")
    }

    /// Takes the next done buffer (VIDIOC_DQBUF); nil when none is ready (EAGAIN).
    func dequeue(type: v4l2_buf_type) throws(SystemError) -> v4l2_buffer? {
        var buffer = v4l2_buffer()
        buffer.type = type.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        do throws(SystemError) {
            try ioctl(UInt(slomo_vidioc_dqbuf()), &buffer, "VIDIOC_DQBUF")
        } catch let error where error.errno == EAGAIN {
            return nil
        }
        return buffer
    }

    func stream(_ on: Bool, type: v4l2_buf_type) throws(SystemError) {
        var value = Int32(bitPattern: type.rawValue)
        if on {
            try ioctl(UInt(slomo_vidioc_streamon()), &value, "VIDIOC_STREAMON")
        } else {
            try ioctl(UInt(slomo_vidioc_streamoff()), &value, "VIDIOC_STREAMOFF")
        }
    }
}

/// A fixed-size C char array (a tuple in Swift) as a String.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}

/// The YCbCr matrix and range a V4L2 format describes, with the V4L2 rules for the DEFAULT
/// values (videodev2.h's V4L2_MAP_YCBCR_ENC_DEFAULT and V4L2_MAP_QUANTIZATION_DEFAULT).
func colorSpace(of pix: v4l2_pix_format, isRGB: Bool, compressed: Bool) -> ColorSpace {
    let space = pix.colorspace
    let jpeg = space == V4L2_COLORSPACE_JPEG.rawValue || compressed
    let matrix: ColorSpace.Matrix
    switch pix.ycbcr_enc {
    case UInt32(V4L2_YCBCR_ENC_709.rawValue): matrix = .bt709
    case UInt32(V4L2_YCBCR_ENC_601.rawValue): matrix = .bt601
    default:
        let is709 = space == V4L2_COLORSPACE_REC709.rawValue || space == V4L2_COLORSPACE_DCI_P3.rawValue
        matrix = is709 ? .bt709 : .bt601
    }
    let range: ColorSpace.Range
    switch pix.quantization {
    case UInt32(V4L2_QUANTIZATION_FULL_RANGE.rawValue): range = .full
    case UInt32(V4L2_QUANTIZATION_LIM_RANGE.rawValue): range = .limited
    default: range = isRGB || jpeg ? .full : .limited
    }
    return ColorSpace(matrix: matrix, range: range)
}
