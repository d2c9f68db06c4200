/// A dense float32 tensor in host memory, row-major (PyTorch's contiguous NCHW order).
/// Checkpoints load into these; the GPU runtime uploads them once.
public struct HostTensor: Equatable, Sendable {
    public let shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "tensor of shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    public var count: Int { values.count }
}

/// A model's named parameters, as in a PyTorch `state_dict` (keys without any `module.` prefix).
public typealias StateDict = [String: HostTensor]
