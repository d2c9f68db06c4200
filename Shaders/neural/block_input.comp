#version 450
// The input of a RIFE 4.x IFBlock at scale s > 1 after the first, made where it is read:
//   resize(1/s)(cat(warp(I0, F0), warp(I1, F1), warp(f0, F0), warp(f1, F1), t, up(mask), up(features)))
//   and resize(1/s)(F)·(1/s),
// with F the full-size flow (F0 its first two channels, F1 the last two), and up() the previous
// block's mask and features resized by its scale to full size. The bilinear resize by 1/s reads
// four full-size points per output pixel, so the warps and the upsampling are evaluated at those
// points only, never as full-size tensors (at s = 8 a 64th of them). Each value is computed with
// the expressions of warp.comp (border mode) and resize.comp, in the same order, so the result is
// what those shaders would have made in five passes. One output pixel, all 28 channels, per
// invocation, numbered row after row.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Frame0 { float frame0[]; };
layout(std430, binding = 1) readonly buffer Frame1 { float frame1[]; };
layout(std430, binding = 2) readonly buffer Features { float features[]; };  // f0 (4 channels), f1 (4)
layout(std430, binding = 3) readonly buffer Previous { float previous[]; };  // the previous block's 13 outputs
layout(std430, binding = 4) readonly buffer State { float state[]; };        // the flow (4) and the time plane
layout(std430, binding = 5) writeonly buffer Output { float dst[]; };
layout(push_constant) uniform Push {
    int frame0Offset; int frame1Offset; int featuresOffset; int previousOffset; int flowOffset; int timeOffset; int outputOffset;
    int height; int width;                  // full size
    int outHeight; int outWidth;            // this block's input: full size / s
    int previousHeight; int previousWidth;  // the previous block's outputs: full size / (its scale)
    float downRatio;                        // s (resize.comp's ratio for a scale factor of 1/s)
    float upRatio;                          // 1 / the previous block's scale
    float flowMultiplier;                   // 1 / s
} pc;

const int MASK = 4, BLOCK_OUTPUTS = 13;

// Where resize.comp's output coordinate d reads along an axis of `size`: taps i0, i1 and weight f.
void resizeTaps(int d, float ratio, int size, out int i0, out int i1, out float f) {
    float s = max((float(d) + 0.5) * ratio - 0.5, 0.0);
    i0 = int(s);
    i1 = min(i0 + 1, size - 1);
    f = s - float(i0);
}

// warp.comp's taps (border mode) for the full-size pixel (x, y) displaced by `flow`.
struct WarpTaps { int aa, ab, ba, bb; vec2 f; };
WarpTaps warpTaps(int x, int y, vec2 flow) {
    vec2 size = vec2(pc.width, pc.height);
    vec2 p = clamp(vec2(x, y) + flow, vec2(0.0), size - 1.0);
    ivec2 a = ivec2(floor(p));
    ivec2 b = min(a + 1, ivec2(pc.width - 1, pc.height - 1));
    WarpTaps taps;
    taps.aa = a.y * pc.width + a.x; taps.ab = a.y * pc.width + b.x;
    taps.ba = b.y * pc.width + a.x; taps.bb = b.y * pc.width + b.x;
    taps.f = p - vec2(a);
    return taps;
}

// resize.comp's combination of four values at (y0, x0), (y0, x1), (y1, x0), (y1, x1).
float combine(vec4 v, vec2 f, float multiplier) {
    float top = (1.0 - f.x) * v.x + f.x * v.y;
    float bottom = (1.0 - f.x) * v.z + f.x * v.w;
    return ((1.0 - f.y) * top + f.y * bottom) * multiplier;
}

void main() {
    int n = int(gl_GlobalInvocationID.x);
    if (n >= pc.outHeight * pc.outWidth) return;
    int oy = n / pc.outWidth, ox = n - oy * pc.outWidth;
    int y0, y1, x0, x1;
    vec2 f;
    resizeTaps(oy, pc.downRatio, pc.height, y0, y1, f.y);
    resizeTaps(ox, pc.downRatio, pc.width, x0, x1, f.x);
    int plane = pc.height * pc.width;
    ivec2 points[4] = ivec2[4](ivec2(x0, y0), ivec2(x1, y0), ivec2(x0, y1), ivec2(x1, y1));

    WarpTaps taps0[4], taps1[4];
    vec4 flows[4];
    ivec4 up[4];   // the previous block's taps at each point: (y0·w + x0, y0·w + x1, y1·w + x0, y1·w + x1)
    vec2 upF[4];
    vec4 time;
    for (int k = 0; k < 4; k++) {
        int at = points[k].y * pc.width + points[k].x;
        for (int c = 0; c < 4; c++) flows[k][c] = state[pc.flowOffset + c * plane + at];
        taps0[k] = warpTaps(points[k].x, points[k].y, flows[k].xy);
        taps1[k] = warpTaps(points[k].x, points[k].y, flows[k].zw);
        time[k] = state[pc.timeOffset + at];
        int uy0, uy1, ux0, ux1;
        resizeTaps(points[k].y, pc.upRatio, pc.previousHeight, uy0, uy1, upF[k].y);
        resizeTaps(points[k].x, pc.upRatio, pc.previousWidth, ux0, ux1, upF[k].x);
        up[k] = ivec4(uy0 * pc.previousWidth + ux0, uy0 * pc.previousWidth + ux1, uy1 * pc.previousWidth + ux0, uy1 * pc.previousWidth + ux1);
    }

    int outPlane = pc.outHeight * pc.outWidth;
    int out0 = pc.outputOffset + n;
    vec4 v;
    // Frames and features, each warped along its own direction's flow.
    for (int c = 0; c < 3; c++) {
        int base = pc.frame0Offset + c * plane;
        for (int k = 0; k < 4; k++) {
            WarpTaps t = taps0[k];
            v[k] = mix(mix(frame0[base + t.aa], frame0[base + t.ab], t.f.x), mix(frame0[base + t.ba], frame0[base + t.bb], t.f.x), t.f.y);
        }
        dst[out0 + c * outPlane] = combine(v, f, 1.0);
    }
    for (int c = 0; c < 3; c++) {
        int base = pc.frame1Offset + c * plane;
        for (int k = 0; k < 4; k++) {
            WarpTaps t = taps1[k];
            v[k] = mix(mix(frame1[base + t.aa], frame1[base + t.ab], t.f.x), mix(frame1[base + t.ba], frame1[base + t.bb], t.f.x), t.f.y);
        }
        dst[out0 + (3 + c) * outPlane] = combine(v, f, 1.0);
    }
    for (int c = 0; c < 8; c++) {
        int base = pc.featuresOffset + c * plane;
        for (int k = 0; k < 4; k++) {
            WarpTaps t = c < 4 ? taps0[k] : taps1[k];
            v[k] = mix(mix(features[base + t.aa], features[base + t.ab], t.f.x), mix(features[base + t.ba], features[base + t.bb], t.f.x), t.f.y);
        }
        dst[out0 + (6 + c) * outPlane] = combine(v, f, 1.0);
    }
    dst[out0 + 14 * outPlane] = combine(time, f, 1.0);
    // The previous block's mask and features, upsampled to the four points.
    int previousPlane = pc.previousHeight * pc.previousWidth;
    for (int c = 0; c < BLOCK_OUTPUTS - MASK; c++) {
        int base = pc.previousOffset + (MASK + c) * previousPlane;
        for (int k = 0; k < 4; k++) {
            vec4 taps = vec4(previous[base + up[k].x], previous[base + up[k].y], previous[base + up[k].z], previous[base + up[k].w]);
            v[k] = combine(taps, upF[k], 1.0);
        }
        dst[out0 + (15 + c) * outPlane] = combine(v, f, 1.0);
    }
    for (int c = 0; c < 4; c++) {
        dst[out0 + (24 + c) * outPlane] = combine(vec4(flows[0][c], flows[1][c], flows[2][c], flows[3][c]), f, pc.flowMultiplier);
    }
}
