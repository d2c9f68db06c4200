#!/usr/bin/env python3
"""Checks nnops against PyTorch's documented semantics: the fast paths against direct loops over
the definitions, and the resampling functions against values PyTorch gives on small ramps.
The RIFE golden frames cover the align_corners=False / border paths end to end; this also covers
what only Super SloMo uses (align_corners=True up-sampling, zero padding, average pooling).
Prints "ok" or exits 1 naming the first mismatch."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nnops  # noqa: E402


def direct_conv2d(x, w, b, stride, padding):
    c, h, width = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - kh) // stride + 1, (width + 2 * padding - kw) // stride + 1
    out = np.zeros((o, oh, ow))
    for y in range(oh):
        for xx in range(ow):
            patch = xp[:, y * stride:y * stride + kh, xx * stride:xx * stride + kw]
            out[:, y, xx] = np.tensordot(w, patch, axes=3) + b
    return out


def direct_conv_transpose2d(x, w, b, stride, padding):
    """out[o, y*s + i - p, x*s + j - p] += x[c, y, x] * w[c, o, i, j]."""
    c, h, width = x.shape
    _, o, kh, kw = w.shape
    oh, ow = (h - 1) * stride - 2 * padding + kh, (width - 1) * stride - 2 * padding + kw
    out = np.zeros((o, oh, ow)) + b[:, None, None]
    for y in range(h):
        for xx in range(width):
            for i in range(kh):
                for j in range(kw):
                    oy, ox = y * stride + i - padding, xx * stride + j - padding
                    if 0 <= oy < oh and 0 <= ox < ow:
                        out[:, oy, ox] += x[:, y, xx] @ w[:, :, i, j]
    return out


def check(name, got, want, tolerance=1e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or not np.allclose(got, want, atol=tolerance, rtol=tolerance):
        sys.exit(f"nnops {name}: got {got.reshape(-1)[:8]} shape {got.shape}, want {want.reshape(-1)[:8]} shape {want.shape}")


def main():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 9, 11)).astype(np.float32)
    for stride, padding, k in [(1, 1, 3), (2, 1, 3), (1, 3, 7), (1, 2, 5)]:
        w = rng.standard_normal((4, 3, k, k)).astype(np.float32)
        b = rng.standard_normal(4).astype(np.float32)
        check(f"conv2d k{k} s{stride}", nnops.conv2d(x, w, b, stride, padding), direct_conv2d(x, w, b, stride, padding), 1e-4)
    w = rng.standard_normal((3, 5, 4, 4)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    check("conv_transpose2d", nnops.conv_transpose2d(x, w, b, 2, 1), direct_conv_transpose2d(x, w, b, 2, 1), 1e-4)

    ramp = np.arange(4, dtype=np.float32)[None, None, :].repeat(2, axis=1)  # (1, 2, 4)
    # align_corners=True: corners map to corners, src = dst * (4 - 1) / (8 - 1).
    check("interpolate align_corners=True", nnops.interpolate_bilinear(ramp, 2, True)[0, 0], np.arange(8) * 3 / 7)
    # align_corners=False, x2: src = (dst + 0.5) / 2 - 0.5, clamped at 0 and at the last pixel.
    check("interpolate x2", nnops.interpolate_bilinear(ramp, 2, False)[0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    ramp8 = np.arange(8, dtype=np.float32)[None, None, :].repeat(4, axis=1)
    check("interpolate x0.5", nnops.interpolate_bilinear(ramp8, 0.5, False)[0, 0], [0.5, 2.5, 4.5, 6.5])
    check("interpolate x0.25", nnops.interpolate_bilinear(ramp8, 0.25, False)[0, 0], [1.5, 5.5])

    image = np.array([[[1, 2, 3]]], np.float32)  # (1, 1, 3)
    px = np.array([[-0.5, 0.25, 2.0, 2.5]], np.float32)
    py = np.zeros_like(px)
    check("grid_sample zeros", nnops.grid_sample_bilinear(image, px, py, "zeros")[0], [[0.5, 1.25, 3, 1.5]])
    check("grid_sample border", nnops.grid_sample_bilinear(image, px, py, "border")[0], [[1, 1.25, 3, 3]])

    check("avg_pool2", nnops.avg_pool2(np.arange(16, dtype=np.float32).reshape(1, 4, 4))[0], [[2.5, 4.5], [10.5, 12.5]])
    check("leaky_relu", nnops.leaky_relu(np.array([-2, 0, 3], np.float32), 0.1), [-0.2, 0, 3])
    check("prelu", nnops.prelu(np.array([[[-2.0]], [[-2.0]]], np.float32), np.array([0.25, 0.5], np.float32)).reshape(-1), [-0.5, -1])
    shuffled = nnops.pixel_shuffle(np.arange(8, dtype=np.float32).reshape(8, 1, 1), 2)
    # PixelShuffle(2): channel c*4 + i*2 + j goes to output channel c, pixel (i, j).
    check("pixel_shuffle", shuffled, [[[0, 1], [2, 3]], [[4, 5], [6, 7]]])
    print("ok")


if __name__ == "__main__":
    main()
