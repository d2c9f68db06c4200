#!/usr/bin/env python3
"""Super SloMo (Jiang et al., CVPR 2018) in NumPy, as the public PyTorch implementation
(github.com/avinashpaliwal/Super-SloMo: model.py, video_to_slomo.py) runs it.

  flowComp = UNet(6, 4) on (I0, I1)                      -> F_0_1, F_1_0
  F_t_0 = -(1 - t) t F_0_1 + t^2 F_1_0,  F_t_1 = (1 - t)^2 F_0_1 - t (1 - t) F_1_0
  ArbTimeFlowIntrp = UNet(20, 5) on (I0, I1, F_0_1, F_1_0, F_t_1, F_t_0, g(I1, F_t_1), g(I0, F_t_0))
  F_t_0_f = out[0:2] + F_t_0,  F_t_1_f = out[2:4] + F_t_1,  V_t_0 = sigmoid(out[4]),  V_t_1 = 1 - V_t_0
  I_t = ((1 - t) V_t_0 g(I0, F_t_0_f) + t V_t_1 g(I1, F_t_1_f)) / ((1 - t) V_t_0 + t V_t_1)
where g is backWarp. Frames are RGB in [0, 1] minus the mean [0.429, 0.431, 0.397] (std 1), as
video_to_slomo.py normalises on the GPU; the mean is added back to the output.

Where PyTorch versions differ, this follows what the checkpoint was trained with (PyTorch 0.4):
  - grid_sample (backWarp) uses align_corners=True behaviour (0.4 had no flag and behaved so; the
    repository now passes align_corners=True), bilinear, padding_mode 'zeros' (the default: taps
    outside the frame read 0);
  - backWarp normalises x to 2 (x / W - 0.5), not 2 x / (W - 1) - 1, so with align_corners=True the
    sampled column is x (W - 1) / W: a slight shrink towards the left/top edge that the network was
    trained with, kept as is;
  - up-sampling in the decoder is F.interpolate(scale_factor=2, bilinear, align_corners=True);
  - UNet's last layer is conv3 followed by leaky_relu(0.1) on all outputs, the visibility logit included.
UNet: conv7 32, conv7 32, down(avg_pool 2, two convs) to 64 (5x5), 128, 256, 512, 512 (3x3), up
(interpolate x2, conv, cat skip, conv) back to 512, 256, 128, 64, 32, conv3 out; leaky_relu(0.1)
after every conv.

usage: superslomo.py CKPT IN0.npy IN1.npy T OUT.npy [--dump DIR]
  CKPT: a torch.save file with state_dictFC and state_dictAT (zip or legacy format).
  IN: float32 (3, H, W), RGB in [0, 1], H and W multiples of 32. T in (0, 1).
  OUT: float32 (3, H, W) RGB, unclipped.
  --dump DIR writes F_0_1, F_1_0, F_t_0, F_t_1, g_I0_F_t_0, g_I1_F_t_1, intrpOut, F_t_0_f, F_t_1_f,
  V_t_0, g_I0_F_t_0_f, g_I1_F_t_1_f (.npy, named as in video_to_slomo.py).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnops import avg_pool2, conv2d, grid_sample_bilinear, interpolate_bilinear, leaky_relu, sigmoid  # noqa: E402
from torch_pickle import state_dict  # noqa: E402

MEAN = np.array([0.429, 0.431, 0.397], np.float32)[:, None, None]


def unet_layers(in_channels, out_channels):
    """(name, in, out, kernel) of every Conv2d in model.UNet, in state-dict order."""
    layers = [("conv1", in_channels, 32, 7), ("conv2", 32, 32, 7)]
    for i, (a, b, k) in enumerate([(32, 64, 5), (64, 128, 3), (128, 256, 3), (256, 512, 3), (512, 512, 3)], 1):
        layers += [(f"down{i}.conv1", a, b, k), (f"down{i}.conv2", b, b, k)]
    for i, (a, b) in enumerate([(512, 512), (512, 256), (256, 128), (128, 64), (64, 32)], 1):
        layers += [(f"up{i}.conv1", a, b, 3), (f"up{i}.conv2", 2 * b, b, 3)]
    layers.append(("conv3", 32, out_channels, 3))
    return layers


def unet(weights, x):
    def conv(name, feat):
        weight = weights[f"{name}.weight"]
        return leaky_relu(conv2d(feat, weight, weights[f"{name}.bias"], 1, (weight.shape[-1] - 1) // 2), 0.1)

    x = conv("conv1", x)
    skips = [conv("conv2", x)]
    for i in range(1, 6):
        skips.append(conv(f"down{i}.conv2", conv(f"down{i}.conv1", avg_pool2(skips[-1]))))
    x = skips.pop()
    for i in range(1, 6):
        x = conv(f"up{i}.conv1", interpolate_bilinear(x, 2, align_corners=True))
        x = conv(f"up{i}.conv2", np.concatenate([x, skips.pop()]))
    return conv("conv3", x)


def back_warp(image, flow):
    """model.backWarp: grid_sample(img, 2 (grid + flow) / size - 1, align_corners=True), zero padding."""
    _, height, width = image.shape
    x = np.arange(width, dtype=np.float32)[None, :] + flow[0]
    y = np.arange(height, dtype=np.float32)[:, None] + flow[1]
    grid_x = 2 * (x / np.float32(width) - np.float32(0.5))
    grid_y = 2 * (y / np.float32(height) - np.float32(0.5))
    pixel_x = (grid_x + 1) / 2 * np.float32(width - 1)
    pixel_y = (grid_y + 1) / 2 * np.float32(height - 1)
    return grid_sample_bilinear(image, pixel_x, pixel_y, "zeros")


def interpolate(flow_weights, interp_weights, rgb0, rgb1, t, dump=lambda name, array: None):
    i0, i1 = rgb0 - MEAN, rgb1 - MEAN
    flow_out = unet(flow_weights, np.concatenate([i0, i1]))
    f01, f10 = flow_out[:2], flow_out[2:]
    c = np.float32(-t * (1 - t))
    ft0 = c * f01 + np.float32(t * t) * f10
    ft1 = np.float32((1 - t) * (1 - t)) * f01 + c * f10
    g0, g1 = back_warp(i0, ft0), back_warp(i1, ft1)
    out = unet(interp_weights, np.concatenate([i0, i1, f01, f10, ft1, ft0, g1, g0]))
    ft0f, ft1f = out[0:2] + ft0, out[2:4] + ft1
    v0 = sigmoid(out[4:5])
    v1 = 1 - v0
    g0f, g1f = back_warp(i0, ft0f), back_warp(i1, ft1f)
    w0, w1 = np.float32(1 - t), np.float32(t)
    result = (w0 * v0 * g0f + w1 * v1 * g1f) / (w0 * v0 + w1 * v1)
    for name, array in [("F_0_1", f01), ("F_1_0", f10), ("F_t_0", ft0), ("F_t_1", ft1), ("g_I0_F_t_0", g0),
                        ("g_I1_F_t_1", g1), ("intrpOut", out), ("F_t_0_f", ft0f), ("F_t_1_f", ft1f), ("V_t_0", v0),
                        ("g_I0_F_t_0_f", g0f), ("g_I1_F_t_1_f", g1f)]:
        dump(name, array)
    return result + MEAN


def main():
    parser = argparse.ArgumentParser(description="Super SloMo forward in NumPy")
    parser.add_argument("checkpoint")
    parser.add_argument("in0")
    parser.add_argument("in1")
    parser.add_argument("t", type=float)
    parser.add_argument("out")
    parser.add_argument("--dump", metavar="DIR")
    args = parser.parse_args()
    rgb0 = np.load(args.in0).astype(np.float32)
    rgb1 = np.load(args.in1).astype(np.float32)
    if rgb0.shape != rgb1.shape or rgb0.ndim != 3 or rgb0.shape[0] != 3 or rgb0.shape[1] % 32 or rgb0.shape[2] % 32:
        sys.exit(f"superslomo.py: inputs must both be (3, H, W) with H and W multiples of 32, got {rgb0.shape} and {rgb1.shape}")
    if not 0 < args.t < 1:
        sys.exit(f"superslomo.py: T must lie in (0, 1), got {args.t}")

    def dump(name, array):
        if args.dump:
            os.makedirs(args.dump, exist_ok=True)
            np.save(os.path.join(args.dump, f"{name}.npy"), np.ascontiguousarray(array, np.float32))

    weights = [{k: v.astype(np.float32) for k, v in state_dict(args.checkpoint, key).items()}
               for key in ("state_dictFC", "state_dictAT")]
    np.save(args.out, interpolate(weights[0], weights[1], rgb0, rgb1, args.t, dump).astype(np.float32))


if __name__ == "__main__":
    main()
