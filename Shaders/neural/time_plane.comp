#version 450
// Fills one channel with the time step t = times[timeIndex] (RIFE 4.x's timestep plane). t is read
// from a buffer the host writes before each run, so one recorded sequence serves every t.
// Four floats per invocation.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Times { float times[]; };
layout(std430, binding = 1) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push { int outOffset; int count; int timeIndex; } pc;

void main() {
    float t = times[pc.timeIndex];
    for (int i = 0; i < 4; i++) {
        int at = int(gl_GlobalInvocationID.x) * 4 + i;
        if (at >= pc.count) return;
        dst[pc.outOffset + at] = t;
    }
}
