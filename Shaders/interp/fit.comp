#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// Fits a frame of another size into the output's: scaled with its aspect ratio kept (bilinear) into
// the centred rectangle `content`, black (in the output's range) around it. Reads the input as
// unpack.comp left it (internal words, at the input's size and matrix) and writes the packed output
// in FORMAT, 2×2 pixels per invocation. Used after a capture source changes mid-stream, so that
// consumers never see a size change.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(std430, binding = 0) readonly buffer Frame { uint frame[]; };
layout(std430, binding = 1) writeonly buffer Packed { uint8_t packed[]; };
#include "color.glsl"
#include "pack.glsl"
layout(push_constant) uniform Push {
    ColorParams color;                  // the output's
    int inWidth; int inHeight;
    float inKr; float inKb;             // the input's matrix
    int contentX; int contentY; int contentWidth; int contentHeight;
    float scaleX; float scaleY;         // input pixels per output pixel
} pc;

vec3 sampleInput(vec2 at) {
    vec2 p = clamp(at, vec2(0.0), vec2(pc.inWidth - 1, pc.inHeight - 1));
    ivec2 a = ivec2(floor(p));
    ivec2 b = min(a + 1, ivec2(pc.inWidth - 1, pc.inHeight - 1));
    vec2 f = p - vec2(a);
    vec3 top = mix(unpackInternal(frame[a.y * pc.inWidth + a.x]), unpackInternal(frame[a.y * pc.inWidth + b.x]), f.x);
    vec3 bottom = mix(unpackInternal(frame[b.y * pc.inWidth + a.x]), unpackInternal(frame[b.y * pc.inWidth + b.x]), f.x);
    return mix(top, bottom, f.y);
}

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    ColorParams c = pc.color;
    if (origin.x >= c.width || origin.y >= c.height) return;
    ColorParams source = c;
    source.kr = pc.inKr;
    source.kb = pc.inKb;
    bool sameMatrix = pc.inKr == c.kr && pc.inKb == c.kb;
    vec3 values[4];
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1) - ivec2(pc.contentX, pc.contentY);
        if (p.x < 0 || p.y < 0 || p.x >= pc.contentWidth || p.y >= pc.contentHeight) {
            values[i] = vec3(0.0);  // black: zero luma, neutral chroma
            continue;
        }
        vec3 v = sampleInput((vec2(p) + 0.5) * vec2(pc.scaleX, pc.scaleY) - 0.5);
        // A change of matrix (BT.601 <-> BT.709) goes through RGB.
        values[i] = sameMatrix ? v : rgbToInternal(internalToRGB(v, source), c);
    }
    storeBlock(origin, values, 0, c);
}
