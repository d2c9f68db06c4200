// Bilinear sampling with border clamping, as used by every flow and warp shader.
// SAMPLE_BUFFER / SAMPLE_TYPE name the buffer array and element type; the includer defines them.
SAMPLE_TYPE SAMPLE_FUNCTION(int base, int w, int h, vec2 p) {
    p = clamp(p, vec2(0.0), vec2(w - 1, h - 1));
    ivec2 a = ivec2(floor(p));
    ivec2 b = min(a + 1, ivec2(w - 1, h - 1));
    vec2 f = p - vec2(a);
    SAMPLE_TYPE top = mix(SAMPLE_BUFFER[base + a.y * w + a.x], SAMPLE_BUFFER[base + a.y * w + b.x], f.x);
    SAMPLE_TYPE bottom = mix(SAMPLE_BUFFER[base + b.y * w + a.x], SAMPLE_BUFFER[base + b.y * w + b.x], f.x);
    return mix(top, bottom, f.y);
}
#undef SAMPLE_FUNCTION
#undef SAMPLE_BUFFER
#undef SAMPLE_TYPE
