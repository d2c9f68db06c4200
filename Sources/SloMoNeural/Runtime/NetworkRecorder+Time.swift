import SloMoGPU

/// Operators whose time step t is read from a buffer (`times[timeIndex]`) that the host writes before
/// each run, rather than pushed: one recorded sequence then serves whatever times a pair asks for,
/// and the frame path records nothing new.
extension NetworkRecorder {
    /// Super SloMo's intermediate flows F_t→0 and F_t→1 from F_0→1 and F_1→0 (two channels each).
    public mutating func intermediateFlows(f01: TensorView, f10: TensorView, times: GPUBuffer, timeIndex: Int,
                                           ft0: TensorView, ft1: TensorView) throws {
        precondition([f01, f10, ft0, ft1].allSatisfy { $0.channels == 2 && $0.plane == f01.plane }, "intermediate flows are two channels of one size")
        precondition(f01.buffer == f10.buffer && ft0.buffer == ft1.buffer, "the flows share a buffer, the results another (or the same)")
        let pipeline = try context.pipeline(.intermediate_flow, bindings: 3)
        try recorder.dispatch(pipeline, [.read(f01.buffer), .read(times), .write(ft0.buffer)],
                              push: [.int(f01.offset), .int(f10.offset), .int(ft0.offset), .int(ft1.offset), .int(f01.count), .int(timeIndex)],
                              groups: (groups(f01.count, 256), 1, 1))
    }

    /// Super SloMo's fusion: ((1 − t)·V·a + t·(1 − V)·b) / ((1 − t)·V + t·(1 − V)) with V = σ(logit), one logit channel.
    public mutating func visibilityFusion(_ a: TensorView, _ b: TensorView, logit: TensorView, times: GPUBuffer, timeIndex: Int,
                                          _ output: TensorView) throws {
        precondition(a.count == b.count && a.count == output.count && logit.channels == 1 && logit.plane == a.plane, "fusion shapes")
        let pipeline = try context.pipeline(.visibility_fusion, bindings: 5)
        try recorder.dispatch(pipeline, [.read(a.buffer), .read(b.buffer), .read(logit.buffer), .read(times), .write(output.buffer)],
                              push: [.int(a.offset), .int(b.offset), .int(logit.offset), .int(output.offset), .int(a.plane), .int(timeIndex)],
                              groups: (groups(a.plane, 256), a.channels, 1))
    }

    /// Sets every value of the one-channel `output` to t = times[timeIndex] (RIFE 4.x's timestep plane).
    public mutating func timePlane(_ output: TensorView, times: GPUBuffer, timeIndex: Int) throws {
        precondition(output.channels == 1, "the time plane is one channel")
        let pipeline = try context.pipeline(.time_plane, bindings: 2)
        try recorder.dispatch(pipeline, [.read(times), .write(output.buffer)],
                              push: [.int(output.offset), .int(output.count), .int(timeIndex)],
                              groups: (groups(output.count, 256), 1, 1))
    }
}
