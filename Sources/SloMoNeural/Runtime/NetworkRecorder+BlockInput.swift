import SloMoGPU

extension NetworkRecorder {
    /// RIFE 4.x's input to an IFBlock at `scale` > 1 after the first (28 channels at full size / scale):
    /// the frames and features warped by `flow`, `time`, the previous block's mask and features
    /// (`previous`, its 13 outputs at full size / `previousScale`) upsampled, all resized by 1/scale,
    /// then the flow resized and divided by scale. block_input.comp evaluates the warps and the
    /// upsampling only at the points the resize reads: the same values as warp, resize and concat.
    public mutating func blockInput(frame0: TensorView, frame1: TensorView, features: TensorView, previous: TensorView,
                                    previousScale: Int, flow: TensorView, time: TensorView, scale: Int, _ output: TensorView) throws {
        let (height, width) = (frame0.height, frame0.width)
        precondition(frame0.channels == 3 && frame1.channels == 3 && features.channels == 8 && flow.channels == 4 && time.channels == 1
                     && [frame1, features, flow, time].allSatisfy { $0.height == height && $0.width == width }, "full-size inputs")
        precondition(previous.channels == 13 && previous.height == height / previousScale && previous.width == width / previousScale,
                     "the previous block's 13 outputs")
        precondition(flow.buffer == time.buffer, "the flow and the time plane share the state buffer")
        precondition(output.channels == 28 && output.height == height / scale && output.width == width / scale, "block input shape")
        let pipeline = try context.pipeline(.block_input, bindings: 6)
        try recorder.dispatch(pipeline, [.read(frame0.buffer), .read(frame1.buffer), .read(features.buffer), .read(previous.buffer),
                                         .read(flow.buffer), .write(output.buffer)],
                              push: [.int(frame0.offset), .int(frame1.offset), .int(features.offset), .int(previous.offset),
                                     .int(flow.offset), .int(time.offset), .int(output.offset), .int(height), .int(width),
                                     .int(output.height), .int(output.width), .int(previous.height), .int(previous.width),
                                     .float(Float(1 / (1 / Double(scale)))), .float(Float(1 / Double(previousScale))),
                                     .float(Float(1 / Double(scale)))],
                              groups: (groups(output.plane, 64), 1, 1))
    }
}
