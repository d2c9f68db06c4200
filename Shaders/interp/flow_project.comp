#version 450
#extension GL_GOOGLE_include_directive : require
// Forward projection of both flows to time t (Baker et al.'s interpolation; DAIN's flow projection),
// step 1 of 2: each flow cell x of frame 0 moves to x + t·F_0→1(x) at time t, each cell of frame 1 to
// x + (1−t)·F_1→0(x), and claims the 2×2 cells around where it lands with atomicMin of a key: its
// forward–backward inconsistency (the depth order: a point that is occluded in the other frame has no
// consistent flow, so where it lands on a visible one it loses), then its index, which makes the
// winner unique and the result deterministic. flow_resolve.comp reads the winners.
// The inconsistency is computed here, where the keys need it, once per cell for every step, and
// kept for the fusion's visibility: one pass over the flow instead of two, and one dispatch fewer.
// Keys start at ~0 (filled before each use), and stay so where nothing landed.
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, binding = 0) readonly buffer Flow { vec2 flow[]; };
layout(std430, binding = 1) writeonly buffer Consistency { float consistency[]; };
layout(std430, binding = 2) readonly buffer Params { float times[16]; int warmStart; } params;
layout(std430, binding = 3) buffer Keys { uint keys[]; };
layout(push_constant) uniform Push {
    int flowOffset; int width; int height;
    int indexBits;                 // bits of the key that hold the source index (2·width·height sources)
    float flowScale;               // full resolution over flow resolution
    int steps;                     // time steps of the pair, each with its own keys
} pc;

#include "projection.glsl"
#define SAMPLE_FUNCTION sampleFlow
#define SAMPLE_BUFFER flow
#define SAMPLE_TYPE vec2
#include "sampling.glsl"

// Forward–backward consistency: how far |F_a→b(x) + F_b→a(x + F_a→b(x))|² exceeds the tolerance of
// Sundaram et al. (ECCV 2010), 0.01·(|F|² + |B|²) + 0.5, in full-resolution pixels². Positive where
// a cell of frame a has no counterpart in frame b (it becomes occluded).
float inconsistency(ivec2 p, int direction, vec2 u) {
    int other = pc.flowOffset + (1 - direction) * pc.width * pc.height;
    vec2 back = sampleFlow(other, pc.width, pc.height, vec2(p) + u);
    vec2 f = u * pc.flowScale, b = back * pc.flowScale;
    float excess = dot(f + b, f + b) - 0.01 * (dot(f, f) + dot(b, b)) - 0.5;
    return max(excess, 0.0);
}

void splat(ivec2 p, int direction) {
    int plane = pc.width * pc.height;
    int source = direction * plane + p.y * pc.width + p.x;
    vec2 u = flow[pc.flowOffset + source];
    float occlusion = inconsistency(p, direction, u);
    consistency[source] = occlusion;
    uint key = (depthLevel(occlusion, pc.indexBits) << pc.indexBits) | uint(source);
    for (int step = 0; step < pc.steps; step++) {
        float t = params.times[step];
        ivec2 a = ivec2(floor(vec2(p) + (direction == 0 ? t : 1.0 - t) * u));
        for (int i = 0; i < 4; i++) {
            ivec2 c = a + ivec2(i & 1, i >> 1);
            if (c.x < 0 || c.y < 0 || c.x >= pc.width || c.y >= pc.height) continue;
            atomicMin(keys[step * plane + c.y * pc.width + c.x], key);
        }
    }
}

// A 2×2 block of source cells per invocation, both directions: lavapipe pays per invocation.
void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x >= pc.width || p.y >= pc.height) continue;
        splat(p, 0);
        splat(p, 1);
    }
}
