#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// The network's BGR (or, where BGR is 0, RGB) float output (padded size) back to a packed 8-bit
// frame, through the engine's own colour conversion and packing (interp/pack.glsl), so rounding and chroma subsampling match
// the flow engine's output exactly. One invocation per 2×2 block.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(constant_id = 1) const int BGR = 1;
layout(std430, binding = 0) readonly buffer Tensor { float tensor[]; };
layout(std430, binding = 1) writeonly buffer Packed { uint8_t packed[]; };
#include "../interp/color.glsl"
layout(push_constant) uniform Push {
    ColorParams color;
    int tensorOffset; int paddedHeight; int paddedWidth; int packedOffset;
} pc;
#include "../interp/pack.glsl"

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    ColorParams c = pc.color;
    if (origin.x >= c.width || origin.y >= c.height) return;
    int plane = pc.paddedHeight * pc.paddedWidth;
    vec3 values[4];
    for (int i = 0; i < 4; i++) {
        ivec2 p = min(origin + ivec2(i & 1, i >> 1), ivec2(c.width - 1, c.height - 1));
        int index = pc.tensorOffset + p.y * pc.paddedWidth + p.x;
        vec3 rgb = vec3(tensor[index + 2 * plane], tensor[index + plane], tensor[index]);
        if (BGR == 0) rgb = rgb.bgr;
        values[i] = rgbToInternal(rgb, c);
    }
    storeBlock(origin, values, pc.packedOffset, c);
}
