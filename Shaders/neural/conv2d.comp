#version 450
#extension GL_GOOGLE_include_directive : require
// conv2d with float32 weights. The body is in conv2d.glsl, shared with conv2d_f16.comp.
#define WEIGHT_UNIFORM_BINDING 1
#include "conv2d.glsl"
