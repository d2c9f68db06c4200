import CVulkan

/// A storage buffer: a view into memory that its BufferArena owns.
public struct GPUBuffer: Hashable {
    let handle: VkBuffer
    public let byteCount: Int
    public let label: String
    /// Host address for host-visible arenas; nil for device-local ones.
    public internal(set) var contents: UnsafeMutableRawPointer?

    public static func == (a: GPUBuffer, b: GPUBuffer) -> Bool { a.handle == b.handle }
    public func hash(into hasher: inout Hasher) { hasher.combine(handle) }
}

/// A frame in host-visible GPU memory: the buffer a shader binds and the byte offset where the
/// frame starts in it, and the same bytes as the host sees them.
public struct HostFrame {
    public let buffer: GPUBuffer
    public let offset: Int
    public let byteCount: Int

    public init(buffer: GPUBuffer, offset: Int, byteCount: Int) {
        precondition(buffer.contents != nil && offset >= 0 && offset + byteCount <= buffer.byteCount, "a frame inside a host-visible buffer")
        self.buffer = buffer
        self.offset = offset
        self.byteCount = byteCount
    }

    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: buffer.contents! + offset, count: byteCount) }

    /// `count` frames of `byteCount` bytes in host-visible memory, in as many arenas as the
    /// device's largest storage binding needs (each arena one buffer, bound whole by a shader).
    public static func allocate(_ count: Int, byteCount: Int, context: GPUContext) throws -> (arenas: [BufferArena], frames: [HostFrame]) {
        let stride = (byteCount + 63) / 64 * 64
        // Shaders index bytes with 32-bit signed integers.
        let perArena = max(1, min(context.maxStorageBufferRange, Int(Int32.max)) / stride)
        var arenas: [BufferArena] = [], frames: [HostFrame] = []
        var left = max(0, count)
        while left > 0 {
            let here = min(left, perArena)
            let arena = BufferArena(context: context, placement: .host)
            let buffer = try arena.allocate([("frames", here * stride)])[0]
            arenas.append(arena)
            frames += (0..<here).map { HostFrame(buffer: buffer, offset: $0 * stride, byteCount: byteCount) }
            left -= here
        }
        return (arenas, frames)
    }
}

/// Owns a set of buffers and the single allocation behind them: buffers are planned first,
/// then bound at offsets into one VkDeviceMemory, so the frame path never allocates.
public final class BufferArena {
    public enum Placement { case device, host }
    public let placement: Placement
    private let context: GPUContext
    private var buffers: [VkBuffer] = []
    private var memory: VkDeviceMemory?
    private var mapped: UnsafeMutableRawPointer?
    public private(set) var byteCount = 0

    public init(context: GPUContext, placement: Placement) {
        self.context = context
        self.placement = placement
    }

    deinit {
        let device = context.device
        if mapped != nil { vkUnmapMemory(device, memory) }
        buffers.forEach { vkDestroyBuffer(device, $0, nil) }
        if let memory { vkFreeMemory(device, memory, nil) }
    }

    /// Allocates one block for buffers of the given sizes (in bytes) and returns them in order.
    public func allocate(_ requests: [(label: String, byteCount: Int)]) throws -> [GPUBuffer] {
        precondition(memory == nil, "an arena allocates once")
        let device = context.device
        var planned: [(buffer: VkBuffer, offset: Int, size: Int, label: String)] = []
        var typeBits: UInt32 = ~0
        var offset = 0
        for request in requests {
            var info = VkBufferCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
            // Storage buffers also take fills and copies, which tests and resets use, and may be
            // read in windows as uniform buffers (network weights).
            info.size = VkDeviceSize(max(request.byteCount, 16))
            info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue
                | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT.rawValue
            info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
            var buffer: VkBuffer?
            try check(vkCreateBuffer(device, &info, nil, &buffer), "vkCreateBuffer(\(request.label))")
            buffers.append(buffer!)
            var requirements = VkMemoryRequirements()
            vkGetBufferMemoryRequirements(device, buffer, &requirements)
            let alignment = max(Int(requirements.alignment), Int(context.limits.minStorageBufferOffsetAlignment), 64)
            offset = (offset + alignment - 1) / alignment * alignment
            planned.append((buffer!, offset, request.byteCount, request.label))
            offset += Int(requirements.size)
            typeBits &= requirements.memoryTypeBits
        }
        byteCount = offset

        let required: VkMemoryPropertyFlags, preferred: VkMemoryPropertyFlags
        switch placement {
        case .device:
            required = 0
            preferred = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue
        case .host:
            required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
            // Cached host memory makes reading results back fast.
            preferred = required | VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue
        }
        guard let type = context.memoryType(allowed: typeBits, required: required, preferred: preferred) else {
            throw GPUError.noMemoryType("\(placement) buffers")
        }
        var allocation = VkMemoryAllocateInfo()
        allocation.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        allocation.allocationSize = VkDeviceSize(max(byteCount, 16))
        allocation.memoryTypeIndex = type
        try check(vkAllocateMemory(device, &allocation, nil, &memory), "vkAllocateMemory(\(byteCount) bytes)")
        for item in planned {
            try check(vkBindBufferMemory(device, item.buffer, memory, VkDeviceSize(item.offset)), "vkBindBufferMemory(\(item.label))")
        }
        if placement == .host {
            try check(vkMapMemory(device, memory, 0, VkDeviceSize(VK_WHOLE_SIZE), 0, &mapped), "vkMapMemory")
        }
        return planned.map { item in
            GPUBuffer(handle: item.buffer, byteCount: item.size, label: item.label, contents: mapped.map { $0 + item.offset })
        }
    }
}
