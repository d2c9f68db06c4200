#version 450
// One pyramid level from the one below it: each output is the mean of a 2×2 block
// (area averaging, as DIS uses), with the last row or column repeated at odd sizes.
// Each invocation writes a 2×2 block of outputs: lavapipe pays per invocation.
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, binding = 0) buffer Pyramid { float pyramid[]; };
layout(push_constant) uniform Push {
    int sourceOffset; int sourceWidth; int sourceHeight;
    int targetOffset; int targetWidth; int targetHeight;
} pc;

void downsample(ivec2 p) {
    ivec2 a = min(p * 2, ivec2(pc.sourceWidth - 1, pc.sourceHeight - 1));
    ivec2 b = min(p * 2 + 1, ivec2(pc.sourceWidth - 1, pc.sourceHeight - 1));
    int s = pc.sourceOffset;
    float sum = pyramid[s + a.y * pc.sourceWidth + a.x] + pyramid[s + a.y * pc.sourceWidth + b.x]
              + pyramid[s + b.y * pc.sourceWidth + a.x] + pyramid[s + b.y * pc.sourceWidth + b.x];
    pyramid[pc.targetOffset + p.y * pc.targetWidth + p.x] = 0.25 * sum;
}

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x < pc.targetWidth && p.y < pc.targetHeight) downsample(p);
    }
}
