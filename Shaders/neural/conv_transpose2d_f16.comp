#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
// conv_transpose2d with float16 weights (see weights.glsl); inputs, outputs and accumulation stay float32.
#define WEIGHTS_F16 1
#define WEIGHT_UNIFORM_BINDING 1
#define WEIGHT_STORAGE_BINDING 4
#include "conv_transpose2d.glsl"
