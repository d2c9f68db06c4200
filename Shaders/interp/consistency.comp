#version 450
#extension GL_GOOGLE_include_directive : require
// Forward–backward consistency, per direction: how far |F_a→b(x) + F_b→a(x + F_a→b(x))|² exceeds the
// tolerance of Sundaram et al. (ECCV 2010), 0.01·(|F|² + |B|²) + 0.5, in full-resolution pixels².
// Positive where a pixel of frame a has no counterpart in frame b (it becomes occluded).
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, binding = 0) readonly buffer Flow { vec2 flow[]; };
layout(std430, binding = 1) writeonly buffer Consistency { float consistency[]; };
layout(push_constant) uniform Push { int flowOffset; int width; int height; float flowScale; } pc;

#define SAMPLE_FUNCTION sampleFlow
#define SAMPLE_BUFFER flow
#define SAMPLE_TYPE vec2
#include "sampling.glsl"

void check(ivec2 p, int direction) {
    int plane = pc.width * pc.height;
    int own = pc.flowOffset + direction * plane, other = pc.flowOffset + (1 - direction) * plane;
    vec2 u = flow[own + p.y * pc.width + p.x];
    vec2 back = sampleFlow(other, pc.width, pc.height, vec2(p) + u);
    vec2 f = u * pc.flowScale, b = back * pc.flowScale;
    float excess = dot(f + b, f + b) - 0.01 * (dot(f, f) + dot(b, b)) - 0.5;
    consistency[direction * plane + p.y * pc.width + p.x] = max(excess, 0.0);
}

// A 2×2 block per invocation: lavapipe pays per invocation.
void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x < pc.width && p.y < pc.height) check(p, int(gl_GlobalInvocationID.z));
    }
}
