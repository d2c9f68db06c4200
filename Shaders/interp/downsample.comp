#version 450
// Pyramid levels from the one below them, in one dispatch: each output is the mean of a 2×2 block
// (area averaging, as DIS uses), with the last row or column repeated at odd sizes.
// Each invocation owns one pixel of the coarsest level and makes every pixel below it, level by
// level from the finest: a pixel's 2×2 sources (clamped at the edges too) belong to the same
// invocation, which wrote them just before, so no level waits for a dispatch of its own (lavapipe
// ends each dispatch by waiting for all its threads).
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, binding = 0) buffer Pyramid { float pyramid[]; };
const int MAX_LEVELS = 8;
layout(push_constant) uniform Push {
    int count;                     // levels below: [0] is the source, [1...] the levels it makes
    int offset[MAX_LEVELS];
    int width[MAX_LEVELS];
    int height[MAX_LEVELS];
} pc;

void downsample(ivec2 p, int target) {
    int source = target - 1, w = pc.width[source];
    ivec2 a = min(p * 2, ivec2(w - 1, pc.height[source] - 1));
    ivec2 b = min(p * 2 + 1, ivec2(w - 1, pc.height[source] - 1));
    int s = pc.offset[source];
    float sum = pyramid[s + a.y * w + a.x] + pyramid[s + a.y * w + b.x]
              + pyramid[s + b.y * w + a.x] + pyramid[s + b.y * w + b.x];
    pyramid[pc.offset[target] + p.y * pc.width[target] + p.x] = 0.25 * sum;
}

void main() {
    int coarsest = pc.count - 1;
    ivec2 top = ivec2(gl_GlobalInvocationID.xy);
    if (top.x >= pc.width[coarsest] || top.y >= pc.height[coarsest]) return;
    for (int level = 1; level <= coarsest; level++) {
        int span = 1 << (coarsest - level);
        ivec2 first = top * span;
        ivec2 end = min(first + span, ivec2(pc.width[level], pc.height[level]));
        for (int y = first.y; y < end.y; y++) {
            for (int x = first.x; x < end.x; x++) downsample(ivec2(x, y), level);
        }
    }
}
