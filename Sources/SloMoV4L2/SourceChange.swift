import CV4L2

/// The timings of an HDMI-like input (VIDIOC_G/QUERY_DV_TIMINGS), reduced to what decides the
/// picture: the active size, scan and the blanking that, with the pixel clock, sets the rate.
/// The fields are those v4l2_match_dv_timings compares.
public struct DVTimings: Equatable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public var interlaced: Bool
    public var pixelClock: UInt64
    /// Active plus blanking, per line and per frame.
    public var totalWidth: Int
    public var totalHeight: Int

    public init(width: Int, height: Int, interlaced: Bool = false, pixelClock: UInt64, totalWidth: Int, totalHeight: Int) {
        self.width = width
        self.height = height
        self.interlaced = interlaced
        self.pixelClock = pixelClock
        self.totalWidth = totalWidth
        self.totalHeight = totalHeight
    }

    init(_ timings: v4l2_dv_timings) {
        let bt = timings.bt
        let horizontal = Int(bt.hfrontporch) + Int(bt.hsync) + Int(bt.hbackporch)
        var vertical = Int(bt.vfrontporch) + Int(bt.vsync) + Int(bt.vbackporch)
        if bt.interlaced != 0 { vertical += Int(bt.il_vfrontporch) + Int(bt.il_vsync) + Int(bt.il_vbackporch) }
        self.init(width: Int(bt.width), height: Int(bt.height), interlaced: bt.interlaced != 0, pixelClock: bt.pixelclock,
                  totalWidth: Int(bt.width) + horizontal, totalHeight: Int(bt.height) + vertical)
    }

    /// Frames per second (fields for interlaced timings count in pairs).
    public var frameRate: Double {
        totalWidth > 0 && totalHeight > 0 ? Double(pixelClock) / Double(totalWidth * totalHeight) : 0
    }

    /// As v4l2-ctl and the kernel name them: 640x480p59.94.
    public var description: String {
        "\(width)x\(height)\(interlaced ? "i" : "p")\((frameRate * 100).rounded() / 100)"
    }
}

/// What the capture does about a V4L2_EVENT_SOURCE_CHANGE.
enum SourceChangeResponse: Equatable {
    /// Nothing the stream depends on changed: keep streaming.
    case keep
    /// Stop, take up the new format (and, for a DV input, set the detected timings), restart.
    case renegotiate(timings: DVTimings?)

    /// `changes` is the event's V4L2_EVENT_SRC_CH_* mask. A DV input is renegotiated only when
    /// the timings it detects differ from those set: drivers send the event for a hotplug or a
    /// signal that comes back unchanged too, and a restart then would cost frames for nothing.
    /// With nothing detected (no signal, no lock) the stream is left alone: its frames stop, and
    /// the stall path reopens the device with backoff until a signal locks. Other inputs
    /// renegotiate whenever the driver says the resolution changed.
    static func decide(changes: UInt32, dvInput: Bool, current: DVTimings?, detected: DVTimings?) -> SourceChangeResponse {
        if dvInput {
            return timingsToSet(current: current, detected: detected).map { .renegotiate(timings: $0) } ?? .keep
        }
        return changes & UInt32(V4L2_EVENT_SRC_CH_RESOLUTION) != 0 ? .renegotiate(timings: nil) : .keep
    }

    /// The timings to set on a DV input: those detected, when they differ from those set (a
    /// receiver keeps the last timings set, which need not be the signal's); nil to keep them.
    static func timingsToSet(current: DVTimings?, detected: DVTimings?) -> DVTimings? {
        guard let detected, detected != current else { return nil }
        return detected
    }
}
