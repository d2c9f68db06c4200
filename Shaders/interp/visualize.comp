#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// What the synthesis saw, as pictures (gl_GlobalInvocationID.z = step):
// mode 0: the flow F_t→0 in the Middlebury colour wheel (hue = direction, saturation = speed);
// mode 1: the visibility weights, red for frame 0's share and green for frame 1's.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(std430, binding = 0) readonly buffer Intermediate { vec4 intermediate[]; };  // per step: F_t→0, F_t→1
layout(std430, binding = 1) readonly buffer Consistency { float consistency[]; };
layout(std430, binding = 2) readonly buffer Params { float times[16]; int warmStart; } params;
layout(std430, binding = 3) writeonly buffer Packed { uint8_t packed[]; };
#include "color.glsl"
layout(push_constant) uniform Push {
    ColorParams color;
    int flowWidth; int flowHeight;
    float flowScale;
    int outputBytes;
    int mode;
    float occlusionSigma;
    float maxMotion;                    // pixels shown at full saturation
} pc;
#include "pack.glsl"

#define SAMPLE_FUNCTION sampleIntermediate
#define SAMPLE_BUFFER intermediate
#define SAMPLE_TYPE vec4
#include "sampling.glsl"
#define SAMPLE_FUNCTION sampleConsistency
#define SAMPLE_BUFFER consistency
#define SAMPLE_TYPE float
#include "sampling.glsl"

// The colour wheel of Baker et al.: segments red–yellow 15, yellow–green 6, green–cyan 4,
// cyan–blue 11, blue–magenta 13, magenta–red 6.
vec3 wheel(float k) {
    const float segments[6] = float[](15.0, 6.0, 4.0, 11.0, 13.0, 6.0);
    const vec3 stops[7] = vec3[](vec3(1, 0, 0), vec3(1, 1, 0), vec3(0, 1, 0), vec3(0, 1, 1),
                                 vec3(0, 0, 1), vec3(1, 0, 1), vec3(1, 0, 0));
    float position = k * 55.0;
    for (int i = 0; i < 6; i++) {
        if (position <= segments[i]) return mix(stops[i], stops[i + 1], position / segments[i]);
        position -= segments[i];
    }
    return stops[6];
}

vec3 flowColor(vec2 u) {
    float radius = min(length(u) / pc.maxMotion, 1.0);
    float angle = atan(-u.y, -u.x) / 3.14159265;  // −1..1, as in the reference code
    vec3 hue = wheel((angle + 1.0) * 0.5);
    return 1.0 - radius * (1.0 - hue);
}

vec2 toFlowGrid(vec2 p) { return (p + 0.5) / pc.flowScale - 0.5; }

vec3 visualize(ivec2 p, int step, float t) {
    int plane = pc.flowWidth * pc.flowHeight;
    vec4 flows = sampleIntermediate(step * plane, pc.flowWidth, pc.flowHeight, toFlowGrid(vec2(p)));
    vec2 ft0 = flows.xy, ft1 = flows.zw;
    if (pc.mode == 0) return flowColor(ft0 / max(t, 1e-3));
    float c0 = sampleConsistency(0, pc.flowWidth, pc.flowHeight, toFlowGrid(vec2(p) + ft0)) / pc.occlusionSigma;
    float c1 = sampleConsistency(plane, pc.flowWidth, pc.flowHeight, toFlowGrid(vec2(p) + ft1)) / pc.occlusionSigma;
    return vec3(1.0 / (1.0 + c1 * c1), 1.0 / (1.0 + c0 * c0), 0.0);
}

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    int step = int(gl_GlobalInvocationID.z);
    if (origin.x >= pc.color.width || origin.y >= pc.color.height) return;
    vec3 values[4];
    for (int i = 0; i < 4; i++) {
        ivec2 p = min(origin + ivec2(i & 1, i >> 1), ivec2(pc.color.width - 1, pc.color.height - 1));
        values[i] = rgbToInternal(visualize(p, step, params.times[step]), pc.color);
    }
    storeBlock(origin, values, step * pc.outputBytes, pc.color);
}
