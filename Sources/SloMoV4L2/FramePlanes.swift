import SloMoCore

/// Where a captured frame's colour planes lie in the driver's buffers, and the one copy that
/// packs them into the engine's frame (`FrameFormat`'s tightly packed planes) when they do not
/// lie that way already: padded rows, planes in buffers of their own, interleaved chroma the
/// engine takes planar.
struct FramePlanes {
    struct Placement: Equatable {
        /// Offset from the start of the plane's data in its buffer (after VIDIOC's data_offset).
        var offset: Int
        var stride: Int
        var rows: Int
        /// Bytes of samples in each row (the rest of the stride is padding).
        var rowBytes: Int
    }

    let format: FrameFormat
    let planes: [SourcePlane]
    let placements: [Placement]
    /// Bytes each buffer plane must hold past its data offset for a whole frame.
    let needed: [Int]
    /// True when buffer plane 0 is the engine's frame as it is: lent without a copy.
    let inPlace: Bool

    /// The layout by V4L2's rules, from the bytesperline of each buffer plane: planes that share
    /// a buffer follow each other, each padded by the same factor as the first (the
    /// single-planar formats define one bytesperline for all planes). nil when a bytesperline
    /// is shorter than its row, or missing.
    init?(format: FrameFormat, planes: [SourcePlane], bytesPerLine: [Int]) {
        let engine = format.pixelFormat.planes(width: format.width, height: format.height)
        var placements: [Placement] = []
        var needed: [Int] = []
        var firstRowBytes: [Int: Int] = [:]
        var nextOffset: [Int: Int] = [:]
        for plane in planes {
            let memory = plane.memoryPlane
            guard memory < bytesPerLine.count, plane.targets.allSatisfy({ $0 < engine.count }) else { return nil }
            let target = engine[plane.targets[0]]
            let rowBytes = target.width * plane.targets.count
            let first = firstRowBytes[memory] ?? rowBytes
            firstRowBytes[memory] = first
            let stride = bytesPerLine[memory] * rowBytes / first
            guard stride >= rowBytes else { return nil }
            let offset = nextOffset[memory] ?? 0
            nextOffset[memory] = offset + stride * target.height
            placements.append(Placement(offset: offset, stride: stride, rows: target.height, rowBytes: rowBytes))
            while needed.count <= memory { needed.append(0) }
            needed[memory] = max(needed[memory], target.height == 0 ? offset : offset + stride * (target.height - 1) + rowBytes)
        }
        self.format = format
        self.planes = planes
        self.placements = placements
        self.needed = needed
        inPlace = needed.count == 1 && planes.count == engine.count && planes.indices.allSatisfy { i in
            planes[i].targets == [i] && placements[i].offset == engine[i].offset && placements[i].stride == engine[i].stride
        }
    }

    /// Copies one frame into `target` (`format.byteCount` bytes). `sources` holds the start of
    /// each buffer plane's data.
    func repack(_ sources: [UnsafeRawPointer], into target: UnsafeMutableRawPointer) {
        let engine = format.pixelFormat.planes(width: format.width, height: format.height)
        for (plane, placement) in zip(planes, placements) {
            let source = sources[plane.memoryPlane] + placement.offset
            let count = plane.targets.count
            if count == 1 {
                let out = engine[plane.targets[0]]
                for row in 0..<placement.rows {
                    (target + out.offset + row * out.stride).copyMemory(from: source + row * placement.stride, byteCount: out.width)
                }
                continue
            }
            // Interleaved samples, one engine plane each.
            for (component, index) in plane.targets.enumerated() {
                let out = engine[index]
                for row in 0..<placement.rows {
                    let from = (source + row * placement.stride + component).assumingMemoryBound(to: UInt8.self)
                    let to = (target + out.offset + row * out.stride).assumingMemoryBound(to: UInt8.self)
                    for x in 0..<out.width { to[x] = from[x * count] }
                }
            }
        }
    }
}
