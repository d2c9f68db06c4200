#version 450
// Standalone activations over a CHW tensor view: PReLU (per-channel slopes from the weights buffer),
// LeakyReLU (one slope) or sigmoid. Convolutions fuse their activation; this is for the rest.
// Four pixels per invocation; gl_GlobalInvocationID.y = channel.
layout(local_size_x = 64) in;
layout(constant_id = 0) const int MODE = 0;  // 0 PReLU, 1 LeakyReLU, 2 sigmoid
layout(std430, binding = 0) readonly buffer Input { float src[]; };
layout(std430, binding = 1) readonly buffer Weights { float slopes[]; };
layout(std430, binding = 2) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push { int inOffset; int outOffset; int plane; int slopeOffset; float leak; } pc;

void main() {
    int c = int(gl_GlobalInvocationID.y);
    float slope = MODE == 0 ? slopes[pc.slopeOffset + c] : pc.leak;
    for (int i = 0; i < 4; i++) {
        int at = int(gl_GlobalInvocationID.x) * 4 + i;
        if (at >= pc.plane) return;
        float v = src[pc.inOffset + c * pc.plane + at];
        dst[pc.outOffset + c * pc.plane + at] = MODE == 2 ? 1.0 / (1.0 + exp(-v)) : (v >= 0.0 ? v : v * slope);
    }
}
