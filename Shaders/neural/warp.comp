#version 450
// Backward warp as RIFE's warplayer: grid_sample(mode="bilinear", padding_mode="border",
// align_corners=True) at pixel + flow, i.e. output(x, y) = input(x + fx, y + fy) with the sample
// point clamped into the picture. Flow is two channels (x, y) in pixels. Four pixels along x per
// invocation; gl_GlobalInvocationID.z = channel.
layout(local_size_x = 16, local_size_y = 4) in;
layout(std430, binding = 0) readonly buffer Input { float src[]; };
layout(std430, binding = 1) readonly buffer Flow { float flow[]; };
layout(std430, binding = 2) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push {
    int inOffset; int flowOffset; int outOffset; int height; int width;
} pc;

void main() {
    int y = int(gl_GlobalInvocationID.y), c = int(gl_GlobalInvocationID.z);
    if (y >= pc.height) return;
    int plane = pc.height * pc.width;
    int base = pc.inOffset + c * plane;
    for (int i = 0; i < 4; i++) {
        int x = int(gl_GlobalInvocationID.x) * 4 + i;
        if (x >= pc.width) return;
        int at = y * pc.width + x;
        vec2 p = vec2(x, y) + vec2(flow[pc.flowOffset + at], flow[pc.flowOffset + plane + at]);
        p = clamp(p, vec2(0.0), vec2(pc.width - 1, pc.height - 1));
        ivec2 a = ivec2(floor(p));
        ivec2 b = min(a + 1, ivec2(pc.width - 1, pc.height - 1));
        vec2 f = p - vec2(a);
        float top = mix(src[base + a.y * pc.width + a.x], src[base + a.y * pc.width + b.x], f.x);
        float bottom = mix(src[base + b.y * pc.width + a.x], src[base + b.y * pc.width + b.x], f.x);
        dst[pc.outOffset + c * plane + at] = mix(top, bottom, f.y);
    }
}
