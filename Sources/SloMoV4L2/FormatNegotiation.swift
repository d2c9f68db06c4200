import SloMoCore

public struct FrameSize: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
    public var description: String { "\(width)x\(height)" }
}

/// Frame sizes one pixel format offers (VIDIOC_ENUM_FRAMESIZES).
enum FrameSizes: Equatable {
    case discrete([FrameSize])
    /// Stepwise or continuous (step 1).
    case range(width: ClosedRange<Int>, widthStep: Int, height: ClosedRange<Int>, heightStep: Int)

    /// The offered sizes worth considering: all discrete ones, or for a range the requested
    /// size snapped onto it (the largest when nothing is requested).
    func candidates(width: Int?, height: Int?) -> [FrameSize] {
        switch self {
        case .discrete(let sizes):
            return sizes
        case .range(let w, let wStep, let h, let hStep):
            func snap(_ value: Int?, _ range: ClosedRange<Int>, _ step: Int) -> Int {
                guard let value else { return range.upperBound - (range.upperBound - range.lowerBound) % step }
                let clamped = min(max(value, range.lowerBound), range.upperBound)
                return range.lowerBound + (clamped - range.lowerBound) / step * step
            }
            return [FrameSize(width: snap(width, w, wStep), height: snap(height, h, hStep))]
        }
    }
}

/// Frame intervals at one size (VIDIOC_ENUM_FRAMEINTERVALS), in seconds per frame.
enum FrameIntervals: Equatable {
    case discrete([Rational])
    /// Stepwise or continuous: any interval between the two.
    case range(shortest: Rational, longest: Rational)

    /// The rate to ask for: the one nearest `requested`, or the fastest when nothing is
    /// requested. With nothing requested from a continuous range the answer is nil: keep the
    /// device's current rate. Such ranges come from virtual devices like v4l2loopback, where
    /// a reader's S_PARM would change the rate for the writer and every other reader.
    func bestRate(requested: Rational?) -> Rational? {
        let rates: [Rational]
        switch self {
        case .discrete(let intervals):
            rates = intervals.map { Rational($0.denominator, $0.numerator) }
        case .range(let shortest, let longest):
            let fastest = Rational(shortest.denominator, shortest.numerator)
            let slowest = Rational(longest.denominator, longest.numerator)
            guard let requested else { return nil }
            if requested.doubleValue > fastest.doubleValue { return fastest }
            if requested.doubleValue < slowest.doubleValue { return slowest }
            return requested
        }
        guard let requested else { return rates.max { $0.doubleValue < $1.doubleValue }! }
        return rates.min { abs($0.doubleValue - requested.doubleValue) < abs($1.doubleValue - requested.doubleValue) }!
    }
}

/// What one pixel format of a device offers.
struct FormatOffer {
    var format: V4L2PixelFormat
    /// nil when the driver does not enumerate sizes: only the requested or current size is tried.
    var sizes: FrameSizes?
    /// Offered through the multi-planar API (V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE).
    var multiPlanar = false
    var intervals: (FrameSize) -> FrameIntervals?
}

/// A format, size and rate to set on the device.
struct CaptureMode: Equatable, CustomStringConvertible {
    var format: V4L2PixelFormat
    var size: FrameSize
    /// nil when the device's current rate is kept (no enumeration, or a range and no request).
    var rate: Rational?
    var multiPlanar = false
    var description: String { "\(format.rawValue) \(size)" + (rate.map { "@\($0)" } ?? "") + (multiPlanar ? " (multi-planar)" : "") }
}

/// Picks the mode to capture in. With nothing requested, "best" means: a rate of at least
/// 24 fps if any mode reaches it, then the largest picture, then the highest rate, then
/// uncompressed over MJPEG (no CPU decode), then the single-planar API over the multi-planar
/// one where a node speaks both, then the driver's own order. A requested pixel
/// format is required; a requested size or rate is matched as closely as the device allows.
func negotiate(offers: [FormatOffer], width: Int?, height: Int?, rate: Rational?,
               pixelFormat: V4L2PixelFormat?, fallbackSize: FrameSize) -> CaptureMode? {
    struct Scored {
        var mode: CaptureMode
        var key: [Double]
    }
    var best: Scored?
    for (order, offer) in offers.enumerated() where pixelFormat == nil || offer.format == pixelFormat {
        let sizes = offer.sizes?.candidates(width: width, height: height)
            ?? [FrameSize(width: width ?? fallbackSize.width, height: height ?? fallbackSize.height)]
        for size in sizes {
            let chosenRate = offer.intervals(size).flatMap { $0.bestRate(requested: rate) }
            let fps = chosenRate?.doubleValue ?? rate?.doubleValue ?? 0
            var sizeScore = 0.0
            if let width { sizeScore -= Double(abs(size.width - width)) }
            if let height { sizeScore -= Double(abs(size.height - height)) }
            let rateScore = rate.map { -abs(fps - $0.doubleValue) } ?? (fps >= 24 ? 1 : 0)
            // Larger is better, compared element by element.
            let key = [sizeScore, rateScore, Double(size.width * size.height), fps,
                       offer.format.isCompressed ? 0 : 1, offer.multiPlanar ? 0 : 1, -Double(order)]
            if best.map({ $0.key.lexicographicallyPrecedes(key) }) ?? true {
                best = Scored(mode: CaptureMode(format: offer.format, size: size, rate: chosenRate, multiPlanar: offer.multiPlanar), key: key)
            }
        }
    }
    return best?.mode
}
