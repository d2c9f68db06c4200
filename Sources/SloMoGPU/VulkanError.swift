import CVulkan
import Glibc

/// A failed Vulkan call or an unusable environment, with a one-line message for users.
public enum GPUError: Error, CustomStringConvertible, Equatable {
    case call(String, VkResult)
    case noDevice
    case deviceNotFound(String, available: [String])
    case validationLayerMissing
    case noComputeQueue(String)
    case noMemoryType(String)
    case missingFeature(String, String)

    public var description: String {
        switch self {
        case let .call(name, result): return "Vulkan call \(name) failed (VkResult \(result.rawValue))"
        case .noDevice: return "no Vulkan device found (install a Vulkan driver, e.g. apt-get install mesa-vulkan-drivers)"
        case let .deviceNotFound(wanted, available):
            return "no Vulkan device matches '\(wanted)'; available: \(available.joined(separator: ", "))"
        case .validationLayerMissing:
            return "Vulkan validation requested but VK_LAYER_KHRONOS_validation is not installed (apt-get install vulkan-validationlayers)"
        case let .noComputeQueue(name): return "Vulkan device \(name) has no compute queue"
        case let .noMemoryType(what): return "no Vulkan memory type suits \(what)"
        case let .missingFeature(device, feature): return "Vulkan device \(device) lacks \(feature), which slomo needs"
        }
    }
}

/// Turns a VkResult into a thrown error naming the call; the one place results are checked.
@inline(__always)
func check(_ result: VkResult, _ call: @autoclosure () -> String) throws {
    guard result == VK_SUCCESS else { throw GPUError.call(call(), result) }
}

extension Array where Element == String {
    /// Calls `body` with a C array of C strings that live for the duration of the call.
    func withCStringArray<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R) rethrows -> R {
        let owned = map { strdup($0) }
        defer { owned.forEach { free($0) } }
        let pointers = owned.map { UnsafePointer<CChar>($0) }
        return try pointers.withUnsafeBufferPointer { try body($0.baseAddress) }
    }
}
