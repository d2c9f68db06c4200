// Transposed 2-D convolution (N = 1, CHW float32), kernel K, stride S, padding P with K a multiple
// of S, with bias and an optional fused PReLU / LeakyReLU. Output pixel o gets input i through tap
// k when o = i·S − P + k, so an output of phase o mod S uses only taps k ≡ (phase + P) mod S.
// One invocation owns CX horizontally adjacent S×S cells of output pixels (every phase once) ×
// OCB output channels: the input samples they need form a small window, loaded once per input
// channel and shared by all phases and channels. Each weight serves one phase, so it is reused
// only across the CX cells: CX plays the part of conv2d's PX (lavapipe pays per weight load).
// Like conv2d, blocks of output channels lie along z, each workgroup reading its block's weights,
// packed the same way, from its own uniform window on lavapipe or from storage on a GPU.
// SHUFFLE r > 1 stores through nn.PixelShuffle(r) (RIFE 4.x's IFBlock heads): channel oc, pixel
// (y, x) goes to channel oc / r², pixel (y·r + (oc mod r²) / r, x·r + oc mod r), so the unshuffled
// tensor is never written.
layout(local_size_x = 64) in;
layout(constant_id = 0) const int K = 4;
layout(constant_id = 1) const int S = 2;
layout(constant_id = 2) const int P = 1;
layout(constant_id = 3) const int OCB4 = 1;
layout(constant_id = 4) const int ACT = 0;  // 0 none, 1 PReLU, 2 LeakyReLU
layout(constant_id = 5) const int CX = 6;   // cells per invocation along x
layout(constant_id = 6) const int UNIFORM_WEIGHTS = 1;  // 0: the block is too big for the window
layout(constant_id = 7) const int SHUFFLE = 1;  // pixel-shuffle factor of the store
layout(constant_id = 8) const int WINDOWS = 1;  // blocks a dispatch computes from uniform windows

layout(std430, binding = 0) readonly buffer Input { float src[]; };
layout(std430, binding = 2) writeonly buffer Output { float dst[]; };
layout(std430, binding = 3) readonly buffer Parameters { vec4 parameters[]; };
layout(push_constant) uniform Push {
    int inOffset; int inChannels; int inHeight; int inWidth;
    int outOffset; int outChannels; int outHeight; int outWidth;
    int ocBlock; int biasOffset; int slopeOffset;   // offsets in vec4s of `parameters`
    int weightBase;                                 // this block's weights in `parameters`
    float leak;
    int blockStride;                                // between blocks' weights, for blocks along z
} pc;

#include "weights.glsl"

const int TAPS = K / S;          // taps per phase and axis
const int QMIN = P / S;          // input offset (before the tap) of phase 0 ...
const int QMAX = (S - 1 + P) / S; // ... and of phase S − 1
const int WIN = QMAX - QMIN + TAPS;

void main() {
    // Numbered along rows of cells, row after row, as in conv2d.
    int chunksPerRow = ((pc.outWidth + S - 1) / S + CX - 1) / CX;
    int n = int(gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x);
    ivec2 cell = ivec2((n % chunksPerRow) * CX, n / chunksPerRow);
    int ocBlock = pc.ocBlock + int(gl_GlobalInvocationID.z);
    if (cell.y * S >= pc.outHeight) return;
    vec4 acc[CX][S * S][OCB4];
    for (int c = 0; c < CX; c++)
        for (int q = 0; q < S * S; q++)
            for (int g = 0; g < OCB4; g++) acc[c][q][g] = vec4(0.0);

    // Window element (wy, wx) is input (cell + QMIN − TAPS + 1 + w).
    ivec2 origin = cell + QMIN - TAPS + 1;
    int plane = pc.inHeight * pc.inWidth;
    for (int ic = 0; ic < pc.inChannels; ic++) {
        float window[WIN][WIN + CX - 1];
        for (int wy = 0; wy < WIN; wy++) {
            int iy = origin.y + wy;
            for (int wx = 0; wx < WIN + CX - 1; wx++) {
                int ix = origin.x + wx;
                bool inside = iy >= 0 && iy < pc.inHeight && ix >= 0 && ix < pc.inWidth;
                window[wy][wx] = inside ? src[pc.inOffset + ic * plane + iy * pc.inWidth + ix] : 0.0;
            }
        }
        for (int py = 0; py < S; py++) {
            int qy = (py + P) / S, ry = (py + P) % S;
            for (int px = 0; px < S; px++) {
                int qx = (px + P) / S, rx = (px + P) % S;
                for (int jy = 0; jy < TAPS; jy++) {
                    // Input row cell.y + qy − jy through tap ry + jy·S.
                    int wy = qy - jy - QMIN + TAPS - 1, ky = ry + jy * S;
                    for (int jx = 0; jx < TAPS; jx++) {
                        int wx = qx - jx - QMIN + TAPS - 1, kx = rx + jx * S;
                        for (int g = 0; g < OCB4; g++) {
                            vec4 w = weight(g, ic, ky * K + kx, K * K);
                            for (int c = 0; c < CX; c++) acc[c][py * S + px][g] = fma(vec4(window[wy][wx + c]), w, acc[c][py * S + px][g]);
                        }
                    }
                }
            }
        }
    }

    // pc.outChannels, outHeight and outWidth are the convolution's (before any shuffle).
    int outPlane = pc.outHeight * pc.outWidth;
    int shuffledWidth = pc.outWidth * SHUFFLE;
    int ocGroups = (pc.outChannels + 3) / 4;
    for (int g = 0; g < OCB4; g++) {
        int group = ocBlock * OCB4 + g;
        if (group >= ocGroups) break;
        vec4 bias = parameters[pc.biasOffset + group];
        vec4 slope = ACT == 1 ? parameters[pc.slopeOffset + group] : vec4(pc.leak);
        for (int cq = 0; cq < CX * S * S; cq++) {
            int c = cq / (S * S), q = cq % (S * S);
            ivec2 o = (cell + ivec2(c, 0)) * S + ivec2(q % S, q / S);
            if (o.x >= pc.outWidth || o.y >= pc.outHeight) continue;
            vec4 v = acc[c][q][g] + bias;
            if (ACT != 0) v = mix(v * slope, v, greaterThanEqual(v, vec4(0.0)));
            for (int lane = 0; lane < 4; lane++) {
                int oc = group * 4 + lane;
                if (oc >= pc.outChannels) break;
                if (SHUFFLE == 1) {
                    dst[pc.outOffset + oc * outPlane + o.y * pc.outWidth + o.x] = v[lane];
                } else {
                    int sub = oc % (SHUFFLE * SHUFFLE);
                    ivec2 s = o * SHUFFLE + ivec2(sub % SHUFFLE, sub / SHUFFLE);
                    dst[pc.outOffset + oc / (SHUFFLE * SHUFFLE) * outPlane * SHUFFLE * SHUFFLE + s.y * shuffledWidth + s.x] = v[lane];
                }
            }
        }
    }
}
