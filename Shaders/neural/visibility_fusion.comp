#version 450
// Super SloMo's fusion of the two warped frames with the visibility maps:
//   V_t←0 = σ(logit), V_t←1 = 1 − V_t←0,
//   out = ((1 − t)·V_t←0·a + t·V_t←1·b) / ((1 − t)·V_t←0 + t·V_t←1),
// one logit channel for all colour channels. t comes from a buffer (see intermediate_flow.comp).
// Four pixels per invocation; gl_GlobalInvocationID.y = channel.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer Logit { float logit[]; };
layout(std430, binding = 3) readonly buffer Times { float times[]; };
layout(std430, binding = 4) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push { int aOffset; int bOffset; int logitOffset; int outOffset; int plane; int timeIndex; } pc;

void main() {
    int c = int(gl_GlobalInvocationID.y);
    float t = times[pc.timeIndex];
    for (int i = 0; i < 4; i++) {
        int at = int(gl_GlobalInvocationID.x) * 4 + i;
        if (at >= pc.plane) return;
        float v0 = 1.0 / (1.0 + exp(-logit[pc.logitOffset + at]));
        float w0 = (1.0 - t) * v0, w1 = t * (1.0 - v0);
        int ca = c * pc.plane + at;
        dst[pc.outOffset + ca] = (w0 * a[pc.aOffset + ca] + w1 * b[pc.bOffset + ca]) / (w0 + w1);
    }
}
