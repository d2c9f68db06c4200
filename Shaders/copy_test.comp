#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) writeonly buffer Dst { float dst[]; };
void main() { uint i = gl_GlobalInvocationID.x; if (i < src.length()) dst[i] = src[i]; }
