#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// Super SloMo's synthesis for every time step of a pair at once (gl_GlobalInvocationID.z = step):
// backward warps of both frames along the intermediate flows F_t→0, F_t→1 (flow_resolve.comp's),
// and fusion weighted by visibility,
// I_t = ((1−t)V_0·g(I_0,F_t→0) + t·V_1·g(I_1,F_t→1)) / ((1−t)V_0 + t·V_1).
// V_0 falls where the point that frame 1 contributes is occluded in frame 0, and V_1 likewise.
// With useFlow = 0 it is a plain cross-fade. Writes the packed output frame, 4×2 pixels per invocation.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
// Pixels along x that share one flow sample and one neighbourhood of taps (FlowPlan.fusionBlockWidth):
// 4 where a flow cell is 4 pixels wide, 2 where the flow is finer.
layout(constant_id = 1) const int BLOCK_WIDTH = 2;
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

// Catmull-Rom samples of a frame at the BLOCK_WIDTH×2 pixels of a block all displaced by the same
// flow. Bicubic keeps the texture that bilinear sampling blurs at fractional positions (fast preset:
// Middlebury 36.61 → 37.27 dB, carphone 34.51 → 34.90; quality: +0.67 and +0.46). The block's
// pixels share one neighbourhood of taps and one set of weights: lavapipe pays per read, and a 4×2
// block reads 35 taps where its pixels alone would read 16 each. Each row of taps is filtered along
// x for the block's columns, then added to the two block rows that use it. Taps outside the frame
// take the nearest edge pixel. Samples land at row * 4 + column.
void sampleFrameBlock(int base, int w, int h, vec2 topLeft, out vec3 samples[8]) {
    ivec2 a = ivec2(floor(topLeft));
    vec2 f = topLeft - vec2(a), f2 = f * f, f3 = f2 * f;
    // Weights of the taps at −1, 0, 1 and 2 pixels from each sample's floor.
    vec2 k0 = 0.5 * (-f + 2.0 * f2 - f3), k1 = 0.5 * (2.0 - 5.0 * f2 + 3.0 * f3);
    vec2 k2 = 0.5 * (f + 4.0 * f2 - 3.0 * f3), k3 = 0.5 * (f3 - f2);
    vec4 kx = vec4(k0.x, k1.x, k2.x, k3.x), ky = vec4(k0.y, k1.y, k2.y, k3.y);
    for (int i = 0; i < 8; i++) samples[i] = vec3(0.0);
    for (int j = 0; j < 5; j++) {
        int y = clamp(a.y - 1 + j, 0, h - 1);
        vec3 row[7];
        // Literal bounds, the block's width a condition: bounded by the specialisation constant, the
        // loops ran slower on llvmpipe.
        for (int i = 0; i < 7; i++) {
            if (i < BLOCK_WIDTH + 3) row[i] = unpackInternal(frames[base + y * w + clamp(a.x - 1 + i, 0, w - 1)]);
        }
        for (int x = 0; x < 4; x++) {
            if (x >= BLOCK_WIDTH) break;
            vec3 filtered = vec3(0.0);
            for (int k = 0; k < 4; k++) filtered += kx[k] * row[x + k];
            // Block row r takes tap row j as its tap j − r.
            for (int r = 0; r < 2; r++) {
                if (j - r >= 0 && j - r < 4) samples[r * 4 + x] += ky[j - r] * filtered;
            }
        }
    }
}

bool inside(vec2 p, int w, int h) { return p.x >= -0.5 && p.y >= -0.5 && p.x <= float(w) - 0.5 && p.y <= float(h) - 0.5; }

// Flow varies slowly at flow resolution (half or quarter of full), so one flow sample and one
// visibility estimate serve a whole block; only the frame samples are per pixel. Values land at
// row * 4 + column.
void synthesizeBlock(ivec2 origin, int step, float t, out vec3 values[8]) {
    int w = pc.color.width, h = pc.color.height;
    if (pc.useFlow == 0) {
        for (int i = 0; i < 8; i++) {
            if ((i & 3) >= BLOCK_WIDTH) continue;
            ivec2 p = min(origin + ivec2(i & 3, i >> 2), ivec2(w - 1, h - 1));
            values[i] = mix(unpackInternal(frames[pc.frame0 + p.y * w + p.x]), unpackInternal(frames[pc.frame1 + p.y * w + p.x]), t);
        }
        return;
    }
    int plane = pc.flowWidth * pc.flowHeight;
    vec2 center = vec2(origin) + vec2(0.5 * float(BLOCK_WIDTH - 1), 0.5);
    vec4 flows = sampleIntermediate(step * plane, pc.flowWidth, pc.flowHeight, toFlowGrid(center));
    vec2 ft0 = flows.xy, ft1 = flows.zw;
    float c0 = nearestConsistency(0, toFlowGrid(center + ft0));
    float c1 = nearestConsistency(plane, toFlowGrid(center + ft1));
    vec3 warped0[8], warped1[8];
    sampleFrameBlock(pc.frame0, w, h, vec2(origin) + ft0, warped0);
    sampleFrameBlock(pc.frame1, w, h, vec2(origin) + ft1, warped1);
    // Pixels past the frame's right or bottom edge are computed too, and never stored.
    for (int i = 0; i < 8; i++) {
        if ((i & 3) < BLOCK_WIDTH) {
            vec2 p = vec2(origin + ivec2(i & 3, i >> 2));
            vec2 p0 = p + ft0, p1 = p + ft1;
            vec3 g0 = warped0[i], g1 = warped1[i];
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
}

uint packBytes(uvec4 bytes) { return bytes.x | (bytes.y << 8) | (bytes.z << 16) | (bytes.w << 24); }

// 4×2 pixels per invocation, stored as two 2×2 blocks: lavapipe pays per invocation and per store,
// so a yuv420p frame whose rows hold whole words takes its luma as two word stores (the same bytes
// storeBlock writes one at a time, as it does for every other layout). Both layouts share one loop,
// and the specialisation keeps one of the synthesis's two calls, so lavapipe compiles it once.
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
    vec3 values[8];
    // The specialisation leaves one of the two calls.
    if (BLOCK_WIDTH == 4) synthesizeBlock(first, step, t, values);
    for (int block = 0; block < 2; block++) {
        ivec2 origin = first + ivec2(block * 2, 0);
        if (origin.x >= w) break;
        if (BLOCK_WIDTH == 2) synthesizeBlock(origin, step, t, values);
        int column = BLOCK_WIDTH == 4 ? block * 2 : 0;
        vec3 quad[4] = vec3[4](values[column], values[column + 1], values[4 + column], values[5 + column]);
        if (wordStores) {
            for (int i = 0; i < 4; i++) luma[i >> 1][block * 2 + (i & 1)] = encodeSamples(quad[i], pc.color).x;
            vec2 sum = vec2(0.0);
            for (int i = 0; i < 4; i++) sum += quad[i].yz;
            uvec3 chroma = encodeSamples(vec3(quad[0].x, sum / 4.0), pc.color);
            packed[chromaIndex + block] = uint8_t(chroma.y);
            packed[chromaIndex + block + (w >> 1) * (h >> 1)] = uint8_t(chroma.z);
        } else {
            storeBlock(origin, quad, base, pc.color);
        }
    }
    if (wordStores) {
        int lumaWord = (base + first.y * w + first.x) >> 2;
        packedWords[lumaWord] = packBytes(luma[0]);
        packedWords[lumaWord + (w >> 2)] = packBytes(luma[1]);
    }
}
