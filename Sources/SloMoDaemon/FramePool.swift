import SloMoGPU

/// Frame buffers allocated up front and shared by reference count: a captured frame is held by
/// the engine and by every output slot that shows it (as itself or as a stand-in for a late
/// synthesised frame), a synthesised frame by its slot. A buffer returns to the free list when
/// its last holder releases it. Not thread-safe: the pipeline calls it under its lock; the bytes
/// themselves are written only by a buffer's single owner before it is shared.
final class FramePool {
    let frameBytes: Int
    /// Host-visible GPU memory: the capture's one copy of a frame is the one the engine reads.
    private var frames: [HostFrame] = []
    private var arenas: [BufferArena] = []
    private var references: [Int] = []
    private var free: [Int] = []

    /// Buffers made by `allocate`, not yet in a pool.
    struct Block {
        fileprivate let arenas: [BufferArena]
        fileprivate let frames: [HostFrame]
        var isEmpty: Bool { frames.isEmpty }
    }

    init(frameBytes: Int) {
        self.frameBytes = frameBytes
    }

    var capacity: Int { frames.count }

    /// `count` new buffers (none if it is not positive), made outside the lock so that no
    /// thread on the frame path waits on an allocation.
    static func allocate(_ count: Int, frameBytes: Int, context: GPUContext) throws -> Block {
        let (arenas, frames) = try HostFrame.allocate(count, byteCount: frameBytes, context: context)
        return Block(arenas: arenas, frames: frames)
    }

    /// Adds buffers made by `allocate`; the pool keeps their memory.
    func add(_ made: Block) {
        // Reserving first keeps later pushes to the free list from allocating.
        references.reserveCapacity(frames.count + made.frames.count)
        free.reserveCapacity(frames.count + made.frames.count)
        for frame in made.frames {
            free.append(frames.count)
            frames.append(frame)
            references.append(0)
        }
        arenas += made.arenas
    }

    /// A free buffer with one reference, or nil when all are in use.
    func acquire() -> Int? {
        guard let index = free.popLast() else { return nil }
        references[index] = 1
        return index
    }

    func retain(_ index: Int) {
        precondition(references[index] > 0, "retain of a free frame buffer")
        references[index] += 1
    }

    func release(_ index: Int) {
        precondition(references[index] > 0, "release of a free frame buffer")
        references[index] -= 1
        if references[index] == 0 { free.append(index) }
    }

    subscript(index: Int) -> UnsafeMutableRawBufferPointer { frames[index].bytes }

    /// Where the GPU finds buffer `index`.
    func frame(_ index: Int) -> HostFrame { frames[index] }
}

/// Capture-to-output latencies in 0.1 ms buckets up to 2 s, counted without allocating.
final class LatencyHistogram {
    static let bucketsPerMillisecond = 10
    static let bucketCount = 2_000 * bucketsPerMillisecond
    private var buckets = [UInt32](repeating: 0, count: bucketCount + 1)
    private(set) var count = 0
    private(set) var maximum: UInt64 = 0

    func record(nanoseconds: UInt64) {
        let bucket = min(Int(nanoseconds / 100_000), LatencyHistogram.bucketCount)
        buckets[bucket] &+= 1
        count += 1
        maximum = max(maximum, nanoseconds)
    }

    /// The latency in milliseconds below which `fraction` of the samples lie (bucket upper edge).
    func percentile(_ fraction: Double) -> Double? {
        guard count > 0 else { return nil }
        let target = max(1, Int((fraction * Double(count)).rounded(.up)))
        var seen = 0
        for (index, value) in buckets.enumerated() {
            seen += Int(value)
            if seen >= target { return Double(index + 1) / Double(LatencyHistogram.bucketsPerMillisecond) }
        }
        return Double(maximum) / 1e6
    }
}
