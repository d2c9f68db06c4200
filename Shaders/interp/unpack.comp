#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// A packed 8-bit frame to internal full-resolution YCbCr (one word per pixel, see color.glsl), plus
// its luma as pyramid level 0 (only where flow is estimated at full resolution) and level 1, the
// mean of each 2×2 block: writing level 1 here saves a pass over the full-resolution luma.
// One invocation per 2×2 block: subsampled chroma is read once, nearest-neighbour, so that
// unpacking then packing an unchanged frame returns the same bytes.
// The frame's byte offset in its buffer is read from the parameters, not pushed: a live frame is
// unpacked from wherever the capture put it in its pool, so one recording serves every buffer.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(std430, binding = 0) readonly buffer Packed { uint8_t packed[]; };
layout(std430, binding = 1) writeonly buffer Frame { uint frame[]; };
layout(std430, binding = 2) writeonly buffer Pyramid { float pyramid[]; };
layout(std430, binding = 3) readonly buffer Params { float times[16]; int warmStart; uint packedOffset[2]; } params;
#include "color.glsl"
layout(push_constant) uniform Push {
    ColorParams color;
    int slot; int frameOffset;          // the slot being filled
    int level0Offset;                   // -1: level 0 is not needed
    int level1Offset; int level1Width;  // -1: the frame is too small for a level 1
} pc;

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    ColorParams c = pc.color;
    if (origin.x >= c.width || origin.y >= c.height) return;
    int packedOffset = int(params.packedOffset[pc.slot]);
    float lumaSum = 0.0;
    for (int i = 0; i < 4; i++) {
        // Past the right or bottom edge the last column or row repeats, as in downsample.comp.
        ivec2 inBlock = origin + ivec2(i & 1, i >> 1);
        ivec2 p = min(inBlock, ivec2(c.width - 1, c.height - 1));
        ivec3 at = sampleIndices(p, c) + packedOffset;
        vec3 s = vec3(uint(packed[at.x]), uint(packed[at.y]), uint(packed[at.z]));
        vec3 ycc = decodeSamples(s, c);
        lumaSum += ycc.x;
        if (p != inBlock) continue;
        int index = p.y * c.width + p.x;
        frame[pc.frameOffset + index] = packInternal(ycc);
        if (pc.level0Offset >= 0) pyramid[pc.level0Offset + index] = ycc.x;
    }
    if (pc.level1Offset >= 0) pyramid[pc.level1Offset + (origin.y >> 1) * pc.level1Width + (origin.x >> 1)] = 0.25 * lumaSum;
}
