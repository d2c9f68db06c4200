#version 450
// Bilinear resize with PyTorch's F.interpolate(mode="bilinear") semantics. With align_corners=False
// (RIFE) output pixel d reads source coordinate max((d + 0.5)·ratio − 0.5, 0), where ratio is
// 1/scale_factor when a scale factor was given (recompute_scale_factor=False) and in/out otherwise;
// with align_corners=True (Super SloMo's decoder) it reads d·ratio with ratio (in − 1)/(out − 1).
// Both are max((d + halfPixel)·ratio − halfPixel, 0), halfPixel 0.5 or 0, so one shader serves both.
// The result is multiplied by `multiplier` (RIFE scales flow by the resize factor). Four output
// pixels along x per invocation: lavapipe charges per invocation. gl_GlobalInvocationID.z = channel.
layout(local_size_x = 16, local_size_y = 4) in;
layout(std430, binding = 0) readonly buffer Input { float src[]; };
layout(std430, binding = 1) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push {
    int inOffset; int inHeight; int inWidth;
    int outOffset; int outHeight; int outWidth;
    float ratioY; float ratioX; float multiplier; float halfPixel;
} pc;

void main() {
    int oy = int(gl_GlobalInvocationID.y), c = int(gl_GlobalInvocationID.z);
    if (oy >= pc.outHeight) return;
    float sy = max((float(oy) + pc.halfPixel) * pc.ratioY - pc.halfPixel, 0.0);
    int y0 = int(sy);
    int y1 = min(y0 + 1, pc.inHeight - 1);
    float fy = sy - float(y0);
    int base = pc.inOffset + c * pc.inHeight * pc.inWidth;
    for (int i = 0; i < 4; i++) {
        int ox = int(gl_GlobalInvocationID.x) * 4 + i;
        if (ox >= pc.outWidth) return;
        float sx = max((float(ox) + pc.halfPixel) * pc.ratioX - pc.halfPixel, 0.0);
        int x0 = int(sx);
        int x1 = min(x0 + 1, pc.inWidth - 1);
        float fx = sx - float(x0);
        float top = (1.0 - fx) * src[base + y0 * pc.inWidth + x0] + fx * src[base + y0 * pc.inWidth + x1];
        float bottom = (1.0 - fx) * src[base + y1 * pc.inWidth + x0] + fx * src[base + y1 * pc.inWidth + x1];
        dst[pc.outOffset + (c * pc.outHeight + oy) * pc.outWidth + ox] = ((1.0 - fy) * top + fy * bottom) * pc.multiplier;
    }
}
