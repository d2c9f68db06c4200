#version 450
// Variational refinement, step 2 of 2: one red–black Gauss–Seidel half-sweep (pixels with
// (x + y) % 2 == parity) of  min ψ(b0 + ∇I1·u)² + α Σ_n w_n |u − u_n|²,  solved per pixel as a 2×2
// system. ψ is Charbonnier (robust to occlusions); w_n falls across edges of frame 0, so motion
// boundaries follow image edges. Updating one colour in place is safe: its neighbours are the other colour.
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, binding = 0) readonly buffer Pyramid { float pyramid[]; };
layout(std430, binding = 1) buffer Flow { vec2 flow[]; };
layout(std430, binding = 2) readonly buffer Linear { vec4 linear[]; };
layout(push_constant) uniform Push {
    int base0; int base1;
    int width; int height;
    int flowOffset;
    int parity;
    float alpha;         // smoothness weight
    float edgeScale;     // intensity step (0..1 scale) at which a neighbour's weight halves
} pc;

void relax(ivec2 p, int direction) {
    int templateBase = direction == 0 ? pc.base0 : pc.base1;
    int plane = direction * pc.width * pc.height;
    int index = plane + p.y * pc.width + p.x;
    float here = pyramid[templateBase + p.y * pc.width + p.x];
    vec2 u = flow[pc.flowOffset + index];
    vec4 l = linear[index];

    vec2 neighbours = vec2(0.0);
    float weight = 0.0;
    const ivec2 offsets[4] = ivec2[](ivec2(-1, 0), ivec2(1, 0), ivec2(0, -1), ivec2(0, 1));
    for (int k = 0; k < 4; k++) {
        ivec2 n = p + offsets[k];
        if (n.x < 0 || n.y < 0 || n.x >= pc.width || n.y >= pc.height) continue;
        float step = (pyramid[templateBase + n.y * pc.width + n.x] - here) / pc.edgeScale;
        float w = pc.alpha / (1.0 + step * step);
        neighbours += w * flow[pc.flowOffset + plane + n.y * pc.width + n.x];
        weight += w;
    }
    float residual = l.z + dot(l.xy, u);
    float robust = inversesqrt(residual * residual + 1e-6);
    mat2 system = robust * outerProduct(l.xy, l.xy) + mat2(weight);
    vec2 rhs = neighbours - robust * l.z * l.xy;
    float det = determinant(system);
    if (det > 1e-12) flow[pc.flowOffset + index] = inverse(system) * rhs;
}

// Each invocation owns a 2×2 block, two of whose pixels have the wanted colour.
void main() {
    ivec2 origin = ivec2(gl_GlobalInvocationID.xy) * 2;
    for (int row = 0; row < 2; row++) {
        ivec2 p = origin + ivec2((row + pc.parity) & 1, row);
        if (p.x < pc.width && p.y < pc.height) relax(p, int(gl_GlobalInvocationID.z));
    }
}
