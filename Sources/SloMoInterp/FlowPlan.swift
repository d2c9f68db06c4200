import Foundation
import SloMoCore

/// How frames are interpolated.
public enum InterpolationMode: String, CaseIterable, Sendable {
    /// Each slot shows the nearest real frame.
    case `repeat`
    /// A cross-fade of the two frames.
    case blend
    /// Motion-compensated synthesis from bidirectional optical flow (the default).
    case flow
}

/// Speed against quality for the flow mode.
public enum FlowPreset: String, CaseIterable, Sendable {
    case fast, quality

    public var parameters: FlowParameters {
        switch self {
        // Both chosen by sweeping the parameters over bikes, carphone and Middlebury with `slomo bench`:
        // beyond 4–6 Gauss–Newton iterations a patch's estimate drifts on large motion (bikes: 12
        // iterations 33.15 dB, 4 iterations 34.45 dB) while carphone and Middlebury move < 0.1 dB.
        // (That drift was plain Gauss–Newton's; the search now stops where the cost rises.) Spatial
        // propagation (flow_search.comp), swept on bikes with projected intermediate flows: fast with 3–8
        // search and 2–4 propagation iterations 35.02–35.08 dB; quality 6 and 3: 35.30, 12 and 4: 35.28, 6 and 6: 35.22.
        // DIS "ultrafast"-like: flow at quarter resolution, no variational refinement. On Mesa 25's
        // lavapipe against 4 iterations, stride 5 and one refinement of two sweeps: bikes 9.5 → 5.8 ms
        // per frame at 34.44 → 34.45 dB, 1280×720 37.7 → 25.8 ms, Middlebury 33.42 → 33.32 dB.
        // Below 320 pixels wide it estimates flow at half resolution (carphone 176×144: 34.29 → 34.51 dB).
        // Its intermediate flows choose among the 4-neighbours' projections, not the 3×3 ones: bikes ×2
        // 35.26 → 35.27 dB, ×4 31.14 → 31.13, carphone 34.51 either way, for flow_resolve's time
        // 13.9 → 6.7 ms a frame (bikes on lavapipe, two runs under different load: BENCHMARKS-quality.md).
        // Without propagation it would save another 3.4 ms, for bikes 35.16 and carphone 34.44 (below
        // DIS-medium + fusion's 34.46): propagation stays.
        case .fast: return FlowParameters(finestLevel: 2, patchSize: 10, stride: 6, iterations: 3, propagationIterations: 2,
                                          refinements: 0, sweeps: 0, smoothness: 2, minimumFlowWidth: 80,
                                          resolveNeighbours: 5)
        // DIS "medium"-like: flow at half resolution, denser patches, more variational refinement.
        case .quality: return FlowParameters(finestLevel: 1, patchSize: 10, stride: 5, iterations: 6, propagationIterations: 3,
                                             refinements: 1, sweeps: 5, smoothness: 2, minimumFlowWidth: 160,
                                             resolveNeighbours: 9)
        }
    }
}

/// Pictures of what the synthesis used, written instead of frames.
public enum Visualization: String, CaseIterable, Sendable {
    case flow, visibility
}

/// The knobs of the DIS flow estimator and of the choice of intermediate flows.
public struct FlowParameters: Equatable, Sendable {
    /// Pyramid level (0 = full resolution) at which flow is finally estimated.
    public var finestLevel: Int
    public var patchSize: Int
    public var stride: Int
    /// Gauss–Newton iterations per patch and level.
    public var iterations: Int
    /// Spatial propagation after each level's search: Gauss–Newton iterations from the best of a
    /// patch's own and its four neighbours' results; nil for none.
    public var propagationIterations: Int?
    /// Variational refinement after densification at each level: linearisations (fixed-point steps)...
    public var refinements: Int
    /// ...and red–black sweeps per linearisation.
    public var sweeps: Int
    /// Weight of flow smoothness against brightness constancy.
    public var smoothness: Float
    /// Small frames get a finer flow than `finestLevel`, so the field stays at least this wide
    /// (measured on the 176×144 carphone clip, flow at full instead of half resolution: +0.14 dB).
    public var minimumFlowWidth: Int?
    /// Cells whose projected winners compete in flow_resolve.comp beside the linear pair: 5 (the
    /// cell and its 4-neighbours) or 9 (its 3×3 neighbourhood).
    public var resolveNeighbours: Int
}

/// Sizes and buffer offsets of the luma pyramid, the per-level flow and the patch grids
/// for one frame size: computed once per configuration, shared by the GPU and CPU paths.
public struct FlowPlan: Equatable, Sendable {
    public struct Level: Equatable, Sendable {
        public var width: Int
        public var height: Int
        /// Offset (in floats) of this level in one frame's pyramid; nil for full resolution when
        /// flow is estimated only at coarser levels (nothing reads it, so it is not kept).
        public var pyramidOffset: Int?
        /// Offset (in vec2s) of this level's two flow planes in the flow buffer; nil below the finest level.
        public var flowOffset: Int?
        public var columns: Int
        public var rows: Int
    }

    public let parameters: FlowParameters
    public let levels: [Level]
    public let finest: Int
    public let coarsest: Int
    /// Floats in one frame's pyramid.
    public let pyramidSize: Int
    /// vec2s in the flow buffer (both directions, finest to coarsest level).
    public let flowSize: Int
    /// vec2s in the largest level's patch buffer (both directions).
    public let patchSize: Int

    public init(width: Int, height: Int, parameters: FlowParameters) {
        self.parameters = parameters
        let p = parameters.patchSize
        // As in OpenCV's DIS: the coarsest level is where the frame is about four patches wide.
        var coarsest = max(parameters.finestLevel, Int((log2(Double(max(width, height)) / Double(4 * p))).rounded()))
        var sizes = [(width, height)]
        while sizes.count <= coarsest {
            let (w, h) = sizes.last!
            sizes.append(((w + 1) / 2, (h + 1) / 2))
        }
        while coarsest > 0 && min(sizes[coarsest].0, sizes[coarsest].1) < p { coarsest -= 1 }
        let widest = parameters.minimumFlowWidth.map { max(0, Int(log2(Double(width) / Double($0)).rounded(.down))) } ?? coarsest
        let finest = min(parameters.finestLevel, widest, coarsest)
        var levels: [Level] = []
        var pyramidOffset = 0, flowOffset = 0, patchSize = 0
        let keepsFullResolution = finest == 0 || coarsest == 0
        for (index, (w, h)) in sizes.prefix(coarsest + 1).enumerated() {
            let columns = FlowPlan.gridCount(w, p, parameters.stride)
            let rows = FlowPlan.gridCount(h, p, parameters.stride)
            var level = Level(width: w, height: h, pyramidOffset: nil, flowOffset: nil, columns: columns, rows: rows)
            if index > 0 || keepsFullResolution {
                level.pyramidOffset = pyramidOffset
                pyramidOffset += w * h
            }
            if index >= finest {
                level.flowOffset = flowOffset
                flowOffset += 2 * w * h
                patchSize = max(patchSize, 2 * columns * rows)
            }
            levels.append(level)
        }
        self.levels = levels
        self.finest = finest
        self.coarsest = coarsest
        self.pyramidSize = pyramidOffset
        self.flowSize = flowOffset
        self.patchSize = patchSize
    }

    /// Patches along one axis: every `stride` pixels, plus one flush with the far edge.
    static func gridCount(_ length: Int, _ patch: Int, _ stride: Int) -> Int {
        length <= patch ? 1 : (length - patch + stride - 1) / stride + 1
    }

    /// Bits of a projection key (flow_project.comp) that hold the source cell: both directions' cells
    /// at the finest level; the rest order the sources by depth.
    public var projectionIndexBits: Int {
        let sources = 2 * levels[finest].width * levels[finest].height
        return Int.bitWidth - (sources - 1).leadingZeroBitCount
    }

    /// Full resolution over the finest flow level's resolution.
    public var flowScale: Float { Float(1 << finest) }

    /// Pixels along x that share one flow sample in the fusion (fuse.comp; its blocks are two rows
    /// high): 4 where a flow cell is 4 pixels wide, else 2 (4-wide blocks on half-resolution flow
    /// cost the quality preset 0.18 dB on bikes).
    public var fusionBlockWidth: Int { finest >= 2 ? 4 : 2 }
}
