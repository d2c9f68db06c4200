#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// Super SloMo's synthesis for every time step of a pair at once (gl_GlobalInvocationID.z = step):
// backward warps of both frames along the intermediate flows F_t→0, F_t→1 (flow_resolve.comp's),
// and fusion weighted by visibility,
// I_t = ((1−t)V_0·g(I_0,F_t→0) + t·V_1·g(I_1,F_t→1)) / ((1−t)V_0 + t·V_1).
// V_0 falls where the point that frame 1 contributes is occluded in frame 0, and V_1 likewise.
// With useFlow = 0 it is a plain cross-fade. Writes the packed output frame, 2×2 pixels per invocation.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(constant_id = 1) const int WARP = 0;  // WarpFilter: 0 bilinear, 1 Catmull-Rom
layout(std430, binding = 0) readonly buffer Frames { uint frames[]; };
layout(std430, binding = 1) readonly buffer Intermediate { vec4 intermediate[]; };  // per step: F_t→0, F_t→1
layout(std430, binding = 2) readonly buffer Consistency { float consistency[]; };
layout(std430, binding = 3) readonly buffer Params { float times[16]; int warmStart; } params;
layout(std430, binding = 4) writeonly buffer Packed { uint8_t packed[]; };
// The same output as words, for whole-word stores where the layout allows (see main).
layout(std430, binding = 4) writeonly buffer PackedWords { uint packedWords[]; };
#include "color.glsl"
layout(push_constant) uniform Push {
    ColorParams color;
    int frame0; int frame1;             // offsets of the two frames in `frames`
    int flowWidth; int flowHeight;
    float flowScale;                    // full resolution over flow resolution
    int outputBytes;                    // bytes of one packed frame
    int useFlow;
    float occlusionSigma;               // consistency error, in pixels, at which visibility halves
    int wordStores;                     // 1: yuv420p with width % 4 == 0 and an even height
} pc;
#include "pack.glsl"

#define SAMPLE_FUNCTION sampleIntermediate
#define SAMPLE_BUFFER intermediate
#define SAMPLE_TYPE vec4
#include "sampling.glsl"
vec2 toFlowGrid(vec2 p) { return (p + 0.5) / pc.flowScale - 0.5; }

// The consistency of the flow cell nearest to p (flow-grid units). Nearest, not bilinear: three
// fewer reads per sample, a quarter of the fusion's time on lavapipe, and visibility is a soft weight.
float nearestConsistency(int base, vec2 p) {
    ivec2 q = ivec2(clamp(floor(p + 0.5), vec2(0.0), vec2(pc.flowWidth - 1, pc.flowHeight - 1)));
    return consistency[base + q.y * pc.flowWidth + q.x];
}

// Bilinear samples of a frame at the four pixels of a 2×2 block all displaced by `flow`: they
// share one 3×3 neighbourhood of taps and one set of weights (9 reads instead of 16). Clamping
// each tap to the frame gives the same values as clamping each sample point.
void sampleFrameBlockBilinear(int base, int w, int h, vec2 topLeft, out vec3 samples[4]) {
    ivec2 a = ivec2(floor(topLeft));
    vec2 f = topLeft - vec2(a);
    vec3 taps[9];
    for (int j = 0; j < 3; j++) {
        int y = clamp(a.y + j, 0, h - 1);
        for (int i = 0; i < 3; i++) taps[j * 3 + i] = unpackInternal(frames[base + y * w + clamp(a.x + i, 0, w - 1)]);
    }
    for (int k = 0; k < 4; k++) {
        int t = (k >> 1) * 3 + (k & 1);
        samples[k] = mix(mix(taps[t], taps[t + 1], f.x), mix(taps[t + 3], taps[t + 4], f.x), f.y);
    }
}

// Catmull-Rom samples of the same four pixels: one 5×5 neighbourhood of taps, one set of weights.
// Taps outside the frame take the nearest edge pixel.
void sampleFrameBlockCubic(int base, int w, int h, vec2 topLeft, out vec3 samples[4]) {
    ivec2 a = ivec2(floor(topLeft));
    vec2 f = topLeft - vec2(a);
    vec3 taps[25];
    for (int j = 0; j < 5; j++) {
        int y = clamp(a.y - 1 + j, 0, h - 1);
        for (int i = 0; i < 5; i++) taps[j * 5 + i] = unpackInternal(frames[base + y * w + clamp(a.x - 1 + i, 0, w - 1)]);
    }
    vec2 f2 = f * f, f3 = f2 * f;
    vec2 k0 = 0.5 * (-f + 2.0 * f2 - f3), k1 = 0.5 * (2.0 - 5.0 * f2 + 3.0 * f3);
    vec2 k2 = 0.5 * (f + 4.0 * f2 - 3.0 * f3), k3 = 0.5 * (f3 - f2);
    for (int k = 0; k < 4; k++) {
        int ox = k & 1, oy = k >> 1;
        vec3 rows[4];
        for (int j = 0; j < 4; j++) {
            int r = (oy + j) * 5 + ox;
            rows[j] = k0.x * taps[r] + k1.x * taps[r + 1] + k2.x * taps[r + 2] + k3.x * taps[r + 3];
        }
        samples[k] = k0.y * rows[0] + k1.y * rows[1] + k2.y * rows[2] + k3.y * rows[3];
    }
}

void sampleFrameBlock(int base, int w, int h, vec2 topLeft, out vec3 samples[4]) {
    if (WARP == 1) sampleFrameBlockCubic(base, w, h, topLeft, samples);
    else sampleFrameBlockBilinear(base, w, h, topLeft, samples);
}

bool inside(vec2 p, int w, int h) { return p.x >= -0.5 && p.y >= -0.5 && p.x <= float(w) - 0.5 && p.y <= float(h) - 0.5; }

// Flow varies slowly at flow resolution (half or quarter of full), so one flow sample and one
// visibility estimate serve a whole 2×2 block; only the frame samples are per pixel.
void synthesizeBlock(ivec2 origin, int step, float t, out vec3 values[4]) {
    int w = pc.color.width, h = pc.color.height;
    if (pc.useFlow == 0) {
        for (int i = 0; i < 4; i++) {
            ivec2 p = min(origin + ivec2(i & 1, i >> 1), ivec2(w - 1, h - 1));
            values[i] = mix(unpackInternal(frames[pc.frame0 + p.y * w + p.x]), unpackInternal(frames[pc.frame1 + p.y * w + p.x]), t);
        }
        return;
    }
    int plane = pc.flowWidth * pc.flowHeight;
    vec2 center = vec2(origin) + 0.5;
    vec4 flows = sampleIntermediate(step * plane, pc.flowWidth, pc.flowHeight, toFlowGrid(center));
    vec2 ft0 = flows.xy, ft1 = flows.zw;
    float c0 = nearestConsistency(0, toFlowGrid(center + ft0));
    float c1 = nearestConsistency(plane, toFlowGrid(center + ft1));
    vec3 warped0[4], warped1[4];
    sampleFrameBlock(pc.frame0, w, h, vec2(origin) + ft0, warped0);
    sampleFrameBlock(pc.frame1, w, h, vec2(origin) + ft1, warped1);
    for (int i = 0; i < 4; i++) {
        // A block past the right or bottom edge repeats the last column or row.
        ivec2 inBlock = min(ivec2(i & 1, i >> 1), ivec2(w - 1, h - 1) - origin);
        int k = inBlock.y * 2 + inBlock.x;
        vec2 p = vec2(origin + inBlock);
        vec2 p0 = p + ft0, p1 = p + ft1;
        vec3 g0 = warped0[k], g1 = warped1[k];
        // Occlusion only matters where the two warps disagree; where they agree, both are right.
        float disagreement = smoothstep(0.02, 0.08, abs(g0.x - g1.x));
        float v0 = 1.0 / (1.0 + disagreement * c1 / pc.occlusionSigma);
        float v1 = 1.0 / (1.0 + disagreement * c0 / pc.occlusionSigma);
        // A warp that reads from outside its frame has nothing to show.
        float w0 = (1.0 - t) * v0 * (inside(p0, w, h) ? 1.0 : 0.01);
        float w1 = t * v1 * (inside(p1, w, h) ? 1.0 : 0.01);
        values[i] = (w0 * g0 + w1 * g1) / max(w0 + w1, 1e-6);
    }
}

uint packBytes(uvec4 bytes) { return bytes.x | (bytes.y << 8) | (bytes.z << 16) | (bytes.w << 24); }

// Two 2×2 blocks side by side per invocation: lavapipe pays per invocation and per store, so a
// yuv420p frame whose rows hold whole words takes its 4×2 pixels of luma as two word stores (the
// same bytes storeBlock writes one at a time, as it does for every other layout). Both layouts
// share one loop, so lavapipe compiles the synthesis once per block, not once per block and layout.
void main() {
    int step = int(gl_GlobalInvocationID.z);
    ivec2 first = ivec2(gl_GlobalInvocationID.x * 4, gl_GlobalInvocationID.y * 2);
    int w = pc.color.width, h = pc.color.height;
    if (first.x >= w || first.y >= h) return;
    float t = params.times[step];
    int base = step * pc.outputBytes;
    bool wordStores = FORMAT == F_YUV420P && pc.wordStores != 0;
    uvec4 luma[2];  // one word per row
    int chromaIndex = base + w * h + (first.y >> 1) * (w >> 1) + (first.x >> 1);
    for (int block = 0; block < 2; block++) {
        ivec2 origin = first + ivec2(block * 2, 0);
        if (origin.x >= w) break;
        vec3 values[4];
        synthesizeBlock(origin, step, t, values);
        if (wordStores) {
            for (int i = 0; i < 4; i++) luma[i >> 1][block * 2 + (i & 1)] = encodeSamples(values[i], pc.color).x;
            vec2 sum = vec2(0.0);
            for (int i = 0; i < 4; i++) sum += values[i].yz;
            uvec3 chroma = encodeSamples(vec3(values[0].x, sum / 4.0), pc.color);
            packed[chromaIndex + block] = uint8_t(chroma.y);
            packed[chromaIndex + block + (w >> 1) * (h >> 1)] = uint8_t(chroma.z);
        } else {
            storeBlock(origin, values, base, pc.color);
        }
    }
    if (wordStores) {
        int lumaWord = (base + first.y * w + first.x) >> 2;
        packedWords[lumaWord] = packBytes(luma[0]);
        packedWords[lumaWord + (w >> 2)] = packBytes(luma[1]);
    }
}
