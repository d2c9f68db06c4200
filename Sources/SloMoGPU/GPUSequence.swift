import CVulkan
import Foundation

/// How a dispatch uses a buffer; barriers are derived from this, never written at call sites.
public enum BufferUse {
    case read(GPUBuffer)
    case write(GPUBuffer)
    case readWrite(GPUBuffer)
    /// Read as an array of uniform buffers (one, for a pipeline made with the default
    /// `uniformArrayLength`), element i the window of `byteCount` bytes from `offsets[i]`, which must
    /// be a multiple of 256 (the largest minUniformBufferOffsetAlignment Vulkan allows), at most
    /// maxUniformBufferRange long. Every invocation reading the same address is served once, where
    /// storage reads may not be.
    case uniform(GPUBuffer, offsets: [Int], byteCount: Int)

    var buffer: GPUBuffer {
        switch self {
        case let .read(b), let .write(b), let .readWrite(b), let .uniform(b, _, _): return b
        }
    }
    /// The uniform windows (offset, bytes) the use binds, in array order; none for storage.
    var windows: [(offset: Int, byteCount: Int)] {
        switch self {
        case let .uniform(_, offsets, byteCount): return offsets.map { ($0, byteCount) }
        case .read, .write, .readWrite: return []
        }
    }
    var reads: Bool { if case .write = self { return false } else { return true } }
    var writes: Bool {
        switch self {
        case .read, .uniform: return false
        case .write, .readWrite: return true
        }
    }
    var isUniform: Bool { !windows.isEmpty }
}

/// A value passed to a shader as a 32-bit push constant.
public enum PushValue {
    case int(Int)
    case float(Float)
    var word: UInt32 {
        switch self {
        case let .int(value): return UInt32(bitPattern: Int32(truncatingIfNeeded: value))
        case let .float(value): return value.bitPattern
        }
    }
}

/// Records compute work once and replays it: one command buffer (in a pool of its own, so that
/// sequences owned by different threads record at once without sharing a pool, which Vulkan
/// requires to be externally synchronised), the descriptor sets it binds and the fence that says
/// it finished. The sequence owns all of them.
public final class GPUSequence {
    private let context: GPUContext
    private let commandPool: VkCommandPool
    private let commandBuffer: VkCommandBuffer
    private var descriptorPool: VkDescriptorPool?
    private let fence: VkFence
    private var pending = false
    private var queryPool: VkQueryPool?
    private var stageNames: [String] = []
    /// Records a GPU timestamp after every dispatch, so `stageMilliseconds` can say where time goes.
    public let profiled: Bool

    public init(context: GPUContext, profiled: Bool = false) throws {
        self.context = context
        self.profiled = profiled && context.limits.timestampComputeAndGraphics != 0
        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT.rawValue
        poolInfo.queueFamilyIndex = context.queueFamily
        var pool: VkCommandPool?
        try check(vkCreateCommandPool(context.device, &poolInfo, nil, &pool), "vkCreateCommandPool")
        commandPool = pool!
        var allocation = VkCommandBufferAllocateInfo()
        allocation.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocation.commandPool = commandPool
        allocation.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocation.commandBufferCount = 1
        var buffer: VkCommandBuffer?
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fence: VkFence?
        do {
            try check(vkAllocateCommandBuffers(context.device, &allocation, &buffer), "vkAllocateCommandBuffers")
            try check(vkCreateFence(context.device, &fenceInfo, nil, &fence), "vkCreateFence")
        } catch {
            // Destroying the pool frees a buffer allocated from it.
            vkDestroyCommandPool(context.device, commandPool, nil)
            throw error
        }
        commandBuffer = buffer!
        self.fence = fence!
    }

    deinit {
        if pending { _ = try? wait() }
        let device = context.device
        vkDestroyCommandPool(device, commandPool, nil)
        vkDestroyFence(device, fence, nil)
        if let descriptorPool { vkDestroyDescriptorPool(device, descriptorPool, nil) }
        if let queryPool { vkDestroyQueryPool(device, queryPool, nil) }
    }

    /// GPU time of each dispatch of the last run, in recording order (empty unless profiled).
    public func stageMilliseconds() throws -> [(stage: String, milliseconds: Double)] {
        guard let queryPool, !stageNames.isEmpty else { return [] }
        var stamps = [UInt64](repeating: 0, count: stageNames.count + 1)
        try check(vkGetQueryPoolResults(context.device, queryPool, 0, UInt32(stamps.count), stamps.count * 8, &stamps, 8,
                                        VK_QUERY_RESULT_64_BIT.rawValue | VK_QUERY_RESULT_WAIT_BIT.rawValue), "vkGetQueryPoolResults")
        let period = Double(context.limits.timestampPeriod) / 1e6
        return stageNames.indices.map { (stageNames[$0], Double(stamps[$0 + 1] &- stamps[$0]) * period) }
    }

    /// Records the sequence, replacing any earlier recording.
    public func record(_ body: (inout Recorder) throws -> Void) throws {
        precondition(!pending, "re-recording a sequence that is still executing")
        // Dispatches are counted first so the descriptor pool is sized exactly.
        var plan = Recorder(planningFor: context)
        try body(&plan)
        let device = context.device
        if let descriptorPool { vkDestroyDescriptorPool(device, descriptorPool, nil) }
        descriptorPool = nil
        if plan.dispatchCount > 0 {
            var sizes = [VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(max(plan.bindingCount - plan.uniformBindingCount, 1)))]
            if plan.uniformBindingCount > 0 {
                sizes.append(VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, descriptorCount: UInt32(plan.uniformBindingCount)))
            }
            var info = VkDescriptorPoolCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
            info.maxSets = UInt32(plan.dispatchCount)
            info.poolSizeCount = UInt32(sizes.count)
            try sizes.withUnsafeBufferPointer { sizePointer in
                info.pPoolSizes = sizePointer.baseAddress
                try check(vkCreateDescriptorPool(device, &info, nil, &descriptorPool), "vkCreateDescriptorPool")
            }
        }
        if let queryPool { vkDestroyQueryPool(device, queryPool, nil) }
        queryPool = nil
        if profiled {
            var info = VkQueryPoolCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
            info.queryType = VK_QUERY_TYPE_TIMESTAMP
            info.queryCount = UInt32(plan.dispatchCount + 1)
            try check(vkCreateQueryPool(device, &info, nil, &queryPool), "vkCreateQueryPool")
        }
        try check(vkResetCommandBuffer(commandBuffer, 0), "vkResetCommandBuffer")
        var begin = VkCommandBufferBeginInfo()
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        try check(vkBeginCommandBuffer(commandBuffer, &begin), "vkBeginCommandBuffer")
        var recorder = Recorder(context: context, commandBuffer: commandBuffer, descriptorPool: descriptorPool, queryPool: queryPool)
        recorder.startTimestamps(count: plan.dispatchCount + 1)
        try body(&recorder)
        stageNames = recorder.stageNames
        recorder.finishForHost()
        try check(vkEndCommandBuffer(commandBuffer), "vkEndCommandBuffer")
    }

    /// Starts the recorded work; host writes to host-visible buffers made before this are seen by it.
    public func submit() throws {
        precondition(!pending, "submitting a sequence that is still executing")
        try check(vkResetFences(context.device, 1, [fence]), "vkResetFences")
        var buffer: VkCommandBuffer? = commandBuffer
        try withUnsafePointer(to: &buffer) { bufferPointer in
            var submit = VkSubmitInfo()
            submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
            submit.commandBufferCount = 1
            submit.pCommandBuffers = bufferPointer
            try context.queueLock.withLock {
                try check(vkQueueSubmit(context.queue, 1, &submit, fence), "vkQueueSubmit")
            }
        }
        pending = true
    }

    /// Waits for the last submission; afterwards its results in host buffers are readable.
    public func wait() throws {
        guard pending else { return }
        pending = false
        try check(vkWaitForFences(context.device, 1, [fence], VkBool32(VK_TRUE), UInt64.max), "vkWaitForFences")
    }

    public func run() throws {
        try submit()
        try wait()
    }
}

/// Records dispatches into a command buffer, inserting a barrier only where a buffer
/// written earlier is used again or a buffer read earlier is overwritten.
public struct Recorder {
    private let context: GPUContext
    private let commandBuffer: VkCommandBuffer?
    private let descriptorPool: VkDescriptorPool?
    private let queryPool: VkQueryPool?
    fileprivate private(set) var stageNames: [String] = []
    private var unsettledWrites = Set<GPUBuffer>()
    private var unsettledReads = Set<GPUBuffer>()
    private(set) var dispatchCount = 0
    private(set) var bindingCount = 0
    private(set) var uniformBindingCount = 0
    public private(set) var barrierCount = 0

    init(planningFor context: GPUContext) {
        self.context = context
        commandBuffer = nil
        descriptorPool = nil
        queryPool = nil
    }

    init(context: GPUContext, commandBuffer: VkCommandBuffer, descriptorPool: VkDescriptorPool?, queryPool: VkQueryPool?) {
        self.context = context
        self.commandBuffer = commandBuffer
        self.descriptorPool = descriptorPool
        self.queryPool = queryPool
    }

    fileprivate mutating func startTimestamps(count: Int) {
        guard let commandBuffer, let queryPool else { return }
        vkCmdResetQueryPool(commandBuffer, queryPool, 0, UInt32(count))
        vkCmdWriteTimestamp(commandBuffer, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queryPool, 0)
    }

    /// Runs `pipeline` over `groups` workgroups with the given buffers at bindings 0, 1, ...
    /// A profiled sequence reports the dispatch as `label` (default: the pipeline's name).
    public mutating func dispatch(_ pipeline: ComputePipeline, _ uses: [BufferUse], push: [PushValue] = [],
                                  groups: (x: Int, y: Int, z: Int), label: String? = nil) throws {
        precondition(uses.count == pipeline.bindingCount, "\(pipeline.name) takes \(pipeline.bindingCount) buffers")
        precondition(uses.indices.allSatisfy { uses[$0].isUniform == pipeline.uniformBindings.contains($0) },
                     "\(pipeline.name) takes uniform buffers at bindings \(pipeline.uniformBindings.sorted())")
        precondition(uses.allSatisfy { !$0.isUniform || $0.windows.count == pipeline.uniformArrayLength },
                     "\(pipeline.name) takes arrays of \(pipeline.uniformArrayLength) uniform windows")
        precondition(push.count * 4 <= ComputePipeline.pushConstantBytes, "\(pipeline.name): too many push constants")
        dispatchCount += 1
        bindingCount += uses.count
        uniformBindingCount += uses.map(\.windows.count).reduce(0, +)
        guard let commandBuffer, groups.x > 0, groups.y > 0, groups.z > 0 else { return }
        settle(before: uses)
        let device = context.device
        var set: VkDescriptorSet?
        var layout: VkDescriptorSetLayout? = pipeline.setLayout
        try withUnsafePointer(to: &layout) { layoutPointer in
            var allocation = VkDescriptorSetAllocateInfo()
            allocation.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
            allocation.descriptorPool = descriptorPool
            allocation.descriptorSetCount = 1
            allocation.pSetLayouts = layoutPointer
            try check(vkAllocateDescriptorSets(device, &allocation, &set), "vkAllocateDescriptorSets(\(pipeline.name))")
        }
        // One info per storage binding, one per window of a uniform binding, in binding order.
        let infosPerUse = uses.map { use -> [VkDescriptorBufferInfo] in
            guard use.isUniform else {
                return [VkDescriptorBufferInfo(buffer: use.buffer.handle, offset: 0, range: VkDeviceSize(VK_WHOLE_SIZE))]
            }
            let buffer = use.buffer
            return use.windows.map { window in
                precondition(window.offset % 256 == 0 && window.byteCount <= context.maxUniformBufferRange
                             && window.offset + window.byteCount <= buffer.byteCount,
                             "\(pipeline.name): uniform window \(window.offset)+\(window.byteCount) of \(buffer.label)")
                return VkDescriptorBufferInfo(buffer: buffer.handle, offset: VkDeviceSize(window.offset), range: VkDeviceSize(window.byteCount))
            }
        }
        let firstInfo = infosPerUse.reduce(into: [0]) { starts, infos in starts.append(starts.last! + infos.count) }
        infosPerUse.joined().map { $0 }.withUnsafeBufferPointer { infoPointer in
            var writes = uses.indices.map { index -> VkWriteDescriptorSet in
                var write = VkWriteDescriptorSet()
                write.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                write.dstSet = set
                write.dstBinding = UInt32(index)
                write.descriptorCount = UInt32(infosPerUse[index].count)
                write.descriptorType = uses[index].isUniform ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                write.pBufferInfo = infoPointer.baseAddress! + firstInfo[index]
                return write
            }
            vkUpdateDescriptorSets(device, UInt32(writes.count), &writes, 0, nil)
        }
        vkCmdBindPipeline(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline)
        vkCmdBindDescriptorSets(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &set, 0, nil)
        if !push.isEmpty {
            let words = push.map(\.word)
            words.withUnsafeBytes { bytes in
                vkCmdPushConstants(commandBuffer, pipeline.layout, VK_SHADER_STAGE_COMPUTE_BIT.rawValue, 0,
                                   UInt32(bytes.count), bytes.baseAddress)
            }
        }
        vkCmdDispatch(commandBuffer, UInt32(groups.x), UInt32(groups.y), UInt32(groups.z))
        track(uses)
        if let queryPool {
            stageNames.append(label ?? pipeline.name)
            vkCmdWriteTimestamp(commandBuffer, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queryPool, UInt32(stageNames.count))
        }
    }

    /// Fills a buffer, or its first `byteCount` bytes (a multiple of 4), with a repeated 32-bit word
    /// (0 clears floats and ints alike).
    public mutating func fill(_ buffer: GPUBuffer, word: UInt32 = 0, byteCount: Int? = nil) {
        guard let commandBuffer else { return }
        precondition((byteCount ?? 0) % 4 == 0 && (byteCount ?? 0) <= buffer.byteCount, "fill of \(byteCount ?? 0) bytes of \(buffer.label)")
        settle(before: [.write(buffer)])
        vkCmdFillBuffer(commandBuffer, buffer.handle, 0, byteCount.map { VkDeviceSize($0) } ?? VkDeviceSize(VK_WHOLE_SIZE), word)
        track([.write(buffer)])
    }

    /// Copies `byteCount` bytes (default: all of the smaller buffer) from one buffer to another.
    public mutating func copy(from source: GPUBuffer, to destination: GPUBuffer, sourceOffset: Int = 0,
                              destinationOffset: Int = 0, byteCount: Int? = nil) {
        guard let commandBuffer else { return }
        let uses: [BufferUse] = [.read(source), .write(destination)]
        settle(before: uses)
        let size = byteCount ?? min(source.byteCount, destination.byteCount)
        precondition(sourceOffset + size <= source.byteCount && destinationOffset + size <= destination.byteCount,
                     "copy of \(size) bytes from \(source.label)+\(sourceOffset) to \(destination.label)+\(destinationOffset)")
        var region = VkBufferCopy(srcOffset: VkDeviceSize(sourceOffset), dstOffset: VkDeviceSize(destinationOffset),
                                  size: VkDeviceSize(size))
        vkCmdCopyBuffer(commandBuffer, source.handle, destination.handle, 1, &region)
        track(uses)
    }

    private mutating func settle(before uses: [BufferUse]) {
        let hazard = uses.contains { use in
            unsettledWrites.contains(use.buffer) || (use.writes && unsettledReads.contains(use.buffer))
        }
        guard hazard else { return }
        let stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue
        barrier(from: stages, to: stages,
                access: VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue,
                then: VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_UNIFORM_READ_BIT.rawValue
                    | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
        unsettledWrites.removeAll(keepingCapacity: true)
        unsettledReads.removeAll(keepingCapacity: true)
    }

    private mutating func track(_ uses: [BufferUse]) {
        for use in uses {
            if use.writes { unsettledWrites.insert(use.buffer) }
            if use.reads { unsettledReads.insert(use.buffer) }
        }
    }

    /// Makes every write visible to the host once the fence signals.
    mutating func finishForHost() {
        barrier(from: VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue,
                to: VK_PIPELINE_STAGE_HOST_BIT.rawValue,
                access: VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue,
                then: VK_ACCESS_HOST_READ_BIT.rawValue)
    }

    private mutating func barrier(from: VkPipelineStageFlags, to: VkPipelineStageFlags, access: VkAccessFlags, then: VkAccessFlags) {
        guard let commandBuffer else { return }
        var memoryBarrier = VkMemoryBarrier()
        memoryBarrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        memoryBarrier.srcAccessMask = access
        memoryBarrier.dstAccessMask = then
        vkCmdPipelineBarrier(commandBuffer, from, to, 0, 1, &memoryBarrier, 0, nil, 0, nil)
        barrierCount += 1
    }
}
