// The depth part of flow_project.comp's keys: forward–backward inconsistency (pixels²) mapped
// monotonically onto the bits the source index leaves, finest near zero where most values lie.
uint depthLevel(float inconsistency, int indexBits) {
    float levels = float((1u << (32 - indexBits)) - 1u);
    return uint(levels * inconsistency / (inconsistency + 16.0));
}

// The intermediate flows F_t→0, F_t→1 (full-resolution pixels) that a projected source carries:
// a point of frame 0 with flow F_0→1 is at −t·F_0→1 from its frame-0 position and (1−t)·F_0→1
// from its frame-1 one; a point of frame 1 likewise with F_1→0.
vec4 carriedFlows(int direction, vec2 u, float t) {
    return direction == 0 ? vec4(-t * u, (1.0 - t) * u) : vec4(t * u, -(1.0 - t) * u);
}
