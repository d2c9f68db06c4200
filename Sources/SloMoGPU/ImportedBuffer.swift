import CVulkan
import Glibc

/// Memory another driver owns, seen by the device as a buffer: a dma-buf (a V4L2 capture buffer
/// exported with VIDIOC_EXPBUF) imported through VK_EXT_external_memory_dma_buf. The device reads
/// the driver's pages where they are; importing copies nothing. The caller keeps its descriptor:
/// Vulkan owns a duplicate, released with this object.
public final class ImportedBuffer {
    public let buffer: GPUBuffer
    private let context: GPUContext
    private let memory: VkDeviceMemory

    /// Imports `byteCount` bytes of the dma-buf `fd` (at most its size).
    public init(context: GPUContext, dmaBuf fd: Int32, byteCount: Int, label: String) throws {
        precondition(context.supportsDmaBufImport, "dma-buf import needs VK_EXT_external_memory_dma_buf")
        let device = context.device
        let handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT
        var external = VkExternalMemoryBufferCreateInfo()
        external.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO
        external.handleTypes = handleType.rawValue
        var handle: VkBuffer?
        try withUnsafePointer(to: &external) { externalPointer in
            var info = VkBufferCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
            info.pNext = UnsafeRawPointer(externalPointer)
            info.size = VkDeviceSize(byteCount)
            // A source of copies and shader reads.
            info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue
            info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
            try check(vkCreateBuffer(device, &info, nil, &handle), "vkCreateBuffer(\(label))")
        }
        var requirements = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(device, handle, &requirements)
        var allowed = requirements.memoryTypeBits
        if let raw = vkGetDeviceProcAddr(device, "vkGetMemoryFdPropertiesKHR") {
            var properties = VkMemoryFdPropertiesKHR()
            properties.sType = VK_STRUCTURE_TYPE_MEMORY_FD_PROPERTIES_KHR
            let result = unsafeBitCast(raw, to: PFN_vkGetMemoryFdPropertiesKHR.self)(device, handleType, fd, &properties)
            // A driver that names no type for the fd (lavapipe) takes any the buffer allows.
            if result == VK_SUCCESS && properties.memoryTypeBits & allowed != 0 { allowed &= properties.memoryTypeBits }
        }
        guard let type = context.memoryType(allowed: allowed, required: 0, preferred: 0) else {
            vkDestroyBuffer(device, handle, nil)
            throw GPUError.noMemoryType("dma-buf \(label)")
        }
        let owned = dup(fd)
        var importInfo = VkImportMemoryFdInfoKHR()
        importInfo.sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR
        importInfo.handleType = handleType
        importInfo.fd = owned
        var memory: VkDeviceMemory?
        let result = withUnsafePointer(to: &importInfo) { importPointer in
            var allocation = VkMemoryAllocateInfo()
            allocation.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
            allocation.pNext = UnsafeRawPointer(importPointer)
            allocation.allocationSize = max(requirements.size, VkDeviceSize(byteCount))
            allocation.memoryTypeIndex = type
            return vkAllocateMemory(device, &allocation, nil, &memory)
        }
        guard result == VK_SUCCESS, let memory else {
            // Vulkan takes the descriptor only when the import succeeds.
            if owned >= 0 { close(owned) }
            vkDestroyBuffer(device, handle, nil)
            throw GPUError.call("vkAllocateMemory(import of dma-buf \(label))", result)
        }
        do {
            try check(vkBindBufferMemory(device, handle, memory, 0), "vkBindBufferMemory(\(label))")
        } catch {
            vkFreeMemory(device, memory, nil)
            vkDestroyBuffer(device, handle, nil)
            throw error
        }
        self.context = context
        self.memory = memory
        buffer = GPUBuffer(handle: handle!, byteCount: byteCount, label: label, contents: nil)
    }

    deinit {
        vkDestroyBuffer(context.device, buffer.handle, nil)
        vkFreeMemory(context.device, memory, nil)
    }
}
