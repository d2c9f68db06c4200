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
        let current = type.isCapture ? parm.parm.capture.timeperframe : parm.parm.output.timeperframe
        return current.numerator > 0 && current.denominator > 0 ? Rational(Int(current.numerator), Int(current.denominator)) : nil
    }

    /// Asks for `interval` seconds per frame (VIDIOC_S_PARM) and returns what the driver set;
    /// nil where the driver has no frame-interval control. S_PARM is tried whatever the
    /// V4L2_CAP_TIMEPERFRAME flag says: v4l2loopback honours it without setting the flag.
    func setFrameInterval(_ interval: Rational, type: v4l2_buf_type) throws(SystemError) -> Rational? {
        var parm = v4l2_streamparm()
        parm.type = type.rawValue
        let perFrame = v4l2_fract(numerator: UInt32(interval.numerator), denominator: UInt32(interval.denominator))
        let isCapture = type.isCapture
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

    /// Maps buffer `index` (VIDIOC_QUERYBUF, then mmap at the offset the driver gives): one
    /// mapping per buffer plane.
    func mapBuffer(_ index: Int, type: v4l2_buf_type, planes: Int) throws(SystemError) -> [UnsafeMutableRawBufferPointer] {
        var buffer = V4L2Buffer(index: index, type: type, planes: planes)
        try exchange(UInt(slomo_vidioc_querybuf()), &buffer, "VIDIOC_QUERYBUF")
        var mappings: [UnsafeMutableRawBufferPointer] = []
        do throws(SystemError) {
            for plane in 0..<max(planes, 1) {
                let (length, offset) = buffer.memory(plane)
                mappings.append(try Sys.mmap(fd, length: length, offset: offset, "mmap buffer \(index) plane \(plane) of \(path)"))
            }
        } catch {
            mappings.forEach(Sys.munmap)
            throw error
        }
        return mappings
    }

    /// A dma-buf descriptor for plane `plane` of buffer `index` (VIDIOC_EXPBUF), closed on exec;
    /// the caller closes it. Read-write although only read: lavapipe maps an imported dma-buf
    /// writable and refuses a read-only one (VK_ERROR_INVALID_EXTERNAL_HANDLE, seen with vivid).
    func exportBuffer(_ index: Int, plane: Int, type: v4l2_buf_type) throws(SystemError) -> Int32 {
        var export = v4l2_exportbuffer()
        export.type = type.rawValue
        export.index = UInt32(index)
        export.plane = UInt32(plane)
        export.flags = UInt32(O_RDWR | O_CLOEXEC)
        try ioctl(UInt(slomo_vidioc_expbuf()), &export, "VIDIOC_EXPBUF")
        return export.fd
    }

    func queue(_ buffer: inout V4L2Buffer) throws(SystemError) {
        try exchange(UInt(slomo_vidioc_qbuf()), &buffer, "VIDIOC_QBUF")
    }

    /// Takes the next done buffer (VIDIOC_DQBUF); nil when none is ready (EAGAIN: the node is
    /// open non-blocking).
    func dequeue(type: v4l2_buf_type, planes: Int) throws(SystemError) -> V4L2Buffer? {
        var buffer = V4L2Buffer(index: 0, type: type, planes: planes)
        do throws(SystemError) {
            try exchange(UInt(slomo_vidioc_dqbuf()), &buffer, "VIDIOC_DQBUF")
        } catch let error where error.errno == EAGAIN {
            return nil
        }
        return buffer
    }

    /// One buffer ioctl; for the multi-planar API the plane array rides along through `m.planes`.
    private func exchange(_ request: UInt, _ buffer: inout V4L2Buffer, _ name: String) throws(SystemError) {
        guard !buffer.planes.isEmpty else { return try ioctl(request, &buffer.buffer, name) }
        var planes = buffer.planes
        var header = buffer.buffer
        var failure: SystemError?
        planes.withUnsafeMutableBufferPointer { array in
            header.m.planes = array.baseAddress
            header.length = UInt32(array.count)
            do throws(SystemError) { try ioctl(request, &header, name) } catch { failure = error }
            header.m.planes = nil
        }
        if let failure { throw failure }
        buffer = V4L2Buffer(buffer: header, planes: planes)
    }

    /// The input this node captures from (VIDIOC_G_INPUT); nil where the driver has no inputs.
    func currentInput() throws(SystemError) -> Int? {
        var index: Int32 = 0
        do throws(SystemError) {
            try ioctl(UInt(slomo_vidioc_g_input()), &index, "VIDIOC_G_INPUT")
        } catch let error where error.errno == ENOTTY || error.errno == EINVAL {
            return nil
        }
        return Int(index)
    }

    /// Whether input `index` takes DV timings (VIDIOC_ENUMINPUT: HDMI, DVI, DisplayPort, SDI).
    func inputTakesDVTimings(_ index: Int) throws(SystemError) -> Bool {
        var input = v4l2_input()
        input.index = UInt32(index)
        guard try enumerate(UInt(slomo_vidioc_enuminput()), &input, "VIDIOC_ENUMINPUT") else { return false }
        return input.capabilities & UInt32(V4L2_IN_CAP_DV_TIMINGS) != 0
    }

    /// Asks for V4L2_EVENT_SOURCE_CHANGE of input `input` (the event's id is the input's index);
    /// false where the driver sends no such events.
    func subscribeSourceChanges(input: Int) throws(SystemError) -> Bool {
        var subscription = v4l2_event_subscription()
        subscription.type = UInt32(V4L2_EVENT_SOURCE_CHANGE)
        subscription.id = UInt32(input)
        do throws(SystemError) {
            try ioctl(UInt(slomo_vidioc_subscribe_event()), &subscription, "VIDIOC_SUBSCRIBE_EVENT")
        } catch let error where error.errno == ENOTTY || error.errno == EINVAL {
            return false
        }
        return true
    }

    /// Takes the next pending event (VIDIOC_DQEVENT); nil when none waits (ENOENT).
    func dequeueEvent() throws(SystemError) -> v4l2_event? {
        var event = v4l2_event()
        do throws(SystemError) {
            try ioctl(UInt(slomo_vidioc_dqevent()), &event, "VIDIOC_DQEVENT")
        } catch let error where error.errno == ENOENT {
            return nil
        }
        return event
    }

    /// The DV timings set on the current input (VIDIOC_G_DV_TIMINGS).
    func dvTimings() throws(SystemError) -> v4l2_dv_timings {
        var timings = v4l2_dv_timings()
        try ioctl(UInt(slomo_vidioc_g_dv_timings()), &timings, "VIDIOC_G_DV_TIMINGS")
        return timings
    }

    /// The timings the receiver detects on its input (VIDIOC_QUERY_DV_TIMINGS); nil while it has
    /// no signal (ENOLINK), cannot lock (ENOLCK) or the signal is out of range (ERANGE).
    func queryDVTimings() throws(SystemError) -> v4l2_dv_timings? {
        var timings = v4l2_dv_timings()
        do throws(SystemError) {
            try ioctl(UInt(slomo_vidioc_query_dv_timings()), &timings, "VIDIOC_QUERY_DV_TIMINGS")
        } catch let error where error.errno == ENOLINK || error.errno == ENOLCK || error.errno == ERANGE {
            return nil
        }
        return timings
    }

    /// Sets the input's DV timings (VIDIOC_S_DV_TIMINGS); the driver refuses (EBUSY) while
    /// buffers are allocated.
    func setDVTimings(_ timings: v4l2_dv_timings) throws(SystemError) {
        var timings = timings
        try ioctl(UInt(slomo_vidioc_s_dv_timings()), &timings, "VIDIOC_S_DV_TIMINGS")
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

/// A v4l2_buffer with its plane array (empty for the single-planar API, where the one plane's
/// fields are the buffer's own).
struct V4L2Buffer {
    var buffer: v4l2_buffer
    var planes: [v4l2_plane]

    init(buffer: v4l2_buffer, planes: [v4l2_plane]) {
        self.buffer = buffer
        self.planes = planes
    }

    /// An mmap buffer; `planes` is 0 for the single-planar API.
    init(index: Int, type: v4l2_buf_type, planes: Int) {
        buffer = v4l2_buffer()
        buffer.index = UInt32(index)
        buffer.type = type.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        self.planes = Array(repeating: v4l2_plane(), count: planes)
    }

    var index: Int { Int(buffer.index) }

    /// Where buffer plane `plane` is mapped from: its length and mmap offset.
    func memory(_ plane: Int) -> (length: Int, offset: Int64) {
        planes.isEmpty ? (Int(buffer.length), Int64(buffer.m.offset)) : (Int(planes[plane].length), Int64(planes[plane].m.mem_offset))
    }

    /// Where the frame's bytes lie in buffer plane `plane`: the offset of the data (a header may
    /// come first) and the end of what the driver wrote.
    func payload(_ plane: Int) -> (dataOffset: Int, bytesUsed: Int) {
        planes.isEmpty ? (0, Int(buffer.bytesused)) : (Int(planes[plane].data_offset), Int(planes[plane].bytesused))
    }
}

extension v4l2_buf_type {
    var isCapture: Bool { self == V4L2_BUF_TYPE_VIDEO_CAPTURE || self == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE }
}

/// The YCbCr matrix and range a V4L2 format describes (its colorspace, ycbcr_enc and
/// quantization fields), with the V4L2 rules for the DEFAULT values (videodev2.h's
/// V4L2_MAP_YCBCR_ENC_DEFAULT and V4L2_MAP_QUANTIZATION_DEFAULT).
func colorSpace(colorspace space: UInt32, encoding: UInt32, quantization: UInt32, isRGB: Bool, compressed: Bool) -> ColorSpace {
    let jpeg = space == V4L2_COLORSPACE_JPEG.rawValue || compressed
    let matrix: ColorSpace.Matrix
    switch encoding {
    case UInt32(V4L2_YCBCR_ENC_709.rawValue): matrix = .bt709
    case UInt32(V4L2_YCBCR_ENC_601.rawValue): matrix = .bt601
    default:
        let is709 = space == V4L2_COLORSPACE_REC709.rawValue || space == V4L2_COLORSPACE_DCI_P3.rawValue
        matrix = is709 ? .bt709 : .bt601
    }
    let range: ColorSpace.Range
    switch quantization {
    case UInt32(V4L2_QUANTIZATION_FULL_RANGE.rawValue): range = .full
    case UInt32(V4L2_QUANTIZATION_LIM_RANGE.rawValue): range = .limited
    default: range = isRGB || jpeg ? .full : .limited
    }
    return ColorSpace(matrix: matrix, range: range)
}
