#version 450
// 2×2 average pooling with stride 2 (PyTorch's F.avg_pool2d(x, 2): odd trailing rows and columns
// are dropped). Four output pixels along x per invocation; gl_GlobalInvocationID.z = channel.
layout(local_size_x = 16, local_size_y = 4) in;
layout(std430, binding = 0) readonly buffer Input { float src[]; };
layout(std430, binding = 1) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push { int inOffset; int inHeight; int inWidth; int outOffset; } pc;

void main() {
    int outHeight = pc.inHeight / 2, outWidth = pc.inWidth / 2;
    int oy = int(gl_GlobalInvocationID.y), c = int(gl_GlobalInvocationID.z);
    if (oy >= outHeight) return;
    int base = pc.inOffset + c * pc.inHeight * pc.inWidth + 2 * oy * pc.inWidth;
    for (int i = 0; i < 4; i++) {
        int ox = int(gl_GlobalInvocationID.x) * 4 + i;
        if (ox >= outWidth) return;
        int at = base + 2 * ox;
        float sum = src[at] + src[at + 1] + src[at + pc.inWidth] + src[at + pc.inWidth + 1];
        dst[pc.outOffset + (c * outHeight + oy) * outWidth + ox] = 0.25 * sum;
    }
}
