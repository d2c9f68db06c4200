// Pixel layouts and YCbCr conversions shared by the shaders that read or write frames.
// A shader including this declares `const int FORMAT` (a specialization constant) first.
// Layouts mirror PixelFormat.planes in SloMoCore: tightly packed planes, chroma rounded up.

const int F_YUV420P = 0, F_YUV422P = 1, F_YUV444P = 2, F_NV12 = 3, F_YUYV = 4, F_UYVY = 5;
const int F_RGB24 = 6, F_BGR24 = 7, F_XRGB8888 = 8;

// The internal representation: full-range Y in [0,1], Cb and Cr in [-0.5,0.5].
struct ColorParams {
    int width;
    int height;
    int fullRange;  // 1: 8-bit full range, 0: limited (16..235, 16..240)
    float kr;       // matrix coefficients: BT.601 0.299/0.114, BT.709 0.2126/0.0722
    float kb;
};

bool isRGB() { return FORMAT >= F_RGB24; }
int chromaShiftX() { return (FORMAT == F_YUV444P || isRGB()) ? 0 : 1; }
int chromaShiftY() { return (FORMAT == F_YUV420P || FORMAT == F_NV12) ? 1 : 0; }

// Byte positions of a pixel's three samples: Y, Cb, Cr for YUV formats; R, G, B for RGB ones.
ivec3 sampleIndices(ivec2 p, ColorParams c) {
    int w = c.width, h = c.height;
    int sx = chromaShiftX(), sy = chromaShiftY();
    int cw = (w + (1 << sx) - 1) >> sx, ch = (h + (1 << sy) - 1) >> sy;
    ivec2 q = ivec2(p.x >> sx, p.y >> sy);
    if (FORMAT == F_YUV420P || FORMAT == F_YUV422P || FORMAT == F_YUV444P) {
        int cb = w * h + q.y * cw + q.x;
        return ivec3(p.y * w + p.x, cb, cb + cw * ch);
    } else if (FORMAT == F_NV12) {
        int uv = w * h + q.y * cw * 2 + q.x * 2;
        return ivec3(p.y * w + p.x, uv, uv + 1);
    } else if (FORMAT == F_YUYV) {
        int base = p.y * cw * 4 + q.x * 4;
        return ivec3(base + (p.x & 1) * 2, base + 1, base + 3);
    } else if (FORMAT == F_UYVY) {
        int base = p.y * cw * 4 + q.x * 4;
        return ivec3(base + 1 + (p.x & 1) * 2, base, base + 2);
    } else if (FORMAT == F_RGB24) {
        int base = (p.y * w + p.x) * 3;
        return ivec3(base, base + 1, base + 2);
    } else if (FORMAT == F_BGR24) {
        int base = (p.y * w + p.x) * 3;
        return ivec3(base + 2, base + 1, base);
    } else {  // XRGB8888 is a little-endian word: bytes B, G, R, X.
        int base = (p.y * w + p.x) * 4;
        return ivec3(base + 2, base + 1, base);
    }
}

vec3 rgbToInternal(vec3 rgb, ColorParams c) {
    float y = c.kr * rgb.r + (1.0 - c.kr - c.kb) * rgb.g + c.kb * rgb.b;
    return vec3(y, (rgb.b - y) / (2.0 * (1.0 - c.kb)), (rgb.r - y) / (2.0 * (1.0 - c.kr)));
}

vec3 internalToRGB(vec3 ycc, ColorParams c) {
    float r = ycc.x + 2.0 * (1.0 - c.kr) * ycc.z;
    float b = ycc.x + 2.0 * (1.0 - c.kb) * ycc.y;
    float g = (ycc.x - c.kr * r - c.kb * b) / (1.0 - c.kr - c.kb);
    return vec3(r, g, b);
}

// Frames are kept between shaders as one word each: Y in 12 bits, Cb and Cr in 10 bits, fixed point
// over the span that decoded 8-bit samples can take (limited-range extremes included). One read per
// tap in the warps, the fusion's main cost on lavapipe. The rounding (Y 0.04, chroma 0.15 8-bit
// levels at most) still returns every input byte unchanged through unpack and pack, RGB included.
const vec3 internalLow = vec3(-0.08, -0.58, -0.58);
const vec3 internalSpan = vec3(1.18, 1.16, 1.16);
const vec3 internalLevels = vec3(4095.0, 1023.0, 1023.0);
uint packInternal(vec3 ycc) {
    uvec3 q = uvec3(clamp((ycc - internalLow) / internalSpan, 0.0, 1.0) * internalLevels + 0.5);
    return q.x | (q.y << 12) | (q.z << 22);
}
vec3 unpackInternal(uint word) {
    return vec3(uvec3(word & 4095u, (word >> 12) & 1023u, word >> 22)) * (internalSpan / internalLevels) + internalLow;
}

// 8-bit samples (Y, Cb, Cr or R, G, B) to the internal representation.
vec3 decodeSamples(vec3 s, ColorParams c) {
    if (isRGB()) return rgbToInternal(s / 255.0, c);
    if (c.fullRange != 0) return vec3(s.x / 255.0, (s.y - 128.0) / 255.0, (s.z - 128.0) / 255.0);
    return vec3((s.x - 16.0) / 219.0, (s.y - 128.0) / 224.0, (s.z - 128.0) / 224.0);
}

// The internal representation to 8-bit samples, rounded and clamped.
uvec3 encodeSamples(vec3 ycc, ColorParams c) {
    vec3 s;
    if (isRGB()) s = internalToRGB(ycc, c) * 255.0;
    else if (c.fullRange != 0) s = vec3(ycc.x * 255.0, ycc.y * 255.0 + 128.0, ycc.z * 255.0 + 128.0);
    else s = vec3(ycc.x * 219.0 + 16.0, ycc.y * 224.0 + 128.0, ycc.z * 224.0 + 128.0);
    return uvec3(clamp(floor(s + 0.5), 0.0, 255.0));
}
