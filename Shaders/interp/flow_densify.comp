#version 450
#extension GL_GOOGLE_include_directive : require
// DIS densification: each pixel's flow is the mean of the flows of the patches covering it,
// each weighted by how well it explains this pixel: 1 / max(1, |I1(x+u) − I0(x)| in 8-bit levels).
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int PATCH = 8;
layout(std430, binding = 0) readonly buffer Pyramid { float pyramid[]; };
layout(std430, binding = 1) readonly buffer Patches { vec2 patches[]; };
layout(std430, binding = 2) writeonly buffer Flow { vec2 flow[]; };
layout(push_constant) uniform Push {
    int base0; int base1;
    int width; int height;
    int columns; int rows; int stride;
    int flowOffset;
} pc;

#define SAMPLE_FUNCTION sampleLevel
#define SAMPLE_BUFFER pyramid
#define SAMPLE_TYPE float
#include "sampling.glsl"

int patchStart(int index, int limit) { return max(min(index * pc.stride, limit - PATCH), 0); }

void densify(ivec2 p, int direction) {
    int templateBase = direction == 0 ? pc.base0 : pc.base1;
    int imageBase = direction == 0 ? pc.base1 : pc.base0;
    int patchBase = direction * pc.columns * pc.rows;
    float here = pyramid[templateBase + p.y * pc.width + p.x];

    // Patches starting within PATCH-1 pixels before p; the last row and column are shifted
    // inwards, so one extra index is checked.
    ivec2 first = max((p - PATCH + 1 + pc.stride - 1) / pc.stride, ivec2(0));
    ivec2 last = min(p / pc.stride + 1, ivec2(pc.columns - 1, pc.rows - 1));
    vec2 sum = vec2(0.0);
    float weight = 0.0;
    for (int j = first.y; j <= last.y; j++) {
        int y0 = patchStart(j, pc.height);
        if (p.y < y0 || p.y >= y0 + PATCH) continue;
        for (int i = first.x; i <= last.x; i++) {
            int x0 = patchStart(i, pc.width);
            if (p.x < x0 || p.x >= x0 + PATCH) continue;
            vec2 u = patches[patchBase + j * pc.columns + i];
            float difference = abs(sampleLevel(imageBase, pc.width, pc.height, vec2(p) + u) - here) * 255.0;
            float w = 1.0 / max(1.0, difference);
            sum += w * u;
            weight += w;
        }
    }
    if (weight == 0.0) {
        // Not covered (a level smaller than one patch): take the nearest patch.
        ivec2 nearest = clamp(p / pc.stride, ivec2(0), ivec2(pc.columns - 1, pc.rows - 1));
        sum = patches[patchBase + nearest.y * pc.columns + nearest.x];
        weight = 1.0;
    }
    flow[pc.flowOffset + direction * pc.width * pc.height + p.y * pc.width + p.x] = sum / weight;
}

// A 2×2 block per invocation: lavapipe pays per invocation.
void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x < pc.width && p.y < pc.height) densify(p, int(gl_GlobalInvocationID.z));
    }
}
