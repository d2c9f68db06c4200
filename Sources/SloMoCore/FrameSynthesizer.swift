/// What one call to `synthesize` produced.
public struct Synthesis: Sendable {
    /// Frames written, one per requested time.
    public var count: Int
    /// The pair straddles a scene cut: every slot holds its nearest real frame instead of a blend.
    public var sceneCut: Bool
    /// Wall time of the GPU submission, in milliseconds (0 when nothing ran).
    public var gpuMilliseconds: Double

    public init(count: Int, sceneCut: Bool, gpuMilliseconds: Double) {
        self.count = count
        self.sceneCut = sceneCut
        self.gpuMilliseconds = gpuMilliseconds
    }
}

/// Makes intermediate frames between the last two frames appended: the classical flow engine and
/// the neural networks both do this, so front ends (file converter, daemon) drive either.
public protocol FrameSynthesizer: AnyObject {
    var format: FrameFormat { get }
    /// Bytes of device and host memory held.
    var memory: (device: Int, host: Int) { get }
    /// Lets `fill` write the next frame straight into GPU-visible memory; appends nothing when `fill` returns false.
    func append(_ fill: (UnsafeMutableRawBufferPointer) throws -> Bool) throws -> Bool
    /// Forgets the previous frame (after a seek or a gap).
    func reset()
    /// Makes one frame for each t in `times` (each in (0, 1)) between the last two appended frames.
    @discardableResult
    func synthesize(times: [Float]) throws -> Synthesis
    /// Frame `index` of the last synthesis, in the input's format.
    func output(_ index: Int) -> UnsafeRawBufferPointer
}

extension FrameSynthesizer {
    /// Copies the next frame (format.byteCount bytes, tightly packed) in.
    public func append(_ frame: UnsafeRawBufferPointer) throws {
        let bytes = format.byteCount
        precondition(frame.count >= bytes, "a frame has \(bytes) bytes")
        _ = try append { slot in
            slot.copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[..<bytes]))
            return true
        }
    }
}
