import SloMoGPU

/// A float32 CHW tensor (batch 1) on the device: a window of channels in a GPU buffer.
/// Concatenation and channel slicing are views: a layer writes into channel offsets of a bigger
/// tensor instead of copying.
public struct TensorView {
    public let buffer: GPUBuffer
    /// Offset of channel 0, in floats from the start of the buffer.
    public let offset: Int
    public let channels: Int
    public let height: Int
    public let width: Int

    public init(buffer: GPUBuffer, offset: Int = 0, channels: Int, height: Int, width: Int) {
        precondition((offset + channels * height * width) * 4 <= buffer.byteCount,
                     "tensor \(channels)×\(height)×\(width) at \(offset) overruns \(buffer.label)")
        self.buffer = buffer
        self.offset = offset
        self.channels = channels
        self.height = height
        self.width = width
    }

    public var plane: Int { height * width }
    public var count: Int { channels * plane }

    /// Channels `range` of this tensor.
    public func channels(_ range: Range<Int>) -> TensorView {
        precondition(range.lowerBound >= 0 && range.upperBound <= channels, "channels \(range) of \(channels)")
        return TensorView(buffer: buffer, offset: offset + range.lowerBound * plane, channels: range.count, height: height, width: width)
    }
}
