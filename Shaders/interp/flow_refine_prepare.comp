#version 450
#extension GL_GOOGLE_include_directive : require
// Variational refinement, step 1 of 2: linearise brightness constancy around the current flow u0.
// Stores, per pixel and direction, the warped gradient of the other frame (Ix, Iy) and the constant
// b0 = I1(x+u0) − I0(x) − ∇I1·u0, so that the residual for any flow u is b0 + ∇I1·u.
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, binding = 0) readonly buffer Pyramid { float pyramid[]; };
layout(std430, binding = 1) readonly buffer Flow { vec2 flow[]; };
layout(std430, binding = 2) writeonly buffer Linear { vec4 linear[]; };
layout(push_constant) uniform Push {
    int base0; int base1;
    int width; int height;
    int flowOffset;
} pc;

#define SAMPLE_FUNCTION sampleLevel
#define SAMPLE_BUFFER pyramid
#define SAMPLE_TYPE float
#include "sampling.glsl"

void linearise(ivec2 p, int direction) {
    int templateBase = direction == 0 ? pc.base0 : pc.base1;
    int imageBase = direction == 0 ? pc.base1 : pc.base0;
    int index = direction * pc.width * pc.height + p.y * pc.width + p.x;
    vec2 u = flow[pc.flowOffset + index];
    vec2 q = vec2(p) + u;
    float warped = sampleLevel(imageBase, pc.width, pc.height, q);
    vec2 gradient = 0.5 * vec2(sampleLevel(imageBase, pc.width, pc.height, q + vec2(1, 0)) - sampleLevel(imageBase, pc.width, pc.height, q - vec2(1, 0)),
                               sampleLevel(imageBase, pc.width, pc.height, q + vec2(0, 1)) - sampleLevel(imageBase, pc.width, pc.height, q - vec2(0, 1)));
    float difference = warped - pyramid[templateBase + p.y * pc.width + p.x];
    // Where the flow leaves the frame there is no data, only smoothness.
    bool inside = q.x >= 0.0 && q.y >= 0.0 && q.x <= float(pc.width - 1) && q.y <= float(pc.height - 1);
    linear[index] = inside ? vec4(gradient, difference - dot(gradient, u), 0.0) : vec4(0.0);
}

// A 2×2 block per invocation: lavapipe pays per invocation.
void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x < pc.width && p.y < pc.height) linearise(p, int(gl_GlobalInvocationID.z));
    }
}
