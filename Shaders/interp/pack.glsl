// Writes a 2×2 block of internal pixels into a packed 8-bit frame. A shader including this
// declares FORMAT and a `uint8_t packed[]` buffer first. Blocks start at even coordinates, so every
// subsampled chroma sample lies inside one block and no two invocations write the same byte.
void storeBlock(ivec2 origin, vec3 values[4], int base, ColorParams c) {
    int sx = chromaShiftX(), sy = chromaShiftY();
    for (int i = 0; i < 4; i++) {
        ivec2 p = origin + ivec2(i & 1, i >> 1);
        if (p.x >= c.width || p.y >= c.height) continue;
        ivec3 at = sampleIndices(p, c) + base;
        uvec3 s = encodeSamples(values[i], c);
        packed[at.x] = uint8_t(s.x);
        // Packed 4:2:2 rows of odd width end in a half pair: its unused luma repeats the last pixel.
        if ((FORMAT == F_YUYV || FORMAT == F_UYVY) && p.x == c.width - 1 && (p.x & 1) == 0) packed[at.x + 2] = uint8_t(s.x);
        if (isRGB()) {
            packed[at.y] = uint8_t(s.y);
            packed[at.z] = uint8_t(s.z);
            if (FORMAT == F_XRGB8888) packed[at.x + 1] = uint8_t(255);
            continue;
        }
        // Only the first pixel of a chroma sample's footprint writes it, as the footprint's mean.
        if ((p.x & ((1 << sx) - 1)) != 0 || (p.y & ((1 << sy) - 1)) != 0) continue;
        vec2 sum = vec2(0.0);
        float count = 0.0;
        for (int j = 0; j < 4; j++) {
            ivec2 q = origin + ivec2(j & 1, j >> 1);
            if (q.x >= c.width || q.y >= c.height || (q.x >> sx) != (p.x >> sx) || (q.y >> sy) != (p.y >> sy)) continue;
            sum += values[j].yz;
            count += 1.0;
        }
        uvec3 chroma = encodeSamples(vec3(values[i].x, sum / count), c);
        packed[at.y] = uint8_t(chroma.y);
        packed[at.z] = uint8_t(chroma.z);
    }
}
