#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// A packed 8-bit frame to internal full-resolution YCbCr (16-bit fixed point, see color.glsl), plus its luma as pyramid level 0.
// One invocation per 2×2 block: subsampled chroma is read once, nearest-neighbour, so that
// unpacking then packing an unchanged frame returns the same bytes.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(std430, binding = 0) readonly buffer Packed { uint8_t packed[]; };
layout(std430, binding = 1) writeonly buffer Frame { uvec2 frame[]; };
layout(std430, binding = 2) writeonly buffer Pyramid { float pyramid[]; };
#include "color.glsl"
layout(push_constant) uniform Push {
    ColorParams color;
    int packedOffset; int frameOffset; int pyramidOffset;  // the slot being filled
} pc;

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    ColorParams c = pc.color;
    if (origin.x >= c.width || origin.y >= c.height) return;
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x >= c.width || p.y >= c.height) continue;
        ivec3 at = sampleIndices(p, c) + pc.packedOffset;
        vec3 s = vec3(uint(packed[at.x]), uint(packed[at.y]), uint(packed[at.z]));
        vec3 ycc = decodeSamples(s, c);
        int index = p.y * c.width + p.x;
        frame[pc.frameOffset + index] = packInternal(ycc);
        pyramid[pc.pyramidOffset + index] = ycc.x;
    }
}
