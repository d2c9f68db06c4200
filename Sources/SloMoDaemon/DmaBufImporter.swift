import SloMoCore
import SloMoGPU

/// Copies captured frames into pool buffers on the device, from the capture driver's own buffers
/// imported as dma-bufs (VIDIOC_EXPBUF, VK_EXT_external_memory_dma_buf): the CPU touches no pixel,
/// and a GPU does the copy by DMA. Each buffer of the source's ring is imported on its first frame
/// and kept until the first frame of the source's next ring (after a source change or a reopen):
/// until then the kernel keeps the old buffers alive for this import (videobuf2 orphans buffers
/// still in use when the ring is freed). Owned by the capture thread.
///
/// The copy shares the device's one queue, so it waits behind work already submitted: at most the
/// rest of the engine's current pair, which the engine would finish before taking the frame anyway,
/// or a network load's timing runs, during which the engine holds its last frame too (and the
/// capture drains to the freshest frame after). A separate transfer queue would decouple them.
final class DmaBufImporter {
    private let context: GPUContext
    private let sequence: GPUSequence
    private var ring: UInt64?
    private var imported: [Int32: ImportedBuffer] = [:]

    init(context: GPUContext) throws {
        self.context = context
        sequence = try GPUSequence(context: context)
    }

    /// Copies `byteCount` bytes of `slice` into `destination` and waits for the device, so that the
    /// caller may hand the driver its buffer back as soon as this returns.
    func copy(_ slice: DmaBufSlice, byteCount: Int, into destination: HostFrame) throws {
        if slice.ring != ring {
            imported = [:]
            ring = slice.ring
        }
        let source: ImportedBuffer
        if let known = imported[slice.fd] {
            source = known
        } else {
            source = try ImportedBuffer(context: context, dmaBuf: slice.fd, byteCount: slice.bufferBytes, label: "capture buffer \(slice.fd)")
            imported[slice.fd] = source
        }
        try sequence.record {
            $0.copy(from: source.buffer, to: destination.buffer, sourceOffset: slice.offset,
                    destinationOffset: destination.offset, byteCount: byteCount)
        }
        try sequence.run()
    }
}
