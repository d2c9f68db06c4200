// Convolution weights of one block of output channels, shared by conv2d and conv_transpose2d.
// Include after the push constants (it reads pc.inChannels, pc.weightBase and pc.blockStride),
// with UNIFORM_WEIGHTS, WINDOWS and `parameters` (the whole weights buffer as vec4s) declared and
// WEIGHT_UNIFORM_BINDING set, and for float16 WEIGHT_STORAGE_BINDING (the same buffer as pairs).
//
// The uniform binding is an array of WINDOWS windows, one per workgroup z: a dispatch computes up
// to WINDOWS blocks of output channels, each workgroup reading its block's weights from its own
// window (gl_WorkGroupID.z is the same for every invocation of a workgroup, so each read is one
// uniform load that lavapipe broadcasts to its SIMD lanes).
//
// float32 (default): per block, [oc/4 in block][ic][tap] vec4s, 4 output channels per vec4.
// float16 (WEIGHTS_F16 defined, needs 16-bit storage and uniform buffers): per block,
// [oc/8 in block][ic][tap] pairs of f16vec4, the pair holding output-channel groups 2j and 2j+1.
// A pair is 16 bytes, so std140's 16-byte array stride packs it without holes, the 64 KiB window
// holds twice the taps, and offsets stay in 16-byte units. Values are converted to float32 as they
// are read: every multiply-add accumulates in float32.
#ifdef WEIGHTS_F16
struct WeightPair { f16vec4 lo; f16vec4 hi; };
layout(std140, binding = WEIGHT_UNIFORM_BINDING) uniform Weights { WeightPair weights[4096]; } windows[WINDOWS];  // a block each, 64 KiB
layout(std430, binding = WEIGHT_STORAGE_BINDING) readonly buffer StoredWeights { WeightPair stored[]; };

// Weights of output-channel group g (of this block) for input channel ic and tap.
vec4 weight(int g, int ic, int tap, int taps) {
    int i = ((g >> 1) * pc.inChannels + ic) * taps + tap;
    // g is a loop index over OCB4 that the compiler unrolls, so the half is chosen statically.
    if (UNIFORM_WEIGHTS != 0) {
        uint window = gl_WorkGroupID.z;
        return vec4((g & 1) == 0 ? windows[window].weights[i].lo : windows[window].weights[i].hi);
    }
    int at = pc.weightBase + int(gl_GlobalInvocationID.z) * pc.blockStride + i;
    return vec4((g & 1) == 0 ? stored[at].lo : stored[at].hi);
}
#else
layout(std140, binding = WEIGHT_UNIFORM_BINDING) uniform Weights { vec4 weights[4096]; } windows[WINDOWS];  // a block each, 64 KiB

vec4 weight(int g, int ic, int tap, int taps) {
    int i = (g * pc.inChannels + ic) * taps + tap;
    // Blocks too big for the window, and every block of a layer dispatched at once (one block per
    // gl_GlobalInvocationID.z), are read from the parameters buffer (storage) itself.
    return UNIFORM_WEIGHTS != 0 ? windows[gl_WorkGroupID.z].weights[i] : parameters[pc.weightBase + int(gl_GlobalInvocationID.z) * pc.blockStride + i];
}
#endif
