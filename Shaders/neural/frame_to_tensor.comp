#version 450
#extension GL_EXT_shader_8bit_storage : require
#extension GL_GOOGLE_include_directive : require
// A packed 8-bit frame to the network's input: a BGR float tensor in [0, 1] (RIFE HD v3 was trained
// on OpenCV's BGR order; RGB where BGR is 0, as RIFE 4.25's reference was run), zero-padded right
// and bottom to the network's size. YUV samples are converted in float with the stream's matrix
// and range, never through 8-bit RGB (rounding there costs about 1 dB on a 40 dB clip). One
// invocation per 2×2 block, like the engine's unpack, over the padded size so the padding is
// written too.
layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const int FORMAT = 0;
layout(constant_id = 1) const int BGR = 1;
layout(std430, binding = 0) readonly buffer Packed { uint8_t packed[]; };
layout(std430, binding = 1) writeonly buffer Tensor { float tensor[]; };
#include "../interp/color.glsl"
layout(push_constant) uniform Push {
    ColorParams color;
    int packedOffset; int tensorOffset; int paddedHeight; int paddedWidth;
} pc;

void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    ColorParams c = pc.color;
    int plane = pc.paddedHeight * pc.paddedWidth;
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x >= pc.paddedWidth || p.y >= pc.paddedHeight) continue;
        vec3 rgb = vec3(0.0);
        if (p.x < c.width && p.y < c.height) {
            ivec3 at = sampleIndices(p, c) + pc.packedOffset;
            vec3 s = vec3(uint(packed[at.x]), uint(packed[at.y]), uint(packed[at.z]));
            // RGB input is exact as s/255; YUV may land slightly outside [0, 1], where the network never looked.
            rgb = isRGB() ? s / 255.0 : clamp(internalToRGB(decodeSamples(s, c), c), 0.0, 1.0);
        }
        int index = pc.tensorOffset + p.y * pc.paddedWidth + p.x;
        if (BGR == 0) rgb = rgb.bgr;
        tensor[index] = rgb.b;
        tensor[index + plane] = rgb.g;
        tensor[index + 2 * plane] = rgb.r;
    }
}
