#version 450
// Super SloMo's intermediate flows at time t from the bidirectional flow (F_0→1, F_1→0):
//   F_t→0 = −(1 − t)·t·F_0→1 + t²·F_1→0,   F_t→1 = (1 − t)²·F_0→1 − t·(1 − t)·F_1→0.
// t is read from a buffer the host writes before each run, not pushed, so one recorded sequence
// serves every time step a pair may ask for. Each flow is two channels; four floats per invocation.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Flows { float flows[]; };
layout(std430, binding = 1) readonly buffer Times { float times[]; };
layout(std430, binding = 2) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push {
    int f01Offset; int f10Offset; int ft0Offset; int ft1Offset; int count; int timeIndex;
} pc;

void main() {
    float t = times[pc.timeIndex];
    float cross = -t * (1.0 - t);
    for (int i = 0; i < 4; i++) {
        int at = int(gl_GlobalInvocationID.x) * 4 + i;
        if (at >= pc.count) return;
        float f01 = flows[pc.f01Offset + at], f10 = flows[pc.f10Offset + at];
        dst[pc.ft0Offset + at] = cross * f01 + t * t * f10;
        dst[pc.ft1Offset + at] = (1.0 - t) * (1.0 - t) * f01 + cross * f10;
    }
}
