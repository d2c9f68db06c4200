import CVulkan

/// A compute pipeline whose bindings 0..<bindings are storage buffers, except those listed as
/// uniform buffers, and whose per-dispatch values arrive as push constants. Owned and destroyed
/// by its GPUContext.
public final class ComputePipeline {
    /// Every shader declares at most this many bytes of push constants (Vulkan's guaranteed minimum).
    public static let pushConstantBytes = 128
    public let name: String
    public let bindingCount: Int
    public let uniformBindings: Set<Int>
    /// Windows each uniform binding holds (BufferUse.uniform's offsets).
    public let uniformArrayLength: Int
    let pipeline: VkPipeline
    let layout: VkPipelineLayout
    let setLayout: VkDescriptorSetLayout

    init(context: GPUContext, shader: ShaderSource, bindings: Int, uniformBindings: Set<Int>, uniformArrayLength: Int,
         specialization: [Int32]) throws {
        let device = context.device
        name = shader.name
        bindingCount = bindings
        self.uniformBindings = uniformBindings
        self.uniformArrayLength = uniformArrayLength

        var layoutBindings = (0..<bindings).map { index -> VkDescriptorSetLayoutBinding in
            var binding = VkDescriptorSetLayoutBinding()
            binding.binding = UInt32(index)
            binding.descriptorType = uniformBindings.contains(index) ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            binding.descriptorCount = uniformBindings.contains(index) ? UInt32(uniformArrayLength) : 1
            binding.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
            return binding
        }
        var setInfo = VkDescriptorSetLayoutCreateInfo()
        setInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
        setInfo.bindingCount = UInt32(bindings)
        var setLayout: VkDescriptorSetLayout?
        try layoutBindings.withUnsafeMutableBufferPointer { pointer in
            setInfo.pBindings = UnsafePointer(pointer.baseAddress)
            try check(vkCreateDescriptorSetLayout(device, &setInfo, nil, &setLayout), "vkCreateDescriptorSetLayout(\(shader.name))")
        }
        self.setLayout = setLayout!

        var range = VkPushConstantRange(stageFlags: VK_SHADER_STAGE_COMPUTE_BIT.rawValue, offset: 0,
                                        size: UInt32(ComputePipeline.pushConstantBytes))
        var layoutInfo = VkPipelineLayoutCreateInfo()
        layoutInfo.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
        layoutInfo.setLayoutCount = 1
        layoutInfo.pushConstantRangeCount = 1
        var layout: VkPipelineLayout?
        try withUnsafePointer(to: &setLayout) { setPointer in
            try withUnsafePointer(to: &range) { rangePointer in
                layoutInfo.pSetLayouts = setPointer
                layoutInfo.pPushConstantRanges = rangePointer
                try check(vkCreatePipelineLayout(device, &layoutInfo, nil, &layout), "vkCreatePipelineLayout(\(shader.name))")
            }
        }
        self.layout = layout!
        let pipelineLayout = layout

        let words = shader.words
        var module: VkShaderModule?
        try words.withUnsafeBufferPointer { code in
            var moduleInfo = VkShaderModuleCreateInfo()
            moduleInfo.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
            moduleInfo.codeSize = code.count * 4
            moduleInfo.pCode = code.baseAddress
            try check(vkCreateShaderModule(device, &moduleInfo, nil, &module), "vkCreateShaderModule(\(shader.name))")
        }
        // The module is only needed while the pipeline is created.
        defer { vkDestroyShaderModule(device, module, nil) }

        var entries = specialization.indices.map {
            VkSpecializationMapEntry(constantID: UInt32($0), offset: UInt32($0 * 4), size: 4)
        }
        var values = specialization
        var pipeline: VkPipeline?
        try entries.withUnsafeMutableBufferPointer { entryPointer in
            try values.withUnsafeMutableBytes { valueBytes in
                var specInfo = VkSpecializationInfo(mapEntryCount: UInt32(specialization.count),
                                                    pMapEntries: UnsafePointer(entryPointer.baseAddress),
                                                    dataSize: valueBytes.count, pData: UnsafeRawPointer(valueBytes.baseAddress))
                try "main".withCString { entryName in
                    try withUnsafePointer(to: &specInfo) { specPointer in
                        var stage = VkPipelineShaderStageCreateInfo()
                        stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                        stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                        stage.module = module
                        stage.pName = entryName
                        stage.pSpecializationInfo = specialization.isEmpty ? nil : specPointer
                        var info = VkComputePipelineCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                        info.stage = stage
                        info.layout = pipelineLayout
                        try check(vkCreateComputePipelines(device, context.pipelineCache, 1, &info, nil, &pipeline),
                                  "vkCreateComputePipelines(\(shader.name))")
                    }
                }
            }
        }
        self.pipeline = pipeline!
    }

    func destroy(_ device: VkDevice) {
        vkDestroyPipeline(device, pipeline, nil)
        vkDestroyPipelineLayout(device, layout, nil)
        vkDestroyDescriptorSetLayout(device, setLayout, nil)
    }
}
