#version 450
// Backward warp: output(x, y) = input at (x, y) + flow, bilinear, flow two channels (x, y) in pixels.
// MODE 0 is RIFE's warplayer: grid_sample(padding_mode="border", align_corners=True), the sample point
// clamped into the picture. MODE 1 is Super SloMo's backWarp: it normalises the point as
// 2·(p/size − 0.5) where grid_sample(align_corners=True) expects 2·p/(size − 1) − 1, so the point
// actually sampled is p·(size − 1)/size (the network was trained so, and is run so), with
// padding_mode="zeros": taps outside the picture read 0. Four pixels along x per invocation, all
// channels: each pixel's flow, taps and weights are read and computed once for every channel.
layout(local_size_x = 16, local_size_y = 4) in;
layout(constant_id = 0) const int MODE = 0;
layout(std430, binding = 0) readonly buffer Input { float src[]; };
layout(std430, binding = 1) readonly buffer Flow { float flow[]; };
layout(std430, binding = 2) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push {
    int inOffset; int flowOffset; int outOffset; int height; int width; int channels;
} pc;

float tap(int base, int x, int y) {
    return x >= 0 && x < pc.width && y >= 0 && y < pc.height ? src[base + y * pc.width + x] : 0.0;
}

void main() {
    int y = int(gl_GlobalInvocationID.y);
    if (y >= pc.height) return;
    int plane = pc.height * pc.width;
    vec2 size = vec2(pc.width, pc.height);
    for (int i = 0; i < 4; i++) {
        int x = int(gl_GlobalInvocationID.x) * 4 + i;
        if (x >= pc.width) return;
        int at = y * pc.width + x;
        vec2 p = vec2(x, y) + vec2(flow[pc.flowOffset + at], flow[pc.flowOffset + plane + at]);
        if (MODE == 0) {
            p = clamp(p, vec2(0.0), size - 1.0);
            ivec2 a = ivec2(floor(p));
            ivec2 b = min(a + 1, ivec2(pc.width - 1, pc.height - 1));
            vec2 f = p - vec2(a);
            int aa = a.y * pc.width + a.x, ab = a.y * pc.width + b.x, ba = b.y * pc.width + a.x, bb = b.y * pc.width + b.x;
            for (int c = 0; c < pc.channels; c++) {
                int base = pc.inOffset + c * plane;
                float top = mix(src[base + aa], src[base + ab], f.x);
                float bottom = mix(src[base + ba], src[base + bb], f.x);
                dst[pc.outOffset + c * plane + at] = mix(top, bottom, f.y);
            }
        } else {
            // The same float steps as backWarp and grid_sample, so rounding follows PyTorch's.
            p = (2.0 * (p / size - 0.5) + 1.0) / 2.0 * (size - 1.0);
            ivec2 a = ivec2(floor(p));
            vec2 near = 1.0 - abs(p - vec2(a)), far = 1.0 - abs(p - vec2(a + 1));
            for (int c = 0; c < pc.channels; c++) {
                int base = pc.inOffset + c * plane;
                dst[pc.outOffset + c * plane + at] = near.x * near.y * tap(base, a.x, a.y) + far.x * near.y * tap(base, a.x + 1, a.y)
                    + near.x * far.y * tap(base, a.x, a.y + 1) + far.x * far.y * tap(base, a.x + 1, a.y + 1);
            }
        }
    }
}
