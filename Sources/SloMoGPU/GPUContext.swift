import CVulkan
import Foundation

/// What a Vulkan device is, for selection and for reports.
public struct GPUDeviceInfo: Sendable, CustomStringConvertible {
    public enum Kind: Int, Sendable, Comparable {
        // Ordered by preference: lower is chosen first.
        case discrete = 0, integrated, virtual, cpu, other
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }
    public let index: Int
    public let name: String
    public let kind: Kind
    public let apiVersion: String
    public var description: String { "#\(index) \(name) (\(kind), Vulkan \(apiVersion))" }
}

/// Options for opening a device.
public struct GPUOptions: Sendable {
    /// A device index ("1") or a case-insensitive part of its name ("llvmpipe"); nil picks the best.
    public var device: String?
    /// Enables VK_LAYER_KHRONOS_validation and records every warning and error it reports.
    public var validation: Bool
    /// Enables 16-bit storage and float16 shader values where the device has them; false opens the
    /// device as one without them (float32 networks only), for tests and comparisons.
    public var float16 = true
    public init(device: String? = nil, validation: Bool = ProcessInfo.processInfo.environment["SLOMO_VULKAN_VALIDATION"] == "1") {
        self.device = device
        self.validation = validation
    }
}

/// Messages from the validation layer, collected so tests can assert there are none.
public final class ValidationLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    public var messages: [String] { lock.withLock { stored } }
    func append(_ message: String) { lock.withLock { stored.append(message) } }
}

private let validationCallback: PFN_vkDebugUtilsMessengerCallbackEXT = { _, _, data, userData in
    if let userData, let message = data?.pointee.pMessage {
        Unmanaged<ValidationLog>.fromOpaque(userData).takeUnretainedValue().append(String(cString: message))
    }
    return VkBool32(VK_FALSE)
}

/// The one owner of the Vulkan instance, device, queue and pipeline cache, and of every pipeline
/// made from them (command pools belong to the sequences, so each records on its own thread). Everything else borrows these handles.
public final class GPUContext: @unchecked Sendable {
    public let info: GPUDeviceInfo
    public let validationLog: ValidationLog
    private let options: GPUOptions
    let instance: VkInstance
    let physicalDevice: VkPhysicalDevice
    let device: VkDevice
    let queue: VkQueue
    let queueFamily: UInt32
    let pipelineCache: VkPipelineCache
    let memoryProperties: VkPhysicalDeviceMemoryProperties
    let limits: VkPhysicalDeviceLimits
    /// Whether 16-bit storage and uniform buffers and float16 shader values are enabled (optional;
    /// shaders that read float16 from buffers need them, and are only used when this is true).
    public var supportsFloat16Storage: Bool { float16Storage }
    private let float16Storage: Bool
    /// Whether a shader may index an array of uniform buffers with a dynamically uniform value
    /// (BufferUse.uniform with several windows): a convolution then reads each workgroup's block of weights from
    /// its own window, all blocks in one dispatch.
    public let supportsUniformBufferArrays: Bool
    /// Whether buffers may be imported from dma-bufs (VK_KHR_external_memory_fd and
    /// VK_EXT_external_memory_dma_buf, enabled where the device has both): a V4L2 capture buffer
    /// exported with VIDIOC_EXPBUF is then read by the device where the driver wrote it (ImportedBuffer).
    public let supportsDmaBufImport: Bool
    private var messenger: VkDebugUtilsMessengerEXT?
    private var pipelines: [String: ComputePipeline] = [:]
    private let pipelineLock = NSLock()
    /// Serialises queue submissions: a VkQueue must be externally synchronised.
    let queueLock = NSLock()

    /// All Vulkan devices on this machine, in enumeration order.
    public static func availableDevices() throws -> [GPUDeviceInfo] {
        let instance = try makeInstance(validation: false)
        defer { vkDestroyInstance(instance, nil) }
        return try enumerate(instance).map(\.info)
    }

    public convenience init(options: GPUOptions = GPUOptions()) throws {
        try self.init(options: options, log: ValidationLog())
    }

    /// The same device opened again, with a queue of its own and the same options, reporting to
    /// the same validation log: work submitted there neither waits behind this context's queue nor
    /// holds it up (lavapipe runs each queue on a thread of its own).
    public func twin() throws -> GPUContext {
        var same = options
        same.device = String(info.index)
        return try GPUContext(options: same, log: validationLog)
    }

    private init(options: GPUOptions, log: ValidationLog) throws {
        self.options = options
        validationLog = log
        instance = try GPUContext.makeInstance(validation: options.validation)
        var createdDevice: VkDevice?
        do {
            if options.validation {
                messenger = try GPUContext.makeMessenger(instance, log: validationLog)
            }
            let candidates = try GPUContext.enumerate(instance)
            guard !candidates.isEmpty else { throw GPUError.noDevice }
            let chosen = try GPUContext.select(candidates, wanted: options.device)
            physicalDevice = chosen.handle
            info = chosen.info

            var familyCount: UInt32 = 0
            vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &familyCount, nil)
            var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(familyCount))
            vkGetPhysicalDeviceQueueFamilyProperties(physicalDevice, &familyCount, &families)
            guard let family = families.firstIndex(where: { $0.queueFlags & VK_QUEUE_COMPUTE_BIT.rawValue != 0 }) else {
                throw GPUError.noComputeQueue(info.name)
            }
            queueFamily = UInt32(family)

            var priority: Float = 1
            var queueInfo = VkDeviceQueueCreateInfo()
            queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
            queueInfo.queueFamilyIndex = queueFamily
            queueInfo.queueCount = 1
            var device: VkDevice?
            let physicalDevice = chosen.handle
            var float16 = false
            var uniformArrays = false
            let dmaBufExtensions = ["VK_KHR_external_memory_fd", "VK_EXT_external_memory_dma_buf"]
            let dmaBuf = Set(dmaBufExtensions).isSubset(of: GPUContext.extensions(of: physicalDevice))
            let deviceExtensions = dmaBuf ? dmaBufExtensions : []
            try withUnsafePointer(to: &priority) { priorityPointer in
                queueInfo.pQueuePriorities = priorityPointer
                try withUnsafePointer(to: &queueInfo) { queuePointer in
                    // Frames are read and written as bytes: 8-bit storage buffers (core in Vulkan 1.2), required.
                    // 16-bit storage (storage and uniform buffers) and float16 shader values are optional:
                    // with all three, networks keep their weights as float16 (NeuralPrecision), converted
                    // to float32 as they are read. glslc declares the Float16 capability as soon as a
                    // shader holds a loaded float16 value, so shaderFloat16 is needed too.
                    var supported11 = VkPhysicalDeviceVulkan11Features()
                    supported11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
                    var supported = VkPhysicalDeviceVulkan12Features()
                    supported.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
                    try withUnsafeMutablePointer(to: &supported11) { supported11Pointer in
                        supported.pNext = UnsafeMutableRawPointer(supported11Pointer)
                        try withUnsafeMutablePointer(to: &supported) { supportedPointer in
                            var query = VkPhysicalDeviceFeatures2()
                            query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
                            query.pNext = UnsafeMutableRawPointer(supportedPointer)
                            vkGetPhysicalDeviceFeatures2(physicalDevice, &query)
                            guard supportedPointer.pointee.storageBuffer8BitAccess != 0 else { throw GPUError.missingFeature(chosen.info.name, "8-bit storage buffers") }
                            float16 = options.float16 && supported11Pointer.pointee.storageBuffer16BitAccess != 0
                                && supported11Pointer.pointee.uniformAndStorageBuffer16BitAccess != 0
                                && supportedPointer.pointee.shaderFloat16 != 0
                            uniformArrays = query.features.shaderUniformBufferArrayDynamicIndexing != 0
                        }
                    }
                    var enabled11 = VkPhysicalDeviceVulkan11Features()
                    enabled11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
                    enabled11.storageBuffer16BitAccess = VkBool32(float16 ? VK_TRUE : VK_FALSE)
                    enabled11.uniformAndStorageBuffer16BitAccess = VkBool32(float16 ? VK_TRUE : VK_FALSE)
                    var enabled = VkPhysicalDeviceVulkan12Features()
                    enabled.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
                    enabled.storageBuffer8BitAccess = VkBool32(VK_TRUE)
                    enabled.shaderFloat16 = VkBool32(float16 ? VK_TRUE : VK_FALSE)
                    var enabled10 = VkPhysicalDeviceFeatures()
                    enabled10.shaderUniformBufferArrayDynamicIndexing = VkBool32(uniformArrays ? VK_TRUE : VK_FALSE)
                    try withUnsafeMutablePointer(to: &enabled11) { enabled11Pointer in
                        enabled.pNext = UnsafeMutableRawPointer(enabled11Pointer)
                        try withUnsafePointer(to: &enabled) { enabledPointer in
                            try withUnsafePointer(to: &enabled10) { enabled10Pointer in
                                var deviceInfo = VkDeviceCreateInfo()
                                deviceInfo.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
                                deviceInfo.pNext = UnsafeRawPointer(enabledPointer)
                                deviceInfo.queueCreateInfoCount = 1
                                deviceInfo.pQueueCreateInfos = queuePointer
                                deviceInfo.pEnabledFeatures = enabled10Pointer
                                try deviceExtensions.withCStringArray { names in
                                    deviceInfo.enabledExtensionCount = UInt32(deviceExtensions.count)
                                    deviceInfo.ppEnabledExtensionNames = names
                                    try check(vkCreateDevice(physicalDevice, &deviceInfo, nil, &device), "vkCreateDevice")
                                }
                            }
                        }
                    }
                }
            }
            createdDevice = device
            float16Storage = float16
            supportsUniformBufferArrays = uniformArrays
            supportsDmaBufImport = dmaBuf
            self.device = device!
            var queue: VkQueue?
            vkGetDeviceQueue(self.device, queueFamily, 0, &queue)
            self.queue = queue!

            var cacheInfo = VkPipelineCacheCreateInfo()
            cacheInfo.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO
            var cache: VkPipelineCache?
            try check(vkCreatePipelineCache(self.device, &cacheInfo, nil, &cache), "vkCreatePipelineCache")
            pipelineCache = cache!

            var memory = VkPhysicalDeviceMemoryProperties()
            vkGetPhysicalDeviceMemoryProperties(physicalDevice, &memory)
            memoryProperties = memory
            var properties = VkPhysicalDeviceProperties()
            vkGetPhysicalDeviceProperties(physicalDevice, &properties)
            limits = properties.limits
        } catch {
            if let createdDevice { vkDestroyDevice(createdDevice, nil) }
            if let messenger { GPUContext.destroyMessenger(instance, messenger) }
            vkDestroyInstance(instance, nil)
            throw error
        }
    }

    deinit {
        vkDeviceWaitIdle(device)
        for pipeline in pipelines.values { pipeline.destroy(device) }
        vkDestroyPipelineCache(device, pipelineCache, nil)
        vkDestroyDevice(device, nil)
        if let messenger { GPUContext.destroyMessenger(instance, messenger) }
        vkDestroyInstance(instance, nil)
    }

    /// The pipeline for a shader with the given specialisation constants, built once and cached.
    /// `uniformBindings` are bound as arrays of `uniformArrayLength` uniform buffers (BufferUse.uniform),
    /// the rest as storage buffers.
    public func pipeline(_ shader: ShaderSource, bindings: Int, uniformBindings: Set<Int> = [], uniformArrayLength: Int = 1,
                         specialization: [Int32] = []) throws -> ComputePipeline {
        precondition(uniformArrayLength == 1 || supportsUniformBufferArrays, "arrays of uniform buffers are not supported here")
        let key = "\(shader.name)|\(bindings)|\(uniformBindings.sorted())|\(uniformArrayLength)|\(specialization)"
        return try pipelineLock.withLock {
            if let cached = pipelines[key] { return cached }
            let made = try ComputePipeline(context: self, shader: shader, bindings: bindings, uniformBindings: uniformBindings,
                                           uniformArrayLength: uniformArrayLength, specialization: specialization)
            pipelines[key] = made
            return made
        }
    }

    /// The most bytes one uniform-buffer binding may cover (BufferUse.uniform).
    public var maxUniformBufferRange: Int { Int(limits.maxUniformBufferRange) }
    /// The most bytes one storage-buffer binding may cover.
    public var maxStorageBufferRange: Int { Int(limits.maxStorageBufferRange) }

    /// Waits until the device has finished all submitted work.
    public func waitIdle() {
        queueLock.withLock { _ = vkDeviceWaitIdle(device) }
    }

    func memoryType(allowed: UInt32, required: VkMemoryPropertyFlags, preferred: VkMemoryPropertyFlags) -> UInt32? {
        let types = withUnsafeBytes(of: memoryProperties.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self)) }
        let count = Int(memoryProperties.memoryTypeCount)
        let usable = (0..<count).filter { allowed & (1 << $0) != 0 && types[$0].propertyFlags & required == required }
        return (usable.first { types[$0].propertyFlags & preferred == preferred } ?? usable.first).map(UInt32.init)
    }

    // MARK: - Instance and device discovery

    private static func makeInstance(validation: Bool) throws -> VkInstance {
        if validation {
            var count: UInt32 = 0
            vkEnumerateInstanceLayerProperties(&count, nil)
            var layers = [VkLayerProperties](repeating: VkLayerProperties(), count: Int(count))
            vkEnumerateInstanceLayerProperties(&count, &layers)
            let names = layers.map { layer in withUnsafeBytes(of: layer.layerName) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) } }
            guard names.contains("VK_LAYER_KHRONOS_validation") else { throw GPUError.validationLayerMissing }
        }
        let layers = validation ? ["VK_LAYER_KHRONOS_validation"] : []
        let extensions = validation ? ["VK_EXT_debug_utils"] : []
        var instance: VkInstance?
        try "slomo".withCString { appName in
            var app = VkApplicationInfo()
            app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
            app.pApplicationName = appName
            app.pEngineName = appName
            app.apiVersion = slomo_vk_make_api_version(0, 1, 2, 0)
            try withUnsafePointer(to: &app) { appPointer in
                try layers.withCStringArray { layerNames in
                    try extensions.withCStringArray { extensionNames in
                        var info = VkInstanceCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
                        info.pApplicationInfo = appPointer
                        info.enabledLayerCount = UInt32(layers.count)
                        info.ppEnabledLayerNames = layerNames
                        info.enabledExtensionCount = UInt32(extensions.count)
                        info.ppEnabledExtensionNames = extensionNames
                        let result = vkCreateInstance(&info, nil, &instance)
                        // The loader answers this when it finds no driver at all.
                        if result == VK_ERROR_INCOMPATIBLE_DRIVER { throw GPUError.noDevice }
                        try check(result, "vkCreateInstance")
                    }
                }
            }
        }
        return instance!
    }

    /// The names of the device extensions a physical device offers.
    private static func extensions(of physicalDevice: VkPhysicalDevice) -> Set<String> {
        var count: UInt32 = 0
        vkEnumerateDeviceExtensionProperties(physicalDevice, nil, &count, nil)
        var properties = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        vkEnumerateDeviceExtensionProperties(physicalDevice, nil, &count, &properties)
        return Set(properties.prefix(Int(count)).map { property in
            withUnsafeBytes(of: property.extensionName) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        })
    }

    private static func makeMessenger(_ instance: VkInstance, log: ValidationLog) throws -> VkDebugUtilsMessengerEXT {
        guard let raw = vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT") else {
            throw GPUError.validationLayerMissing
        }
        let create = unsafeBitCast(raw, to: PFN_vkCreateDebugUtilsMessengerEXT.self)
        var info = VkDebugUtilsMessengerCreateInfoEXT()
        info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
        info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT.rawValue
            | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue
        info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT.rawValue
            | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT.rawValue
            | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT.rawValue
        info.pfnUserCallback = validationCallback
        // The context outlives its messenger, so an unretained pointer is safe.
        info.pUserData = Unmanaged.passUnretained(log).toOpaque()
        var messenger: VkDebugUtilsMessengerEXT?
        try check(create(instance, &info, nil, &messenger), "vkCreateDebugUtilsMessengerEXT")
        return messenger!
    }

    private static func destroyMessenger(_ instance: VkInstance, _ messenger: VkDebugUtilsMessengerEXT) {
        guard let raw = vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT") else { return }
        unsafeBitCast(raw, to: PFN_vkDestroyDebugUtilsMessengerEXT.self)(instance, messenger, nil)
    }

    private static func enumerate(_ instance: VkInstance) throws -> [(handle: VkPhysicalDevice, info: GPUDeviceInfo)] {
        var count: UInt32 = 0
        try check(vkEnumeratePhysicalDevices(instance, &count, nil), "vkEnumeratePhysicalDevices")
        var handles = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        try check(vkEnumeratePhysicalDevices(instance, &count, &handles), "vkEnumeratePhysicalDevices")
        return handles.prefix(Int(count)).enumerated().compactMap { index, handle in
            guard let handle else { return nil }
            var properties = VkPhysicalDeviceProperties()
            vkGetPhysicalDeviceProperties(handle, &properties)
            let name = withUnsafeBytes(of: properties.deviceName) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let kind: GPUDeviceInfo.Kind
            switch properties.deviceType {
            case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: kind = .discrete
            case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: kind = .integrated
            case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: kind = .virtual
            case VK_PHYSICAL_DEVICE_TYPE_CPU: kind = .cpu
            default: kind = .other
            }
            let version = "\(slomo_vk_api_version_major(properties.apiVersion)).\(slomo_vk_api_version_minor(properties.apiVersion))"
            return (handle, GPUDeviceInfo(index: index, name: name, kind: kind, apiVersion: version))
        }
    }

    private static func select<T>(_ candidates: [(handle: T, info: GPUDeviceInfo)], wanted: String?) throws -> (handle: T, info: GPUDeviceInfo) {
        guard let wanted, !wanted.isEmpty else {
            // Stable sort keeps enumeration order among devices of the same kind.
            return candidates.enumerated().min { ($0.element.info.kind, $0.offset) < ($1.element.info.kind, $1.offset) }!.element
        }
        if let index = Int(wanted), let match = candidates.first(where: { $0.info.index == index }) { return match }
        if let match = candidates.first(where: { $0.info.name.lowercased().contains(wanted.lowercased()) }) { return match }
        throw GPUError.deviceNotFound(wanted, available: candidates.map(\.info.description))
    }
}
