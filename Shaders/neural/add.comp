#version 450
// In-place scaled add y += alpha·x over `count` floats of two tensor views (RIFE accumulates each
// block's flow and mask residuals this way). Four floats per invocation.
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Target { float y[]; };
layout(std430, binding = 1) readonly buffer Source { float x[]; };
layout(push_constant) uniform Push { int yOffset; int xOffset; int count; float alpha; } pc;

void main() {
    for (int i = 0; i < 4; i++) {
        int at = int(gl_GlobalInvocationID.x) * 4 + i;
        if (at >= pc.count) return;
        y[pc.yOffset + at] += pc.alpha * x[pc.xOffset + at];
    }
}
