#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// A packed 8-bit frame to internal full-resolution YCbCr (one word per pixel, see color.glsl), plus
// its luma as pyramid level 0 (only where flow is estimated at full resolution) and level 1, the
// mean of each 2×2 block: writing level 1 here saves a pass over the full-resolution luma.
// Subsampled chroma is taken nearest-neighbour, so that unpacking then packing an unchanged frame
// returns the same bytes. Each invocation covers two 2×2 blocks side by side: lavapipe pays per
// invocation and per load, so a yuv420p frame whose rows hold whole words is read a word at a
// time (4 luma samples, or 2 of a chroma plane), 4 loads for 8 pixels instead of 24.
// The frame's byte offset in its buffer is read from the parameters, not pushed: a live frame is
// unpacked from wherever the capture put it in its pool, so one recording serves every buffer.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(std430, binding = 0) readonly buffer Packed { uint8_t packed[]; };
layout(std430, binding = 0) readonly buffer PackedWords { uint packedWords[]; };
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

void store(ivec2 p, vec3 ycc) {
    int index = p.y * pc.color.width + p.x;
    frame[pc.frameOffset + index] = packInternal(ycc);
    if (pc.level0Offset >= 0) pyramid[pc.level0Offset + index] = ycc.x;
}

void storeLevel1(ivec2 origin, float lumaSum) {
    if (pc.level1Offset >= 0) pyramid[pc.level1Offset + (origin.y >> 1) * pc.level1Width + (origin.x >> 1)] = 0.25 * lumaSum;
}

void unpackBlock(ivec2 origin, int packedOffset) {
    ColorParams c = pc.color;
    float lumaSum = 0.0;
    for (int i = 0; i < 4; i++) {
        // Past the right or bottom edge the last column or row repeats, as in downsample.comp.
        ivec2 inBlock = origin + ivec2(i & 1, i >> 1);
        ivec2 p = min(inBlock, ivec2(c.width - 1, c.height - 1));
        ivec3 at = sampleIndices(p, c) + packedOffset;
        vec3 ycc = decodeSamples(vec3(uint(packed[at.x]), uint(packed[at.y]), uint(packed[at.z])), c);
        lumaSum += ycc.x;
        if (p == inBlock) store(p, ycc);
    }
    storeLevel1(origin, lumaSum);
}

// 4×2 pixels of a yuv420p frame with whole-word rows at a word-aligned offset: two words of luma,
// and the two Cb and two Cr samples of its blocks from one half-word each.
void unpackWords(ivec2 origin, int packedOffset) {
    ColorParams c = pc.color;
    int w = c.width, h = c.height;
    int chromaByte = packedOffset + w * h + (origin.y >> 1) * (w >> 1) + (origin.x >> 1);
    int crByte = chromaByte + (w >> 1) * (h >> 1);
    uint cb = packedWords[chromaByte >> 2] >> ((chromaByte & 2) * 8);
    uint cr = packedWords[crByte >> 2] >> ((crByte & 2) * 8);
    uint rows[2];
    rows[0] = packedWords[(packedOffset + origin.y * w + origin.x) >> 2];
    rows[1] = packedWords[(packedOffset + (origin.y + 1) * w + origin.x) >> 2];
    for (int block = 0; block < 2; block++) {
        vec2 chroma = vec2((cb >> (block * 8)) & 255u, (cr >> (block * 8)) & 255u);
        float lumaSum = 0.0;
        for (int i = 0; i < 4; i++) {
            int x = block * 2 + (i & 1), y = i >> 1;
            vec3 ycc = decodeSamples(vec3((rows[y] >> (x * 8)) & 255u, chroma), c);
            lumaSum += ycc.x;
            store(origin + ivec2(x, y), ycc);
        }
        storeLevel1(origin + ivec2(block * 2, 0), lumaSum);
    }
}

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.x * 4, gl_GlobalInvocationID.y * 2);
    ColorParams c = pc.color;
    if (origin.x >= c.width || origin.y >= c.height) return;
    int packedOffset = int(params.packedOffset[pc.slot]);
    if (FORMAT == F_YUV420P && c.width % 4 == 0 && c.height % 2 == 0 && (packedOffset & 3) == 0) {
        unpackWords(origin, packedOffset);
        return;
    }
    unpackBlock(origin, packedOffset);
    if (origin.x + 2 < c.width) unpackBlock(origin + ivec2(2, 0), packedOffset);
}
