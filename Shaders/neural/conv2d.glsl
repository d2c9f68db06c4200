// 2-D convolution (N = 1, CHW float32) with its epilogue fused: bias, then optionally PReLU
// (per-channel slopes) or LeakyReLU, with optionally a residual tensor added after the activation
// (RIFE HD v3's pairs) or before it (RIFE 4.x's ResConv, act(conv(x)·β + x), β folded into the
// weights and bias on the host). Fusing saves a pass
// over the output per layer, which costs as much as a small conv on a memory-bound device.
//
// One invocation computes PX horizontally adjacent output pixels × OCB output channels. lavapipe
// charges per invocation, and every input sample loaded here feeds K·OCB multiply-adds instead of
// one. Blocks of output channels lie along z (block = pc.ocBlock + gl_GlobalInvocationID.z). On
// lavapipe each workgroup reads its block's weights from a uniform window of its own: every
// invocation reads the same weight at the same time, which a uniform buffer serves once (lavapipe
// otherwise gathers it per SIMD lane: 60% of the time, measured). A GPU reads them from storage.
// Weights are packed on the host per block (float32 or float16: weights.glsl, zero-padded); bias
// and PReLU slopes as float32 vec4s of 4 channels.
layout(local_size_x = 64) in;
layout(constant_id = 0) const int K = 3;        // kernel size
layout(constant_id = 1) const int STRIDE = 1;
layout(constant_id = 2) const int PX = 10;      // output pixels per invocation (along x)
layout(constant_id = 3) const int OCB4 = 4;     // output channels per invocation, in vec4s
layout(constant_id = 4) const int ACT = 0;      // 0 none, 1 PReLU, 2 LeakyReLU
layout(constant_id = 5) const int RESIDUAL = 0; // 1: add the residual tensor after the activation, 2: before it
layout(constant_id = 6) const int UNIFORM_WEIGHTS = 1;  // 0: the block is too big for the window
layout(constant_id = 7) const int WINDOWS = 1;  // blocks a dispatch computes from uniform windows

layout(std430, binding = 0) readonly buffer Input { float src[]; };
layout(std430, binding = 2) writeonly buffer Output { float dst[]; };
layout(std430, binding = 3) readonly buffer Residual { float residual[]; };
layout(std430, binding = 4) readonly buffer Parameters { vec4 parameters[]; };
layout(push_constant) uniform Push {
    int inOffset; int inChannels; int inHeight; int inWidth;
    int outOffset; int outChannels; int outHeight; int outWidth;
    int ocBlock; int biasOffset; int slopeOffset;   // offsets in vec4s of `parameters`
    int weightBase;                                 // this block's weights in `parameters`
    int residualOffset; int padding; float leak;
    int blockStride;                                // between blocks' weights, for blocks along z
} pc;

#include "weights.glsl"

const int WINDOW = (PX - 1) * STRIDE + K;

void main() {
    // Invocations are numbered along rows, row after row, so that a narrow layer's lanes still
    // fill lavapipe's SIMD vectors (a 16-wide row of a 2-invocation layer left 14 of 16 idle).
    int chunksPerRow = (pc.outWidth + PX - 1) / PX;
    int n = int(gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x);
    int oy = n / chunksPerRow;
    int ox0 = (n - oy * chunksPerRow) * PX;
    int ocBlock = pc.ocBlock + int(gl_GlobalInvocationID.z);
    if (oy >= pc.outHeight) return;
    vec4 acc[PX][OCB4];
    for (int p = 0; p < PX; p++)
        for (int g = 0; g < OCB4; g++) acc[p][g] = vec4(0.0);

    int ix0 = ox0 * STRIDE - pc.padding, iy0 = oy * STRIDE - pc.padding;
    int plane = pc.inHeight * pc.inWidth;
    int taps = K * K;
    int ocGroups = (pc.outChannels + 3) / 4;
    for (int ic = 0; ic < pc.inChannels; ic++) {
        int channelBase = pc.inOffset + ic * plane;
        for (int ky = 0; ky < K; ky++) {
            int iy = iy0 + ky;
            bool rowInside = iy >= 0 && iy < pc.inHeight;
            // The input row segment under all PX outputs, zero outside the picture (zero padding).
            float row[WINDOW];
            for (int i = 0; i < WINDOW; i++) {
                int ix = ix0 + i;
                bool inside = rowInside && ix >= 0 && ix < pc.inWidth;
                row[i] = inside ? src[channelBase + iy * pc.inWidth + ix] : 0.0;
            }
            for (int kx = 0; kx < K; kx++) {
                for (int g = 0; g < OCB4; g++) {
                    vec4 w = weight(g, ic, ky * K + kx, taps);
                    for (int p = 0; p < PX; p++) acc[p][g] = fma(vec4(row[p * STRIDE + kx]), w, acc[p][g]);
                }
            }
        }
    }

    int outPlane = pc.outHeight * pc.outWidth;
    for (int g = 0; g < OCB4; g++) {
        int group = ocBlock * OCB4 + g;
        if (group >= ocGroups) break;
        vec4 bias = parameters[pc.biasOffset + group];
        vec4 slope = ACT == 1 ? parameters[pc.slopeOffset + group] : vec4(pc.leak);
        for (int p = 0; p < PX; p++) {
            int ox = ox0 + p;
            if (ox >= pc.outWidth) break;
            vec4 v = acc[p][g] + bias;
            int at0 = group * 4 * outPlane + oy * pc.outWidth + ox;
            if (RESIDUAL == 2) {
                for (int lane = 0; lane < 4; lane++) {
                    if (group * 4 + lane < pc.outChannels) v[lane] += residual[pc.residualOffset + at0 + lane * outPlane];
                }
            }
            if (ACT != 0) v = mix(v * slope, v, greaterThanEqual(v, vec4(0.0)));
            for (int lane = 0; lane < 4; lane++) {
                int oc = group * 4 + lane;
                if (oc >= pc.outChannels) break;
                int at = at0 + lane * outPlane;
                float value = v[lane];
                if (RESIDUAL == 1) value += residual[pc.residualOffset + at];
                dst[pc.outOffset + at] = value;
            }
        }
    }
}
