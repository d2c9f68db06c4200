#version 450
// RIFE's fusion of the two warped frames: out = a·σ(m) + b·(1 − σ(m)) per channel, with one mask
// channel m shared by all channels. Four pixels per invocation; gl_GlobalInvocationID.y = channel.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer Mask { float mask[]; };
layout(std430, binding = 3) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push { int aOffset; int bOffset; int maskOffset; int outOffset; int plane; } pc;

void main() {
    int c = int(gl_GlobalInvocationID.y);
    for (int i = 0; i < 4; i++) {
        int at = int(gl_GlobalInvocationID.x) * 4 + i;
        if (at >= pc.plane) return;
        float m = 1.0 / (1.0 + exp(-mask[pc.maskOffset + at]));
        int ca = c * pc.plane + at;
        dst[pc.outOffset + ca] = a[pc.aOffset + ca] * m + b[pc.bOffset + ca] * (1.0 - m);
    }
}
