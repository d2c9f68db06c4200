#version 450
#extension GL_GOOGLE_include_directive : require
// DIS patch inverse search (Kroeger et al. 2016) for one pyramid level, both directions at once
// (gl_GlobalInvocationID.y: 0 for frame 0 → 1, 1 for 1 → 0). Each invocation refines one patch's
// translation by inverse-compositional Gauss–Newton on mean-normalised intensities.
// A second pass (propagate = 1) is DIS's spatial propagation made parallel: each patch starts from
// whichever of its own and its four neighbours' first-pass results fits it best, then descends again.
// Where a patch's own descent failed on a large displacement, a neighbour on the same surface usually
// did not (OpenCV's DIS medium on bikes: 33.49 dB without propagation, 34.44 with it; the fast
// preset with projected intermediate flows: 34.73 without, 35.06 with one pass of 2 iterations).
layout(local_size_x = 64) in;
layout(constant_id = 0) const int PATCH = 8;
layout(std430, binding = 0) readonly buffer Pyramid { float pyramid[]; };
layout(std430, binding = 1) readonly buffer Flow { vec2 flow[]; };
layout(std430, binding = 2) writeonly buffer Patches { vec2 patches[]; };
layout(std430, binding = 3) readonly buffer Params { float times[16]; int warmStart; } params;
layout(std430, binding = 4) readonly buffer Previous { vec2 previous[]; };  // the first pass's patches
// The first pass's cost and Gauss–Newton right-hand side at each patch's result, so the second pass
// starts from its own patch without warping it again (one warp of a propagation's six or seven).
layout(std430, binding = 5) buffer PatchCosts { vec4 patchCosts[]; };
layout(push_constant) uniform Push {
    int base0; int base1;          // pyramid offsets of the two frames' levels
    int width; int height;         // this level's size
    int columns; int rows; int stride;
    int iterations;
    int initOffset; int initWidth; int initHeight;  // flow to start from; width 0: start at zero
    float initScale;               // this level's resolution over the init flow's resolution
    int initIsWarm;                // the init flow is the previous pair's: used only if params.warmStart
    int propagate;                 // 1: start from the best of `previous` around the patch instead
    int warmOffset; int warmWidth; int warmHeight;  // the previous pair's flow, a second start; width 0: none
    float warmScale;
} pc;

#define SAMPLE_FUNCTION sampleFlow
#define SAMPLE_BUFFER flow
#define SAMPLE_TYPE vec2
#include "sampling.glsl"

const int N = PATCH * PATCH;
float templ[N];
vec2 grad[N];
float warped[N];

// The image under the patch displaced by u. Every pixel shares u's fractional part, so one
// (PATCH+1)² window of taps, read a row at a time, and one set of bilinear weights serve the whole
// patch. Clamping each tap to the level gives the same values as clamping each sample point.
void warpPatch(int imageBase, ivec2 origin, vec2 u) {
    vec2 p = vec2(origin) + u;
    ivec2 a = ivec2(floor(p));
    vec2 f = p - vec2(a);
    int w = pc.width, h = pc.height;
    float upper[PATCH + 1], lower[PATCH + 1];
    int row = imageBase + clamp(a.y, 0, h - 1) * w;
    for (int i = 0; i <= PATCH; i++) upper[i] = pyramid[row + clamp(a.x + i, 0, w - 1)];
    for (int j = 0; j < PATCH; j++) {
        row = imageBase + clamp(a.y + j + 1, 0, h - 1) * w;
        for (int i = 0; i <= PATCH; i++) lower[i] = pyramid[row + clamp(a.x + i, 0, w - 1)];
        for (int i = 0; i < PATCH; i++) {
            warped[j * PATCH + i] = mix(mix(upper[i], upper[i + 1], f.x), mix(lower[i], lower[i + 1], f.x), f.y);
        }
        for (int i = 0; i <= PATCH; i++) upper[i] = lower[i];
    }
}

// Mean-normalised sum of squared differences between the template and `warped`, in one pass:
// Σ((v − v̄) − t')² = Σd² − (Σd)²/N − 2·Σd·t' + Σt'², with t' the zero-mean template and
// d = v − (template mean). The shift keeps Σd² small, so float32 does not cancel the answer away.
// In the same pass, the Gauss–Newton right-hand side b = Σ grad·v − Σ grad·t' at this warp, so a
// start chosen by its cost needs no second warp for its first step.
float warpedCost(float templateMean, float templateEnergy, vec2 templateTerm, out vec2 b) {
    float sum = 0.0, squares = 0.0, cross = 0.0;
    b = -templateTerm;
    for (int i = 0; i < N; i++) {
        float d = warped[i] - templateMean;
        sum += d;
        squares += d * d;
        cross += d * templ[i];
        b += grad[i] * warped[i];
    }
    return squares - sum * sum / float(N) - 2.0 * cross + templateEnergy;
}

float cost(int imageBase, ivec2 origin, vec2 u, float templateMean, float templateEnergy, vec2 templateTerm, out vec2 b) {
    warpPatch(imageBase, origin, u);
    return warpedCost(templateMean, templateEnergy, templateTerm, b);
}

void main() {
    int index = int(gl_GlobalInvocationID.x);
    int direction = int(gl_GlobalInvocationID.y);
    if (index >= pc.columns * pc.rows) return;
    ivec2 origin = max(ivec2(min((index % pc.columns) * pc.stride, pc.width - PATCH),
                             min((index / pc.columns) * pc.stride, pc.height - PATCH)), ivec2(0));
    int templateBase = direction == 0 ? pc.base0 : pc.base1;
    int imageBase = direction == 0 ? pc.base1 : pc.base0;

    // The template and its central differences from one (PATCH+2)² window of taps, clamped to the
    // level like each difference's neighbours: 144 reads instead of 500 for a 10×10 patch.
    const int W = PATCH + 2;
    float window[W * W];
    for (int j = 0; j < W; j++) {
        int row = templateBase + clamp(origin.y - 1 + j, 0, pc.height - 1) * pc.width;
        for (int i = 0; i < W; i++) window[j * W + i] = pyramid[row + clamp(origin.x - 1 + i, 0, pc.width - 1)];
    }
    float templateMean = 0.0;
    vec2 gradMean = vec2(0.0);
    for (int i = 0; i < N; i++) {
        int at = (i / PATCH + 1) * W + i % PATCH + 1;
        templ[i] = window[at];
        grad[i] = vec2(window[at + 1] - window[at - 1], window[at + W] - window[at - W]) * 0.5;
        templateMean += templ[i];
        gradMean += grad[i];
    }
    templateMean /= float(N);
    gradMean /= float(N);
    mat2 hessian = mat2(0.0);
    // The template and its gradients are kept zero-mean, so Σ grad = 0 and the image's own mean
    // drops out of the Gauss–Newton step: b = Σ grad·v − Σ grad·t'.
    float templateEnergy = 0.0;
    vec2 templateTerm = vec2(0.0);
    for (int i = 0; i < N; i++) {
        templ[i] -= templateMean;
        grad[i] -= gradMean;
        hessian += outerProduct(grad[i], grad[i]);
        templateEnergy += templ[i] * templ[i];
        templateTerm += grad[i] * templ[i];
    }
    // A small ridge keeps flat patches from producing huge steps.
    hessian += mat2(1e-6);
    float det = determinant(hessian);
    mat2 inverse = det > 1e-12 ? inverse(hessian) : mat2(0.0);

    // Every cost below is evaluated at one of two call sites, the start's candidates and the descent:
    // lavapipe inlines each call (a warp of the whole patch), and ten copies took its compiler
    // seconds on a cold shader cache.
    vec2 u = vec2(0.0);
    float startCost = 0.0;
    vec2 startB = vec2(0.0), b;
    bool startMeasured = false;
    // Starts to compare with `u` by their cost; the first of equals wins (u itself, when measured).
    vec2 candidates[4];
    int candidateCount = 0;
    if (pc.propagate != 0) {
        int plane = direction * pc.columns * pc.rows;
        ivec2 cell = ivec2(index % pc.columns, index / pc.columns);
        u = previous[plane + index];
        vec4 own = patchCosts[plane + index];
        startCost = own.x;
        startB = own.yz;
        startMeasured = true;
        const ivec2 offsets[4] = ivec2[](ivec2(-1, 0), ivec2(1, 0), ivec2(0, -1), ivec2(0, 1));
        for (int k = 0; k < 4; k++) {
            ivec2 n = cell + offsets[k];
            if (n.x < 0 || n.y < 0 || n.x >= pc.columns || n.y >= pc.rows) continue;
            candidates[candidateCount++] = previous[plane + n.y * pc.columns + n.x];
        }
    } else if (pc.initWidth > 0 && (pc.initIsWarm == 0 || params.warmStart != 0)) {
        vec2 center = vec2(origin) + 0.5 * float(PATCH - 1);
        vec2 at = (center + 0.5) / pc.initScale - 0.5;
        u = pc.initScale * sampleFlow(pc.initOffset + direction * pc.initWidth * pc.initHeight, pc.initWidth, pc.initHeight, at);
    }
    if (pc.propagate == 0 && pc.initIsWarm == 0 && pc.warmWidth > 0 && params.warmStart != 0) {
        // Motion goes on: where the coarser level missed a fast-moving surface the previous pair's
        // flow often has it (bikes ×2: fast 35.06 → 35.26 dB, quality 35.30 → 36.20; carphone ±0.01).
        vec2 at = (vec2(origin) + 0.5 * float(PATCH - 1) + 0.5) / pc.warmScale - 0.5;
        candidates[candidateCount++] = u;
        candidates[candidateCount++] = pc.warmScale * sampleFlow(pc.warmOffset + direction * pc.warmWidth * pc.warmHeight,
                                                                 pc.warmWidth, pc.warmHeight, at);
    } else if (pc.propagate == 0 && pc.initIsWarm != 0 && u != vec2(0.0)) {
        // The previous pair's motion is only a guess: keep it only where it beats standing still.
        candidates[candidateCount++] = vec2(0.0);
        candidates[candidateCount++] = u;
    }
    for (int k = 0; k < candidateCount; k++) {
        vec2 candidate = candidates[k];
        if (startMeasured && candidate == u) continue;
        float c = cost(imageBase, origin, candidate, templateMean, templateEnergy, templateTerm, b);
        if (!startMeasured || c < startCost) {
            u = candidate;
            startCost = c;
            startB = b;
            startMeasured = true;
        }
    }
    // Descent that stops where the cost rises, keeping the last point that lowered it (as OpenCV's
    // DIS does): plain Gauss–Newton walks off large displacements once it overshoots (bikes, fast
    // preset, before projection and propagation: 34.45 dB without this test, 34.59 with it). The
    // pass after the last step only measures where that step led, and keeps it if no worse.
    vec2 best = u, bestB = startB;
    float bestCost = startCost;
    for (int iteration = 0; iteration <= pc.iterations; iteration++) {
        bool last = iteration == pc.iterations;
        if (last && u == best) break;
        float c;
        if (iteration == 0 && startMeasured) {
            c = startCost;
            b = startB;
        } else {
            c = cost(imageBase, origin, u, templateMean, templateEnergy, templateTerm, b);
            if (iteration == 0) bestCost = c;
        }
        if (c > bestCost) {
            u = best;
            break;
        }
        best = u;
        bestCost = c;
        bestB = b;
        if (last) break;
        vec2 step = inverse * b;
        u -= step;
        // A step this small ends the descent: the next pass only measures where it led.
        if (dot(step, step) < 1e-4) iteration = pc.iterations - 1;
    }
    int at = direction * pc.columns * pc.rows + index;
    patches[at] = best;
    if (pc.propagate == 0) patchCosts[at] = vec4(bestCost, bestB, 0.0);
}
