/// A small luma picture of a frame, read on the CPU from the packed input bytes.
public struct LumaThumbnail: Sendable {
    public static let width = 32, height = 18
    /// 8-bit luma (or RGB mean) samples, row-major.
    public private(set) var samples = [UInt8](repeating: 0, count: LumaThumbnail.width * LumaThumbnail.height)

    public init(frame: UnsafeRawBufferPointer, format: FrameFormat) {
        update(frame: frame, format: format, plane: format.pixelFormat.planes(width: format.width, height: format.height)[0])
    }

    /// Samples a new frame into the same storage (`plane` is the format's first plane), so the
    /// frame path allocates nothing.
    public mutating func update(frame: UnsafeRawBufferPointer, format: FrameFormat, plane: PlaneLayout) {
        let w = format.width, h = format.height
        for ty in 0..<LumaThumbnail.height {
            let y = (2 * ty + 1) * h / (2 * LumaThumbnail.height)
            for tx in 0..<LumaThumbnail.width {
                let x = (2 * tx + 1) * w / (2 * LumaThumbnail.width)
                let row = plane.offset + y * plane.stride
                let value: Int
                switch format.pixelFormat {
                case .yuv420p, .yuv422p, .yuv444p, .nv12: value = Int(frame[row + x])
                case .yuyv: value = Int(frame[row + x * 2])
                case .uyvy: value = Int(frame[row + x * 2 + 1])
                case .rgb24, .bgr24: value = (Int(frame[row + x * 3]) + Int(frame[row + x * 3 + 1]) * 2 + Int(frame[row + x * 3 + 2])) / 4
                case .xrgb8888: value = (Int(frame[row + x * 4]) + Int(frame[row + x * 4 + 1]) * 2 + Int(frame[row + x * 4 + 2])) / 4
                }
                samples[ty * LumaThumbnail.width + tx] = UInt8(value)
            }
        }
    }
}

/// Decides that two frames belong to different shots: their brightness histograms differ
/// (which fast motion within a shot rarely changes much) and so do the pictures themselves.
public struct SceneCutDetector: Sendable {
    /// Half the L1 distance between normalised 16-bin histograms, 0...1.
    public var histogramThreshold: Double = 0.35
    /// Mean absolute thumbnail difference in 8-bit levels.
    public var differenceThreshold: Double = 30
    public var enabled = true

    public init() {}

    public func isCut(_ a: LumaThumbnail?, _ b: LumaThumbnail?) -> Bool {
        guard enabled, let a, let b else { return false }
        let measure = SceneCutDetector.measure(a, b)
        return measure.histogram > histogramThreshold && measure.difference > differenceThreshold
    }

    public static func measure(_ a: LumaThumbnail, _ b: LumaThumbnail) -> (histogram: Double, difference: Double) {
        var histogramA = [Int](repeating: 0, count: 16), histogramB = histogramA
        var difference = 0
        for (x, y) in zip(a.samples, b.samples) {
            histogramA[Int(x) >> 4] += 1
            histogramB[Int(y) >> 4] += 1
            difference += abs(Int(x) - Int(y))
        }
        let count = Double(a.samples.count)
        let distance = zip(histogramA, histogramB).reduce(0) { $0 + abs($1.0 - $1.1) }
        return (Double(distance) / (2 * count), Double(difference) / count)
    }
}
