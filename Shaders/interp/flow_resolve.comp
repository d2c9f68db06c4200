#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Forward projection, step 2 of 2: the intermediate flows F_t→0, F_t→1 of each flow cell at time t,
// chosen per cell by warping error among the pairs that the winners of it and its 8 neighbours
// carry (see flow_project.comp) and Super SloMo's linear approximation at the cell,
// F_t→0 = −(1−t)t·F_0→1 + t²·F_1→0 and F_t→1 = (1−t)²·F_0→1 − t(1−t)·F_1→0, which also fills holes.
// Measured on bikes (fast preset, ×2): linear only 34.58 dB, the cell's winner 34.64, the winner or
// the linear pair by warping error 34.96, the 3×3 winners or the linear pair 35.06.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int NEIGHBOURS = 9;   // 5: the cell and its 4-neighbours; 9: its 3×3 neighbourhood
layout(std430, binding = 0) readonly buffer Flow { vec2 flow[]; };
layout(std430, binding = 1) readonly buffer Params { float times[16]; int warmStart; } params;
layout(std430, binding = 2) readonly buffer Keys { uint keys[]; };
layout(std430, binding = 3) writeonly buffer Intermediate { vec4 intermediate[]; };
layout(std430, binding = 4) readonly buffer Pyramid { float pyramid[]; };
layout(push_constant) uniform Push {
    int flowOffset; int width; int height;
    int indexBits;
    float flowScale;               // full resolution over flow resolution
    int base0; int base1;          // the two frames' luma at the flow's level
} pc;

#include "projection.glsl"
// One frame's bilinear samples at the five cells of a cross centred on q (flow-level units). The
// five share q's fractional part, so one 4×4 window of taps less its corners and one set of weights
// serve them all: 12 reads instead of 20. Clamping each tap to the level gives the same values as
// clamping each sample point.
void sampleCross(int base, vec2 q, out float samples[5]) {
    ivec2 a = ivec2(floor(q));
    vec2 f = q - vec2(a);
    float taps[16];
    for (int j = 0; j < 4; j++) {
        int row = base + clamp(a.y - 1 + j, 0, pc.height - 1) * pc.width;
        for (int i = 0; i < 4; i++) {
            bool corner = (i == 0 || i == 3) && (j == 0 || j == 3);
            taps[j * 4 + i] = corner ? 0.0 : pyramid[row + clamp(a.x - 1 + i, 0, pc.width - 1)];
        }
    }
    // The cross's cells as the top-left tap of each sample's 2×2 in the window.
    const int topLeft[5] = int[](5, 4, 6, 1, 9);
    for (int k = 0; k < 5; k++) {
        int t = topLeft[k];
        samples[k] = mix(mix(taps[t], taps[t + 1], f.x), mix(taps[t + 4], taps[t + 5], f.x), f.y);
    }
}

// How badly the two frames disagree along a pair of intermediate flows (flow-level units), summed
// over a cross of five cells so that one lucky match does not decide.
float warpError(vec2 p, vec4 flows) {
    float samples0[5], samples1[5];
    sampleCross(pc.base0, p + flows.xy, samples0);
    sampleCross(pc.base1, p + flows.zw, samples1);
    float sum = 0.0;
    for (int k = 0; k < 5; k++) sum += abs(samples0[k] - samples1[k]);
    return sum;
}

void resolve(ivec2 p, int step, float t) {
    int plane = pc.width * pc.height;
    int cell = step * plane + p.y * pc.width + p.x;
    vec2 f01 = flow[pc.flowOffset + p.y * pc.width + p.x], f10 = flow[pc.flowOffset + plane + p.y * pc.width + p.x];
    vec4 linear = vec4(-(1.0 - t) * t * f01 + t * t * f10, (1.0 - t) * (1.0 - t) * f01 - t * (1.0 - t) * f10);
    const ivec2 offsets[9] = ivec2[](ivec2(0, 0), ivec2(-1, 0), ivec2(1, 0), ivec2(0, -1), ivec2(0, 1),
                                     ivec2(-1, -1), ivec2(1, -1), ivec2(-1, 1), ivec2(1, 1));
    // The linear pair (k = 0), then each projection; one warpError in a loop left rolled, because
    // lavapipe compiles every inlined copy (ten a cell unrolled, seconds on a cold shader cache).
    vec4 flows = linear;
    float best = 0.0;
    [[dont_unroll]] for (int k = 0; k <= NEIGHBOURS; k++) {
        vec4 candidate = linear;
        if (k > 0) {
            ivec2 n = p + offsets[k - 1];
            if (n.x < 0 || n.y < 0 || n.x >= pc.width || n.y >= pc.height) continue;
            uint key = keys[step * plane + n.y * pc.width + n.x];
            if (key == ~0u) continue;
            int source = int(key & ((1u << pc.indexBits) - 1u));
            candidate = carriedFlows(source >= plane ? 1 : 0, flow[pc.flowOffset + source], t);
        }
        float e = warpError(vec2(p), candidate);
        if (k == 0 || e <= best) {
            flows = candidate;
            best = e;
        }
    }
    intermediate[cell] = flows * pc.flowScale;
}

// A 2×2 block per invocation: lavapipe pays per invocation.
void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    int step = int(gl_GlobalInvocationID.z);
    float t = params.times[step];
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x < pc.width && p.y < pc.height) resolve(p, step, t);
    }
}
