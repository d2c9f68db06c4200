import Foundation

/// SPIR-V of one compute shader, embedded at build time by the ShaderCompiler plugin.
/// Shaders are picked by these generated constants, never by a file path.
public struct ShaderSource: Sendable {
    public let name: String
    public let spirvBase64: String
    public init(name: String, spirvBase64: String) {
        self.name = name
        self.spirvBase64 = spirvBase64
    }
    /// SPIR-V words; glslc's output is always a whole number of little-endian words.
    public var words: [UInt32] {
        guard let data = Data(base64Encoded: spirvBase64) else {
            preconditionFailure("shader \(name): embedded SPIR-V is not valid base64")
        }
        return data.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
    }
}
