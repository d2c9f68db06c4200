#version 450
#extension GL_GOOGLE_include_directive : require
// conv_transpose2d with float32 weights. The body is in conv_transpose2d.glsl, shared with conv_transpose2d_f16.comp.
#define WEIGHT_UNIFORM_BINDING 1
#include "conv_transpose2d.glsl"
